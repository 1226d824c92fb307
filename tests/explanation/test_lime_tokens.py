"""LIME's words for texts written without spaces: one per character (not the one or two "words" LIME's
default `\\W+` split gives a Japanese sentence); other texts keep LIME's default split exactly."""

from __future__ import annotations

import numpy as np

from stages.core import params
from stages.explanation import lime_runner


def likes_kabu(texts):
    """A real (if simple) classifier: P(label 1) rises with the characters 株 and 価."""
    p = np.array([0.2 + 0.3 * ("株" in t) + 0.3 * ("価" in t) for t in texts])
    return np.column_stack([1 - p, p])


def test_a_japanese_sentence_is_explained_character_by_character():
    cfg = params.load_dict({"num_samples": 200, "num_features": 4}, "explain")
    exp = lime_runner.explain_one("東京の株価が上昇", [1], ["down", "up"], likes_kabu, cfg, seed=3)
    weights = dict(exp.as_list(label=1))
    assert all(len(token) == 1 for token in weights)
    assert set(sorted(weights, key=weights.get, reverse=True)[:2]) == {"株", "価"}


def test_an_english_text_keeps_lime_default_words():
    cfg = params.load_dict({"num_samples": 100, "num_features": 3}, "explain")

    def likes_mayor(texts):
        p = np.array([0.2 + 0.6 * ("mayor" in t) for t in texts])
        return np.column_stack([1 - p, p])

    exp = lime_runner.explain_one("the mayor found coffee", [1], ["a", "b"], likes_mayor, cfg, seed=3)
    assert max(exp.as_list(label=1), key=lambda tw: tw[1])[0] == "mayor"
    assert exp.domain_mapper.indexed_string.as_list == ["the", " ", "mayor", " ", "found", " ", "coffee"]
