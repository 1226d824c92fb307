"""The default task over several seeds: how far test macro-F1 and each real set's macro-F1 move when only base.seed
changes (issue 22: seed variance).

For each seed (base.seed, +1, ...), a temporary copy of this project's data inputs with params.yaml's base.seed set
to it (`--quick`: the tests' tiny settings, testkit/dvc_repo.py's TINY_PARAMS, plus `--model`) runs the generate,
split, train, train_real_only and evaluate commands of dvc.yaml, word for word, in this process (each stage's `main`; no DVC, so
one import of torch serves every seed). A seed draws the template rows, the split, the head's initialisation and
the batch order. The real sets are whatever evaluate.external_test holds (none is fine). Prints per seed the test
macro-F1, each real set's macro-F1 and its seconds, then per column the mean +- sample standard deviation and the
range (min-max). `synthbert compare --seed-groups` gives the same table for DVC experiments (docs/experiments.md, "Seed variance").

Usage (repository root): python benchmarks/seeds.py [--seeds 5] [--quick --model DIR]
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import shlex
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from benchmarks.focus_rounds import cpu_model  # noqa: E402
from stages.core.io import read_yaml  # noqa: E402
from testkit.dvc_repo import TINY_PARAMS, write_params  # noqa: E402

STAGES = ("inputs", "generate", "split", "train", "train_real_only", "evaluate")


@contextlib.contextmanager
def working_directory(path: Path):
    before = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(before)


def workspace(dest: Path, stages: dict, overrides: dict) -> Path:
    """params.yaml with `overrides` merged in, and every data input (a dep under data/) of STAGES that exists."""
    dest.mkdir(parents=True)
    shutil.copy2(ROOT / "params.yaml", dest / "params.yaml")
    write_params(dest / "params.yaml", overrides)
    for dep in dict.fromkeys(d for name in STAGES for d in stages[name].get("deps") or []):
        src = ROOT / dep
        if dep.startswith("data/") and src.exists() and not (dest / dep).exists():
            (dest / dep).parent.mkdir(parents=True, exist_ok=True)
            (shutil.copytree if src.is_dir() else shutil.copy2)(src, dest / dep)
    return dest


def run_seed(dest: Path, stages: dict, overrides: dict, seed: int) -> tuple[dict[str, float], float]:
    """generate, split, train and evaluate with base.seed = seed: ({column: macro-F1}, seconds)."""
    repo = workspace(dest, stages, {**overrides, "base": {"seed": seed}})
    started = time.perf_counter()
    with working_directory(repo):
        for name in STAGES:
            argv = shlex.split(stages[name]["cmd"])
            if argv[:2] != ["python", "-m"]:
                raise SystemExit(f"error: dvc.yaml: stage {name}: expected `python -m MODULE ...`, got {argv[:3]}")
            if code := importlib.import_module(argv[2]).main(argv[3:]):
                raise SystemExit(f"error: seed {seed}: {name} failed (exit code {code}; its error is above)")
    seconds = time.perf_counter() - started
    metrics = json.loads((repo / "reports" / "metrics.json").read_text(encoding="utf-8"))
    scores = {"test": metrics["test"]["f1_macro"]}
    scores |= {f"real {name}": row["f1_macro"] for name, row in sorted((metrics.get("external") or {}).items())}
    return scores, seconds


def device() -> str:
    import torch

    if torch.cuda.is_available():
        return f"GPU {torch.cuda.get_device_name(0)}"
    return f"CPU {cpu_model()} ({len(os.sched_getaffinity(0))} cores)"


def print_table(scores: dict[int, dict[str, float]], seconds: dict[int, float]) -> None:
    columns = list(dict.fromkeys(c for row in scores.values() for c in row))
    width = max(24, *(len(c) + 10 for c in columns))
    print(f"{'seed':<16}" + "".join(f"{c + ' macro-F1':>{width}}" for c in columns) + f"{'seconds':>10}")
    for seed, row in scores.items():
        cells = "".join(f"{row[c]:>{width}.4f}" if c in row else f"{'-':>{width}}" for c in columns)
        print(f"{seed:<16}{cells}{seconds[seed]:>10.0f}")
    values = {c: [row[c] for row in scores.values() if c in row] for c in columns}
    sd = {c: statistics.stdev(v) if len(v) > 1 else 0.0 for c, v in values.items()}
    print(f"{'mean ± sd':<16}" + "".join(f"{f'{statistics.fmean(v):.4f} ± {sd[c]:.4f}':>{width}}"
                                         for c, v in values.items()))
    print(f"{'range (min-max)':<16}" + "".join(f"{f'{min(v):.4f}-{max(v):.4f}':>{width}}" for v in values.values()))
    for c, v in values.items():
        print(f"{c}: {len(v)} seeds, macro-F1 {statistics.fmean(v):.4f} ± {sd[c]:.4f} (sample sd), range "
              f"{min(v):.4f}-{max(v):.4f} (spread {max(v) - min(v):.4f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5, help="seeds: base.seed and the next ones (at least 2)")
    parser.add_argument("--quick", action="store_true", help="the tests' tiny settings (smoke test)")
    parser.add_argument("--model", default=None, help="train.model (default: params.yaml's)")
    args = parser.parse_args()
    if args.seeds < 2:
        raise SystemExit(f"error: --seeds: expected at least 2 (a spread needs two seeds), got {args.seeds}")
    defaults = read_yaml(ROOT / "params.yaml")
    overrides = {s: dict(TINY_PARAMS[s]) for s in TINY_PARAMS} if args.quick else {}
    if args.model:
        overrides.setdefault("train", {})["model"] = args.model
    settings = {s: {**defaults[s], **overrides.get(s, {})} for s in ("generate", "train")}
    stages = read_yaml(ROOT / "dvc.yaml")["stages"]
    first = defaults["base"]["seed"]
    scores, seconds = {}, {}
    with tempfile.TemporaryDirectory(prefix="bench-seeds-") as tmp:
        for seed in range(first, first + args.seeds):
            scores[seed], seconds[seed] = run_seed(Path(tmp) / f"seed-{seed}", stages, overrides, seed)
            print(f"seed {seed}: " + ", ".join(f"{c} {v:.4f}" for c, v in scores[seed].items()) +
                  f" ({seconds[seed]:.0f} s)", flush=True)
    print(f"\n{device()}; model {settings['train']['model']}, {settings['train']['epochs']} epochs, "
          f"{settings['generate']['n_per_label']} rows per label generated; {args.seeds} seeds "
          f"({first}-{first + args.seeds - 1}) in {sum(seconds.values()):.0f} s")
    print_table(scores, seconds)


if __name__ == "__main__":
    main()
