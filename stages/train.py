"""Stage train: fine-tune a pretrained encoder for sequence classification with the Hugging Face Trainer.

Reads: <split>/train.csv, <split>/val.csv and (optional) the data report (shortcut_warning, provider, row
counts). Writes: the model directory (Hugging Face format, id2label, tokenizer, params, the model card
README.md), DVCLive per-epoch curves and summary.json in the reports directory; keeps resumable checkpoints
in the checkpoint directory. Params: base.seed, train.*.
Runs on CUDA when present, else the CPU; under `torchrun --nproc-per-node N` as N processes (rank 0 writes).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from stages.core import cli, modeling, params
from stages.training import checkpoints, controls, diagnostics, modelcard
from stages.core.errors import DataError
from stages.core.io import atomic_dir, read_csv, write_json

log = logging.getLogger(__name__)


def read_splits(split_dir: Path) -> tuple[Any, Any, list[str]]:
    train = read_csv(split_dir / "train.csv", columns=("text", "label"), what="train split")
    val = read_csv(split_dir / "val.csv", columns=("text", "label"), what="val split")
    labels = sorted(set(train["label"]))
    if len(labels) < 2:
        raise DataError(f"{split_dir / 'train.csv'}: need at least two labels, found {', '.join(labels)}")
    unseen = sorted(set(val["label"]) - set(labels))
    if unseen:
        raise DataError(f"{split_dir / 'val.csv'}: label {unseen[0]!r} never occurs in train.csv "
                        f"(train labels: {', '.join(labels)})")
    return train, val, labels


def to_dataset(frame: Any, tokenizer: Any, label2id: dict[str, int], max_length: int) -> Any:
    from datasets import Dataset

    # Truncate only: padding happens per batch (DataCollatorWithPadding), never to a split's longest row.
    enc = tokenizer(frame["text"].tolist(), truncation=True, max_length=max_length)
    return Dataset.from_dict({**enc, "labels": [label2id[lab] for lab in frame["label"]]})


def training_args(cfg: params.Train, seed: int, out: Path, precision: str, dev: str) -> Any:
    from transformers import TrainingArguments

    return TrainingArguments(
        output_dir=str(out), num_train_epochs=cfg.epochs, max_steps=cfg.max_steps or -1,
        learning_rate=cfg.learning_rate, optim="adamw_torch_fused", weight_decay=cfg.weight_decay,
        per_device_train_batch_size=cfg.batch_size, per_device_eval_batch_size=cfg.eval_batch_size,
        gradient_accumulation_steps=cfg.gradient_accumulation_steps,
        warmup_steps=cfg.warmup_ratio,  # transformers 5: a float in [0, 1) is a ratio of the steps
        lr_scheduler_type=cfg.lr_scheduler,
        eval_strategy="epoch", save_strategy="epoch", logging_strategy="epoch",
        save_total_limit=1, save_only_model=not cfg.resume,  # optimizer state only when it may be resumed
        load_best_model_at_end=True, metric_for_best_model=cfg.metric_for_best_model,
        greater_is_better=cfg.metric_for_best_model != "loss", restore_callback_states_from_checkpoint=True,
        train_sampling_strategy="group_by_length",  # batches of similar length: little padding
        bf16=precision == "bf16", fp16=precision == "fp16", full_determinism=cfg.deterministic,
        seed=seed, data_seed=seed, report_to="none", disable_tqdm=True,
        use_cpu=dev == "cpu", dataloader_pin_memory=dev == "cuda", ddp_find_unused_parameters=False,
        ddp_backend="gloo" if dev == "cpu" and int(os.environ.get("WORLD_SIZE", "1")) > 1 else None,  # torchrun
    )


def best_row(rows: list[dict[str, Any]], state: Any, metric: str) -> dict[str, Any]:
    """The evaluation whose weights load_best_model_at_end restored."""
    for row in rows:
        if row.get("global_step") == state.best_global_step:
            return row
    key = f"eval/{metric}"
    return (min if metric == "loss" else max)(rows, key=lambda r: r.get(key, 0.0))


def run(cfg: params.Train, seed: int, split_dir: Path, model_dir: Path, reports: Path,
        checkpoint_dir: Path | None = None, quality: Path | None = None,
        callbacks: Sequence[Any] = ()) -> dict[str, Any]:
    import torch
    import transformers
    from dvclive import Live
    from transformers import DataCollatorWithPadding, EarlyStoppingCallback

    train_df, val_df, labels = read_splits(split_dir)
    data_report = diagnostics.read_data_report(quality)  # shortcut warning; provider and rows for the card
    shortcut = diagnostics.shortcut_fired(data_report)
    weights = controls.class_weight_values(cfg.class_weights, cfg.label_weights, labels,
                                           train_df["label"].tolist())
    dev = modeling.device()
    precision = controls.choose_precision(cfg.precision, dev, controls.device_capability(dev))
    transformers.set_seed(seed)
    model = modeling.load_classifier(cfg.model, labels, attn_implementation="sdpa")
    tokenizer = modeling.load_tokenizer(cfg.model)
    if tokenizer.pad_token is None:
        raise DataError(f"train.model: the tokenizer of {cfg.model!r} has no padding token (a decoder-only "
                        "model?); expected an encoder such as BERT, RoBERTa, DistilBERT or DeBERTa")
    trainable, total = controls.freeze(model, cfg.freeze, cfg.freeze_layers, cfg.model)
    limit = controls.model_limit(model, tokenizer)
    enc = tokenizer(train_df["text"].tolist(), truncation=True, max_length=limit)
    lengths = [len(ids) for ids in enc["input_ids"]]
    max_length = controls.choose_max_length(lengths, cfg.max_length, cfg.length_percentile, limit, cfg.model)
    train_ds = to_dataset(train_df, tokenizer, model.config.label2id, max_length)
    val_ds = to_dataset(val_df, tokenizer, model.config.label2id, max_length)
    deterministic_before = torch.are_deterministic_algorithms_enabled()

    with contextlib.ExitStack() as stack:
        ckpt = checkpoint_dir or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="synthbert-ckpt-")))
        args = training_args(cfg, seed, ckpt, precision, dev)
        stack.callback(torch.use_deterministic_algorithms, deterministic_before)  # full_determinism sets it
        main, world = args.process_index == 0, args.world_size
        if world > 1 and checkpoint_dir is None:
            raise DataError("distributed training needs --checkpoints: a directory that every process sees")
        (log.info if main else log.debug)(
            "training %s on %s rows (val %s), %s labels; device %s x %s, %s, max_length %s, %s of %s "
            "parameters trainable", cfg.model, f"{len(train_ds):,}", f"{len(val_ds):,}", len(labels), dev, world,
            precision, max_length, f"{trainable:,}", f"{total:,}")
        fp = checkpoints.fingerprint(params.as_dict(cfg), seed, world,
                                     [split_dir / "train.csv", split_dir / "val.csv"])
        with args.main_process_first(local=False, desc="checkpoints"):
            if main:
                checkpoints.prepare(ckpt, fp, cfg.resume)
            resume_from = checkpoints.last_complete(ckpt) if cfg.resume else None
        start_epoch = 0.0
        if resume_from is not None:
            start_epoch = float(json.loads((resume_from / "trainer_state.json").read_text())["epoch"])
            log.info("resuming from %s (epoch %g)", resume_from, start_epoch)
        # dvcyaml=False: the plots are declared by hand in dvc.yaml; save_dvc_exp=False: already in dvc repro.
        live = stack.enter_context(Live(str(reports), dvcyaml=False, save_dvc_exp=False)) if main else None
        cbs = [diagnostics.live_logger(live)] if main else []
        if cfg.early_stopping_patience:
            cbs.append(EarlyStoppingCallback(early_stopping_patience=cfg.early_stopping_patience))
        trainer = controls.make_trainer(
            weights, cfg.label_smoothing, model=model, args=args, train_dataset=train_ds, eval_dataset=val_ds,
            processing_class=tokenizer, data_collator=DataCollatorWithPadding(tokenizer),
            compute_metrics=controls.metric_fn(labels), callbacks=cbs + list(callbacks))
        started = time.perf_counter()
        result = trainer.train(resume_from_checkpoint=str(resume_from) if resume_from else None)
        seconds = time.perf_counter() - started
        rows = diagnostics.epoch_rows(trainer.state.log_history)
        best = best_row(rows, trainer.state, cfg.metric_for_best_model)
        epochs_done = float(trainer.state.epoch or 0.0)
        summary = {
            "base_model": cfg.model, "device": dev, "torch": torch.__version__,
            "transformers": transformers.__version__, "train_rows": len(train_ds), "val_rows": len(val_ds),
            "epochs": cfg.epochs, "train_loss": round(float(result.training_loss), 6),
            "best_val_f1_macro": round(best["eval/f1_macro"], 6),
            "best_val_accuracy": round(best["eval/accuracy"], 6),
            "best_epoch": best["epoch"], "epochs_trained": round(epochs_done, 4),
            "optimizer_steps": trainer.state.global_step,
            "stopped_early": bool(cfg.early_stopping_patience) and trainer.state.global_step < trainer.state.max_steps,
            "train_seconds": round(seconds, 1),
            "train_samples_per_second": round(len(train_ds) * (epochs_done - start_epoch) / seconds, 1),
            "peak_memory_mb": diagnostics.peak_memory_mb(dev), "processes": world, "precision": precision,
            "max_length": max_length, "trainable_parameters": trainable, "total_parameters": total,
            "class_weights": None if weights is None else [round(w, 6) for w in weights],
            "deterministic": cfg.deterministic, "resumed_from": resume_from.name if resume_from else None,
            "overfitting_warning": diagnostics.overfitting_warning(
                rows, cfg.overfit_patience, best["eval/f1_macro"], cfg.near_perfect_f1, shortcut),
        }
        if not main:
            log.debug("process %s of %s done; process 0 writes the model and reports", args.process_index, world)
            return summary
        if summary["overfitting_warning"]:
            log.warning("possible overfitting: %s", summary["overfitting_warning"])
        tokenizer.model_max_length = max_length  # evaluate, explain and predict truncate as training did
        with atomic_dir(model_dir) as tmp:
            trainer.save_model(str(tmp))
            tokenizer.save_pretrained(str(tmp))
            # train.max_length as used (auto resolved), so predict.py truncates the same way.
            write_json(tmp / "synthbert_params.json", {
                "seed": seed, "train": {**params.as_dict(cfg), "max_length": max_length}, "labels": labels,
                "max_length_setting": cfg.max_length})
            # The card goes with the model; test metrics come later (evaluate), so it points to them.
            modelcard.write_model_card(tmp, summary, None, data_report or None)
        checkpoints.finish(ckpt, fp)
        live.summary.update({k: summary[k] for k in ("best_val_f1_macro", "best_val_accuracy", "best_epoch")})
    write_json(reports / "summary.json", summary)
    log.info("best val macro-F1 %.4f (epoch %g) after %.0f s; model saved to %s", summary["best_val_f1_macro"],
             summary["best_epoch"], seconds, model_dir)
    return summary


def main(argv: list[str] | None = None) -> int:
    def add(p: argparse.ArgumentParser) -> None:
        p.add_argument("--split", required=True, type=Path, help="directory with train.csv and val.csv")
        p.add_argument("--model", required=True, type=Path, help="model directory to write")
        p.add_argument("--reports", required=True, type=Path, help="directory for DVCLive logs and summary.json")
        p.add_argument("--checkpoints", required=True, type=Path, help="checkpoint directory kept between runs")
        p.add_argument("--quality", type=Path, help="the data report (quality.json) with shortcut_warning")

    def body(args: argparse.Namespace) -> None:
        seed = params.load("base", args.params).seed
        try:
            run(params.load("train", args.params), seed, args.split, args.model, args.reports, args.checkpoints,
                args.quality)
        finally:  # torchrun: leave the process group cleanly (only if training got that far)
            dist = sys.modules.get("torch.distributed")
            if dist is not None and dist.is_available() and dist.is_initialized():
                dist.destroy_process_group()

    return cli.main(__doc__.splitlines()[0], add, body, argv)


if __name__ == "__main__":
    raise SystemExit(main())
