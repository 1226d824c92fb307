"""evaluation/multilabel.py and the one-vs-rest baselines against scikit-learn, on small label-set matrices."""

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, f1_score, hamming_loss, precision_recall_fscore_support

from stages.core import params
from stages.evaluation import baselines, multilabel

LABELS = ["a", "b", "c"]


def random_sets(n=40, seed=0):
    rng = np.random.default_rng(seed)
    Y = (rng.random((n, 3)) < [0.5, 0.3, 0.2]).astype(np.int8)
    D = np.where(rng.random((n, 3)) < 0.75, Y, 1 - Y).astype(np.int8)  # 75% of decisions right
    return Y, D


def test_classification_metrics_match_sklearn():
    Y, D = random_sets()
    m = multilabel.classification_metrics(Y, D, LABELS)
    assert m["subset_accuracy"] == m["accuracy"] == pytest.approx(accuracy_score(Y, D), abs=1e-6)
    assert m["hamming_loss"] == pytest.approx(hamming_loss(Y, D), abs=1e-6)
    for avg in ("micro", "macro", "samples", "weighted"):
        assert m[f"f1_{avg}"] == pytest.approx(f1_score(Y, D, average=avg, zero_division=0), abs=1e-6), avg
    p, r, f1, support = precision_recall_fscore_support(Y, D, zero_division=0)
    for j, lab in enumerate(LABELS):
        v = m["per_label"][lab]
        assert (v["precision"], v["recall"], v["f1"], v["support"]) == pytest.approx((p[j], r[j], f1[j], support[j]), abs=1e-6)
        c = m["label_confusion"][lab]
        assert c["tp"] == int((Y[:, j] & D[:, j]).sum()) and c["fn"] + c["tp"] == support[j]
        assert sum(c.values()) == len(Y)


def test_bootstrap_scores_each_resample_like_sklearn_and_is_paired_and_seeded():
    Y, D = random_sets()
    one = multilabel._scores(Y[None], D[None], np.ones(3, bool))  # the full set as a single "resample"
    assert one["f1_micro"][0] == pytest.approx(f1_score(Y, D, average="micro"))
    assert one["f1_samples"][0] == pytest.approx(f1_score(Y, D, average="samples", zero_division=0))
    assert one["f1_macro"][0] == pytest.approx(f1_score(Y, D, average="macro"))
    assert one["accuracy"][0] == pytest.approx(accuracy_score(Y, D))
    boot = multilabel.bootstrap(Y, {"m": D, "same": D.copy(), "perfect": Y}, 300, [1, 2])
    again = multilabel.bootstrap(Y, {"m": D}, 300, [1, 2])
    assert np.array_equal(boot["m"]["f1_micro"], again["m"]["f1_micro"])  # seeded
    assert np.array_equal(boot["m"]["f1_macro"], boot["same"]["f1_macro"])  # paired: same resamples
    assert (boot["perfect"]["accuracy"] == 1).all() and boot["m"]["f1_per_label"].shape == (300, 3)
    for key in ("accuracy", "f1_micro", "f1_macro", "f1_samples"):
        lo, hi = np.percentile(boot["m"][key], [2.5, 97.5])
        assert lo <= one[key][0] <= hi, key


def test_flattened_calibration_and_confidence():
    Y = np.array([[1, 0], [0, 1]])
    assert multilabel.calibration_flat(Y.astype(float), Y, 10)[:2] == (0.0, 0.0)
    proba = np.array([[0.9, 0.3], [0.2, 0.6]])
    ece, brier, table = multilabel.calibration_flat(proba, Y, 10)
    assert brier == pytest.approx(((proba - Y) ** 2).mean()) and sum(r["rows"] for r in table) == 4
    assert multilabel.confidence(proba).tolist() == pytest.approx([0.7, 0.6])


def test_slices_score_subset_accuracy_and_count_rows_with_any_wrong_label():
    Y, D = random_sets(10)
    groups = {"source": ["x"] * 4 + ["y"] * 6}
    rows = multilabel.slices(Y, D, groups, {"source": ["y", "x", "z"]})
    assert [r["slice"] for r in rows] == ["y", "x"]
    assert rows[1]["accuracy"] == pytest.approx(accuracy_score(Y[:4], D[:4]), abs=1e-6)
    assert rows[0]["mismatches"] == int((Y[4:] != D[4:]).any(1).sum())


def test_one_vs_rest_baselines_with_constant_labels():
    texts = ["red apple", "green apple", "red car", "blue car"] * 3
    cells = ["a|fruit", "a|fruit", "a", "a"] * 3  # `a` in every row, `never` in none
    labels = ["a", "fruit", "never"]
    cfg = params.load_dict({}, "evaluate").baselines
    fitted = baselines.run_all(cfg.__class__(models=("majority", "tfidf_lr")), "unused", 8, texts, cells, labels,
                               [["x", "y"], ["red apple", "blue car"]], multi_label=True)
    assert fitted["majority"]["proba"][0].tolist() == [[1.0, 0.5, 0.0]] * 2  # each label's train frequency
    proba = fitted["tfidf_lr"]["proba"][1]
    assert proba.shape == (2, 3) and proba[:, 0].tolist() == [1.0, 1.0] and proba[:, 2].tolist() == [0.0, 0.0]
    assert proba[0, 1] > 0.5 > proba[1, 1]  # "fruit" learned from the words
