"""Label sets of multi-label tasks: how a row carrying several labels is written in the hand-off files.

A multi-label task (task file `multi_label: true`, or `generate.csv.label_separator` set) writes each row's
labels in the `label` column of generated.csv and the split files as one string: the label names, sorted and
unique, joined by LABEL_SEP ("billing|urgent"). A single-label task writes one name, as before. Whether a data
set is multi-label is recorded in reports/data/dataset.json (DatasetInfo.multi_label) and, once trained, in the
model's config (problem_type "multi_label_classification", decision thresholds in `decision_thresholds`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

LABEL_SEP = "|"
MULTI_LABEL = "multi_label_classification"  # transformers' problem_type: sigmoid + BCE
THRESHOLDS_KEY = "decision_thresholds"       # model config attribute: {label: threshold}


def split_labels(value: str) -> list[str]:
    """The label names in one `label` cell: "b|a" -> ["a", "b"] (sorted, unique, blanks dropped)."""
    return sorted({part.strip() for part in str(value).split(LABEL_SEP) if part.strip()})


def join_labels(labels: Iterable[str]) -> str:
    """One `label` cell from label names: sorted, unique, joined by LABEL_SEP."""
    return LABEL_SEP.join(sorted({lab.strip() for lab in labels if lab and lab.strip()}))


def label_names(cells: Iterable[str], multi_label: bool) -> list[str]:
    """Every label name occurring in a `label` column, sorted."""
    if not multi_label:
        return sorted(set(cells))
    return sorted({lab for cell in cells for lab in split_labels(cell)})


def multi_hot(cells: Sequence[str], labels: Sequence[str]) -> Any:
    """(n, len(labels)) int8 numpy array: 1 where row i carries label j. Unknown names raise KeyError."""
    import numpy as np

    index = {lab: j for j, lab in enumerate(labels)}
    out = np.zeros((len(cells), len(labels)), dtype=np.int8)
    for i, cell in enumerate(cells):
        for lab in split_labels(cell):
            out[i, index[lab]] = 1
    return out


def from_multi_hot(matrix: Any, labels: Sequence[str]) -> list[str]:
    """One `label` cell per row of a 0/1 matrix (a row with no label gives "")."""
    return [join_labels(labels[j] for j in range(len(labels)) if row[j]) for row in matrix]


def decide(proba: Any, thresholds: Sequence[float]) -> Any:
    """0/1 decisions of a multi-label model: probability >= the label's threshold."""
    import numpy as np

    return (np.asarray(proba) >= np.asarray(thresholds, dtype=float)[None, :]).astype(np.int8)
