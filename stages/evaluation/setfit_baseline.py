"""The setfit baseline: contrastive fine-tuning of the base encoder (`train.model`) on pairs of train rows with the
`setfit` package (SetFit, Tunstall et al. 2022), then the same head as frozen_lr (standardised mean-pooled embeddings
+ logistic regression with C chosen by cross-validation and the fine-tuned model's class weights; logreg.py), so the
two differ only in the contrastive step. Multi-label: pairs by shared labels (setfit's one-vs-rest), a head per label.
Params: evaluate.baselines.setfit.* (pairs, epochs, batch size, step cap, learning rate), evaluate.baselines.max_length.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable, Sequence
from typing import Any

from stages.core import labelsets, modeling, params
from stages.core.errors import DataError
from stages.evaluation import logreg

log = logging.getLogger(__name__)


def load(base_model: str, multi_label: bool) -> Any:
    """A SetFitModel whose body is `base_model` with mean pooling (what sentence-transformers builds for a plain
    encoder checkpoint, or the checkpoint's own pooling)."""
    try:
        from setfit import SetFitModel
    except ImportError:
        raise DataError("evaluate.baselines.models: setfit needs the `setfit` package (pip install setfit, in "
                        "requirements.lock), which is not installed") from None
    try:
        return SetFitModel.from_pretrained(modeling.resolve_model(base_model), device=modeling.device(),
                                           multi_target_strategy="one-vs-rest" if multi_label else None)
    except (OSError, ValueError, KeyError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise DataError(f"train.model: cannot load {base_model!r} for the setfit baseline ({first})") from None


def train_body(cfg: params.SetFitBaseline, model: Any, texts: list[str], targets: list[Any],
               seed: int) -> dict[str, int]:
    """Contrastive fine-tuning of the body (setfit's embedding phase); returns {pairs (per epoch), steps}."""
    from datasets import Dataset
    from setfit import Trainer, TrainingArguments
    from transformers import PrinterCallback

    with tempfile.TemporaryDirectory(prefix="synthbert-setfit-") as out:
        args = TrainingArguments(output_dir=out, batch_size=cfg.batch_size, num_epochs=cfg.epochs,
                                 num_iterations=cfg.num_iterations, max_steps=cfg.max_steps or -1,
                                 body_learning_rate=cfg.learning_rate, seed=seed, report_to="none",
                                 show_progress_bar=False, logging_strategy="no", save_strategy="no")
        trainer = Trainer(model=model, args=args, train_dataset=Dataset.from_dict({"text": texts, "label": targets}))
        st_args = trainer.st_trainer.args  # setfit passes neither show_progress_bar nor the device on to these
        st_args.disable_tqdm, st_args.dataloader_pin_memory = True, modeling.device() == "cuda"
        trainer.st_trainer.remove_callback(PrinterCallback)
        trainer.train_embeddings(texts, targets, args=args)
        return {"pairs": len(trainer.st_trainer.train_dataset), "steps": int(trainer.st_trainer.state.global_step)}


def setfit_lr(cfg: params.Baselines, base_model: str, batch_size: int, train_texts: list[str],
              train_labels: Sequence[str], labels: list[str], search: logreg.Search,
              class_weights: Sequence[float] | None = None,
              multi_label: bool = False) -> tuple[Callable[[list[str]], Any], dict[str, Any]]:
    """Fit on train; returns texts -> (n, labels) probabilities and the baselines.json record (cv, pairs)."""
    model = load(base_model, multi_label)
    model.model_body.max_seq_length = cfg.max_length
    targets = (labelsets.multi_hot(train_labels, labels).astype(int).tolist() if multi_label
               else [labels.index(lab) for lab in train_labels])
    contrastive = train_body(cfg.setfit, model, list(train_texts), targets, search.seed)

    def embed(texts: list[str]) -> Any:
        return model.model_body.encode(list(texts), batch_size=batch_size, convert_to_numpy=True,
                                       show_progress_bar=False)

    predict, cv = logreg.fit(embed(list(train_texts)), train_labels, labels, search, class_weights, multi_label,
                             scale=True, what="setfit")
    return lambda texts: predict(embed(texts)), {"cv": cv, "setfit": contrastive}
