"""stages.evaluation.metrics: hand-computed examples, the vectorised macro-F1 against scikit-learn, bootstrap invariants."""

import numpy as np
import pytest

from stages.evaluation import metrics

Y_TRUE = ["a", "a", "a", "a", "a", "b", "b", "b", "b", "b"]
Y_PRED = ["a", "a", "a", "b", "b", "b", "b", "b", "b", "a"]


def test_metrics_match_a_ten_row_example_computed_by_hand():
    m = metrics.classification_metrics(Y_TRUE, Y_PRED, ["a", "b"])
    # a: tp=3, fp=1, fn=2 -> P=3/4, R=3/5, F1=2*.75*.6/1.35=0.666667
    # b: tp=4, fp=2, fn=1 -> P=4/6, R=4/5, F1=2*(2/3)*.8/(2/3+.8)=0.727273
    # per-label recall is what the tutorials call per-label accuracy: a 3 of its 5 rows found, b 4 of 5
    # (one-vs-rest accuracy, (TP + TN) / N, would be 0.7 for both: the overall accuracy of a binary task)
    assert m["accuracy"] == 0.7 and m["rows"] == 10
    assert m["per_label"]["a"] == {"precision": 0.75, "recall": 0.6, "f1": 0.666667, "support": 5}
    assert m["per_label"]["b"] == {"precision": 0.666667, "recall": 0.8, "f1": 0.727273, "support": 5}
    assert m["f1_macro"] == pytest.approx((0.666667 + 0.727273) / 2, abs=1e-6)
    assert m["precision_macro"] == pytest.approx((0.75 + 2 / 3) / 2, abs=1e-6)
    assert m["recall_weighted"] == 0.7  # support-weighted recall is accuracy
    assert m["confusion_matrix"] == {"labels": ["a", "b"], "matrix": [[3, 2], [1, 4]]}


def test_three_labels_per_label_recall_and_absent_label_left_out_of_macro():
    y_true = ["a", "a", "b", "b"]
    y_pred = ["a", "c", "b", "b"]
    m = metrics.classification_metrics(y_true, y_pred, ["a", "b", "c"])
    # c never occurs in y_true: reported per label (F1 0) but not averaged; a: F1 2/3, b: F1 1.
    assert m["per_label"]["c"]["support"] == 0 and m["per_label"]["c"]["f1"] == 0
    assert m["f1_macro"] == pytest.approx((2 / 3 + 1) / 2, abs=1e-6)
    assert m["per_label"]["a"]["recall"] == 0.5 and m["per_label"]["b"]["recall"] == 1.0
    assert "accuracy" not in m["per_label"]["c"]


def test_per_label_f1_of_each_resample_equals_scikit_learn_and_its_interval_holds_the_point_value():
    from sklearn.metrics import f1_score

    rng = np.random.default_rng(1)
    y = rng.integers(0, 3, size=(20, 30))
    p = np.where(rng.random((20, 30)) < 0.7, y, rng.integers(0, 3, size=(20, 30)))
    got = metrics.f1_counts(y, p, 3)
    for row in range(20):
        want = f1_score(y[row], p[row], labels=[0, 1, 2], average=None, zero_division=0)
        assert got[row] == pytest.approx(want, abs=1e-12)
    y1, p1 = y[0], p[0]
    boot = metrics.bootstrap(y1, {"m": p1}, 3, np.ones(3, bool), 500, 7)
    assert boot["m"]["f1_per_label"].shape == (500, 3)
    point = f1_score(y1, p1, labels=[0, 1, 2], average=None, zero_division=0)
    for i in range(3):
        lo, hi = metrics.interval(boot["m"]["f1_per_label"][:, i], 0.95)
        assert lo <= point[i] <= hi and hi - lo > 0


