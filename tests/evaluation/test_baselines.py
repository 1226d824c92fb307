"""stages.evaluation.baselines with real scikit-learn and the tiny local BERT as the frozen encoder."""

import random

import numpy as np
import pytest

from stages.core import modeling, params
from stages.evaluation import baselines
from stages.core.errors import DataError

LABELS = ["clickbait", "factual"]
# Words of the default task file (so the tiny BERT's vocabulary knows them); each class has its own.
BAIT = ["secrets", "shocked", "believe", "truth", "surprise", "furious", "amazed", "tricks", "stunned", "never"]
FACT = ["council", "approved", "budget", "bank", "raised", "rates", "quarter", "announced", "ministry", "confirmed"]


def separable(n_per_label, seed):
    rng = random.Random(seed)
    texts, labels = [], []
    for lab, words in (("clickbait", BAIT), ("factual", FACT)):
        for _ in range(n_per_label):
            texts.append(" ".join(rng.sample(words, rng.randint(3, 6))))
            labels.append(lab)
    return texts, labels


def accuracy(proba, labels):
    return float(np.mean(np.array(LABELS)[proba.argmax(1)] == np.array(labels)))


@pytest.fixture(scope="module")
def scored(tiny_bert):
    # Train: 24 clickbait + 16 factual, so the majority class is clickbait and scores 0.5 on a balanced test.
    train_texts, train_labels = separable(24, 0)
    train_texts, train_labels = train_texts[:40], train_labels[:40]
    test_texts, test_labels = separable(15, 1)
    cfg = params.load_dict({}, "evaluate").baselines
    out = baselines.run_all(cfg, str(tiny_bert), 16, train_texts, train_labels, LABELS, [test_texts, test_texts[:3]])
    return out, test_labels


def test_every_baseline_scores_every_set(scored):
    out, test_labels = scored
    assert list(out) == ["majority", "tfidf_lr", "frozen_lr"]
    for name, fit in out.items():
        assert [p.shape for p in fit["proba"]] == [(30, 2), (3, 2)], name
        np.testing.assert_allclose(fit["proba"][0].sum(1), 1.0)
        assert fit["train_seconds"] >= 0


def test_majority_predicts_the_most_frequent_train_label(scored):
    out, test_labels = scored
    assert (out["majority"]["proba"][0].argmax(1) == 0).all()  # clickbait: 24 of 40 train rows
    assert accuracy(out["majority"]["proba"][0], test_labels) == 0.5
    predict = baselines.majority(["factual", "clickbait"], LABELS)  # a tie goes to the first label
    assert predict(["x"]).tolist() == [[1.0, 0.0]]


@pytest.mark.parametrize("name", ["tfidf_lr", "frozen_lr"])
def test_baselines_beat_the_majority_class_on_a_separable_fixture(scored, name):
    out, test_labels = scored
    assert accuracy(out[name]["proba"][0], test_labels) >= 0.9
    assert accuracy(out[name]["proba"][0], test_labels) > accuracy(out["majority"]["proba"][0], test_labels) + 0.3


def test_probability_columns_follow_the_model_label_order():
    cfg = params.load_dict({}, "evaluate").baselines
    texts, labels = separable(10, 2)
    predict = baselines.tfidf_lr(cfg, texts, labels, ["factual", "clickbait"])  # reversed order
    proba = predict(["secrets shocked truth", "council budget rates"])
    assert proba[0, 1] > 0.5 and proba[1, 0] > 0.5


def test_mean_pooling_ignores_padding(tiny_bert):
    model, tokenizer = baselines.load_encoder(str(tiny_bert))
    short = "bank rates"
    alone = modeling.embed(model, tokenizer, [short], 8, 32)
    padded = modeling.embed(model, tokenizer, [short, "the council approved a budget in march this year"], 8, 32)
    np.testing.assert_allclose(alone[0], padded[0], atol=1e-5)
    assert not np.allclose(padded[0], padded[1])


def test_unloadable_base_model_is_a_clear_error(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="train.model: cannot load .* for the frozen-encoder baseline"):
        baselines.load_encoder(str(tmp_path / "empty"))
