"""Word-set similarity (stages/core/similarity.py): the exact prefix filter and MinHash LSH against comparing
every pair, recall on planted near-duplicates and on the default task's data, and groups for the split."""

import itertools
import random

import pytest

from stages.core import similarity
from testkit import ROOT



def brute_force_near_duplicates(texts, threshold):
    sets, kept, found = [set(similarity.words(t)) for t in texts], [], {}
    for i, s in enumerate(sets):
        match = next((j for j in kept if similarity.jaccard(s, sets[j]) >= threshold), None)
        if match is None:
            kept.append(i)
        else:
            found[i] = match
    return found


@pytest.mark.parametrize("lsh", [False, True])
def test_near_duplicates_by_hand(lsh):
    texts = ["The city council approved a new budget for schools today",      # 10 words
             "The city council approved a new budget for schools tonight",    # 9 shared of 11: 0.818
             "Storm cuts power to thousands of homes",
             "storm CUTS power to thousands of homes!",                       # same word set: 1.0
             "Power cuts hit thousands of homes after storm"]                 # 6 of 9: 0.667
    near = lambda ts, t: similarity.near_duplicates(ts, t, seed=42, lsh=lsh)  # noqa: E731
    assert near(texts, 0.8) == {1: 0, 3: 2}
    assert near(texts, 0.85) == {3: 2}
    assert near(texts, 0.6) == {1: 0, 3: 2, 4: 2}
    assert near(texts, 1.0) == {3: 2}
    # Exactly at the threshold (7 of 10 words: 0.7) counts as a near-duplicate.
    assert near(["a b c d e f g", "a b c d e f g h i j"], 0.7) == {1: 0}
    # Short texts (fewer than SHORT_WORDS words) are compared exactly, with each other and with longer ones.
    assert near(["a b c d", "a b c d e"], 0.8) == {1: 0}


def planted(seed, n_base=60, vocab_size=40):
    rng = random.Random(seed)
    vocab = [f"w{i}" for i in range(vocab_size)]
    base = [rng.sample(vocab, rng.randint(3, 12)) for _ in range(n_base)]
    texts = [" ".join(b) for b in base]
    for b in base:  # near copies: one word swapped, dropped or added
        edited = list(b)
        edited[rng.randrange(len(edited))] = rng.choice(vocab)
        texts.append(" ".join(edited + rng.sample(vocab, rng.randint(0, 1))))
    rng.shuffle(texts)
    return texts


@pytest.mark.parametrize("threshold", [0.5, 0.7, 0.8, 0.9, 1.0])
def test_prefix_filter_finds_exactly_what_comparing_every_pair_finds(threshold):
    texts = planted(threshold)
    expected = brute_force_near_duplicates(texts, threshold)
    assert similarity.near_duplicates(texts, threshold, seed=42, lsh=False) == expected
    assert threshold == 1.0 or expected  # the data does contain near-duplicates


def template_like(n, seed):
    """Headline-like rows from a few templates over a shared vocabulary, with planted near-copies (a word added,
    dropped or swapped) of a tenth of them."""
    rng = random.Random(seed)
    vocab = [f"word{i}" for i in range(400)]
    shapes = [[rng.choice(vocab) for _ in range(rng.randint(6, 14))] for _ in range(30)]
    texts = []
    for _ in range(n):
        words = [w if rng.random() < 0.5 else rng.choice(vocab) for w in rng.choice(shapes)]
        texts.append(" ".join(words))
    for i in rng.sample(range(n), n // 10):
        words = texts[i].split()
        edit = rng.randrange(3)
        if edit == 0:
            words.append(rng.choice(vocab))
        elif edit == 1 and len(words) > 6:
            words.pop(rng.randrange(len(words)))
        else:
            words[rng.randrange(len(words))] = rng.choice(vocab)
        texts.insert(rng.randrange(len(texts) + 1), " ".join(words))
    return texts


@pytest.mark.parametrize("threshold", [0.8, 0.9])
def test_minhash_recall_on_planted_near_duplicates(threshold):
    texts = template_like(3000, seed=7)
    exact = similarity.near_duplicates(texts, threshold, seed=42, lsh=False)
    fast = similarity.near_duplicates(texts, threshold, seed=42)
    assert len(exact) >= 100  # the planted copies are there
    sets = similarity.word_sets(texts)
    assert all(similarity.jaccard(sets[i], sets[j]) >= threshold for i, j in fast.items())  # no false positives
    assert all(j < i for i, j in fast.items())
    recall = len(set(fast) & set(exact)) / len(exact)
    assert recall >= 0.99, recall


def test_minhash_drops_the_same_rows_on_the_default_task_data():
    from stages.generation.cleaning import clean
    from stages.generation import template
    from stages.generation.task import load_task

    rows, _ = clean(template.generate(load_task(ROOT / "data/tasks/clickbait.yaml"), 400, 42), 3, 1000)
    texts = [r["text"] for r in rows]
    for threshold in (0.8, 0.9):
        assert similarity.near_duplicates(texts, threshold, seed=42) == \
            similarity.near_duplicates(texts, threshold, seed=42, lsh=False)


def test_minhash_is_deterministic():
    texts = template_like(1500, seed=3)
    first = similarity.near_duplicates(texts, 0.8, seed=42)
    assert similarity.near_duplicates(texts, 0.8, seed=42) == first
    assert similarity.groups(texts, 0.8, seed=42) == similarity.groups(texts, 0.8, seed=42)


def test_groups_join_every_pair_at_the_threshold():
    texts = template_like(600, seed=5) + ["Same words here", "same WORDS here!"]
    groups = similarity.groups(texts, 0.8, seed=42)
    group_of = {i: k for k, rows in groups.items() for i in rows}
    assert sorted(group_of) == list(range(len(texts)))  # a partition
    sets = similarity.word_sets(texts)
    for i, j in itertools.combinations(range(len(texts)), 2):
        if similarity.jaccard(sets[i], sets[j]) >= 0.8:
            assert group_of[i] == group_of[j]
    assert group_of[len(texts) - 1] == group_of[len(texts) - 2]


def test_lsh_params_propose_a_pair_at_the_threshold_with_high_probability():
    for t in (0.5, 0.8, 0.9, 1.0):
        b, r = similarity.lsh_params(t)
        assert b * r <= similarity.NUM_PERM and b >= 2
        assert 1 - (1 - t ** r) ** b >= 1 - similarity.MISS_PROBABILITY


def test_near_duplicates_in_a_script_without_spaces_are_found_by_character_bigrams():
    texts = ["東京の株価が今日大きく上昇しました", "東京の株価が今日大きく上昇した",   # one character apart
             "大阪で新しい図書館が来月開館します", "今日はいい天気です"]
    words = similarity.words(texts[0])
    assert len(words) == len(texts[0]) - 1 and all(len(w) == 2 for w in words)  # bigrams, not 1 giant "word"
    for lsh in (False, True):
        assert similarity.near_duplicates(texts, 0.8, seed=1, lsh=lsh) == {1: 0}  # row 1 repeats row 0
    assert similarity.words("Plain English words") == ["plain", "english", "words"]
