"""Baselines scored beside the fine-tuned model, each fit on the train split only, with the same class weights as the
fine-tuned model (its train summary) and, for the logistic regressions, C chosen by cross-validation (logreg.py):

- majority: always the most frequent train label (ties: the first label);
- tfidf_lr: TF-IDF word n-grams and character n-grams + logistic regression (the classic bag-of-words baseline);
- frozen_lr: mean-pooled embeddings of the base encoder (`train.model`, no fine-tuning; modeling.embed) +
  logistic regression, which tells how much the fine-tuning itself adds;
- setfit (not in the default list): the base encoder fine-tuned contrastively with the `setfit` package, then
  frozen_lr's head (setfit_baseline.py);
- llm_zero_shot: a chat model's answers, fetched before anything is scored (evaluation/llm_baseline.py); no training;
- real_only (when `train --only-source real` trained one: the train split held real rows): the same fine-tuning
  on the k real train rows alone, scored as it is (models/real_only; the evaluate stage's --real-only).
For a multi-label task (`multi_label`: train labels are label-set cells, core/labelsets.py) each is one vs rest:
majority gives every label its train frequency as probability; the logistic regressions are fit per label (a label
in every or no train row gets a constant probability). The evaluate stage decides baselines at argmax (0.5 per
label for a multi-label task); when the fine-tuned model tuned its decision rule on val (train.decision), the
trained baselines tune theirs on val too (core/decision.py), and real_only decides by the rule saved with it.
Params: evaluate.baselines.* (and evaluate.batch_size for embedding batches).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from stages.core import contracts, decision, labelsets, modeling, params
from stages.core.errors import DataError
from stages.core.text import distinct
from stages.evaluation import logreg, setfit_baseline

log = logging.getLogger(__name__)
REAL_ONLY = "real_only"
TUNED = ("tfidf_lr", "frozen_lr", "setfit")  # trained on probabilities: a decision rule can be tuned for them
Predictor = Callable[[list[str]], Any]


def majority(train_labels: Sequence[str], labels: list[str], multi_label: bool = False) -> Predictor:
    import numpy as np

    if multi_label:
        freq = labelsets.multi_hot(train_labels, labels).mean(0) if len(train_labels) else np.zeros(len(labels))
        return lambda texts: np.tile(freq.astype(float), (len(texts), 1))
    counts = [list(train_labels).count(lab) for lab in labels]
    row = np.eye(len(labels))[int(np.argmax(counts))]
    return lambda texts: np.tile(row, (len(texts), 1))


def search_of(cfg: params.Baselines, seed: int) -> logreg.Search:
    return logreg.Search(tuple(cfg.c_grid), cfg.cv_folds, seed)


def tfidf_lr(cfg: params.Baselines, train_texts: list[str], train_labels: Sequence[str], labels: list[str],
             multi_label: bool = False, class_weights: Sequence[float] | None = None,
             seed: int = 0) -> tuple[Predictor, dict[str, Any]]:
    """TF-IDF (words and characters) + logistic regression; returns the predictor and its cross-validation record."""
    vec = logreg.tfidf_features(cfg.tfidf_max_ngram, cfg.tfidf_char_ngrams)
    predict, cv = logreg.fit(vec.fit_transform(train_texts), train_labels, labels, search_of(cfg, seed),
                             class_weights, multi_label, what="tfidf_lr")
    return lambda texts: predict(vec.transform(texts)), {"cv": cv}


def frozen_lr(cfg: params.Baselines, base_model: str, batch_size: int, train_texts: list[str],
              train_labels: Sequence[str], labels: list[str], multi_label: bool = False, precision: str = "fp32",
              class_weights: Sequence[float] | None = None, seed: int = 0) -> tuple[Predictor, dict[str, Any]]:
    """Standardised mean-pooled embeddings of the untouched encoder + logistic regression; predictor and record."""
    model, tokenizer = modeling.load_encoder(base_model, "the frozen-encoder baseline")

    def embed(texts: list[str]) -> Any:
        return modeling.embed(model, tokenizer, texts, batch_size, cfg.max_length, precision)

    predict, cv = logreg.fit(embed(train_texts), train_labels, labels, search_of(cfg, seed), class_weights,
                             multi_label, scale=True, what="frozen_lr")
    return lambda texts: predict(embed(texts)), {"cv": cv}


def real_only(root: Path, labels: list[str], batch_size: int,
              precision: str = "fp32") -> tuple[Predictor | None, dict[str, Any], float | None]:
    """The model `train --only-source real` left in `root` (contracts.SubsetModel): its predictor with columns in
    the fine-tuned model's label order (a label it never saw: probability 0), its record (k = real_rows) and its
    training seconds; no predictor when it trained none (no real train rows)."""
    import numpy as np

    info = contracts.SubsetModel.read(root / contracts.SUBSET_FILE)
    if not info.trained:
        log.info("%s: not scored (%s)", REAL_ONLY, info.reason)
        return None, {}, None
    model_dir = root / contracts.SUBSET_MODEL
    model = modeling.load_classifier(str(model_dir)).to(modeling.device())
    tokenizer, own = modeling.load_tokenizer(str(model_dir)), modeling.labels_of(model)
    unknown = sorted(set(own) - set(labels))
    if unknown:
        raise DataError(f"{model_dir}: label {unknown[0]!r} is unknown to the fine-tuned model ({', '.join(labels)})")
    columns = [labels.index(lab) for lab in own]

    def predict(texts: list[str]) -> Any:
        out = np.zeros((len(texts), len(labels)))
        out[:, columns] = modeling.predict_proba(model, tokenizer, texts, batch_size, precision=precision)
        return out

    seconds = contracts.TrainSummary.read(root / contracts.SUBSET_REPORTS / "summary.json").train_seconds
    record = {"real_rows": info.train_rows, "val_rows": info.val_rows, "source": info.source}
    return predict, record | {"rule": saved_rule(model, own, labels)}, seconds


def saved_rule(model: Any, own: list[str], labels: list[str]) -> list[float] | None:
    """A trained model's own decision rule in the order of `labels` (its labels `own` a subset): a multi-label
    model's thresholds (0.5 for a label it never saw), a single-label model's offsets (None: argmax; a label it
    never saw has probability 0 and is never chosen whatever its offset)."""
    if modeling.is_multi_label(model):
        mine = dict(zip(own, modeling.thresholds_of(model)))
        return [mine.get(lab, 0.5) for lab in labels]
    offsets = decision.offsets_of(model, own)
    return None if offsets is None else [dict(zip(own, offsets)).get(lab, 0.0) for lab in labels]


def fit_one(name: str, cfg: params.Baselines, base_model: str, batch_size: int, train_texts: list[str],
            train_labels: Sequence[str], labels: list[str], multi_label: bool, llm: Any, precision: str,
            class_weights: Sequence[float] | None, seed: int) -> tuple[Predictor, dict[str, Any]]:
    """One baseline of evaluate.baselines.models, fit: its predictor and its baselines.json record."""
    if name == "majority":
        return majority(train_labels, labels, multi_label), {}
    if name == "llm_zero_shot":
        return llm.predict, {"llm": llm.report}
    weighted = {"class_weights": None if class_weights is None else list(class_weights)}
    if name == "tfidf_lr":
        predict, record = tfidf_lr(cfg, train_texts, train_labels, labels, multi_label, class_weights, seed)
    elif name == "setfit":
        predict, record = setfit_baseline.setfit_lr(cfg, base_model, batch_size, train_texts, train_labels, labels,
                                                    search_of(cfg, seed), class_weights, multi_label)
    else:
        predict, record = frozen_lr(cfg, base_model, batch_size, train_texts, train_labels, labels, multi_label,
                                    precision, class_weights, seed)
    return predict, {**weighted, **record}


def val_for_rules(split_dir: Path, labels: list[str], summary: contracts.TrainSummary | None,
                  multi: bool) -> tuple[list[str], Any] | None:
    """val.csv's texts and label indices when the fine-tuned model tuned its decision rule there (train summary's
    `decision`), so the baselines tune theirs on the same rows; else None."""
    import numpy as np

    if multi or summary is None or summary.decision != "tuned":
        return None
    val = contracts.read_dataset(split_dir / "val.csv", "val split", ("text", "label"))
    return val["text"].tolist(), np.array([labels.index(lab) for lab in val["label"]])


def run_all(cfg: params.Baselines, base_model: str, batch_size: int, train_texts: list[str],
            train_labels: Sequence[str], labels: list[str], sets: list[list[str]],
            multi_label: bool = False, llm: Any = None, precision: str = "fp32",
            class_weights: Sequence[float] | None = None, seed: int = 0,
            real_only_dir: Path | None = None, tune_on: tuple[list[str], Any] | None = None) -> dict[str, dict[str, Any]]:
    """{name: {"proba": [one (n, labels) array per set], "train_seconds": fit time, "record": more baselines.json
    fields}} for cfg.models, then real_only when `real_only_dir` holds a model (`multi_label`: train_labels are
    label-set cells and each baseline is one vs rest); `llm` is llm_baseline.prepare's answers (train_seconds None:
    nothing is trained); `class_weights`: the fine-tuned model's (train summary), None: unweighted; `seed`
    (base.seed) shuffles the cross-validation folds; frozen_lr's encoder runs in `precision` (core/precision).
    `tune_on` (val texts, label indices; the fine-tuned model tuned its decision rule there): each trained baseline
    tunes its own rule on them the same way (record `rule`, core/decision.tune; real_only keeps its saved one).
    Each distinct text of the sets is scored once (a text in several sets, or twice in one, costs one row)."""
    unique, rows = distinct(sets)
    out = {}
    for name in (*cfg.models, *([REAL_ONLY] if real_only_dir is not None else [])):
        start = time.perf_counter()
        if name == REAL_ONLY:
            predict, record, seconds = real_only(real_only_dir, labels, batch_size, precision)
            if predict is None:
                continue
        else:
            predict, record = fit_one(name, cfg, base_model, batch_size, train_texts, train_labels, labels,
                                      multi_label, llm, precision, class_weights, seed)
            seconds = None if name == "llm_zero_shot" else round(time.perf_counter() - start, 1)
        fitted = time.perf_counter()
        scored = predict(unique)
        if tune_on and name in TUNED:  # scored on val too (the LLM baseline holds answers for the sets' texts only)
            record["rule"] = decision.tune(predict(tune_on[0]), tune_on[1])
            record["decision_rule"] = decision.describe(labels, record["rule"])
        out[name] = {"proba": [scored[idx] for idx in rows], "train_seconds": seconds, "record": record}
        how = "loaded" if name == REAL_ONLY else f"fit on {len(train_texts):,} rows"
        log.info("baseline %s: %s in %.1f s, scored %s sets in %.1f s%s", name, how, fitted - start, len(sets),
                 time.perf_counter() - fitted, describe(record))
    return out


def describe(record: dict[str, Any]) -> str:
    """The log line's tail: the C chosen and its cross-validated macro-F1 (and the tuned rule), k real rows."""
    cv = record.get("cv") or {}
    tail = f"; decision rule {record['decision_rule']}" if record.get("decision_rule") else ""
    if cv.get("c") is not None:
        if cv["f1_macro"] is None:
            return f"; C {cv['c']:g} (no cross-validation)" + tail
        return f"; C {cv['c']:g}, cross-validated macro-F1 {cv['f1_macro']:.4f} ({cv['folds']} folds)" + tail
    if "real_rows" in record:
        return f"; trained on the {record['real_rows']:,} real train rows alone"
    return tail
