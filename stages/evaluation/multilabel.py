"""Metrics of a multi-label classifier (core/labelsets.py): rows carry label sets, given as 0/1 matrices
(n rows x L labels) of true labels `Y` and decisions `D` (labelsets.decide: probability >= the label's threshold).

Every F1 uses zero_division=0, like scikit-learn's default (a row with no true and no predicted label scores 0 in
f1_samples). Macro averages run over the labels that occur in the scored set's true labels, as in metrics.py.
Pure functions over numpy arrays; numpy and scikit-learn are imported inside them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from stages.evaluation.metrics import binary_curves, calibration, r6

HEADLINE_F1 = ("f1_micro", "f1_macro", "f1_samples")  # the F1s that get bootstrap intervals


def present(Y: Any) -> Any:
    """Mask of the labels that occur in at least one row of `Y` (the labels macro averages run over)."""
    return Y.sum(0) > 0


def classification_metrics(Y: Any, D: Any, labels: list[str]) -> dict[str, Any]:
    """Subset accuracy (also as `accuracy`), hamming loss, micro/macro/samples/weighted F1, macro/weighted
    precision and recall, per-label precision/recall/F1/support and per-label 2x2 counts (tn, fp, fn, tp)."""
    from sklearn.metrics import (accuracy_score, f1_score, hamming_loss, multilabel_confusion_matrix,
                                 precision_recall_fscore_support)

    idx = [j for j in range(len(labels)) if present(Y)[j]] or list(range(len(labels)))
    subset = r6(accuracy_score(Y, D))
    out: dict[str, Any] = {"rows": int(Y.shape[0]), "accuracy": subset, "subset_accuracy": subset,
                           "hamming_loss": r6(hamming_loss(Y, D))}
    for avg in ("micro", "samples"):
        out[f"f1_{avg}"] = r6(f1_score(Y, D, average=avg, zero_division=0))
    for avg in ("macro", "weighted"):
        p, rec, f1, _ = precision_recall_fscore_support(Y[:, idx], D[:, idx], average=avg, zero_division=0)
        out.update({f"precision_{avg}": r6(p), f"recall_{avg}": r6(rec), f"f1_{avg}": r6(f1)})
    p, rec, f1, support = precision_recall_fscore_support(Y, D, average=None, zero_division=0)
    out["per_label"] = {lab: {"precision": r6(p[j]), "recall": r6(rec[j]), "f1": r6(f1[j]),
                              "support": int(support[j])} for j, lab in enumerate(labels)}
    cm = multilabel_confusion_matrix(Y, D)  # (L, 2, 2): [[tn, fp], [fn, tp]]
    out["label_confusion"] = {lab: {"tn": int(cm[j, 0, 0]), "fp": int(cm[j, 0, 1]), "fn": int(cm[j, 1, 0]),
                                    "tp": int(cm[j, 1, 1])} for j, lab in enumerate(labels)}
    return out


def _scores(t: Any, q: Any, mask: Any) -> dict[str, Any]:
    """Subset accuracy, micro/macro/samples F1 and per-label precision, recall and F1 of a batch of resamples:
    t, q are (b, n, L). A label never predicted (or absent) in a resample scores 0 there (zero_division=0)."""
    import numpy as np

    tp, fp, fn = (t & q).sum(1), ((1 - t) & q).sum(1), (t & (1 - q)).sum(1)  # (b, L)
    denom = 2 * tp + fp + fn
    f1 = np.divide(2 * tp, denom, out=np.zeros(tp.shape), where=denom > 0)
    micro_den = denom.sum(1)
    row_tp, row_den = (t & q).sum(2), t.sum(2) + q.sum(2)  # (b, n)
    return {"accuracy": (t == q).all(2).mean(1),
            "f1_micro": np.divide(2 * tp.sum(1), micro_den, out=np.zeros(micro_den.shape), where=micro_den > 0),
            "f1_macro": f1[:, mask].mean(1),
            "f1_samples": np.divide(2 * row_tp, row_den, out=np.zeros(row_tp.shape), where=row_den > 0).mean(1),
            "f1_per_label": f1,
            "precision_per_label": np.divide(tp, tp + fp, out=np.zeros(tp.shape), where=tp + fp > 0),
            "recall_per_label": np.divide(tp, tp + fn, out=np.zeros(tp.shape), where=tp + fn > 0)}


def bootstrap(Y: Any, decisions: dict[str, Any], resamples: int, seed: Any) -> dict[str, dict[str, Any]]:
    """Subset accuracy (key `accuracy`), micro/macro/samples F1 and per-label F1 of every predictor on the same
    `resamples` row resamples (paired, seeded; like metrics.bootstrap). Macro-F1 runs over present(Y).

    Returns {name: {"accuracy": (r,), "f1_micro": (r,), "f1_macro": (r,), "f1_samples": (r,),
    "f1_per_label": (r, L), "precision_per_label": (r, L), "recall_per_label": (r, L)}}.
    """
    import numpy as np

    rng = np.random.default_rng(seed)
    n, L = Y.shape
    mask = present(Y) if present(Y).any() else np.ones(L, bool)
    chunk = max(1, 2_000_000 // max(n * L, 1))  # bounded memory: at most ~2M cells per step
    Y = Y.astype(np.int8)
    out: dict[str, dict[str, list]] = {name: {} for name in decisions}
    for start in range(0, resamples, chunk):
        idx = rng.integers(0, n, size=(min(chunk, resamples - start), n))
        t = Y[idx]
        for name, D in decisions.items():
            for key, values in _scores(t, D.astype(np.int8)[idx], mask).items():
                out[name].setdefault(key, []).append(values)
    return {name: {k: np.concatenate(v) for k, v in m.items()} for name, m in out.items()}


def ovr_scores(Y: Any, proba: Any, labels: list[str]) -> dict[str, Any]:
    """Each label's ROC-AUC, average precision and curves from its own probability column (None for a label
    in every or no row of `Y`), and their macro averages over the labels that have them."""
    import numpy as np

    per_label = {lab: binary_curves(Y[:, j], proba[:, j], 1) for j, lab in enumerate(labels)}
    macro = {}
    for key in ("roc_auc", "average_precision"):
        values = [c[key] for c in per_label.values() if c[key] is not None]
        macro[f"{key}_macro"] = r6(np.mean(values)) if values else None
    return {"per_label": per_label, **macro}


def calibration_flat(proba: Any, Y: Any, bins: int) -> tuple[float, float, list[dict[str, Any]]]:
    """ECE, Brier score and reliability table over every (row, label) probability, each a binary prediction:
    confidence max(p, 1 - p), correct when (p >= 0.5) matches the label. Brier: mean of (p - y)^2 over the cells."""
    import numpy as np

    p, y = proba.ravel(), Y.ravel().astype(int)
    ece, _, table = calibration(np.stack([1 - p, p], axis=1), y, bins)
    return ece, r6(((p - y) ** 2).mean()), table


def confidence(proba: Any) -> Any:
    """A row's confidence in its whole label set: the least sure label's max(p, 1 - p)."""
    import numpy as np

    return np.maximum(proba, 1 - proba).min(1)


def slices(Y: Any, D: Any, groups: dict[str, Sequence[str]], order: dict[str, list[str]]) -> list[dict[str, Any]]:
    """Rows, subset accuracy (`accuracy`), macro-F1 and mismatches (rows with any wrong label) per slice;
    `groups` maps a slicing to each row's slice name, `order` gives the slices' display order."""
    import numpy as np

    out = []
    for by, names in groups.items():
        names = np.asarray(names, dtype=object)
        for name in order[by]:
            sel = names == name
            if not sel.any():
                continue
            t, q = Y[sel][None].astype(np.int8), D[sel][None].astype(np.int8)
            mask = present(Y[sel]) if present(Y[sel]).any() else np.ones(Y.shape[1], bool)
            s = _scores(t, q, mask)
            out.append({"slice_by": by, "slice": name, "rows": int(sel.sum()), "accuracy": r6(s["accuracy"][0]),
                        "f1_macro": r6(s["f1_macro"][0]), "mismatches": int((~(t[0] == q[0]).all(1)).sum())})
    return out


def test_details(Y: Any, proba: Any, thresholds: list[float], labels: list[str], positive: str | None,
                 boot: dict[str, Any], confidence_level: float, bins: int) -> tuple[dict, dict, list]:
    """The fine-tuned multi-label model on the test split: the TestMetrics fields (intervals from `boot`, its
    resamples of the headline F1s and per-label F1), the curves (evaluate's `curves` dict) and the reliability
    table."""
    from stages.core.labelsets import decide
    from stages.evaluation.metrics import interval

    m = classification_metrics(Y, decide(proba, thresholds), labels)
    for key in ("accuracy", *HEADLINE_F1):
        m[f"{key}_ci_low"], m[f"{key}_ci_high"] = interval(boot[key], confidence_level)
    ovr = ovr_scores(Y, proba, labels)
    for j, lab in enumerate(labels):
        for key in ("precision", "recall", "f1"):
            lo, hi = interval(boot[f"{key}_per_label"][:, j], confidence_level)
            m["per_label"][lab].update({f"{key}_ci_low": lo, f"{key}_ci_high": hi})
        c = ovr["per_label"][lab]
        m["per_label"][lab].update(roc_auc=c["roc_auc"], average_precision=c["average_precision"])
    named = ovr["per_label"][positive] if positive is not None else {"roc_auc": None, "average_precision": None}
    m.update(roc_auc=named["roc_auc"], average_precision=named["average_precision"],
             roc_auc_macro=ovr["roc_auc_macro"], average_precision_macro=ovr["average_precision_macro"],
             multi_label=True, confusion_matrix=None, thresholds={lab: r6(t) for lab, t in zip(labels, thresholds)})
    m["ece"], m["brier"], calib = calibration_flat(proba, Y, bins)
    return m, {"positive_label": positive, "per_label": ovr["per_label"]}, calib
