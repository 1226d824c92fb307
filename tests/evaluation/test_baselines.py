"""stages.evaluation.baselines with real scikit-learn and the tiny local BERT as the frozen encoder: each baseline
scores every set, C chosen by cross-validation and recorded, character n-grams, the fine-tuned model's class
weights, and the fallbacks for labels with too few rows for the folds."""

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
    predict, _ = baselines.tfidf_lr(cfg, texts, labels, ["factual", "clickbait"])  # reversed order
    proba = predict(["secrets shocked truth", "council budget rates"])
    assert proba[0, 1] > 0.5 and proba[1, 0] > 0.5


def test_mean_pooling_ignores_padding(tiny_bert):
    model, tokenizer = modeling.load_encoder(str(tiny_bert), "the frozen-encoder baseline")
    short = "bank rates"
    alone = modeling.embed(model, tokenizer, [short], 8, 32)
    padded = modeling.embed(model, tokenizer, [short, "the council approved a budget in march this year"], 8, 32)
    np.testing.assert_allclose(alone[0], padded[0], atol=1e-5)
    assert not np.allclose(padded[0], padded[1])


def test_unloadable_base_model_is_a_clear_error(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="train.model: cannot load .* for the frozen-encoder baseline"):
        modeling.load_encoder(str(tmp_path / "empty"), "the frozen-encoder baseline")


def test_cross_validation_records_c_and_score_for_each_regression(scored):
    out, _ = scored
    assert "cv" not in out["majority"]["record"]
    for name in ("tfidf_lr", "frozen_lr"):
        cv = out[name]["record"]["cv"]
        assert cv["c_grid"] == [0.01, 0.1, 1.0, 10.0, 100.0] and cv["c"] in cv["c_grid"], name
        assert cv["folds"] == 5 and 0.9 <= cv["f1_macro"] <= 1.0, name  # separable: the held-out folds are right
        assert out[name]["record"]["class_weights"] is None


def test_cross_validation_picks_a_different_c_when_the_data_asks_for_it():
    # Balanced and separable: every C is perfect on the held-out folds, and a tie goes to the strongest
    # regularisation. 30 vs 6 rows, unweighted: a small C leaves every prediction on the majority label (macro-F1
    # about 0.45), so only a weak regularisation finds the 6 rows.
    cfg = params.load_dict({}, "evaluate").baselines
    chosen = {}
    for n_bait, n_fact in ((20, 20), (30, 6)):
        rng = random.Random(3)
        texts = [" ".join(rng.sample(BAIT, 4)) for _ in range(n_bait)] + [" ".join(rng.sample(FACT, 4)) for _ in range(n_fact)]
        labels = ["clickbait"] * n_bait + ["factual"] * n_fact
        _, record = baselines.tfidf_lr(cfg, texts, labels, LABELS, seed=0)
        chosen[n_fact] = record["cv"]
    assert chosen[20]["c"] == 0.01 and chosen[20]["f1_macro"] == 1.0
    assert chosen[6]["c"] >= 10.0 and chosen[6]["f1_macro"] > 0.9


def test_folds_shrink_to_the_smallest_label_and_a_single_row_label_falls_back_to_the_middle_c(caplog):
    texts, labels = separable(12, 4)
    few = texts[:12] + texts[12:15]  # 12 clickbait, 3 factual
    _, record = baselines.tfidf_lr(params.load_dict({}, "evaluate").baselines, few, labels[:15], LABELS)
    assert record["cv"]["folds"] == 3 and record["cv"]["f1_macro"] is not None
    one = texts[:12] + texts[12:13]  # a single factual row: no fold can hold it out
    predict, record = baselines.tfidf_lr(params.load_dict({}, "evaluate").baselines, one, labels[:13], LABELS)
    assert record["cv"] == {"c_grid": [0.01, 0.1, 1.0, 10.0, 100.0], "c": 1.0, "f1_macro": None, "folds": 0}
    assert "a class has a single train row" in caplog.text
    assert predict(["council budget"]).shape == (1, 2)


