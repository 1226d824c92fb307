"""stages.core.modeling.run_batches, the one batched forward pass (evaluate, the frozen-encoder baseline and
explain's LIME classifier all go through it), and its wrappers predict_proba and embed."""

from __future__ import annotations

import numpy as np
import pytest

from stages.core import modeling

# Very different token counts, the longest past max_length (truncated), in no particular order.
TEXTS = ["the mayor found coffee in texas this year and parents are furious about what the council did " * 3,
         "storm", "city council approved a budget", "you won't believe what the mayor found",
         "bank rates", "10 secrets nobody saw coming about the truth of coffee in texas"]
MAX_LENGTH = 24


@pytest.fixture(scope="module")
def tokenizer(tiny_bert):
    return modeling.load_tokenizer(str(tiny_bert))


@pytest.fixture(scope="module")
def classifier(tiny_bert):
    import torch

    torch.manual_seed(0)  # the fresh head is random: seeded, so every run tests the same model
    model = modeling.load_classifier(str(tiny_bert), ["clickbait", "factual"])
    with torch.no_grad():  # a larger head spreads the probabilities, so that rows tell texts apart
        model.classifier.weight.mul_(10)
    return model


def token_counts(tokenizer, texts):
    return [len(ids) for ids in tokenizer(texts, truncation=True, max_length=MAX_LENGTH)["input_ids"]]


def test_rows_come_back_in_input_order(tokenizer):
    def lengths(batch):  # one row per text: its real (unpadded) token count
        return batch["attention_mask"].sum(1, keepdim=True).numpy()

    for batch_size in (1, 2, 64):
        out = modeling.run_batches(TEXTS, tokenizer, lengths, batch_size=batch_size, max_length=MAX_LENGTH)
        assert out[:, 0].tolist() == token_counts(tokenizer, TEXTS)
    assert token_counts(tokenizer, TEXTS)[0] == MAX_LENGTH  # the long text was truncated


def test_each_batch_is_padded_only_to_its_own_longest_row(tokenizer):
    seen = []

    def record(batch):
        seen.append(batch["attention_mask"].clone())
        return np.zeros((len(batch["input_ids"]), 1))

    modeling.run_batches(TEXTS, tokenizer, record, batch_size=2, max_length=MAX_LENGTH)
    counts = sorted(token_counts(tokenizer, TEXTS))
    assert [m.sum(1).tolist() for m in seen] == [counts[0:2], counts[2:4], counts[4:6]]  # shortest first
    assert [m.shape[1] for m in seen] == [counts[1], counts[3], counts[5]]  # width = the batch's longest row
    pads = sum(int((m == 0).sum()) for m in seen)
    assert pads == sum(counts[i + 1] - counts[i] for i in (0, 2, 4))
    assert pads < len(counts) * max(counts) - sum(counts)  # what padding=True over everything would add


@pytest.mark.parametrize("side", ["right", "left"])
def test_pad_batch_gives_the_tensors_tokenizer_pad_gives(tiny_bert, side):
    import torch

    tokenizer = modeling.load_tokenizer(str(tiny_bert))
    tokenizer.padding_side = side
    encoded = tokenizer(TEXTS, truncation=True, max_length=MAX_LENGTH)
    lengths = token_counts(tokenizer, TEXTS)
    for idx in ([0, 1, 2], [5, 3], [1], list(range(len(TEXTS)))):
        ours = modeling.pad_batch(tokenizer, encoded, idx, [lengths[i] for i in idx])
        theirs = tokenizer.pad({k: [encoded[k][i] for i in idx] for k in encoded.keys()}, return_tensors="pt")
        assert list(ours.keys()) == list(theirs.keys()) == ["input_ids", "token_type_ids", "attention_mask"]
        for key in theirs:
            assert ours[key].dtype == theirs[key].dtype and torch.equal(ours[key], theirs[key]), (idx, key)


