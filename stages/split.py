"""Stage split: stratified, seeded, leak-free train / val / test split of the generated dataset.

Reads: the dataset CSV (text,label,source,origin). Writes: <out>/{train,val,test}.csv and split.json.
Params: base.seed, split.*. Rows joined into one group always land in the same split (split.group_by): rows of one
origin (a template's fills, one LLM request's texts; core/origin.py), rows joined by chains of pairs with word-set
Jaccard >= split.near_duplicate_threshold, and equal texts (always). Each label's groups are shuffled and dealt
to test, then val, until each holds about its share of the label's rows; train gets the rest. `split.val_source`/`test_source: real` give that
split only real rows (source `real`): a share of each label's real groups; synthetic rows and the real rows left
go to the other splits. Multi-label data (dataset.json from generate, `--dataset`, says `multi_label: true`):
groups are stratified by their label sets (a group carries the union of its rows' sets) with iterative
stratification (iterstrat's MultilabelStratifiedShuffleSplit, seeded), and every split gets every label at least
once (an error when the data cannot); real-only splits are single-label only. Imports neither torch nor
transformers.
"""

from __future__ import annotations

import argparse
import collections
import logging
import random
from pathlib import Path
from typing import Any

from stages.core import cli, contracts, origin, params, similarity
from stages.core.errors import DataError, ParamsError
from stages.core.labelsets import join_labels, label_names, multi_hot, split_labels

log = logging.getLogger(__name__)
SPLITS = ("train", "val", "test")


def counts_for(n: int, val_size: float, test_size: float) -> tuple[int, int, int]:
    """Rows of one label going to train, val, test: at least one each, rounding like sklearn."""
    n_test = max(1, round(n * test_size))
    n_val = max(1, round(n * val_size))
    return n - n_val - n_test, n_val, n_test


def names_for(rows: list[int], sizes: dict[str, float], rest: str) -> list[str]:
    """Split names for shuffled groups of `rows` rows each: test then val (those in `sizes`) take groups in order
    while a group brings them closer to max(1, round(total rows * size)) rows, at least one group each and leaving
    one for each split after them; `rest` gets the groups left (possibly none). Groups of one row each: test gets
    the first max(1, round(n * test_size)) groups, val the next ones."""
    names: list[str | None] = [None] * len(rows)
    todo = [name for name in ("test", "val") if name in sizes]
    for k, name in enumerate(todo):
        free = [g for g in range(len(rows)) if names[g] is None]
        target, taken, chosen = max(1, round(sum(rows) * sizes[name])), 0, []
        cap = max(1, len(free) - (len(todo) - k))  # the groups it may take: one left for each split after it
        for g in free:
            if len(chosen) < cap and rows[g] <= 2 * (target - taken):  # closer to the target with it than without
                chosen.append(g)
                taken += rows[g]
        if not chosen and free:  # every group overshoots: the smallest one
            chosen = [min(free, key=rows.__getitem__)]
        for g in chosen:
            names[g] = name
    return [name or rest for name in names]


def real_only(cfg: params.Split) -> dict[str, float]:
    """The splits that take only real rows, and their sizes."""
    return {name: getattr(cfg, f"{name}_size") for name in ("test", "val") if getattr(cfg, f"{name}_source") == "real"}


def assign(groups: dict[str, list[int]], labels: list[str], cfg: params.Split, seed: int, source: str = "input",
           real: list[bool] | None = None) -> list[str]:
    """The split name of each row. Each group (split.group_by) moves together, stratified by label (a group counts
    for its most frequent label); a split whose source is real takes groups of real rows only (`real[i]`: row i's
    source is real)."""
    reserved = real_only(cfg)
    by_label: dict[str, list[str]] = collections.defaultdict(list)
    real_keys: dict[str, list[str]] = collections.defaultdict(list)
    for key, rows in groups.items():
        majority = collections.Counter(labels[i] for i in rows).most_common(1)[0][0]
        pure_real = bool(reserved) and real is not None and all(real[i] for i in rows)
        (real_keys if pure_real else by_label)[majority].append(key)
    if len(set(by_label) | set(real_keys)) < 2:
        raise DataError(f"{source}: need at least two labels to train a classifier, found "
                        f"{', '.join(sorted(set(by_label) | set(real_keys)))}")
    rng = random.Random(seed)
    result = [""] * len(labels)
    for label in sorted(set(by_label) | set(real_keys)):
        pool = sorted(by_label[label])  # sorted first: the outcome depends on the seed only
        if reserved:
            keys = sorted(real_keys[label])
            rng.shuffle(keys)
            _check_real(label, len(keys), reserved, source)
            names = names_for([len(groups[k]) for k in keys], reserved, "pool")
            pool = sorted(pool + [k for k, name in zip(keys, names) if name == "pool"])
            result = _place(groups, [(k, n) for k, n in zip(keys, names) if n != "pool"], result)
        rng.shuffle(pool)
        sizes = {name: getattr(cfg, f"{name}_size") for name in ("test", "val") if name not in reserved}
        names = names_for([len(groups[k]) for k in pool], sizes, "train")
        if "train" not in names:
            raise DataError(
                f"{source}: label {label!r} has {len(pool)} groups of rows that stay together (split.group_by: "
                f"{', '.join(cfg.group_by)}), too few to stratify into "
                f"{'/'.join(['train', *(n for n in ('val', 'test') if n in sizes)])} with val_size={cfg.val_size} and "
                f"test_size={cfg.test_size}; need at least {len(sizes) + 1} (add data or templates, or drop the label)")
        result = _place(groups, list(zip(pool, names)), result)
    return result


