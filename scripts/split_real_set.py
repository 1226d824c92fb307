"""Split a real, labelled CSV once and for all into a dev part and a test part, stratified by label and seeded.

    python scripts/split_real_set.py SOURCE OUTDIR [--dev 500] [--seed 0] [--label-column label]

Writes OUTDIR/dev.csv (--dev rows, each label in proportion to its share of SOURCE, remainders to the largest
fractions) and OUTDIR/test.csv (every other row). Rows are copied unchanged (same columns, same cells, the
source's order kept within each part), with "\\n" line ends. The same SOURCE and seed give the same bytes.
Run it once when a real set is added (data/external/stop_clickbait/README.md records the command); never
re-split to get a friendlier test part. Standard library only.
"""

from __future__ import annotations

import argparse
import csv
import random
import sys
from pathlib import Path


def dev_counts(per_label: dict[str, int], dev: int) -> dict[str, int]:
    """How many rows of each label go to dev: proportional to the label's rows, `dev` in all (largest remainder,
    ties to the first label in sorted order)."""
    total = sum(per_label.values())
    exact = {lab: dev * n / total for lab, n in per_label.items()}
    counts = {lab: int(x) for lab, x in exact.items()}
    order = sorted(per_label, key=lambda lab: (-(exact[lab] - counts[lab]), lab))
    for lab in order[:dev - sum(counts.values())]:
        counts[lab] += 1
    return counts


def split_rows(rows: list[list[str]], label_index: int, dev: int, seed: int) -> tuple[list[int], list[int]]:
    """Row indices of the dev and test parts, each in source order."""
    by_label: dict[str, list[int]] = {}
    for i, row in enumerate(rows):
        by_label.setdefault(row[label_index], []).append(i)
    counts = dev_counts({lab: len(idx) for lab, idx in by_label.items()}, dev)
    rng = random.Random(seed)
    chosen: set[int] = set()
    for lab in sorted(by_label):  # a fixed order: the draws do not depend on the file's label order
        chosen.update(rng.sample(by_label[lab], counts[lab]))
    return sorted(chosen), [i for i in range(len(rows)) if i not in chosen]


def write(path: Path, header: list[str], rows: list[list[str]]) -> None:
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, help="the real CSV (UTF-8, header row)")
    parser.add_argument("outdir", type=Path, help="directory for dev.csv and test.csv")
    parser.add_argument("--dev", type=int, default=500, help="rows in the dev part (default 500)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--label-column", default="label", help="column to stratify by (default label)")
    args = parser.parse_args(argv)
    with open(args.source, encoding="utf-8", newline="") as f:
        header, *rows = list(csv.reader(f))
    if args.label_column not in header:
        print(f"error: {args.source}: no column {args.label_column!r} (columns: {', '.join(header)})", file=sys.stderr)
        return 2
    if not 0 < args.dev < len(rows):
        print(f"error: --dev must be in [1, {len(rows) - 1}] (the source has {len(rows)} rows), got {args.dev}",
              file=sys.stderr)
        return 2
    dev, test = split_rows(rows, header.index(args.label_column), args.dev, args.seed)
    args.outdir.mkdir(parents=True, exist_ok=True)
    write(args.outdir / "dev.csv", header, [rows[i] for i in dev])
    write(args.outdir / "test.csv", header, [rows[i] for i in test])
    print(f"{args.source}: {len(rows):,} rows -> dev.csv {len(dev):,}, test.csv {len(test):,} (seed {args.seed})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
