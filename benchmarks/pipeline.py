"""Benchmark the pipeline's wall-clock targets (issue: the pipeline, five DVC stages end to end).

1. The default `dvc repro` in a fresh clone of this repository (target: <= 300 s on a 2-core CPU).
2. A no-op `dvc repro` right after it (target: < 2 s; median of 3).
3. `python -m stages.split` on 10,000 rows, process start included, and whether torch/transformers
   were imported (target: < 2 s, neither imported).

Usage: python benchmarks/pipeline.py [--skip-repro]   (run from the repository root, .venv active)
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def env() -> dict[str, str]:
    return {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", "HF_HUB_OFFLINE": "1"}


def timed(args: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(args, cwd=cwd, env=env(), check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def bench_repro(tmp: Path) -> None:
    clone = tmp / "clone"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    full = timed([str(BIN / "dvc"), "repro"], clone)
    noop = statistics.median(timed([str(BIN / "dvc"), "repro"], clone) for _ in range(3))
    print(f"default dvc repro, fresh clone : {full:7.1f} s   (target <= 300 s: {'ok' if full <= 300 else 'MISSED'})")
    print(f"no-op dvc repro (median of 3)  : {noop:7.2f} s   (target < 2 s: {'ok' if noop < 2 else 'MISSED'})")


def bench_split(tmp: Path) -> None:
    rng = random.Random(0)
    words = [f"w{i}" for i in range(5000)]
    data = tmp / "rows.csv"
    with open(data, "w", encoding="utf-8") as f:
        f.write("text,label,source,origin\n")
        for i in range(10_000):  # each row its own origin, as csv rows are
            text = " ".join(rng.choices(words, k=rng.randint(4, 16)))
            f.write(f"{text} {i},{'abc'[i % 3]},bench,rows.csv:{i + 1}\n")
    (tmp / "params.yaml").write_text("base: {seed: 1}\nsplit: {val_size: 0.2, test_size: 0.2}\n")
    code = ("import sys, runpy; sys.argv = ['split', '--data', 'rows.csv', '--out', 'split', '--report', 's.json']\n"
            "try:\n    runpy.run_module('stages.split', run_name='__main__')\nexcept SystemExit as e:\n"
            "    assert not e.code, e.code\n"
            "print('torch' in sys.modules, 'transformers' in sys.modules)")
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp, check=True, capture_output=True, text=True,
                         env={**env(), "PYTHONPATH": str(ROOT)})
    seconds = time.perf_counter() - start
    torch_loaded, tf_loaded = out.stdout.split()
    print(f"split, 10,000 rows (with start): {seconds:6.2f} s   (target < 2 s: {'ok' if seconds < 2 else 'MISSED'}); "
          f"torch imported: {torch_loaded}, transformers imported: {tf_loaded}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-repro", action="store_true", help="only the split benchmark")
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} CPU cores")
    with tempfile.TemporaryDirectory() as tmp:
        bench_split(Path(tmp))
        if not args.skip_repro:
            bench_repro(Path(tmp))


if __name__ == "__main__":
    main()
