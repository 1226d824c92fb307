"""Stage explain: LIME explanations of the test mismatches and the tokens that recur across them.

Explains the mismatches most confident first, plus a few confident correct predictions per label as contrast.

Reads: the model directory and predictions.csv from evaluate. Writes the directory --out: mismatches.md,
explanations.json, spurious_tokens.png and html/ (one LIME page per example, html/lime.js shared).
Params: base.seed, explain.*
"""

from __future__ import annotations

import argparse
import logging
import math
import re
import time
import zlib
from pathlib import Path
from typing import Any

from stages.core import cli, modeling, params
from stages.explanation import pages
from stages.core.errors import DataError
from stages.core.io import atomic_dir, read_csv, write_json, write_text

log = logging.getLogger(__name__)
_WORD = re.compile(r"\w", re.UNICODE)


class CachedClassifier:
    """LIME's classifier_fn: predicts each distinct string once, in length-sorted batches.

    LIME draws every perturbation before it calls classifier_fn, once, with all of them, so caching by
    string cannot change an explanation; it only skips repeated work (a 10-word text has at most 1,024
    distinct perturbations). The cache is shared across examples: template texts share many perturbations.
    """

    def __init__(self, model: Any, tokenizer: Any, batch_size: int) -> None:
        self.model, self.tokenizer, self.batch_size = model, tokenizer, batch_size
        self.cache: dict[str, Any] = {}
        self.calls = self.predicted = 0

    def __call__(self, texts: list[str]) -> Any:
        import numpy as np

        self.calls += len(texts)
        todo = list(dict.fromkeys(t for t in texts if t not in self.cache))
        if todo:  # predict_proba sorts by length, pads per batch and runs under torch.inference_mode
            proba = modeling.predict_proba(self.model, self.tokenizer, todo, self.batch_size)
            self.cache.update(zip(todo, proba))
            self.predicted += len(todo)
        return np.stack([self.cache[t] for t in texts])


def example_seed(seed: int, text: str) -> int:
    """A seed per example, so its explanation does not depend on which others were explained."""
    return (seed * 1_000_003 + zlib.crc32(text.encode("utf-8"))) % 2**32


def explain_one(text: str, label_ids: list[int], labels: list[str], fn: Any, cfg: params.Explain, seed: int) -> Any:
    """One LIME explanation with a fresh explainer (LIME's RNG is consumed by each call, lime#486)."""
    from lime.lime_text import LimeTextExplainer

    explainer = LimeTextExplainer(class_names=labels, random_state=example_seed(seed, text))
    return explainer.explain_instance(text, fn, labels=label_ids, num_features=cfg.num_features,
                                      num_samples=cfg.num_samples)


def read_predictions(path: Path) -> Any:
    """predictions.csv with a float confidence; rows in a stable order, most confident first."""
    frame = read_csv(path, columns=("text", "true", "predicted", "confidence"), what="predictions")
    conf = []
    for i, value in enumerate(frame["confidence"], start=1):
        try:
            number = float(value)
        except ValueError:
            number = math.nan
        if not 0 <= number <= 1:  # also rejects nan
            raise DataError(f"{path}: row {i}: confidence must be a probability in [0, 1], got {value!r}")
        conf.append(number)
    frame = frame.assign(confidence=conf)
    return frame.sort_values(["confidence", "text"], ascending=[False, True], kind="stable")


def choose(preds: Any, cfg: params.Explain) -> tuple[Any, Any, int, int]:
    """(mismatches to explain, contrast rows, number of mismatches, mismatches skipped for lacking words)."""
    has_words = preds["text"].map(lambda t: bool(_WORD.search(t)))
    wrong = preds["true"] != preds["predicted"]
    skipped = int((wrong & ~has_words).sum())
    chosen = preds[wrong & has_words].head(cfg.max_examples)
    right = preds[~wrong & has_words]
    contrast = right.groupby("true", sort=True).head(cfg.correct_per_label)
    contrast = contrast.sort_values(["true", "confidence", "text"], ascending=[True, False, True], kind="stable")
    return chosen, contrast, int(wrong.sum()), skipped


def check_labels(frames: list[Any], labels: list[str], path: Path) -> None:
    for frame in frames:
        for column in ("true", "predicted"):
            unknown = sorted(set(frame[column]) - set(labels))
            if unknown:
                raise DataError(f"{path}: {column} label {unknown[0]!r} is not a label of the model "
                                f"(expected one of {', '.join(labels)})")