def test_vectorised_macro_f1_equals_scikit_learn():
    from sklearn.metrics import f1_score

    rng = np.random.default_rng(0)
    y = rng.integers(0, 4, size=(30, 25))
    p = np.where(rng.random((30, 25)) < 0.6, y, rng.integers(0, 4, size=(30, 25)))
    y[:5] %= 3  # some rows never contain label 3 in the truth
    mask = np.array([True, True, True, False])  # ... and it is left out of the average
    got = metrics.macro_f1_counts(y, p, 4, mask)
    want = [f1_score(y[i], p[i], labels=[0, 1, 2], average="macro", zero_division=0) for i in range(30)]
    np.testing.assert_allclose(got, want, atol=1e-12)


def _fixture(n=60, seed=1):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    good = np.where(rng.random(n) < 0.85, y, 1 - y)
    bad = np.where(rng.random(n) < 0.6, y, 1 - y)
    return y, {"good": good, "bad": bad}


def test_bootstrap_is_deterministic_for_a_seed_and_contains_the_point_estimate():
    y, preds = _fixture()
    mask = np.array([True, True])
    a = metrics.bootstrap(y, preds, 2, mask, 500, 7)
    b = metrics.bootstrap(y, preds, 2, mask, 500, 7)
    c = metrics.bootstrap(y, preds, 2, mask, 500, 8)
    np.testing.assert_array_equal(a["good"]["f1_macro"], b["good"]["f1_macro"])
    assert not np.array_equal(a["good"]["f1_macro"], c["good"]["f1_macro"])
    for name, pred in preds.items():
        m = metrics.classification_metrics(list(y), list(pred), [0, 1])
        for key in ("accuracy", "f1_macro"):
            lo, hi = metrics.interval(a[name][key], 0.95)
            assert len(a[name][key]) == 500
            assert lo < m[key] < hi, (name, key, lo, m[key], hi)
            assert hi - lo < 0.4  # 60 rows: an interval, not the whole [0, 1]


def test_bootstrap_is_paired_and_chunked_consistently():
    y, preds = _fixture(n=50)
    mask = np.array([True, True])
    same = metrics.bootstrap(y, {"x": preds["good"], "y": preds["good"].copy()}, 2, mask, 300, 3)
    np.testing.assert_array_equal(same["x"]["f1_macro"], same["y"]["f1_macro"])  # same resamples
    # A perfect predictor has accuracy 1 on every resample, whatever the chunking (50 rows -> one chunk).
    perfect = metrics.bootstrap(y, {"p": y.copy()}, 2, mask, 300, 3)
    assert metrics.interval(perfect["p"]["accuracy"], 0.95) == (1.0, 1.0)
    gain = same["x"]["f1_macro"] - metrics.bootstrap(y, preds, 2, mask, 300, 3)["bad"]["f1_macro"]
    assert metrics.interval(gain, 0.95)[0] > 0  # 85% vs 60% correct: a real difference


