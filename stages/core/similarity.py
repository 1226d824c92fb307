"""Word-set similarity of texts: exact Jaccard, near-duplicates to drop, groups of similar texts to keep together.

At scale, MinHash LSH (datasketch) only proposes candidate pairs; each is confirmed with the exact Jaccard, so
nothing below the threshold is ever reported. Texts of few words (where MinHash is noisy) are searched exactly.
The near-duplicates, the split's groups and its leak report list all candidate pairs at once and compare them
vectorised (core/pairs.py); the split's leak report reuses the grouping's index. The results equal those of the
text-by-text search (Index.candidates/matches), which stays as the reference.
"""

from __future__ import annotations

import collections
import itertools
import math
import re
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from stages.core import pairs
from stages.core.text import dedup_key, has_unspaced, tokens

NUM_PERM = 128  # MinHash permutations: the bands x rows of the LSH index come out of these
MISS_PROBABILITY = 0.01  # chance that a pair exactly at the threshold is not proposed by the LSH index
SHORT_WORDS = 5  # texts with fewer words are compared exactly: their Jaccard values are coarse, MinHash noisy
EXACT_REPORT_ROWS = 5000  # up to this many rows, the worst cross-split similarity compares every pair
_NON_WORD = re.compile(r"[\W_]+")  # as in text.dedup_key


def words(text: str) -> list[str]:
    """The words of dedup_key(text), without its whitespace passes (this runs on every row). A word of a script
    written without spaces (Japanese, Chinese, Thai: text.UNSPACED) becomes its character bigrams, so two
    sentences of such a script are compared by what they say, not as one or two giant "words"."""
    out = [w for w in _NON_WORD.split(unicodedata.normalize("NFKC", text).casefold()) if w]
    return [g for w in out for g in _shingles(w)] if has_unspaced(text) else out


def _shingles(word: str) -> list[str]:
    if not has_unspaced(word):
        return [word]
    chars = tokens(word)
    return chars if len(chars) < 2 else [a + b for a, b in zip(chars, chars[1:])]


def jaccard(a: set[str] | frozenset[str], b: set[str] | frozenset[str]) -> float:
    inter = len(a & b)
    return inter / (len(a) + len(b) - inter) if a or b else 1.0


