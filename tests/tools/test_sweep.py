"""stages.tools.sweep: the search space file, and a 3-trial Optuna sweep over real DVC experiments (tiny model)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from stages.tools import sweep
from stages.core.errors import ParamsError
from testkit import ROOT
from testkit.dvc_repo import dvc, run_cmd, subprocess_env
from tests.e2e.test_experiments import copy_of_baseline, without_lime

SPACE = {"train.learning_rate": {"low": 1e-4, "high": 3e-3, "log": True},
         "train.epochs": {"low": 1, "high": 2, "integer": True}}


def write_sweep(path: Path, **changes) -> Path:
    data = {"metric": "reports/train/summary.json:best_val_f1_macro", "direction": "maximize", "space": SPACE}
    data.update(changes)
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def test_the_repository_sweep_file_is_valid():
    s = sweep.load_sweep(ROOT / "sweep.yaml", ROOT / "params.yaml")
    assert s.direction == "maximize" and s.metric.startswith("reports/train/summary.json:")
    assert "test" not in s.metric  # tuning reads validation scores, never the test split
    dists = sweep.distributions(s.space)
    assert dists["train.learning_rate"].log and type(dists["train.epochs"]).__name__ == "IntDistribution"


@pytest.mark.parametrize("changes, message", [
    ({"space": {"train.learnin_rate": {"low": 1e-5, "high": 1e-4}}}, "space.train.learnin_rate is not a key of"),
    ({"space": {"train.learning_rate": {"low": 1e-5, "high": 2.0}}}, "train.learning_rate must be in (0, 1), got 2.0"),
    ({"space": {"train.learning_rate": {"low": 0.0, "high": 1e-3, "log": True}}}, ".low must be > 0 with log: true"),
    ({"space": {"train.epochs": {"low": 3, "high": 1}}}, "needs numbers low < high, got low=3, high=1"),
    ({"space": {"train.epochs": {"low": 1, "high": 2.5, "integer": True}}}, "needs whole-number bounds"),
    ({"space": {"train.batch_size": {"choices": []}}}, "choices must be a non-empty list"),
    ({"space": {"train.batch_size": {"choices": [8, 0]}}}, "train.batch_size must be >= 1, got 0"),
    ({"space": {"train.epochs": {"min": 1}}}, "must be {low, high[, log, integer]} or {choices: [...]}"),
    ({"metric": "best_val_f1_macro"}, "metric must be '<json file>:<dotted key>'"),
    ({"direction": "up"}, "direction must be maximize or minimize, got 'up'"),
    ({"trials": 3}, "expected the keys direction, metric, space"),
])
def test_bad_sweep_files_name_the_key(tmp_path, changes, message):
    with pytest.raises(ParamsError) as exc:
        sweep.load_sweep(write_sweep(tmp_path / "sweep.yaml", **changes), ROOT / "params.yaml")
    assert message in str(exc.value) and "\n" not in str(exc.value)


def test_trial_numbers_continue_after_existing_experiments():
    assert sweep.first_free([], "sweep") == 1
    assert sweep.first_free(["sweep-1", "sweep-12", "sweep-x", "sweeps-40", "other-9", "sweep-3"], "sweep") == 13


def test_objective_reads_a_dotted_key_from_a_commit(tmp_path):
    run_cmd(["git", "init", "-q"], tmp_path)
    (tmp_path / "r.json").write_text(json.dumps({"test": {"f1_macro": 0.75}, "n": "x"}))
    run_cmd(["git", "add", "r.json"], tmp_path)
    run_cmd(["git", "commit", "-qm", "r"], tmp_path)
    assert sweep.objective(tmp_path, "HEAD", "r.json:test.f1_macro") == 0.75
    with pytest.raises(Exception, match="has no number at n"):
        sweep.objective(tmp_path, "HEAD", "r.json:n")
    with pytest.raises(Exception, match="did not commit missing.json"):
        sweep.objective(tmp_path, "HEAD", "missing.json:x")


@pytest.mark.e2e
def test_three_trial_sweep_runs_dvc_experiments_and_names_the_best(tmp_path_factory, tiny_bert):
    repo = without_lime(copy_of_baseline(tmp_path_factory, tiny_bert, tmp_path_factory.mktemp("sweep") / "repo"))
    write_sweep(repo / "sweep.yaml")
    proc = subprocess.run([sys.executable, "-m", "stages.tools.sweep", "--trials", "3"], cwd=repo, env=subprocess_env(),
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    rows = []
    for name, value, pairs in re.findall(r"^(sweep-\d)\s+([\d.]+)\s+(\S.*)$", proc.stdout, re.M):
        chosen = dict(pair.split("=") for pair in pairs.split())
        rows.append((name, value, chosen["train.learning_rate"], chosen["train.epochs"]))
    assert [r[0] for r in rows] == ["sweep-1", "sweep-2", "sweep-3"], proc.stdout
    for _, _, lr, epochs in rows:
        assert 1e-4 <= float(lr) <= 3e-3 and epochs in ("1", "2")
    best = re.search(r"^best \(maximize [^)]+\): (sweep-\d) = ([\d.]+)", proc.stdout, re.M)
    assert best and float(best[2]) == max(float(r[1]) for r in rows)
    assert f"dvc exp apply {best[1]}" in proc.stdout
    assert run_cmd(["git", "status", "--porcelain", "--untracked-files=no"], repo).stdout == ""  # workspace untouched
    # Each trial is a real experiment whose committed summary holds the value the sweep printed.
    shown = json.loads(dvc(repo, "exp", "show", "--json").stdout)
    exps = {e["name"]: e["revs"][0] for b in shown for e in (b.get("experiments") or [])}
    assert {"sweep-1", "sweep-2", "sweep-3"} <= set(exps)
    for name, value, lr, epochs in rows:
        train = exps[name]["data"]["params"]["params.yaml"]["data"]["train"]
        assert str(train["epochs"]) == epochs and float(train["learning_rate"]) == pytest.approx(float(lr), rel=1e-3)
        committed = run_cmd(["git", "show", f"{exps[name]['rev']}:reports/train/summary.json"], repo).stdout
        assert json.loads(committed)["best_val_f1_macro"] == pytest.approx(float(value), abs=1e-6)
    dvc(repo, "exp", "apply", best[1])
    assert f"epochs: {dict((r[0], r[3]) for r in rows)[best[1]]}" in (repo / "params.yaml").read_text()
    # A second sweep continues the numbering instead of clashing with existing experiment names.
    assert sweep.first_free(sweep.experiment_names(repo), "sweep") == 4
