"""Stage split: stratified, seeded, leak-free train / val / test split of the generated dataset.

Reads: the dataset CSV (text,label,source,origin). Writes: <out>/{train,val,test}.csv and split.json.
Params: base.seed, split.*. Rows joined into one group always land in the same split (split.group_by): rows of one
origin (a template's fills, one LLM request's texts; core/origin.py), rows joined by chains of pairs with word-set
Jaccard >= split.near_duplicate_threshold, and equal texts (always). The groups are shuffled and dealt to test,
then val, each taking the groups that bring its rows of every label closer to its share; train gets the rest
(names_for). `split.val_source`/`test_source: real` give that split only real rows (source `real`): a share of
each label's real groups; synthetic rows and the real rows left go to the other splits. Real rows the LLM may have
been shown as few-shot examples (dataset.json's few_shot) go to train with their groups, whatever the sources.
Multi-label data (dataset.json from generate, `--dataset`, says `multi_label: true`):
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
from stages.core.text import key_hash

log = logging.getLogger(__name__)
SPLITS = ("train", "val", "test")


def names_for(counts: list[dict[str, int]], sizes: dict[str, float], rest: str) -> list[str]:
    """Split names for shuffled groups, from each group's rows per label: test then val (those in `sizes`) take the
    groups in order that bring their rows closer to max(1, round(label's rows x size)) per label (the summed
    distance shrinks), never leaving a label fewer groups than splits after them; a label they still lack then
    gets its smallest group that may go. `rest` gets the groups left. With one row per group, test gets the
    first max(1, round(n x test_size)) rows of each label, val the next ones."""
    totals: collections.Counter[str] = collections.Counter()
    free: collections.Counter[str] = collections.Counter()  # label -> groups holding it, not yet named
    for c in counts:
        totals.update(c)
        free.update(c.keys())
    names: list[str | None] = [None] * len(counts)
    todo = [name for name in ("test", "val") if name in sizes]
    for k, name in enumerate(todo):
        target = {lab: max(1, round(n * sizes[name])) for lab, n in totals.items()}
        taken: collections.Counter[str] = collections.Counter()

        def spare(g: int) -> bool:  # unnamed, and each of its labels keeps a group for every split after this one
            return names[g] is None and all(free[lab] > len(todo) - k for lab in counts[g])

        def take(g: int) -> None:
            names[g] = name
            taken.update(counts[g])
            free.subtract(counts[g].keys())

        for g in range(len(counts)):
            gap = {lab: target[lab] - taken[lab] for lab in counts[g]}
            gain = sum(abs(gap[lab]) - abs(gap[lab] - n) for lab, n in counts[g].items())  # how much closer it gets
            if gain > 0 and spare(g):
                take(g)
        for lab in sorted(lab for lab in totals if not taken[lab]):
            may = [g for g in range(len(counts)) if lab in counts[g] and spare(g)]
            if may:
                take(min(may, key=lambda g: sum(counts[g].values())))
    return [name or rest for name in names]


def real_only(cfg: params.Split) -> dict[str, float]:
    """The splits that take only real rows, and their sizes."""
    return {name: getattr(cfg, f"{name}_size") for name in ("test", "val") if getattr(cfg, f"{name}_source") == "real"}


def assign(groups: dict[str, list[int]], labels: list[str], cfg: params.Split, seed: int, source: str = "input",
           real: list[bool] | None = None, shown: list[bool] | None = None) -> list[str]:
    """The split name of each row. Each group (split.group_by) moves together; groups are dealt so that each split
    holds about its share of every label's rows (names_for), and of every label's real rows apart (`real[i]`: row
    i's source is real). A split whose source is real takes groups of real rows only, a share of each label's; the
    others go to the other splits. A group holding a row the LLM may have been shown (`shown[i]`) goes to train."""
    reserved = real_only(cfg)
    counts = {key: collections.Counter(labels[i] for i in rows) for key, rows in groups.items()}
    found = sorted(set(labels))
    if len(found) < 2:
        raise DataError(f"{source}: need at least two labels to train a classifier, found {', '.join(found)}")
    rng = random.Random(seed)
    fixed = trained(groups, shown)
    result = _place(groups, [(k, "train") for k in fixed], [""] * len(labels))
    pool = [k for k in sorted(groups) if k not in fixed]  # sorted first: the outcome depends on the seed only
    if reserved:
        keys = [k for k in pool if real is not None and all(real[i] for i in groups[k])]
        for label in found:
            _check_real(label, sum(label in counts[k] for k in keys), reserved, source)
        rng.shuffle(keys)
        named = dict(zip(keys, names_for([counts[k] for k in keys], reserved, "pool")))
        result = _place(groups, [(k, n) for k, n in named.items() if n != "pool"], result)
        pool = [k for k in pool if named.get(k, "pool") == "pool"]
    sizes = {name: getattr(cfg, f"{name}_size") for name in ("test", "val") if name not in reserved}
    for label in found:
        held = sum(label in counts[k] for k in pool) + any(label in counts[k] for k in fixed)
        if held < len(sizes) + 1:
            raise DataError(
                f"{source}: label {label!r} has {held} groups of rows that stay together (split.group_by: "
                f"{', '.join(cfg.group_by)}), too few to stratify into "
                f"{'/'.join(['train', *(n for n in ('val', 'test') if n in sizes)])} with val_size={cfg.val_size} and "
                f"test_size={cfg.test_size}; need at least {len(sizes) + 1} (add data or templates, or drop the label)")
    rng.shuffle(pool)
    strata = _by_source(groups, labels, real) if real is not None and any(real) else counts
    result = _place(groups, list(zip(pool, names_for([strata[k] for k in pool], sizes, "train"))), result)
    _check_cover(result, labels, source)
    return result


def trained(groups: dict[str, list[int]], shown: list[bool] | None) -> set[str]:
    """The groups that must go to train: those holding a real row shown to the LLM as a few-shot example
    (dataset.json's few_shot, generation/real.few_shot_pool), so no held-out row was ever in a prompt."""
    return {k for k, rows in groups.items() if shown is not None and any(shown[i] for i in rows)}


def _by_source(groups: dict[str, list[int]], labels: list[str], real: list[bool]) -> dict[str, collections.Counter]:
    """Each group's rows per (label, real or not): dealt by these, every split holds its share of each label's
    real rows too, instead of the one-row real groups topping up val and test after the larger template groups."""
    return {key: collections.Counter(f"{labels[i]}{' (real)' if real[i] else ''}" for i in rows)
            for key, rows in groups.items()}


def _check_cover(names: list[str], labels: list[str], source: str) -> None:
    """Every label in every split: groups that hold several labels can leave one without a label it needs."""
    for name in SPLITS:
        missing = sorted(set(labels) - {lab for lab, n in zip(labels, names) if n == name})
        if missing:
            raise DataError(f"{source}: no group of label {missing[0]!r} could go to {name} without taking the last "
                            "one from another split; add data or templates (or drop the label)")


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
                 source: str = "input", shown: list[bool] | None = None) -> list[str]:
    """The split name of each row of multi-label data: groups (split.group_by) move together, stratified by their
    label sets (iterative stratification: test first, then val from the rest); groups with a shown row: train."""
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
    fixed = trained(groups, shown)
    names[[k in fixed for k in keys]] = "train"
    _cover(names, y, labels, source, [k in fixed for k in keys])
    return _place(groups, list(zip(keys, names)), [""] * len(cells))


def _cover(names: Any, y: Any, labels: list[str], source: str, fixed: list[bool]) -> None:
    """Move groups so every split holds every label: from the split with the most groups of a missing label,
    a group whose labels all stay in that split (never a `fixed` one); an error when no such group exists."""
    for j, lab in enumerate(labels):
        for name in SPLITS:
            if any(names[g] == name and y[g, j] for g in range(len(names))):
                continue
            donors = sorted(SPLITS, key=lambda s: -sum(names[g] == s and y[g, j] for g in range(len(names))))
            counts = {s: y[names == s].sum(axis=0) for s in SPLITS}
            movable = [g for g in range(len(names)) if names[g] == donors[0] and y[g, j] and not fixed[g]
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
    info = contracts.DatasetInfo.read(dataset) if dataset is not None else None
    multi, few_shot = info is not None and info.multi_label, set(info.few_shot or []) if info else set()
    frame = contracts.read_dataset(data, "dataset")
    frame = frame[(frame["text"].str.strip() != "") & (frame["label"].str.strip() != "")]
    if frame.empty:
        raise DataError(f"{data}: no rows with both a text and a label")
    check_evaluate_labels(evaluate, label_names(frame["label"], multi), data)
    texts = frame["text"].tolist()
    groups, near, grouping = group_rows(frame, cfg, seed)
    real = (frame["source"] == contracts.REAL_SOURCE).tolist()
    shown = [key_hash(t) in few_shot for t in texts]
    names = (assign_multi(groups, frame["label"].tolist(), cfg, seed, str(data), shown) if multi
             else assign(groups, frame["label"].tolist(), cfg, seed, str(data), real, shown))
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
