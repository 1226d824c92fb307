"""The setfit baseline on the tiny local BERT: contrastive pairs, then frozen_lr's cross-validated head."""

import numpy as np
import pytest

from stages.core import params
from stages.core.errors import DataError
from stages.evaluation import baselines
from tests.evaluation.test_baselines import LABELS, accuracy, separable

TINY = {"num_iterations": 2, "epochs": 1, "batch_size": 8, "max_steps": 0, "learning_rate": 1e-3}


def test_setfit_learns_the_separable_fixture_and_records_its_pairs(tiny_bert):
    train_texts, train_labels = separable(10, 0)
    test_texts, test_labels = separable(8, 1)
    cfg = params.load_dict({"baselines": {"models": ["setfit"], "setfit": TINY}}, "evaluate").baselines
    fit = baselines.run_all(cfg, str(tiny_bert), 16, train_texts, train_labels, LABELS, [test_texts], seed=0,
                            class_weights=[1.0, 1.0])["setfit"]
    proba = fit["proba"][0]
    assert proba.shape == (16, 2) and np.allclose(proba.sum(1), 1.0)
    assert accuracy(proba, test_labels) >= 0.9
    # pairs per epoch: a positive and a negative pair per train row and iteration (setfit's num_iterations)
    assert fit["record"]["setfit"] == {"pairs": 2 * 2 * 20, "steps": 10}
    assert fit["record"]["cv"]["c"] in cfg.c_grid and fit["record"]["class_weights"] == [1.0, 1.0]


def test_setfit_multi_label_gives_a_probability_per_label(tiny_bert):
    texts = ["secrets bank", "shocked council", "truth budget", "rates approved", "believe quarter", "tricks never"] * 3
    cells = ["clickbait|factual", "clickbait|factual", "clickbait|factual", "factual", "factual", "clickbait"] * 3
    cfg = params.load_dict({"baselines": {"models": ["setfit"], "setfit": {**TINY, "max_steps": 3}}}, "evaluate")
    fit = baselines.run_all(cfg.baselines, str(tiny_bert), 16, texts, cells, LABELS, [texts[:4]], multi_label=True)
    assert fit["setfit"]["proba"][0].shape == (4, 2) and fit["setfit"]["record"]["setfit"]["steps"] == 3
    assert set(fit["setfit"]["record"]["cv"]["per_label"]) == set(LABELS)


def test_an_unloadable_encoder_is_one_line_naming_train_model(tmp_path):
    (tmp_path / "empty").mkdir()
    cfg = params.load_dict({"baselines": {"models": ["setfit"]}}, "evaluate").baselines
    with pytest.raises(DataError, match="train.model: cannot load .* for the setfit baseline"):
        baselines.run_all(cfg, str(tmp_path / "empty"), 8, ["a b", "c d"], LABELS, LABELS, [["a"]])
