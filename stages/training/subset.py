"""`stages.train --only-source SOURCE`: the rows the same fine-tuning sees when it trains on the train rows of one
source alone (`--only-source real`: the real_only baseline, "were the synthetic rows worth it against the k real
rows alone?"). Train: the rows of that source; val: the val split as is, less any row with a label those rows lack
(a model cannot be selected on labels it has no head for). No rows, one label or no val row left: nothing to train,
and the reason says why.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from stages.core import contracts, labelsets
from stages.core.io import atomic_dir, write_csv

log = logging.getLogger(__name__)


def select(split_dir: Path, source: str, out_split: Path, multi_label: bool = False) -> contracts.SubsetModel:
    """Write train.csv and val.csv of the subset to `out_split` when there is something to train; return the
    record (contracts.SubsetModel) either way."""
    train = contracts.read_dataset(split_dir / "train.csv", "train split")
    rows = train[train["source"] == source]
    labels = labelsets.label_names(rows["label"], multi_label)
    val = contracts.read_dataset(split_dir / "val.csv", "val split")
    known = set(labels)
    kept = val[[set(labelsets.label_names([cell], multi_label)) <= known for cell in val["label"]]]
    reason = None
    if rows.empty:
        reason = f"train.csv holds no row of source {source!r}"
    elif len(labels) < 2:
        reason = f"the {len(rows):,} train rows of source {source!r} hold one label ({labels[0]})"
    elif kept.empty:
        reason = f"no val row has a label of the train rows of source {source!r} ({', '.join(labels)})"
    if reason is None:
        if len(kept) < len(val):
            log.info("val: %s of %s rows kept (the others carry a label no train row of source %r has)",
                     f"{len(kept):,}", f"{len(val):,}", source)
        out_split.mkdir(parents=True, exist_ok=True)
        write_csv(out_split / "train.csv", rows)  # every column as read (the split's own files)
        write_csv(out_split / "val.csv", kept)
    return contracts.SubsetModel(source=source, train_rows=len(rows), val_rows=len(kept), labels=labels,
                                 trained=reason is None, reason=reason)


def run(source: str, split_dir: Path, out_dir: Path, dataset: Path | None,
        train: Callable[..., Any]) -> contracts.SubsetModel:
    """Replace `out_dir` (atomically) with subset.json and, when there is something to train, what the train
    stage's run() (`train`, given every other argument) writes for the subset: its model and train reports.
    Multi-label when dataset.json says so."""
    multi_label = bool(dataset and contracts.DatasetInfo.read(dataset).multi_label)
    with atomic_dir(out_dir) as tmp, tempfile.TemporaryDirectory(prefix="synthbert-subset-") as split:
        info = select(split_dir, source, Path(split), multi_label)
        if info.trained:
            log.info("fine-tuning on the %s train rows of source %r alone (val: %s rows)", f"{info.train_rows:,}",
                     source, f"{info.val_rows:,}")
            train(split_dir=Path(split), model_dir=tmp / contracts.SUBSET_MODEL,
                  reports=tmp / contracts.SUBSET_REPORTS, multi_label=multi_label)
        else:
            log.info("no model in %s: %s", out_dir, info.reason)
        info.write(tmp / contracts.SUBSET_FILE)
    return info
