"""DVC experiments with the tiny model in a temporary repo: `dvc exp run -S`, a queued grid, `dvc exp show --md`,
and `synthbert compare --seed-groups` on the grid's runs.

`copy_of_baseline()` is shared with test_compare_dvc, test_report_dvc and test_sweep_dvc: one `dvc repro` per session,
committed, then copied for each module, so the modules stay independent without paying for it each time.
"""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from testkit.dvc_repo import dvc, make_repo, run_cmd, stages_ran, subprocess_env

pytestmark = pytest.mark.e2e
ALL = ["inputs", "generate", "split", "train", "train_real_only", "evaluate", "explain", "audit", "report"]


def baseline(tmp_path_factory: pytest.TempPathFactory, tiny_model: Path) -> Path:
    """A committed repo whose whole pipeline has run once (reports and dvc.lock in git); read it, never change it."""
    # Kept under the session's base temp dir, not in a global: the marker file survives whichever module asks
    # first, and a crashed build (no marker) is rebuilt rather than reused.
    root = tmp_path_factory.getbasetemp() / "synthbert-baseline"
    repo = root / "repo"
    if not (root / "done").exists():
        shutil.rmtree(root, ignore_errors=True)
        make_repo(repo, tiny_model)
        assert stages_ran(dvc(repo, "repro").stdout) == ALL
        run_cmd(["git", "add", "-A"], repo)
        run_cmd(["git", "commit", "-qm", "baseline run"], repo)
        (root / "done").touch()
    return repo


def copy_of_baseline(tmp_path_factory: pytest.TempPathFactory, tiny_model: Path, dest: Path) -> Path:
    """A private copy of `baseline()` to change at will."""
    # .dvc/tmp holds locks, the queue and the hash cache of the original: the copy starts without them.
    shutil.copytree(baseline(tmp_path_factory, tiny_model), dest, symlinks=True,
                    ignore=lambda folder, names: ["tmp"] if folder.endswith(".dvc") else [])
    return dest


def without_lime(repo: Path) -> Path:
    """Commit explain.max_examples=0: every experiment reruns explain, and LIME is not what these tests test."""
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["explain"]["max_examples"] = 0
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    run_cmd(["git", "commit", "-qam", "explain nothing"], repo)
    return repo


@pytest.fixture(scope="module")
def repo(tmp_path_factory, tiny_bert):
    return copy_of_baseline(tmp_path_factory, tiny_bert, tmp_path_factory.mktemp("experiments") / "repo")


def test_single_experiment_reruns_only_the_stages_that_read_the_param(repo):
    before = (repo / "reports" / "report.md").read_text()
    out = dvc(repo, "exp", "run", "-n", "fewer-lime", "-S", "explain.max_examples=1").stdout
    assert stages_ran(out) == ["explain", "report"]
    assert yaml.safe_load((repo / "params.yaml").read_text())["explain"]["max_examples"] == 1
    explained = json.loads((repo / "reports" / "explain" / "explanations.json").read_text())
    assert explained["explained"] == min(1, explained["mismatches"]) < 3  # the baseline explains up to 3
    after = (repo / "reports" / "report.md").read_text()
    assert after != before and f"{explained['explained']} of {explained['mismatches']} test mismatches" in after
    shown = dvc(repo, "exp", "show", "--md", "--no-pager").stdout
    assert "fewer-lime" in shown and "test.f1_macro" in shown.splitlines()[0]
    run_cmd(["git", "checkout", "--", "."], repo)  # back to the baseline for the grid
    dvc(repo, "checkout", "-q")


def test_a_report_only_generate_param_does_not_retrain(repo):
    """generate.shortcut_threshold changes quality.json only: train reads dataset.json, so it stays cached."""
    status = dvc(repo, "status", "--json").stdout
    assert json.loads(status) == {}, status
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["generate"]["shortcut_threshold"] = 0.55
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    changed = json.loads(dvc(repo, "status", "--json").stdout)
    assert list(changed) == ["generate"], changed  # before it runs, only generate's params differ
    dataset = (repo / "reports" / "data" / "dataset.json").read_bytes()
    out = dvc(repo, "repro").stdout
    assert stages_ran(out) == ["generate", "report"], out  # split, train, evaluate, explain: unchanged inputs
    assert (repo / "reports" / "data" / "dataset.json").read_bytes() == dataset
    assert json.loads((repo / "reports" / "data" / "quality.json").read_text())["shortcut_threshold"] == 0.55
    run_cmd(["git", "checkout", "--", "."], repo)
    dvc(repo, "checkout", "-q")


def wait_for_queue(repo: Path, timeout: float = 400) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = dvc(repo, "queue", "status").stdout
        if not re.search(r"\b(Queued|Running)\b", status):
            return status
        time.sleep(5)  # each `dvc queue status` costs a second of CPU that the queued runs need
    raise AssertionError(f"queue still busy after {timeout:.0f} s:\n{status}")


