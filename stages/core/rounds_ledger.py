"""reports/rounds.json, the `synthbert rounds --write` -> report hand-off: the ledger of focus rounds read from the git
history (tools/rounds.py), committed with each round so that the report stage renders it without reading git itself.
Re-exported by core/contracts.py beside the other hand-off definitions.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

from stages.core.schema import Contract

STOP, CONTINUE, UNDECIDED = "stop", "continue", "undecided"


@dataclasses.dataclass(frozen=True)
class RoundsLedger(Contract):
    """Round 0 (the unfocused baseline) and every focus round after it, oldest first; no rounds: `rounds` empty.

    Each round: {round, commit, subject, reports_at (the commit whose reports are read: the last one before the next
    round, HEAD for the last), reproduced (data/focus.yaml's hash in that commit's dvc.lock matches the file: true,
    false, or null without a lock entry), test and dev ({set: {rows, f1_macro, low, high}}: the real sets by role),
    gain ({set: paired.set_verdict's fields} against the previous round, real test sets only; null for round 0),
    gained (true: some test set better and none worse; false; null when not judged), rows ({generated, kept}),
    llm ({provider, requests, requests_used, usd, usd_total}: sent and paid this round, and the data set's total),
    confused ({set: [{true, predicted, mismatches}]}, the real test sets' errors, most first)}."""

    FILE: ClassVar[str] = "rounds.json (synthbert rounds --write)"
    rounds: list
    decision: str | None          # STOP, CONTINUE or UNDECIDED; None without rounds
    reason: str                   # the decision (or the absence of rounds) in one line
    since: str | None = None      # the --since revision that chose round 0 (None: the commit before the first change)
    bootstrap: dict = dataclasses.field(default_factory=dict)   # {resamples, confidence, seed} of the paired gains
