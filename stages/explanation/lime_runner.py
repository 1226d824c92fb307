"""The LIME work of the explain stage: the cached classifier function and one explanation per chosen row.

One LimeTextExplainer per example, seeded from base.seed and the text, so an explanation does not depend on
which examples came before it (LIME's RNG is consumed by each call, lime#486); sampled in rounds until its
weights settle, or at num_samples (explanation/rounds.py). Params: explain.*
"""

from __future__ import annotations

import logging
import time
import zlib
from pathlib import Path
from typing import Any, NamedTuple

from stages.core.text import has_unspaced, tokens
from stages.core import modeling, params
from stages.core.progress import Progress, duration
from stages.core.precision import scoring_for
from stages.explanation import fast_lime, multilabel, rounds
from stages.explanation.selection import Selection, check_labels

log = logging.getLogger(__name__)

Explained = list[tuple[dict[str, Any], Any]]  # (the example's summary entry, its lime Explanation)


class CachedClassifier:
    """LIME's classifier_fn: predicts each distinct string once, by modeling.predict_proba.

    LIME draws every perturbation before it calls classifier_fn, once, with all of them, so caching by
    string cannot change an explanation; it only skips repeated work (a 10-word text has at most 1,024
    distinct perturbations). The cache is shared across examples: template texts share many perturbations.
    explanation/rounds.py fills it with every example's perturbations of a round at once (drawn ahead, the same
    draws), so the model sees them in one length-sorted pass of full batches instead of a few per example.
    `precision`: fp32 or bf16 (autocast; core/precision.py, explain.precision).
    """

    def __init__(self, model: Any, tokenizer: Any, batch_size: int, precision: str = "fp32") -> None:
        self.model, self.tokenizer, self.batch_size, self.precision = model, tokenizer, batch_size, precision
        self.cache: dict[str, int] = {}  # text -> its row of self.table
        self.table: Any = None
        self.calls = self.predicted = 0

    def __call__(self, texts: list[str]) -> Any:
        self.calls += len(texts)
        self.predict(texts)
        return self.table[[self.cache[t] for t in texts]]

    def predict(self, texts: list[str]) -> None:
        """Predict and cache the texts not cached yet, in one run_batches pass (the more texts, the more
        evenly its length-sorted batches fill: explain_selection passes every example's perturbations at once)."""
        import numpy as np

        todo = list(dict.fromkeys(t for t in texts if t not in self.cache))
        if todo:  # predict_proba sorts by length, pads per batch and runs under torch.inference_mode
            proba = modeling.predict_proba(self.model, self.tokenizer, todo, self.batch_size,
                                           precision=self.precision)
            start = 0 if self.table is None else len(self.table)
            self.table = proba if self.table is None else np.concatenate([self.table, proba])
            self.cache.update(zip(todo, range(start, start + len(todo))))
            self.predicted += len(todo)


def is_multi_label_model(model_dir: Path) -> bool:
    """Whether the model directory holds a multi-label model (its config; False when there is no config.json)."""
    from transformers import AutoConfig

    if not (Path(model_dir) / "config.json").is_file():
        return False
    return modeling.is_multi_label(AutoConfig.from_pretrained(str(model_dir)))


class Results(NamedTuple):
    mismatches: Explained
    contrast: Explained
    requested: int  # perturbed texts the explanations rest on (each example's samples, summed)
    predicted: int  # distinct ones the model saw


def example_seed(seed: int, text: str) -> int:
    """A seed per example, so its explanation does not depend on which others were explained."""
    return (seed * 1_000_003 + zlib.crc32(text.encode("utf-8"))) % 2**32


def explainer_for(text: str, labels: list[str], cfg: params.Explain, seed: int) -> Any:
    """A fresh explainer for `text`, seeded by example_seed (LIME's RNG is consumed by each call, lime#486); LIME's
    own work done by fast_lime, the same weights. Unspaced scripts (Japanese, Chinese, Thai) get one token per
    character (core/text.tokens), not LIME's `\\W+` words; other texts keep LIME's default split exactly."""
    split = tokens if has_unspaced(text) else r"\W+"
    return fast_lime.explainer(labels, example_seed(seed, text), cfg.num_features, text, split)


def explain_one(text: str, label_ids: list[int], labels: list[str], fn: Any, cfg: params.Explain, seed: int) -> Any:
    """One plain LIME explanation of `text` toward `label_ids` at explain.num_samples with its own explainer
    (explainer_for): what explain.mode exact gives."""
    return explainer_for(text, labels, cfg, seed).explain_instance(
        text, fn, labels=label_ids, num_features=cfg.num_features, num_samples=cfg.num_samples)


