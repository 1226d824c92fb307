"""The decision rule of a single-label model: the label maximising log-probability + the label's offset.

Offsets all 0 (or none saved) is plain argmax. Train tunes them on the validation split (train.decision: tuned)
and saves them in the model's config.json as `decision_offsets` ({label: offset}); evaluate, predict (its own
standalone copy of `decide`), export, explain (through predictions.csv) and the model card apply the same rule.
A binary threshold t on the second label's probability is the offset log((1 - t) / t) on that label: it is
chosen when p > t (at exactly t, floating-point rounding decides). Pure numpy; nothing heavy is imported.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

OFFSETS_KEY = "decision_offsets"   # model config attribute: {label: additive offset on its log-probability}
GRID = tuple(round(-4 + 0.1 * i, 1) for i in range(81))  # offsets tried per label: -4.0, -3.9, ..., 4.0
ROUNDS = 5  # coordinate-ascent passes over the labels at most (3+ labels; a binary rule needs one)
_EPS = 1e-12  # macro-F1 differences below this are ties


def decide(proba: Any, offsets: Sequence[float] | None = None) -> Any:
    """Label indices: argmax of log(proba) + offsets (plain argmax without offsets; ties: the first label)."""
    import numpy as np

    proba = np.asarray(proba, dtype=np.float64)
    if offsets is None or not any(offsets):
        return proba.argmax(1)
    logp = np.log(np.clip(proba, np.finfo(np.float64).tiny, None))
    return (logp + np.asarray(offsets, dtype=np.float64)[None, :]).argmax(1)


def macro_f1(y: Any, pred: Any, k: int) -> float:
    """Macro-F1 over the labels present in `y` or `pred` (as sklearn's f1_score(average="macro") and the Trainer's
    validation f1_macro compute it), for label indices in [0, k)."""
    import numpy as np

    y, pred = np.asarray(y), np.asarray(pred)
    true_n, pred_n = np.bincount(y, minlength=k), np.bincount(pred, minlength=k)
    tp = np.bincount(y[y == pred], minlength=k)
    present = (true_n + pred_n) > 0
    if not present.any():
        return 0.0
    return float(np.mean(2 * tp[present] / (true_n[present] + pred_n[present])))


def tune(proba: Any, y: Any) -> list[float]:
    """Offsets (one per label, the first label's fixed at 0) maximising macro-F1 of decide(proba, offsets) on
    (proba, y): coordinate ascent over GRID, label by label, for at most ROUNDS passes. A label's offset moves only
    when macro-F1 strictly rises, to the best grid value closest to 0, so a rule that argmax already matches
    stays argmax (all 0). With two labels this is a threshold on the second label's probability."""
    import numpy as np

    proba, y = np.asarray(proba, dtype=np.float64), np.asarray(y)
    k = proba.shape[1]
    offsets = [0.0] * k
    if len(y) == 0:
        return offsets
    logp = np.log(np.clip(proba, np.finfo(np.float64).tiny, None))
    best = macro_f1(y, proba.argmax(1), k)
    for _ in range(ROUNDS):
        moved = False
        for j in range(1, k):
            scored = []
            for value in GRID:
                shifted = logp + np.asarray(offsets[:j] + [value] + offsets[j + 1:])[None, :]
                scored.append((macro_f1(y, shifted.argmax(1), k), value))
            top = max(f for f, _ in scored)
            if top > best + _EPS:
                offsets[j] = min((v for f, v in scored if f >= top - _EPS), key=lambda v: (abs(v), v))
                best, moved = top, True
        if not moved:
            break
    return [float(o) for o in offsets]


def threshold_of(offsets: Sequence[float]) -> float:
    """The binary threshold on the second label's probability that the two offsets amount to."""
    return 1.0 / (1.0 + math.exp(offsets[1] - offsets[0]))


def offset_for_threshold(t: float) -> float:
    """The offset on the second label that makes a binary model choose it when its probability is above t."""
    return math.log((1.0 - t) / t)


def offsets_of(model_or_config: Any, labels: Sequence[str]) -> list[float] | None:
    """The saved offsets in label order (a label missing from them: 0), or None for a model without them: argmax.
    Accepts a model, its config object or config.json as a dict."""
    config = getattr(model_or_config, "config", model_or_config)
    saved = config.get(OFFSETS_KEY) if isinstance(config, dict) else getattr(config, OFFSETS_KEY, None)
    if not saved:
        return None
    return [float(saved.get(lab, 0.0)) for lab in labels]


def describe(labels: Sequence[str], offsets: Sequence[float] | None) -> str:
    """One line: "argmax", "spam when P(spam) > 0.31" (binary) or the non-zero offsets."""
    if offsets is None or not any(offsets):
        return "argmax (the most probable label)"
    if len(labels) == 2:
        return f"{labels[1]} when P({labels[1]}) > {threshold_of(offsets):.4g}, else {labels[0]}"
    moved = ", ".join(f"{lab} {o:+.1f}" for lab, o in zip(labels, offsets) if o)
    return f"argmax of log-probability + offset ({moved}; other labels 0)"
