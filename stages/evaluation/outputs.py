"""The evaluate stage's per-row tables and figures of the test split: predictions.csv (the contract in
core/contracts.py), mismatches, confusion, per-label, calibration, slices, ROC and PR curves (CSV and PNG); and the
rows of real_predictions.csv, the fine-tuned model's decisions on the real sets (core/predictions.py).

A multi-label model's rows carry label sets: mismatches are the rows with any wrong label (columns `missed`
and `extra` name them), confusion.csv holds each label's 2x2 counts and there is no confusion.png.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from stages.core import contracts, decision, labelsets, params
from stages.core.io import write_csv
from stages.evaluation import figures


def prediction_frame(frame: Any, proba: Any, labels: list[str], thresholds: list[float] | None = None,
                     offsets: list[float] | None = None) -> Any:
    """predictions.csv's rows: the label decided by the model's rule (core/decision.py: argmax, or with `offsets`
    the tuned rule) and its probability as confidence; with a multi-label model's `thresholds`, label-set cells
    (labelsets) decided at them and the least sure label's max(p, 1 - p) as confidence."""
    import numpy as np
    import pandas as pd

    from stages.evaluation.multilabel import confidence

    if thresholds is None:
        ids = decision.decide(proba, offsets)
        true, predicted, conf = frame["label"].tolist(), [labels[i] for i in ids], proba[np.arange(len(ids)), ids]
    else:
        true = [labelsets.join_labels(labelsets.split_labels(cell)) for cell in frame["label"]]
        predicted, conf = labelsets.from_multi_hot(labelsets.decide(proba, thresholds), labels), confidence(proba)
    preds = pd.DataFrame({"text": frame["text"].tolist(), "true": true, "predicted": predicted,
                          "confidence": conf.round(6)})
    for i, lab in enumerate(labels):
        preds[contracts.PROBABILITY_PREFIX + lab] = proba[:, i].round(6)
    return preds


def real_prediction_frame(sets: dict[str, Any], proba: dict[str, Any], decided: dict[str, Any], labels: list[str],
                          multi_label: bool) -> Any:
    """real_predictions.csv's rows (core/predictions.py writes them with a text key in place of the text): per real
    set, each row's 1-based data row, true label, the model's decision (`decided`: label indices, or 0/1 rows of a
    multi-label model), the probability of what it decided (a multi-label row: the least sure label's
    max(p, 1 - p)) and every label's probability."""
    import numpy as np
    import pandas as pd

    from stages.evaluation.multilabel import confidence

    parts = []
    for name, frame in sets.items():
        p, d = proba[name], np.asarray(decided[name])
        if multi_label:
            true = [labelsets.join_labels(labelsets.split_labels(cell)) for cell in frame["label"]]
            predicted, conf = labelsets.from_multi_hot(d, labels), confidence(p)
        else:
            true, predicted, conf = frame["label"].tolist(), [labels[i] for i in d], p[np.arange(len(d)), d]
        part = pd.DataFrame({"set": name, "row": np.arange(1, len(frame) + 1), "text": frame["text"].tolist(),
                             "true": true, "predicted": predicted, "confidence": np.round(conf, 6)})
        for i, lab in enumerate(labels):
            part[contracts.PROBABILITY_PREFIX + lab] = p[:, i].round(6)
        parts.append(part)
    return pd.concat(parts, ignore_index=True)