def _check_real(label: str, n: int, reserved: dict[str, float], source: str) -> None:
    if n < len(reserved):
        keys = " and ".join(f"split.{name}_source" for name in reversed(reserved))
        raise DataError(f"{source}: {keys} {'is' if len(reserved) == 1 else 'are'} real, but label {label!r} has {n} "
                        f"distinct real texts; need at least {len(reserved)} (1 per real-only split): add real rows "
                        f"(generate.real) or set {keys} to all")


def _place(groups: dict[str, list[int]], named: list[tuple[str, str]], result: list[str]) -> list[str]:
    for key, name in named:
        for i in groups[key]:
            result[i] = name
    return result


def assign_multi(groups: dict[str, list[int]], cells: list[str], cfg: params.Split, seed: int,
                 source: str = "input") -> list[str]:
    """The split name of each row of multi-label data: groups (split.group_by) move together, stratified by their
    label sets (iterative stratification: test first, then val from the rest)."""
    import numpy as np
    from iterstrat.ml_stratifiers import MultilabelStratifiedShuffleSplit

    if real_only(cfg):
        raise ParamsError("params.yaml: split.val_source and split.test_source must be all for multi-label data "
                          f"({source}), got {cfg.val_source} and {cfg.test_source}: real-only splits are single-label only")
    labels = label_names(cells, multi_label=True)
    if len(labels) < 2:
        raise DataError(f"{source}: need at least two labels to train a classifier, found {', '.join(labels)}")
    keys = sorted(groups)  # sorted first: the outcome depends on the seed only
    y = multi_hot([join_labels(lab for i in groups[k] for lab in split_labels(cells[i])) for k in keys], labels)
    for j, lab in enumerate(labels):
        if y[:, j].sum() < len(SPLITS):
            raise DataError(f"{source}: label {lab!r} occurs in {int(y[:, j].sum())} groups of rows that stay "
                            f"together (split.group_by: {', '.join(cfg.group_by)}), too few to put it in each of "
                            "train/val/test; need at least 3 (add data or templates, or drop the label)")
    names = np.full(len(keys), "train", dtype=object)
    rest, test = next(MultilabelStratifiedShuffleSplit(n_splits=1, test_size=cfg.test_size, random_state=seed)
                      .split(np.zeros((len(keys), 1)), y))
    names[test] = "test"
    val_share = cfg.val_size / (1 - cfg.test_size)
    _, val = next(MultilabelStratifiedShuffleSplit(n_splits=1, test_size=val_share, random_state=seed)
                  .split(np.zeros((len(rest), 1)), y[rest]))
    names[rest[val]] = "val"
    _cover(names, y, labels, source)
    return _place(groups, list(zip(keys, names)), [""] * len(cells))


def _cover(names: Any, y: Any, labels: list[str], source: str) -> None:
    """Move groups so every split holds every label: from the split with the most groups of a missing label,
    a group whose labels all stay in that split; an error when no such group exists."""
    for j, lab in enumerate(labels):
        for name in SPLITS:
            if any(names[g] == name and y[g, j] for g in range(len(names))):
                continue
            donors = sorted(SPLITS, key=lambda s: -sum(names[g] == s and y[g, j] for g in range(len(names))))
            counts = {s: y[names == s].sum(axis=0) for s in SPLITS}
            movable = [g for g in range(len(names)) if names[g] == donors[0] and y[g, j]
                       and all(counts[donors[0]][k] >= 2 for k in range(len(labels)) if y[g, k])]
            if not movable:
                raise DataError(f"{source}: label {lab!r} cannot be put in every split (train/val/test) without "
                                "taking another label out of one; add rows carrying it (or drop the label)")
            names[min(movable, key=lambda g: (y[g].sum(), g))] = name


def check_evaluate_labels(cfg: params.Evaluate | None, labels: list[str], data: Path) -> None:
    """evaluate.positive_label and the external sets' label_map targets must be labels of the data: checked
    here, before minutes of training, rather than only when evaluate loads the model. They are read from
    params.yaml but not declared as split's params in dvc.yaml, so changing them never reruns split (nor
    train); then train is cached and evaluate, which checks them again against the model, runs at once."""
    if cfg is None:
        return
    known = f"the labels of {data} ({', '.join(labels)})"
    if cfg.positive_label is not None and cfg.positive_label not in labels:
        raise ParamsError(f"params.yaml: evaluate.positive_label must be one of {known}, got {cfg.positive_label!r}")
    for i, spec in enumerate(cfg.external_test):
        for source, target in spec.label_map.items():
            if target not in labels:
                raise ParamsError(f"params.yaml: evaluate.external_test[{i}].label_map.{source} must be one of "
                                  f"{known}, got {target!r}")


