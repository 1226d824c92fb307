"""Which real rows to label: `synthbert select` against rows drawn at random, judged by real-test macro-F1.

The pool is a real set with role dev (default: stop_clickbait_dev, 500 headlines; dev may steer, so a selection
may read it) with its labels hidden from the selection: they stand in for the person who labels the picks. The
judge is the real set with role test (stop_clickbait, 1,500 headlines), read only to score. Per seed (base.seed,
base.seed + 1, ...): the pipeline's generate, split and train stages (stages.*.run, params.yaml's sections with
the template provider; `--epochs`, `--model` override train) make the round-0 model; then for each size k (real
rows per label, `--sizes`) two arms pick n = k x labels pool rows: `select` (stages.tools.select.run with the
round-0 model, that seed, its defaults: margin, pre-filter 10, clusters of train.model) and `random` (n rows drawn
uniformly, seeded; a person labelling unlabelled texts cannot draw per label either). The picks, labelled from the
pool, are written as the file select writes and come back through generate.real (generate.real.path), then split
and train run again as `dvc repro` would. Each model decides the test rows by its saved rule.
Prints, per size and arm, the macro-F1 of each seed, their mean and min-max, the labels picked; and per size the
paired difference select - random: each seed's with a 95% paired bootstrap interval over the test rows
(stages.tools.paired.macro_f1_replicates, 1,000 resamples) and the mean over seeds with a t interval across seeds.

Usage: python benchmarks/select_vs_random.py [--sizes 16,32] [--seeds 3] [--epochs E] [--model DIR] [--quick]
"""

from __future__ import annotations

import argparse
import collections
import logging
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from stages.core import cli, contracts, params  # noqa: E402
from stages.core.io import read_csv  # noqa: E402

T975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571}  # Student's t, 97.5% quantile, by degrees of freedom
RESAMPLES = 1000


