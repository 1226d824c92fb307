"""What a user sees while the train stage runs: a progress line with rows/s and ETA, and none of the libraries'
noise (weight-loading bars, the LOAD REPORT table, the Trainer's dict lines)."""

import re
import subprocess
import sys

from testkit import ROOT
from testkit.dvc_repo import subprocess_env
from tests.test_train import write_splits


def test_train_main_logs_progress_with_rows_per_second_and_no_library_noise(tmp_path, tiny_bert):
    split = write_splits(tmp_path)
    (tmp_path / "params.yaml").write_text(f"base: {{seed: 0}}\ntrain: {{model: {tiny_bert}, epochs: 2, "
                                          "batch_size: 4}\n")
    env = {**subprocess_env(), "PYTHONPATH": str(ROOT)}
    for name in ("TRANSFORMERS_VERBOSITY", "HF_HUB_DISABLE_PROGRESS_BARS"):  # as a user's shell has them
        env.pop(name, None)
    proc = subprocess.run([sys.executable, "-m", "stages.train", "--params", "params.yaml", "--split", str(split),
                           "--model", "m", "--reports", "r", "--checkpoints", "c"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = proc.stdout + proc.stderr
    for noise in ("LOAD REPORT", "MISSING", "Loading weights", "Writing model shards", "{'loss'", "{'eval_loss'",
                  "{'train_runtime'"):
        assert noise not in out
    assert proc.stdout == ""
    assert re.search(r"training: 1/16 steps \(6%\), [\d,.]+ rows/s, ETA \d+", proc.stderr), proc.stderr
    assert re.search(r"epoch 1\.00 \(step 8\): val macro-F1 \d\.\d{4}", proc.stderr)
