"""The Verdict, as report.md and eval/summary.md both show it (one renderer, so the two pages never disagree).

It leads with each real set of role `test` (the fine-tuned model's macro-F1 with its interval, a verdict against
every baseline with the paired interval, the synthetic-to-real gap with its interval), then the synthetic test
split (it measures fit to the generator, not the task), then the real `dev` sets (steering-only). A model that
collapsed onto one label is shown as **collapsed**, never as better or within noise; a baseline that gave no answer
(every LLM answer abstained) as **no verdict**. Input: baselines.json as
evaluate writes it (evaluation/results.py); `test` (the test split's TestMetrics as a dict) stands in for the
fine-tuned row when there is no table.
"""

from __future__ import annotations

from typing import Any

from stages.core.markdown import code, fmt, interval, signed
from stages.core.verdicts import COLLAPSED, MODEL_NAMES, NO_VERDICT, collapse_note, verdict

FINE_TUNED = "fine_tuned"
ROLE_NOTES = {"test": "real, human-labelled: it judges the task",
              "synthetic": "generated like the training data: it measures fit to the generator, not the task",
              "dev": "real, **steering-only**: automated rounds (`synthbert focus`) may tune on it, so it does not "
                     "judge"}


def ordered_sets(table: dict[str, Any]) -> list[tuple[str, str]]:
    """(set, role) in the Verdict's order: real test sets, the synthetic split, real dev sets."""
    roles = table.get("roles") or {}
    sets = [(s, roles.get(s, "synthetic" if s == "test" else "test")) for s in table.get("sets") or ["test"]]
    return [pair for role in ("test", "synthetic", "dev") for pair in sets if pair[1] == role]


def seeds_line(table: dict[str, Any]) -> str:
    seed = table.get("seed")
    which = f" (base.seed {seed})" if seed is not None else ""
    return (f"Behind these numbers: 1 training seed{which}; a seed's luck moves them. For the spread, train on "
            "several seeds and compare them with `synthbert compare`.")


def shown_name(name: str, record: dict[str, Any]) -> str:
    """A model's name in the Verdict; real_only's says how many real rows it had (were the synthetic rows worth it
    against those k real rows alone?)."""
    if name == "real_only" and record.get("real_rows") is not None:
        return f"the same fine-tuning on the {fmt(record['real_rows'])} real train rows alone"
    return MODEL_NAMES.get(name) or fmt(name)


def baseline_line(name: str, ft: dict[str, Any], row: dict[str, Any], record: dict[str, Any] | None = None) -> str | None:
    word = verdict(ft, row)
    if word is None:
        return None
    numbers = (f"macro-F1 gain {signed(row.get('fine_tuned_gain_f1_macro'))}, interval {signed(row['gain_ci_low'])} "
               f"to {signed(row['gain_ci_high'])}")
    shown = shown_name(name, record or {})
    if word == NO_VERDICT:
        return f"- vs {shown}: **{NO_VERDICT}**: {row['no_verdict']} ({numbers})"
    if word != COLLAPSED:
        return f"- vs {shown}: **{word}** ({numbers})"
    who = (["the fine-tuned model (above)"] if ft.get("collapsed") else []) + \
        ([collapse_note(shown, row["collapsed"])] if row.get("collapsed") else [])
    return f"- vs {shown}: **{COLLAPSED}** ({'; '.join(who)}; {numbers})"


def set_lines(name: str, role: str, models: dict[str, Any], test: dict[str, Any]) -> list[str]:
    ft = (models.get(FINE_TUNED) or {}).get(name) or (test if name == "test" else {})
    what = "Synthetic test split" if role == "synthetic" else f"Real {role} set {code(name)}"
    rows = f"{fmt(ft['rows'])} rows; " if ft.get("rows") is not None else ""
    out = ["", f"**{what}** ({rows}{ROLE_NOTES.get(role, role)})", ""]
    head = f"- fine-tuned model: macro-F1 {fmt(ft.get('f1_macro'))} ({interval(ft, 'f1_macro')})"
    if ft.get("collapsed"):
        head += f"; **{COLLAPSED}**: {collapse_note('it', ft['collapsed'])}"
    out.append(head)
    for model, row in models.items():
        line = baseline_line(model, ft, row.get(name) or {}, row) if model != FINE_TUNED else None
        out += [line] if line else []
    if role != "synthetic" and ft.get("f1_macro_gap") is not None:
        lo, hi = signed(ft.get("f1_macro_gap_ci_low")), signed(ft.get("f1_macro_gap_ci_high"))
        out.append(f"- synthetic-to-real gap: {signed(ft['f1_macro_gap'])} (interval {lo} to {hi}): the synthetic "
                   "test split's macro-F1 minus this set's")
    return out


def verdict_lines(table: dict[str, Any] | None, test: dict[str, Any]) -> list[str]:
    """The Verdict's body (no heading): a block per set in ordered_sets' order, the seeds behind it, and the real
    sets left out as another task's."""
    table = table or {}
    models = table.get("models") or {}
    out: list[str] = []
    for name, role in ordered_sets(table):
        out += set_lines(name, role, models, test)
    skipped = table.get("skipped_sets") or []
    if skipped:
        out += ["", f"Real sets left out: {', '.join(code(s) for s in skipped)} (none of their labels is a model "
                    "label: another task's; map them with `label_map` or remove them from `evaluate.external_test`)."]
    return out + ["", seeds_line(table)]
