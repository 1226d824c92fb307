"""The rows the audit compares, each with where it came from (its set and 1-based data row in that set's file).

Synthetic: the rows of train.csv and val.csv whose source is not `real` (what the model learns from and is
selected on; the test split is left out: it only judges). Real reference: every `evaluate.external_test` set with
role dev, read as evaluate reads it (evaluation/external.py; a set of another task is skipped with a warning, and
role test sets are never opened), then the real rows of train.csv and val.csv (source real: generate.real), each
text once (core/text.dedup_key; the first kept: dev sets in params order, then generate.real). A generate.real
row's row is its data row in the generate.real CSV (its origin `<path>:<row>`).
"""

from __future__ import annotations

import dataclasses
import random
from pathlib import Path
from typing import Any

from stages.core import contracts, params
from stages.core.text import dedup_key
from stages.evaluation.external import read_external

SYNTHETIC_SPLITS = ("train", "val")
GENERATE_REAL = "generate.real"


@dataclasses.dataclass(frozen=True)
class Rows:
    """Parallel lists, one item per row: text, label cell, set (split file, dev set name or generate.real), 1-based
    data row in that set's file, origin ("" for a dev set's rows)."""

    texts: list[str]
    labels: list[str]
    sets: list[str]
    rows: list[int]
    origins: list[str]

    def __len__(self) -> int:
        return len(self.texts)

    def take(self, idx: list[int]) -> Rows:
        return Rows(*([getattr(self, f.name)[i] for i in idx] for f in dataclasses.fields(self)))

    def entry(self, i: int) -> dict[str, Any]:
        """Row i as audit.json lists it: {set, row, text, label}."""
        return {"set": self.sets[i], "row": self.rows[i], "text": self.texts[i], "label": self.labels[i]}


def concat(parts: list[Rows]) -> Rows:
    return Rows(*([item for part in parts for item in getattr(part, f.name)] for f in dataclasses.fields(Rows)))


def real_row(origin: str, fallback: int) -> int:
    """The data row in the generate.real CSV that a real row's origin names (`<path>:<row>`); else `fallback`."""
    tail = origin.rpartition(":")[2]
    return int(tail) if tail.isdigit() else fallback


def split_rows(split_dir: Path) -> tuple[Rows, Rows]:
    """(synthetic rows, real rows) of train.csv and val.csv, in file order (rows with an empty text left out)."""
    synthetic, real = [], []
    for name in SYNTHETIC_SPLITS:
        frame = contracts.read_dataset(split_dir / f"{name}.csv", f"{name} split")
        for i, (text, label, source, origin) in enumerate(zip(frame["text"], frame["label"], frame["source"],
                                                             frame["origin"]), 1):
            if not text.strip():
                continue
            if source == contracts.REAL_SOURCE:
                real.append((text, label, GENERATE_REAL, real_row(origin, i), origin))
            else:
                synthetic.append((text, label, name, i, origin))
    return (Rows(*map(list, zip(*synthetic))) if synthetic else Rows([], [], [], [], []),
            Rows(*map(list, zip(*real))) if real else Rows([], [], [], [], []))


def dev_rows(cfg: params.Evaluate, external_dir: Path, labels: list[str], multi_label: bool) -> dict[str, Rows]:
    """{set name: rows} of every role-dev external set that shares a label with the data, in params order."""
    out = {}
    for i, spec in enumerate(cfg.external_test):
        if spec.role != "dev":
            continue
        frame = read_external(spec, f"evaluate.external_test[{i}]", external_dir, labels, multi_label)
        if frame is not None:
            n = len(frame)
            out[spec.name] = Rows(frame["text"].tolist(), frame["label"].tolist(), [spec.name] * n,
                                  list(range(1, n + 1)), [""] * n)
    return out


def reference(dev: dict[str, Rows], real: Rows) -> tuple[Rows, list[str]]:
    """The real reference (each text once, the first kept) and what it holds: ["dev:<name>", ..., "generate.real"]."""
    parts = [*dev.values(), real]
    names = [f"dev:{name}" for name, rows in dev.items() if len(rows)] + ([GENERATE_REAL] if len(real) else [])
    joined, seen, keep = concat(parts), set(), []
    for i, text in enumerate(joined.texts):
        key = dedup_key(text)
        if key not in seen:
            seen.add(key)
            keep.append(i)
    return joined.take(keep), names


def sample(rows: Rows, limit: int, seed: int) -> Rows:
    """At most `limit` rows, drawn with `seed`, in their original order."""
    if len(rows) <= limit:
        return rows
    return rows.take(sorted(random.Random(seed).sample(range(len(rows)), limit)))
