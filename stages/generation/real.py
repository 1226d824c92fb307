"""Real annotated rows mixed into any provider's rows (`generate.real`): `per_label` rows of each label of a
human-labelled CSV, drawn with base.seed (0: all), marked `source: real`, origin `<path>:<data row>`. Cleaning
gives them priority over synthetic rows (cleaning.py); the openai provider may show them as few-shot examples
(`few_shot_source: real`).
With `generate.real.label_separator` set, each label cell is a label set (multi-label tasks): it is split on the
separator, written as a canonical label-set cell, and `per_label` counts rows per label set."""

from __future__ import annotations

import collections
import random

from stages.core.contracts import REAL_SOURCE
from stages.core.io import read_csv
from stages.core.params_real import RealRows
from stages.core.labelsets import split_labels
from stages.core.origin import file_rows
from stages.core.text import normalize
from stages.generation.csv_provider import label_set


def read(cfg: RealRows, seed: int) -> list[dict[str, str]]:
    """The real rows to mix in, in file order within each label; none when `generate.real.path` is null."""
    if cfg.path is None:
        return []
    frame = read_csv(cfg.path, columns=(cfg.text_column, cfg.label_column), what="real annotated CSV (generate.real)")
    labels = frame[cfg.label_column].tolist()
    if cfg.label_separator is not None:
        where = f"{cfg.path}: column {cfg.label_column!r} (generate.real.label_separator {cfg.label_separator!r})"
        labels = [label_set(cell, cfg.label_separator, where) for cell in labels]
    by_label: dict[str, list[dict[str, str]]] = collections.defaultdict(list)
    for text, label, origin in zip(frame[cfg.text_column].tolist(), labels, file_rows(cfg.path, len(frame))):
        by_label[normalize(label)].append({"text": text, "label": label, "source": REAL_SOURCE, "origin": origin})
    rng = random.Random(f"{seed}/real")
    rows = []
    for label in sorted(by_label):
        group = by_label[label]
        n = len(group) if cfg.per_label == 0 else min(cfg.per_label, len(group))
        rows += [group[i] for i in sorted(rng.sample(range(len(group)), n))]
    return rows


def examples(rows: list[dict[str, str]], multi_label: bool = False) -> dict[str, list[str]]:
    """Few-shot examples from real rows: label -> texts (normalised, non-empty, first occurrence kept); in a
    multi-label task a row is an example of each label in its set."""
    out: dict[str, list[str]] = collections.defaultdict(list)
    for row in rows:
        text, cell = normalize(row["text"]), normalize(row["label"])
        for label in split_labels(cell) if multi_label else [cell]:
            if text and label and text not in out[label]:
                out[label].append(text)
    return dict(out)
