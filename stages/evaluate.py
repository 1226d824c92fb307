"""Stage evaluate: held-out test metrics of the trained classifier.

Reads: the model directory and <split>/test.csv. Writes: metrics.json (headline metrics, per label,
confusion matrix) and, in the eval directory, predictions.csv (text, true, predicted, per-class
probabilities), confusion.csv (for `dvc plots`) and confusion.png. Params: evaluate.*
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

from stages import cli, modeling, params
from stages.errors import DataError
from stages.io import atomic_path, read_csv, write_csv, write_json

log = logging.getLogger(__name__)


def classification_metrics(y_true: list[str], y_pred: list[str], labels: list[str]) -> dict[str, Any]:
    """Accuracy, macro/weighted P/R/F1, per-label P/R/F1/support and the confusion matrix (rows = true)."""
    from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support

    def r(x: float) -> float:
        return round(float(x), 6)

    out: dict[str, Any] = {"rows": len(y_true), "accuracy": r(accuracy_score(y_true, y_pred))}
    for avg in ("macro", "weighted"):
        p, rec, f1, _ = precision_recall_fscore_support(y_true, y_pred, labels=labels, average=avg, zero_division=0)
        out.update({f"precision_{avg}": r(p), f"recall_{avg}": r(rec), f"f1_{avg}": r(f1)})
    p, rec, f1, support = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    out["per_label"] = {lab: {"precision": r(p[i]), "recall": r(rec[i]), "f1": r(f1[i]), "support": int(support[i])}
                        for i, lab in enumerate(labels)}
    out["confusion_matrix"] = {"labels": labels,
                               "matrix": confusion_matrix(y_true, y_pred, labels=labels).tolist()}
    return out


def plot_confusion(cm: dict[str, Any], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels, matrix = cm["labels"], cm["matrix"]
    fig, ax = plt.subplots(figsize=(1.6 + 1.1 * len(labels), 1.2 + 1.0 * len(labels)), dpi=100)
    ax.imshow(matrix, cmap="Blues")
    ax.set(xticks=range(len(labels)), yticks=range(len(labels)), xticklabels=labels, yticklabels=labels,
           xlabel="predicted", ylabel="actual", title=title)
    peak = max(max(row) for row in matrix) or 1
    for i, row in enumerate(matrix):
        for j, v in enumerate(row):
            ax.text(j, i, str(v), ha="center", va="center", color="white" if v > peak / 2 else "black")
    fig.tight_layout()
    with atomic_path(path, suffix=".png") as tmp:
        # A fixed PNG (no timestamp metadata) so identical results give identical bytes.
        fig.savefig(tmp, format="png", metadata={"Software": None})
    plt.close(fig)


def run(cfg: params.Evaluate, model_dir: Path, split_dir: Path, metrics_path: Path, eval_dir: Path) -> dict:
    import pandas as pd

    test = read_csv(split_dir / "test.csv", columns=("text", "label"), what="test split")
    model = modeling.load_classifier(str(model_dir))
    tokenizer = modeling.load_tokenizer(str(model_dir))
    labels = modeling.labels_of(model)
    unknown = sorted(set(test["label"]) - set(labels))
    if unknown:
        raise DataError(f"{split_dir / 'test.csv'}: label {unknown[0]!r} is unknown to the model "
                        f"(model labels: {', '.join(labels)})")
    model.to(modeling.device())
    texts = test["text"].tolist()
    proba = modeling.predict_proba(model, tokenizer, texts, cfg.batch_size)
    predicted = [labels[i] for i in proba.argmax(1)]
    metrics = classification_metrics(test["label"].tolist(), predicted, labels)

    preds = pd.DataFrame({"text": texts, "true": test["label"].tolist(), "predicted": predicted,
                          "confidence": proba.max(1).round(6)})
    for i, lab in enumerate(labels):
        preds[f"p_{lab}"] = proba[:, i].round(6)
    write_csv(eval_dir / "predictions.csv", preds)
    write_csv(eval_dir / "confusion.csv", preds[["true", "predicted"]].rename(
        columns={"true": "actual"}).sort_values(["actual", "predicted"], kind="stable"))
    plot_confusion(metrics["confusion_matrix"], eval_dir / "confusion.png", "Test confusion matrix")
    write_json(metrics_path, {"test": metrics})
    log.info("test: %s rows, accuracy %.4f, macro-F1 %.4f, %s mismatches", f"{len(texts):,}",
             metrics["accuracy"], metrics["f1_macro"], int((preds["true"] != preds["predicted"]).sum()))
    return metrics


def main(argv: list[str] | None = None) -> int:
    def add(p: argparse.ArgumentParser) -> None:
        p.add_argument("--model", required=True, type=Path, help="trained model directory")
        p.add_argument("--split", required=True, type=Path, help="directory with test.csv")
        p.add_argument("--metrics", required=True, type=Path, help="metrics.json to write")
        p.add_argument("--out", required=True, type=Path, help="directory for predictions and plots")

    def body(args: argparse.Namespace) -> None:
        run(params.load("evaluate", args.params), args.model, args.split, args.metrics, args.out)

    return cli.main(__doc__.splitlines()[0], add, body, argv)


if __name__ == "__main__":
    raise SystemExit(main())
