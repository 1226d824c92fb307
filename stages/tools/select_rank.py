"""Which unlabelled texts to label next (`synthbert select`): how uncertain the model is about each, and a spread of
picks over the frozen encoder's clusters with no two near-duplicates.

Uncertainty is measured against the model's own decision rule, not against 0.5 or the argmax: each probability is
first moved so that the rule's boundary sits at the middle (`centred`): a single-label model's saved offsets are
added to its log-probabilities (stages.core.decision.decide), a multi-label model's probability of a label is
mapped piecewise linearly so that its threshold becomes 0.5. Then, in [0, 1] (1: the most uncertain),
  margin:  single-label 1 - (first - second largest probability); multi-label the mean over labels of
           1 - |2q - 1| (the closeness of each label's q to its threshold);
  entropy: single-label the entropy of the probabilities over log(labels); multi-label the mean over labels of the
           binary entropy of q, in bits.
Picks (Zhdanov 2019, "Diverse mini-batch active learning": uncertainty pre-filter, then weighted k-means): the
texts in order of uncertainty lose every near-duplicate of a more uncertain one (word-set Jaccard >= threshold,
stages.core.similarity.near_duplicates); the `pre_filter` x n most uncertain that remain are clustered into n
groups by k-means on their unit embeddings, weighted by uncertainty, seeded; each group gives its most uncertain
text. Groups k-means leaves empty are made up by the next most uncertain candidates. Ties go to the earlier row.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from stages.core import similarity

KINDS = ("margin", "entropy")
TINY = 1e-12


def centred(proba: Any, multi_label: bool, cut: Sequence[float]) -> Any:
    """Probabilities moved so that the decision boundary sits at the middle: `cut` is a multi-label model's
    threshold per label, a single-label model's offset per label (module docstring)."""
    import numpy as np

    p = np.asarray(proba, dtype=np.float64)
    cut = np.asarray(cut, dtype=np.float64)[None, :]
    if multi_label:
        t = np.clip(cut, TINY, 1 - TINY)
        return np.where(p < t, 0.5 * p / t, 0.5 + 0.5 * (p - t) / (1 - t))
    logits = np.log(np.clip(p, TINY, None)) + cut
    q = np.exp(logits - logits.max(1, keepdims=True))
    return q / q.sum(1, keepdims=True)


def uncertainty(proba: Any, kind: str, multi_label: bool, cut: Sequence[float]) -> Any:
    """Each row's uncertainty in [0, 1], 1 the most uncertain (module docstring)."""
    import numpy as np

    if kind not in KINDS:
        raise ValueError(f"uncertainty must be one of {', '.join(KINDS)}, got {kind!r}")
    q = centred(proba, multi_label, cut)
    if multi_label:
        if kind == "margin":
            return (1 - np.abs(2 * q - 1)).mean(1)
        qc = np.clip(q, TINY, 1 - TINY)
        return (-(qc * np.log2(qc) + (1 - qc) * np.log2(1 - qc))).mean(1)
    if q.shape[1] < 2:
        return np.zeros(len(q))
    if kind == "margin":
        top = np.sort(q, axis=1)[:, ::-1]
        return 1 - (top[:, 0] - top[:, 1])
    return -(q * np.log(np.clip(q, TINY, None))).sum(1) / np.log(q.shape[1])


def candidates(texts: Sequence[str], scores: Any, limit: int, threshold: float, seed: int) -> list[int]:
    """Up to `limit` rows, most uncertain first (ties: the earlier row), none a near-duplicate of a more uncertain
    one."""
    import numpy as np

    order = np.lexsort((np.arange(len(scores)), -np.asarray(scores))).tolist()
    near = similarity.near_duplicates([texts[i] for i in order], threshold, seed)
    return [i for k, i in enumerate(order) if k not in near][:limit]


def spread(pool: list[int], scores: Any, embeddings: Any, n: int, seed: int) -> tuple[list[int], list[int]]:
    """n rows of `pool` (most uncertain first), one per k-means group of their embeddings, and each one's group
    (-1: picked to make up an empty group). `embeddings` has a row per row of `pool`."""
    import warnings

    import numpy as np
    from sklearn.cluster import KMeans
    from sklearn.exceptions import ConvergenceWarning

    if len(pool) <= n:
        return list(pool), list(range(len(pool)))
    weights = np.asarray(scores, dtype=np.float64)[pool] + 1e-6  # a sure row still counts a little
    with warnings.catch_warnings():  # fewer distinct points than groups: the empty ones are made up below
        warnings.simplefilter("ignore", ConvergenceWarning)
        groups = KMeans(n_clusters=n, n_init=3, random_state=seed).fit(embeddings, sample_weight=weights).labels_
    picked: dict[int, int] = {}
    for k, group in enumerate(groups.tolist()):  # pool is most uncertain first: the first of a group is its pick
        picked.setdefault(group, k)
    chosen = set(picked.values())
    extra = [k for k in range(len(pool)) if k not in chosen][:n - len(chosen)]
    ks = sorted(chosen.union(extra))
    return [pool[k] for k in ks], [int(groups[k]) if k in chosen else -1 for k in ks]


def pick(texts: Sequence[str], scores: Any, embed: Any, n: int, *, pre_filter: int, threshold: float,
         seed: int) -> tuple[list[int], list[int]]:
    """The rows to label (indices into `texts`, most uncertain first) and each one's k-means group.
    `embed(rows)`: unit embeddings of those rows (only the candidates are embedded)."""
    pool = candidates(texts, scores, max(n, pre_filter * n), threshold, seed)
    if len(pool) <= n:
        return pool, list(range(len(pool)))
    return spread(pool, scores, embed(pool), n, seed)
