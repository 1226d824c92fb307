"""Training checkpoints with train.resume: a crashed run resumes from its last complete checkpoint, but only
under the same params and data (tests/e2e/test_train_resume_dvc.py kills a real `dvc repro` instead)."""

import logging

import pytest

from stages import train
from stages.training import checkpoints


class Crash(Exception):
    pass


def crash_after_epoch(n):
    from transformers import TrainerCallback

    class CrashAfter(TrainerCallback):
        def on_save(self, args, state, control, **kw):  # the epoch's checkpoint is complete
            if state.epoch >= n:
                raise Crash(f"stopped after epoch {n}")

    return CrashAfter()


def test_checkpoints_resume_only_the_same_params_and_data(tmp_path, tiny_bert, caplog):
    from tests.test_train import LEARNS, tiny_cfg, write_splits

    caplog.set_level(logging.INFO, logger="stages")
    split, ckpt = write_splits(tmp_path), tmp_path / "ckpt"
    cfg = tiny_cfg(tiny_bert, **{**LEARNS, "epochs": 3}, resume=True)
    with pytest.raises(Crash):
        train.run(cfg=cfg, seed=0, split_dir=split, model_dir=tmp_path / "m", reports=tmp_path / "r", checkpoint_dir=ckpt, callbacks=[crash_after_epoch(1)])
    assert checkpoints.last_complete(ckpt).name == "checkpoint-8"
    other = tiny_cfg(tiny_bert, **{**LEARNS, "epochs": 3, "learning_rate": 1e-3}, resume=True)
    with pytest.raises(Crash):  # other params: the old checkpoint is deleted, training starts at epoch 0
        train.run(cfg=other, seed=0, split_dir=split, model_dir=tmp_path / "m", reports=tmp_path / "r", checkpoint_dir=ckpt, callbacks=[crash_after_epoch(2)])
    assert "they belong to other params, data or process count" in caplog.text
    assert checkpoints.last_complete(ckpt).name == "checkpoint-16"
    summary = train.run(cfg=other, seed=0, split_dir=split, model_dir=tmp_path / "m", reports=tmp_path / "r", checkpoint_dir=ckpt)  # same params again: resumes
    assert summary["resumed_from"] == "checkpoint-16" and summary["epochs_trained"] == 3.0
    assert summary["train_samples_per_second"] > 0


def test_a_run_that_crashes_mid_way_leaves_the_previous_reports_byte_identical(tmp_path, tiny_bert):
    from tests.test_train import LEARNS, tiny_cfg, write_splits

    split, reports = write_splits(tmp_path), tmp_path / "reports"
    cfg = tiny_cfg(tiny_bert, **{**LEARNS, "epochs": 2})
    train.run(cfg=cfg, seed=0, split_dir=split, model_dir=tmp_path / "m", reports=reports)
    before = {p.relative_to(reports): p.read_bytes() for p in sorted(reports.rglob("*")) if p.is_file()}
    assert {"summary.json", "metrics.json"} <= {str(p) for p in before}
    with pytest.raises(Crash):  # another run: its first epoch is logged, then it dies
        train.run(cfg=tiny_cfg(tiny_bert, **{**LEARNS, "epochs": 3}), seed=1, split_dir=split, model_dir=tmp_path / "m",
                  reports=reports, callbacks=[crash_after_epoch(1)])
    after = {p.relative_to(reports): p.read_bytes() for p in sorted(reports.rglob("*")) if p.is_file()}
    assert after == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m", "reports", "split"]  # no temporary left beside it
