"""Benchmark what reproducibility and safe writes cost, and what a DVC remote saves.

1. stages.core.io.write_csv (temporary file, fsync, rename) against a plain pandas `to_csv` on 100,000 rows.
2. stages.core.io.atomic_dir (fsync of every file, rename) against writing the same ~90 MB model-sized directory
   in place.
3. With the tiny test model: a teammate's `dvc pull` in a fresh clone against running `dvc repro` there.

Usage: python benchmarks/reproducibility.py [--skip-dvc]   (repository root, .venv active)
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def best_of(n: int, fn) -> float:
    times = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def bench_csv(tmp: Path) -> None:
    import pandas as pd

    from stages.core.io import write_csv

    frame = pd.DataFrame({"text": [f"headline number {i} about things" for i in range(100_000)],
                          "label": ["clickbait", "factual"] * 50_000, "source": "template"})
    plain = best_of(3, lambda: frame.to_csv(tmp / "plain.csv", index=False, lineterminator="\n"))
    atomic = best_of(3, lambda: write_csv(tmp / "atomic.csv", frame))
    assert (tmp / "plain.csv").read_bytes() == (tmp / "atomic.csv").read_bytes()
    size = (tmp / "atomic.csv").stat().st_size / 1e6
    print(f"write_csv, 100k rows ({size:.1f} MB): plain {plain * 1000:7.1f} ms, atomic+fsync {atomic * 1000:7.1f} ms"
          f"   ratio {atomic / plain:.2f}x")


def bench_dir(tmp: Path) -> None:
    from stages.core.io import atomic_dir

    blob = os.urandom(30_000_000)

    def fill(d: Path) -> None:
        d.mkdir(parents=True, exist_ok=True)
        for i in range(3):
            (d / f"shard{i}.bin").write_bytes(blob)

    def in_place() -> None:
        shutil.rmtree(tmp / "plain", ignore_errors=True)
        fill(tmp / "plain")

    def atomic() -> None:
        with atomic_dir(tmp / "model") as d:
            fill(d)

    plain, safe = best_of(3, in_place), best_of(3, atomic)
    print(f"model dir, 90 MB          : in place {plain * 1000:7.1f} ms, atomic+fsync {safe * 1000:7.1f} ms"
          f"   ratio {safe / plain:.2f}x")


def bench_dvc(tmp: Path) -> None:
    from testkit.dvc_repo import dvc, make_repo, run_cmd
    from testkit.tiny_bert import build_tiny_bert

    origin = make_repo(tmp / "origin", build_tiny_bert(tmp / "tiny"))
    dvc(origin, "remote", "add", "-d", "shared", str(tmp / "remote"))
    start = time.perf_counter()
    dvc(origin, "repro")
    repro = time.perf_counter() - start
    run_cmd(["git", "add", "-A"], origin)
    run_cmd(["git", "commit", "-qm", "results"], origin)
    dvc(origin, "push")
    run_cmd(["git", "clone", "-q", str(origin), str(tmp / "teammate")], tmp)
    start = time.perf_counter()
    dvc(tmp / "teammate", "pull")
    pull = time.perf_counter() - start
    start = time.perf_counter()
    out = dvc(tmp / "teammate", "repro").stdout
    noop = time.perf_counter() - start
    assert "Running stage" not in out
    print(f"tiny pipeline             : dvc repro {repro:6.1f} s; teammate dvc pull {pull:5.1f} s "
          f"+ no-op dvc repro {noop:4.1f} s   ({repro / (pull + noop):.1f}x faster than recomputing)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-dvc", action="store_true", help="skip the dvc pull / repro comparison")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    with tempfile.TemporaryDirectory(prefix="synthbert-bench-") as tmp:
        bench_csv(Path(tmp))
        bench_dir(Path(tmp))
        if not args.skip_dvc:
            bench_dvc(Path(tmp))


if __name__ == "__main__":
    main()
