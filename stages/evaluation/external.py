"""External (real, human-labelled) test sets for the evaluate stage: read, check and map their labels.

Each `evaluate.external_test` entry names a UTF-8 CSV under the external test directory (data/external/,
which dvc.yaml lists as a dependency of evaluate), its text and label columns, and an optional label_map
from the file's labels to the model's.
For a multi-label model a label cell may hold several labels, split on the entry's `label_separator` (default
"|"); label_map applies to each name, and the frame gets label-set cells (core/labelsets.py; an empty cell is a
row with no label). A single-label model takes each cell whole (label_separator set is an error).
A set with some labels the model does not know is an error; one with none it knows (another task's) is skipped
with a warning. Each entry's `role` (dev | test) is recorded by the stage; it does not change how a set is read.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from stages.core import labelsets, params
from stages.core.errors import DataError, ParamsError
from stages.core.io import read_csv

log = logging.getLogger(__name__)


def read_external(spec: params.ExternalTest, key: str, external_dir: Path, labels: list[str],
                  multi_label: bool = False) -> Any:
    """The set as a frame with columns text, label (model labels), source ("real:<name>"); None (a warning) when
    none of its labels, mapped, is a model label: another task's set, such as the default Stop Clickbait sets
    under a news-topics model, is left out rather than stopping the run.

    `key` is the entry's params key (evaluate.external_test[i]), named in errors about the mapping.
    """
    import pandas as pd

    bad = sorted(v for v in spec.label_map.values() if v not in labels)
    if bad:
        wrong = next(k for k, v in spec.label_map.items() if v == bad[0])
        raise ParamsError(f"params.yaml: {key}.label_map.{wrong} must be one of the model labels "
                          f"({', '.join(labels)}), got {bad[0]!r}")
    if spec.label_separator is not None and not multi_label:
        raise ParamsError(f"params.yaml: {key}.label_separator must be unset for a single-label model (one label "
                          f"per row), got {spec.label_separator!r}")
    path = external_dir / spec.path
    frame = read_csv(path, columns=(spec.text_column, spec.label_column), what=f"external test set {spec.name!r}")
    texts = frame[spec.text_column].str.strip()
    raw = frame[spec.label_column].str.strip()
    for column, values in ((spec.text_column, texts), (spec.label_column, raw))[:1 if multi_label else 2]:
        empty = values.index[values == ""]
        if len(empty):
            raise DataError(f"{path}: line {int(empty[0]) + 2}: empty {column!r} (expected a value in every row)")
    if multi_label:
        sep = spec.label_separator or labelsets.LABEL_SEP
        names = [[spec.label_map.get(n.strip(), n.strip()) for n in cell.split(sep) if n.strip()] for cell in raw]
        mapped = [labelsets.join_labels(row) for row in names]
        seen = {n for row in names for n in row}
    else:
        mapped = raw.map(lambda lab: spec.label_map.get(lab, lab)).tolist()
        seen = set(mapped)
    unknown = sorted(seen - set(labels))
    if unknown and not seen & set(labels):
        log.warning("external test set %s skipped: none of its labels (%s) is a model label (%s); another task's set",
                    spec.name, ", ".join(unknown[:5]), ", ".join(labels))
        return None
    if unknown:
        raise DataError(f"{path}: label {unknown[0]!r} is unknown to the model (model labels: "
                        f"{', '.join(labels)}); map it to one in {key}.label_map")
    log.info("external test set %s: %s rows from %s", spec.name, f"{len(frame):,}", path)
    return pd.DataFrame({"text": texts.tolist(), "label": mapped, "source": f"real:{spec.name}"})


def read_all(cfg: params.Evaluate, external_dir: Path | None, labels: list[str],
             multi_label: bool = False) -> dict[str, Any]:
    """{name: frame} for every configured external set, in params order; checked before any scoring."""
    if cfg.external_test and external_dir is None:
        raise DataError("evaluate.external_test is set but the stage was given no external test directory "
                        "(--external)")
    frames = {spec.name: read_external(spec, f"evaluate.external_test[{i}]", external_dir, labels, multi_label)
              for i, spec in enumerate(cfg.external_test)}
    return {name: frame for name, frame in frames.items() if frame is not None}
