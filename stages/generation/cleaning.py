"""Cleaning of raw provider rows: normalised texts, unusable rows, exact and near duplicates, each drop counted.

Rules (each tested on its own): texts are Unicode-normalised and stripped; empty texts, texts without letters,
texts outside `min_chars..max_chars` and rows without a label are dropped; of exact duplicates (same words,
ignoring case, punctuation and spacing) the first is kept; a text seen under two labels is dropped entirely
(single-label data) or keeps the union of its label sets (multi-label data: counted as merged_label_sets);
a text whose word-set Jaccard similarity with an earlier kept text reaches the threshold is dropped.
Real rows (source `real`, generate.real) come first: a synthetic duplicate or near-duplicate of a real row is
dropped and the real row kept, whatever label the synthetic one carries. A kept row keeps its origin (that of
its first occurrence).
"""

from __future__ import annotations

import collections
from typing import Any

from stages.core import similarity
from stages.core.contracts import REAL_SOURCE
from stages.core.labelsets import join_labels, split_labels
from stages.core.text import dedup_key, drop_reason, normalize


def clean(rows: list[dict[str, Any]], min_chars: int, max_chars: int,
          multi_label: bool = False) -> tuple[list[dict[str, str]], dict]:
    """Normalise texts; drop unusable rows and exact duplicates; count why. A text seen with two labels is
    dropped, or, in multi-label data (`label` cells are label sets), keeps the union of its sets."""
    dropped: collections.Counter[str] = collections.Counter()
    by_key: dict[str, dict[str, str]] = {}
    labels_of_key: dict[str, set[str]] = collections.defaultdict(set)
    for row in sorted(rows, key=lambda r: r.get("source") != REAL_SOURCE):  # stable: real rows first
        text = normalize(row["text"]) if isinstance(row.get("text"), str) else row.get("text")
        label = normalize(str(row.get("label") or ""))
        label = join_labels(split_labels(label)) if multi_label else label
        reason = drop_reason(text, min_chars, max_chars)
        if reason is None and not label:
            reason = "missing_label"
        if reason:
            dropped[reason] += 1
            continue
        key = dedup_key(text)
        if key in by_key:
            dropped["duplicate"] += 1
            if by_key[key]["source"] != REAL_SOURCE or row.get("source") == REAL_SOURCE:
                labels_of_key[key].add(label)  # a synthetic label never overrules a real one
            continue
        labels_of_key[key].add(label)
        by_key[key] = {"text": text, "label": label, "source": str(row.get("source", "")),
                       "origin": str(row.get("origin", ""))}
    kept, key_of = [], {}
    for key, row in by_key.items():
        key_of[row["text"]] = key
        if len(labels_of_key[key]) > 1 and multi_label:  # the same text with two label sets: it carries both
            dropped["merged_label_sets"] += 1
            kept.append({**row, "label": join_labels(lab for cell in labels_of_key[key] for lab in split_labels(cell))})
        elif len(labels_of_key[key]) > 1:  # the same text labelled two ways: no right answer to learn
            dropped["conflicting_labels"] += 1
        else:
            kept.append(row)
    kept.sort(key=lambda r: (r["source"] != REAL_SOURCE, r["label"], key_of[r["text"]], r["text"]))
    return kept, dict(sorted(dropped.items()))


def drop_near_duplicates(rows: list[dict[str, str]], dropped: dict[str, int], threshold: float,
                         seed: int) -> tuple[list[dict[str, str]], dict[str, int], int]:
    """Rows without near-duplicates of earlier rows (real rows come first: they are kept), the drop counts with
    `near_duplicate` added, and how many.
    MinHash LSH proposes candidate pairs (seeded), the exact word-set Jaccard decides (core/similarity.py)."""
    near = similarity.near_duplicates([r["text"] for r in rows], threshold, seed)
    if not near:
        return rows, dropped, 0
    kept = [r for i, r in enumerate(rows) if i not in near]
    return kept, dict(sorted({**dropped, "near_duplicate": len(near)}.items())), len(near)