def _bootstrap_by_indexing(y, preds, n_labels, mask, resamples, seed):
    """The definition: every resample's rows indexed, F1 from their (true, predicted) pairs (the former code)."""
    rng = np.random.default_rng(seed)
    chunk = max(1, 2_000_000 // len(y))
    out = {name: {"accuracy": [], "f1_macro": [], "f1_per_label": []} for name in preds}
    for start in range(0, resamples, chunk):
        idx = rng.integers(0, len(y), size=(min(chunk, resamples - start), len(y)))
        for name, p in preds.items():
            f1 = metrics.f1_counts(y[idx], p[idx], n_labels)
            out[name]["accuracy"].append((y[idx] == p[idx]).mean(1))
            out[name]["f1_macro"].append(f1[:, mask].mean(1))
            out[name]["f1_per_label"].append(f1)
    return {name: {k: np.concatenate(v) for k, v in m.items()} for name, m in out.items()}


@pytest.mark.parametrize("n, labels, resamples", [(1, 2, 5), (37, 3, 200), (41_000, 4, 120)])
def test_bootstrap_from_draw_counts_is_bit_identical_to_indexing_every_resample(n, labels, resamples):
    # 41,000 rows: 48 resamples per chunk, so three chunks; label `labels` is an abstention (never true)
    rng = np.random.default_rng(n)
    y = rng.integers(0, labels, n)
    preds = {"m": np.where(rng.random(n) < 0.7, y, rng.integers(0, labels + 1, n)), "zero": np.zeros(n, int)}
    mask = np.isin(np.arange(labels + 1), y)
    got = metrics.bootstrap(y, preds, labels + 1, mask, resamples, [42, 7])
    want = _bootstrap_by_indexing(y, preds, labels + 1, mask, resamples, [42, 7])
    for name in preds:
        for key in want[name]:
            assert got[name][key].dtype == want[name][key].dtype
            np.testing.assert_array_equal(got[name][key], want[name][key])


def test_calibration_matches_a_hand_computed_example():
    # top probabilities 0.55 (x2, bin 6), 0.9 (x2, bin 9), 1.0 (bin 10); correct: 1 of 2, 2 of 2, 0 of 1.
    proba = np.array([[0.55, 0.45], [0.45, 0.55], [0.9, 0.1], [0.1, 0.9], [1.0, 0.0]])
    y = np.array([0, 0, 0, 1, 1])
    ece, brier, table = metrics.calibration(proba, y, 10)
    # |0.5-0.55|*2/5 + |1-0.9|*2/5 + |0-1|*1/5 = 0.02 + 0.04 + 0.2
    assert ece == pytest.approx(0.26)
    # squared distances: 2*.45^2, 2*.55^2, 2*.1^2, 2*.1^2, 2*1^2 -> mean
    assert brier == pytest.approx((0.405 + 0.605 + 0.02 + 0.02 + 2) / 5)
    assert [(t["bin"], t["rows"], t["accuracy"]) for t in table] == [(6, 2, 0.5), (9, 2, 1.0), (10, 1, 0.0)]
    assert table[0]["lower"] == 0.5 and table[0]["upper"] == 0.6


def test_binary_curves_hand_example_and_single_class():
    y = np.array([0, 0, 1, 1])
    score = np.array([0.1, 0.4, 0.35, 0.8])  # P(label 1)
    c = metrics.binary_curves(y, score, 1)
    assert c["roc_auc"] == 0.75  # 3 of 4 (positive, negative) pairs ordered right
    assert c["average_precision"] == pytest.approx((1 + 2 / 3) / 2, abs=1e-6)
    assert c["roc"][0] == {"fpr": 0.0, "tpr": 0.0, "threshold": 1.0} and c["roc"][-1]["tpr"] == 1.0
    recalls = [p["recall"] for p in c["pr"]]
    assert recalls == sorted(recalls) and recalls[0] == 0.0 and recalls[-1] == 1.0
    # label 0 as the positive one: its score is P(label 0)
    assert metrics.binary_curves(y, 1 - score, 0)["roc_auc"] == 0.75
    assert metrics.binary_curves(np.array([1, 1]), np.array([0.2, 0.9]), 1)["roc_auc"] is None


@pytest.mark.parametrize("words, edges, bucket", [
    (1, (8, 11), "1-8 words"), (8, (8, 11), "1-8 words"), (9, (8, 11), "9-11 words"),
    (12, (8, 11), "12+ words"), (40, (8, 11), "12+ words"), (3, (), "1+ words"), (0, (5,), "1-5 words"),
])
def test_length_bucket(words, edges, bucket):
    assert metrics.length_bucket(words, edges) == bucket


def test_slices_in_the_given_order_skipping_empty_ones():
    out = metrics.slices(Y_TRUE, Y_PRED, {"half": ["x"] * 5 + ["y"] * 5}, ["a", "b"], {"half": ["y", "z", "x"]})
    assert [(s["slice"], s["rows"], s["mismatches"]) for s in out] == [("y", 5, 1), ("x", 5, 2)]
    assert out[0]["accuracy"] == 0.8 and out[1]["accuracy"] == 0.6
