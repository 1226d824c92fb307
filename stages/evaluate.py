"""Stage evaluate: the fine-tuned classifier and its baselines on the held-out test split and on real data.

Reads: the model directory, <split>/test.csv and train.csv (baselines), the external test directory and the
train summary. Writes: metrics.json (headline metrics with bootstrap intervals, calibration, per label) and
the eval directory (predictions, mismatches, curves, slices, baselines, summary.md, PNGs; see README).
Params: base.seed (bootstrap), train.model (frozen-encoder baseline), evaluate.*
"""

from __future__ import annotations

import argparse
import logging
import zlib
from pathlib import Path
from typing import Any

from stages.core import cli, modeling, params
from stages.evaluation import baselines, external, figures, metrics, summary
from stages.core.errors import DataError, ParamsError
from stages.core.io import atomic_dir, read_csv, read_json, write_csv, write_json, write_text

log = logging.getLogger(__name__)
FINE_TUNED = "fine_tuned"


def positive_index(cfg: params.Evaluate, labels: list[str]) -> int | None:
    """The label scored by ROC/PR: evaluate.positive_label, or the second label of a binary task."""
    if cfg.positive_label is None:
        return 1 if len(labels) == 2 else None
    if cfg.positive_label not in labels:
        raise ParamsError(f"params.yaml: evaluate.positive_label must be one of the model labels "
                          f"({', '.join(labels)}), got {cfg.positive_label!r}")
    return labels.index(cfg.positive_label)


def score_set(name: str, y: Any, probas: dict[str, Any], labels: list[str], cfg: params.Evaluate,
              seed: int) -> dict[str, dict[str, Any]]:
    """Accuracy and macro-F1 with bootstrap intervals for each predictor on one set, plus each baseline's
    paired gap to the fine-tuned model (fine-tuned minus baseline, same resamples)."""
    import numpy as np

    preds = {k: p.argmax(1) for k, p in probas.items()}
    mask = np.isin(np.arange(len(labels)), y)
    boot = metrics.bootstrap(y, preds, len(labels), mask, cfg.bootstrap, [seed, zlib.crc32(name.encode())])
    out: dict[str, dict[str, Any]] = {}
    for k, pred in preds.items():
        m = metrics.classification_metrics([labels[i] for i in y], [labels[i] for i in pred], labels)
        row: dict[str, Any] = {"rows": len(y)}
        for key in ("accuracy", "f1_macro"):
            lo, hi = metrics.interval(boot[k][key], cfg.confidence)
            row.update({key: m[key], f"{key}_ci_low": lo, f"{key}_ci_high": hi})
        if k != FINE_TUNED and FINE_TUNED in boot:
            diff = boot[FINE_TUNED]["f1_macro"] - boot[k]["f1_macro"]
            lo, hi = metrics.interval(diff, cfg.confidence)
            gain = out[FINE_TUNED]["f1_macro"] - m["f1_macro"]
            row.update({"fine_tuned_gain_f1_macro": metrics.r6(gain), "gain_ci_low": lo, "gain_ci_high": hi})
        out[k] = row
    return out


def prediction_frame(frame: Any, proba: Any, labels: list[str]) -> Any:
    import pandas as pd

    preds = pd.DataFrame({"text": frame["text"].tolist(), "true": frame["label"].tolist(),
                          "predicted": [labels[i] for i in proba.argmax(1)], "confidence": proba.max(1).round(6)})
    for i, lab in enumerate(labels):
        preds[f"p_{lab}"] = proba[:, i].round(6)
    return preds


