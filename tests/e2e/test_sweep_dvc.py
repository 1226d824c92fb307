"""stages.tools.sweep end to end: a 3-trial Optuna sweep over real DVC experiments with the tiny model."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from stages.tools import sweep
from testkit.dvc_repo import dvc, run_cmd, subprocess_env
from tests.e2e.test_experiments import copy_of_baseline, without_lime
from tests.tools.test_sweep import write_sweep

pytestmark = pytest.mark.e2e


def test_three_trial_sweep_runs_dvc_experiments_and_names_the_best(tmp_path_factory, tiny_bert):
    repo = without_lime(copy_of_baseline(tmp_path_factory, tiny_bert, tmp_path_factory.mktemp("sweep") / "repo"))
    write_sweep(repo / "sweep.yaml")
    proc = subprocess.run([sys.executable, "-m", "stages.tools.sweep", "--trials", "3", "-S", "train.batch_size=8"],
                          cwd=repo, env=subprocess_env(),
                          capture_output=True, text=True, timeout=1800)
    assert proc.returncode == 0, proc.stderr
    for n in (1, 2, 3):  # progress: trial n/N with its params, then its objective and seconds
        assert re.search(rf"trial {n}/3 sweep-{n}: .*train\.learning_rate=", proc.stderr), proc.stderr
        assert re.search(rf"trial {n}/3 sweep-{n}: \S+best_val_f1_macro = [\d.]+ in [\d.]+ s", proc.stderr)
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
        assert train["batch_size"] == 8  # the fixed -S override
        # Only up to train: evaluate did not run, so the committed test metrics are the baseline's.
        assert run_cmd(["git", "show", f"{exps[name]['rev']}:reports/metrics.json"], repo).stdout == \
            (repo / "reports" / "metrics.json").read_text()
        committed = run_cmd(["git", "show", f"{exps[name]['rev']}:reports/train/summary.json"], repo).stdout
        assert json.loads(committed)["best_val_f1_macro"] == pytest.approx(float(value), abs=1e-6)
    dvc(repo, "exp", "apply", best[1])
    assert f"epochs: {dict((r[0], r[3]) for r in rows)[best[1]]}" in (repo / "params.yaml").read_text()
    # A second sweep continues the numbering instead of clashing with existing experiment names.
    assert sweep.first_free(sweep.experiment_names(repo), "sweep") == 4
