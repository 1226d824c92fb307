"""auditing/measures.py and rows.py on hand-made rows and embeddings: alike sides are indistinguishable and covered,
disjoint ones told apart and uncovered; each number checked against one computed by hand."""

from __future__ import annotations

import numpy as np
import pytest

from stages.auditing import measures
from stages.auditing.rows import GENERATE_REAL, Rows, real_row, reference, sample

WORDS_A = "council budget approves transit plan rates march water schools hospital road".split()
WORDS_B = "shocking secret believe reasons amazing trick celebrities weird hacks cute viral".split()


def rows(texts: list[str], labels: list[str] | None = None, origins: list[str] | None = None,
         set_name: str = "train") -> Rows:
    n = len(texts)
    return Rows(list(texts), labels or ["a", "b"] * (n // 2) + ["a"] * (n % 2), [set_name] * n, list(range(1, n + 1)),
                origins or [f"a-{i % 3 + 1}" for i in range(n)])


def sentences(words: list[str], n: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(words, size=6)) for _ in range(n)]


def bag_of_words(texts: list[str]) -> np.ndarray:
    """A stand-in for an encoder: word counts over the union vocabulary (disjoint words: orthogonal rows)."""
    vocab = sorted({w for t in texts for w in t.split()})
    return np.array([[t.split().count(w) for w in vocab] for t in texts], dtype=float)


def test_identical_sides_are_indistinguishable_and_fully_covered():
    texts = sentences(WORDS_A + WORDS_B, 40, seed=1)
    syn, real = rows(texts), rows(texts, set_name="dev")
    emb = bag_of_words(texts)
    scores, p = measures.discriminability(syn, real, emb, emb, seed=0)
    for name in ("tfidf_lr", "frozen_lr"):
        assert scores[name]["folds"] == 5 and scores[name]["roc_auc"] == pytest.approx(0.5, abs=0.05), scores
    assert p.shape == (40,) and ((0 <= p) & (p <= 1)).all()
    cover, distance = measures.coverage(measures.unit(emb), measures.unit(emb))
    assert cover["share"] == 1.0 and cover["covered"] == cover["rows"] == 40 and cover["threshold"] > 0
    assert np.allclose(distance, 0)


def test_disjoint_vocabularies_are_told_apart_and_not_covered():
    syn, real = rows(sentences(WORDS_B, 40, seed=2)), rows(sentences(WORDS_A, 30, seed=3), set_name="dev")
    emb = bag_of_words(syn.texts + real.texts)
    scores, p = measures.discriminability(syn, real, emb[:40], emb[40:], seed=0)
    assert scores["tfidf_lr"]["roc_auc"] >= 0.99 and scores["frozen_lr"]["roc_auc"] >= 0.99, scores
    assert p.min() > 0.5  # every synthetic row, held out, looks synthetic
    cover, distance = measures.coverage(measures.unit(emb[:40]), measures.unit(emb[40:]))
    assert cover["share"] == 0.0 and cover["covered"] == 0 and np.allclose(distance, 1.0)  # orthogonal: distance 1
    assert cover["threshold"] < 1.0 and cover["median_distance"] == 1.0


def test_discriminability_runs_fewer_folds_when_a_side_is_small():
    syn, real = rows(sentences(WORDS_B, 20, seed=4)), rows(sentences(WORDS_A, 3, seed=5), set_name="dev")
    emb = bag_of_words(syn.texts + real.texts)
    scores, _ = measures.discriminability(syn, real, emb[:20], emb[20:], seed=0)
    assert scores["tfidf_lr"]["folds"] <= 3 and scores["tfidf_lr"]["roc_auc"] is not None


def test_nearest_excludes_each_row_itself_and_agrees_with_brute_force_across_chunks(monkeypatch):
    rng = np.random.default_rng(0)
    a, b = measures.unit(rng.normal(size=(7, 4))), measures.unit(rng.normal(size=(5, 4)))
    monkeypatch.setattr(measures, "CHUNK", 3)  # blocks of 3 rows: 7 rows take three blocks
    brute = 1 - (a @ b.T).max(axis=1)
    np.testing.assert_allclose(measures.nearest(a, b), brute)
    sims = a @ a.T
    np.fill_diagonal(sims, -np.inf)
    np.testing.assert_allclose(measures.nearest(a, a, same=True), 1 - sims.max(axis=1))


