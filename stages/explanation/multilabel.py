"""Explaining a multi-label model (modeling.is_multi_label): its predictions.csv holds label sets in `true` and
`predicted` ("billing|urgent"; "" for none) and one sigmoid probability per label, so a mismatch is a row whose
sets differ, and each wrongly decided label is explained on its own: LIME on that label's probability column.

A wrong label is *missed* (true, not predicted: its probability stayed under its threshold) or *extra* (predicted,
not true). For each, a token's weight is its push toward the label; tokens pushing toward the model's wrong
decision are those with positive weights toward an extra label and negative ones toward a missed label. The
pages, mismatches.md and the spurious-pattern pairs ("billing → not billing") all say it that way.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from stages.core.contracts import PROBABILITY_PREFIX
from stages.core.labelsets import split_labels
from stages.core.text import md_escape

KINDS = {"missed": "true, not predicted", "extra": "predicted, not true", "correct": "true and predicted"}


def shown(cell: str) -> str:
    """A label-set cell as shown to a reader: the names, or "(none)"."""
    return cell or "(none)"


def explained_labels(true: str, predicted: str) -> list[tuple[str, str]]:
    """(label, kind) to explain for one row: its missed then extra labels (by name), or for a correct row every
    label it carries (kind "correct")."""
    t, p = set(split_labels(true)), set(split_labels(predicted))
    if t == p:
        return [(lab, "correct") for lab in sorted(t)]
    return [(lab, "missed") for lab in sorted(t - p)] + [(lab, "extra") for lab in sorted(p - t)]


def toward_decision(kind: str, weight: float) -> float:
    """A weight toward a label, turned into the weight toward the model's decision on it (away from a missed label)."""
    return -weight if kind == "missed" else weight


def item_for(row: dict[str, Any], exp: Any, labels: list[str], thresholds: list[float], html: str) -> dict[str, Any]:
    """The explanations.json entry of one row: per explained label its kind, probability, threshold and LIME
    weights toward it; `weights`: per token, its summed weight toward the model's decisions on those labels
    (for a mismatch: toward its mistakes), strongest first."""
    entries, total = [], defaultdict(float)
    for label, kind in explained_labels(row["true"], row["predicted"]):
        j = labels.index(label)
        weights = [[tok, round(float(w), 6)] for tok, w in exp.as_list(label=j)]
        entries.append({"label": label, "kind": kind, "probability": round(float(row[PROBABILITY_PREFIX + label]), 6),
                        "threshold": thresholds[j], "weights": weights})
        for tok, w in weights:
            total[tok] += toward_decision(kind, w)
    combined = sorted(total.items(), key=lambda kv: (-abs(kv[1]), kv[0]))
    return {"text": row["text"], "true": row["true"], "predicted": row["predicted"],
            "confidence": round(float(row["confidence"]), 6), "html": html, "multi_label": True,
            "labels": entries, "weights": [[tok, round(w, 6)] for tok, w in combined]}


def heading(entry: dict[str, Any]) -> str:
    """One wrong (or correct) label's section title, with its probability against its threshold."""
    p, t = entry["probability"], entry["threshold"]
    if entry["kind"] == "correct":
        return f"Label {entry['label']} ({KINDS['correct']}: p {p:.3f} >= threshold {t:.2f})"
    sign = "<" if entry["kind"] == "missed" else ">="
    return f"{entry['kind'].capitalize()} label {entry['label']} ({KINDS[entry['kind']]}: p {p:.3f} {sign} threshold {t:.2f})"


def sides(item: dict[str, Any], exp: Any) -> list[tuple[str, str, list[tuple[str, float]]]]:
    """(heading, label, weights toward it from exp.as_list) per explained label."""
    names = list(exp.class_names)
    return [(heading(e), e["label"], exp.as_list(label=names.index(e["label"]))) for e in item["labels"]]


def marks(item: dict[str, Any]) -> tuple[set[str], set[str]]:
    """Tokens pushing toward the model's decisions (for a mismatch, its mistakes: toward an extra label, away
    from a missed one) and those pushing toward the true decisions on the same labels."""
    toward_pred, toward_true = set(), set()
    for e in item["labels"]:
        for tok, w in e["weights"]:
            d = toward_decision(e["kind"], w)
            if d > 0:
                toward_pred.add(tok)
            elif d < 0 and e["kind"] != "correct":
                toward_true.add(tok)
    return toward_pred, toward_true


def weights_table(ex: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """mismatches.md's table of one example: a token per row, a column per explained label (weight toward it)."""
    per = [dict(e["weights"]) for e in ex["labels"]]
    tokens = list(dict.fromkeys(t for e in ex["labels"] for t, _ in e["weights"]))
    header = ["token", *(f"weight toward {md_escape(e['label'])} ({e['kind']})" for e in ex["labels"])]
    return header, [[md_escape(t), *(f"{w[t]:+.4f}" if t in w else "—" for w in per)] for t in tokens]


def wrong_lines(ex: dict[str, Any]) -> list[str]:
    """One line per explained label of a mismatch: what pushes the model toward its wrong decision."""
    out = []
    for e in ex["labels"]:
        push = [t for t, w in e["weights"] if toward_decision(e["kind"], w) > 0][:5]
        what = "away from" if e["kind"] == "missed" else "toward"
        out.append(f"- {md_escape(heading(e))}: pushing {what} it: "
                   + (", ".join(md_escape(t) for t in push) or "no token"))
    return out


def pattern_examples(examples: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Examples for patterns.spurious_patterns: a multi-label one becomes one per wrong label, its pair
    (true, predicted) being (L, not L) for a missed label L and (not L, L) for an extra one, its weights those
    toward the wrong decision (LIME's weights toward "not L" are minus those toward L). Others pass through."""
    out = []
    for ex in examples:
        if not ex.get("multi_label"):
            out.append(ex)
            continue
        for e in ex["labels"]:
            pair = (e["label"], f"not {e['label']}") if e["kind"] == "missed" else (f"not {e['label']}", e["label"])
            out.append({"true": pair[0], "predicted": pair[1],
                        "weights": [[t, toward_decision(e["kind"], w)] for t, w in e["weights"]]})
    return out
