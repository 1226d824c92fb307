"""Baselines scored beside the fine-tuned model, each fit on the train split only.

- majority: always the most frequent train label (ties: the first label);
- tfidf_lr: TF-IDF word n-grams + logistic regression (the classic bag-of-words baseline);
- frozen_lr: mean-pooled embeddings of the base encoder (`train.model`, no fine-tuning; modeling.embed) +
  logistic regression, which tells how much the fine-tuning itself adds;
- llm_zero_shot: a chat model's answers, fetched before anything is scored (evaluation/llm_baseline.py); no training.
For a multi-label task (`multi_label`: train labels are label-set cells, core/labelsets.py) each is one vs rest:
majority gives every label its train frequency as probability; the logistic regressions are fit per label
(sklearn OneVsRestClassifier; a label in every or no train row gets a constant probability). The evaluate
stage decides at 0.5.
Params: evaluate.baselines.* (and evaluate.batch_size for embedding batches).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from stages.core import labelsets, modeling, params
from stages.core.errors import DataError
from stages.core.text import distinct

log = logging.getLogger(__name__)


def _columns(clf: Any, labels: list[str], proba: Any) -> Any:
    """Reorder a fitted classifier's predict_proba columns to `labels` (labels it never saw get 0)."""
    import numpy as np

    out = np.zeros((proba.shape[0], len(labels)))
    for j, lab in enumerate(clf.classes_):
        out[:, labels.index(lab)] = proba[:, j]
    return out


def _fit(estimator: Any, features: Any, train_labels: Sequence[str], labels: list[str],
         multi_label: bool) -> Callable[[Any], Any]:
    """Fit `estimator` on the features; returns features -> (n, labels) probabilities (one vs rest for a
    multi-label task, a softmax-like row otherwise)."""
    import warnings

    from sklearn.multiclass import OneVsRestClassifier

    if not multi_label:
        estimator.fit(features, list(train_labels))
        return lambda x: _columns(estimator, labels, estimator.predict_proba(x))
    clf = OneVsRestClassifier(estimator)
    with warnings.catch_warnings():  # "Label not k is present in all training examples": constant, as documented
        warnings.filterwarnings("ignore", message="Label .* is present in all training examples")
        clf.fit(features, labelsets.multi_hot(train_labels, labels))
    return lambda x: clf.predict_proba(x)


def majority(train_labels: Sequence[str], labels: list[str], multi_label: bool = False) -> Callable[[list[str]], Any]:
    import numpy as np

    if multi_label:
        freq = labelsets.multi_hot(train_labels, labels).mean(0) if len(train_labels) else np.zeros(len(labels))
        return lambda texts: np.tile(freq.astype(float), (len(texts), 1))
    counts = [list(train_labels).count(lab) for lab in labels]
    row = np.eye(len(labels))[int(np.argmax(counts))]
    return lambda texts: np.tile(row, (len(texts), 1))


def tfidf_lr(cfg: params.Baselines, train_texts: list[str], train_labels: Sequence[str],
             labels: list[str], multi_label: bool = False) -> Callable[[list[str]], Any]:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    vec = TfidfVectorizer(ngram_range=(1, cfg.tfidf_max_ngram), sublinear_tf=True, lowercase=True)
    predict = _fit(LogisticRegression(C=cfg.c, max_iter=2000), vec.fit_transform(train_texts), train_labels, labels,
                   multi_label)
    return lambda texts: predict(vec.transform(texts))


def load_encoder(name: str) -> tuple[Any, Any]:
    """The base encoder without a classification head, and its tokenizer."""
    from transformers import AutoModel

    source = modeling.resolve_model(name)
    try:
        model = AutoModel.from_pretrained(source)
    except (OSError, ValueError, KeyError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise DataError(f"train.model: cannot load {name!r} for the frozen-encoder baseline ({first})") from None
    return model.to(modeling.device()).eval(), modeling.load_tokenizer(name)


def frozen_lr(cfg: params.Baselines, base_model: str, batch_size: int, train_texts: list[str],
              train_labels: Sequence[str], labels: list[str], multi_label: bool = False,
              precision: str = "fp32") -> Callable[[list[str]], Any]:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    model, tokenizer = load_encoder(base_model)
    clf = make_pipeline(StandardScaler(), LogisticRegression(C=cfg.c, max_iter=2000))
    def embed(texts: list[str]) -> Any:
        return modeling.embed(model, tokenizer, texts, batch_size, cfg.max_length, precision)

    predict = _fit(clf, embed(train_texts), train_labels, labels, multi_label)
    return lambda texts: predict(embed(texts))


def run_all(cfg: params.Baselines, base_model: str, batch_size: int, train_texts: list[str],
            train_labels: Sequence[str], labels: list[str], sets: list[list[str]],
            multi_label: bool = False, llm: Any = None, precision: str = "fp32") -> dict[str, dict[str, Any]]:
    """{name: {"proba": [one (n, labels) array per set], "train_seconds": fit time}} for cfg.models
    (`multi_label`: train_labels are label-set cells and each baseline is one vs rest); `llm` is
    llm_baseline.prepare's answers (train_seconds None: nothing is trained); frozen_lr's encoder runs in
    `precision` (core/precision). Each distinct text of the sets is
    scored once (a text in several sets, or twice in one, costs one row)."""
    unique, rows = distinct(sets)
    out = {}
    for name in cfg.models:
        start = time.perf_counter()
        if name == "majority":
            predict = majority(train_labels, labels, multi_label)
        elif name == "llm_zero_shot":
            predict = llm.predict
        elif name == "tfidf_lr":
            predict = tfidf_lr(cfg, train_texts, train_labels, labels, multi_label)
        else:
            predict = frozen_lr(cfg, base_model, batch_size, train_texts, train_labels, labels, multi_label, precision)
        fitted = time.perf_counter()
        scored = predict(unique)
        out[name] = {"proba": [scored[idx] for idx in rows],
                     "train_seconds": None if name == "llm_zero_shot" else round(fitted - start, 1)}
        log.info("baseline %s: fit on %s rows in %.1f s, scored %s sets in %.1f s", name,
                 f"{len(train_texts):,}", fitted - start, len(sets), time.perf_counter() - fitted)
    return out
