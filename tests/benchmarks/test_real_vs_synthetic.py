"""benchmarks/real_vs_synthetic.py: bad inputs fail in one line (exit 2) before anything is generated or trained,
and each seed's held-out real rows are the same for every size while the training rows are nested."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest

from testkit import ROOT
from testkit.dvc_repo import subprocess_env

SCRIPT = ROOT / "benchmarks" / "real_vs_synthetic.py"


def fails(*args: str) -> str:
    """The one-line error of a run that must exit 2."""
    proc = subprocess.run([sys.executable, str(SCRIPT), *args], cwd=ROOT, env=subprocess_env(), capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    return lines[0]


def write_real(path, rows_per_label: int, names=("clickbait", "factual")):
    lines = ["headline,tag"] + [f"{name} headline number {i},{name}" for name in names for i in range(rows_per_label)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_missing_file_and_column(tmp_path):
    assert "nope.csv: file not found" in fails(str(tmp_path / "nope.csv"))
    real = write_real(tmp_path / "real.csv", 5)
    assert "missing column 'text'" in fails(str(real))
    assert "missing column 'label'" in fails(str(real), "--text-column", "headline")


def test_unknown_labels_name_the_label_map(tmp_path):
    real = write_real(tmp_path / "real.csv", 5, names=("bait", "factual"))
    msg = fails(str(real), "--text-column", "headline", "--label-column", "tag")
    assert "label 'bait' (5 rows), not a label of the task (expected clickbait, factual" in msg
    assert "--label-map bait=LABEL" in msg
    msg = fails(str(real), "--text-column", "headline", "--label-column", "tag", "--label-map", "bait=clicks")
    assert msg == "error: --label-map: 'clicks' is not a label of the task (expected one of clickbait, factual)"


def test_too_few_rows_say_how_many_are_needed(tmp_path):
    real = write_real(tmp_path / "real.csv", 100, names=("bait", "factual"))
    msg = fails(str(real), "--text-column", "headline", "--label-column", "tag", "--label-map", "bait=clickbait")
    assert "label 'clickbait' has 100 distinct texts; need at least 178 per label (128 for the largest --sizes" in msg


@pytest.mark.parametrize("sizes", ["0,8,x", "0,2", "-1,8"])
def test_bad_sizes(tmp_path, sizes):
    assert fails(str(write_real(tmp_path / "real.csv", 5)), f"--sizes={sizes}").startswith("error: --sizes: expected")


def test_multi_label_task_and_bad_counts_are_refused(tmp_path):
    real = str(write_real(tmp_path / "real.csv", 5))
    assert "a multi-label task; this benchmark handles single-label tasks only" in fails(
        real, "--task", "data/tasks/support_tickets.yaml")
    assert fails(real, "--seeds", "0") == "error: --seeds: expected a number >= 1, got 0"


def test_held_out_rows_fixed_per_seed_training_rows_nested():
    spec = importlib.util.spec_from_file_location("real_vs_synthetic", SCRIPT)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    real = {"a": [f"a text {i}" for i in range(40)], "b": [f"b text {i}" for i in range(40)]}
    pool, texts, truth = bench.draw(real, 1, 16, synthetic_keys={"a text 39"})
    assert {lab: len(p) for lab, p in pool.items()} == {"a": 16, "b": 16}
    assert set(texts).isdisjoint(pool["a"] + pool["b"]) and "a text 39" not in texts
    assert (truth.count("a"), truth.count("b")) == (23, 24)
    assert bench.draw(real, 1, 16, {"a text 39"}) == (pool, texts, truth)  # the same rows for every run of a seed
    other = bench.draw(real, 2, 16, set())
    assert other[0]["a"] != pool["a"]
