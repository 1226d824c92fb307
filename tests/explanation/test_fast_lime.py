"""fast_lime against plain LIME 0.2.0.1: the same perturbed texts, distances and weights (to 1e-9), for
forward selection, highest weights and 'all words kept', repeated words and punctuation included."""

import zlib

import numpy as np
import pytest

from stages.explanation import fast_lime

TEXTS = [
    "you won't believe what the mayor found in texas this year, and why parents are furious about coffee",
    "the mayor found coffee",
    "storm",
    "the cat and the dog and the cat again!",   # repeated words: removed with all their occurrences
]


def classifier(seen=None):
    """A deterministic stand-in for a model: word scores summed through a sigmoid (records its inputs)."""
    def fn(texts):
        if seen is not None:
            seen.append(list(texts))
        score = np.array([sum(zlib.crc32(w.encode()) % 7 - 3 for w in t.split()) / 4 for t in texts])
        p = 1 / (1 + np.exp(-score))
        return np.stack([p, 1 - p], axis=1)
    return fn


@pytest.mark.parametrize("text", TEXTS)
@pytest.mark.parametrize("num_features", [3, 8, 30])
def test_weights_and_texts_equal_plain_lime(text, num_features):
    from lime.lime_text import LimeTextExplainer

    plain_seen, fast_seen = [], []
    plain = LimeTextExplainer(class_names=["a", "b"], random_state=7).explain_instance(
        text, classifier(plain_seen), labels=[0, 1], num_features=num_features, num_samples=400)
    fast = fast_lime.explainer(["a", "b"], 7, num_features, text).explain_instance(
        text, classifier(fast_seen), labels=[0, 1], num_features=num_features, num_samples=400)
    assert fast_seen == plain_seen
    for label in (0, 1):
        a, b = dict(plain.as_list(label=label)), dict(fast.as_list(label=label))
        assert a.keys() == b.keys()
        assert max(abs(a[k] - b[k]) for k in a) < 1e-9
        assert fast.intercept[label] == pytest.approx(plain.intercept[label], abs=1e-9)
    assert fast.score == pytest.approx(plain.score, abs=1e-9)
    assert fast.local_pred == pytest.approx(plain.local_pred, abs=1e-9)


def test_permutation_prefix_is_lime_choice():
    a, b = np.random.RandomState(3), np.random.RandomState(3)
    for size in (1, 4, 9, 9, 2):
        assert list(a.choice(range(9), size, replace=False)) == list(b.permutation(9)[:size])


def test_weighted_ridge_equals_sklearn():
    from sklearn.linear_model import Ridge

    rng = np.random.default_rng(0)
    x, y, w = rng.integers(0, 2, (300, 6)).astype(float), rng.random(300), rng.random(300)
    for alpha in (0.01, 1.0):
        ours, theirs = fast_lime.WeightedRidge(alpha).fit(x, y, w), Ridge(alpha=alpha).fit(x, y, sample_weight=w)
        assert np.allclose(ours.coef_, theirs.coef_, atol=1e-12) and ours.intercept_ == pytest.approx(theirs.intercept_)
        assert ours.score(x, y, w) == pytest.approx(theirs.score(x, y, sample_weight=w), abs=1e-12)
