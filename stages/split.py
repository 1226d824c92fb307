"""Stage split: stratified, seeded, leak-free train / val / test split of the generated dataset.

Reads: the dataset CSV (text,label,source). Writes: <out>/{train,val,test}.csv and split.json.
Params: base.seed, split.*. Rows joined by chains of pairs with word-set Jaccard >= split.near_duplicate_threshold
(equal duplicate keys included) always land in the same split. Imports neither torch nor transformers.
"""

from __future__ import annotations

import argparse
import collections
import logging
import random
from pathlib import Path
from typing import Any

from stages.core import cli, contracts, params, similarity
from stages.core.errors import DataError, ParamsError

log = logging.getLogger(__name__)
SPLITS = ("train", "val", "test")


def counts_for(n: int, val_size: float, test_size: float) -> tuple[int, int, int]:
    """Rows of one label going to train, val, test: at least one each, rounding like sklearn."""
    n_test = max(1, round(n * test_size))
    n_val = max(1, round(n * val_size))
    return n - n_val - n_test, n_val, n_test


def assign(groups: dict[str, list[int]], labels: list[str], cfg: params.Split, seed: int, source: str = "input") -> list[str]:
    """The split name of each row. Each group (of near-duplicates) moves together, stratified by label."""
    by_label: dict[str, list[str]] = collections.defaultdict(list)
    for key, rows in groups.items():
        majority = collections.Counter(labels[i] for i in rows).most_common(1)[0][0]
        by_label[majority].append(key)
    if len(by_label) < 2:
        raise DataError(f"{source}: need at least two labels to train a classifier, found {', '.join(by_label)}")
    rng = random.Random(seed)
    result = [""] * len(labels)
    for label in sorted(by_label):
        keys = sorted(by_label[label])  # sorted first: the outcome depends on the seed only
        rng.shuffle(keys)
        n_train, n_val, n_test = counts_for(len(keys), cfg.val_size, cfg.test_size)
        if n_train < 1:
            raise DataError(
                f"{source}: label {label!r} has {len(keys)} distinct texts, too few to stratify into train/val/test "
                f"with val_size={cfg.val_size} and test_size={cfg.test_size}; need at least 3 (add data or drop the label)")
        names = ["test"] * n_test + ["val"] * n_val + ["train"] * n_train
        for key, name in zip(keys, names):
            for i in groups[key]:
                result[i] = name
    return result


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


def run(*, cfg: params.Split, seed: int, data: Path, out_dir: Path, report: Path,
        evaluate: params.Evaluate | None = None) -> dict[str, Any]:
    """Split the dataset CSV `data` into <out_dir>/{train,val,test}.csv; write split.json to `report`.
    `evaluate`: the evaluate section, whose labels are checked against the data first."""
    frame = contracts.read_dataset(data, "dataset")
    frame = frame[(frame["text"].str.strip() != "") & (frame["label"].str.strip() != "")]
    if frame.empty:
        raise DataError(f"{data}: no rows with both a text and a label")
    check_evaluate_labels(evaluate, sorted(set(frame["label"])), data)
    texts = frame["text"].tolist()
    groups = similarity.groups(texts, cfg.near_duplicate_threshold, seed)
    frame = frame.assign(split=assign(groups, frame["label"].tolist(), cfg, seed, str(data)))
    leaks = similarity.leak_report(texts, frame["split"].tolist(), groups, cfg.near_duplicate_threshold, seed)
    splits: dict[str, Any] = {}
    for name in SPLITS:
        part = frame[frame["split"] == name]
        contracts.write_dataset(out_dir / f"{name}.csv", part[list(contracts.DATASET_COLUMNS)].to_dict("records"))
        splits[name] = {"rows": len(part), "labels": {k: int(v) for k, v in sorted(part["label"].value_counts().items())}}
    summary = contracts.SplitReport(seed=seed, val_size=cfg.val_size, test_size=cfg.test_size, **leaks, splits=splits)
    summary.write(report)
    log.info("split %s rows: %s", f"{len(frame):,}", ", ".join(f"{n} {s['rows']:,}" for n, s in splits.items()))
    return summary.to_dict()


def main(argv: list[str] | None = None) -> int:
    def add(p: argparse.ArgumentParser) -> None:
        p.add_argument("--data", required=True, type=Path, help="dataset CSV to split")
        p.add_argument("--out", required=True, type=Path, help="directory for train/val/test.csv")
        p.add_argument("--report", required=True, type=Path, help="split.json to write")

    def body(args: argparse.Namespace) -> None:
        seed = params.load("base", args.params).seed
        raw = params.read_params(args.params)  # evaluate: for check_evaluate_labels only (not a dvc.yaml param)
        evaluate = params.load_dict(raw["evaluate"], "evaluate") if "evaluate" in raw else None
        run(cfg=params.load("split", args.params), seed=seed, data=args.data, out_dir=args.out, report=args.report,
            evaluate=evaluate)

    return cli.main(__doc__.splitlines()[0], add, body, argv,
                    example="python -m stages.split --data data/generated.csv --out data/split --report reports/data/split.json")  # as dvc.yaml runs it


if __name__ == "__main__":
    raise SystemExit(main())
