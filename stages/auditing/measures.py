"""The audit's measures of the synthetic rows against the real reference (rows.py), on texts and on the frozen
encoder's mean-pooled embeddings (core/modeling.embed), each seeded by base.seed:

- discriminability: a logistic regression (C = 1, classes weighted balanced) told to separate synthetic (1) from real
  (0) rows, on evaluation/logreg.py's TF-IDF features (word 1-2-grams and char_wb 2-5-grams, as the tfidf_lr
  baseline's defaults) and on the standardised embeddings (as frozen_lr). ROC-AUC on each held-out fold of a
  stratified FOLDS-fold split, averaged: 0.5 = the classifier cannot tell them apart, 1 = it always can. Folds are
  grouped by text (dedup_key), so a text on both sides is held out whole; fewer folds when a side has fewer rows.
  Each row's out-of-fold P(synthetic), the mean of the two classifiers', ranks the most "unreal" synthetic rows.
- coverage: a real row is covered when its nearest synthetic row (cosine distance, 1 - cosine similarity of the
  embeddings) is strictly closer than the threshold: the median over real rows of the distance to their nearest
  other real row. The share covered; the least covered real rows are those farthest from any synthetic row.
- diversity, per side: distinct 1- and 2-grams per 1,000 n-grams (generation/quality.py's distinct_n x 1,000, the
  data report's measure; for 1-grams, per 1,000 tokens) in windows of WINDOW rows (fewer when a side has fewer;
  the same on both sides), averaged over a seeded shuffle's whole windows: distinct-n falls as a sample grows, so
  equal windows keep sides and runs of different sizes comparable; the mean pairwise cosine similarity of at most
  PAIR_SAMPLE rows; the share of the largest origin (core/origin.slice_of: a template, an LLM prompt), synthetic only.
- label shares: each label's share of each side's rows (multi-label: of rows carrying it).
"""

from __future__ import annotations

import collections
import random
from collections.abc import Callable, Sequence
from typing import Any

from stages.auditing.rows import Rows
from stages.core.labelsets import split_labels
from stages.core.origin import slice_of
from stages.core.text import dedup_key
from stages.evaluation.logreg import tfidf_features
from stages.generation.quality import distinct_n

FOLDS = 5
TOP = 20            # rows listed as most unreal and least covered
PAIR_SAMPLE = 1000  # rows whose pairwise similarities are averaged
WINDOW = 100        # rows per window of the distinct-n measures
CHUNK = 1024        # rows per block of the nearest-neighbour search (bounds memory)


def _classifier(kind: str) -> Any:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    lr = LogisticRegression(C=1.0, class_weight="balanced", max_iter=2000)
    return make_pipeline(tfidf_features(2, (2, 5)), lr) if kind == "tfidf_lr" else make_pipeline(StandardScaler(), lr)


def separability(features: Any, y: Any, groups: Sequence[str], seed: int,
                 make: Callable[[], Any]) -> tuple[dict[str, Any], Any]:
    """({roc_auc (mean over held-out folds), folds}, out-of-fold P(class 1) per row) of `make()` on `features`."""
    import warnings

    import numpy as np
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedGroupKFold
    from threadpoolctl import threadpool_limits

    folds = min(FOLDS, int(y.sum()), int(len(y) - y.sum()))
    oof, scores = np.zeros(len(y)), []
    split = StratifiedGroupKFold(folds, shuffle=True, random_state=seed).split(np.zeros(len(y)), y, list(groups))
    with warnings.catch_warnings(), threadpool_limits(1, user_api="blas"):  # small fits: one thread (see logreg.py)
        warnings.simplefilter("ignore", ConvergenceWarning)
        for train, test in split:
            model = make().fit(features[train], y[train])
            oof[test] = model.predict_proba(features[test])[:, 1]
            if 0 < y[test].sum() < len(test):  # a fold of one class has no AUC
                scores.append(roc_auc_score(y[test], oof[test]))
    return {"roc_auc": round(float(np.mean(scores)), 4) if scores else None, "folds": len(scores)}, oof


def discriminability(synthetic: Rows, real: Rows, emb_synthetic: Any, emb_real: Any,
                     seed: int) -> tuple[dict[str, Any], Any]:
    """{tfidf_lr: {roc_auc, folds}, frozen_lr: {...}} and each synthetic row's out-of-fold P(synthetic), the mean
    of the two classifiers'."""
    import numpy as np

    texts = np.array(synthetic.texts + real.texts, dtype=object)
    y = np.r_[np.ones(len(synthetic)), np.zeros(len(real))].astype(int)
    groups = [dedup_key(t) for t in texts]
    tfidf, p_tfidf = separability(texts, y, groups, seed, lambda: _classifier("tfidf_lr"))
    frozen, p_frozen = separability(np.vstack([emb_synthetic, emb_real]), y, groups, seed,
                                    lambda: _classifier("frozen_lr"))
    return {"tfidf_lr": tfidf, "frozen_lr": frozen}, ((p_tfidf + p_frozen) / 2)[:len(synthetic)]