def lsh_params(threshold: float, num_perm: int = NUM_PERM) -> tuple[int, int]:
    """(bands, rows) with the most rows per band (fewest false candidates) that still propose a pair whose
    Jaccard is exactly `threshold` with probability >= 1 - MISS_PROBABILITY: 1 - (1 - t^r)^b."""
    best = (num_perm // 2, 2)
    for rows in range(1, num_perm // 2 + 1):
        bands = num_perm // rows
        if 1 - (1 - threshold ** rows) ** bands >= 1 - MISS_PROBABILITY:
            best = (bands, rows)
    return best


def signatures(sets: Sequence[frozenset[str]], seed: int, num_perm: int = NUM_PERM) -> tuple[Any, str]:
    """MinHash signatures (n x num_perm), datasketch's own hash values: each distinct word is hashed once and
    a text's signature is the elementwise minimum of its words' (the minimum over a set is the MinHash)."""
    from datasketch import MinHash

    vocab = sorted(set().union(*sets))
    proto = MinHash(num_perm=num_perm, seed=seed)
    table = np.empty((len(vocab) + 1, num_perm), dtype=proto.hashvalues.dtype)
    for k, word in enumerate(vocab):
        m = MinHash(num_perm=num_perm, seed=seed, permutations=proto.permutations, scheme=proto.scheme)
        m.update(word.encode("utf-8"))
        table[k] = m.hashvalues
    table[len(vocab)] = np.iinfo(table.dtype).max  # padding: the identity of the minimum
    code = {w: k for k, w in enumerate(vocab)}
    width = max((len(s) for s in sets), default=0)
    idx = np.full((len(sets), width), len(vocab), dtype=np.intp)
    for i, s in enumerate(sets):
        idx[i, :len(s)] = [code[w] for w in s]
    out = np.full((len(sets), num_perm), np.iinfo(table.dtype).max, dtype=table.dtype)
    for k in range(width):  # one gather per word position: no (rows x words x num_perm) temporary
        np.minimum(out, table[idx[:, k]], out=out)
    return out, proto.scheme


class Index:
    """Texts added one by one, searchable for earlier ones with Jaccard >= threshold.

    Sets of SHORT_WORDS or more words go into a MinHash LSH index; sets a short set could match (at most
    (SHORT_WORDS - 1) / threshold words, by the size bound t|x| <= |y| <= |x|/t) into an exact prefix-filter
    index (Chaudhuri et al. 2006: with tokens ordered rarest first, two sets with Jaccard >= t share a token
    among the first |x| - ceil(t|x|) + 1 of each). Every candidate is confirmed with the exact Jaccard.
    """

    def __init__(self, sets: Sequence[frozenset[str]], threshold: float, seed: int, *, lsh: bool = True,
                 weights: Sequence[int] | None = None) -> None:
        self.sets, self.threshold = sets, threshold
        freq: collections.Counter[str] = collections.Counter()  # `weights`: how many rows each set stands for
        for s, n in zip(sets, weights or itertools.repeat(1)):
            freq.update(dict.fromkeys(s, n))
        self.rank = {w: k for k, w in enumerate(sorted(freq, key=lambda w: (freq[w], w)))}
        self.reach = (SHORT_WORDS - 1) / threshold if lsh else math.inf  # without LSH everything is exact
        self.inverted: dict[str, list[int]] = collections.defaultdict(list)
        self.overlap: pairs.Overlap | None = None  # the sets' bit sets, made on the first similar_pairs()
        self.bands: list[list[int]] = []  # per text, the hash of each LSH band of its signature; [] if exact
        self.buckets: list[dict[int, list[int]]] = []
        long = [i for i, s in enumerate(sets) if lsh and len(s) >= SHORT_WORDS]
        self.long, self.keys = np.array(long, dtype=np.int64), np.zeros((0, 0), dtype=np.uint64)
        if long:
            sig, _ = signatures([sets[i] for i in long], seed)
            n_bands, rows = lsh_params(threshold)
            # Each band of `rows` hash values folded into one 64-bit key (a collision only adds a candidate,
            # which the exact check then rejects), vectorised: datasketch's MinHashLSH hashes bands per call.
            mix = np.random.default_rng(seed).integers(1, 2**63, size=rows, dtype=np.uint64) | np.uint64(1)
            with np.errstate(over="ignore"):
                keys = np.stack([(sig[:, b * rows:(b + 1) * rows].astype(np.uint64) * mix).sum(axis=1)
                                 for b in range(n_bands)], axis=1)
            self.keys = keys
            self.bands = [[] for _ in sets]
            for i, row in zip(long, keys.tolist()):
                self.bands[i] = row
            self.buckets = [{} for _ in range(n_bands)]

    def _prefix(self, i: int) -> list[str]:
        ordered = sorted(self.sets[i], key=self.rank.__getitem__)
        return ordered[:len(ordered) - math.ceil(self.threshold * len(ordered) - 1e-9) + 1]

    def candidates(self, i: int) -> list[int]:
        """Added texts that may reach the threshold with text i, in order of addition."""
        found: set[int] = set()
        if len(self.sets[i]) <= self.reach + 1e-9:
            found.update(j for w in self._prefix(i) for j in self.inverted[w])
        for key, bucket in zip(self.bands[i] if self.bands else (), self.buckets):
            found.update(bucket.get(key, ()))
        return sorted(found)

    def matches(self, i: int) -> Iterator[tuple[int, float]]:
        """(j, Jaccard) for each added text j with Jaccard >= threshold with text i, in order of addition."""
        s, t, sets = self.sets[i], self.threshold, self.sets
        low, high = t * len(s) - 1e-9, len(s) / t + 1e-9  # Jaccard >= t needs t|x| <= |y| <= |x|/t
        for j in self.candidates(i):
            y = sets[j]
            if low <= len(y) <= high:
                inter = len(s & y)
                sim = inter / (len(s) + len(y) - inter) if s or y else 1.0
                if sim >= t:
                    yield j, sim

    def bucket_keys(self) -> list[tuple[Any, Any]]:
        """(keys, texts) per LSH band and for the prefix words: two texts sharing a key are a candidate pair,
        the pairs candidates() proposes (core/pairs.py lists them all at once)."""
        out = [(self.keys[:, b], self.long) for b in range(self.keys.shape[1])]
        prefix = [(self.rank[w], i) for i, s in enumerate(self.sets) if len(s) <= self.reach + 1e-9
                  for w in self._prefix(i)]
        if prefix:
            out.append((np.array([k for k, _ in prefix], dtype=np.uint64), np.array([i for _, i in prefix])))
        return out

    def similar_pairs(self, keep: Callable[[Any, Any], Any] | None = None) -> Iterator[tuple[Any, Any, Any]]:
        """(a, b, Jaccard) arrays of every candidate pair a < b, in chunks; a pair proposed by several buckets
        comes once per bucket. `keep(a, b)`: a mask of the pairs to compare (the others are left out)."""
        if self.overlap is None:
            self.overlap = pairs.Overlap(self.sets)
        for a, b in pairs.candidate_pairs(*pairs.bucket_members(self.bucket_keys())):
            if keep is not None:
                mask = keep(a, b)
                a, b = a[mask], b[mask]
            yield a, b, self.overlap.jaccard(a, b)

    def add(self, i: int) -> None:
        if len(self.sets[i]) <= self.reach + 1e-9:
            for w in self._prefix(i):
                self.inverted[w].append(i)
        for key, bucket in zip(self.bands[i] if self.bands else (), self.buckets):
            bucket.setdefault(key, []).append(i)


def word_sets(texts: Sequence[str]) -> list[frozenset[str]]:
    return [frozenset(words(t)) for t in texts]


def near_duplicates(texts: Sequence[str], threshold: float, seed: int, *, lsh: bool = True) -> dict[int, int]:
    """{i: j} for each text i whose word set has Jaccard >= threshold with an earlier kept text j (the first such).

    `lsh=False` is the exact prefix-filter search, text by text (quadratic on similar texts): the reference for
    tests. With LSH every candidate pair is compared at once (core/pairs.py); then, in row order, a text goes
    when one of its similar earlier texts was kept, the one the text-by-text search would meet first.
    """
    index = Index(word_sets(texts), threshold, seed, lsh=lsh)
    found: dict[int, int] = {}
    if not lsh:
        for i in range(len(texts)):
            match = next(index.matches(i), None)
            if match is not None:
                found[i] = match[0]
            else:
                index.add(i)
        return found
    similar = [np.zeros(0, dtype=np.int64)]
    for a, b, sim in index.similar_pairs():
        similar.append(b[sim >= threshold] * len(texts) + a[sim >= threshold])
    for code in np.unique(np.concatenate(similar)).tolist():  # ordered by the later text, then the earlier one
        later, earlier = divmod(code, len(texts))
        if later not in found and earlier not in found:
            found[later] = earlier
    return found


class Grouping:
    """Rows joined through chains of pairs with Jaccard >= threshold, searched over the distinct texts (one row
    per duplicate key: equal keys always share a group).

    `groups`: the rows of each group, keyed by the duplicate key of its first row, in order of first rows.
    `keys`: each row's duplicate key. `pairs()`: the index's candidate pairs again (for the leak report), as row
    numbers of the distinct texts."""

    def __init__(self, texts: Sequence[str], threshold: float, seed: int) -> None:
        self.keys = keys = [dedup_key(t) for t in texts]
        first: dict[str, int] = {}
        rep_of = np.array([first.setdefault(key, i) for i, key in enumerate(keys)], dtype=np.int64)
        self.reps = np.array(sorted(first.values()), dtype=np.int64)
        weights = np.bincount(np.searchsorted(self.reps, rep_of), minlength=len(self.reps)).tolist()
        self.index = Index(word_sets([texts[i] for i in self.reps]), threshold, seed, weights=weights)
        linked = [(a[sim >= threshold], b[sim >= threshold]) for a, b, sim in self.index.similar_pairs()]
        root = np.arange(len(self.reps))
        if linked:
            from scipy.sparse import coo_matrix
            from scipy.sparse.csgraph import connected_components

            a, b = (np.concatenate(x) for x in zip(*linked))
            graph = coo_matrix((np.ones(len(a), dtype=np.int8), (a, b)), shape=(len(root), len(root)))
            component = connected_components(graph, directed=False)[1]
            first_of = np.full(len(root), len(root))
            np.minimum.at(first_of, component, root)  # a group's first row is its first distinct text
            root = first_of[component]
        row_root = self.reps[root[np.searchsorted(self.reps, rep_of)]]
        order = np.lexsort((np.arange(len(keys)), row_root))
        starts = np.flatnonzero(np.r_[True, row_root[order][1:] != row_root[order][:-1]]) if len(keys) else []
        self.groups = {keys[int(row_root[order[s]])]: rows.tolist()
                       for s, rows in zip(starts, np.split(order, starts[1:]))}

    def pairs(self, parts: Any | None = None) -> Iterator[tuple[Any, Any, Any]]:
        """(a, b, Jaccard) of the candidate pairs as row numbers; with `parts` (a code per row), only the pairs
        whose rows lie in different parts."""
        keep = None if parts is None else (lambda a, b: parts[self.reps[a]] != parts[self.reps[b]])
        for a, b, sim in self.index.similar_pairs(keep):
            yield self.reps[a], self.reps[b], sim


def groups(texts: Sequence[str], threshold: float, seed: int) -> dict[str, list[int]]:
    """Rows joined through chains of pairs with Jaccard >= threshold, keyed by the duplicate key of each group's
    first row (see Grouping)."""
    return Grouping(texts, threshold, seed).groups


def max_cross_jaccard(texts: Sequence[str], parts: Sequence[str], threshold: float, seed: int,
                      grouping: Grouping | None = None) -> tuple[float, bool]:
    """The highest word-set Jaccard between two texts in different parts, and whether it is exact.

    Up to EXACT_REPORT_ROWS rows every pair is compared; above, only the pairs the LSH index proposes (so the
    value is a lower bound, and exact whenever it is at or above the threshold): those of `grouping` when given
    (its index over the distinct texts proposes the same pairs as one over every row; equal texts share a part).
    """
    codes = np.unique(np.asarray(parts), return_inverse=True)[1].ravel()
    if len(texts) <= EXACT_REPORT_ROWS:
        sets = word_sets(texts)
        vocab = {w: k for k, w in enumerate(sorted(set().union(*sets)))}
        x = np.zeros((len(sets), max(len(vocab), 1)), dtype=np.float32)
        for i, s in enumerate(sets):
            x[i, [vocab[w] for w in s]] = 1.0
        size = x.sum(axis=1)
        best = 0.0
        for start in range(0, len(sets), 1024):
            inter = x[start:start + 1024] @ x.T
            union = size[start:start + 1024, None] + size[None, :] - inter
            sim = np.where(union > 0, inter / np.maximum(union, 1), 1.0)
            sim[codes[start:start + 1024, None] == codes[None, :]] = 0.0
            best = max(best, float(sim.max(initial=0.0)))
        return round(best, 4), True
    best = 0.0
    for _, _, sim in (grouping or Grouping(texts, threshold, seed)).pairs(codes):  # pairs across parts only
        best = max(best, float(sim.max(initial=0.0)))
    return round(best, 4), False


def leak_report(texts: Sequence[str], parts: Sequence[str], groups: dict[str, list[int]], threshold: float,
                seed: int, grouping: Grouping | None = None) -> dict[str, Any]:
    """split.json's near-duplicate facts: the threshold, the groups that joined two or more distinct texts, and
    the highest Jaccard between texts of two different parts (from `grouping`'s candidate pairs when given)."""
    worst, exact = max_cross_jaccard(texts, parts, threshold, seed, grouping)
    key = grouping.keys if grouping is not None else [dedup_key(t) for t in texts]
    merged = sum(len({key[i] for i in rows}) > 1 for rows in groups.values())
    return {"near_duplicate_threshold": threshold, "near_duplicate_groups": merged,
            "max_cross_split_jaccard": worst, "max_cross_split_jaccard_exact": exact}
