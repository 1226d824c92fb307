"""The train stage under torchrun: 2 CPU processes (gloo), one loadable model, reports written once by rank 0."""

import json
import subprocess
import sys

import pandas as pd

from testkit import ROOT
from testkit.dvc_repo import subprocess_env
from tests.test_train import write_splits

EPOCHS, BATCH = 2, 4


def test_torchrun_two_processes_on_cpu_train_one_model(tmp_path, tiny_bert):
    from transformers import pipeline

    split = write_splits(tmp_path)
    (tmp_path / "params.yaml").write_text(f"base: {{seed: 42}}\ntrain: {{model: {tiny_bert}, epochs: {EPOCHS}, batch_size: {BATCH}, "
                                          "learning_rate: 0.003, warmup_ratio: 0.0}\n")
    out = {name: tmp_path / name for name in ("model", "reports", "ckpt")}
    env = {**subprocess_env(), "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2", "-m", "stages.train",
         "--params", "params.yaml", "--split", str(split), "--model", str(out["model"]), "--reports",
         str(out["reports"]), "--checkpoints", str(out["ckpt"])],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-3000:]

    summary = json.loads((out["reports"] / "summary.json").read_text())
    assert summary["processes"] == 2
    # Each process sees half of every epoch: 32 rows / (4 rows x 2 processes) = 4 optimizer steps per epoch.
    assert summary["optimizer_steps"] == EPOCHS * 32 // (BATCH * 2) and summary["epochs_trained"] == EPOCHS
    # Written once, by rank 0: one final log line, one DVCLive row per epoch (two writers would double them).
    assert log.count("best val macro-F1") == 1 and log.count(": training ") == 1
    f1 = pd.read_csv(out["reports"] / "plots" / "metrics" / "eval" / "f1_macro.tsv", sep="\t")
    assert f1["step"].tolist() == [1, 2]
    assert sorted(p.name for p in out["ckpt"].iterdir()) == ["run.json"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt", "model", "params.yaml", "reports", "split"]
    clf = pipeline("text-classification", model=str(out["model"]), device="cpu")
    assert clf("city council approved a budget")[0]["label"] in {"clickbait", "factual"}
