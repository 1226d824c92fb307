"""Fine-tuning controls for the train stage: precision choice, max_length from the token-length distribution,
class weights, layer freezing and a Trainer whose loss applies class weights and label smoothing.

Pure helpers; heavy imports (torch, transformers) happen inside the functions that need them.
"""

from __future__ import annotations

import collections
import logging
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from stages.core import params
from stages.core.errors import ParamsError
from stages.core.labelsets import split_labels
from stages.core.precision import cpu_bf16_native, cpu_flags, cpu_reason
from stages.training import multilabel

log = logging.getLogger(__name__)


# Whether `train.precision: auto` picks bf16 autocast on a CPU with native bf16: on since benchmarks/train.py showed
# test macro-F1 parity over 5 seeds on the default task and on its long-text split (issue 15; benchmarks/README.md).
CPU_AUTO_BF16 = True


def choose_precision(requested: str, device: str, capability: tuple[int, int] | None = None,
                     cpu_bf16: bool = False) -> str:
    """fp32, bf16 or fp16 for `train.precision` on `device` ("cuda" | "cpu").

    `capability` is the CUDA compute capability: bf16 runs natively from Ampere (8.0) on. (torch's
    `is_bf16_supported()` also says yes on older GPUs, where bf16 is emulated and slow.) `cpu_bf16`: the CPU
    runs bf16 natively (cpu_bf16_native); auto picks bf16 there only when CPU_AUTO_BF16 is on.
    """
    native_bf16 = device == "cuda" and capability is not None and capability >= (8, 0)
    if requested == "auto":
        if device != "cuda":
            return "bf16" if cpu_bf16 and CPU_AUTO_BF16 else "fp32"
        return "bf16" if native_bf16 else "fp16"
    if requested == "fp16" and device != "cuda":
        raise ParamsError(f"params.yaml: train.precision fp16 needs a CUDA GPU (device is {device}); "
                          "use auto, fp32 or bf16")
    if requested == "bf16" and device == "cuda" and not native_bf16:
        raise ParamsError(f"params.yaml: train.precision bf16 needs a GPU of compute capability >= 8.0 "
                          f"(this one is {'.'.join(map(str, capability or ()))}); use auto or fp16")
    return requested


def precision_for(requested: str, device: str) -> str:
    """choose_precision for this machine, the choice logged with what decided it."""
    flags = cpu_flags() if device != "cuda" else ""
    chosen = choose_precision(requested, device, device_capability(device), cpu_bf16_native(flags))
    if device != "cuda":
        log.info("precision %s (train.precision %s): %s", chosen, requested, cpu_reason(flags))
    return chosen


def device_capability(device: str) -> tuple[int, int] | None:
    import torch

    return tuple(torch.cuda.get_device_capability()) if device == "cuda" else None  # type: ignore[return-value]


def model_limit(model: Any, tokenizer: Any) -> int:
    """The longest input the model accepts: its position embeddings, or the tokenizer's limit if lower."""
    limits = [getattr(model.config, "max_position_embeddings", None), getattr(tokenizer, "model_max_length", None)]
    usable = [int(x) for x in limits if isinstance(x, int) and 0 < x < 100_000]  # tokenizers use 1e30 for "none"
    return min(usable) if usable else 512


def choose_max_length(lengths: Sequence[int], configured: int, percentile: float, limit: int, model: str) -> int:
    """`train.max_length` when set (checked against the model's limit), else the `percentile` of the training
    texts' token counts rounded up to a multiple of 8, capped by the limit."""
    if configured:
        if configured > limit:
            raise ParamsError(f"params.yaml: train.max_length must be <= {limit} (the limit of {model}), "
                              f"got {configured}")
        return configured
    import numpy as np

    # inverted_cdf: the shortest length that at least `percentile` % of the texts fit in whole.
    value = int(np.percentile(np.asarray(lengths, dtype=np.int64), percentile, method="inverted_cdf"))
    return max(8, min(limit, 8 * math.ceil(value / 8)))


# train.class_weights auto: balanced when the label with the most rows has at least this many times the rows of the
# label with the fewest (multi-label: positive rows per label), else none.
IMBALANCE_RATIO = 3.0


def label_counts(labels: Sequence[str], train_labels: Sequence[str], multi_label: bool = False) -> dict[str, int]:
    """Rows per label of train.csv (multi-label: rows carrying the label, its positives), in `labels` order."""
    if multi_label:
        counts = collections.Counter(lab for cell in train_labels for lab in split_labels(cell))
    else:
        counts = collections.Counter(train_labels)
    return {lab: counts[lab] for lab in labels}