def explain_rows(rows: Any, kind: str, labels: list[str], fn: CachedClassifier, cfg: params.Explain,
                 seed: int) -> list[tuple[dict[str, Any], Any]]:
    out = []
    for i, row in enumerate(rows.itertuples(index=False), 1):
        start, before = time.perf_counter(), fn.predicted
        pred_id, true_id = labels.index(row.predicted), labels.index(row.true)
        ids = [pred_id] if pred_id == true_id else [pred_id, true_id]
        exp = explain_one(row.text, ids, labels, fn, cfg, seed)
        name = f"{i:02d}.html" if kind == "mismatch" else f"correct-{i:02d}.html"
        item = {"text": row.text, "true": row.true, "predicted": row.predicted,
                "confidence": round(float(row.confidence), 6), "html": f"html/{name}",
                "weights": [[tok, round(float(w), 6)] for tok, w in exp.as_list(label=pred_id)]}
        if true_id != pred_id:
            item["weights_true"] = [[tok, round(float(w), 6)] for tok, w in exp.as_list(label=true_id)]
        out.append((item, exp))
        log.info("%s %d/%d: %s new strings predicted, %.1f s", kind, i, len(rows),
                 f"{fn.predicted - before:,}", time.perf_counter() - start)
    return out


def write_reports(out_dir: Path, summary: dict[str, Any], explained: list[tuple[dict[str, Any], Any]]) -> None:
    """Everything into a temporary directory that replaces out_dir at the end: nothing half-written, and
    pages of examples no longer explained do not linger."""
    with atomic_dir(out_dir) as tmp:
        if explained:
            from lime import explanation

            bundle = (Path(explanation.__file__).parent / "bundle.js").read_text(encoding="utf-8")
            write_text(tmp / "html" / pages.LIME_JS, bundle)
            for item, exp in explained:
                heading = (f"true: {item['true']}, predicted: {item['predicted']} "
                           f"(confidence {item['confidence']:.3f})")
                page = pages.lime_page(exp.as_html(text=True), bundle, heading)
                write_text(tmp / item["html"], page)
        pages.chart(summary["patterns"], tmp / pages.CHART)
        write_text(tmp / "mismatches.md", pages.render_markdown(summary))
        write_json(tmp / "explanations.json", summary)


def run(cfg: params.Explain, seed: int, model_dir: Path, predictions: Path, out_dir: Path) -> dict[str, Any]:
    preds = read_predictions(predictions)
    chosen, contrast, mismatches, skipped = choose(preds, cfg)
    if skipped:
        log.warning("skipping %d mismatches whose text has no word characters (LIME cannot perturb them)", skipped)
    mismatch_items: list[tuple[dict[str, Any], Any]] = []
    contrast_items: list[tuple[dict[str, Any], Any]] = []
    fn = None
    if len(chosen) or len(contrast):
        model = modeling.load_classifier(str(model_dir)).to(modeling.device())
        labels = modeling.labels_of(model)
        check_labels([chosen, contrast], labels, predictions)
        fn = CachedClassifier(model, modeling.load_tokenizer(str(model_dir)), cfg.batch_size)
        log.info("explaining %d mismatches and %d correct rows on %s, %s perturbations each", len(chosen),
                 len(contrast), modeling.device(), f"{cfg.num_samples:,}")
        mismatch_items = explain_rows(chosen, "mismatch", labels, fn, cfg, seed)
        contrast_items = explain_rows(contrast, "correct", labels, fn, cfg, seed)
        log.info("LIME: %s perturbed texts requested, %s distinct ones predicted", f"{fn.calls:,}",
                 f"{fn.predicted:,}")
    examples = [item for item, _ in mismatch_items]
    summary = {"mismatches": mismatches, "explained": len(examples), "skipped_no_words": skipped,
               "num_samples": cfg.num_samples, "num_features": cfg.num_features,
               "perturbations": {"requested": fn.calls if fn else 0, "predicted": fn.predicted if fn else 0},
               "patterns": pages.spurious_patterns(examples, cfg.pattern_tokens),
               "examples": examples, "contrast": [item for item, _ in contrast_items]}
    write_reports(out_dir, summary, mismatch_items + contrast_items)
    log.info("explained %d of %d mismatches and %d correct rows", len(examples), mismatches, len(contrast_items))
    return summary


def main(argv: list[str] | None = None) -> int:
    def add(p: argparse.ArgumentParser) -> None:
        p.add_argument("--model", required=True, type=Path, help="trained model directory")
        p.add_argument("--predictions", required=True, type=Path, help="predictions.csv from evaluate")
        p.add_argument("--out", required=True, type=Path, help="directory for the explanation reports")

    def body(args: argparse.Namespace) -> None:
        seed = params.load("base", args.params).seed
        run(params.load("explain", args.params), seed, args.model, args.predictions, args.out)

    return cli.main(__doc__.splitlines()[0], add, body, argv)


if __name__ == "__main__":
    raise SystemExit(main())
