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
NO_VERDICT = "no verdict"  # the baseline gave no answer at all (every LLM answer abstained): nothing to compare
# A predictor has collapsed when at least COLLAPSE_PREDICTED of its decisions go to one label while that label holds
# under COLLAPSE_TRUE of the true labels, or while another label holding at least COLLAPSE_MISSED_SHARE of the true
# labels is found under COLLAPSE_MISSED_RECALL of the time: a majority-class guess dressed as a model, never "within
# noise". (The second rule catches the common imbalanced case: 87% ham, every row called ham, spam recall 0.)
COLLAPSE_PREDICTED, COLLAPSE_TRUE = 0.95, 0.80
COLLAPSE_MISSED_SHARE, COLLAPSE_MISSED_RECALL = 0.10, 0.10


def gain_verdict(row: dict[str, Any]) -> str | None:
    """BETTER when the whole gain interval (fine-tuned minus baseline macro-F1) is above 0, WORSE when it is
    below 0, NOISE when it holds 0; None for a row without a gain (the fine-tuned model itself)."""
    if row.get("gain_ci_low") is None or row.get("gain_ci_high") is None:
        return None
    lo, hi = row["gain_ci_low"], row["gain_ci_high"]
    return BETTER if lo > 0 else WORSE if hi < 0 else NOISE


def verdict(fine_tuned: dict[str, Any], baseline: dict[str, Any]) -> str | None:
    """The word for a baseline's row on one set (baselines.json): NO_VERDICT when the baseline's row has `no_verdict`
    (why), COLLAPSED when the fine-tuned model's row or the baseline's has `collapsed` set, else gain_verdict; None
    for a row without a gain."""
    word = gain_verdict(baseline)
    if word is not None and baseline.get("no_verdict"):
        return NO_VERDICT
    if word is not None and (fine_tuned.get("collapsed") or baseline.get("collapsed")):
        return COLLAPSED
    return word


def collapse_note(name: str, found: dict[str, Any], markdown: bool = True) -> str:
    """'<name> puts 97.0% of its decisions on `spam`, which holds 13.0% of the true labels' for a collapsed()
    result, plus the label it misses when that rule fired (a label-set cell "" reads "no label")."""
    def shown(label: Hashable) -> str:
        return "no label" if label == "" else code(label) if markdown else repr(label)

    note = (f"{name} puts {found['predicted_share']:.1%} of its decisions on {shown(found['label'])}, which holds "
            f"{found['true_share']:.1%} of the true labels")
    missed = found.get("missed")
    if missed:
        note += (f"; it finds {missed['recall']:.1%} of {shown(missed['label'])} ({missed['true_share']:.1%} of the "
                 "true labels)")
    return note


def collapsed(predicted: Sequence[Hashable], true: Sequence[Hashable]) -> dict[str, Any] | None:
    """{label, predicted_share, true_share} when `predicted` puts >= COLLAPSE_PREDICTED of its decisions on one label
    that holds < COLLAPSE_TRUE of `true`, or, when the label is that common, while another label holding >=
    COLLAPSE_MISSED_SHARE of `true` is recalled under COLLAPSE_MISSED_RECALL (then also `missed`: that label's
    {label, true_share, recall}, the least recalled); None when neither holds (also for no rows). Labels are any hashable values (label names, indices,
    label-set cells); both sequences have one entry per row."""
    if len(predicted) == 0 or len(true) != len(predicted):
        return None
    label, count = collections.Counter(predicted).most_common(1)[0]
    share, n, true_counts = count / len(predicted), len(true), collections.Counter(true)
    if share < COLLAPSE_PREDICTED:
        return None
    hits = collections.Counter(t for p, t in zip(predicted, true) if p == t)
    missed = sorted((hits[m] / c, str(m), m) for m, c in true_counts.items()
                    if m != label and c / n >= COLLAPSE_MISSED_SHARE and hits[m] / c < COLLAPSE_MISSED_RECALL)
    found = {"label": label, "predicted_share": round(share, 4), "true_share": round(true_counts[label] / n, 4)}
    if true_counts[label] / n < COLLAPSE_TRUE:
        return found
    if not missed:
        return None
    recall, _, other = missed[0]
    return found | {"missed": {"label": other, "true_share": round(true_counts[other] / n, 4), "recall": round(recall, 4)}}


def poorly_calibrated(ece: float | None, threshold: float) -> bool:
    """Expected calibration error above `threshold` (report.ece_warning): confidences are not probabilities."""
    return ece is not None and ece > threshold
