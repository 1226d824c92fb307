"""Stage train: fine-tune a pretrained encoder for sequence classification with the Hugging Face Trainer.

Reads: <split>/train.csv and <split>/val.csv. Writes: the model directory (Hugging Face format, id2label
in its config, tokenizer, params) and DVCLive logs plus summary.json in the reports directory.
Params: base.seed, train.*. Uses CUDA when present, the CPU otherwise.
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from pathlib import Path
from typing import Any

from stages import cli, modeling, params
from stages.errors import DataError, ParamsError
from stages.io import atomic_dir, read_csv, write_json

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


def check_max_length(cfg: params.Train, model: Any) -> None:
    limit = getattr(model.config, "max_position_embeddings", None)
    if limit is not None and cfg.max_length > limit:
        raise ParamsError(f"params.yaml: train.max_length must be <= {limit} (the limit of {cfg.model}), "
                          f"got {cfg.max_length}")


def compute_metrics(pred: Any) -> dict[str, float]:
    from sklearn.metrics import accuracy_score, f1_score

    logits, y = pred
    y_hat = logits.argmax(-1)
    return {"accuracy": float(accuracy_score(y, y_hat)),
            "f1_macro": float(f1_score(y, y_hat, average="macro", zero_division=0))}


def to_dataset(frame: Any, tokenizer: Any, label2id: dict[str, int], max_length: int) -> Any:
    from datasets import Dataset

    # Truncate only: padding happens per batch (DataCollatorWithPadding), never to a split's longest row.
    enc = tokenizer(frame["text"].tolist(), truncation=True, max_length=max_length)
    return Dataset.from_dict({**enc, "labels": [label2id[lab] for lab in frame["label"]]})


def run(cfg: params.Train, seed: int, split_dir: Path, model_dir: Path, reports: Path) -> dict[str, Any]:
    import torch
    import transformers
    from dvclive import Live
    from transformers import DataCollatorWithPadding, Trainer, TrainingArguments
    from transformers.integrations import DVCLiveCallback

    train_df, val_df, labels = read_splits(split_dir)
    transformers.set_seed(seed)
    tokenizer = modeling.load_tokenizer(cfg.model)
    model = modeling.load_classifier(cfg.model, labels)
    check_max_length(cfg, model)
    label2id = model.config.label2id
    train_ds = to_dataset(train_df, tokenizer, label2id, cfg.max_length)
    val_ds = to_dataset(val_df, tokenizer, label2id, cfg.max_length)
    dev = modeling.device()
    log.info("training %s on %s rows (val %s), %s labels, device %s", cfg.model, f"{len(train_ds):,}",
             f"{len(val_ds):,}", len(labels), dev)

    with tempfile.TemporaryDirectory(prefix="synthbert-ckpt-") as ckpt:
        args = TrainingArguments(
            output_dir=ckpt,
            num_train_epochs=cfg.epochs,
            learning_rate=cfg.learning_rate,
            per_device_train_batch_size=cfg.batch_size,
            per_device_eval_batch_size=cfg.eval_batch_size,
            weight_decay=cfg.weight_decay,
            warmup_steps=cfg.warmup_ratio,  # transformers 5: a float in [0, 1) is a ratio of the steps
            lr_scheduler_type=cfg.lr_scheduler,
            eval_strategy="epoch",
            save_strategy="epoch",
            logging_strategy="epoch",
            save_total_limit=1,
            save_only_model=True,
            load_best_model_at_end=True,
            metric_for_best_model="f1_macro",
            greater_is_better=True,
            train_sampling_strategy="group_by_length",
            seed=seed,
            data_seed=seed,
            report_to="none",
            disable_tqdm=True,
            use_cpu=dev == "cpu",
        )
        # dvcyaml=False: metrics/plots are declared by hand in dvc.yaml; save_dvc_exp=False: the stage is
        # already inside `dvc repro` / `dvc exp run`.
        with Live(str(reports), dvcyaml=False, save_dvc_exp=False) as live:
            trainer = Trainer(
                model=model, args=args, train_dataset=train_ds, eval_dataset=val_ds,
                processing_class=tokenizer, data_collator=DataCollatorWithPadding(tokenizer),
                compute_metrics=compute_metrics, callbacks=[DVCLiveCallback(live=live)],
            )
            start = time.perf_counter()
            result = trainer.train()
            seconds = time.perf_counter() - start
            # The best epoch's validation metrics (load_best_model_at_end restored its weights).
            best = max((e for e in trainer.state.log_history if "eval_f1_macro" in e),
                       key=lambda e: e["eval_f1_macro"])
            live.summary["best_val_f1_macro"] = best["eval_f1_macro"]
        with atomic_dir(model_dir) as tmp:
            trainer.save_model(str(tmp))
            tokenizer.save_pretrained(str(tmp))
            write_json(tmp / "synthbert_params.json", {"seed": seed, "train": params.as_dict(cfg),
                                                       "labels": labels})

    summary = {
        "base_model": cfg.model,
        "device": dev,
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "train_rows": len(train_ds),
        "val_rows": len(val_ds),
        "epochs": cfg.epochs,
        "train_loss": round(float(result.training_loss), 6),
        "best_val_f1_macro": round(float(best["eval_f1_macro"]), 6),
        "best_val_accuracy": round(float(best["eval_accuracy"]), 6),
        "train_seconds": round(seconds, 1),
        "train_samples_per_second": round(len(train_ds) * cfg.epochs / seconds, 1),
    }
    write_json(reports / "summary.json", summary)
    log.info("best val macro-F1 %.4f after %.0f s; model saved to %s", summary["best_val_f1_macro"], seconds,
             model_dir)
    return summary


def main(argv: list[str] | None = None) -> int:
    def add(p: argparse.ArgumentParser) -> None:
        p.add_argument("--split", required=True, type=Path, help="directory with train.csv and val.csv")
        p.add_argument("--model", required=True, type=Path, help="model directory to write")
        p.add_argument("--reports", required=True, type=Path, help="directory for DVCLive logs")

    def body(args: argparse.Namespace) -> None:
        seed = params.load("base", args.params).seed
        run(params.load("train", args.params), seed, args.split, args.model, args.reports)

    return cli.main(__doc__.splitlines()[0], add, body, argv)


if __name__ == "__main__":
    raise SystemExit(main())
