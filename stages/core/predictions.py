"""predictions.csv, the evaluate -> explain hand-off: text, true, predicted, confidence, then one probability
column `p_<label>` per model label, in label order. For a multi-label model true/predicted are label-set cells
(core/labelsets.py, "" = none) and confidence is the least sure label's max(p, 1 - p).
Re-exported by core/contracts.py beside the other hand-off definitions.

real_predictions.csv (evaluate -> `synthbert compare`): the same decisions on every real (external) set, without the
texts (a private set must not leak into the committed reports): set, row (1-based data row of the set's file),
key (text_key: a hash of the text, to pair rows of two revisions), true, predicted, confidence, p_<label>..."""

from __future__ import annotations

import math
import hashlib
from pathlib import Path
from typing import Any

from stages.core.errors import DataError
from stages.core.io import read_csv, write_csv

PREDICTION_COLUMNS = ("text", "true", "predicted", "confidence")
REAL_PREDICTION_COLUMNS = ("set", "row", "key", "true", "predicted", "confidence")
PROBABILITY_PREFIX = "p_"


def prediction_columns(labels: list[str]) -> list[str]:
    return [*PREDICTION_COLUMNS, *(PROBABILITY_PREFIX + lab for lab in labels)]


def read_predictions(path: str | Path) -> tuple[Any, list[str]]:
    """predictions.csv and the model labels in its probability columns' order."""
    frame = read_csv(path, columns=PREDICTION_COLUMNS, what="predictions")
    labels = [c[len(PROBABILITY_PREFIX):] for c in frame.columns if c.startswith(PROBABILITY_PREFIX)]
    if len(labels) < 2:
        raise DataError(f"{path}: expected a probability column {PROBABILITY_PREFIX}<label> per model label, "
                        f"found {len(labels)}")
    extra = [c for c in frame.columns if c not in prediction_columns(labels)]
    if extra:
        raise DataError(f"{path}: unexpected column {extra[0]!r}; expected {', '.join(prediction_columns(labels))}")
    numbers = {}
    for column in ("confidence", *(PROBABILITY_PREFIX + lab for lab in labels)):
        numbers[column] = [_probability(path, i, column, v) for i, v in enumerate(frame[column], start=1)]
    frame = frame.assign(**numbers)
    return frame, labels


def _probability(path: str | Path, row: int, column: str, value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if not 0 <= number <= 1:  # also rejects nan
        raise DataError(f"{path}: row {row}: {column} must be a probability in [0, 1], got {value!r}")
    return number


def write_predictions(path: str | Path, frame: Any, labels: list[str]) -> None:
    write_csv(path, frame[prediction_columns(labels)])


def text_key(text: str) -> str:
    """A stable 16-hex-digit key of a text (sha1 of its UTF-8 bytes): pairs rows across revisions without the text."""
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:16]


def write_real_predictions(path: str | Path, frame: Any, labels: list[str]) -> None:
    """real_predictions.csv from a frame with set, row, text, true, predicted, confidence and p_<label> columns:
    the text is replaced by its key."""
    out = frame.assign(key=[text_key(t) for t in frame["text"]])
    write_csv(path, out[[*REAL_PREDICTION_COLUMNS, *(PROBABILITY_PREFIX + lab for lab in labels)]])


def read_real_predictions(path: str | Path) -> tuple[Any, list[str]]:
    """real_predictions.csv (all cells text, `row` an int) and the model labels of its probability columns."""
    frame = read_csv(path, columns=REAL_PREDICTION_COLUMNS, what="real-set predictions")
    labels = [c[len(PROBABILITY_PREFIX):] for c in frame.columns if c.startswith(PROBABILITY_PREFIX)]
    bad = frame.index[~frame["row"].str.fullmatch(r"[1-9][0-9]*")]
    if len(bad):
        raise DataError(f"{path}: line {int(bad[0]) + 2}: row must be a positive integer, got {frame['row'][bad[0]]!r}")
    return frame.assign(row=frame["row"].astype(int)), labels
