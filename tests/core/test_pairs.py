"""Candidate pairs listed all at once (stages/core/pairs.py) against the text-by-text search of the index
(similarity.Index.candidates), their vectorised Jaccard against similarity.jaccard (bit sets and the sparse
matrix), and what is built on them (near-duplicates, groups, the leak report) against the text-by-text way."""

import collections
import random

import pytest

from stages.core import pairs, similarity
from tests.core.test_similarity import template_like


def mixed_texts(n, seed):
    """Template-like rows of 2 to 14 words (short ones go to the prefix filter, long ones to LSH), with exact
    duplicates of some rows (case and punctuation changed)."""
    rng = random.Random(seed)
    vocab = [f"w{i}" for i in range(60)]
    shapes = [[rng.choice(vocab) for _ in range(rng.randint(2, 14))] for _ in range(20)]
    texts = []
    for _ in range(n):
        words = [w if rng.random() < 0.7 else rng.choice(vocab) for w in rng.choice(shapes)]
        texts.append(" ".join(words))
        if rng.random() < 0.1:
            texts.append(" ".join(words).upper() + "!")
    return texts


def listed_pairs(index, chunk=pairs.CHUNK):
    found = collections.Counter()
    for a, b, sim in index.similar_pairs() if chunk == pairs.CHUNK else (
            (a, b, None) for a, b in pairs.candidate_pairs(*pairs.bucket_members(index.bucket_keys()), chunk=chunk)):
        assert (a < b).all()
        found.update(zip(a.tolist(), b.tolist()))
    return found


@pytest.mark.parametrize("threshold", [0.5, 0.8, 0.9])
def test_listed_pairs_are_the_pairs_the_text_by_text_search_proposes(threshold):
    sets = similarity.word_sets(mixed_texts(400, seed=1))
    index = similarity.Index(sets, threshold, seed=42)
    expected = set()
    for i in range(len(sets)):
        expected.update((j, i) for j in index.candidates(i))
        index.add(i)
    assert expected and any(len(s) < similarity.SHORT_WORDS for s in sets)  # both kinds of bucket are used
    listed = listed_pairs(similarity.Index(sets, threshold, seed=42))
    assert set(listed) == expected
    assert set(listed_pairs(similarity.Index(sets, threshold, seed=42), chunk=50)) == expected  # in small chunks


@pytest.mark.parametrize("bitset_bytes", [pairs.BITSET_BYTES, 0])
def test_vectorised_jaccard_equals_jaccard_of_the_sets(monkeypatch, bitset_bytes):
    monkeypatch.setattr(pairs, "BITSET_BYTES", bitset_bytes)  # 0: the sparse-matrix way
    sets = similarity.word_sets(mixed_texts(150, seed=2) + ["", "!!!"] + [f"v{i} x" for i in range(100)])
    overlap = pairs.Overlap(sets)
    assert (overlap.matrix is None) == (bitset_bytes > 0)
    rng = random.Random(0)
    a, b = zip(*[(rng.randrange(len(sets)), rng.randrange(len(sets))) for _ in range(3000)] + [(150, 151)])
    import numpy as np

    got = overlap.jaccard(np.array(a), np.array(b))
    assert got.tolist() == [similarity.jaccard(sets[i], sets[j]) for i, j in zip(a, b)]  # bit for bit


def text_by_text_groups(texts, threshold):
    """Union-find over the index's candidates, text by text (the grouping before core/pairs.py)."""
    parent = list(range(len(texts)))

    def find(i):
        while parent[i] != i:
            i = parent[i]
        return i

    first = {}
    keys = [similarity.dedup_key(t) for t in texts]
    for i, key in enumerate(keys):
        parent[i] = find(first.setdefault(key, i))
    reps = sorted(first.values())
    sets = similarity.word_sets([texts[i] for i in reps])
    index = similarity.Index(sets, threshold, seed=42)
    for k in range(len(reps)):
        for j in index.candidates(k):
            a, b = find(reps[k]), find(reps[j])
            if a != b and similarity.jaccard(sets[k], sets[j]) >= threshold:
                parent[max(a, b)] = min(a, b)
        index.add(k)
    out = collections.defaultdict(list)
    for i in range(len(texts)):
        out[keys[find(i)]].append(i)
    return dict(out)


@pytest.mark.parametrize("threshold", [0.5, 0.8, 0.9])
def test_groups_equal_the_text_by_text_union_find(threshold):
    texts = mixed_texts(1500, seed=3)
    got = similarity.groups(texts, threshold, seed=42)
    expected = text_by_text_groups(texts, threshold)
    assert got == expected and list(got) == list(expected)  # the same groups, keys and order
    assert any(len(rows) > 1 for rows in got.values())


@pytest.mark.parametrize("threshold", [0.8, 0.9])
def test_near_duplicates_equal_the_text_by_text_search_with_the_same_index(threshold):
    texts = mixed_texts(1500, seed=4) + template_like(1500, seed=4)
    index, expected = similarity.Index(similarity.word_sets(texts), threshold, seed=42), {}
    for i in range(len(texts)):
        match = next(index.matches(i), None)
        if match is None:
            index.add(i)
        else:
            expected[i] = match[0]
    assert expected and similarity.near_duplicates(texts, threshold, seed=42) == expected


def test_leak_report_from_the_grouping_equals_an_index_over_every_row(monkeypatch):
    texts = mixed_texts(1200, seed=5)
    grouping, rng, parts = similarity.Grouping(texts, 0.8, seed=42), random.Random(0), [""] * len(texts)
    for rows in grouping.groups.values():  # each group in one part, as the split puts them
        part = rng.choice(["train", "val", "test"])
        for i in rows:
            parts[i] = part
    monkeypatch.setattr(similarity, "EXACT_REPORT_ROWS", 10)
    index, best = similarity.Index(similarity.word_sets(texts), 0.8, seed=42), 0.0
    sets = index.sets
    for i in range(len(texts)):  # the text-by-text way, every row in the index
        for j in index.candidates(i):
            if parts[i] != parts[j]:
                best = max(best, similarity.jaccard(sets[i], sets[j]))
        index.add(i)
    assert 0 < best < 0.8
    assert similarity.max_cross_jaccard(texts, parts, 0.8, 42, grouping) == (round(best, 4), False)
    assert similarity.max_cross_jaccard(texts, parts, 0.8, 42) == (round(best, 4), False)
