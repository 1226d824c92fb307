"""Benchmark the evaluate stage's cost targets (issue: research-grade evaluation).

1. Each baseline fit on the default train split and scored on the test split (target: the frozen-encoder
   baseline on the default MiniLM data well under 60 s on a 2-core CPU; all of them "minutes at most").
2. The bootstrap: 1,000 paired resamples of 10,000 rows for 4 predictors (target: < 5 s).
3. The whole stage (`evaluate.run`) on the trained default model, if models/classifier exists.

Reads data/split/{train,test}.csv (run `dvc repro split` or `dvc pull` first) and params.yaml; writes only
to a temporary directory. Usage: python benchmarks/evaluate.py [--split DIR] [--rows 10000] [--resamples 1000]
(from the repository root, .venv active; tests/benchmarks/test_smoke.py runs it on a tiny split)
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from stages import evaluate  # noqa: E402
from stages.core import params  # noqa: E402
from stages.evaluation import baselines, metrics  # noqa: E402
from stages.core.io import read_csv  # noqa: E402


def bench_baselines(cfg: params.Evaluate, model: str, train, test) -> None:
    import numpy as np

    labels = sorted(set(train["label"]))
    y = np.array([labels.index(lab) for lab in test["label"]])
    for name in ("majority", "tfidf_lr", "frozen_lr"):
        one = params.build(params.Baselines, {**params.as_dict(cfg.baselines), "models": [name]}, "baselines")
        start = time.perf_counter()
        out = baselines.run_all(one, model, cfg.batch_size, train["text"].tolist(), train["label"].tolist(), labels,
                                [test["text"].tolist()])[name]
        total = time.perf_counter() - start
        acc = float((out["proba"][0].argmax(1) == y).mean())
        target = f"   (target < 60 s: {'ok' if total < 60 else 'MISSED'}, {total / 60:.2f} of it)" \
            if name == "frozen_lr" else ""
        print(f"baseline {name:<9}: fit {out['train_seconds']:6.1f} s, fit + score {total:6.1f} s on "
              f"{len(train):,} + {len(test):,} rows, test accuracy {acc:.3f}{target}")


def bench_bootstrap(n: int = 10_000, resamples: int = 1000) -> None:
    import numpy as np

    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, n)
    preds = {f"m{i}": np.where(rng.random(n) < 0.7 + 0.05 * i, y, rng.integers(0, 3, n)) for i in range(4)}
    start = time.perf_counter()
    metrics.bootstrap(y, preds, 3, np.ones(3, bool), resamples, 0)
    took = time.perf_counter() - start
    print(f"bootstrap, {resamples:,} resamples x {n:,} rows x 4 predictors: {took:6.2f} s   "
          f"(target < 5 s: {'ok' if took < 5 else 'MISSED'})")


def bench_stage(cfg: params.Evaluate, seed: int, model: str, split: Path, model_dir: Path) -> None:
    if not (model_dir / "config.json").exists():
        print(f"whole stage: skipped (no {model_dir}; run `dvc repro train` first)")
        return
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        out = evaluate.run(cfg=cfg, seed=seed, base_model=model, model_dir=model_dir, split_dir=split,
                           metrics_path=Path(tmp) / "metrics.json", eval_dir=Path(tmp) / "eval",
                           external_dir=ROOT / "data" / "external")
        took = time.perf_counter() - start
    t = out["test"]
    print(f"whole evaluate stage (model load, scoring, 3 baselines, bootstrap, plots): {took:6.1f} s; "
          f"test macro-F1 {t['f1_macro']:.3f} [{t['f1_macro_ci_low']:.3f}, {t['f1_macro_ci_high']:.3f}], "
          f"ECE {t['ece']:.3f}")
    for name, row in out["baselines"]["models"].items():
        r = row["test"]
        gain = f", fine-tuned gain {r['fine_tuned_gain_f1_macro']:+.3f} [{r['gain_ci_low']:+.3f}, " \
               f"{r['gain_ci_high']:+.3f}]" if "gain_ci_low" in r else ""
        print(f"  {name:<10} macro-F1 {r['f1_macro']:.3f} [{r['f1_macro_ci_low']:.3f}, {r['f1_macro_ci_high']:.3f}]{gain}")


def main() -> None:
    import argparse
    import logging

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", type=Path, default=ROOT / "data" / "split", help="a directory with train/test.csv")
    parser.add_argument("--model", type=Path, default=ROOT / "models" / "classifier",
                        help="the trained classifier the whole-stage benchmark evaluates")
    parser.add_argument("--rows", type=int, default=10_000, help="rows of the bootstrap benchmark")
    parser.add_argument("--resamples", type=int, default=1000, help="resamples of the bootstrap benchmark")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    split = args.split
    if not (split / "train.csv").exists():
        sys.exit(f"{split}/train.csv is missing: run `dvc repro split` (or `dvc pull`) first")
    cfg = params.load("evaluate", ROOT / "params.yaml")
    model = params.load("train", ROOT / "params.yaml").model
    seed = params.load("base", ROOT / "params.yaml").seed
    train = read_csv(split / "train.csv", columns=("text", "label"))
    test = read_csv(split / "test.csv", columns=("text", "label"))
    bench_baselines(cfg, model, train, test)
    bench_bootstrap(args.rows, args.resamples)
    bench_stage(cfg, seed, model, split, args.model)


if __name__ == "__main__":
    main()
