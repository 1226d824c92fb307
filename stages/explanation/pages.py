"""Pages of the explain stage: one LIME page per example (html/), mismatches.md, and writing them all with
explanations.json and the pattern chart into the output directory at once.

Texts are untrusted (LLM output): markdown and pages show them escaped, never as markup. The pages are our
own static HTML, one table per side (toward the predicted label, toward the true one) from `exp.as_list`:
LIME's own `as_html()` draws a binary task's label-0 weights on the label-1 side (lime#633).
"""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any

from stages.core.io import atomic_dir, write_json, write_text
from stages.core.markdown import table
from stages.core.text import md_escape, pieces
from stages.explanation import multilabel
from stages.explanation.patterns import CHART, chart

STYLE = ("body{font-family:sans-serif;max-width:52em;margin:2em auto;padding:0 1em}"
         "mark.pred{background:#fdd49e}mark.true{background:#c6dbef}mark.both{background:#d9d9d9}"
         "table{border-collapse:collapse}th,td{padding:2px 10px;text-align:left}td.w{text-align:right;"
         "font-family:monospace}span.bar{display:inline-block;height:.8em}span.pos{background:#e6550d}"
         "span.neg{background:#bdbdbd}")


def sides(item: dict[str, Any], exp: Any) -> list[tuple[str, str, list[tuple[str, float]]]]:
    """(heading, label, weights) per side: toward the predicted label, then toward the true one when they differ.

    The weights are `exp.as_list(label=...)` of that label itself, never LIME's binary drawing, which shows
    label 0's weights on label 1's side (lime#633)."""
    if item.get("multi_label"):
        return multilabel.sides(item, exp)
    names = list(exp.class_names)
    pred, true = item["predicted"], item["true"]
    if pred == true:
        return [(f"Toward the predicted (and true) label: {pred}", pred, exp.as_list(label=names.index(pred)))]
    return [(f"Toward the predicted label: {pred}", pred, exp.as_list(label=names.index(pred))),
            (f"Toward the true label: {true}", true, exp.as_list(label=names.index(true)))]


_MULTI_MARKS = ('<mark class="pred">toward the model\'s wrong decisions (toward an extra label, away from a missed '
                'one)</mark>, <mark class="true">toward the right decisions on those labels</mark>')


def _marked_html(text: str, toward_predicted: set[str], toward_true: set[str]) -> str:
    out = []
    for piece, is_token in pieces(text):  # LIME's tokens (core/text.tokens) and the separators between them
        kind = None if not is_token else ("both" if piece in toward_predicted and piece in toward_true else "pred"
                                          if piece in toward_predicted else "true" if piece in toward_true else None)
        out.append(f'<mark class="{kind}">{html.escape(piece)}</mark>' if kind and piece else html.escape(piece))
    return "".join(out)


STOPPED = {"converged": "its weights settled (explain.tolerance)", "budget": "its time ran out (explain.max_seconds)",
           "num_samples": "it ran to explain.num_samples without settling", "exact": "explain.mode exact"}


def sampling(item: dict[str, Any]) -> str:
    """How many perturbations an example's weights rest on and why sampling stopped (explanation/rounds.py)."""
    return f"LIME on {item['samples']:,} perturbations: {STOPPED[item['stopped']]}"


