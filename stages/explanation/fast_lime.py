"""LIME's own per-explanation work, done faster with the same numbers (lime 0.2.0.1, lime_text / lime_base).

Profiled on the tiny BERT with the model's answers cached (benchmarks/explain.py --lime-only): most of
an explanation went into LIME's Python loop over the perturbations (`random_state.choice`, one
`inverse_removing` per sample), then the sklearn Ridge fits (input validation dominates at 5,000 x ~10).
Here the same random draws happen in the same order (`RandomState.choice(range(d), k, replace=False)` is
`permutation(d)[:k]`), the texts are joined from a token mask, the cosine distances of the binary rows to the
all-ones row come from their counts, and the weighted ridge regressions (feature selection included) are solved in numpy as sklearn's
Ridge solves them (weighted centring, Cholesky). Weights agree with plain LIME to ~1e-12
(tests/explanation/test_fast_lime.py).
"""

from __future__ import annotations

from itertools import compress
from typing import Any, NamedTuple


class Drawn(NamedTuple):
    """A text's LIME neighbourhood before the model sees it: the binary rows (row 0: the text itself), the
    perturbed texts and the distances. Its first n rows are a LIME neighbourhood of n samples (i.i.d. draws)."""
    data: Any
    texts: list[str]
    distances: Any


class WeightedRidge:
    """sklearn's Ridge(alpha, fit_intercept=True) with sample weights, dense inputs: fit, predict, score."""

    def __init__(self, alpha: float = 1.0) -> None:
        self.alpha = alpha

    def fit(self, x: Any, y: Any, sample_weight: Any) -> WeightedRidge:
        import numpy as np

        w = np.asarray(sample_weight, dtype=np.float64)
        x_mean, y_mean = np.average(x, axis=0, weights=w), np.average(y, weights=w)
        root = np.sqrt(w)
        xc, yc = (x - x_mean) * root[:, None], (y - y_mean) * root
        gram = xc.T @ xc
        gram[np.diag_indices_from(gram)] += self.alpha
        try:
            self.coef_ = np.linalg.solve(gram, xc.T @ yc)
        except np.linalg.LinAlgError:  # singular (alpha 0, collinear columns): sklearn falls back to SVD
            self.coef_ = np.linalg.lstsq(xc, yc, rcond=None)[0]
        self.intercept_ = float(y_mean - x_mean @ self.coef_)
        return self

    def predict(self, x: Any) -> Any:
        return x @ self.coef_ + self.intercept_

    def score(self, x: Any, y: Any, sample_weight: Any) -> float:
        """Weighted R^2, as sklearn.metrics.r2_score."""
        import numpy as np

        w = np.asarray(sample_weight, dtype=np.float64)
        residual = np.sum(w * (y - self.predict(x)) ** 2)
        total = np.sum(w * (y - np.average(y, weights=w)) ** 2)
        return 1.0 - residual / total if total else (1.0 if not residual else 0.0)


