"""The ledger of focus rounds as markdown, as `synthbert rounds` prints it and report.md shows it (one renderer, so
the two never disagree). Input: a RoundsLedger (core/rounds_ledger.py) with rounds.
"""

from __future__ import annotations

from typing import Any

from stages.core.markdown import code, fmt, signed, table
from stages.core.rounds_ledger import RoundsLedger
from stages.core.text import md_escape

SUBJECT_CHARS = 48


def usd(value: Any) -> str:
    """Dollars, always 4 decimals (LLM rounds are cheap; one format per column); no price in the price table:
    "unknown"."""
    return "unknown" if value is None else f"{value:,.4f}"


def score(row: dict[str, Any] | None) -> str:
    if not row:
        return "—"
    shown = f"{fmt(row['f1_macro'])} [{fmt(row['low'])}, {fmt(row['high'])}]"
    return shown + (" **collapsed**" if row["collapsed"] else "")


def gain(row: dict[str, Any] | None) -> str:
    if not row or "verdict" not in row:
        return "—"
    return f"{signed(row['diff'])} [{signed(row['low'])}, {signed(row['high'])}] {row['verdict']}"


def commit(r: dict[str, Any]) -> str:
    subject = r.get("subject") or ""
    subject = subject if len(subject) <= SUBJECT_CHARS else subject[:SUBJECT_CHARS - 1] + "…"
    return f"{code(r['commit'][:7])} {md_escape(subject)}".strip()


def rounds_table(rounds: list[dict[str, Any]], sets: list[str]) -> list[str]:
    header = ["round", "commit", *[f"{code(s)} macro F1 [interval]" for s in sets],
              *[f"{code(s)} gain [interval] verdict" for s in sets],
              "rows generated", "rows kept", "LLM requests", "USD (round)", "USD (data set)"]
    rows = []
    for r in rounds:
        llm, count = r.get("llm") or {}, r.get("rows") or {}
        rows.append([str(r["round"]), commit(r), *[score(r["test"].get(s)) for s in sets],
                     *[gain((r.get("gain") or {}).get(s)) for s in sets], count.get("generated"), count.get("kept"),
                     llm.get("requests"), usd(llm.get("usd")), usd(llm.get("usd_total"))])
    return table(header, rows, right_from=2)


def confused_table(rounds: list[dict[str, Any]]) -> list[str]:
    """Mismatches per (set, true, predicted) pair of the real test sets, one column per round; the last round's
    most frequent first."""
    counts = [{(s, p["true"], p["predicted"]): p["mismatches"] for s, pairs in r["confused"].items() for p in pairs}
              for r in rounds]
    pairs = sorted({k for c in counts for k in c}, key=lambda k: (-counts[-1].get(k, 0), k))
    if not pairs:
        return []
    rows = [[f"{code(s)}: {md_escape(t or '(no label)')} → {md_escape(p or '(no label)')}",
             *[c.get((s, t, p), 0) for c in counts]] for s, t, p in pairs]
    return ["", "Mismatches per confused pair on the real test sets (true → predicted):", "",
            *table(["set: true → predicted", *[f"round {r['round']}" for r in rounds]], rows)]


def dev_table(rounds: list[dict[str, Any]]) -> list[str]:
    sets = sorted({s for r in rounds for s in r["dev"]})
    if not sets:
        return []
    rows = [[str(r["round"]), *[score(r["dev"].get(s)) for s in sets]] for r in rounds]
    return ["", "Real dev sets (steering-only: focus may aim at their errors, so they do not judge the rounds):", "",
            *table(["round", *[f"{code(s)} macro F1 [interval]" for s in sets]], rows)]


def ledger_lines(ledger: RoundsLedger, heading: str = "##") -> list[str]:
    """The `Rounds` section: the decision, one row per round, the confused pairs, the dev sets, notes."""
    rounds = list(ledger.rounds)
    sets = sorted({s for r in rounds for s in r["test"]})
    boot = ledger.bootstrap
    how = (f"Each round is a commit that changed `data/focus.yaml` (`synthbert rounds`); round 0 is the unfocused "
           "baseline. Real test sets judge: the gain is the paired difference in macro-F1 with the previous round on "
           "the rows both scored")
    how += f" ({boot['confidence']:.0%} interval, {boot['resamples']:,} bootstrap resamples)." if boot else "."
    lines = [f"{heading} Rounds", "", how, "", f"**{ledger.decision}**: {md_escape(ledger.reason)}.", "",
             *rounds_table(rounds, sets), *confused_table(rounds), *dev_table(rounds)]
    notes = [f"- round {r['round']}: its reports were not reproduced from its focus file (the hash of "
             "`data/focus.yaml` in its `dvc.lock` differs): no gain counted; run `dvc repro` and commit"
             for r in rounds if r.get("reproduced") is False]
    return lines + (["", *notes] if notes else [])
