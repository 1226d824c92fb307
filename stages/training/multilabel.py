"""Multi-label training (dataset.json `multi_label: true`): one sigmoid per label, binary cross-entropy.

The label cells of the split files hold label sets joined by core/labelsets.LABEL_SEP. Here: the loss (its
per-label pos_weight comes from controls.class_weight_values), the validation metrics the Trainer logs (decisions at
sigmoid >= 0.5), and the per-label decision thresholds tuned on the validation split after training and saved in
the model's config (`decision_thresholds`). Heavy imports happen inside the functions that need them.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from stages.core.labelsets import THRESHOLDS_KEY

log = logging.getLogger(__name__)

# Candidate decision thresholds per label: 0.05, 0.10, ..., 0.95.
CANDIDATES = tuple(round(0.05 * i, 2) for i in range(1, 20))


def bce_loss(logits: Any, targets: Any, pos_weight: Sequence[float] | None, label_smoothing: float) -> Any:
    """Binary cross-entropy with logits over every label: targets smoothed to y(1-s) + s/2, positives weighted
    by `pos_weight` (one per label)."""
    import torch
    import torch.nn.functional as F

    y = targets.to(logits.dtype)
    if label_smoothing:
        y = y * (1 - label_smoothing) + label_smoothing / 2
    w = None if pos_weight is None else torch.tensor(pos_weight, dtype=logits.dtype, device=logits.device)
    return F.binary_cross_entropy_with_logits(logits, y, pos_weight=w)


def metric_fn(labels: Sequence[str], keys: Sequence[str]) -> Any:
    """compute_metrics for a multi-label model, decisions at sigmoid >= 0.5 (logit >= 0): `f1_macro` (the mean
    per-label F1), `accuracy` (subset accuracy: every label right), `f1_micro` and `f1_label/<key>`."""

    def compute(pred: Any) -> dict[str, float]:
        import numpy as np
        from sklearn.metrics import accuracy_score, f1_score

        logits, y = pred
        y = np.asarray(y).round().astype(int)
        y_hat = (np.asarray(logits) >= 0).astype(int)
        per = f1_score(y, y_hat, labels=list(range(len(labels))), average=None, zero_division=0)
        return {"accuracy": float(accuracy_score(y, y_hat)), "f1_macro": float(np.mean(per)),
                "f1_micro": float(f1_score(y, y_hat, average="micro", zero_division=0)),
                **{f"f1_label/{k}": float(v) for k, v in zip(keys, per)}}

    return compute


def tune_thresholds(proba: Any, truth: Any, labels: Sequence[str]) -> dict[str, float]:
    """One decision threshold per label: the candidate (CANDIDATES) maximising that label's F1 on (proba, truth),
    ties going to the candidate closest to 0.5; a label with no positive row in `truth` keeps 0.5."""
    import numpy as np

    proba, truth = np.asarray(proba, dtype=float), np.asarray(truth).astype(bool)
    out = {}
    for j, label in enumerate(labels):
        if not truth[:, j].any():
            out[label] = 0.5
            continue
        scored = []
        for t in CANDIDATES:
            decided = proba[:, j] >= t
            tp = int((decided & truth[:, j]).sum())
            f1 = 2 * tp / (int(decided.sum()) + int(truth[:, j].sum()))
            scored.append((-f1, abs(t - 0.5), t))
        out[label] = round(min(scored)[2], 4)
    return out


def val_thresholds(model: Any, logits: Any, truth: Any, labels: Sequence[str]) -> dict[str, float]:
    """tune_thresholds on the sigmoid probabilities of the (best, restored) model's val `logits`, set in the model's
    config (`decision_thresholds`, saved in config.json with the model) and logged."""
    import numpy as np

    proba = 1.0 / (1.0 + np.exp(-np.asarray(logits, dtype=np.float64)))
    thresholds = tune_thresholds(proba, np.asarray(truth).round(), labels)
    setattr(model.config, THRESHOLDS_KEY, thresholds)
    log.info("decision thresholds tuned on val (best F1 per label): %s",
             ", ".join(f"{lab} {t:g}" for lab, t in thresholds.items()))
    return thresholds
