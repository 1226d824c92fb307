"""core/decision.py: the single-label decision rule (argmax of log-probability + offset), its tuning on a
validation set for macro-F1, and how a model's config carries it."""

from __future__ import annotations

import math
import types

import numpy as np
import pytest

from stages.core import decision


def binary(p1):
    p1 = np.asarray(p1, dtype=float)
    return np.stack([1 - p1, p1], axis=1)


def test_without_offsets_or_with_zero_offsets_the_rule_is_argmax():
    rng = np.random.default_rng(0)
    proba = rng.dirichlet([1, 1, 1], size=200)
    assert (decision.decide(proba) == proba.argmax(1)).all()
    assert (decision.decide(proba, [0.0, 0.0, 0.0]) == proba.argmax(1)).all()


@pytest.mark.parametrize("t", [0.05, 0.2, 0.5, 0.77, 0.95])
def test_an_offset_on_the_second_label_is_a_threshold_on_its_probability(t):
    p1 = np.random.default_rng(1).uniform(size=500)
    p1 = p1[np.abs(p1 - t) > 1e-9]  # exactly at t floating-point rounding decides
    offsets = [0.0, decision.offset_for_threshold(t)]
    assert (decision.decide(binary(p1), offsets) == (p1 > t)).all()
    assert decision.threshold_of(offsets) == pytest.approx(t)


def test_macro_f1_is_sklearns_over_the_labels_in_truth_or_decisions():
    from sklearn.metrics import f1_score

    rng = np.random.default_rng(2)
    for _ in range(20):
        y, pred = rng.integers(0, 4, 30), rng.integers(0, 3, 30)
        assert decision.macro_f1(y, pred, 4) == pytest.approx(f1_score(y, pred, average="macro"))
    # by hand: y 0,0,0,1  pred 0,0,1,1 -> F1(0) = 2*2/(3+2) = 0.8, F1(1) = 2*1/(1+2) = 2/3
    assert decision.macro_f1([0, 0, 0, 1], [0, 0, 1, 1], 2) == pytest.approx((0.8 + 2 / 3) / 2)


def test_tuning_finds_the_threshold_that_argmax_misses_on_a_crafted_val_set():
    # 12 negatives with P(spam) <= 0.15, 4 spam rows with P(spam) in [0.25, 0.4]: argmax calls everything ham
    # (macro-F1 0.4286); any threshold in (0.15, 0.25) separates them (macro-F1 1.0).
    p1 = [0.01, 0.02, 0.03, 0.05, 0.05, 0.06, 0.08, 0.1, 0.1, 0.12, 0.14, 0.15, 0.25, 0.3, 0.35, 0.4]
    y = np.array([0] * 12 + [1] * 4)
    assert decision.macro_f1(y, binary(p1).argmax(1), 2) == pytest.approx(12 / 14 / 2)
    offsets = decision.tune(binary(p1), y)
    assert offsets[0] == 0.0 and 0.15 < decision.threshold_of(offsets) < 0.25
    assert decision.macro_f1(y, decision.decide(binary(p1), offsets), 2) == 1.0
    # the offsets reaching 1.0: log(0.75 / 0.25) = 1.099 < o < log(0.85 / 0.15) = 1.735, on the grid 1.1 .. 1.7;
    # the one closest to 0 is kept
    assert offsets[1] == 1.1
    assert decision.describe(["ham", "spam"], offsets) == f"spam when P(spam) > {1 / (1 + math.exp(1.1)):.4g}, else ham"


def test_a_rule_argmax_already_gets_right_stays_argmax():
    p1 = [0.1, 0.2, 0.3, 0.7, 0.8, 0.9]
    assert decision.tune(binary(p1), [0, 0, 0, 1, 1, 1]) == [0.0, 0.0]  # ties go to plain argmax
    assert decision.tune(binary(p1), []) == [0.0, 0.0]
    assert decision.describe(["a", "b"], [0.0, 0.0]).startswith("argmax")


def test_three_labels_get_offsets_by_coordinate_ascent():
    # label 2 is never the argmax, but its rows carry more of its probability than the others' rows do
    proba = np.array([[0.7, 0.2, 0.1]] * 5 + [[0.2, 0.7, 0.1]] * 5 + [[0.5, 0.2, 0.3]] * 3 + [[0.2, 0.5, 0.3]] * 2)
    y = np.array([0] * 5 + [1] * 5 + [2] * 5)
    before = decision.macro_f1(y, proba.argmax(1), 3)
    offsets = decision.tune(proba, y)
    after = decision.macro_f1(y, decision.decide(proba, offsets), 3)
    assert offsets[0] == 0.0 and offsets[2] > 0 and after == 1.0 > before
    assert decision.describe(["a", "b", "c"], offsets).startswith("argmax of log-probability + offset (")


def test_offsets_come_from_a_config_object_or_dict_and_missing_means_argmax():
    labels = ["ham", "spam"]
    assert decision.offsets_of(types.SimpleNamespace(), labels) is None
    assert decision.offsets_of({"id2label": {}}, labels) is None
    assert decision.offsets_of({decision.OFFSETS_KEY: {"spam": 1.2}}, labels) == [0.0, 1.2]
    model = types.SimpleNamespace(config=types.SimpleNamespace(decision_offsets={"ham": 0.0, "spam": -0.5}))
    assert decision.offsets_of(model, labels) == [0.0, -0.5]
