"""Real annotated rows mixed into any provider's rows (`generate.real`): `per_label` rows of each label of a
human-labelled CSV under data/raw/, drawn with base.seed (0: all), marked `source: real`, origin
`<path>:<data row>`. Cleaning gives them priority over synthetic rows (cleaning.py); the openai provider may show
some as few-shot examples (`few_shot_source: real`, few_shot_pool).
Labels are compared with the task's as the csv provider's are cleaned: whitespace collapsed and stripped (NFKC),
case kept ('Clickbait ' is 'Clickbait', not 'clickbait'); `generate.real.label_map` renames file labels
({file label: task label}) after that; a label that is still not the task's stops generate (check_labels).
With `generate.real.label_separator` set, each label cell is a label set (multi-label tasks): it is split on the
separator, each name mapped, written as a canonical label-set cell, and `per_label` counts rows per label set."""

from __future__ import annotations

import collections
import random
from collections.abc import Sequence

from stages.core.contracts import REAL_SOURCE
from stages.core.errors import DataError, ParamsError
from stages.core.io import read_csv
from stages.core.params_real import RealRows
from stages.core.labelsets import join_labels, split_labels
from stages.core.origin import file_rows
from stages.core.text import key_hash, normalize
from stages.generation.csv_provider import label_sets


def _mapped(cell: object, cfg: RealRows) -> object:
    """One label cell, whitespace-cleaned and renamed by label_map (a label set: each of its names)."""
    if not isinstance(cell, str):
        return cell  # a missing label: cleaning drops the row and counts it
    if cfg.label_separator is None:
        name = normalize(cell)
        return cfg.label_map.get(name, name)
    return join_labels(cfg.label_map.get(name, name) for name in split_labels(cell))


def read(cfg: RealRows, seed: int) -> list[dict[str, str]]:
    """The real rows to mix in, in file order within each label; none when `generate.real.path` is null."""
    if cfg.path is None:
        return []
    frame = read_csv(cfg.path, columns=(cfg.text_column, cfg.label_column), what="real annotated CSV (generate.real)")
    labels = frame[cfg.label_column].tolist()
    if cfg.label_separator is not None:
        labels = label_sets(labels, cfg.label_separator, cfg.path, cfg.label_column, "generate.real.label_separator")
    by_label: dict[str, list[dict[str, str]]] = collections.defaultdict(list)
    for text, label, origin in zip(frame[cfg.text_column].tolist(), labels, file_rows(cfg.path, len(frame))):
        label = _mapped(label, cfg)
        by_label[normalize(str(label))].append({"text": text, "label": label, "source": REAL_SOURCE, "origin": origin})
    rng = random.Random(f"{seed}/real")
    rows = []
    for label in sorted(by_label):
        group = by_label[label]
        n = len(group) if cfg.per_label == 0 else min(cfg.per_label, len(group))
        rows += [group[i] for i in sorted(rng.sample(range(len(group)), n))]
    return rows


def check_labels(rows: list[dict[str, str]], known: Sequence[str], cfg: RealRows, multi_label: bool = False) -> None:
    """Every label of the real rows (after label_map) must be one of `known`, the task's (csv provider: the csv's)
    labels: a real row never adds a label to the task. One line naming the file, the labels and the task's."""
    known = sorted(known)
    for source, target in sorted(cfg.label_map.items()):
        if target not in known:
            raise ParamsError(f"params.yaml: generate.real.label_map.{source} must be one of the task's labels "
                            f"({', '.join(known)}), got {target!r}"[:400])
    cells = [normalize(r["label"]) for r in rows if isinstance(r["label"], str)]
    found = {name for cell in cells for name in (split_labels(cell) if multi_label else [cell]) if name}
    unknown = sorted(found - set(known))
    if unknown:
        raise DataError(f"{cfg.path} (generate.real.path): label {', '.join(map(repr, unknown[:8]))} is not one of the "
                        f"task's labels ({', '.join(known)}); fix the file or map it with generate.real.label_map "
                        "{file label: task label}"[:500])


def few_shot_pool(rows: list[dict[str, str]], seed: int) -> list[dict[str, str]]:
    """The real rows the LLM may be shown as few-shot examples: a seeded half of each label's (label set's) rows,
    at least one, so the other half is left for val and test. generate records them (key_hash of each text) in
    dataset.json and split keeps them, and every row grouped with them, in train: no shown row is held out."""
    by_label: dict[str, list[dict[str, str]]] = collections.defaultdict(list)
    for row in rows:
        by_label[normalize(str(row["label"]))].append(row)
    rng = random.Random(f"{seed}/few_shot")
    pool = []
    for label in sorted(by_label):
        group = by_label[label]
        pool += [group[i] for i in sorted(rng.sample(range(len(group)), max(1, len(group) // 2)))]
    return pool


def shown_keys(pool: list[dict[str, str]]) -> list[str]:
    """The key_hash of each pool text (normalised as cleaning will write it), sorted, each once."""
    return sorted({key_hash(normalize(r["text"])) for r in pool if isinstance(r["text"], str) and normalize(r["text"])})


def examples(rows: list[dict[str, str]], multi_label: bool = False) -> dict[str, list[str]]:
    """Few-shot examples from real rows: label -> texts (normalised, non-empty, first occurrence kept); in a
    multi-label task a row is an example of each label in its set."""
    out: dict[str, list[str]] = collections.defaultdict(list)
    for row in rows:
        text, cell = normalize(row["text"]), normalize(str(row["label"]))
        for label in split_labels(cell) if multi_label else [cell]:
            if text and label and text not in out[label]:
                out[label].append(text)
    return dict(out)