def unit(emb: Any) -> Any:
    """Rows scaled to length 1 (a zero row stays zero), so a dot product is a cosine similarity."""
    import numpy as np

    norms = np.linalg.norm(emb, axis=1, keepdims=True)
    return emb / np.where(norms > 0, norms, 1.0)


def nearest(a: Any, b: Any, same: bool = False) -> Any:
    """Cosine distance of each row of `a` to its nearest row of `b` (unit rows); `same`: b is a, a row not its own."""
    import numpy as np

    out = np.empty(len(a))
    for start in range(0, len(a), CHUNK):
        sims = a[start:start + CHUNK] @ b.T
        if same:
            rows = np.arange(sims.shape[0])
            sims[rows, start + rows] = -np.inf
        out[start:start + CHUNK] = 1.0 - sims.max(axis=1)
    return np.clip(out, 0.0, 2.0)


def coverage(unit_synthetic: Any, unit_real: Any) -> tuple[dict[str, Any], Any]:
    """{share, covered, rows, threshold, median_distance} and each real row's distance to its nearest synthetic row."""
    import numpy as np

    to_synthetic = nearest(unit_real, unit_synthetic)
    threshold = float(np.median(nearest(unit_real, unit_real, same=True)))
    covered = int((to_synthetic < threshold).sum())
    return {"share": round(covered / len(to_synthetic), 4), "covered": covered, "rows": len(to_synthetic),
            "threshold": round(threshold, 4), "median_distance": round(float(np.median(to_synthetic)), 4)}, to_synthetic


def mean_pairwise_similarity(unit_rows: Any, seed: int) -> float | None:
    """Mean cosine similarity over pairs of distinct rows (of at most PAIR_SAMPLE rows drawn with `seed`)."""
    n = len(unit_rows)
    if n < 2:
        return None
    idx = sorted(random.Random(seed).sample(range(n), min(n, PAIR_SAMPLE)))
    part = unit_rows[idx]
    sims = part @ part.T
    return round(float((sims.sum() - sims.trace()) / (len(idx) * (len(idx) - 1))), 4)


def windowed_distinct(texts: Sequence[str], n: int, window: int, seed: int) -> float:
    """Distinct n-grams per 1,000 n-grams of `window` rows, averaged over the whole windows of a shuffle seeded by
    `seed` (distinct-n falls as a sample grows: equal windows make sides and runs of any size comparable)."""
    order = list(range(len(texts)))
    random.Random(seed).shuffle(order)
    windows = [order[i:i + window] for i in range(0, len(order) - window + 1, window)]
    return round(1000 * sum(distinct_n([texts[i] for i in w], n) for w in windows) / len(windows), 1)


def diversity(rows: Rows, unit_rows: Any, window: int, seed: int, origins: bool) -> dict[str, Any]:
    """{rows, window, distinct_1, distinct_2 (windowed_distinct), mean_pairwise_similarity, largest_origin,
    largest_origin_share} (the origin fields None when `origins` is false: real rows)."""
    out = {"rows": len(rows), "window": window,
           **{f"distinct_{k}": windowed_distinct(rows.texts, k, window, seed) for k in (1, 2)},
           "mean_pairwise_similarity": mean_pairwise_similarity(unit_rows, seed),
           "largest_origin": None, "largest_origin_share": None}
    if origins and len(rows):
        name, count = min(collections.Counter(map(slice_of, rows.origins)).items(), key=lambda kv: (-kv[1], kv[0]))
        out |= {"largest_origin": name, "largest_origin_share": round(count / len(rows), 4)}
    return out


def label_shares(labels: Sequence[str], multi_label: bool) -> dict[str, float]:
    counts = collections.Counter(lab for cell in labels for lab in (split_labels(cell) if multi_label else [cell]))
    return {lab: round(n / len(labels), 4) for lab, n in sorted(counts.items())}


def most_unreal(rows: Rows, p_synthetic: Any, top: int = TOP) -> list[dict[str, Any]]:
    """The `top` synthetic rows a classifier was surest are synthetic: {set, row, text, label, origin, p_synthetic}."""
    order = sorted(range(len(rows)), key=lambda i: (-p_synthetic[i], i))[:top]
    return [{**rows.entry(i), "origin": rows.origins[i], "p_synthetic": round(float(p_synthetic[i]), 4)}
            for i in order]


def least_covered(rows: Rows, distance: Any, top: int = TOP) -> list[dict[str, Any]]:
    """The `top` real rows farthest from any synthetic row: {set, row, text, label, distance}."""
    order = sorted(range(len(rows)), key=lambda i: (-distance[i], i))[:top]
    return [{**rows.entry(i), "distance": round(float(distance[i]), 4)} for i in order]
