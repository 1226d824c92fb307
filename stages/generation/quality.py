"""Data-quality measures for generated datasets, and the quality report (reports/data/quality.{json,md}).

Pure functions over rows ({"text", "label"}): length distribution and distinct-1/2 diversity per label, and a
shortcut probe: surface features that alone predict the label (a class that always ends with "!").
Multi-label data: the per-label measures count a row for each label in its set; the majority baseline and the
shortcut probe treat each distinct label set as one class (predicting a row's whole set, as subset accuracy does).
"""

from __future__ import annotations

import collections
import math
import re
from collections.abc import Callable, Sequence
from typing import Any

from stages.core.labelsets import split_labels
from stages.core.markdown import fmt
from stages.core.similarity import words
from stages.core.text import md_escape, visible, word_count

Row = dict[str, str]
TOP_TOKENS = 10  # single-token features listed in the shortcut probe
MIN_TOKEN_ROWS = 3  # a token must occur in this many rows to be probed


def _percentile(values: list[int], q: float) -> int:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def length_stats(values: list[int]) -> dict[str, float]:
    return {"min": min(values), "p10": _percentile(values, 0.1), "median": _percentile(values, 0.5),
            "p90": _percentile(values, 0.9), "max": max(values), "mean": round(sum(values) / len(values), 2)}


def distinct_n(texts: Sequence[str], n: int, split: Callable[[str], list[str]] = words) -> float:
    """Distinct n-grams / all n-grams over the texts (words, case and punctuation ignored; `split`: words, or
    a lookup of them made once)."""
    grams = [tuple(ws[i:i + n]) for ws in map(split, texts) for i in range(len(ws) - n + 1)]
    return round(len(set(grams)) / len(grams), 4) if grams else 0.0


_CAPS_WORD = re.compile(r"\b[^\W\d_a-z]{2,}\b")


def _title_case(text: str) -> bool:
    ws = text.split()
    return sum(w[:1].isupper() for w in ws) >= max(2, 0.8 * len(ws))


FLAGS: dict[str, Callable[[str], bool]] = {
    "ends_with_exclamation": lambda t: t.rstrip().endswith("!"),
    "contains_exclamation": lambda t: "!" in t,
    "ends_with_question_mark": lambda t: t.rstrip().endswith("?"),
    "contains_question_mark": lambda t: "?" in t,
    "ends_with_period": lambda t: t.rstrip().endswith("."),
    "contains_digit": lambda t: any(map(str.isdigit, t)),
    "starts_with_digit": lambda t: t[:1].isdigit(),
    "contains_all_caps_word": lambda t: _CAPS_WORD.search(t) is not None and t.upper() != t,
    "all_caps": lambda t: t.upper() == t and t.lower() != t,
    "title_case": _title_case,
    "contains_quote": lambda t: any(c in t for c in "\"'“”‘’"),
    "contains_colon": lambda t: ":" in t,
}
MEASURES: dict[str, Callable[[str], int]] = {
    "length_chars": len,
    "length_words": word_count,
    "uppercase_letters": lambda t: sum(map(str.isupper, t)),
}


def _top(counts: collections.Counter[str]) -> tuple[str, int]:
    """The most frequent label; ties go to the first name, so reports do not depend on row order."""
    return min(counts.items(), key=lambda kv: (-kv[1], kv[0])) if +counts else ("", 0)


def _flag_probe(name: str, with_counts: collections.Counter[str], all_counts: collections.Counter[str]) -> dict:
    """Accuracy of: rows with the feature -> their most frequent label; rows without -> theirs."""
    best = {v: _top(c) for v, c in ((True, with_counts), (False, all_counts - with_counts)) if +c}
    accuracy = sum(n for _, n in best.values()) / sum(all_counts.values())
    rule = "; ".join(f"{'with' if v else 'without'} → {lab}" for v, (lab, _) in best.items())
    return {"feature": name, "accuracy": round(accuracy, 4), "rows_with": sum(with_counts.values()), "rule": rule}


