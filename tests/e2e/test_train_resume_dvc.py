"""A `dvc repro` killed (SIGKILL, process group) in the middle of training resumes from its last checkpoint
on the next `dvc repro` with train.resume: true, and ends with the very model an uninterrupted run makes."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from stages import train
from stages.core import params
from stages.training import checkpoints
from testkit.dvc_repo import dvc, make_repo, stages_ran, subprocess_env

pytestmark = pytest.mark.e2e


EPOCHS = 8
PARAMS = {"train": {"epochs": EPOCHS, "resume": True, "batch_size": 4, "learning_rate": 3e-3, "warmup_ratio": 0.0}}


def kill_after_checkpoint(repo: Path, min_step: int) -> Path:
    """Start `dvc repro train`, SIGKILL dvc and the stage once a complete checkpoint of >= min_step exists."""
    ckpt = repo / "models" / "checkpoints"
    proc = subprocess.Popen([str(Path(sys.executable).parent / "dvc"), "repro", "train"], cwd=repo,
                            env=subprocess_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    deadline = time.monotonic() + 300
    try:
        while proc.poll() is None and time.monotonic() < deadline:
            last = checkpoints.last_complete(ckpt) if ckpt.is_dir() else None
            if last is not None and checkpoints.step_of(last) >= min_step:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=60)
                return last
            time.sleep(0.02)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=60)
    raise AssertionError(f"training ended (exit {proc.returncode}) before a checkpoint of step {min_step} was seen")


def test_killed_training_resumes_on_the_next_repro_and_ends_with_the_same_model(tmp_path, tiny_bert):
    repo = make_repo(tmp_path / "repo", tiny_bert, PARAMS)
    dvc(repo, "repro", "split")
    steps_per_epoch = -(-len(pd.read_csv(repo / "data" / "split" / "train.csv")) // 4)
    killed_at = kill_after_checkpoint(repo, 2 * steps_per_epoch)
    assert not (repo / "reports" / "train" / "summary.json").exists()  # it really was cut short
    assert "changed outs" in dvc(repo, "status", "train").stdout

    out = dvc(repo, "repro", "train")
    assert stages_ran(out.stdout) == ["train"]
    summary = json.loads((repo / "reports" / "train" / "summary.json").read_text())
    assert f"resuming from models/checkpoints/{killed_at.name}" in out.stderr
    assert summary["resumed_from"] == killed_at.name and summary["epochs_trained"] == EPOCHS
    # The curves hold every epoch, those before the kill included (from the checkpoint's trainer state).
    f1 = pd.read_csv(repo / "reports" / "train" / "plots" / "metrics" / "eval" / "f1_macro.tsv", sep="\t")
    assert f1["step"].tolist() == list(range(1, EPOCHS + 1))
    assert sorted(p.name for p in (repo / "models" / "checkpoints").iterdir()) == ["run.json"]
    assert dvc(repo, "status", "train").stdout.strip() == "Data and pipelines are up to date."

    # The same training without interruption (same params, data and seed) gives the same weights.
    cfg = params.load("train", repo / "params.yaml")
    ref = train.run(cfg=cfg, seed=params.load("base", repo / "params.yaml").seed, split_dir=repo / "data" / "split",
                    model_dir=tmp_path / "ref" / "model", reports=tmp_path / "ref" / "reports", checkpoint_dir=tmp_path / "ref" / "ckpt")
    assert ref["best_val_f1_macro"] == summary["best_val_f1_macro"]
    assert (tmp_path / "ref" / "model" / "model.safetensors").read_bytes() == \
        (repo / "models" / "classifier" / "model.safetensors").read_bytes()
