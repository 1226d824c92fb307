"""The LIME work of the explain stage: the cached classifier function and one explanation per chosen row.

One LimeTextExplainer per example, seeded from base.seed and the text, so an explanation does not depend on
which examples came before it (LIME's RNG is consumed by each call, lime#486). Params: explain.*
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
from stages.explanation import fast_lime, multilabel
from stages.explanation.selection import Selection, check_labels

log = logging.getLogger(__name__)

Explained = list[tuple[dict[str, Any], Any]]  # (the example's summary entry, its lime Explanation)


class CachedClassifier:
    """LIME's classifier_fn: predicts each distinct string once, by modeling.predict_proba.

    LIME draws every perturbation before it calls classifier_fn, once, with all of them, so caching by
    string cannot change an explanation; it only skips repeated work (a 10-word text has at most 1,024
    distinct perturbations). The cache is shared across examples: template texts share many perturbations.
    explain_selection fills it first with every example's perturbations (`perturbations`: the same draws, made
    ahead), so the model sees them in one length-sorted pass of full batches instead of a few per example.
    """

    def __init__(self, model: Any, tokenizer: Any, batch_size: int) -> None:
        self.model, self.tokenizer, self.batch_size = model, tokenizer, batch_size
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
            proba = modeling.predict_proba(self.model, self.tokenizer, todo, self.batch_size)
            start = 0 if self.table is None else len(self.table)
            self.table = proba if self.table is None else np.concatenate([self.table, proba])
            self.cache.update(zip(todo, range(start, start + len(todo))))
            self.predicted += len(todo)


def perturbations(texts: list[str], labels: list[str], cfg: params.Explain, seed: int) -> list[str]:
    """Every distinct text LIME will ask the model about when explaining `texts` (explain_one): each example's
    neighbourhood drawn ahead with a fresh explainer of the same seed, so the same draws, model not called."""
    from lime.lime_text import IndexedString

    seen: dict[str, None] = {}

    def record(batch: list[str]) -> Any:
        import numpy as np

        seen.update(dict.fromkeys(batch))
        return np.zeros((len(batch), len(labels)))

    for text in texts:
        explainer = explainer_for(text, labels, cfg, seed)
        indexed = IndexedString(text, bow=explainer.bow, split_expression=explainer.split_expression)
        fast_lime.neighbourhood(indexed, record, cfg.num_samples, explainer.random_state)
    return list(seen)


def is_multi_label_model(model_dir: Path) -> bool:
    """Whether the model directory holds a multi-label model (its config; False when there is no config.json)."""
    from transformers import AutoConfig

    if not (Path(model_dir) / "config.json").is_file():
        return False
    return modeling.is_multi_label(AutoConfig.from_pretrained(str(model_dir)))


class Results(NamedTuple):
    mismatches: Explained
    contrast: Explained
    requested: int  # perturbed texts LIME asked for
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
    """One LIME explanation of `text` toward `label_ids` with its own explainer (explainer_for)."""
    return explainer_for(text, labels, cfg, seed).explain_instance(
        text, fn, labels=label_ids, num_features=cfg.num_features, num_samples=cfg.num_samples)


def explain_row(row: dict[str, Any], labels: list[str], fn: CachedClassifier, cfg: params.Explain, seed: int,
                html: str) -> tuple[dict[str, Any], Any]:
    """A single-label row explained toward its predicted label, and toward its true label when they differ."""
    pred_id, true_id = labels.index(row["predicted"]), labels.index(row["true"])
    exp = explain_one(row["text"], [pred_id] if pred_id == true_id else [pred_id, true_id], labels, fn, cfg, seed)
    item = {"text": row["text"], "true": row["true"], "predicted": row["predicted"],
            "confidence": round(float(row["confidence"]), 6), "html": html,
            "weights": [[tok, round(float(w), 6)] for tok, w in exp.as_list(label=pred_id)]}
    if true_id != pred_id:
        item["weights_true"] = [[tok, round(float(w), 6)] for tok, w in exp.as_list(label=true_id)]
    return item, exp


def explain_rows(rows: Any, kind: str, labels: list[str], fn: CachedClassifier, cfg: params.Explain,
                 seed: int, thresholds: list[float] | None = None, clock: Any = time.perf_counter) -> Explained:
    """Each row explained (explain_row); for a multi-label model (its `thresholds` given) each wrongly decided
    label of a mismatch, or each label of a correct row, on its own sigmoid (explanation/multilabel.py).
    A progress line every ~10 s (core/progress.py, on `clock`), none for a loop shorter than that."""
    out, bar = [], Progress(f"LIME {kind} rows", len(rows), "rows", log=log, clock=clock)
    for i, row in enumerate(rows.to_dict("records"), 1):
        html = "html/" + (f"{i:02d}.html" if kind == "mismatch" else f"correct-{i:02d}.html")
        if thresholds is None:
            out.append(explain_row(row, labels, fn, cfg, seed, html))
        else:
            ids = [labels.index(lab) for lab, _ in multilabel.explained_labels(row["true"], row["predicted"])]
            exp = explain_one(row["text"], ids, labels, fn, cfg, seed)
            out.append((multilabel.item_for(row, exp, labels, thresholds, html), exp))
        bar.update(1, note=f"; {fn.predicted:,} distinct perturbed texts predicted so far")
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
    fn = CachedClassifier(model, modeling.load_tokenizer(str(model_dir)), cfg.batch_size)
    log.info("explaining %d mismatches and %d correct rows on %s, %s perturbations each", len(chosen.mismatches),
             len(chosen.contrast), modeling.device(), f"{cfg.num_samples:,}")
    texts = [t for frame in (chosen.mismatches, chosen.contrast) if len(frame) for t in frame["text"]]
    began = time.perf_counter()
    fn.predict(perturbations(texts, labels, cfg, seed))  # one pass over every example's distinct perturbations
    mismatches = explain_rows(chosen.mismatches, "mismatch", labels, fn, cfg, seed, thresholds)
    contrast = explain_rows(chosen.contrast, "correct", labels, fn, cfg, seed, thresholds)
    log.info("LIME: %d mismatches and %d correct rows explained in %s; %s perturbed texts requested, %s distinct "
             "ones predicted", len(mismatches), len(contrast), duration(time.perf_counter() - began),
             f"{fn.calls:,}", f"{fn.predicted:,}")
    return Results(mismatches, contrast, fn.calls, fn.predicted)