def resolve_class_weights(mode: str, labels: Sequence[str], train_labels: Sequence[str],
                          multi_label: bool = False) -> tuple[str, str]:
    """The class-weight mode used (none | balanced | explicit) and why, logged: `train.class_weights` itself unless
    it is auto, which picks balanced when the largest label has >= IMBALANCE_RATIO x the rows of the smallest."""
    requested = mode
    if mode != "auto":
        reason = "set in params.yaml"
    else:
        counts = label_counts(labels, train_labels, multi_label)
        large = max(counts, key=lambda lab: (counts[lab], lab))
        small = min(counts, key=lambda lab: (counts[lab], lab))
        ratio = counts[large] / max(counts[small], 1)
        mode = "balanced" if ratio >= IMBALANCE_RATIO else "none"
        shown = f"{ratio:.1f}"
        if (float(shown) >= IMBALANCE_RATIO) != (ratio >= IMBALANCE_RATIO):  # 2.96 is not "3.0x"
            shown = f"{ratio:.3f}"
        rows = "positive rows" if multi_label else "rows"
        reason = (f"largest label {large} has {counts[large]:,} {rows}, {shown}x the smallest, {small} "
                  f"{counts[small]:,} (balanced from {IMBALANCE_RATIO:g}x)")
    log.info("class weights %s (train.class_weights %s): %s", mode, requested, reason)
    return mode, reason


def class_weight_values(mode: str, explicit: dict[str, float], labels: Sequence[str], train_labels: Sequence[str],
                        multi_label: bool = False) -> list[float] | None:
    """Loss weight per label index: None (unweighted), `balanced` or the explicit train.label_weights (one for
    every label of train.csv, no other). Single-label: cross-entropy weights, balanced = n / (k * n_label).
    Multi-label (`train_labels` are label-set cells): BCE pos_weight, balanced = negatives / positives of the
    label (1.0 for a label every row carries, which has no negatives to balance). `auto`: resolve_class_weights."""
    if mode == "auto":
        mode, _ = resolve_class_weights(mode, labels, train_labels, multi_label)
    if mode == "none":
        return None
    if mode == "balanced":
        n = len(train_labels)
        if multi_label:
            counts = collections.Counter(lab for cell in train_labels for lab in split_labels(cell))
            return [(n - counts[lab]) / counts[lab] if n > counts[lab] else 1.0 for lab in labels]
        counts = collections.Counter(train_labels)
        return [n / (len(labels) * counts[lab]) for lab in labels]
    unknown = sorted(set(explicit) - set(labels))
    if unknown:
        raise ParamsError(f"params.yaml: train.label_weights.{unknown[0]} names no label of train.csv "
                          f"(labels: {', '.join(labels)})")
    missing = [lab for lab in labels if lab not in explicit]
    if missing:
        raise ParamsError(f"params.yaml: train.label_weights must give a weight for every label of train.csv, "
                          f"got none for {missing[0]!r}")
    return [float(explicit[lab]) for lab in labels]


def encoder_layers(base: Any) -> Any:
    """The ModuleList of transformer blocks of a base model (BERT/RoBERTa/ELECTRA/DeBERTa, DistilBERT, ...)."""
    import torch

    for path in ("encoder.layer", "transformer.layer", "encoder.layers", "layers", "layer"):
        obj = base
        for part in path.split("."):
            obj = getattr(obj, part, None)
        if isinstance(obj, torch.nn.ModuleList):
            return obj
    return None


def freeze(model: Any, mode: str, n: int, name: str) -> tuple[int, int]:
    """Set requires_grad per `train.freeze`; return (trainable, total) parameter counts."""
    if mode != "none":
        base = model.base_model
        layers = encoder_layers(base)
        if layers is None and mode != "all_but_head":
            raise ParamsError(f"params.yaml: train.freeze {mode} needs encoder layers, but {name} "
                              f"({type(base).__name__}) has none that this stage can find; use all_but_head")
        count = len(layers) if layers is not None else 0
        if mode != "all_but_head" and n > count:
            raise ParamsError(f"params.yaml: train.freeze_layers must be <= {count} (the encoder layers of "
                              f"{name}), got {n}")
        if mode == "all_but_head":
            frozen = [base]
        elif mode == "embeddings_and_first":
            frozen = [getattr(base, "embeddings", None), *list(layers)[:n]]
        else:  # all_but_last: everything in the base model but the last n layers and the pooler
            keep = {id(p) for m in [*list(layers)[count - n:], getattr(base, "pooler", None)] if m is not None
                    for p in m.parameters()}
            frozen = [p for p in base.parameters() if id(p) not in keep]
        for item in frozen:
            if item is None:
                continue
            for p in (item.parameters() if hasattr(item, "parameters") else [item]):
                p.requires_grad_(False)
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return trainable, total


