"""Markdown of `synthbert compare`'s verdicts: the workspace against a revision on the rows both scored
(tools/paired.py), and seed groups of DVC experiments against the baseline group (tools/seed_groups.py)."""

from __future__ import annotations

from typing import Any

from stages.core.markdown import code, fmt, signed, table
from stages.core.text import md_escape
from stages.tools import seed_groups
from stages.tools.paired import TEST


def set_name(name: str) -> str:
    return "test split" if name == TEST else f"real set {code(name.removeprefix('real:'))}"


def interval(row: dict[str, Any]) -> str:
    return f"{signed(row['diff'])} [{signed(row['low'])}, {signed(row['high'])}]"


def left_out(row: dict[str, Any], rev: str) -> str:
    parts = [f"{row['only_old']:,} only in {code(rev)}" if row["only_old"] else "",
             f"{row['only_new']:,} only in the workspace" if row["only_new"] else "",
             f"{row['relabelled']:,} with another true label" if row["relabelled"] else ""]
    return "; ".join(p for p in parts if p) or "—"


def revision(rev: str, rows: list[dict[str, Any]], resamples: int, confidence: float) -> list[str]:
    """The `### Verdict` section: one table row per set with a verdict, one line per set without."""
    lines = ["### Verdict", "",
             f"Macro-F1 of the workspace minus {code(rev)} on the rows both scored, with its {confidence:.0%} "
             f"interval from {resamples:,} paired bootstrap resamples of those rows.", ""]
    scored = [r for r in rows if "verdict" in r]
    lines += table(["set", "rows", code(rev), "workspace", "change [interval]", "verdict", "rows left out"],
                   [[set_name(r["set"]), r["rows"], r["old"], r["new"], interval(r), f"**{r['verdict']}**",
                     left_out(r, rev)] for r in scored], right_from=1) if scored else []
    for r in rows:
        if "note" in r:
            lines.append(f"- {md_escape(r['note'])}")
        elif "verdict" not in r:
            lines.append(f"- no verdict on the {set_name(r['set'])}: no row scored by both ({left_out(r, rev)})")
    return lines + [""]


def mean_sd(value: tuple[float, float | None, int] | None) -> str:
    if value is None:
        return "—"
    mean, sd, _ = value
    return f"{mean:.3f} ± {sd:.3f}" if sd is not None else f"{mean:.3f}"


def groups_table(groups: list[seed_groups.Group], base: int | None) -> list[str]:
    spreads = [seed_groups.spread(g) for g in groups]
    sets = sorted({s for sp in spreads for s in sp}, key=lambda s: (s != TEST, s))
    rows = []
    for i, (g, sp) in enumerate(zip(groups, spreads)):
        differs = "—" if base is None or i == base else \
            ", ".join(code(d) for d in seed_groups.differences(g, groups[base])) or "(nothing)"
        label = f"{i + 1} (baseline)" if i == base else str(i + 1)
        seeds = ", ".join(fmt(r.seed) for r in g.runs)
        runs = ", ".join(code(r.name) for r in g.runs)
        rows.append([label, differs, f"{len(g.runs)}: {seeds}", runs, *(mean_sd(sp.get(s)) for s in sets)])
    header = ["group", "differs from the baseline", "seeds", "runs",
              *(f"{set_name(s)} macro-F1" for s in sets)]
    return table(header, rows, right_from=4)


def seed_groups_page(groups: list[seed_groups.Group], base: int | None, verdicts: dict[int, list[dict[str, Any]]],
                     skipped: int, resamples: int, confidence: float) -> str:
    runs = sum(len(g.runs) for g in groups)
    lines = [f"## Seed groups: {runs} runs in {len(groups)} group{'s' * (len(groups) != 1)}", "",
             "Runs that differ only in `base.seed` (every other param and every source file equal), mean ± sample "
             "standard deviation of macro-F1 over their seeds."]
    if skipped:
        lines.append(f"{skipped} queued, running or failed experiment{'s' * (skipped != 1)} left out.")
    lines += ["", *groups_table(groups, base), ""]
    if base is None:
        return "\n".join(lines + ["No verdict: no group holds the baseline commit's run or the workspace's "
                                  "params (run `dvc repro` and commit, or run the baseline's seeds)."]) + "\n"
    lines += ["### Against the baseline group", "",
              f"Mean macro-F1 of the group minus the baseline group's, with its {confidence:.0%} interval from "
              f"{resamples:,} two-level bootstrap resamples (seeds within each group, then rows; see "
              "`stages/tools/seed_groups.py`).", ""]
    rows, notes = [], []
    for i, found in verdicts.items():
        for r in found:
            if "note" in r:
                notes.append(f"- group {i + 1}: {md_escape(r['note'])}")
            else:
                rows.append([str(i + 1), set_name(r["set"]), f"{len(groups[i].runs)} vs {len(groups[base].runs)}",
                             interval(r), f"**{r['verdict']}**"])
    lines += table(["group", "set", "seeds", "change [interval]", "verdict"], rows, right_from=2) if rows else \
        ["No other group to compare with the baseline."]
    return "\n".join(lines + notes) + "\n"
