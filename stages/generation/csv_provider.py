"""The `csv` provider: rows of a human-annotated CSV (`generate.csv.path`, its text and label columns).

With `generate.csv.label_separator` set (e.g. "|" or ";") the label column holds label sets: each cell is split
on the separator and written as core/labelsets' canonical cell (sorted names joined by "|"); the data set is then
multi-label. A row's origin is `<generate.csv.path>:<data row>` (core/origin.py).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from stages.core import params
from stages.core.errors import DataError
from stages.core.io import read_csv
from stages.core.labelsets import LABEL_SEP, join_labels
from stages.core.origin import file_rows

log = logging.getLogger(__name__)
SOURCE_PREFIX = "csv:"  # a row's source: csv:<file name> (human-labelled: label_filter never drops it)


def label_set(cell: Any, separator: str, where: str) -> Any:
    """One label cell split on `separator`, as a canonical label-set cell ("" when it names no label)."""
    if not isinstance(cell, str):
        return cell  # a missing label: cleaning drops the row and counts it
    names = [name.strip() for name in cell.split(separator)]
    if separator != LABEL_SEP and any(LABEL_SEP in name for name in names):
        raise DataError(f"{where}: label {cell!r} holds {LABEL_SEP!r}, which joins a row's labels in the data set; "
                        f"expected label names without it (or set the separator to {LABEL_SEP!r})"[:300])
    return join_labels(names)


def label_sets(cells: list[Any], separator: str, path: str, column: str, key: str) -> list[Any]:
    """Each cell of a label column split on `separator` (label_set); a warning when no cell holds the separator:
    then every whole cell is one label, which a multi-label file with another separator would silently become."""
    where = f"{path}: column {column!r} ({key} {separator!r})"
    if not any(isinstance(cell, str) and separator in cell for cell in cells):
        log.warning("%s: no label cell holds the separator, so each cell is one label; check %s (the file's "
                    "separator?) or set it to null", where, key)
    return [label_set(cell, separator, where) for cell in cells]


def generate(cfg: params.CsvImport) -> list[dict[str, Any]]:
    """The configured text and label columns become text,label; the source names the file, the origin the row."""
    frame = read_csv(cfg.path, columns=(cfg.text_column, cfg.label_column), what="annotated CSV")
    source = f"{SOURCE_PREFIX}{Path(cfg.path).name}"
    labels = frame[cfg.label_column].tolist()
    if cfg.label_separator is not None:
        labels = label_sets(labels, cfg.label_separator, cfg.path, cfg.label_column, "generate.csv.label_separator")
    return [{"text": t, "label": lab, "source": source, "origin": o}
            for t, lab, o in zip(frame[cfg.text_column].tolist(), labels, file_rows(cfg.path, len(frame)))]
