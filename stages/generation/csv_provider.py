"""The `csv` provider: rows of a human-annotated CSV (`generate.csv.path`, its text and label columns)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from stages.core import params
from stages.core.io import read_csv


def generate(cfg: params.CsvImport) -> list[dict[str, Any]]:
    """The configured text and label columns become text,label; the source names the file."""
    frame = read_csv(cfg.path, columns=(cfg.text_column, cfg.label_column), what="annotated CSV")
    source = f"csv:{Path(cfg.path).name}"
    return [
        {"text": t, "label": lab, "source": source}
        for t, lab in zip(frame[cfg.text_column].tolist(), frame[cfg.label_column].tolist())
    ]