def write_eval_dir(out: Path, preds: Any, sources: list[str] | None, test: dict[str, Any], curves: dict[str, Any],
                   calib: list[dict[str, Any]], slices: list[dict[str, Any]], cfg: params.Evaluate) -> None:
    """Every per-row table, plot source and PNG of the test split (the fine-tuned model)."""
    import pandas as pd

    write_csv(out / "predictions.csv", preds)
    wrong = preds.assign(**({"source": sources} if sources is not None else {}))
    wrong = wrong[wrong["true"] != wrong["predicted"]]
    write_csv(out / "mismatches.csv", wrong.sort_values(["confidence", "text"], ascending=[False, True],
                                                         kind="stable"))
    write_csv(out / "confusion.csv", preds[["true", "predicted"]].rename(columns={"true": "actual"})
              .sort_values(["actual", "predicted"], kind="stable"))
    figures.confusion(test["confusion_matrix"], out / "confusion.png", "Test confusion matrix")
    per_label = pd.DataFrame([{"label": lab, **v} for lab, v in test["per_label"].items()])
    write_csv(out / "per_label.csv", per_label)
    figures.bars(dict(zip(per_label["label"], per_label["f1"])), out / "per_label_f1.png", "Test F1 per label", "F1")
    write_csv(out / "calibration.csv", pd.DataFrame(calib, columns=["bin", "lower", "upper", "rows", "confidence",
                                                                    "accuracy"]))
    figures.reliability(calib, cfg.calibration_bins, out / "reliability.png", f"Reliability (ECE {test['ece']:.3f})")
    write_csv(out / "slices.csv", pd.DataFrame(slices, columns=["slice_by", "slice", "rows", "accuracy", "f1_macro",
                                                                "mismatches"]))
    if curves["roc"]:
        write_csv(out / "roc.csv", pd.DataFrame(curves["roc"]))
        write_csv(out / "pr.csv", pd.DataFrame(curves["pr"]))
        pos = curves["positive_label"]
        figures.curve(curves["roc"], "fpr", "tpr", out / "roc.png", f"ROC, {pos} (AUC {test['roc_auc']:.3f})", True)
        figures.curve(curves["pr"], "recall", "precision", out / "pr.png",
                      f"Precision-recall, {pos} (AP {test['average_precision']:.3f})", False)


def run(cfg: params.Evaluate, seed: int, base_model: str, model_dir: Path, split_dir: Path, metrics_path: Path,
        eval_dir: Path, external_dir: Path | None = None, train_report: Path | None = None) -> dict[str, Any]:
    import numpy as np

    test = read_csv(split_dir / "test.csv", columns=("text", "label"), what="test split")
    model = modeling.load_classifier(str(model_dir))
    tokenizer = modeling.load_tokenizer(str(model_dir))
    labels = modeling.labels_of(model)
    unknown = sorted(set(test["label"]) - set(labels))
    if unknown:
        raise DataError(f"{split_dir / 'test.csv'}: label {unknown[0]!r} is unknown to the model "
                        f"(model labels: {', '.join(labels)})")
    pos = positive_index(cfg, labels)
    sets = {"test": test, **external.read_all(cfg, external_dir, labels)}
    train = read_csv(split_dir / "train.csv", columns=("text", "label"), what="train split") \
        if cfg.baselines.models else None
    model.to(modeling.device())
    probas = {name: {FINE_TUNED: modeling.predict_proba(model, tokenizer, f["text"].tolist(), cfg.batch_size)}
              for name, f in sets.items()}
    fitted = {} if train is None else baselines.run_all(
        cfg.baselines, base_model, cfg.batch_size, train["text"].tolist(), train["label"].tolist(), labels,
        [f["text"].tolist() for f in sets.values()])
    for name, fit in fitted.items():
        for set_name, proba in zip(sets, fit["proba"]):
            probas[set_name][name] = proba
    ys = {name: np.array([labels.index(lab) for lab in f["label"]]) for name, f in sets.items()}
    scores = {name: score_set(name, ys[name], probas[name], labels, cfg, seed) for name in sets}

    # The fine-tuned model on the test split in detail.
    proba, y = probas["test"][FINE_TUNED], ys["test"]
    preds = prediction_frame(test, proba, labels)
    m = metrics.classification_metrics(test["label"].tolist(), preds["predicted"].tolist(), labels)
    m.update({k: v for k, v in scores["test"][FINE_TUNED].items() if "_ci_" in k})
    curves = metrics.binary_curves(y, proba[:, pos], pos) if pos is not None else \
        {"roc_auc": None, "average_precision": None, "roc": [], "pr": []}
    curves["positive_label"] = None if pos is None else labels[pos]
    if pos is not None:
        m.update(roc_auc=curves["roc_auc"], average_precision=curves["average_precision"])
    m["ece"], m["brier"], calib = metrics.calibration(proba, y, cfg.calibration_bins)
    # Headline numbers and their intervals first, the bulky per-label table and confusion matrix last.
    first = ["rows", "accuracy", "accuracy_ci_low", "accuracy_ci_high", "f1_macro", "f1_macro_ci_low",
             "f1_macro_ci_high"]
    last = ["per_label", "confusion_matrix"]
    head = {k: m[k] for k in first} | {k: v for k, v in m.items() if k not in first + last} | {k: m[k] for k in last}
    sources = test["source"].tolist() if "source" in test.columns else None
    slices = slice_table(sets, probas, labels, cfg.length_buckets)

    train_seconds = read_json(train_report).get("train_seconds") if train_report and train_report.exists() else None
    seconds = {FINE_TUNED: train_seconds, **{k: v["train_seconds"] for k, v in fitted.items()}}
    table = {"resamples": cfg.bootstrap, "confidence": cfg.confidence, "sets": list(sets),
             "models": {k: {"train_seconds": seconds[k], **{s: scores[s][k] for s in sets}} for k in seconds}}
    for s in list(sets)[1:]:
        for k, row in table["models"].items():
            row[s]["f1_macro_gap"] = metrics.r6(scores["test"][k]["f1_macro"] - scores[s][k]["f1_macro"])
    ext = {s: {**scores[s][FINE_TUNED], "f1_macro_gap": table["models"][FINE_TUNED][s]["f1_macro_gap"]}
           for s in list(sets)[1:]}

    with atomic_dir(eval_dir) as tmp:
        write_eval_dir(tmp, preds, sources, head, curves, calib, slices, cfg)
        write_json(tmp / "baselines.json", table)
        write_text(tmp / "summary.md", summary.render(base_model, head, table, slices, curves["positive_label"],
                                                         sources is None))
    write_json(metrics_path, {"test": head, **({"external": ext} if ext else {})})
    log.info("test: %s rows, accuracy %.4f, macro-F1 %.4f [%.4f, %.4f], ECE %.4f, %s mismatches", f"{len(y):,}",
             head["accuracy"], head["f1_macro"], head["f1_macro_ci_low"], head["f1_macro_ci_high"], head["ece"],
             int((preds["true"] != preds["predicted"]).sum()))
    for s, row in ext.items():
        log.info("real set %s: %s rows, macro-F1 %.4f (gap %+.4f)", s, f"{row['rows']:,}", row["f1_macro"],
                 row["f1_macro_gap"])
    return {"test": head, "external": ext, "baselines": table}