def write_eval_dir(out: Path, preds: Any, labels: list[str], sources: list[str], test: dict[str, Any],
                   curves: dict[str, Any], calib: list[dict[str, Any]], slices: list[dict[str, Any]],
                   cfg: params.Evaluate) -> None:
    """Every per-row table, plot source and PNG of the test split (the fine-tuned model)."""
    import pandas as pd

    contracts.write_predictions(out / "predictions.csv", preds, labels)
    wrong = preds.assign(source=sources)
    wrong = wrong[wrong["true"] != wrong["predicted"]]
    multi = bool(test.get("multi_label"))
    if multi:
        wrong = wrong.assign(**label_differences(wrong["true"].tolist(), wrong["predicted"].tolist()))
    write_csv(out / "mismatches.csv", wrong.sort_values(["confidence", "text"], ascending=[False, True],
                                                         kind="stable"))
    if multi:
        write_csv(out / "confusion.csv", pd.DataFrame([{"label": lab, **c} for lab, c in test["label_confusion"].items()],
                                                      columns=["label", "tn", "fp", "fn", "tp"]))
    else:
        write_csv(out / "confusion.csv", preds[["true", "predicted"]].rename(columns={"true": "actual"})
                  .sort_values(["actual", "predicted"], kind="stable"))
        figures.confusion(test["confusion_matrix"], out / "confusion.png", "Test confusion matrix")
    per_label = pd.DataFrame([{"label": lab, **v, **(test.get("label_confusion") or {}).get(lab, {})}
                              for lab, v in test["per_label"].items()])
    write_csv(out / "per_label.csv", per_label)
    figures.bars(dict(zip(per_label["label"], per_label["f1"])), out / "per_label_f1.png", "Test F1 per label", "F1")
    write_csv(out / "calibration.csv", pd.DataFrame(calib, columns=["bin", "lower", "upper", "rows", "confidence",
                                                                    "accuracy"]))
    figures.reliability(calib, cfg.calibration_bins, out / "reliability.png", f"Reliability (ECE {test['ece']:.3f})")
    write_csv(out / "slices.csv", pd.DataFrame(slices, columns=["slice_by", "slice", "rows", "accuracy", "f1_macro",
                                                                "mismatches"]))
    write_curves(out, curves, test)


def label_differences(true: list[str], predicted: list[str]) -> dict[str, list[str]]:
    """`missed` (true labels not predicted) and `extra` (predicted labels not true) per row, as label-set cells."""
    pairs = [(set(labelsets.split_labels(t)), set(labelsets.split_labels(p))) for t, p in zip(true, predicted)]
    return {"missed": [labelsets.join_labels(t - p) for t, p in pairs],
            "extra": [labelsets.join_labels(p - t) for t, p in pairs]}


def write_curves(out: Path, curves: dict[str, Any], test: dict[str, Any]) -> None:
    """roc.csv/pr.csv (a `label` column) and roc.png/pr.png: the positive label's curve on a binary task, one
    one-vs-rest curve per label otherwise (the named positive label drawn thicker)."""
    import pandas as pd

    pos, per_label = curves["positive_label"], curves["per_label"]
    binary = len(per_label) == 2 and not test.get("multi_label")
    shown = [pos] if pos is not None and binary else [lab for lab, c in per_label.items() if c["roc"]]
    if not shown:
        return
    for kind in ("roc", "pr"):
        rows = [{"label": lab, **point} for lab in shown for point in per_label[lab][kind]]
        write_csv(out / f"{kind}.csv", pd.DataFrame(rows))
    if len(shown) == 1 and shown[0] == pos:
        figures.curve(per_label[pos]["roc"], "fpr", "tpr", out / "roc.png", f"ROC, {pos} (AUC {test['roc_auc']:.3f})",
                      True)
        figures.curve(per_label[pos]["pr"], "recall", "precision", out / "pr.png",
                      f"Precision-recall, {pos} (AP {test['average_precision']:.3f})", False)
        return
    figures.curves({lab: per_label[lab]["roc"] for lab in shown}, "fpr", "tpr", out / "roc.png",
                   f"ROC per label, one vs rest (macro AUC {test['roc_auc_macro']:.3f})", True, pos)
    figures.curves({lab: per_label[lab]["pr"] for lab in shown}, "recall", "precision", out / "pr.png",
                   f"Precision-recall per label (macro AP {test['average_precision_macro']:.3f})", False, pos)