def cpu_model() -> str:
    lines = Path("/proc/cpuinfo").read_text().splitlines()
    return next((line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")), "unknown CPU")


def real_set(evaluate: params.Evaluate, role: str) -> tuple[str, list[str], list[str]]:
    """(path, texts, labels) of the first evaluate.external_test set with `role`."""
    found = next(s for s in evaluate.external_test if s.role == role)
    path = ROOT / "data" / "external" / found.path
    frame = read_csv(path, columns=(found.text_column, found.label_column), what=f"{role} set {found.name}")
    return str(path), frame[found.text_column].tolist(), frame[found.label_column].tolist()


def pipeline(work: Path, seed: int, real_path: str | None, args: argparse.Namespace) -> Path:
    """generate (template provider, generate.real = `real_path`), split and train, as dvc.yaml runs them."""
    from stages import generate, split, train

    gen = params.load("generate", ROOT / "params.yaml")
    gen = replace(gen, provider="template", task=str(ROOT / gen.task), real=replace(gen.real, path=real_path),
                  n_per_label=args.n_per_label or gen.n_per_label)
    generate.run(cfg=gen, seed=seed, out=work / "generated.csv", reports=work / "gen")
    split.run(cfg=params.load("split", ROOT / "params.yaml"), seed=seed, data=work / "generated.csv",
              out_dir=work / "split", report=work / "split.json", dataset=work / "gen" / "dataset.json")
    cfg = params.load("train", ROOT / "params.yaml")
    cfg = replace(cfg, epochs=args.epochs or cfg.epochs, model=args.model or cfg.model)
    train.run(cfg=cfg, seed=seed, split_dir=work / "split", model_dir=work / "model", reports=work / "train")
    return work / "model"


def decide(model_dir: Path, texts: list[str]) -> list[str]:
    """The model's decisions by its saved rule (as `synthbert predict` and evaluate decide)."""
    from stages.tools.predict import Predictor

    predictor = Predictor(model_dir, batch_size=128)
    return list(predictor.decide(predictor.proba(texts))[0])


def labelled(picks: list[int], texts: list[str], labels: list[str], out: Path) -> list[str]:
    """The picked pool rows with their pool labels, in select's format (text, label, ...); their labels."""
    import pandas as pd

    from stages.core.io import write_csv

    write_csv(out, pd.DataFrame({"text": [texts[i] for i in picks], "label": [labels[i] for i in picks]}))
    return [labels[i] for i in picks]


def choose(arm: str, n: int, seed: int, model: Path, pool_path: str, pool_texts: list[str], out: Path) -> list[int]:
    """Pool row indices (0-based) of the arm's n picks."""
    if arm == "random":
        return sorted(random.Random(f"{seed}/random").sample(range(len(pool_texts)), n))
    from stages.tools import select

    select.run(pool=Path(pool_path), n=n, out=out, model=model, seed=seed)
    return [int(r) - 1 for r in read_csv(out, columns=("pool_row",))["pool_row"]]


def run_seed(seed: int, args: argparse.Namespace, data: dict, tmp: Path) -> dict:
    """{(arm, k): (decisions on the test set, labels picked)} for one seed; arm "none" is round 0."""
    started, out = time.perf_counter(), {}
    base = pipeline(tmp / f"s{seed}-base", seed, None, args)
    out[("none", 0)] = (decide(base, data["test_texts"]), [])
    print(f"seed {seed}: round 0 trained ({time.perf_counter() - started:.0f} s)", flush=True)
    raw = tmp / "data" / "raw"
    for k in args.sizes:
        n = k * len(set(data["pool_labels"]))
        for arm in ("select", "random"):
            t0 = time.perf_counter()
            picks = choose(arm, n, seed, base, data["pool_path"], data["pool_texts"], tmp / "picked.csv")
            picked = labelled(picks, data["pool_texts"], data["pool_labels"], raw / "picked.csv")
            model = pipeline(tmp / f"s{seed}-{arm}-{k}", seed, "data/raw/picked.csv", args)
            out[(arm, k)] = (decide(model, data["test_texts"]), picked)
            shutil.rmtree(tmp / f"s{seed}-{arm}-{k}")
            print(f"  {arm:<6} {n:>3} rows ({k}/label; picked {dict(sorted(collections.Counter(picked).items()))}) "
                  f"({time.perf_counter() - t0:.0f} s)", flush=True)
    shutil.rmtree(tmp / f"s{seed}-base")
    return out


def report(results: dict[int, dict], truth: list[str], sizes: list[int]) -> str:
    from stages.evaluation import metrics
    from stages.tools import paired

    seeds = sorted(results)
    lines = ["| rows per label | arm | macro-F1 per seed | mean [min, max] | labels picked (all seeds) |",
             "| --- | --- | --- | --- | --- |"]
    f1: dict[tuple[str, int], list[float]] = {}
    diffs: dict[int, list[str]] = collections.defaultdict(list)
    means: dict[int, list[float]] = collections.defaultdict(list)
    for seed in seeds:
        decided = {f"{arm}/{k}": d for (arm, k), (d, _) in results[seed].items()}
        point, boot = paired.macro_f1_replicates(truth, decided, RESAMPLES, seed)
        for (arm, k) in results[seed]:
            f1.setdefault((arm, k), []).append(point[f"{arm}/{k}"])
        for k in sizes:
            low, high = metrics.interval(boot[f"select/{k}"] - boot[f"random/{k}"], 0.95)
            gain = point[f"select/{k}"] - point[f"random/{k}"]
            diffs[k].append(f"seed {seed}: {gain:+.4f} [{low:+.4f}, {high:+.4f}]")
            means[k].append(gain)
    for (arm, k), values in f1.items():
        picked = collections.Counter(lab for seed in seeds for lab in results[seed][(arm, k)][1])
        lines.append(f"| {k} | {'round 0 (no real rows)' if arm == 'none' else arm} | "
                     f"{', '.join(f'{v:.4f}' for v in values)} | {statistics.mean(values):.4f} "
                     f"[{min(values):.4f}, {max(values):.4f}] | {dict(sorted(picked.items())) or '-'} |")
    lines += ["", "| rows per label | select - random, each seed [95% paired bootstrap] | mean over seeds [95% t] |",
              "| --- | --- | --- |"]
    for k in sizes:
        m = statistics.mean(means[k])
        half = T975.get(len(means[k]) - 1, 1.96) * statistics.stdev(means[k]) / len(means[k]) ** 0.5 \
            if len(means[k]) > 1 else float("nan")
        lines.append(f"| {k} | {'; '.join(diffs[k])} | {m:+.4f} [{m - half:+.4f}, {m + half:+.4f}] |")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="16,32", help="real rows per label added (comma-separated)")
    p.add_argument("--seeds", type=int, default=3, help="seeds: base.seed, base.seed + 1, ...")
    p.add_argument("--epochs", type=float, default=None, help="train.epochs (default: params.yaml's)")
    p.add_argument("--model", default=None, help="train.model (default: params.yaml's)")
    p.add_argument("--n-per-label", type=int, default=None, help="generate.n_per_label (default: params.yaml's)")
    p.add_argument("--quick", action="store_true", help="smoke test: the first 40 pool and 60 test rows per label")
    args = p.parse_args()
    args.sizes = sorted({int(s) for s in args.sizes.split(",")})
    cli.setup_logging()
    logging.getLogger("stages").setLevel(logging.WARNING)
    evaluate = params.load("evaluate", ROOT / "params.yaml")
    pool_path, pool_texts, pool_labels = real_set(evaluate, "dev")
    _, test_texts, test_labels = real_set(evaluate, "test")
    seed0 = params.load("base", ROOT / "params.yaml").seed
    print(f"CPU: {cpu_model()} ({len(os.sched_getaffinity(0))} cores); pool {pool_path} ({len(pool_texts):,} rows), "
          f"judge: {len(test_texts):,} real test rows; seeds {seed0}..{seed0 + args.seeds - 1}", flush=True)
    cwd, started = Path.cwd(), time.perf_counter()
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        if args.quick:
            pool_path, pool_texts, pool_labels = shrink(tmp / "pool.csv", pool_texts, pool_labels, 40)
            test_texts, test_labels = shrink(tmp / "test.csv", test_texts, test_labels, 60)[1:]
        data = {"pool_path": pool_path, "pool_texts": pool_texts, "pool_labels": pool_labels, "test_texts": test_texts}
        os.chdir(tmp)  # generate.real.path is relative: data/raw/picked.csv
        try:
            results = {seed: run_seed(seed, args, data, tmp) for seed in range(seed0, seed0 + args.seeds)}
        finally:
            os.chdir(cwd)
    print(f"\n{time.perf_counter() - started:.0f} s in all\n")
    print(report(results, test_labels, args.sizes))


def shrink(path: Path, texts: list[str], labels: list[str], per_label: int) -> tuple[str, list[str], list[str]]:
    """The first `per_label` rows of each label, written to `path` (--quick)."""
    import pandas as pd

    seen: collections.Counter = collections.Counter()
    keep = [i for i, lab in enumerate(labels) if (seen.update([lab]) or seen[lab] <= per_label)]
    pd.DataFrame({"text": [texts[i] for i in keep], "label": [labels[i] for i in keep]}).to_csv(path, index=False)
    return str(path), [texts[i] for i in keep], [labels[i] for i in keep]


if __name__ == "__main__":
    main()
