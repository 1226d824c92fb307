"""The LLM judge's part of the quality report (quality.json `judge`, quality.md "LLM judge"): agreement with the
given labels per label, per source and per origin (template or prompt: core/origin.slice_of), the rows it disputes,
how its disputes meet cleanlab's flags (label_issues.py), and what the judge cost per 1,000 rows.
"""

from __future__ import annotations

import collections
from typing import Any

from stages.core.markdown import code, fmt
from stages.core.origin import slice_of, slice_order
from stages.core.text import md_escape

LISTED = 100  # disputed rows listed in quality.json (all are counted)
SHOWN = 20  # of those, shown in quality.md
ORIGINS_SHOWN = 15  # origins with disputes shown in quality.md, least agreement first


def _tally(records: list[dict[str, Any]]) -> dict[str, Any]:
    answered = [r for r in records if r["judge"] is not None]
    agreed = sum(r["judge"] == r["label"] for r in answered)
    return {"judged": len(records), "answered": len(answered), "agreed": agreed,
            "disputed": len(answered) - agreed, "agreement": round(agreed / len(answered), 4) if answered else None}


def _grouped(records: list[dict[str, Any]], key: Any, order: Any = sorted) -> dict[str, dict[str, Any]]:
    groups: dict[str, list[dict[str, Any]]] = collections.defaultdict(list)
    for r in records:
        groups[key(r)].append(r)
    return {name: _tally(groups[name]) for name in order(groups)}


