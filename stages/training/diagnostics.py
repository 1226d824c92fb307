"""What a reviewer needs from a training run: per-epoch curves (DVCLive), the overfitting warning (validation
loss rising while training loss falls), peak memory. The report stage adds the data-shortcut warning.
"""

from __future__ import annotations

import logging
import math
from typing import Any

log = logging.getLogger(__name__)


def epoch_rows(log_history: list[dict[str, Any]], by_step: bool = False) -> list[dict[str, Any]]:
    """One row per evaluation of the Trainer's log history: step (the epoch, rounded up; with `by_step`,
    train.eval_steps > 0, the optimizer step, as several evaluations fall in one epoch), epoch (fractional
    between epoch ends), the train loss logged last before it, and every eval_* metric, named as DVCLive
    files (`eval/loss`, ...)."""
    rows, train_loss = [], None
    for entry in log_history:
        if "loss" in entry and "eval_loss" not in entry:
            train_loss = float(entry["loss"])
        if "eval_loss" not in entry:
            continue
        epoch = float(entry.get("epoch", len(rows) + 1))
        step = max(int(entry["step"]) if by_step and "step" in entry else math.ceil(epoch - 1e-9),
                   rows[-1]["step"] + 1 if rows else 1)  # rising even when epochs < 1
        row: dict[str, Any] = {"step": step, "global_step": entry.get("step"), "epoch": round(epoch, 4)}
        if train_loss is not None:
            row["loss"] = train_loss
        for key, value in entry.items():
            if key.startswith("eval_") and key not in ("eval_runtime", "eval_samples_per_second",
                                                       "eval_steps_per_second"):
                row["eval/" + key[len("eval_"):]] = float(value)
        rows.append(row)
    return rows


def last_train_loss(log_history: list[dict[str, Any]]) -> float | None:
    """The train loss the Trainer logged last (the training curve's end, rounded to 6 places), not the run's mean
    that train() returns as training_loss; None when it logged none."""
    losses = [float(e["loss"]) for e in log_history if "loss" in e and "eval_loss" not in e]
    return round(losses[-1], 6) if losses else None


def live_logger(live: Any, by_step: bool = False) -> Any:
    """A Trainer callback that writes each evaluation's row (see epoch_rows) to DVCLive, one step per
    evaluation (the epoch, or with `by_step` the optimizer step).

    It reads the log history rather than single log events, so a resumed run also writes the epochs trained
    before the interruption (they come back with the checkpoint's trainer state)."""
    from transformers import TrainerCallback

    class LiveLogger(TrainerCallback):
        written = 0

        def on_evaluate(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            if not state.is_world_process_zero:
                return
            rows = epoch_rows(state.log_history, by_step)
            for row in rows[self.written:]:
                live.step = row["step"]
                for key, value in row.items():
                    if key not in ("step", "global_step"):
                        live.log_metric(key, value)
                headline_summary(live.summary)
                live.make_summary()
            self.written = len(rows)

    return LiveLogger()


def headline_summary(summary: dict[str, Any]) -> dict[str, Any]:
    """DVCLive's summary (reports/train/metrics.json: the last evaluation's values; not a DVC metric, train's is
    best_val.json) without per-label values (`eval.f1_label.<label>`): they stay in their curves
    (plots/metrics/eval/f1_label/). In place."""
    for key in [k for k, v in summary.get("eval", {}).items() if isinstance(v, dict)]:
        del summary["eval"][key]
    return summary


def progress_logger(rows_per_step: int) -> Any:
    """A Trainer callback logging the step, rows/s and ETA on the first step and then every ~10 s
    (stages/core/progress.py): the Trainer's own bar is off and it logs only at evaluations."""
    from transformers import TrainerCallback

    from stages.core.progress import Progress

    class StepProgress(TrainerCallback):
        progress: Progress | None = None

        def on_step_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            if self.progress is None and state.is_world_process_zero:  # the state of a resumed run is loaded now
                self.progress = Progress("training", state.max_steps - state.global_step, "steps", log=log,
                                         rate_unit="rows", per_unit=rows_per_step, first=True)

        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            if self.progress is not None:
                self.progress.update(1, f", epoch {state.epoch:.2f}")

        def on_evaluate(self, args: Any, state: Any, control: Any, metrics: Any = None, **kwargs: Any) -> None:
            if state.is_world_process_zero and metrics:
                log.info("epoch %.2f (step %s): val macro-F1 %.4f, val loss %.4f", state.epoch or 0.0,
                         f"{state.global_step:,}", metrics.get("eval_f1_macro", float("nan")),
                         metrics.get("eval_loss", float("nan")))

    return StepProgress()


def rising_val_loss(rows: list[dict[str, Any]], patience: int) -> str | None:
    """The first run of `patience` evaluations in a row where val loss rose and train loss fell."""
    streak = 0
    for i in range(1, len(rows)):
        prev, cur = rows[i - 1], rows[i]
        if not all(k in r for r in (prev, cur) for k in ("loss", "eval/loss")):
            streak = 0
            continue
        rising = cur["eval/loss"] > prev["eval/loss"] and cur["loss"] < prev["loss"]
        streak = streak + 1 if rising else 0
        if streak >= patience:
            first, last = rows[i - patience], cur
            return (f"validation loss rose for {patience} evaluations in a row (epoch {first['epoch']:g} to "
                    f"{last['epoch']:g}: {first['eval/loss']:.4f} -> {last['eval/loss']:.4f}) while training "
                    f"loss fell ({first['loss']:.4f} -> {last['loss']:.4f})")
    return None


def log_truncation(lengths: list[int], max_length: int, limit: int) -> tuple[int, int]:
    """Count the training texts cut at max_length and those longer than the model can read at all (its position
    limit, e.g. 512 tokens); warn about the latter, which no max_length can keep whole. Returns both counts."""
    over_max = sum(n > max_length for n in lengths)
    over_limit = sum(n > limit for n in lengths)
    if over_limit:
        log.warning("%s of %s training texts are longer than the model's limit of %s tokens and are truncated "
                    "(split long documents, or use a model with a longer context)", f"{over_limit:,}",
                    f"{len(lengths):,}", limit)
    if over_max:
        log.info("%s of %s training texts are longer than max_length %s tokens and are truncated to it",
                 f"{over_max:,}", f"{len(lengths):,}", max_length)
    return over_max, over_limit


MIN_STEPS = 50  # below this many optimizer steps a fine-tuned head has barely moved from its random start


def undertrained(steps: int, epochs: float, train_rows: int) -> str | None:
    """One line when a run made fewer than MIN_STEPS optimizer steps (a 3-label CSV of 108 rows trained 12 steps
    to near-uniform scores), with what would raise the count; None otherwise."""
    if steps >= MIN_STEPS:
        return None
    return (f"only {steps} optimizer steps ({train_rows:,} training rows, {epochs:g} epochs; fewer than "
            f"{MIN_STEPS}): the model is probably undertrained; raise train.epochs, lower train.batch_size or "
            "add rows (generate.n_per_label, or more annotated rows)")


def peak_memory_mb(device: str) -> float:
    """Peak memory of this process: CUDA memory allocated by torch on a GPU, else the peak resident set."""
    if device == "cuda":
        import torch

        return round(torch.cuda.max_memory_allocated() / 2**20, 1)
    import resource
    import sys

    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(rss / (2**20 if sys.platform == "darwin" else 2**10), 1)  # bytes on macOS, KiB on Linux
