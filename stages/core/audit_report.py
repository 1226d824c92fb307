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
    fields keep their empty defaults). Rows are texts as written in their files; `set` is the split file (train, val)
    of a synthetic row, the dev set's name or generate.real for a real row, and `row` its 1-based data row in that
    set's file (the header not counted; for generate.real, the row of generate.real.path)."""

    FILE: ClassVar[str] = "audit.json (audit)"
    reference: list              # what the synthetic rows were compared with: ["dev:<set name>", ..., "generate.real"]
    reason: str | None           # why nothing was measured (no real reference); None when measured
    synthetic_rows: int = 0      # train.csv + val.csv rows whose source is not real (at most 10,000, sampled)
    real_rows: int = 0           # distinct texts of the reference
    # tfidf_lr | frozen_lr -> {roc_auc, folds}: cross-validated, 0.5 = alike
    discriminability: dict = dataclasses.field(default_factory=dict)
    coverage: dict = dataclasses.field(default_factory=dict)      # {share, covered, rows, threshold, median_distance}
    # synthetic | real -> {rows, window, distinct_1, distinct_2, mean_pairwise_similarity, largest_origin,
    # largest_origin_share}
    diversity: dict = dataclasses.field(default_factory=dict)
    label_shares: dict = dataclasses.field(default_factory=dict)  # {synthetic: {label: share}, real: {...}}
    # [{set, row, text, label, origin, p_synthetic}], most first
    most_unreal: list = dataclasses.field(default_factory=list)
    least_covered: list = dataclasses.field(default_factory=list)  # [{set, row, text, label, distance}], least first