def group_rows(frame: Any, cfg: params.Split, seed: int) -> tuple[dict[str, list[int]], dict[str, list[int]],
                                                                  similarity.Grouping]:
    """The groups of rows that move together (split.group_by), the near-duplicate groups (without near_duplicates
    in group_by: rows of equal texts only, which always share a split) and the grouping behind them."""
    grouping = similarity.Grouping(frame["text"].tolist(), cfg.near_duplicate_threshold, seed)
    near = grouping.groups
    if "near_duplicates" not in cfg.group_by:
        near = {}
        for i, key in enumerate(grouping.keys):
            near.setdefault(key, []).append(i)
    return (origin.join_groups(near, frame["origin"].tolist()) if "origin" in cfg.group_by else near), near, grouping


def origin_facts(frame: Any) -> dict[str, int]:
    """split.json's origin facts: distinct origins, and how many have rows in two splits (empty origins left out)."""
    spread = frame[frame["origin"] != ""].groupby("origin")["split"].nunique()
    return {"origin_groups": int(len(spread)), "origins_in_two_splits": int((spread > 1).sum())}


def run(*, cfg: params.Split, seed: int, data: Path, out_dir: Path, report: Path,
        evaluate: params.Evaluate | None = None, dataset: Path | None = None) -> dict[str, Any]:
    """Split the dataset CSV `data` into <out_dir>/{train,val,test}.csv; write split.json to `report`.
    `evaluate`: the evaluate section, whose labels are checked against the data first. `dataset`: generate's
    dataset.json, which says whether the rows carry label sets (multi-label); without it, single-label."""
    multi = dataset is not None and contracts.DatasetInfo.read(dataset).multi_label
    frame = contracts.read_dataset(data, "dataset")
    frame = frame[(frame["text"].str.strip() != "") & (frame["label"].str.strip() != "")]
    if frame.empty:
        raise DataError(f"{data}: no rows with both a text and a label")
    check_evaluate_labels(evaluate, label_names(frame["label"], multi), data)
    texts = frame["text"].tolist()
    groups, near, grouping = group_rows(frame, cfg, seed)
    real = (frame["source"] == contracts.REAL_SOURCE).tolist()
    names = (assign_multi(groups, frame["label"].tolist(), cfg, seed, str(data)) if multi
             else assign(groups, frame["label"].tolist(), cfg, seed, str(data), real))
    frame = frame.assign(split=names)
    leaks = similarity.leak_report(texts, frame["split"].tolist(), near, cfg.near_duplicate_threshold, seed, grouping)
    splits: dict[str, Any] = {}
    for name in SPLITS:
        part = frame[frame["split"] == name]
        contracts.write_dataset(out_dir / f"{name}.csv", part[list(contracts.DATASET_COLUMNS)].to_dict("records"))
        per_label = collections.Counter(lab for cell in part["label"] for lab in (split_labels(cell) if multi else [cell]))
        splits[name] = {"rows": len(part), "labels": dict(sorted(per_label.items())),
                        "sources": {k: int(v) for k, v in sorted(part["source"].value_counts().items())}}
    summary = contracts.SplitReport(seed=seed, val_size=cfg.val_size, test_size=cfg.test_size, **leaks,
                                    val_source=cfg.val_source, test_source=cfg.test_source,
                                    group_by=list(cfg.group_by), **origin_facts(frame), splits=splits)
    summary.write(report)
    log.info("split %s rows in %s groups (%s origins): %s", f"{len(frame):,}", f"{len(groups):,}",
             f"{summary.origin_groups:,}", ", ".join(f"{n} {s['rows']:,}" for n, s in splits.items()))
    return summary.to_dict()


def main(argv: list[str] | None = None) -> int:
    def add(p: argparse.ArgumentParser) -> None:
        p.add_argument("--data", required=True, type=Path, help="dataset CSV to split")
        p.add_argument("--out", required=True, type=Path, help="directory for train/val/test.csv")
        p.add_argument("--report", required=True, type=Path, help="split.json to write")
        p.add_argument("--dataset", type=Path, help="dataset.json from generate (multi-label data: label sets)")

    def body(args: argparse.Namespace) -> None:
        seed = params.load("base", args.params).seed
        raw = params.read_params(args.params)  # evaluate: for check_evaluate_labels only (not a dvc.yaml param)
        evaluate = params.load_dict(raw["evaluate"], "evaluate") if "evaluate" in raw else None
        run(cfg=params.load("split", args.params), seed=seed, data=args.data, out_dir=args.out, report=args.report,
            evaluate=evaluate, dataset=args.dataset)

    return cli.main(__doc__.splitlines()[0], add, body, argv,
                    example="python -m stages.split --data data/generated.csv --dataset reports/data/dataset.json "
                            "--out data/split --report reports/data/split.json")  # as dvc.yaml runs it


if __name__ == "__main__":
    raise SystemExit(main())
