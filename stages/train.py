"""Stage train: fine-tune a pretrained encoder for sequence classification with the Hugging Face Trainer.

Reads: <split>/train.csv, <split>/val.csv and (optional) dataset.json from generate (provider and row counts,
for the model card). Writes: the model directory (Hugging Face format, id2label, tokenizer, params, the model card
README.md), DVCLive per-epoch curves, summary.json and best_val.json (the DVC metric) in the reports directory;
keeps resumable checkpoints in the checkpoint directory. Params: base.seed, train.*. After training, on val
(training/decision_rule.py): a single-label model's decision rule (train.decision) and a multi-label one's per-label
thresholds (dataset.json multi_label: one sigmoid per label, training/multilabel.py) are tuned and saved in
config.json; collapse is checked. Runs on CUDA when present, else the CPU; under `torchrun --nproc-per-node N` as N
processes (rank 0 writes).
`--only-source real`: the same on the real train rows alone (the real_only baseline; training/subset.py).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import logging
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stages.core import cli, contracts, labelsets, modeling, params, provenance
from stages.core.errors import DataError
from stages.core.io import atomic_dir, write_json
from stages.training import checkpoints, controls, decision_rule, diagnostics, modelcard, subset

log = logging.getLogger(__name__)


def read_splits(split_dir: Path, multi_label: bool = False) -> tuple[Any, Any, list[str]]:
    """train.csv, val.csv and the label names of train.csv (with `multi_label`: the names in its label sets)."""
    train = contracts.read_dataset(split_dir / "train.csv", "train split", ("text", "label"))
    val = contracts.read_dataset(split_dir / "val.csv", "val split", ("text", "label"))
    labels = labelsets.label_names(train["label"], multi_label)
    if len(labels) < 2:
        raise DataError(f"{split_dir / 'train.csv'}: need at least two labels, found {', '.join(labels)}")
    unseen = sorted(set(labelsets.label_names(val["label"], multi_label)) - set(labels))
    if unseen:
        raise DataError(f"{split_dir / 'val.csv'}: label {unseen[0]!r} never occurs in train.csv "
                        f"(train labels: {', '.join(labels)})")
    return train, val, labels


def to_dataset(frame: Any, tokenizer: Any, labels: list[str], max_length: int, multi_label: bool = False) -> Any:
    """Tokenized rows with `labels`: the label index, or with `multi_label` a float multi-hot vector (for BCE)."""
    from datasets import Dataset

    # Truncate only: padding happens per batch (DataCollatorWithPadding), never to a split's longest row.
    enc = tokenizer(frame["text"].tolist(), truncation=True, max_length=max_length)
    cells = frame["label"].tolist()
    targets = (labelsets.multi_hot(cells, labels).astype("float32").tolist() if multi_label
               else [labels.index(lab) for lab in cells])
    return Dataset.from_dict({**enc, "labels": targets})


def best_row(rows: list[dict[str, Any]], state: Any, metric: str) -> dict[str, Any]:
    """The evaluation whose weights load_best_model_at_end restored."""
    for row in rows:
        if row.get("global_step") == state.best_global_step:
            return row
    key = f"eval/{metric}"
    return (min if metric == "loss" else max)(rows, key=lambda r: r.get(key, 0.0))


@dataclass
class Prepared:
    """Everything the Trainer needs, built from the split files and train.* before any training step."""

    labels: list[str]
    weights: list[float] | None
    device: str
    precision: str
    model: Any
    tokenizer: Any
    max_length: int
    trainable: int
    total: int
    train_ds: Any
    val_ds: Any
    multi_label: bool = False  # sigmoid per label, BCE with `weights` as pos_weight
    weights_mode: tuple[str, str] = ("none", "")  # the class-weight mode used and why (controls.resolve_class_weights)


def prepare(cfg: params.Train, seed: int, split_dir: Path, multi_label: bool = False) -> Prepared:
    """Read the splits, load the base model and tokenizer, freeze, and tokenize (truncation only)."""
    import transformers

    train_df, val_df, labels = read_splits(split_dir, multi_label)
    mode = controls.resolve_class_weights(cfg.class_weights, labels, train_df["label"].tolist(), multi_label)
    weights = controls.class_weight_values(mode[0], cfg.label_weights, labels, train_df["label"].tolist(), multi_label)
    dev = modeling.device()
    precision = controls.precision_for(cfg.precision, dev)
    transformers.set_seed(seed)
    model = modeling.load_classifier(cfg.model, labels, attn_implementation="sdpa", multi_label=multi_label)
    tokenizer = modeling.load_tokenizer(cfg.model)
    if tokenizer.pad_token is None:
        raise DataError(f"train.model: the tokenizer of {cfg.model!r} has no padding token (a decoder-only "
                        "model?); expected an encoder such as BERT, RoBERTa, DistilBERT or DeBERTa")
    trainable, total = controls.freeze(model, cfg.freeze, cfg.freeze_layers, cfg.model)
    limit = controls.model_limit(model, tokenizer)
    # One token past the limit: a text the model cannot hold whole shows up as longer than it.
    lengths = [len(ids) for ids in tokenizer(train_df["text"].tolist(), truncation=True, max_length=limit + 1)["input_ids"]]
    max_length = controls.choose_max_length([min(n, limit) for n in lengths], cfg.max_length, cfg.length_percentile,
                                            limit, cfg.model)
    diagnostics.log_truncation(lengths, max_length, limit)
    return Prepared(labels, weights, dev, precision, model, tokenizer, max_length, trainable, total,
                    to_dataset(train_df, tokenizer, labels, max_length, multi_label),
                    to_dataset(val_df, tokenizer, labels, max_length, multi_label), multi_label, mode)


def resume_point(cfg: params.Train, args: Any, ckpt: Path, fp: str) -> tuple[Path | None, float]:
    """The checkpoint to resume from (train.resume and a complete one of this run) and its epoch."""
    with args.main_process_first(local=False, desc="checkpoints"):
        if args.process_index == 0:
            checkpoints.prepare(ckpt, fp, cfg.resume)
        resume_from = checkpoints.last_complete(ckpt) if cfg.resume else None
    if resume_from is None:
        return None, 0.0
    epoch = float(json.loads((resume_from / "trainer_state.json").read_text())["epoch"])
    log.info("resuming from %s (epoch %g)", resume_from, epoch)
    return resume_from, epoch


def build_trainer(cfg: params.Train, prep: Prepared, args: Any, live: Any, callbacks: Sequence[Any]) -> Any:
    from transformers import DataCollatorWithPadding, EarlyStoppingCallback, PrinterCallback

    cbs = [diagnostics.live_logger(live, by_step=cfg.eval_steps > 0)] if live is not None else []
    cbs.append(diagnostics.progress_logger(cfg.batch_size * cfg.gradient_accumulation_steps * args.world_size))
    if cfg.early_stopping_patience:
        cbs.append(EarlyStoppingCallback(early_stopping_patience=cfg.early_stopping_patience))
    trainer = controls.make_trainer(
        prep.weights, cfg.label_smoothing, prep.multi_label, model=prep.model, args=args, train_dataset=prep.train_ds,
        eval_dataset=prep.val_ds, processing_class=prep.tokenizer,
        data_collator=DataCollatorWithPadding(prep.tokenizer), compute_metrics=controls.metric_fn(prep.labels, prep.multi_label),
        callbacks=cbs + list(callbacks))
    trainer.remove_callback(PrinterCallback)  # it print()s every log dict to stdout (disable_tqdm=True adds it)
    return trainer


def summarize(cfg: params.Train, prep: Prepared, trainer: Any, result: Any, seconds: float, start_epoch: float,
              resume_from: Path | None, val: decision_rule.ValDecisions) -> contracts.TrainSummary:
    import torch
    import transformers

    rows = diagnostics.epoch_rows(trainer.state.log_history, by_step=cfg.eval_steps > 0)
    best = best_row(rows, trainer.state, cfg.metric_for_best_model)
    state, epochs_done = trainer.state, float(trainer.state.epoch or 0.0)
    return contracts.TrainSummary(
        base_model=cfg.model, device=prep.device, torch=torch.__version__, transformers=transformers.__version__,
        train_rows=len(prep.train_ds), val_rows=len(prep.val_ds), epochs=cfg.epochs,
        train_loss=round(float(result.training_loss), 6), last_train_loss=diagnostics.last_train_loss(state.log_history),
        best_val_f1_macro=round(best["eval/f1_macro"], 6),
        best_val_accuracy=round(best["eval/accuracy"], 6), best_epoch=best["epoch"],
        epochs_trained=round(epochs_done, 4), optimizer_steps=state.global_step,
        stopped_early=bool(cfg.early_stopping_patience) and state.global_step < state.max_steps,
        train_seconds=round(seconds, 1),
        train_samples_per_second=round(len(prep.train_ds) * (epochs_done - start_epoch) / seconds, 1),
        peak_memory_mb=diagnostics.peak_memory_mb(prep.device), processes=trainer.args.world_size,
        precision=prep.precision, max_length=prep.max_length, trainable_parameters=prep.trainable,
        total_parameters=prep.total, class_weights=None if prep.weights is None else [round(w, 6) for w in prep.weights],
        deterministic=cfg.deterministic, resumed_from=resume_from.name if resume_from else None,
        overfitting_warning=diagnostics.rising_val_loss(rows, cfg.overfit_patience),
        undertrained_warning=diagnostics.undertrained(state.global_step, epochs_done, len(prep.train_ds)),
        multi_label=prep.multi_label, thresholds=val.thresholds, class_weights_mode=prep.weights_mode[0],
        class_weights_reason=prep.weights_mode[1], decision=val.decision, decision_offsets=val.offsets,
        decision_rule=val.rule, collapsed=val.collapsed)


def save_model(cfg: params.Train, seed: int, prep: Prepared, trainer: Any, model_dir: Path,
               summary: contracts.TrainSummary, dataset: contracts.DatasetInfo | None) -> None:
    """The model directory, atomically: weights, tokenizer (truncating as trained), params and the card."""
    prep.tokenizer.model_max_length = prep.max_length  # evaluate, explain and predict truncate as training did
    with atomic_dir(model_dir) as tmp:
        trainer.save_model(str(tmp))
        prep.tokenizer.save_pretrained(str(tmp))
        # train.max_length as used (auto resolved), so predict.py truncates the same way.
        write_json(tmp / "synthbert_params.json", {
            "seed": seed, "train": {**params.as_dict(cfg), "max_length": prep.max_length}, "labels": prep.labels,
            "max_length_setting": cfg.max_length, "multi_label": prep.multi_label, "thresholds": summary.thresholds,
            "class_weights_mode": summary.class_weights_mode, "decision_offsets": summary.decision_offsets})
        # The card goes with the model; test metrics come later (evaluate), so it points to them.
        modelcard.write_model_card(tmp, summary, None, dataset, provenance.collect(device=prep.device))


def run(*, cfg: params.Train, seed: int, split_dir: Path, model_dir: Path, reports: Path,
        checkpoint_dir: Path | None = None, dataset: Path | None = None,
        callbacks: Sequence[Any] = (), multi_label: bool | None = None) -> dict[str, Any]:
    """Fine-tune train.model on <split_dir>/train.csv, select on val.csv; write the model and the reports.
    Multi-label when `multi_label` says so, else when dataset.json does (DatasetInfo.multi_label)."""
    import torch
    from dvclive import Live

    data_info = contracts.DatasetInfo.read(dataset) if dataset is not None else None
    if multi_label is None:
        multi_label = bool(data_info and data_info.multi_label)
    prep = prepare(cfg, seed, split_dir, multi_label)
    deterministic_before = torch.are_deterministic_algorithms_enabled()
    with contextlib.ExitStack() as stack:
        ckpt = checkpoint_dir or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="synthbert-ckpt-")))
        args = controls.training_args(cfg, seed, ckpt, prep.precision, prep.device)
        stack.callback(torch.use_deterministic_algorithms, deterministic_before)  # full_determinism sets it
        is_main, world = args.process_index == 0, args.world_size
        if world > 1 and checkpoint_dir is None:
            raise DataError("distributed training needs --checkpoints: a directory that every process sees")
        log_start(cfg, prep, world, is_main)
        fp = checkpoints.fingerprint(params.as_dict(cfg), seed, world, [split_dir / "train.csv", split_dir / "val.csv"])
        resume_from, start_epoch = resume_point(cfg, args, ckpt, fp)
        # DVCLive writes into a temporary directory that replaces `reports` (with summary.json) only when
        # training finished, so a crashed or killed run leaves the previous curves and summary together.
        out = stack.enter_context(atomic_dir(reports)) if is_main else None
        # dvcyaml=False: the plots are declared by hand in dvc.yaml; save_dvc_exp=False: already in dvc repro.
        live = stack.enter_context(Live(str(out), dvcyaml=False, save_dvc_exp=False)) if is_main else None
        trainer = build_trainer(cfg, prep, args, live, callbacks)
        started = time.perf_counter()
        result = trainer.train(resume_from_checkpoint=str(resume_from) if resume_from else None)
        seconds = time.perf_counter() - started
        val = decision_rule.on_val(cfg.decision, trainer, prep.val_ds, prep.labels, prep.multi_label)
        summary = summarize(cfg, prep, trainer, result, seconds, start_epoch, resume_from, val)
        if not is_main:
            log.debug("process %s of %s done; process 0 writes the model and reports", args.process_index, world)
            return summary.to_dict()
        if summary.overfitting_warning:
            log.warning("possible overfitting: %s", summary.overfitting_warning)
        if summary.undertrained_warning:
            log.warning("undertrained: %s", summary.undertrained_warning)
        save_model(cfg, seed, prep, trainer, model_dir, summary, data_info)
        checkpoints.finish(ckpt, fp)
        live.summary.update({k: getattr(summary, k) for k in ("best_val_f1_macro", "best_val_accuracy", "best_epoch")})
        summary.write(out / "summary.json")
        # The DVC metric (dvc.yaml `metrics:`): the kept model's validation score alone, so `dvc exp show` has one
        # column for training (DVCLive's metrics.json holds the last epoch's values, step and loss: not a metric).
        write_json(out / "best_val.json", {"best_val_f1_macro": summary.best_val_f1_macro})
    log.info("best val macro-F1 %.4f (epoch %g) after %.0f s; model saved to %s", summary.best_val_f1_macro,
             summary.best_epoch, summary.train_seconds, model_dir)
    return summary.to_dict()


def log_start(cfg: params.Train, prep: Prepared, world: int, is_main: bool) -> None:
    (log.info if is_main else log.debug)(
        "training %s on %s rows (val %s), %s labels; device %s x %s, %s, max_length %s, %s of %s parameters "
        "trainable", cfg.model, f"{len(prep.train_ds):,}", f"{len(prep.val_ds):,}", len(prep.labels), prep.device,
        world, prep.precision, prep.max_length, f"{prep.trainable:,}", f"{prep.total:,}")


def main(argv: list[str] | None = None) -> int:
    def add(p: argparse.ArgumentParser) -> None:
        p.add_argument("--split", required=True, type=Path, help="directory with train.csv and val.csv")
        p.add_argument("--model", required=True, type=Path, help="model directory to write")
        p.add_argument("--reports", type=Path, help="directory for DVCLive logs and summary.json")
        p.add_argument("--checkpoints", type=Path, help="checkpoint directory kept between runs")
        p.add_argument("--only-source", help="train on this source's rows alone, into --model (the real_only baseline)")
        p.add_argument("--dataset", type=Path, help="dataset.json from generate (provider, rows) for the model card")

    def body(args: argparse.Namespace) -> None:
        seed = params.load("base", args.params).seed
        if args.only_source:  # --model gets subset.json, model/ and train/ (training/subset.py)
            subset.run(args.only_source, args.split, args.model, args.dataset,
                       functools.partial(run, cfg=params.load("train", args.params), seed=seed))
            return
        if not (args.reports and args.checkpoints):
            raise DataError("--reports and --checkpoints are required (unless --only-source)")
        try:
            run(cfg=params.load("train", args.params), seed=seed, split_dir=args.split, model_dir=args.model,
                reports=args.reports, checkpoint_dir=args.checkpoints, dataset=args.dataset)
        finally:  # torchrun: leave the process group cleanly (only if training got that far)
            dist = sys.modules.get("torch.distributed")
            if dist is not None and dist.is_available() and dist.is_initialized():
                dist.destroy_process_group()

    return cli.main(__doc__.splitlines()[0], add, body, argv,
                    example="python -m stages.train --split data/split --model models/classifier --reports reports/train --checkpoints models/checkpoints")  # as dvc.yaml runs it


if __name__ == "__main__":
    raise SystemExit(main())