def test_queued_grid_sweep_runs_every_combination(repo):
    """Two learning rates by two seeds (the README's seed recipe with a second param): also the seed groups below.
    Seed 42 is the baseline commit's: those runs find generate and split unchanged and start at train."""
    without_lime(repo)
    out = dvc(repo, "exp", "run", "--queue", "-S", "train.learning_rate=2e-5,5e-5", "-S", "base.seed=42,1").stdout
    assert out.count("Queued experiment") == 4
    dvc(repo, "queue", "start", "-j", "1")
    status = wait_for_queue(repo)
    assert status.count("Success") == 4, status
    table = dvc(repo, "exp", "show", "--md", "--no-pager", "--drop", ".*", "--keep",
                r"^(Experiment|test\.f1_macro|train\.learning_rate|base\.seed)$").stdout
    lines = table.splitlines()
    header = [cell.strip() for cell in lines[0].split("|")[1:-1]]
    assert sorted(header) == ["Experiment", "base.seed", "test.f1_macro", "train.learning_rate"], lines[0]
    rows = [dict(zip(header, (c.strip() for c in line.split("|")[1:-1]))) for line in lines if "──" in line]
    for lr in ("2e-05", "5e-05"):
        for seed in ("42", "1"):
            match = [r for r in rows if (r["train.learning_rate"], r["base.seed"]) == (lr, seed)]
            assert len(match) == 1 and 0 <= float(match[0]["test.f1_macro"]) <= 1, (lr, seed, table)
    full = dvc(repo, "exp", "show", "--md", "--no-pager").stdout  # the README's plain command has the column too
    assert "test.f1_macro" in full.splitlines()[0]


def texts(predictions_csv: str) -> list[str]:
    """The test rows a predictions.csv scored, sorted."""
    return sorted(row["text"] for row in csv.DictReader(io.StringIO(predictions_csv)))


def test_seed_groups_of_the_grid(repo):
    """After the grid above: each learning rate is a group of two seeds; the baseline commit's run (seed 42) is the
    baseline group. The numbers come from what each experiment committed: reports/ are cache: false outputs. The
    seed-42 runs scored the baseline's test rows (the same split), so their rows are paired with it."""
    proc = subprocess.run([sys.executable, "-m", "stages.tools.compare", "--seed-groups", "--out", "seeds.md"],
                          cwd=repo, env=subprocess_env(), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    md = (repo / "seeds.md").read_text()
    head = json.loads((repo / "reports" / "metrics.json").read_text())["test"]["f1_macro"]
    scores: dict[str, list[float]] = {}
    for entry in json.loads(dvc(repo, "exp", "show", "--json").stdout):
        for e in [x["revs"][0] for x in entry.get("experiments") or []]:
            lr = e["data"]["params"]["params.yaml"]["data"]["train"]["learning_rate"]
            committed = run_cmd(["git", "show", f"{e['rev']}:reports/metrics.json"], repo).stdout
            scores.setdefault(repr(lr), []).append(json.loads(committed)["test"]["f1_macro"])
            predictions = run_cmd(["git", "show", f"{e['rev']}:reports/eval/predictions.csv"], repo).stdout
            assert predictions.startswith("text,true,predicted,confidence,p_")
            same_rows = texts(predictions) == texts((repo / "reports" / "eval" / "predictions.csv").read_text())
            assert same_rows == (e["data"]["params"]["params.yaml"]["data"]["base"]["seed"] == 42)
    assert sorted(scores) == ["2e-05", "5e-05"] and all(len(v) == 2 for v in scores.values()), scores
    assert md.startswith("## Seed groups: 5 runs in 3 groups")
    # columns: group, difference, seeds, runs, test split, then one per real set (evaluate.external_test)
    assert re.search(rf"^\| 1 \(baseline\) \| — \| 1: 42 \| `main` \| {head:.3f} \|", md, re.M), md
    for lr, f1 in scores.items():
        spread = f"{statistics.fmean(f1):.3f} ± {statistics.stdev(f1):.3f}"
        row = rf"^\| \d \| `train.learning_rate={lr}` \| 2: (42|1), (42|1) \| [^|]* \| {spread} \|"
        assert re.search(row, md, re.M), md
        group = re.search(rf"^\| (\d) \| `train.learning_rate={lr}`", md, re.M)[1]
        verdict = re.search(rf"^\| {group} \| test split \| 2 vs 1 \| ([-+][\d.]+) \[([-+][\d.]+), ([-+][\d.]+)\] \| "
                            r"\*\*(better|within noise|worse)\*\* \|$", md, re.M)
        assert verdict, md
        diff, low, high = (float(x) for x in verdict.groups()[:3])
        assert diff == pytest.approx(statistics.fmean(f1) - head, abs=0.0011) and low <= high, md
