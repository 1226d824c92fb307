"""Stage explain: LIME explanations of the test mismatches, most confident errors first.

Reads: the model directory and predictions.csv from evaluate. Writes: mismatches.md, explanations.json
and one LIME HTML page per explained example (html/NN.html). Params: base.seed, explain.*
"""

from __future__ import annotations

import argparse
import logging
import re
import zlib
from pathlib import Path
from typing import Any

from stages import cli, modeling, params
from stages.io import read_csv, write_json, write_text
from stages.text import md_escape

log = logging.getLogger(__name__)
_WORD = re.compile(r"\w", re.UNICODE)


class CachedClassifier:
    """LIME's classifier_fn: predicts each distinct string once, in length-sorted batches.

    LIME draws every perturbation before calling classifier_fn, so caching by string cannot change the
    explanation; it only skips repeated work (a 10-word text has at most 1,024 distinct perturbations).
    """

    def __init__(self, model: Any, tokenizer: Any, batch_size: int) -> None:
        self.model, self.tokenizer, self.batch_size = model, tokenizer, batch_size
        self.cache: dict[str, Any] = {}
        self.calls = self.predicted = 0

    def __call__(self, texts: list[str]) -> Any:
        import numpy as np

        self.calls += len(texts)
        todo = list(dict.fromkeys(t for t in texts if t not in self.cache))
        if todo:
            proba = modeling.predict_proba(self.model, self.tokenizer, todo, self.batch_size)
            self.cache.update(zip(todo, proba))
            self.predicted += len(todo)
        return np.stack([self.cache[t] for t in texts])


def example_seed(seed: int, text: str) -> int:
    """A seed per example, so its explanation does not depend on which others were explained."""
    return (seed * 1_000_003 + zlib.crc32(text.encode("utf-8"))) % 2**32


def explain_one(text: str, label_ids: list[int], labels: list[str], fn: Any, cfg: params.Explain, seed: int) -> Any:
    from lime.lime_text import LimeTextExplainer

    explainer = LimeTextExplainer(class_names=labels, random_state=example_seed(seed, text))
    return explainer.explain_instance(text, fn, labels=label_ids, num_features=cfg.num_features,
                                      num_samples=cfg.num_samples)


def render_markdown(items: list[dict[str, Any]], skipped: int, total_mismatches: int) -> str:
    lines = ["# Test mismatches explained with LIME", ""]
    if not items:
        lines.append("No mismatches to explain: every test row was classified correctly."
                     if total_mismatches == 0 else "No mismatch could be explained (see skipped).")
    else:
        lines.append(f"{len(items)} of {total_mismatches} mismatches, most confident first. Weights are "
                     "LIME's local linear weights: positive pushes toward the predicted label.")
    if skipped:
        lines += ["", f"Skipped {skipped} mismatches whose text has no word characters (LIME cannot perturb them)."]
    for i, it in enumerate(items, 1):
        lines += ["", f"## {i}. true `{it['true']}`, predicted `{it['predicted']}` "
                      f"(confidence {it['confidence']:.3f})", "", f"> {md_escape(it['text'])}", "",
                  "| token | weight toward predicted |", "|---|---:|"]
        lines += [f"| {md_escape(tok)} | {w:+.4f} |" for tok, w in it["weights"]]
        lines += ["", f"[LIME page]({it['html']})"]
    return "\n".join(lines) + "\n"


def run(cfg: params.Explain, seed: int, model_dir: Path, predictions: Path, out_dir: Path) -> dict[str, Any]:
    preds = read_csv(predictions, columns=("text", "true", "predicted", "confidence"), what="predictions")
    wrong = preds[preds["true"] != preds["predicted"]].copy()
    wrong["confidence"] = wrong["confidence"].astype(float)
    wrong = wrong.sort_values(["confidence", "text"], ascending=[False, True], kind="stable")
    explainable = wrong[wrong["text"].map(lambda t: bool(_WORD.search(t)))]
    skipped = len(wrong) - len(explainable)
    chosen = explainable.head(cfg.max_examples)
    items: list[dict[str, Any]] = []
    html_dir = out_dir / "html"
    if len(chosen):
        model = modeling.load_classifier(str(model_dir)).to(modeling.device())
        tokenizer = modeling.load_tokenizer(str(model_dir))
        labels = modeling.labels_of(model)
        fn = CachedClassifier(model, tokenizer, cfg.batch_size)
        for i, row in enumerate(chosen.itertuples(index=False), 1):
            pred_id = labels.index(row.predicted)
            exp = explain_one(row.text, [pred_id], labels, fn, cfg, seed)
            html = f"html/{i:02d}.html"
            write_text(out_dir / html, exp.as_html(text=True))
            items.append({"text": row.text, "true": row.true, "predicted": row.predicted,
                          "confidence": round(float(row.confidence), 6), "html": html,
                          "weights": [(tok, round(float(w), 6)) for tok, w in exp.as_list(label=pred_id)]})
        log.info("LIME: %s perturbations requested, %s distinct strings predicted", f"{fn.calls:,}",
                 f"{fn.predicted:,}")
    for stale in sorted(html_dir.glob("*.html")) if html_dir.exists() else []:
        if f"html/{stale.name}" not in {it["html"] for it in items}:
            stale.unlink()
    write_text(out_dir / "mismatches.md", render_markdown(items, skipped, len(wrong)))
    summary = {"mismatches": len(wrong), "explained": len(items), "skipped_no_words": skipped,
               "num_samples": cfg.num_samples, "num_features": cfg.num_features, "examples": items}
    write_json(out_dir / "explanations.json", summary)
    log.info("explained %s of %s mismatches", len(items), len(wrong))
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
