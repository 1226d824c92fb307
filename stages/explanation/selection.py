"""Which rows of predictions.csv the explain stage explains: the mismatches, most confident first, and the
most confident correct rows per label as contrast. Params: explain.max_examples, explain.correct_per_label.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any, NamedTuple

from stages.core import contracts, params
from stages.core.errors import DataError
from stages.core.labelsets import label_names, split_labels

log = logging.getLogger(__name__)
_WORD = re.compile(r"\w", re.UNICODE)


class Selection(NamedTuple):
    mismatches: Any  # the mismatch rows to explain (a DataFrame)
    contrast: Any  # the correct rows shown for contrast
    total: int  # mismatches in predictions.csv
    skipped: int  # mismatches skipped for lacking word characters (LIME cannot perturb them)


def read_predictions(path: Path) -> Any:
    """predictions.csv (the contract in core/contracts.py), most confident first, ties by text: a stable order."""
    frame, _ = contracts.read_predictions(path)
    return frame.sort_values(["confidence", "text"], ascending=[False, True], kind="stable")


def choose(preds: Any, cfg: params.Explain, multi_label: bool = False) -> Selection:
    """Mismatches (with `multi_label`: rows whose label sets differ) and contrast rows (a multi-label row only
    when it carries a label)."""
    import pandas as pd

    has_words = preds["text"].map(lambda t: bool(_WORD.search(t)))
    wrong = preds["true"] != preds["predicted"]
    if multi_label:
        wrong = pd.Series([split_labels(t) != split_labels(p) for t, p in zip(preds["true"], preds["predicted"])],
                          index=preds.index)
    skipped = int((wrong & ~has_words).sum())
    if skipped:
        log.warning("skipping %d mismatches whose text has no word characters (LIME cannot perturb them)", skipped)
    chosen = preds[wrong & has_words].head(cfg.max_examples)
    right = preds[~wrong & has_words & ((preds["true"] != "") if multi_label else True)]
    contrast = right.groupby("true", sort=True).head(cfg.correct_per_label)
    contrast = contrast.sort_values(["true", "confidence", "text"], ascending=[True, False, True], kind="stable")
    return Selection(chosen, contrast, int(wrong.sum()), skipped)


def check_labels(frames: list[Any], labels: list[str], path: Path, multi_label: bool = False) -> None:
    for frame in frames:
        for column in ("true", "predicted"):
            unknown = sorted(set(label_names(frame[column], multi_label)) - set(labels))
            if unknown:
                raise DataError(f"{path}: {column} label {unknown[0]!r} is not a label of the model "
                                f"(expected one of {', '.join(labels)})")
