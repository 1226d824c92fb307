"""Evaluation metrics: classification report, paired bootstrap intervals, calibration, curves and slices.

Pure functions over label lists and probability arrays; numpy and scikit-learn are imported inside them.
Macro averages run over the labels that occur in the scored set's true labels (all labels on the test
split, which is stratified), so an external set without some label is not charged an F1 of 0 for it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from stages.core.errors import ParamsError


def r6(x: float | None) -> float | None:
    return None if x is None else round(float(x), 6)


def positive_index(positive_label: str | None, labels: list[str], multi_label: bool = False) -> int | None:
    """The label scored by ROC/PR: evaluate.positive_label, or the second label of a binary (single-label) task."""
    if positive_label is None:
        return 1 if len(labels) == 2 and not multi_label else None
    if positive_label not in labels:
        raise ParamsError(f"params.yaml: evaluate.positive_label must be one of the model labels "
                          f"({', '.join(labels)}), got {positive_label!r}")
    return labels.index(positive_label)


def classification_metrics(y_true: Sequence[str], y_pred: Sequence[str], labels: list[str]) -> dict[str, Any]:
    """Accuracy, macro/weighted P/R/F1, per-label precision, recall (the share of the label's rows found, what
    fine-tuning tutorials call per-label accuracy), F1 and support, and the confusion matrix (rows = true)."""
    import numpy as np
    from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support

    present = [lab for lab in labels if lab in set(y_true)]
    out: dict[str, Any] = {"rows": len(y_true), "accuracy": r6(accuracy_score(y_true, y_pred))}
    for avg in ("macro", "weighted"):
        p, rec, f1, _ = precision_recall_fscore_support(y_true, y_pred, labels=present, average=avg,
                                                        zero_division=0)
        out.update({f"precision_{avg}": r6(p), f"recall_{avg}": r6(rec), f"f1_{avg}": r6(f1)})
    p, rec, f1, support = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    cm = confusion_matrix(y_true, y_pred, labels=labels)
    out["per_label"] = {lab: {"precision": r6(p[i]), "recall": r6(rec[i]), "f1": r6(f1[i]),
                              "support": int(support[i])} for i, lab in enumerate(labels)}
    out["confusion_matrix"] = {"labels": labels, "matrix": np.asarray(cm).tolist()}
    return out


def f1_counts(y: Any, p: Any, n_labels: int) -> Any:
    """Per-label F1 (b, n_labels) of each row of the (b, n) id arrays `y` (true) and `p` (predicted).

    Same definition as scikit-learn's f1_score(average=None, zero_division=0) with a fixed label list.
    """
    import numpy as np

    b = y.shape[0]
    flat = (np.arange(b)[:, None] * n_labels * n_labels + y * n_labels + p).ravel()
    return _f1_of(np.bincount(flat, minlength=b * n_labels * n_labels).reshape(b, n_labels, n_labels))


def _f1_of(cm: Any) -> Any:
    """Per-label F1 (b, n_labels) of a stack of confusion matrices (b, n_labels, n_labels), rows = true."""
    import numpy as np

    tp = np.diagonal(cm, axis1=1, axis2=2)
    denom = 2 * tp + (cm.sum(1) - tp) + (cm.sum(2) - tp)
    return np.divide(2 * tp, denom, out=np.zeros(tp.shape), where=denom > 0)


def macro_f1_counts(y: Any, p: Any, n_labels: int, mask: Any) -> Any:
    """Macro-F1 of each row of `y`, `p` (see f1_counts), over the labels in `mask`."""
    return f1_counts(y, p, n_labels)[:, mask].mean(1)


def bootstrap(y: Any, preds: dict[str, Any], n_labels: int, mask: Any, resamples: int, seed: int) -> dict:
    """Accuracy, macro-F1 and per-label F1 of every predictor on the same `resamples` row resamples (paired,
    seeded).

    Returns {name: {"accuracy": (r,), "f1_macro": (r,), "f1_per_label": (r, n_labels)}}; differences between two
    predictors taken resample by resample give a paired interval for the gain of one over the other.
    Each resample is drawn as row indices (`rng.integers`) and turned into how often it drew each row; the
    confusion counts of all predictors are those draw counts summed per (true, predicted) pair, one matrix
    product per true label: the same counts, and so the same floats, as indexing every row of every resample,
    in a fraction of the time.
    """
    import numpy as np

    rng = np.random.default_rng(seed)
    y, names = np.asarray(y), list(preds)
    n, k = len(y), n_labels  # k: labels, abstention included
    chunk = max(1, 2_000_000 // max(n, 1))  # bounded memory: at most ~2M indices per step
    dtype = np.float32 if n < 2 ** 24 else np.float64  # either sums draw counts (integers <= n) exactly
    rows = [np.flatnonzero(y == i) for i in range(k)]  # each true label's rows
    eye = np.eye(k, dtype=dtype)
    hot = [np.concatenate([eye[np.asarray(preds[m])[r]] for m in names], axis=1) if names else np.zeros((len(r), 0))
           for r in rows]  # per true label: its rows' predicted labels, one-hot, predictor after predictor
    out: dict[str, dict[str, list]] = {name: {"accuracy": [], "f1_macro": [], "f1_per_label": []} for name in preds}
    for start in range(0, resamples, chunk):
        b = min(chunk, resamples - start)
        idx = rng.integers(0, n, size=(b, n))
        drawn = np.bincount((idx + (np.arange(b) * n)[:, None]).ravel(), minlength=b * n).reshape(b, n).astype(dtype)
        counts = np.rint(np.stack([drawn[:, r] @ h for r, h in zip(rows, hot)], axis=1)).astype(np.int64)
        for j, name in enumerate(names):
            cm = counts[:, :, j * k:(j + 1) * k]  # (b, true, predicted)
            f1 = _f1_of(cm)
            out[name]["accuracy"].append(np.trace(cm, axis1=1, axis2=2) / n)
            out[name]["f1_macro"].append(f1[:, mask].mean(1))
            out[name]["f1_per_label"].append(f1)
    return {name: {key: np.concatenate(v) for key, v in m.items()} for name, m in out.items()}


def interval(values: Any, level: float) -> tuple[float, float]:
    """Percentile interval holding `level` of the bootstrap distribution."""
    import numpy as np

    lo, hi = np.percentile(values, [50 * (1 - level), 50 * (1 + level)])
    return r6(lo), r6(hi)


def calibration(proba: Any, y: Any, bins: int) -> tuple[float, float, list[dict[str, Any]]]:
    """Expected calibration error, Brier score and the reliability table over `bins` equal-width bins.

    A row's confidence is its top probability; bin i holds confidences in (i/bins, (i+1)/bins]. ECE is the
    row-weighted mean of |accuracy - mean confidence| over bins. Brier is the mean squared distance between
    the probability vector and the one-hot true label (0 = perfect).
    """
    import numpy as np

    conf = proba.max(1)
    correct = proba.argmax(1) == y
    which = np.clip(np.ceil(conf * bins).astype(int) - 1, 0, bins - 1)
    table, ece = [], 0.0
    for i in range(bins):
        sel = which == i
        if not sel.any():
            continue
        acc, mean_conf = float(correct[sel].mean()), float(conf[sel].mean())
        ece += sel.sum() / len(y) * abs(acc - mean_conf)
        table.append({"bin": i + 1, "lower": r6(i / bins), "upper": r6((i + 1) / bins), "rows": int(sel.sum()),
                      "confidence": r6(mean_conf), "accuracy": r6(acc)})
    onehot = np.eye(proba.shape[1])[y]
    return r6(ece), r6(((proba - onehot) ** 2).sum(1).mean()), table


def binary_curves(y: Any, score: Any, positive: int) -> dict[str, Any]:
    """ROC-AUC, average precision and both curves for `positive` against the rest (None without both classes)."""
    from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score, roc_curve

    is_pos = y == positive
    if is_pos.all() or not is_pos.any():
        return {"roc_auc": None, "average_precision": None, "roc": [], "pr": []}
    fpr, tpr, thr = roc_curve(is_pos, score)
    prec, rec, pthr = precision_recall_curve(is_pos, score)
    roc = [{"fpr": r6(a), "tpr": r6(b), "threshold": r6(min(c, 1.0))} for a, b, c in zip(fpr, tpr, thr)]
    # precision_recall_curve lists recall descending and has one more point than thresholds (recall 0).
    pr = [{"recall": r6(b), "precision": r6(a), "threshold": r6(c if i < len(pthr) else 1.0)}
          for i, (a, b, c) in enumerate(zip(prec, rec, list(pthr) + [1.0]))][::-1]
    return {"roc_auc": r6(roc_auc_score(is_pos, score)), "average_precision": r6(average_precision_score(is_pos, score)),
            "roc": roc, "pr": pr}


def ovr_scores(y: Any, proba: Any, labels: list[str]) -> dict[str, Any]:
    """Every label against the rest: ROC-AUC, average precision and both curves per label (None for a label
    absent from, or the only one in, `y`), and their macro averages over the labels that have them."""
    import numpy as np

    per_label = {lab: binary_curves(y, proba[:, i], i) for i, lab in enumerate(labels)}
    macro = {}
    for key in ("roc_auc", "average_precision"):
        values = [c[key] for c in per_label.values() if c[key] is not None]
        macro[f"{key}_macro"] = r6(np.mean(values)) if values else None
    return {"per_label": per_label, **macro}


def length_bucket(words: int, edges: Sequence[int]) -> str:
    """The name of the bucket holding a text of `words` words: edges (8, 11) give 1-8, 9-11, 12+ words."""
    lower = 1
    for edge in edges:
        if words <= edge:
            return f"{lower}-{edge} words"
        lower = edge + 1
    return f"{lower}+ words"


def slices(true: Sequence[str], predicted: Sequence[str], groups: dict[str, Sequence[str]],
           labels: list[str], order: dict[str, list[str]]) -> list[dict[str, Any]]:
    """Rows, accuracy, macro-F1 and mismatches per slice; `groups` maps a slicing (length, source) to each
    row's slice name and `order` gives the slices' display order per slicing."""
    out = []
    for by, names in groups.items():
        for name in order[by]:
            idx = [i for i, g in enumerate(names) if g == name]
            if not idx:
                continue
            m = classification_metrics([true[i] for i in idx], [predicted[i] for i in idx], labels)
            out.append({"slice_by": by, "slice": name, "rows": len(idx), "accuracy": m["accuracy"],
                        "f1_macro": m["f1_macro"], "mismatches": sum(true[i] != predicted[i] for i in idx)})
    return out


def predicted_ids(proba: Any) -> Any:
    """Single-label decisions: the argmax label index, or len(labels) (no label) for a row of zeros, which is how
    a baseline abstains (llm_zero_shot on an unusable answer). Scored with n_labels + 1, that index is wrong for
    every row and charges recall, never another label's precision."""
    import numpy as np

    return np.where(proba.sum(1) > 0, proba.argmax(1), proba.shape[1])
