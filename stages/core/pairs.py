"""Candidate pairs of a similarity index, all at once (numpy), and their exact word-set Jaccard.

The index (core/similarity.py) puts each text in buckets: one per LSH band (the band's folded hash) and, for
short texts, one per prefix-filter word. Two texts sharing a bucket are a candidate pair. Searching text by text
in Python costs a dictionary lookup per bucket and a set intersection per candidate; here every pair of each
bucket is listed with numpy (in chunks, so memory stays bounded) and its intersection is counted on bit sets of
the words (packed 64 words to an integer, when the vocabulary is small enough) or on a sparse matrix otherwise.
The pairs are the same as the text-by-text search proposes, so what is built from them is too.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

CHUNK = 1 << 21  # candidate pairs listed (and compared) at a time
BITSET_BYTES = 1 << 28  # up to this size, the word sets are packed into bit sets; above, a sparse matrix


def bucket_members(buckets: Sequence[tuple[Any, Any]]) -> tuple[Any, Any]:
    """Rows sorted by (kind, bucket key, row), and the end position of each row's bucket. `buckets`: one
    (keys, rows) pair of arrays per kind of bucket (an LSH band, the prefix words)."""
    kind = np.concatenate([np.full(len(keys), k, dtype=np.int64) for k, (keys, _) in enumerate(buckets)] or [[]])
    key = np.concatenate([np.asarray(keys, dtype=np.uint64) for keys, _ in buckets] or [[]]).astype(np.uint64)
    row = np.concatenate([np.asarray(rows, dtype=np.int64) for _, rows in buckets] or [[]]).astype(np.int64)
    order = np.lexsort((row, key, kind))
    kind, key, row = kind[order], key[order], row[order]
    if not len(row):
        return row, row
    start = np.flatnonzero(np.r_[True, (kind[1:] != kind[:-1]) | (key[1:] != key[:-1])])
    size = np.diff(np.r_[start, len(row)])
    return row, np.repeat(start + size, size)


def candidate_pairs(row: Any, end: Any, chunk: int = CHUNK) -> Iterator[tuple[Any, Any]]:
    """(a, b) arrays, a < b, of every two rows sharing a bucket (a pair sharing several buckets comes once per
    bucket), `chunk` pairs or so at a time (never fewer than one row's partners)."""
    count = end - np.arange(len(row)) - 1  # each member pairs with the members after it in its bucket
    pos = np.flatnonzero(count > 0)
    count = count[pos]
    if not len(pos):
        return
    total = np.cumsum(count)
    cuts = np.r_[0, np.searchsorted(total, np.arange(chunk, total[-1], chunk), side="right") + 1, len(pos)]
    for lo, hi in zip(cuts[:-1], cuts[1:]):
        if lo >= hi:
            continue
        p, c = pos[lo:hi], count[lo:hi]
        first = np.repeat(p, c)
        second = first + 1 + np.arange(len(first)) - np.repeat(np.cumsum(c) - c, c)
        yield row[first], row[second]


class Overlap:
    """Exact word-set Jaccard of pairs of texts given by index, vectorised."""

    def __init__(self, sets: Sequence[frozenset[str]]) -> None:
        vocab = {w: k for k, w in enumerate(sorted(set().union(*sets)))} if sets else {}
        self.size = np.array([len(s) for s in sets], dtype=np.int64)
        ids = np.fromiter((vocab[w] for s in sets for w in s), dtype=np.int64, count=int(self.size.sum()))
        owner = np.repeat(np.arange(len(sets)), self.size)
        self.width = (len(vocab) + 63) // 64
        if len(sets) * max(self.width, 1) * 8 <= BITSET_BYTES:
            self.bits = np.zeros((len(sets), max(self.width, 1)), dtype=np.uint64)
            np.bitwise_or.at(self.bits, (owner, ids // 64), np.left_shift(np.uint64(1), (ids % 64).astype(np.uint64)))
            self.matrix = None
        else:
            from scipy.sparse import csr_matrix

            self.matrix = csr_matrix((np.ones(len(ids), dtype=np.int32), (owner, ids)), shape=(len(sets), len(vocab)))

    def intersections(self, a: Any, b: Any) -> Any:
        if self.matrix is not None:
            return np.asarray(self.matrix[a].multiply(self.matrix[b]).sum(axis=1)).ravel().astype(np.int64)
        step = max(1, CHUNK // self.bits.shape[1])
        return np.concatenate([np.bitwise_count(self.bits[a[k:k + step]] & self.bits[b[k:k + step]])
                               .sum(axis=1, dtype=np.int64) for k in range(0, len(a), step)] or [np.zeros(0, np.int64)])

    def jaccard(self, a: Any, b: Any) -> Any:
        """|A & B| / |A | B| for each pair (1.0 for two empty sets), as similarity.jaccard computes it."""
        inter = self.intersections(a, b)
        union = self.size[a] + self.size[b] - inter
        return np.where(union > 0, inter / np.maximum(union, 1), 1.0)
