"""Benchmark near-duplicate detection (issue: dedup at scale) and generate + split at scale.

On N template-provider rows of the default task (data/tasks/clickbait.yaml, cleaned as the generate stage
does), side by side: the exact prefix-filter search vs MinHash LSH (stages/core/similarity.py) at
generate.near_duplicate_threshold: seconds, speed-up, recall against the exact search (target for 100,000
rows: MinHash under 20 s). Then the generate and split stages' run() on N rows (target: under a minute).

`--baseline DIR` (a copy of an earlier commit, e.g. `git archive <commit> | tar -x -C DIR`) also runs that
checkout's generate and split on the same rows, alternating with this one's (`--repeat` rounds, each checkout's
stages in a fresh process), prints the fastest round of each and the speed-up, and whether the two wrote the
same bytes (data and reports).

Usage: python benchmarks/dedup.py [--rows 100000] [--skip-exact] [--baseline DIR [--repeat 2]]
(from the repository root, .venv active)
"""

from __future__ import annotations

import argparse
import filecmp
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from stages import generate, split  # noqa: E402
from stages.core import params, similarity  # noqa: E402
from stages.generation import cleaning, template  # noqa: E402
from stages.generation.task import load_task  # noqa: E402


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown CPU"


STAGES = """
import json, sys, time
from pathlib import Path
sys.path.insert(0, ".")
from stages import generate, split
from stages.core import params
rows, out = int(sys.argv[1]), Path(sys.argv[2])
raw = params.read_params(Path("params.yaml"))
cfg = params.load_dict({**raw["generate"], "provider": "template", "n_per_label": rows // 2}, "generate")
start = time.perf_counter()
generate.run(cfg=cfg, seed=42, out=out / "generated.csv", reports=out / "reports")
middle = time.perf_counter()
split.run(cfg=params.load_dict(raw["split"], "split"), seed=42, data=out / "generated.csv", out_dir=out / "split",
          report=out / "reports" / "split.json", dataset=out / "reports" / "dataset.json")
print(json.dumps([middle - start, time.perf_counter() - middle]))
"""


def stage_seconds(root: Path, rows: int, out: Path) -> tuple[float, float]:
    """generate.run and split.run of the checkout `root` (its params.yaml, template provider) in a fresh process."""
    done = subprocess.run([sys.executable, "-c", STAGES, str(rows), str(out)], cwd=root, capture_output=True,
                          text=True, check=True)
    return tuple(json.loads(done.stdout.strip().splitlines()[-1]))


def side_by_side(baseline: Path, rows: int, repeat: int) -> None:
    """The stages of `baseline` and of this checkout, alternating; the fastest round of each."""
    times: dict[str, list[tuple[float, float]]] = {"baseline": [], "this": []}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        for k in range(repeat):
            for name, root in (("baseline", baseline), ("this", ROOT)):
                times[name].append(stage_seconds(root, rows, tmp / f"{name}{k}"))
        same = [f for f in ("generated.csv", "split/train.csv", "split/val.csv", "split/test.csv",
                            "reports/quality.json", "reports/split.json", "reports/dataset.json")
                if filecmp.cmp(tmp / "baseline0" / f, tmp / "this0" / f, shallow=False)]
    for name, label in (("baseline", f"baseline {baseline}"), ("this", "this checkout")):
        gen, spl = min(t[0] for t in times[name]), min(t[1] for t in times[name])
        print(f"{label}: generate {gen:.2f} s + split {spl:.2f} s = {gen + spl:.2f} s (fastest of {repeat})")
    total = {name: min(t[0] for t in ts) + min(t[1] for t in ts) for name, ts in times.items()}
    print(f"generate + split speed-up {total['baseline'] / total['this']:.2f}x; identical outputs: {len(same) == 7} "
          f"({len(same)} of 7 files)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000, help="template rows in all (split over 2 labels)")
    parser.add_argument("--skip-exact", action="store_true", help="time MinHash only (the exact search is quadratic)")
    parser.add_argument("--baseline", type=Path, help="a checkout of an earlier commit to time side by side")
    parser.add_argument("--repeat", type=int, default=2, help="rounds of the side-by-side comparison")
    args = parser.parse_args()
    cfg = params.load_dict({**params.read_params(ROOT / "params.yaml")["generate"],
                            "task": str(ROOT / "data/tasks/clickbait.yaml"), "provider": "template",
                            "n_per_label": args.rows // 2}, "generate")
    rows, _ = cleaning.clean(template.generate(load_task(cfg.task), cfg.n_per_label, 42), cfg.min_chars, cfg.max_chars)
    texts = [r["text"] for r in rows]
    t = cfg.near_duplicate_threshold
    print(f"{len(texts):,} cleaned template rows, threshold {t}, CPU: {cpu_model()} ({len(__import__('os').sched_getaffinity(0))} cores)")
    start = time.perf_counter()
    fast = similarity.near_duplicates(texts, t, seed=42)
    fast_s = time.perf_counter() - start
    print(f"MinHash LSH (bands x rows {similarity.lsh_params(t)}): {fast_s:7.2f} s  {len(fast):,} dropped  "
          f"(target < 20 s at 100,000 rows)")
    if not args.skip_exact:
        start = time.perf_counter()
        exact = similarity.near_duplicates(texts, t, seed=42, lsh=False)
        exact_s = time.perf_counter() - start
        recall = len(set(fast) & set(exact)) / len(exact) if exact else 1.0
        print(f"exact prefix filter          : {exact_s:7.2f} s  {len(exact):,} dropped")
        print(f"speed-up {exact_s / fast_s:.1f}x; recall {recall:.4f}; identical drops: {fast == exact}")
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        start = time.perf_counter()
        generate.run(cfg=cfg, seed=42, out=tmp / "generated.csv", reports=tmp / "reports")
        gen_s = time.perf_counter() - start
        start = time.perf_counter()
        summary = split.run(cfg=params.load_dict(params.read_params(ROOT / "params.yaml")["split"], "split"), seed=42,
                            data=tmp / "generated.csv", out_dir=tmp / "split", report=tmp / "split.json")
        split_s = time.perf_counter() - start
    print(f"generate.run {gen_s:.2f} s + split.run {split_s:.2f} s = {gen_s + split_s:.2f} s (target < 60 s); "
          f"split: {summary['near_duplicate_groups']:,} near-duplicate groups, worst cross-split Jaccard "
          f"{summary['max_cross_split_jaccard']} ({'exact' if summary['max_cross_split_jaccard_exact'] else 'LSH candidates'})")
    if args.baseline:
        side_by_side(args.baseline.resolve(), args.rows, args.repeat)


if __name__ == "__main__":
    main()
