"""Verdicts on evaluate's numbers, shared by eval/summary.md and report.md so the two pages never disagree:
does the fine-tuned model beat a baseline (its paired bootstrap gain interval above 0), and is it calibrated.
"""

from __future__ import annotations

from typing import Any

MODEL_NAMES = {"fine_tuned": "fine-tuned", "majority": "majority class", "tfidf_lr": "TF-IDF + logistic regression",
               "frozen_lr": "frozen encoder + logistic regression", "llm_zero_shot": "LLM zero-shot"}
BETTER, NOISE, WORSE = "fine-tuned better", "within noise", "baseline better"


def gain_verdict(row: dict[str, Any]) -> str | None:
    """BETTER when the whole gain interval (fine-tuned minus baseline macro-F1) is above 0, WORSE when it is
    below 0, NOISE when it holds 0; None for a row without a gain (the fine-tuned model itself)."""
    if row.get("gain_ci_low") is None or row.get("gain_ci_high") is None:
        return None
    lo, hi = row["gain_ci_low"], row["gain_ci_high"]
    return BETTER if lo > 0 else WORSE if hi < 0 else NOISE


def poorly_calibrated(ece: float | None, threshold: float) -> bool:
    """Expected calibration error above `threshold` (report.ece_warning): confidences are not probabilities."""
    return ece is not None and ece > threshold