def _threshold_probe(name: str, values: list[int], labels: list[str]) -> dict[str, Any]:
    """The best one-threshold rule (a decision stump): rows <= x predict one label, rows > x another."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    left: collections.Counter[str] = collections.Counter()
    right = collections.Counter(labels)
    best = (_top(right)[1], None, "", _top(right)[0])
    for pos, i in enumerate(order):
        left[labels[i]] += 1
        right[labels[i]] -= 1
        if pos + 1 < len(order) and values[order[pos + 1]] == values[i]:
            continue
        low, high = _top(left), _top(right)
        if low[1] + high[1] > best[0]:
            best = (low[1] + high[1], values[i], low[0], high[0])
    score, cut, low, high = best
    rule = f"≤ {cut} → {low}; > {cut} → {high}" if cut is not None else f"always {high}"
    return {"feature": name, "accuracy": round(score / len(labels), 4), "threshold": cut, "rule": rule}


def shortcut_probe(rows: Sequence[Row], split: Callable[[str], list[str]] = words) -> list[dict[str, Any]]:
    """Accuracy of predicting the label from one surface feature alone, best first (`split` as in distinct_n)."""
    texts, labels = [r["text"] for r in rows], [r["label"] for r in rows]
    everyone = collections.Counter(labels)
    probes = [_flag_probe(name, collections.Counter(lab for t, lab in zip(texts, labels) if f(t)), everyone)
              for name, f in FLAGS.items()]
    probes += [_threshold_probe(name, [f(t) for t in texts], labels) for name, f in MEASURES.items()]
    by_token: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    for text, label in zip(texts, labels):  # one pass over the words, not one per distinct word
        for w in set(split(text)):
            by_token[w][label] += 1
    tokens = [_flag_probe(f"token:{w}", counts, everyone)
              for w, counts in sorted(by_token.items()) if sum(counts.values()) >= MIN_TOKEN_ROWS]
    tokens.sort(key=lambda p: (-p["accuracy"], p["feature"]))
    probes += tokens[:TOP_TOKENS]
    probes.sort(key=lambda p: (-p["accuracy"], p["feature"]))
    return probes


def report(rows: Sequence[Row], shortcut_threshold: float, near_threshold: float, near: int, exact: int,
           rows_read: int, multi_label: bool = False) -> dict[str, Any]:
    """The measures added to quality.json: duplicates, lengths, diversity and shortcuts."""
    by_label: dict[str, list[str]] = collections.defaultdict(list)
    for r in rows:
        for name in split_labels(r["label"]) if multi_label else [r["label"]]:
            by_label[name].append(r["text"])
    labels = sorted(by_label)
    baseline = _top(collections.Counter(r["label"] for r in rows))[1] / len(rows)  # label sets when multi-label
    split = {r["text"]: words(r["text"]) for r in rows}.__getitem__  # each text's words once
    shortcuts = shortcut_probe(rows, split)
    flagged = [p["feature"] for p in shortcuts
               if p["accuracy"] >= shortcut_threshold and p["accuracy"] > baseline + 1e-9]
    return {
        "duplicates": {"exact": exact, "exact_rate": round(exact / max(rows_read, 1), 4), "near": near,
                       "near_threshold": near_threshold,
                       "near_rate": round(near / max(rows_read, 1), 4)},
        "length_chars": {lab: length_stats([len(t) for t in by_label[lab]]) for lab in labels},
        "length_words": {lab: length_stats([word_count(t) for t in by_label[lab]]) for lab in labels},
        "diversity": {lab: {"distinct_1": distinct_n(by_label[lab], 1, split),
                            "distinct_2": distinct_n(by_label[lab], 2, split)} for lab in labels},
        "majority_baseline": round(baseline, 4),
        "classes": "label sets" if multi_label else "labels",  # what the baseline and the shortcut probe predict
        "shortcut_threshold": shortcut_threshold,
        "shortcuts": shortcuts,
        "shortcut_warning": bool(flagged),
        "shortcut_features": flagged,
    }


def markdown(report: dict[str, Any], more: Sequence[str] = ()) -> str:
    """quality.md: the tables a reviewer reads before training; `more`: lines of further sections (the judge's)."""
    prov = ", ".join(f"{k} `{visible(', '.join(map(str, v)) if isinstance(v, list) else str(v))}`"
                     for k, v in report["provider"].items() if v not in (None, []))
    lines = ["# Data quality", "", f"Provider: {prov}", "",
             "| label | rows before cleaning | rows kept | chars: median (p10-p90) | words: median | "
             "distinct-1 | distinct-2 |", "|---|---:|---:|---:|---:|---:|---:|"]
    for label, counts in report["per_label"].items():
        chars, words_, div = (report[k].get(label) for k in ("length_chars", "length_words", "diversity"))
        if chars is None:
            lines.append(f"| {md_escape(label)} | {fmt(counts['before'])} | {fmt(counts['after'])} | | | | |")
            continue
        lines.append(f"| {md_escape(label)} | {fmt(counts['before'])} | {fmt(counts['after'])} | {chars['median']} "
                     f"({chars['p10']}-{chars['p90']}) | {words_['median']} | {div['distinct_1']:.3f} | "
                     f"{div['distinct_2']:.3f} |")
    lines += ["", f"Rows read: {report['rows_read']}; kept: {report['rows_kept']}.", "",
              "Rows per source (read → kept): " + "; ".join(f"{md_escape(s)} {c['before']} → {c['after']}"
                                                          for s, c in report["per_source"].items()) + ".",
              "", "Dropped by cleaning:", ""]
    lines += [f"- {reason}: {n}" for reason, n in report["dropped"].items()] or ["- nothing"]
    lines += vote_lines(report.get("llm_votes"))
    if report.get("llm_dropped"):
        lines += ["", "Dropped while parsing LLM replies (responses or items):", ""]
        lines += [f"- {reason}: {n}" for reason, n in report["llm_dropped"].items()]
    dup = report["duplicates"]
    lines += ["", "## Duplicates", "",
              f"Exact duplicates (case, punctuation and spacing ignored): {dup['exact']} ({dup['exact_rate']:.1%} "
              f"of rows read). Near-duplicates (word-set Jaccard >= {dup['near_threshold']}): {dup['near']} "
              f"({dup['near_rate']:.1%}), removed.", "", "## Shortcut probe", "",
              f"Accuracy of predicting the label from one surface feature alone (majority baseline "
              f"{report['majority_baseline']:.1%}; warning at {report['shortcut_threshold']:.0%})."
              + (" Multi-label data: each distinct label set is one class here (the whole set must be right); "
                 "the table above counts a row for each of its labels." if report.get("classes") == "label sets"
                 else ""), ""]
    if report["shortcut_warning"]:
        lines += [f"**Warning: shortcut features:** {', '.join(report['shortcut_features'])}. A classifier can "
                  "score well on this data without learning the task; fix the prompts or templates.", ""]
    lines += ["| feature | accuracy | rule |", "|---|---:|---|"]
    lines += [f"| {md_escape(p['feature'])} | {p['accuracy']:.1%} | {md_escape(p['rule'])} |"
              for p in report["shortcuts"]]
    return "\n".join(lines + label_issue_lines(report["label_issues"]) + list(more)) + "\n"


def vote_lines(votes: dict[str, Any] | None) -> list[str]:
    """quality.md, llm_label provider: how the models' votes went (labels by the LLMs, not by a person)."""
    if not votes:
        return []
    lost = ", ".join(f"{n} {why}" for why, n in votes["dropped"].items()) or "none"
    agree = ", ".join(f"{md_escape(m)} {a:.1%}" for m, a in votes["agreement_with_vote"].items())
    return ["", f"LLM labels (source llm_label, not a person's): {votes['labelled']} of {votes['texts']} distinct texts "
                f"labelled by the models' majority ({votes['unanimous']} unanimous, {votes['majority']} by majority); "
                f"no row for: {lost}. Each model's agreement with the vote: {agree}."]


def label_issue_lines(issues: dict[str, Any]) -> list[str]:
    """quality.md's label-issue section: counts per label and source, the least self-confident rows."""
    lines = ["", "## Label issues", "", f"Rows whose label looks wrong: {issues['method']}, {issues['folds']} folds."]
    if issues["skipped"]:
        return lines + ["", f"Skipped: {issues['skipped']}."]
    action = ("dropped (synthetic rows only; real rows are kept)" if issues["filter"] == "confident_learning"
              else "reported only (generate.label_filter: none)")
    lines += ["", f"Flagged: {issues['total']}, {action}.", "",
              "Per label: " + ", ".join(f"{md_escape(k)} {v}" for k, v in issues["per_label"].items()) + ". "
              "Per source: " + ", ".join(f"{md_escape(k)} {v}" for k, v in issues["per_source"].items()) + ". "
              "Per template or prompt (`synthbert focus` lists them under fix_labels, never weights them up): "
              + (", ".join(f"{md_escape(k)} {v['flagged']}" for k, v in issues["origins"].items()) or "none") + "."]
    if issues["examples"]:
        lines += ["", "| text | given label | suggested label | self-confidence | source |", "|---|---|---|---:|---|"]
        lines += [f"| {md_escape(e['text'])} | {md_escape(e['label'])} | {md_escape(e['suggested'])} | "
                  f"{e['self_confidence']:.3f} | {md_escape(e['source'])} |" for e in issues["examples"]]
    return lines
