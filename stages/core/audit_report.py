"""reports/data/audit.json, the audit -> report (and `synthbert focus --coverage`) hand-off: how far the synthetic
rows sit from a real reference (the real dev sets of evaluate.external_test, or generate.real's rows). Re-exported
by core/contracts.py beside the other hand-off definitions.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

from stages.core.schema import Contract


@dataclasses.dataclass(frozen=True)
class AuditReport(Contract):
    """Synthetic against real. Without a real reference only `reason` says why nothing was measured (the other
    fields keep their empty defaults). Rows are texts as written in their files."""

    FILE: ClassVar[str] = "audit.json (audit)"
    reference: list              # what the synthetic rows were compared with: ["dev:<set name>", ..., "generate.real"]
    reason: str | None           # why nothing was measured (no real reference); None when measured
    synthetic_rows: int = 0
    real_rows: int = 0
    discriminability: dict = dataclasses.field(default_factory=dict)  # classifier -> {roc_auc, folds}: 0.5 = alike
    coverage: dict = dataclasses.field(default_factory=dict)          # {share, threshold, ...}
    diversity: dict = dataclasses.field(default_factory=dict)         # {synthetic: {...}, real: {...}}
    label_shares: dict = dataclasses.field(default_factory=dict)      # {synthetic: {label: share}, real: {...}}
    most_unreal: list = dataclasses.field(default_factory=list)       # [{text, origin, p_synthetic}], most first
    least_covered: list = dataclasses.field(default_factory=list)     # [{set, row, text, label, distance}], least first