def test_character_ngrams_recognise_words_never_seen_in_train():
    # Sports end in -ball, sciences in -ology; the test words never occur in train, so word n-grams see nothing.
    sport = ["football", "handball", "netball", "baseball", "softball", "basketball", "paintball", "snowball"]
    science = ["biology", "geology", "zoology", "ecology", "theology", "oncology", "virology", "neurology"]
    rng = random.Random(1)
    train = [(" ".join(rng.sample(sport[:5], 3)), "sport") for _ in range(15)]
    train += [(" ".join(rng.sample(science[:5], 3)), "science") for _ in range(15)]
    test = [" ".join(rng.sample(sport[5:], 2)) for _ in range(6)] + [" ".join(rng.sample(science[5:], 2)) for _ in range(6)]
    truth = np.array(["sport"] * 6 + ["science"] * 6)
    acc = {}
    for chars in ([], [2, 5]):
        cfg = params.load_dict({"baselines": {"tfidf_char_ngrams": chars}}, "evaluate").baselines
        predict, _ = baselines.tfidf_lr(cfg, [t for t, _ in train], [y for _, y in train], ["science", "sport"])
        acc[len(chars)] = float(np.mean(np.array(["science", "sport"])[predict(test).argmax(1)] == truth))
    assert acc[0] == 0.5 and acc[2] == 1.0


def ambiguous_imbalanced():
    """40 factual rows and 8 clickbait rows that share half their words; test texts mix both halves equally."""
    rng = random.Random(5)
    texts = [" ".join(rng.sample(FACT, 3) + rng.sample(BAIT[:5], 2)) for _ in range(40)]
    texts += [" ".join(rng.sample(BAIT, 3) + rng.sample(FACT[:5], 2)) for _ in range(8)]
    test = [" ".join(rng.sample(BAIT, 2) + rng.sample(FACT, 2)) for _ in range(40)]
    return texts, ["factual"] * 40 + ["clickbait"] * 8, test


@pytest.mark.parametrize("name", ["tfidf_lr", "frozen_lr"])
def test_class_weights_move_decisions_toward_the_weighted_label(tiny_bert, name):
    texts, labels, test = ambiguous_imbalanced()
    cfg = params.load_dict({"baselines": {"models": [name], "c_grid": [1.0]}}, "evaluate").baselines
    share = {}
    for weights in (None, [48 / (2 * 8), 48 / (2 * 40)]):  # balanced, as train computes it: n / (k * n_label)
        fit = baselines.run_all(cfg, str(tiny_bert), 16, texts, labels, LABELS, [test], class_weights=weights)[name]
        assert fit["record"]["class_weights"] == weights
        share[weights is None] = float((fit["proba"][0].argmax(1) == 0).mean())  # predicted clickbait
    assert share[False] >= share[True] + 0.1, share  # weighted: more minority-label decisions


def test_multi_label_weights_raise_each_labels_positive_probability():
    texts = ["red apple", "green apple", "red car", "blue car", "green bus", "red bus"] * 4
    cells = ["fruit|red", "fruit", "red", "", "", "red"] * 4
    cells = [c or "other" for c in cells]
    labels = ["fruit", "other", "red"]
    cfg = params.load_dict({"baselines": {"c_grid": [0.1]}}, "evaluate").baselines
    plain, _ = baselines.tfidf_lr(cfg, texts, cells, labels, multi_label=True)
    heavy, record = baselines.tfidf_lr(cfg, texts, cells, labels, multi_label=True, class_weights=[5.0, 5.0, 5.0])
    probe = ["yellow apple", "red bus", "grey car"]
    assert (heavy(probe) > plain(probe)).all()
    assert set(record["cv"]["per_label"]) == set(labels)  # a C and its cross-validated score per label
    assert all(r["c"] == 0.1 and r["folds"] == 5 and 0 <= r["f1_macro"] <= 1 for r in record["cv"]["per_label"].values())


def test_class_weights_must_match_the_model_labels():
    texts, labels = separable(5, 0)
    with pytest.raises(DataError, match="class_weights has 3 values for 2 model labels"):
        baselines.tfidf_lr(params.load_dict({}, "evaluate").baselines, texts, labels, LABELS, class_weights=[1, 1, 1])
