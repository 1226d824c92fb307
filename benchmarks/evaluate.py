"""Benchmark the evaluate stage's cost targets (issue: research-grade evaluation; issue 15 item 3).

1. Each baseline fit on the default train split and scored on the test split (target: the frozen-encoder
   baseline on the default MiniLM data well under 60 s on a 2-core CPU; all of them "minutes at most").
2. The bootstrap: 1,000 paired resamples of 10,000 rows for 4 predictors (target: < 5 s).
3. The whole stage (`evaluate.run`) on the trained default model, if models/classifier exists.
With `--external N` instead: the whole stage with the default params (all three baselines) and one N-row external
set (default 32,000; target: under 2 minutes on a 2-core CPU), seconds per step. The set is a stand-in for real
headlines: N distinct template headlines of the default task drawn with another seed (scoring time grows with
the texts' length and count; real headlines run longer). The model is --model, or if it has no config.json
the bundled MiniLM with a fresh 2-label head (speed does not depend on training). `--against DIR` also times the
stage imported from DIR (an older checkout, e.g. `git archive <commit> | tar -x -C DIR`), each in its own process
in one run, prints both columns and checks that both wrote byte-identical metrics.json and eval directories.
`--precision fp32,auto` instead runs this stage once per evaluate.precision, side by side, and prints how often
the fine-tuned model's label agrees over every distinct text, the largest probability difference and the change
of each headline metric.

Reads data/split/{train,test}.csv (run `dvc repro split` or `dvc pull` first) and params.yaml; writes only
to a temporary directory. Usage: python benchmarks/evaluate.py [--split DIR] [--rows 10000] [--resamples 1000]
[--external 32000 [--against DIR | --precision fp32,auto]]  (from the repository root, .venv active; tests/benchmarks/test_smoke.py runs
it on a tiny split)
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CODE = Path(sys.argv[sys.argv.index("--timed-run") + 1]) if "--timed-run" in sys.argv else ROOT
sys.path.insert(0, str(CODE))  # --timed-run DIR (a subprocess of --against): the stage as DIR has it

from stages import evaluate  # noqa: E402
from stages.core import params  # noqa: E402
from stages.evaluation import baselines, metrics  # noqa: E402
from stages.core.io import read_csv  # noqa: E402


def bench_baselines(cfg: params.Evaluate, model: str, train, test) -> None:
    import numpy as np

    labels = sorted(set(train["label"]))
    y = np.array([labels.index(lab) for lab in test["label"]])
    for name in ("majority", "tfidf_lr", "frozen_lr"):
        one = dataclasses.replace(cfg.baselines, models=(name,))
        start = time.perf_counter()
        out = baselines.run_all(one, model, cfg.batch_size, train["text"].tolist(), train["label"].tolist(), labels,
                                [test["text"].tolist()])[name]  # unweighted, as a train summary without weights
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


# --- the whole stage on a large external set (issue 15 item 3) -------------------------------------------------
# (module, function, step); a step's seconds exclude the timed steps it calls; functions the code lacks are skipped
STEPS = [("stages.evaluate", "load_model", "load the model"),
         ("stages.evaluate", "read_sets", "read the test split and the external set"),
         ("stages.core.modeling", "predict_proba", "fine-tuned model: scoring"),
         ("stages.evaluation.metrics", "bootstrap", "bootstrap"),
         ("stages.evaluation.multilabel", "bootstrap", "bootstrap"),
         ("stages.evaluate", "score_set", "scores per set and predictor (no bootstrap)"),
         ("stages.evaluate", "test_details", "curves and calibration"),
         ("stages.evaluate", "slice_table", "slices"),
         ("stages.evaluation.outputs", "prediction_frame", "predictions frame"),
         ("stages.evaluation.outputs", "write_eval_dir", "eval dir: predictions.csv, tables, PNGs"),
         ("stages.evaluation.summary", "render", "summary.md")]
BASELINE_STEPS = ("majority", "tfidf_lr", "frozen_lr")


def external_set(path: Path, n: int, seed: int = 20_240) -> dict[str, float]:
    """A stand-in for a real set: n distinct template headlines of the default task drawn with another seed than
    generate's, half per label, in a mixed order; written as CSV (text, label). Returns its size figures."""
    import zlib

    import pandas as pd

    from stages.generation.task import load_task
    from stages.generation.template import generate_label

    task = load_task(ROOT / "data" / "tasks" / "clickbait.yaml")
    rows = [(t, lab.name) for i, lab in enumerate(task.labels)
            for t in generate_label(lab, n // len(task.labels) + (i < n % len(task.labels)), seed=seed)]
    rows.sort(key=lambda r: (zlib.crc32(r[0].encode()), r))
    frame = pd.DataFrame(rows, columns=["text", "label"])
    frame.to_csv(path, index=False)
    return {"rows": len(frame), "distinct": frame["text"].nunique(),
            "words": float(frame["text"].str.split().str.len().mean())}


def timed_run(model_dir: Path, split: Path, external_dir: Path, out: Path, precision: str | None) -> dict[str, float]:
    """evaluate.run (the stage imported from CODE), every STEPS function and each baseline's fit and scoring
    timed (exclusive seconds); "total" is the whole run. `precision`: evaluate.precision (None: params.yaml's;
    an older stage without the setting gets none)."""
    import dataclasses
    import importlib

    import numpy as np

    from stages import evaluate as stage
    from stages.core import modeling
    from stages.core import params as p
    from stages.evaluation import baselines as bl

    seconds: dict[str, float] = {}
    stack: list[float] = []  # child seconds of each open timed call

    def timer(fn, step):
        def wrapper(*args, **kwargs):
            stack.append(0.0)
            start = time.perf_counter()
            try:
                result = fn(*args, **kwargs)
            finally:
                took = time.perf_counter() - start
                own = took - stack.pop()
                seconds[step] = seconds.get(step, 0.0) + own
                if stack:
                    stack[-1] += took
            if not step.endswith(": fit"):
                return result
            if isinstance(result, tuple):  # (predictor, its baselines.json record): a checkout with the C grid
                return (timer(result[0], step[:-4] + " scoring"), *result[1:])
            return timer(result, step[:-4] + " scoring")
        return wrapper

    for module, name, step in STEPS:
        mod = importlib.import_module(module)
        if hasattr(mod, name):
            setattr(mod, name, timer(getattr(mod, name), step))
    for name in BASELINE_STEPS:
        setattr(bl, name, timer(getattr(bl, name), f"baseline {name}: fit"))
    scored, predict_proba = [], modeling.predict_proba
    modeling.predict_proba = lambda *a, **k: scored.append(predict_proba(*a, **k)) or scored[-1]
    spec = {"name": "headlines", "path": "headlines.csv", "text_column": "text", "label_column": "label"}
    known = {f.name for f in dataclasses.fields(p.Evaluate)}
    section = {**p.read_params(ROOT / "params.yaml")["evaluate"], "external_test": [spec] if external_dir else []}
    if precision:
        section["precision"] = precision
    cfg = p.load_dict({k: v for k, v in section.items() if k in known}, "evaluate")
    start = time.perf_counter()
    stage.run(cfg=cfg, seed=p.load("base", ROOT / "params.yaml").seed, base_model=p.load("train", ROOT / "params.yaml").model,
              model_dir=model_dir, split_dir=split, metrics_path=out / "metrics.json", eval_dir=out / "eval",
              external_dir=external_dir)
    seconds["total"] = time.perf_counter() - start
    np.save(out / "fine_tuned.npy", scored[0])  # every distinct text of every set, in the stage's order
    return seconds


def cpu_name() -> str:
    import torch

    names = [line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
             if line.startswith("model name")] if Path("/proc/cpuinfo").exists() else []
    return f"{names[0] if names else 'CPU'}, {os.cpu_count()} cores, torch {torch.__version__} ({torch.get_num_threads()} threads)"


def bench_external(n: int, split: Path, model_dir: Path, against: Path | None, precisions: list[str]) -> None:
    """The whole stage with an n-row external set: per-step seconds, side by side with `against`'s stage, or
    with each of `precisions` (evaluate.precision) and how far their outputs differ."""
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "external").mkdir()
        print(f"machine: {cpu_name()}")
        if n:
            size = external_set(tmp / "external" / "headlines.csv", n)
            print(f"external set: {size['rows']:,} rows ({size['distinct']:,} distinct), {size['words']:.1f} words "
                  f"on average: template headlines of another seed (a stand-in: time grows with length and count)")
        if not (model_dir / "config.json").exists():
            from benchmarks.predict import build_model

            model_dir = build_model(tmp / "minilm")
            print("model: the bundled MiniLM-L6 with a fresh 2-label head")
        codes = {"before": (against, None), "after": (ROOT, None)} if against else \
            {prec: (ROOT, prec) for prec in precisions} if precisions else {"stage": (ROOT, None)}
        runs = {}
        for tag, (code, prec) in codes.items():
            cmd = [sys.executable, __file__, "--timed-run", str(code), "--model", str(model_dir), "--split", str(split),
                   "--out", str(tmp / tag), *(["--external-dir", str(tmp / "external")] if n else []),
                   *(["--precision", prec] if prec else [])]
            proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
            if proc.returncode:
                sys.exit(f"{tag} run failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
            runs[tag] = json.loads(proc.stdout.strip().splitlines()[-1])
        print_steps(runs, n)
        if against:
            print(f"outputs identical (metrics.json and every eval file, seconds aside): {same_outputs(tmp / 'before', tmp / 'after')}")
        elif len(precisions) > 1:
            compare_precisions(tmp, precisions)


def flatten(tree: dict, prefix: str = "") -> dict[str, float]:
    """{"test": {"f1_macro": x}, "external": {"a": {...}}} -> {"test.f1_macro": x, "external.a....": ...}"""
    out: dict[str, float] = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            out.update(flatten(value, f"{prefix}{key}."))
        elif isinstance(value, (int, float)):
            out[prefix + key] = float(value)
    return out


def compare_precisions(tmp: Path, precisions: list[str]) -> None:
    """How far each precision's predictions and headline metrics are from the first one's."""
    import numpy as np

    first = precisions[0]
    ref = np.load(tmp / first / "fine_tuned.npy")
    ref_metrics = json.loads((tmp / first / "metrics.json").read_text())
    for prec in precisions[1:]:
        got = np.load(tmp / prec / "fine_tuned.npy")
        agree, diff = float((got.argmax(1) == ref.argmax(1)).mean()), float(np.abs(got - ref).max())
        metrics = json.loads((tmp / prec / "metrics.json").read_text())
        flat, ref_flat = flatten(metrics), flatten(ref_metrics)
        gaps = ", ".join(f"{k} {flat[k] - v:+.4f}" for k, v in ref_flat.items()
                         if k.rsplit(".", 1)[-1] in ("f1_macro", "accuracy", "roc_auc"))
        print(f"{prec} against {first}: same predicted label for {agree:.2%} of {len(ref):,} distinct texts, largest "
              f"probability difference {diff:.4f}; metrics.json: {gaps}")


def print_steps(runs: dict[str, dict[str, float]], rows: int) -> None:
    steps = list(dict.fromkeys(k for r in runs.values() for k in r if k != "total"))
    for r in runs.values():
        r["other (model and data loading aside: glue)"] = r["total"] - sum(v for k, v in r.items() if k != "total")
    print(f"{'step (seconds)':<52}" + "".join(f"{tag:>10}" for tag in runs))
    for step in [*steps, "other (model and data loading aside: glue)", "total"]:
        print(f"{step:<52}" + "".join(f"{r.get(step, 0.0):10.1f}" for r in runs.values()))
    last = list(runs.values())[-1]["total"]
    tags = list(runs)
    speed = f"; {tags[0]} / {tags[-1]}: {runs[tags[0]]['total'] / last:.2f}x" if len(runs) > 1 else ""
    what = f"with {rows:,} external rows: {last:.1f} s (target < 120 s: {'ok' if last < 120 else 'MISSED'})" if rows \
        else f"without an external set: {last:.1f} s"
    print(f"whole stage {what}{speed}")


def untimed(path: Path) -> bytes:
    """A file's bytes, with the seconds it reports (train_seconds, inference) blanked: they differ run to run."""
    import re

    if path.suffix == ".json":
        def drop(x):
            if isinstance(x, dict):
                return {k: drop(v) for k, v in x.items() if k not in ("train_seconds", "inference")}
            return [drop(v) for v in x] if isinstance(x, list) else x
        return json.dumps(drop(json.loads(path.read_text()))).encode()
    if path.suffix == ".md":
        return re.sub(rb"[\d.,]+ (s|ms)\b", b"# s", path.read_bytes())
    return path.read_bytes()


def same_outputs(a: Path, b: Path) -> bool:
    """Whether both runs wrote the same files with the same bytes (the seconds they report aside: untimed)."""
    files = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    other = sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    differ = [str(f) for f in files if f in other and untimed(a / f) != untimed(b / f)]
    if files != other or differ:
        print(f"  differing: {', '.join(differ) or 'file lists'}")
    return files == other and not differ


def main() -> None:
    import argparse
    import logging

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", type=Path, default=ROOT / "data" / "split", help="a directory with train/test.csv")
    parser.add_argument("--model", type=Path, default=ROOT / "models" / "classifier",
                        help="the trained classifier the whole-stage benchmark evaluates")
    parser.add_argument("--rows", type=int, default=10_000, help="rows of the bootstrap benchmark")
    parser.add_argument("--resamples", type=int, default=1000, help="resamples of the bootstrap benchmark")
    parser.add_argument("--external", type=int, nargs="?", const=32_000, help="instead: the whole stage with an "
                        "external set of this many rows (default 32,000; 0: none, the default run), seconds per step")
    parser.add_argument("--against", type=Path, help="with --external: also the stage of this older checkout")
    parser.add_argument("--precision", help="with --external: evaluate.precision values to run side by side, a comma "
                        "list (e.g. fp32,auto); one value: that one only")
    parser.add_argument("--timed-run", type=Path, help=argparse.SUPPRESS)  # one timed stage run (a subprocess)
    parser.add_argument("--external-dir", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    split = args.split
    if not (split / "train.csv").exists():
        sys.exit(f"{split}/train.csv is missing: run `dvc repro split` (or `dvc pull`) first")
    if args.timed_run:
        print(json.dumps(timed_run(args.model, split, args.external_dir, args.out, args.precision)))
        return
    if args.external is not None:
        bench_external(args.external, split, args.model, args.against,
                       [x for x in (args.precision or "").split(",") if x])
        return
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
