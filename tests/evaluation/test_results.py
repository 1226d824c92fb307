"""baselines.json's table (evaluation/results.py): collapse per model and set, the synthetic-to-real gap and its
interval, roles."""

import numpy as np
import pytest

from stages.evaluation import results


def test_collapse_of_single_and_multi_label_decisions():
    labels = ["ham", "spam"]
    y = np.array([0] * 7 + [1] * 3)
    assert results.collapse_of(np.zeros(10, dtype=int), y, labels, False) == {
        "label": "ham", "predicted_share": 1.0, "true_share": 0.7}
    assert results.collapse_of(y, y, labels, False) is None
    abstained = np.full(10, 2)  # an LLM that never answered: all on "no label", which no row holds
    assert results.collapse_of(abstained, y, labels, False) == {"label": "", "predicted_share": 1.0, "true_share": 0.0}
    multi_y = np.array([[1, 0], [0, 1], [1, 1], [0, 1]])
    multi_pred = np.array([[1, 1]] * 4)  # the same label set on every row, held by one row in four
    assert results.collapse_of(multi_pred, multi_y, labels, True) == {
        "label": "ham|spam", "predicted_share": 1.0, "true_share": 0.25}


def test_gap_interval_is_the_percentiles_of_the_resample_differences():
    # 5 resamples each: differences 0.1, 0.2, 0.3, 0.4, 0.5 in some order; the 0%..100% interval is their range
    test_boot, real_boot = np.array([0.9, 0.8, 0.95, 0.85, 0.9]), np.array([0.6, 0.7, 0.75, 0.45, 0.5])
    out = results.gap({"f1_macro": 0.88}, {"f1_macro": 0.6}, test_boot, real_boot, level=0.999999)
    assert out["f1_macro_gap"] == pytest.approx(0.28)
    assert out["f1_macro_gap_ci_low"] == pytest.approx(0.1, abs=1e-5)
    assert out["f1_macro_gap_ci_high"] == pytest.approx(0.4, abs=1e-5)


def test_table_records_roles_seed_skipped_sets_gaps_and_collapse_last():
    row = {"rows": 4, "collapsed": None, "f1_macro": 0.5}
    boot = {"fine_tuned": {"f1_macro": np.full(3, 0.5)}}
    table = results.baselines_table(100, 0.95, 7, {"test": "synthetic", "real": "test"}, ["sms"],
                                    {"fine_tuned": 1.0}, {}, {"test": {"fine_tuned": {**row, "f1_macro": 0.8}},
                                                             "real": {"fine_tuned": row}},
                                    {"test": {"fine_tuned": {"f1_macro": np.full(3, 0.8)}}, "real": boot})
    assert list(table) == ["resamples", "confidence", "seed", "sets", "roles", "skipped_sets", "models"]
    assert table["roles"] == {"test": "synthetic", "real": "test"} and table["skipped_sets"] == ["sms"]
    real = table["models"]["fine_tuned"]["real"]
    assert list(real)[-1] == "collapsed" and "f1_macro_gap" not in table["models"]["fine_tuned"]["test"]
    assert (real["f1_macro_gap"], real["f1_macro_gap_ci_low"], real["f1_macro_gap_ci_high"]) == pytest.approx(
        (0.3, 0.3, 0.3))