def slice_table(sets: dict[str, Any], probas: dict[str, Any], labels: list[str], edges: tuple[int, ...]) -> list:
    """The fine-tuned model per length bucket (test split) and per source (test sources, then real sets)."""
    test = sets["test"]
    true, pred = [], []
    by_source: list[str] = []
    for name, frame in sets.items():
        true += frame["label"].tolist()
        pred += [labels[i] for i in probas[name][FINE_TUNED].argmax(1)]
        src = frame["source"].tolist() if "source" in frame.columns else ["(no source column)"] * len(frame)
        by_source += [s or "(empty)" for s in src]
    n = len(test)
    lengths = [metrics.length_bucket(len(t.split()), edges) for t in test["text"]]
    order = [metrics.length_bucket(e, edges) for e in (*edges, (edges[-1] if edges else 0) + 1)]
    sources = sorted(set(by_source[:n])) + [f"real:{s}" for s in list(sets)[1:]]
    by_length = metrics.slices(true[:n], pred[:n], {"length": lengths}, labels, {"length": order})
    return by_length + metrics.slices(true, pred, {"source": by_source}, labels, {"source": sources})


def main(argv: list[str] | None = None) -> int:
    def add(p: argparse.ArgumentParser) -> None:
        p.add_argument("--model", required=True, type=Path, help="trained model directory")
        p.add_argument("--split", required=True, type=Path, help="directory with test.csv and train.csv")
        p.add_argument("--metrics", required=True, type=Path, help="metrics.json to write")
        p.add_argument("--out", required=True, type=Path, help="directory for predictions, tables and plots")
        p.add_argument("--external", type=Path, help="directory holding the external (real) test sets")
        p.add_argument("--train-report", type=Path, help="train summary.json (for the training time)")

    def body(args: argparse.Namespace) -> None:
        cfg = params.load("evaluate", args.params)
        run(cfg, params.load("base", args.params).seed, params.load("train", args.params).model, args.model,
            args.split, args.metrics, args.out, args.external, args.train_report)

    return cli.main(__doc__.splitlines()[0], add, body, argv)


if __name__ == "__main__":
    raise SystemExit(main())