def example_page(item: dict[str, Any], exp: Any) -> str:
    """One explained example as a self-contained page (no script): the text with its tokens marked, then one
    table per side, each token's weight toward that side's label, strongest first."""
    parts, multi = sides(item, exp), bool(item.get("multi_label"))
    up = [{t for t, w in weights if w > 0} for _, _, weights in parts]
    toward_pred, toward_true = multilabel.marks(item) if multi else (up[0], up[1] if len(up) > 1 else set())
    true, pred = (multilabel.shown(item[k]) if multi else item[k] for k in ("true", "predicted"))
    title = f"true: {true}, predicted: {pred} (confidence {item['confidence']:.3f})"
    wrong = multi and item["true"] != item["predicted"]
    body = [f"<h1>{html.escape(title)}</h1>",
            f"<p>LIME fits a local linear model of each {'explained ' if multi else ''}label's "
            f"{'sigmoid ' if multi else ''}probability on {item['samples']:,} copies of the "
            "text with words removed. A token's weight is the change in that label's probability it brings: "
            "positive pushes toward the label, negative away from it. Marked in the text: "
            + (_MULTI_MARKS if wrong else '<mark class="pred">toward the predicted label'
               + ("s</mark>" if multi else "</mark>"))
            + (', <mark class="true">toward the true label</mark>' if len(parts) > 1 and not multi else "") + ".</p>",
            f'<blockquote>{_marked_html(item["text"], toward_pred, toward_true)}</blockquote>',
            f"<p>{html.escape(sampling(item))}.</p>"]
    for heading, label, weights in parts:
        peak = max((abs(w) for _, w in weights), default=0) or 1
        rows = "".join(f'<tr><td>{html.escape(t)}</td><td class="w">{w:+.4f}</td><td><span class="bar '
                       f'{"pos" if w > 0 else "neg"}" style="width:{round(120 * abs(w) / peak)}px"></span></td></tr>'
                       for t, w in weights)
        body += [f"<h2>{html.escape(heading)}</h2>",
                 f"<table><tr><th>token</th><th>weight toward {html.escape(label)}</th><th></th></tr>{rows}</table>"]
    return ('<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>' + html.escape(title)
            + f"</title><style>{STYLE}</style></head>\n<body>\n" + "\n".join(body) + "\n</body></html>\n")


def _escape_separator(sep: str) -> str:
    return " ".join(md_escape(part) for part in re.sub(r"\s+", " ", sep).split(" "))


def mark_text(text: str, toward_predicted: set[str], toward_true: set[str]) -> str:
    """`text` escaped for markdown, with LIME's tokens marked: **bold** toward the predicted label,
    *italic* toward the true label (***both*** when a token pushes toward both, with 3+ labels)."""
    out = []
    for piece, is_token in pieces(text):
        if not is_token:
            out.append(_escape_separator(piece))
            continue
        mark = ("**" if piece in toward_predicted else "") + ("*" if piece in toward_true else "")
        out.append(f"{mark}{md_escape(piece)}{mark}")
    return "".join(out).strip()


def _weights_table(ex: dict[str, Any]) -> list[str]:
    pred = dict(ex["weights"])
    true = dict(ex.get("weights_true") or [])
    tokens = list(dict.fromkeys([t for t, _ in ex["weights"]] + [t for t, _ in ex.get("weights_true") or []]))
    header = ["token", f"weight toward predicted {md_escape(ex['predicted'])}"]
    if "weights_true" in ex:
        header.append(f"weight toward true {md_escape(ex['true'])}")
    rows = [[md_escape(t), f"{pred[t]:+.4f}" if t in pred else "—"]
            + ([f"{true[t]:+.4f}" if t in true else "—"] if "weights_true" in ex else []) for t in tokens]
    return table(header, rows)


def _multi_example(i: int, ex: dict[str, Any], contrast: bool) -> list[str]:
    """A multi-label example: the sets, a line per explained label, the text marked, a column per label."""
    up, toward_true = multilabel.marks(ex)
    true, pred = (md_escape(multilabel.shown(ex[k])) for k in ("true", "predicted"))
    title = (f"### {i}. {true}, confidence {ex['confidence']:.3f}" if contrast else
             f"### {i}. true {true}, predicted {pred} (confidence {ex['confidence']:.3f})")
    header, rows = multilabel.weights_table(ex)
    return ["", title, "", *([] if contrast else [*multilabel.wrong_lines(ex), ""]),
            f"> {mark_text(ex['text'], up, toward_true)}", "", *table(header, rows), "",
            f"[LIME page]({ex['html']}) · {sampling(ex)}"]


def _example(i: int, ex: dict[str, Any], contrast: bool) -> list[str]:
    if ex.get("multi_label"):
        return _multi_example(i, ex, contrast)
    up = {t for t, w in ex["weights"] if w > 0}
    toward_true = {t for t, w in ex.get("weights_true") or [] if w > 0}
    title = (f"### {i}. {md_escape(ex['true'])}, confidence {ex['confidence']:.3f}" if contrast else
             f"### {i}. true {md_escape(ex['true'])}, predicted {md_escape(ex['predicted'])} "
             f"(confidence {ex['confidence']:.3f})")
    return ["", title, "", f"> {mark_text(ex['text'], up, toward_true)}", "", *_weights_table(ex), "",
            f"[LIME page]({ex['html']}) · {sampling(ex)}"]