def _per_label(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per given label (a multi-label row: its label set): the tallies and what the judge said instead."""
    out = _grouped(records, lambda r: r["label"])
    for name, entry in out.items():
        said = collections.Counter(r["judge"] for r in records if r["label"] == name and r["judge"] is not None)
        entry["judge_says"] = dict(sorted(said.items()))
    return out


def _per_origin(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per template or prompt (a file's rows: the file), the tallies and, per given label, answered/agreed."""
    out = _grouped(records, lambda r: slice_of(r.get("origin", "")), slice_order)
    for name, entry in out.items():
        mine = [r for r in records if slice_of(r.get("origin", "")) == name]
        entry["labels"] = {lab: {k: v for k, v in _tally([r for r in mine if r["label"] == lab]).items()
                                 if k in ("answered", "agreed")} for lab in sorted({r["label"] for r in mine})}
    return out


def _cleanlab(records: list[dict[str, Any]], flagged: set[str], issues: dict[str, Any]) -> dict[str, Any]:
    """How the judge's disputes meet cleanlab's flags, over the rows the judge answered."""
    if issues.get("skipped"):
        return {"skipped": issues["skipped"]}
    answered = [r for r in records if r["judge"] is not None]
    disputed = {r["text"] for r in answered if r["judge"] != r["label"]}
    seen = {r["text"] for r in answered} & flagged
    both = len(seen & disputed)
    return {"skipped": None, "flagged_and_judged": len(seen), "both": both, "cleanlab_only": len(seen - disputed),
            "judge_only": len(disputed - flagged),
            "judge_confirms": round(both / len(seen), 4) if seen else None}


def summarize(records: list[dict[str, Any]], rows: int, cfg: Any, answers: Any, flagged: set[str],
              issues: dict[str, Any], done: dict[str, int], human: Any) -> dict[str, Any]:
    """quality.json's `judge`: `records` are the judged rows with the judge's label cell (`judge`, None: abstained)
    and `reason`; `rows` the rows after cleaning; `flagged` the texts cleanlab flagged; `done` what the mode did;
    `human(source)` whether a row's label came from a person."""
    disputed = [r for r in records if r["judge"] is not None and r["judge"] != r["label"]]
    place = {name: k for k, name in enumerate(slice_order([slice_of(r.get("origin", "")) for r in disputed]))}
    disputed.sort(key=lambda r: (place[slice_of(r.get("origin", ""))], r["text"]))
    listed = [{k: r.get(k, "") for k in ("text", "label", "judge", "reason", "source", "origin")}
              for r in disputed[:LISTED]]
    cost = dict(answers.cost)
    cost["usd_per_1000_rows"] = cost.pop("usd_per_1000_texts", None)
    cost["tokens_per_1000_rows"] = cost.pop("tokens_per_1000_texts", None)
    return {"model": cfg.model, "mode": cfg.mode, "sample": cfg.sample, "rows": rows, **_tally(records),
            "abstained": dict(sorted(answers.abstained.items())), "unanswered": answers.unanswered,
            "per_label": _per_label(records), "per_source": _grouped(records, lambda r: r["source"]),
            "per_origin": _per_origin(records),
            "disputes": {"total": len(disputed), "human": sum(human(r["source"]) for r in disputed),
                         "listed": listed},
            "action": done, "cleanlab": _cleanlab(records, flagged, issues), "cost": cost}


def _rate(entry: dict[str, Any]) -> str:
    return "" if entry["agreement"] is None else f"{entry['agreement']:.1%}"


def _action(judge: dict[str, Any]) -> str:
    done = judge["action"]
    kept = f"; {done['human_kept']} human-labelled rows disputed, kept as labelled" if done["human_kept"] else ""
    return {"report": "reported only (generate.judge.mode: report)",
            "drop": f"{done['dropped']} disputed synthetic rows dropped",
            "relabel": f"{done['relabelled']} disputed synthetic rows relabelled with the judge's label"}[
        judge["mode"]] + kept


def _cost_line(cost: dict[str, Any]) -> str:
    usd = "no price in data/prices.yaml" if cost["usd"] is None else \
        f"${cost['usd']:.4f} (${cost['usd_per_1000_rows']:.4f} per 1,000 rows)"
    return (f"Cost: {fmt(cost['requests']['used'])} requests ({fmt(cost['requests']['sent_this_run'])} sent by this "
            f"run), {fmt(cost['tokens']['total'])} tokens ({cost['tokens_per_1000_rows']:,.0f} per 1,000 rows), {usd}.")


def _cleanlab_line(c: dict[str, Any]) -> str:
    if c.get("skipped"):
        return f"Cleanlab's flags: none to compare (skipped: {c['skipped']})."
    confirms = "" if c["judge_confirms"] is None else f" ({c['judge_confirms']:.0%})"
    return (f"Against cleanlab's flags: of the {c['flagged_and_judged']} flagged rows the judge answered, it disputes "
            f"{c['both']}{confirms}; it disputes {c['judge_only']} rows cleanlab did not flag.")


def markdown_lines(judge: dict[str, Any] | None) -> list[str]:
    """quality.md's "LLM judge" section (none when the judge is off)."""
    if not judge:
        return []
    sample = f", a seeded sample of {judge['sample']:,}" if judge["sample"] else ""
    abst = ", ".join(f"{k} {v}" for k, v in judge["abstained"].items())
    lines = ["", "## LLM judge", "",
             f"Judge `{md_escape(judge['model'])}`, blind to the labels: {fmt(judge['judged'])} of {fmt(judge['rows'])} "
             f"rows judged{sample}; {fmt(judge['answered'])} answered" + (f" (abstained: {abst})" if abst else "") +
             (f", {fmt(judge['unanswered'])} without an answer (budget or failed requests)" if judge["unanswered"]
              else "") + ".",
             "", f"Agreement with the given labels: {_rate(judge)}; disputed: {fmt(judge['disputes']['total'])}, "
             f"{_action(judge)}.", "", "| given label | answered | agreed | agreement | the judge says |",
             "|---|---:|---:|---:|---|"]
    lines += [f"| {md_escape(lab)} | {e['answered']} | {e['agreed']} | {_rate(e)} | "
              f"{md_escape(', '.join(f'{k} {v}' for k, v in e['judge_says'].items()))} |"
              for lab, e in judge["per_label"].items()]
    lines += ["", "Per source: " + "; ".join(f"{md_escape(s)} {_rate(e)} of {e['answered']}"
                                             for s, e in judge["per_source"].items()) + "."]
    worst = sorted(((n, e) for n, e in judge["per_origin"].items() if e["disputed"]),
                   key=lambda item: (item[1]["agreement"], -item[1]["disputed"]))
    lines += ["", f"Templates or prompts with disputes, least agreement first ({len(worst)} of "
                  f"{len(judge['per_origin'])}):", ""]
    if worst:
        lines += ["| origin | answered | disputed | agreement | agreed per given label |", "|---|---:|---:|---:|---|"]
        lines += [f"| {md_escape(n)} | {e['answered']} | {e['disputed']} | {_rate(e)} | " + md_escape(", ".join(
            f"{lab} {c['agreed']}/{c['answered']}" for lab, c in e["labels"].items())) + " |"
            for n, e in worst[:ORIGINS_SHOWN]]
    lines += ["", _cleanlab_line(judge["cleanlab"]), "", _cost_line(judge["cost"])]
    shown = judge["disputes"]["listed"][:SHOWN]
    if shown:
        lines += ["", f"Disputed rows (first {len(shown)} of {judge['disputes']['total']}, by origin):", "",
                  "| text | given label | judge's label | reason | origin |", "|---|---|---|---|---|"]
        lines += [f"| {md_escape(r['text'])} | {md_escape(r['label'])} | {md_escape(r['judge'])} | "
                  f"{md_escape(r['reason'])} | {md_escape(slice_of(r['origin']))} |" for r in shown]
    return lines


def report_lines(quality: Any) -> list[str]:
    """report.md's lines under Data quality (a QualityReport): the LLM judge's agreement and its least agreed origin;
    the llm_label provider's votes (labels not a person's)."""
    judge, votes, out = quality.judge, quality.llm_votes or {}, []
    if judge and judge["agreement"] is not None:
        worst = min(((e["agreement"], n) for n, e in judge["per_origin"].items() if e["disputed"]), default=(1, ""))
        out += ["", f"LLM judge ({code(judge['model'])}, mode {judge['mode']}): {judge['agreement']:.1%} agreement over "
                f"{fmt(judge['answered'])} rows, {fmt(judge['disputed'])} disputed"
                + (f"; least agreement: {code(worst[1])} ({worst[0]:.0%})" if worst[1] else "") + "."]
    lost = ", ".join(f"{n} {k}" for k, n in votes.get("dropped", {}).items()) or "none"
    return out + (["", f"Labels by LLMs (source llm_label, not a person's): {fmt(votes['labelled'])} of "
                   f"{fmt(votes['texts'])} texts; dropped: {lost}."] if votes else [])
