"""Word-set similarity of texts: exact Jaccard, near-duplicates to drop, groups of similar texts to keep together.

At scale, MinHash LSH (datasketch) only proposes candidate pairs; each is confirmed with the exact Jaccard, so
nothing below the threshold is ever reported. Texts of few words (where MinHash is noisy) are searched exactly.
"""

from __future__ import annotations

import collections
import math
import re
import unicodedata
from collections.abc import Iterator, Sequence
from typing import Any

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
    import numpy as np
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

    def __init__(self, sets: Sequence[frozenset[str]], threshold: float, seed: int, *, lsh: bool = True) -> None:
        self.sets, self.threshold = sets, threshold
        freq = collections.Counter(w for s in sets for w in s)
        self.rank = {w: k for k, w in enumerate(sorted(freq, key=lambda w: (freq[w], w)))}
        self.reach = (SHORT_WORDS - 1) / threshold if lsh else math.inf  # without LSH everything is exact
        self.inverted: dict[str, list[int]] = collections.defaultdict(list)
        self.bands: list[list[int]] = []  # per text, the hash of each LSH band of its signature; [] if exact
        self.buckets: list[dict[int, list[int]]] = []
        long = [i for i, s in enumerate(sets) if lsh and len(s) >= SHORT_WORDS]
        if long:
            import numpy as np

            sig, _ = signatures([sets[i] for i in long], seed)
            n_bands, rows = lsh_params(threshold)
            # Each band of `rows` hash values folded into one 64-bit key (a collision only adds a candidate,
            # which the exact check then rejects), vectorised: datasketch's MinHashLSH hashes bands per call.
            mix = np.random.default_rng(seed).integers(1, 2**63, size=rows, dtype=np.uint64) | np.uint64(1)
            with np.errstate(over="ignore"):
                keys = np.stack([(sig[:, b * rows:(b + 1) * rows].astype(np.uint64) * mix).sum(axis=1)
                                 for b in range(n_bands)], axis=1)
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

    `lsh=False` is the exact prefix-filter search (quadratic on similar texts): the reference for tests.
    """
    index = Index(word_sets(texts), threshold, seed, lsh=lsh)
    found: dict[int, int] = {}
    for i in range(len(texts)):
        match = next(index.matches(i), None)
        if match is not None:
            found[i] = match[0]
        else:
            index.add(i)
    return found


def groups(texts: Sequence[str], threshold: float, seed: int) -> dict[str, list[int]]:
    """Rows joined through chains of pairs with Jaccard >= threshold (union-find), keyed by the duplicate key
    of each group's first row. Equal duplicate keys always share a group."""
    parent = list(range(len(texts)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    first_of_key: dict[str, int] = {}
    keys = [dedup_key(t) for t in texts]
    for i, key in enumerate(keys):
        parent[i] = find(first_of_key.setdefault(key, i))
    reps = sorted(first_of_key.values())  # one row per distinct key is enough to search
    sets = word_sets([texts[i] for i in reps])
    index = Index(sets, threshold, seed)
    for k in range(len(reps)):
        for j in index.candidates(k):  # a candidate already in k's group needs no exact check
            a, b = find(reps[k]), find(reps[j])
            if a != b and jaccard(sets[k], sets[j]) >= threshold:
                parent[max(a, b)] = min(a, b)
        index.add(k)
    out: dict[str, list[int]] = {}
    members: dict[int, list[int]] = collections.defaultdict(list)
    for i in range(len(texts)):
        members[find(i)].append(i)
    for root, rows in members.items():
        out[keys[root]] = rows
    return out


def max_cross_jaccard(texts: Sequence[str], parts: Sequence[str], threshold: float, seed: int) -> tuple[float, bool]:
    """The highest word-set Jaccard between two texts in different parts, and whether it is exact.

    Up to EXACT_REPORT_ROWS rows every pair is compared; above, only the pairs the LSH index proposes (so the
    value is a lower bound, and exact whenever it is at or above the threshold).
    """
    sets = word_sets(texts)
    if len(sets) <= EXACT_REPORT_ROWS:
        import numpy as np

        vocab = {w: k for k, w in enumerate(sorted(set().union(*sets)))}
        x = np.zeros((len(sets), max(len(vocab), 1)), dtype=np.float32)
        for i, s in enumerate(sets):
            x[i, [vocab[w] for w in s]] = 1.0
        size = x.sum(axis=1)
        names = np.unique(np.asarray(parts), return_inverse=True)[1]
        best = 0.0
        for start in range(0, len(sets), 1024):
            inter = x[start:start + 1024] @ x.T
            union = size[start:start + 1024, None] + size[None, :] - inter
            sim = np.where(union > 0, inter / np.maximum(union, 1), 1.0)
            sim[names[start:start + 1024, None] == names[None, :]] = 0.0
            best = max(best, float(sim.max(initial=0.0)))
        return round(best, 4), True
    index = Index(sets, threshold, seed)
    best = 0.0
    for i in range(len(sets)):
        for j in index.candidates(i):
            if parts[i] != parts[j]:
                best = max(best, jaccard(sets[i], sets[j]))
        index.add(i)
    return round(best, 4), False


def leak_report(texts: Sequence[str], parts: Sequence[str], groups: dict[str, list[int]], threshold: float,
                seed: int) -> dict[str, Any]:
    """split.json's near-duplicate facts: the threshold, the groups that joined two or more distinct texts, and
    the highest Jaccard between texts of two different parts."""
    worst, exact = max_cross_jaccard(texts, parts, threshold, seed)
    merged = sum(len({dedup_key(texts[i]) for i in rows}) > 1 for rows in groups.values())
    return {"near_duplicate_threshold": threshold, "near_duplicate_groups": merged,
            "max_cross_split_jaccard": worst, "max_cross_split_jaccard_exact": exact}
