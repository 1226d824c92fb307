"""The collapse rule shared by train, evaluate and report (core/verdicts.py)."""

import pytest

from stages.core.verdicts import collapsed


def test_a_model_that_predicts_one_minority_label_has_collapsed():
    true = ["ham"] * 70 + ["spam"] * 30
    assert collapsed(["ham"] * 96 + ["spam"] * 4, true) == {"label": "ham", "predicted_share": 0.96,
                                                           "true_share": 0.7}


@pytest.mark.parametrize("predicted_share, true_share, expected", [
    (0.95, 0.79, True),    # both bounds hit: >= 95% predicted, < 80% true
    (0.94, 0.50, False),   # spread enough
    (0.95, 0.80, False),   # the label really is that common
    (1.00, 0.00, True),    # a label that never occurs
])
def test_collapse_bounds(predicted_share, true_share, expected):
    n = 100
    predicted = ["a"] * round(n * predicted_share) + ["b"] * (n - round(n * predicted_share))
    true = ["a"] * round(n * true_share) + ["b"] * (n - round(n * true_share))
    assert (collapsed(predicted, true) is not None) is expected


def test_no_rows_is_no_collapse():
    assert collapsed([], []) is None


def test_a_collapse_on_either_side_is_the_verdict_never_noise_or_better():
    from stages.core.verdicts import BETTER, COLLAPSED, NOISE, verdict

    gain = {"fine_tuned_gain_f1_macro": 0.3, "gain_ci_low": 0.2, "gain_ci_high": 0.4}
    noise = {"fine_tuned_gain_f1_macro": 0.0, "gain_ci_low": -0.1, "gain_ci_high": 0.1}
    gone = {"label": "ham", "predicted_share": 1.0, "true_share": 0.87}
    assert verdict({}, gain) == BETTER and verdict({"collapsed": None}, noise) == NOISE
    assert verdict({}, {**gain, "collapsed": gone}) == COLLAPSED  # better than a majority guess says nothing
    assert verdict({"collapsed": gone}, noise) == COLLAPSED      # SMS spam: "within noise" of majority, collapsed
    assert verdict({"collapsed": gone}, {"f1_macro": 0.5}) is None  # the fine-tuned row itself: no gain, no verdict


def test_a_baseline_without_answers_has_no_verdict_even_when_its_gain_interval_excludes_0():
    from stages.core.verdicts import NO_VERDICT, verdict

    gain = {"fine_tuned_gain_f1_macro": 0.3, "gain_ci_low": 0.2, "gain_ci_high": 0.4}
    empty = {"label": "", "predicted_share": 1.0, "true_share": 0.0}  # every decision "no label"
    assert verdict({}, {**gain, "no_verdict": "every answer abstained", "collapsed": empty}) == NO_VERDICT
    assert verdict({"collapsed": empty}, {**gain, "no_verdict": "every answer abstained"}) == NO_VERDICT


def test_collapse_note_names_the_label_and_both_shares():
    from stages.core.verdicts import collapse_note

    found = {"label": "ham", "predicted_share": 0.9712, "true_share": 0.87}
    assert collapse_note("TF-IDF", found) == ("TF-IDF puts 97.1% of its decisions on `ham`, which holds 87.0% of "
                                             "the true labels")
    assert "on 'ham'," in collapse_note("it", found, markdown=False)
    assert "on no label," in collapse_note("it", {**found, "label": ""})  # a multi-label model's empty set


def test_every_row_on_an_87_percent_majority_collapses_by_the_missed_label():
    """The imbalanced case the first rule cannot see (ham holds >= 80%): spam, 13% of the truth, is never found."""
    true = ["ham"] * 87 + ["spam"] * 13
    assert collapsed(["ham"] * 100, true) == {"label": "ham", "predicted_share": 1.0, "true_share": 0.87,
                                              "missed": {"label": "spam", "true_share": 0.13, "recall": 0.0}}
    # 96% ham while 2 of the 13 spam rows are found (15%): weak, not collapsed
    assert collapsed(["ham"] * 85 + ["spam"] * 2 + ["ham"] * 9 + ["spam"] * 2 + ["ham"] * 2, true) is None
    # a label under 10% of the truth that is never found does not count (too rare to call the model collapsed)
    assert collapsed(["ham"] * 100, ["ham"] * 95 + ["spam"] * 5) is None


def test_the_note_names_the_missed_label():
    from stages.core.verdicts import collapse_note

    found = collapsed(["ham"] * 100, ["ham"] * 87 + ["spam"] * 13)
    assert collapse_note("tfidf_lr", found) == ("tfidf_lr puts 100.0% of its decisions on `ham`, which holds 87.0% of "
                                                "the true labels; it finds 0.0% of `spam` (13.0% of the true labels)")
