"""stages.tools.sweep: the search space file, trial names, the objective read from a commit
(tests/e2e/test_sweep_dvc.py runs a 3-trial Optuna sweep over real DVC experiments)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from stages.tools import sweep
from stages.core.errors import ParamsError
from testkit import ROOT
from testkit.dvc_repo import run_cmd

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




def test_a_trial_runs_only_up_to_the_stage_that_writes_the_objective():
    dvc_yaml = ROOT / "dvc.yaml"
    assert sweep.objective_stage(dvc_yaml, "reports/train/summary.json:best_val_f1_macro") == "train"
    assert sweep.objective_stage(dvc_yaml, "reports/train/metrics.json:eval.f1_macro") == "train"
    assert sweep.objective_stage(dvc_yaml, "reports/metrics.json:test.f1_macro") == "evaluate"
    assert sweep.objective_stage(dvc_yaml, "nowhere.json:x") is None
    command = sweep.trial_command("sweep-3", {"train.epochs": 1, "train.learning_rate": 1e-3}, "train")
    assert command[1:] == ["exp", "run", "--temp", "-n", "sweep-3", "-S", "train.epochs=1", "-S",
                           "train.learning_rate=0.001", "train"]


def test_fixed_overrides_are_checked_like_params_and_kept_out_of_the_space(tmp_path):
    s = sweep.load_sweep(write_sweep(tmp_path / "sweep.yaml"), ROOT / "params.yaml")
    assert sweep.fixed_overrides(["train.max_length=64", "explain.max_examples=0"], s, ROOT / "params.yaml") == \
        {"train.max_length": 64, "explain.max_examples": 0}
    for pair, message in (("train.epochs=1", "train.epochs is in the search space"),
                          ("train.nope=1", "expected section.key=value"), ("train.batch_size", "expected section.key"),
                          ("train.batch_size=0", "train.batch_size must be >= 1, got 0")):
        with pytest.raises(ParamsError) as exc:
            sweep.fixed_overrides([pair], s, ROOT / "params.yaml")
        assert message in str(exc.value) and "\n" not in str(exc.value), (pair, exc.value)


def test_each_trial_logs_its_number_params_objective_and_seconds(tmp_path, monkeypatch, caplog):
    import logging
    import subprocess

    s = sweep.load_sweep(write_sweep(tmp_path / "sweep.yaml"), ROOT / "params.yaml")
    (tmp_path / "dvc.yaml").write_text((ROOT / "dvc.yaml").read_text())
    calls = []

    def fake_trial(cwd, name, values, stage=None):
        calls.append((name, values, stage))
        return subprocess.CompletedProcess([], 0, "", "")

    monkeypatch.setattr(sweep, "run_trial", fake_trial)
    monkeypatch.setattr(sweep, "experiment_names", lambda cwd: {name: f"rev-{name}" for name, _, _ in calls})
    monkeypatch.setattr(sweep, "objective", lambda cwd, rev, metric: 0.5 + len(calls) / 10)
    with caplog.at_level(logging.INFO, logger=sweep.log.name):
        out = sweep.run(s, 2, seed=0, cwd=tmp_path, fixed={"train.max_length": 64})
    assert [c[2] for c in calls] == ["train", "train"] and all(c[1]["train.max_length"] == 64 for c in calls)
    lines = caplog.messages
    assert any(re.fullmatch(r"trial 1/2 sweep-1: .*train\.learning_rate=\S+.*", m) for m in lines), lines
    assert any(re.fullmatch(r"trial 2/2 sweep-2: \S+best_val_f1_macro = 0\.7 in \d+\.\d s", m) for m in lines), lines
    assert out["best"]["name"] == "sweep-2" and "then `dvc repro` (trials ran up to train)" in sweep.render(out)
