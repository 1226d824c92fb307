"""The evaluate section of params.yaml: defaults, external test sets and the errors for bad values."""

import re

import pytest

from stages.core import params
from stages.core.errors import ParamsError

from testkit import ROOT


def test_repository_evaluate_section():
    cfg = params.load("evaluate", ROOT / "params.yaml")
    assert cfg.positive_label is None and cfg.bootstrap >= 100
    # the shipped real sets: the test part judges, the dev part may steer; both files are in the repository
    assert [(e.name, e.path, e.role) for e in cfg.external_test] == [
        ("stop_clickbait", "stop_clickbait/test.csv", "test"), ("stop_clickbait_dev", "stop_clickbait/dev.csv", "dev")]
    assert all((ROOT / "data" / "external" / e.path).is_file() for e in cfg.external_test)
    assert cfg.precision == "auto"
    assert cfg.baselines.models == ("majority", "tfidf_lr", "frozen_lr")
    assert cfg.baselines.c_grid == (0.01, 0.1, 1.0, 10.0, 100.0) and cfg.baselines.cv_folds == 5
    assert cfg.baselines.tfidf_char_ngrams == (2, 5)


def test_setfit_is_a_baseline_one_may_ask_for_with_bounded_cost():
    cfg = params.load_dict({"baselines": {"models": ["setfit"], "setfit": {"num_iterations": 2, "max_steps": 50},
                                          "tfidf_char_ngrams": []}}, "evaluate").baselines
    assert cfg.models == ("setfit",) and cfg.setfit.num_iterations == 2 and cfg.setfit.max_steps == 50
    assert cfg.setfit.epochs == 1 and cfg.tfidf_char_ngrams == ()


def test_external_test_entries_take_defaults():
    cfg = params.load_dict({"external_test": [{"name": "real-1", "path": "sub/real.csv",
                                               "label_map": {"0": "factual", "1": "clickbait"}}]}, "evaluate")
    (ext,) = cfg.external_test
    assert (ext.text_column, ext.label_column, ext.label_map) == ("text", "label", {"0": "factual", "1": "clickbait"})
    assert ext.role == "test"  # a set only judges unless declared dev


@pytest.mark.parametrize("raw, message", [
    ({"precision": "fp16"}, "evaluate.precision must be one of auto, fp32, bf16, got 'fp16'"),
    ({"bootstrap": 10}, "evaluate.bootstrap must be in [100, 100000] resamples, got 10"),
    ({"confidence": 1.0}, "evaluate.confidence must be in [0.5, 1), got 1.0"),
    ({"calibration_bins": 1}, "evaluate.calibration_bins must be in [2, 100], got 1"),
    ({"length_buckets": [12, 8]}, "evaluate.length_buckets must be increasing word counts >= 1, got [12, 8]"),
    ({"length_buckets": [0, 8]}, "evaluate.length_buckets must be increasing word counts >= 1, got [0, 8]"),
    ({"positive_label": ""}, "evaluate.positive_label must be a non-empty string, got ''"),
    ({"baselines": {"models": ["bert"]}},
     "evaluate.baselines.models[0] must be one of majority, tfidf_lr, frozen_lr, setfit, llm_zero_shot, got 'bert'"),
    ({"baselines": {"models": ["majority", "majority"]}}, "evaluate.baselines.models must be a list without repeats"),
    ({"baselines": {"c": 1.0}}, "unknown key evaluate.baselines.c (known keys: c_grid, cv_folds,"),
    ({"baselines": {"c_grid": []}}, "evaluate.baselines.c_grid must be a non-empty list of increasing values > 0, got []"),
    ({"baselines": {"c_grid": [0, 1]}}, "evaluate.baselines.c_grid must be a non-empty list of increasing values > 0"),
    ({"baselines": {"c_grid": [10, 1]}}, "evaluate.baselines.c_grid must be a non-empty list of increasing values > 0, "
                                         "got [10.0, 1.0]"),
    ({"baselines": {"c_grid": 1.0}}, "evaluate.baselines.c_grid must be a list, got 1.0"),
    ({"baselines": {"cv_folds": 1}}, "evaluate.baselines.cv_folds must be in [2, 20], got 1"),
    ({"baselines": {"tfidf_char_ngrams": [5, 2]}}, "evaluate.baselines.tfidf_char_ngrams must be [] (word n-grams only) "
                                                   "or [shortest, longest] characters"),
    ({"baselines": {"tfidf_char_ngrams": [3]}}, "evaluate.baselines.tfidf_char_ngrams must be [] (word n-grams only)"),
    ({"baselines": {"setfit": {"num_iterations": 0}}},
     "evaluate.baselines.setfit.num_iterations must be in [1, 100] pairs per train row and kind, got 0"),
    ({"baselines": {"setfit": {"batch_size": 1}}}, "evaluate.baselines.setfit.batch_size must be >= 2 pairs, got 1"),
    ({"baselines": {"setfit": {"max_steps": -1}}}, "evaluate.baselines.setfit.max_steps must be >= 0 (0: no cap), got -1"),
    ({"baselines": {"setfit": {"epochs": 0}}}, "evaluate.baselines.setfit.epochs must be >= 1, got 0"),
    ({"baselines": {"setfit": {"learning_rate": 0}}}, "evaluate.baselines.setfit.learning_rate must be in (0, 1), got 0.0"),
    ({"baselines": {"setfit": {"pairs": 3}}}, "unknown key evaluate.baselines.setfit.pairs"),
    ({"baselines": {"tfidf_max_ngram": 9}}, "evaluate.baselines.tfidf_max_ngram must be in [1, 5] words, got 9"),
    ({"baselines": {"max_len": 9}}, "unknown key evaluate.baselines.max_len"),
    ({"external_test": {"name": "x"}}, "evaluate.external_test must be a list"),
    ({"external_test": [{"name": "x"}]}, "missing key evaluate.external_test[0].path"),
    ({"external_test": [{"name": "x", "path": "a.csv", "sep": ";"}]}, "unknown key evaluate.external_test[0].sep"),
    ({"external_test": [{"name": "test", "path": "a.csv"}]}, "evaluate.external_test[0].name must be letters"),
    ({"external_test": [{"name": "a b", "path": "a.csv"}]}, "evaluate.external_test[0].name must be letters"),
    ({"external_test": [{"name": "x", "path": "/etc/a.csv"}]},
     "evaluate.external_test[0].path must be a file path relative to the external test directory"),
    ({"external_test": [{"name": "x", "path": "../raw/a.csv"}]}, "evaluate.external_test[0].path must be"),
    ({"external_test": [{"name": "x", "path": "a.csv"}, {"name": "x", "path": "b.csv"}]},
     "evaluate.external_test must be entries with distinct names, got ['x', 'x']"),
    ({"external_test": [{"name": "x", "path": "a.csv", "label_map": {"a": ["b"]}}]},
     "evaluate.external_test[0].label_map.a must be a non-empty string"),
    ({"external_test": [{"name": "x", "path": "a.csv"}, {"name": "y", "path": "b.csv", "role": "train"}]},
     "evaluate.external_test[1].role must be one of dev, test, got 'train'"),
    ({"external_test": [{"name": "x", "path": "a.csv", "role": None}]},
     "evaluate.external_test[0].role must be one of dev, test, got None"),
])
def test_bad_evaluate_params_name_the_key(raw, message):
    with pytest.raises(ParamsError, match=f"^params.yaml: {re.escape(message)}"):
        params.load_dict(raw, "evaluate")
