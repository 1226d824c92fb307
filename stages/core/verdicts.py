"""Verdicts on evaluate's numbers, shared by train's summary, eval/summary.md and report.md so the pages never
disagree: does the fine-tuned model beat a baseline (its paired bootstrap gain interval above 0), has a model
collapsed onto one label, and is it calibrated.
"""

from __future__ import annotations

import collections
from collections.abc import Hashable, Sequence
from typing import Any

from stages.core.markdown import code

MODEL_NAMES = {"fine_tuned": "fine-tuned", "majority": "majority class", "tfidf_lr": "TF-IDF + logistic regression",
               "frozen_lr": "frozen encoder + logistic regression", "setfit": "SetFit (contrastive) + logistic regression",
               "llm_zero_shot": "LLM zero-shot", "real_only": "fine-tuned on the real train rows alone"}
BETTER, NOISE, WORSE = "fine-tuned better", "within noise", "baseline better"
COLLAPSED = "collapsed"  # either model of a comparison collapsed: its gain says nothing about the task
# A predictor has collapsed when at least COLLAPSE_PREDICTED of its decisions go to one label while that label holds
# under COLLAPSE_TRUE of the true labels: a majority-class guess dressed as a model, never "within noise".
COLLAPSE_PREDICTED, COLLAPSE_TRUE = 0.95, 0.80


def gain_verdict(row: dict[str, Any]) -> str | None:
    """BETTER when the whole gain interval (fine-tuned minus baseline macro-F1) is above 0, WORSE when it is
    below 0, NOISE when it holds 0; None for a row without a gain (the fine-tuned model itself)."""
    if row.get("gain_ci_low") is None or row.get("gain_ci_high") is None:
        return None
    lo, hi = row["gain_ci_low"], row["gain_ci_high"]
    return BETTER if lo > 0 else WORSE if hi < 0 else NOISE


def verdict(fine_tuned: dict[str, Any], baseline: dict[str, Any]) -> str | None:
    """The word for a baseline's row on one set (baselines.json): COLLAPSED when the fine-tuned model's row or the
    baseline's has `collapsed` set, else gain_verdict; None for a row without a gain."""
    word = gain_verdict(baseline)
    if word is not None and (fine_tuned.get("collapsed") or baseline.get("collapsed")):
        return COLLAPSED
    return word


def collapse_note(name: str, found: dict[str, Any], markdown: bool = True) -> str:
    """'<name> puts 97.0% of its decisions on `spam`, which holds 13.0% of the true labels' for a collapsed()
    result (a label-set cell "" reads "no label")."""
    label = found["label"]
    shown = "no label" if label == "" else code(label) if markdown else repr(label)
    return (f"{name} puts {found['predicted_share']:.1%} of its decisions on {shown}, which holds "
            f"{found['true_share']:.1%} of the true labels")


def collapsed(predicted: Sequence[Hashable], true: Sequence[Hashable]) -> dict[str, Any] | None:
    """{label, predicted_share, true_share} when `predicted` puts >= COLLAPSE_PREDICTED of its decisions on one
    label that holds < COLLAPSE_TRUE of `true`; None otherwise (also for no rows). Labels are any hashable values
    (label names, indices, label-set cells); both sequences have one entry per row."""
    if len(predicted) == 0:
        return None
    label, count = collections.Counter(predicted).most_common(1)[0]
    share = count / len(predicted)
    true_share = sum(1 for t in true if t == label) / len(true) if len(true) else 0.0
    if share >= COLLAPSE_PREDICTED and true_share < COLLAPSE_TRUE:
        return {"label": label, "predicted_share": round(share, 4), "true_share": round(true_share, 4)}
    return None


def poorly_calibrated(ece: float | None, threshold: float) -> bool:
    """Expected calibration error above `threshold` (report.ece_warning): confidences are not probabilities."""
    return ece is not None and ece > threshold