def make_trainer(weights: Sequence[float] | None, label_smoothing: float, multi_label: bool = False,
                 **kwargs: Any) -> Any:
    """A Trainer whose loss is cross-entropy with class weights and label smoothing (with `multi_label`:
    multilabel.bce_loss, binary cross-entropy with `weights` as pos_weight), and whose evaluation runs under
    torch.inference_mode."""
    import torch
    import torch.nn.functional as F
    from transformers import Trainer

    class ClassifierTrainer(Trainer):
        loss_is_scaled_for_ga = False  # a per-batch mean: the Trainer divides it by the accumulation steps

        def compute_loss(self, model: Any, inputs: dict[str, Any], return_outputs: bool = False,
                         num_items_in_batch: Any = None) -> Any:
            inputs = dict(inputs)
            labels = inputs.pop("labels")
            outputs = model(**inputs)
            logits = outputs.logits.float()
            if multi_label:
                loss = multilabel.bce_loss(logits, labels, weights, label_smoothing)
                return (loss, outputs) if return_outputs else loss
            w = None if weights is None else torch.tensor(weights, dtype=logits.dtype, device=logits.device)
            loss = F.cross_entropy(logits, labels, weight=w, label_smoothing=label_smoothing)
            return (loss, outputs) if return_outputs else loss

        def prediction_step(self, *args: Any, **kw: Any) -> Any:
            with torch.inference_mode():
                return super().prediction_step(*args, **kw)

    return ClassifierTrainer(**kwargs)


def metric_fn(labels: Sequence[str], multi_label: bool = False) -> Any:
    """compute_metrics for the Trainer: accuracy, macro-F1 and the F1 of each label (`f1_label/<label>`);
    for a multi-label model multilabel.metric_fn (subset accuracy, mean per-label F1, micro-F1)."""
    names = [label_key(lab) for lab in labels]
    if multi_label:
        return multilabel.metric_fn(labels, names)

    def compute(pred: Any) -> dict[str, float]:
        from sklearn.metrics import accuracy_score, f1_score

        logits, y = pred
        y_hat = logits.argmax(-1)
        per = f1_score(y, y_hat, labels=list(range(len(labels))), average=None, zero_division=0)
        return {"accuracy": float(accuracy_score(y, y_hat)),
                "f1_macro": float(f1_score(y, y_hat, average="macro", zero_division=0)),
                **{f"f1_label/{n}": float(v) for n, v in zip(names, per)}}

    return compute


def label_key(label: str) -> str:
    """A label as a metric / file name: letters, digits, '.', '-' and '_' only."""
    import re

    return re.sub(r"[^\w.-]", "_", label) or "_"


def check_trackers(report_to: Sequence[str]) -> None:
    """Each tracker of train.report_to importable, as its Trainer callback requires (else a traceback at its start)."""
    from transformers import integrations

    for name in report_to:
        if not getattr(integrations, f"is_{name}_available")():
            raise ParamsError(f"params.yaml: train.report_to lists {name}, whose package is not installed here "
                              f"(pip install {name}), or remove it")


def training_args(cfg: params.Train, seed: int, out: Path, precision: str, dev: str) -> Any:
    """The Trainer's arguments from train.* (evaluation and checkpoint interval, schedule, precision, devices)."""
    from transformers import TrainingArguments

    check_trackers(cfg.report_to)
    interval = "steps" if cfg.eval_steps else "epoch"
    return TrainingArguments(
        output_dir=str(out), num_train_epochs=cfg.epochs, max_steps=cfg.max_steps or -1,
        learning_rate=cfg.learning_rate, optim="adamw_torch_fused", weight_decay=cfg.weight_decay,
        per_device_train_batch_size=cfg.batch_size, per_device_eval_batch_size=cfg.eval_batch_size,
        gradient_accumulation_steps=cfg.gradient_accumulation_steps,
        warmup_steps=cfg.warmup_ratio,  # transformers 5: a float in [0, 1) is a ratio of the steps
        lr_scheduler_type=cfg.lr_scheduler, max_grad_norm=cfg.max_grad_norm,
        # transformers' default num_cycles=1 for hard restarts: the curve would equal plain cosine.
        lr_scheduler_kwargs={"num_cycles": cfg.lr_cycles} if cfg.lr_scheduler == "cosine_with_restarts" else None,
        # Every eval_steps optimizer steps (loss logged with each evaluation), else once per epoch.
        eval_strategy=interval, save_strategy=interval, logging_strategy=interval,
        eval_steps=cfg.eval_steps or None, save_steps=cfg.eval_steps or 500, logging_steps=cfg.eval_steps or 500,
        save_total_limit=1, save_only_model=not cfg.resume,  # optimizer state only when it may be resumed
        load_best_model_at_end=True, metric_for_best_model=cfg.metric_for_best_model,
        greater_is_better=cfg.metric_for_best_model != "loss", restore_callback_states_from_checkpoint=True,
        train_sampling_strategy="group_by_length",  # batches of similar length: little padding
        bf16=precision == "bf16", fp16=precision == "fp16", full_determinism=cfg.deterministic,
        seed=seed, data_seed=seed, disable_tqdm=True,
        report_to=list(cfg.report_to) or "none",  # trackers beside DVCLive, whose callback train.py adds itself
        use_cpu=dev == "cpu", dataloader_pin_memory=dev == "cuda", ddp_find_unused_parameters=False,
        ddp_backend="gloo" if dev == "cpu" and int(os.environ.get("WORLD_SIZE", "1")) > 1 else None,  # torchrun
    )
