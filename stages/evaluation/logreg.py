"""The logistic regression behind the tfidf_lr, frozen_lr and setfit baselines: its inverse regularisation C chosen
by stratified cross-validation on train (macro-F1 over evaluate.baselines.cv_folds shuffled folds, seeded by
base.seed, among evaluate.baselines.c_grid), weighted by the fine-tuned model's class weights, then refit on all of
train. Single-label: one multinomial regression. Multi-label: one binary regression per label, each with its own C
and the label's weight on its positives (a label in every or no train row gets a constant probability).

Folds shrink to the row count of the smallest class; a class with a single row cannot be held out, so C is then
the middle of the grid, logged and recorded (`folds: 0`). Also the TF-IDF features (word and char_wb n-grams).
"""

from __future__ import annotations

import collections
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from stages.core import labelsets
from stages.core.errors import DataError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Search:
    """How C is chosen: the grid (increasing), the fold count and the seed of the fold shuffle."""

    grid: tuple[float, ...]
    folds: int
    seed: int


def tfidf_features(max_ngram: int, char_ngrams: Sequence[int]) -> Any:
    """TF-IDF of word 1- to `max_ngram`-grams, beside character n-grams within word boundaries (char_wb,
    `char_ngrams` = [shortest, longest]; empty: words only). Each block is L2-normalised on its own."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import FeatureUnion

    word = TfidfVectorizer(ngram_range=(1, max_ngram), sublinear_tf=True, lowercase=True)
    if not char_ngrams:
        return word
    char = TfidfVectorizer(analyzer="char_wb", ngram_range=(char_ngrams[0], char_ngrams[1]), sublinear_tf=True,
                           lowercase=True)
    return FeatureUnion([("word", word), ("char", char)])


def _choose(x: Any, y: Sequence[Any], search: Search, weight: dict[Any, float] | None, scale: bool,
            what: str) -> tuple[Any, dict[str, Any]]:
    """A fitted (scaler +) logistic regression with C chosen by stratified k-fold macro-F1, and its record
    {c, f1_macro (mean over the held-out folds at that C), folds}."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning, UndefinedMetricWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV, StratifiedKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from threadpoolctl import threadpool_limits

    def model(c: float) -> Any:
        lr = LogisticRegression(C=c, max_iter=2000, class_weight=weight)
        return make_pipeline(StandardScaler(), lr) if scale else make_pipeline(lr)

    folds = min(search.folds, min(collections.Counter(y).values()))
    # One BLAS thread: these fits are small, and on a busy machine threads that wait for each other made the
    # 26 fits take 20 s instead of 1 s (measured, 2 cores shared).
    with warnings.catch_warnings(), threadpool_limits(1, user_api="blas"):
        warnings.simplefilter("ignore", ConvergenceWarning)  # a large C on separable rows may stop at max_iter
        warnings.simplefilter("ignore", UndefinedMetricWarning)  # a fold without a prediction of a label: F1 0
        if folds < 2:
            c = search.grid[len(search.grid) // 2]
            log.warning("%s: a class has a single train row, so no stratified fold can hold it out; C = %g (the "
                        "middle of evaluate.baselines.c_grid) without cross-validation", what, c)
            return model(c).fit(x, y), {"c": c, "f1_macro": None, "folds": 0}
        if folds < search.folds:
            log.info("%s: %s folds, not %s: the smallest class has %s train rows", what, folds, search.folds, folds)
        grid = GridSearchCV(model(search.grid[0]), {"logisticregression__C": list(search.grid)},
                            cv=StratifiedKFold(folds, shuffle=True, random_state=search.seed),
                            scoring="f1_macro", error_score="raise")
        grid.fit(x, y)
    c = float(grid.best_params_["logisticregression__C"])  # ties: the first, i.e. the strongest regularisation
    return grid.best_estimator_, {"c": c, "f1_macro": round(float(grid.best_score_), 6), "folds": folds}


def weights_by_label(class_weights: Sequence[float] | None, labels: list[str]) -> dict[str, float] | None:
    """The fine-tuned model's class weights (train summary, in the model's label order) by label; None: unweighted."""
    if class_weights is None:
        return None
    if len(class_weights) != len(labels):
        raise DataError(f"train summary: class_weights has {len(class_weights)} values for {len(labels)} model "
                        f"labels ({', '.join(labels)})")
    return {lab: float(w) for lab, w in zip(labels, class_weights)}


def fit(features: Any, train_labels: Sequence[str], labels: list[str], search: Search,
        class_weights: Sequence[float] | None = None, multi_label: bool = False, scale: bool = False,
        what: str = "baseline") -> tuple[Callable[[Any], Any], dict[str, Any]]:
    """Fit on `features` (rows of train); returns features -> (n, labels) probabilities, and the cross-validation
    record for baselines.json: {c_grid, c, f1_macro, folds}, or for a multi-label task {c_grid, per_label: {label:
    {c, f1_macro, folds}}} (a constant label: c null). `scale`: standardise the features first (embeddings)."""
    import numpy as np

    weight = weights_by_label(class_weights, labels)
    if not multi_label:
        seen = set(train_labels)
        present = {lab: w for lab, w in (weight or {}).items() if lab in seen}
        est, record = _choose(features, list(train_labels), search, present or None, scale, what)
        columns = [list(est.classes_).index(lab) if lab in est.classes_ else None for lab in labels]

        def predict(x: Any) -> Any:
            proba = est.predict_proba(x)
            return np.stack([proba[:, j] if j is not None else np.zeros(len(proba)) for j in columns], axis=1)

        return predict, {"c_grid": list(search.grid), **record}
    target = labelsets.multi_hot(train_labels, labels)
    heads: list[Any] = []
    per_label: dict[str, Any] = {}
    for j, lab in enumerate(labels):
        y = target[:, j]
        if y.min() == y.max():  # in every or in no train row: nothing to learn, a constant probability
            heads.append(float(y[0]))
            per_label[lab] = {"c": None, "f1_macro": None, "folds": 0}
            continue
        est, per_label[lab] = _choose(features, y.tolist(), search, {0: 1.0, 1: weight[lab]} if weight else None,
                                      scale, f"{what} ({lab})")
        heads.append(est)

    def predict_multi(x: Any) -> Any:
        n = x.shape[0]
        return np.stack([np.full(n, h) if isinstance(h, float) else h.predict_proba(x)[:, list(h.classes_).index(1)]
                         for h in heads], axis=1)

    return predict_multi, {"c_grid": list(search.grid), "per_label": per_label}