def test_coverage_threshold_is_the_median_real_to_real_distance_and_closer_means_strictly():
    # Real rows on the unit circle at 0, 90 and 180 degrees: nearest other real row at distance 1 for each -> 1.0.
    real = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
    synthetic = np.array([[1.0, 0.0], [np.sin(1e-3), np.cos(1e-3)], [0.0, -1.0]])  # at 0, 90 - 0.06 and 270 degrees
    cover, distance = measures.coverage(synthetic, real)
    assert cover["threshold"] == 1.0
    np.testing.assert_allclose(distance, [0.0, 1 - np.cos(1e-3), 1.0], atol=1e-9)
    assert cover["covered"] == 2 and cover["share"] == round(2 / 3, 4)  # the third sits at exactly 1.0: not closer


def test_diversity_by_hand():
    syn = rows(["a b c", "a b d", "a b c"], origins=["t-1", "t-1", "t-2"])
    emb = measures.unit(np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]]))
    out = measures.diversity(syn, emb, 3, seed=0, origins=True)
    # 1-grams: 9 tokens, 4 distinct -> 444.4 per 1,000; 2-grams: 6, distinct (a b) (b c) (b d) -> 500 per 1,000.
    assert out["distinct_1"] == 444.4 and out["distinct_2"] == 500.0 and out["rows"] == 3 and out["window"] == 3
    assert out["mean_pairwise_similarity"] == round((0 + 1 + 0) / 3, 4)  # pairs (1,2) 0, (1,3) 1, (2,3) 0
    assert out["largest_origin"] == "t-1" and out["largest_origin_share"] == round(2 / 3, 4)
    real = measures.diversity(syn, emb, 2, seed=0, origins=False)
    assert real["rows"] == 3 and real["window"] == 2 and real["largest_origin"] is None
    assert real["largest_origin_share"] is None


def test_windowed_distinct_averages_whole_windows_so_size_does_not_move_it():
    one = ["a b", "c d"]  # every window of these two rows: 4 distinct of 4 1-grams
    assert measures.windowed_distinct(one, 1, 2, seed=0) == 1000.0
    many = [f"w{i} x" for i in range(200)]  # 2 rows: 4 tokens, 3 distinct (x twice) -> 750 whatever the row count
    assert measures.windowed_distinct(many[:2], 1, 2, seed=0) == measures.windowed_distinct(many, 1, 2, seed=1) == 750.0
    assert measures.windowed_distinct(many[:5], 1, 2, seed=0) == 750.0  # the fifth row: no whole window, left out


def test_label_shares_single_and_multi_label():
    assert measures.label_shares(["a", "b", "a", "a"], False) == {"a": 0.75, "b": 0.25}
    assert measures.label_shares(["a|b", "b", "a"], True) == {"a": round(2 / 3, 4), "b": round(2 / 3, 4)}


def test_most_unreal_and_least_covered_shapes_and_order():
    syn = rows([f"text {i}" for i in range(30)])
    unreal = measures.most_unreal(syn, np.linspace(0, 1, 30))
    assert len(unreal) == measures.TOP == 20
    assert [r["row"] for r in unreal[:3]] == [30, 29, 28] and unreal[0]["p_synthetic"] == 1.0
    assert set(unreal[0]) == {"set", "row", "text", "label", "origin", "p_synthetic"}
    real = rows(["x", "y", "z"], set_name="dev")
    covered = measures.least_covered(real, np.array([0.2, 0.9, 0.5]))
    assert covered == [{"set": "dev", "row": 2, "text": "y", "label": "b", "distance": 0.9},
                       {"set": "dev", "row": 3, "text": "z", "label": "a", "distance": 0.5},
                       {"set": "dev", "row": 1, "text": "x", "label": "a", "distance": 0.2}]


def test_reference_keeps_each_text_once_dev_sets_first():
    dev = {"d1": rows(["Same text.", "only dev"], set_name="d1")}
    real = Rows(["same text", "only real"], ["a", "b"], [GENERATE_REAL] * 2, [7, 9], ["data/raw/r.csv:7", "data/raw/r.csv:9"])
    ref, names = reference(dev, real)
    assert names == ["dev:d1", GENERATE_REAL]
    assert ref.texts == ["Same text.", "only dev", "only real"] and ref.sets == ["d1", "d1", GENERATE_REAL]
    assert ref.rows == [1, 2, 9]
    assert reference({}, Rows([], [], [], [], []))[1] == []


def test_real_row_reads_the_origin_and_sample_is_seeded_and_ordered():
    assert real_row("data/raw/x.csv:17", 3) == 17 and real_row("weird", 3) == 3
    many = rows([f"t{i}" for i in range(50)])
    a, b = sample(many, 10, 1), sample(many, 10, 1)
    assert a == b and len(a) == 10 and a.rows == sorted(a.rows) and sample(many, 60, 1) is many
