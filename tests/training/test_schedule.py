"""Schedule controls: cosine restarts (train.lr_cycles), gradient clipping (train.max_grad_norm), evaluation and
checkpoints every N optimizer steps (train.eval_steps) with curves, best-step selection and resume."""

import math

import pandas as pd
import pytest

from stages import train
from stages.core import params
from stages.core.errors import ParamsError
from stages.training import checkpoints, controls, diagnostics
from tests.test_train import LEARNS, tiny_cfg, write_splits
from tests.training.test_resume import Crash


def lr_probe(seen):
    from transformers import TrainerCallback

    class Probe(TrainerCallback):
        def on_step_end(self, args, state, control, lr_scheduler=None, **kw):
            seen.append(lr_scheduler.get_last_lr()[0])

    return Probe()


@pytest.mark.parametrize("raw, message", [
    ({"lr_cycles": 0, "lr_scheduler": "cosine_with_restarts"}, "train.lr_cycles must be >= 1 cosine cycles, got 0"),
    ({"lr_cycles": 3, "lr_scheduler": "cosine"}, "train.lr_cycles must be 1 unless train.lr_scheduler is "
                                                 "cosine_with_restarts"),
    ({"max_grad_norm": -1.0}, "train.max_grad_norm must be >= 0 (0: no clipping), got -1.0"),
    ({"eval_steps": -5}, "train.eval_steps must be >= 0 optimizer steps (0: evaluate every epoch), got -5"),
])
def test_invalid_schedule_params_name_key_expected_and_found(raw, message):
    with pytest.raises(ParamsError) as err:
        params.load_dict(raw, "train")
    assert message in str(err.value)


def test_training_args_carry_clipping_cycles_and_step_interval(tmp_path):
    cfg = params.load_dict({"lr_scheduler": "cosine_with_restarts", "lr_cycles": 3, "max_grad_norm": 0.0,
                            "eval_steps": 50}, "train")
    args = controls.training_args(cfg, 0, tmp_path, "fp32", "cpu")
    assert args.max_grad_norm == 0.0 and args.lr_scheduler_kwargs == {"num_cycles": 3}
    assert (args.eval_strategy, args.save_strategy, args.eval_steps, args.save_steps) == ("steps", "steps", 50, 50)
    per_epoch = controls.training_args(params.load_dict({}, "train"), 0, tmp_path, "fp32", "cpu")
    assert per_epoch.eval_strategy == "epoch" and per_epoch.max_grad_norm == 1.0


def test_cosine_with_restarts_restarts_lr_cycles_times(tmp_path, tiny_bert):
    lrs = []
    cfg = tiny_cfg(tiny_bert, max_steps=8, batch_size=4, learning_rate=1e-3, warmup_ratio=0.0,
                   lr_scheduler="cosine_with_restarts", lr_cycles=2)
    train.run(cfg=cfg, seed=0, split_dir=write_splits(tmp_path), model_dir=tmp_path / "m", reports=tmp_path / "r",
              callbacks=[lr_probe(lrs)])
    expected = [1e-3 * 0.5 * (1 + math.cos(math.pi * ((2 * s / 8) % 1.0))) for s in range(1, 8)] + [0.0]  # ends at 0
    assert lrs == pytest.approx(expected, abs=1e-9)
    assert lrs[3] == pytest.approx(1e-3) and lrs[2] < lrs[3]  # back at the peak half-way: a restart


def test_eval_steps_evaluates_checkpoints_and_logs_every_n_steps_and_resumes(tmp_path, tiny_bert):
    # 32 rows, batch 4: 8 steps per epoch, 16 in all; eval_steps 6 evaluates at steps 6, 12 and 16 (the end).
    split, ckpt = write_splits(tmp_path), tmp_path / "ckpt"
    cfg = tiny_cfg(tiny_bert, **{**LEARNS, "epochs": 2}, eval_steps=6, resume=True)

    from transformers import TrainerCallback

    class CrashAtStep(TrainerCallback):
        def on_save(self, args, state, control, **kw):
            if state.global_step >= 12:
                raise Crash("stopped at step 12")

    with pytest.raises(Crash):
        train.run(cfg=cfg, seed=0, split_dir=split, model_dir=tmp_path / "m", reports=tmp_path / "r",
                  checkpoint_dir=ckpt, callbacks=[CrashAtStep()])
    assert checkpoints.last_complete(ckpt).name == "checkpoint-12"
    summary = train.run(cfg=cfg, seed=0, split_dir=split, model_dir=tmp_path / "m", reports=tmp_path / "r",
                        checkpoint_dir=ckpt)
    assert summary["resumed_from"] == "checkpoint-12" and summary["optimizer_steps"] == 16
    curve = pd.read_csv(tmp_path / "r" / "plots" / "metrics" / "eval" / "f1_macro.tsv", sep="\t")
    assert curve["step"].tolist() == [6, 12, 16]  # one point per evaluation, at its optimizer step
    epochs = pd.read_csv(tmp_path / "r" / "plots" / "metrics" / "epoch.tsv", sep="\t")["epoch"].tolist()
    assert epochs == [0.75, 1.5, 2.0]
    assert summary["best_epoch"] in (0.75, 1.5, 2.0)
    loss = pd.read_csv(tmp_path / "r" / "plots" / "metrics" / "loss.tsv", sep="\t")
    assert loss["step"].tolist()[:2] == [6, 12]  # the train loss logged with each evaluation
    assert summary["last_train_loss"] == pytest.approx(loss["loss"].iloc[-1], abs=1e-6)  # the curve's end


def test_epoch_rows_by_step_keep_several_evaluations_per_epoch():
    history = [{"loss": 0.9, "epoch": 0.5, "step": 4}, {"eval_loss": 0.8, "eval_f1_macro": 0.5, "epoch": 0.5, "step": 4},
               {"loss": 0.7, "epoch": 1.0, "step": 8}, {"eval_loss": 0.6, "eval_f1_macro": 0.7, "epoch": 1.0, "step": 8}]
    rows = diagnostics.epoch_rows(history, by_step=True)
    assert [(r["step"], r["epoch"], r["loss"]) for r in rows] == [(4, 0.5, 0.9), (8, 1.0, 0.7)]
    assert [r["step"] for r in diagnostics.epoch_rows(history)] == [1, 2]  # per epoch: the epoch, rising