def label_ids(row: dict[str, Any], labels: list[str], multi_label: bool) -> list[int]:
    """The labels a row is explained toward: predicted, and true when they differ (single-label); each wrongly
    decided label of a mismatch, or each label of a correct row (multi-label, explanation/multilabel.py)."""
    if multi_label:
        return [labels.index(lab) for lab, _ in multilabel.explained_labels(row["true"], row["predicted"])]
    pred_id, true_id = labels.index(row["predicted"]), labels.index(row["true"])
    return [pred_id] if pred_id == true_id else [pred_id, true_id]


def single_item(row: dict[str, Any], exp: Any, labels: list[str], html: str) -> dict[str, Any]:
    """A single-label row's summary entry: its weights toward the predicted label, and the true one if other."""
    pred_id, true_id = labels.index(row["predicted"]), labels.index(row["true"])
    item = {"text": row["text"], "true": row["true"], "predicted": row["predicted"],
            "confidence": round(float(row["confidence"]), 6), "html": html,
            "weights": [[tok, round(float(w), 6)] for tok, w in exp.as_list(label=pred_id)]}
    if true_id != pred_id:
        item["weights_true"] = [[tok, round(float(w), 6)] for tok, w in exp.as_list(label=true_id)]
    return item


def explain_frames(frames: dict[str, Any], labels: list[str], fn: CachedClassifier, cfg: params.Explain, seed: int,
                   thresholds: list[float] | None = None, clock: Any = time.perf_counter) -> dict[str, Explained]:
    """The rows of each frame ("mismatch", "correct") explained together by explanation/rounds.py (one scoring
    pass per round); for a multi-label model (its `thresholds` given) each label on its own sigmoid. Each entry
    says how many samples its weights rest on and why it stopped. A progress line every ~10 s (`clock`)."""
    records = [(kind, i, row) for kind, frame in frames.items() if len(frame)
               for i, row in enumerate(frame.to_dict("records"), 1)]
    jobs = [rounds.Job(row["text"], label_ids(row, labels, thresholds is not None),
                       explainer_for(row["text"], labels, cfg, seed)) for _, _, row in records]
    bar = Progress("LIME rows", len(jobs), "rows", log=log, clock=clock)
    outcomes = rounds.explain_all(jobs, fn, cfg, on_done=lambda: bar.update(
        1, note=f"; {fn.predicted:,} distinct perturbed texts predicted so far"))
    out: dict[str, Explained] = {kind: [] for kind in frames}
    for (kind, i, row), o in zip(records, outcomes):
        html = "html/" + (f"{i:02d}.html" if kind == "mismatch" else f"correct-{i:02d}.html")
        item = single_item(row, o.exp, labels, html) if thresholds is None else \
            multilabel.item_for(row, o.exp, labels, thresholds, html)
        out[kind].append(({**item, "samples": o.samples, "stopped": o.stopped}, o.exp))
    return out


def explain_selection(chosen: Selection, model_dir: Path, predictions: Path, cfg: params.Explain,
                      seed: int) -> Results:
    """The chosen mismatches, then the contrast rows, with one classifier cache; no model loaded for none."""
    if not len(chosen.mismatches) and not len(chosen.contrast):
        return Results([], [], 0, 0)
    model = modeling.load_classifier(str(model_dir)).to(modeling.device())
    labels, multi = modeling.labels_of(model), modeling.is_multi_label(model)
    check_labels([chosen.mismatches, chosen.contrast], labels, predictions, multi)
    thresholds = modeling.thresholds_of(model) if multi else None
    fn = CachedClassifier(model, modeling.load_tokenizer(str(model_dir)), cfg.batch_size,
                          scoring_for(cfg.precision, modeling.device(), "explain.precision"))
    log.info("explaining %d mismatches and %d correct rows on %s, %s: %s perturbations each", len(chosen.mismatches),
             len(chosen.contrast), modeling.device(), cfg.mode, f"{cfg.num_samples:,}" if cfg.mode == "exact" else
             f"{cfg.min_samples:,} doubled up to {cfg.num_samples:,} until the weights settle")
    began = time.perf_counter()
    done = explain_frames({"mismatch": chosen.mismatches, "correct": chosen.contrast}, labels, fn, cfg, seed,
                          thresholds)
    mismatches, contrast = done["mismatch"], done["correct"]
    requested = sum(item["samples"] for item, _ in mismatches + contrast)
    log.info("LIME: %d mismatches and %d correct rows explained in %s; %s perturbed texts used, %s distinct "
             "ones predicted", len(mismatches), len(contrast), duration(time.perf_counter() - began),
             f"{requested:,}", f"{fn.predicted:,}")
    return Results(mismatches, contrast, requested, fn.predicted)