def _patterns_section(patterns: list[dict[str, Any]]) -> list[str]:
    out = ["", "## Spurious patterns", "",
           "Tokens that most often push toward the wrong label, per (true, predicted) pair: in how many of the "
           "pair's explained mismatches LIME found the token pushing toward the predicted label, and its mean "
           "weight there. A token that recurs across mistakes is a pattern the model leans on.", "",
           f"![tokens pushing toward the wrong label]({CHART})"]
    if any(p["true"].startswith("not ") or p["predicted"].startswith("not ") for p in patterns):
        out[-1:-1] = ["For a multi-label model the pairs are per label: `L → not L` for a missed label L, "
                      "`not L → L` for an extra one.", ""]
    for p in patterns:
        rows = [[md_escape(t["token"]), f"{t['count']} of {p['mismatches']}", f"{t['mean_weight']:+.4f}"]
                for t in p["tokens"]]
        out += ["", f"### true {md_escape(p['true'])} → predicted {md_escape(p['predicted'])} "
                    f"({p['mismatches']} explained)", ""]
        out += table(["token", "mismatches", "mean weight"], rows) if rows else ["No token pushes toward it."]
    return out


MULTI_NOTE = ("Multi-label model: each wrongly decided label is explained on its own sigmoid; a missed label (true, not "
              "predicted) and an extra one (predicted, not true). Bold tokens push toward the model's wrong decision "
              "(toward an extra label, away from a missed one), italic ones toward the right decision.")


def _sampled(summary: dict[str, Any]) -> str:
    if summary["mode"] == "exact":
        return "explain.mode exact: every example on all of them"
    counts = ", ".join(f"{n} {why.replace('_', ' ')}" for why, n in summary["stopped"].items())
    return (f"sampled in rounds from {summary['min_samples']:,}, doubled until the weights move less than "
            f"{summary['tolerance']:g} of the largest between rounds or {summary['max_seconds']:g} s pass; "
            f"examples stopped: {counts}")


def render_markdown(summary: dict[str, Any]) -> str:
    examples, contrast = summary["examples"], summary["contrast"]
    lines = ["# Test mismatches explained with LIME", ""]
    multi = " " + MULTI_NOTE if summary.get("multi_label") else ""
    if summary["mismatches"] == 0:
        lines.append("No mismatches to explain: every test row was classified correctly.")
    elif not examples:
        lines.append(f"None of the {summary['mismatches']} mismatches could be explained (see below).")
    else:
        lines.append(f"{len(examples)} of {summary['mismatches']} test mismatches, most confident first. LIME fits a "
                     f"local linear model of each label's probability on up to {summary['num_samples']:,} perturbations "
                     f"(words removed; {_sampled(summary)}); a token's weight is the change in probability it "
                     "brings. In the text, "
                     "**bold** tokens push toward the predicted label, *italic* ones toward the true label." + multi)
    if summary["skipped_no_words"]:
        lines += ["", f"Skipped {summary['skipped_no_words']} mismatches whose text has no word characters "
                      "(LIME cannot perturb them)."]
    if examples:
        lines += _patterns_section(summary["patterns"])
        lines += ["", "## Mismatches"]
        for i, ex in enumerate(examples, 1):
            lines += _example(i, ex, contrast=False)
    if contrast:
        lines += ["", "## Correctly classified, for contrast", "",
                  "The most confident correct predictions per label: the tokens a right answer rests on."]
        for i, ex in enumerate(contrast, 1):
            lines += _example(i, ex, contrast=True)
    return "\n".join(lines) + "\n"


def write_reports(out_dir: Path, summary: dict[str, Any], explained: list[tuple[dict[str, Any], Any]]) -> None:
    """Everything into a temporary directory that replaces out_dir at the end: nothing half-written, and
    pages of examples no longer explained do not linger."""
    with atomic_dir(out_dir) as tmp:
        for item, exp in explained:
            write_text(tmp / item["html"], example_page(item, exp))
        chart(summary["patterns"], tmp / CHART)
        write_text(tmp / "mismatches.md", render_markdown(summary))
        write_json(tmp / "explanations.json", summary)