def explainer(class_names: list[str], random_state: int, num_features: int, text: str,
              split_expression: Any = r"\W+") -> Any:
    """A LimeTextExplainer with the fast neighbourhood and ridge; feature selection skipped when it would keep
    every word anyway (num_features >= distinct words: 'highest_weights' keeps them all). Once draw_ahead has set
    its `drawn`, explain_instance(num_samples=n) fits on that draw's first n rows instead of drawing."""
    import numpy as np
    from lime.lime_base import LimeBase
    from lime.lime_text import IndexedString, LimeTextExplainer

    class FastBase(LimeBase):
        def feature_selection(self, data, labels, weights, num_features, method):  # noqa: ANN001
            if method != "highest_weights":
                return super().feature_selection(data, labels, weights, num_features, method)
            coef = WeightedRidge(0.01).fit(data, labels, weights).coef_
            ranked = sorted(zip(range(data.shape[1]), coef * data[0]), key=lambda x: np.abs(x[1]), reverse=True)
            return np.array([x[0] for x in ranked[:num_features]])

        def forward_selection(self, data, labels, weights, num_features):  # noqa: ANN001
            used: list[int] = []
            for _ in range(min(num_features, data.shape[1])):
                best, max_ = 0, -100000000
                for feature in (f for f in range(data.shape[1]) if f not in used):
                    x = data[:, used + [feature]]
                    score = WeightedRidge(0.0).fit(x, labels, weights).score(x, labels, weights)
                    if score > max_:
                        best, max_ = feature, score
                used.append(best)
            return np.array(used)

        def explain_instance_with_data(self, *args: Any, model_regressor: Any = None, **kw: Any) -> Any:
            return super().explain_instance_with_data(*args, model_regressor=WeightedRidge(1.0), **kw)

    class FastExplainer(LimeTextExplainer):
        drawn: Drawn | None = None

        def _LimeTextExplainer__data_labels_distances(self, indexed: Any, classifier_fn: Any, num_samples: int,
                                                      distance_metric: str = "cosine") -> Any:
            if self.drawn is None:
                return neighbourhood(indexed, classifier_fn, num_samples, self.random_state)
            n = num_samples
            return self.drawn.data[:n], classifier_fn(self.drawn.texts[:n]), self.drawn.distances[:n]

    out = FastExplainer(class_names=class_names, random_state=random_state, split_expression=split_expression)
    out.base = FastBase(out.base.kernel_fn, verbose=False, random_state=out.random_state)
    words = IndexedString(text, bow=out.bow, split_expression=out.split_expression).num_words()
    # Forward selection (num_features <= 6) and highest_weights both keep every word when there are no more
    # than num_features of them, only in another order: 'none' skips the search and its ridge fits.
    out.feature_selection = "none" if num_features >= words else "auto"
    return out


def draw_ahead(explainer: Any, text: str, num_samples: int) -> Drawn:
    """Draw `text`'s neighbourhood of num_samples from the explainer's RNG, as its explain_instance would, and keep
    it on the explainer: its explain_instance(num_samples=n <= num_samples) then fits on the first n rows."""
    from lime.lime_text import IndexedString

    indexed = IndexedString(text, bow=explainer.bow, split_expression=explainer.split_expression)
    explainer.drawn = draw(indexed, num_samples, explainer.random_state)
    return explainer.drawn


def neighbourhood(indexed: Any, classifier_fn: Any, num_samples: int, rng: Any) -> tuple[Any, Any, Any]:
    """LIME's __data_labels_distances (bag of words): the same draws, texts, predictions and distances."""
    data, texts, distances = draw(indexed, num_samples, rng)
    return data, classifier_fn(texts), distances


def draw(indexed: Any, num_samples: int, rng: Any) -> Drawn:
    """LIME's draws for `indexed` (an IndexedString) from `rng`, the model not called: rows, texts, distances."""
    import numpy as np

    d = indexed.num_words()
    sizes = rng.randint(1, d + 1, num_samples - 1)
    # rng.choice(range(d), size, replace=False) is rng.permutation(d)[:size]: the same draws, in order; a word
    # is removed when its place in the permutation is before `size`.
    places = np.argsort(np.array([rng.permutation(d) for _ in range(num_samples - 1)]).reshape(-1, d), axis=1)
    data = np.ones((num_samples, d))
    data[1:] = places >= sizes[:, None]
    word_of = np.full(len(indexed.as_list), -1)
    for w, positions in enumerate(indexed.positions):
        word_of[positions] = w
    # Each distinct set of kept words is joined once (a 10-word text has at most 1,024 of them).
    masks, inverse = np.unique(data[1:] > 0, axis=0, return_inverse=True)
    keep = np.ones((len(masks), len(word_of)), dtype=bool)
    keep[:, word_of >= 0] = masks[:, word_of[word_of >= 0]]
    joined = ["".join(compress(indexed.as_list, row)) for row in keep.tolist()]
    texts = [indexed.raw_string()] + [joined[j] for j in inverse.ravel().tolist()]
    # Cosine distance of a binary row with k ones to the all-ones row: 1 - sqrt(k / d) (an empty row: 1, as
    # sklearn's), times 100 as LIME.
    return Drawn(data, texts, np.clip(1.0 - np.sqrt(data.sum(axis=1) / d), 0.0, 2.0) * 100)