@pytest.mark.parametrize("batch_size", [1, 3, 64])
def test_probabilities_do_not_depend_on_the_batch_size(classifier, tokenizer, batch_size):
    one_by_one = np.vstack([modeling.predict_proba(classifier, tokenizer, [t], 1, MAX_LENGTH) for t in TEXTS])
    got = modeling.predict_proba(classifier, tokenizer, TEXTS, batch_size, MAX_LENGTH)
    assert got.shape == (len(TEXTS), 2) and got.dtype == np.float64
    np.testing.assert_allclose(got, one_by_one, atol=1e-6, rtol=0)
    np.testing.assert_allclose(got.sum(1), 1, atol=1e-6)
    assert np.ptp(got[:, 0]) > 1e-4  # the rows differ, so equality says something about order


def test_predict_proba_is_order_independent(classifier, tokenizer):
    p1 = modeling.predict_proba(classifier, tokenizer, TEXTS, batch_size=2)
    p2 = modeling.predict_proba(classifier, tokenizer, TEXTS[::-1], batch_size=3)[::-1]
    np.testing.assert_allclose(p1, p2, atol=1e-6, rtol=0)


@pytest.mark.parametrize("batch_size", [1, 3, 64])
def test_embeddings_do_not_depend_on_the_batch_size(tiny_bert, batch_size):
    from transformers import AutoModel

    model, tokenizer = AutoModel.from_pretrained(str(tiny_bert)), modeling.load_tokenizer(str(tiny_bert))
    one_by_one = np.vstack([modeling.embed(model, tokenizer, [t], 1, MAX_LENGTH) for t in TEXTS])
    got = modeling.embed(model, tokenizer, TEXTS, batch_size, MAX_LENGTH)
    assert got.shape == (len(TEXTS), model.config.hidden_size)
    np.testing.assert_allclose(got, one_by_one, atol=1e-6, rtol=0)


def test_no_texts_and_a_bad_batch_size(classifier, tokenizer):
    assert modeling.predict_proba(classifier, tokenizer, [], 8).shape == (0, 2)
    with pytest.raises(ValueError, match="batch_size must be >= 1, got 0"):
        modeling.run_batches(TEXTS, tokenizer, lambda batch: None, batch_size=0, max_length=MAX_LENGTH)


def test_token_limit_replaces_a_huge_sentinel(tokenizer):
    class Huge:
        model_max_length = int(1e30)

    assert modeling.token_limit(Huge()) == 512 and modeling.token_limit(Huge(), 64) == 64
    assert modeling.token_limit(tokenizer) == tokenizer.model_max_length


def test_multi_label_model_scores_one_sigmoid_per_label_and_keeps_its_thresholds(tmp_path) -> None:
    from transformers import pipeline

    from testkit.tiny_bert import build_tiny_bert

    base = build_tiny_bert(tmp_path / "base")
    model = modeling.load_classifier(str(base), ["account", "billing", "urgent"], multi_label=True)
    model.config.decision_thresholds = {"account": 0.3, "billing": 0.6}
    model.save_pretrained(tmp_path / "m")
    modeling.load_tokenizer(str(base)).save_pretrained(tmp_path / "m")
    loaded = modeling.load_classifier(str(tmp_path / "m"))
    assert modeling.is_multi_label(loaded)
    assert modeling.thresholds_of(loaded) == [0.3, 0.6, 0.5]  # a label without a saved threshold: 0.5
    proba = modeling.predict_proba(loaded, modeling.load_tokenizer(str(tmp_path / "m")), ["you will not believe"])
    assert proba.shape == (1, 3) and abs(proba.sum() - 1.0) > 1e-3  # independent sigmoids, not a softmax
    scores = pipeline("text-classification", model=str(tmp_path / "m"), top_k=None)("you will not believe")
    assert sorted(s["label"] for s in scores[0]) == ["account", "billing", "urgent"]
    assert max(abs(s["score"] - proba[0][["account", "billing", "urgent"].index(s["label"])]) for s in scores[0]) < 1e-5
