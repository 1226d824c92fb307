"""The errors `synthbert focus` aims at: the trained model's decisions on a *dev* set, never on a test set.

A dev set is the val split (`val`: synthetic rows with their origin, so an error maps to its template or prompt)
or an evaluate.external_test entry with `role: dev` (real rows: no template; each mismatch stands for its nearest
synthetic train row of its true label by the frozen encoder, focus_nearest.py). The test split and sets with
`role: test` only judge a round, so they are refused. The model decides by the rule saved with it (core/decision.py
offsets; a multi-label model's thresholds), as evaluate does, in evaluate.precision; LIME (explanation/lime_runner)
explains up to explain.max_examples of the mismatches, most confident first, seeded by base.seed.
Params: base.seed, evaluate.batch_size, evaluate.precision, evaluate.external_test, explain.*, train.model
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, NamedTuple

from stages.core import contracts, modeling, origin, params
from stages.core.errors import DataError
from stages.core.labelsets import label_names, split_labels

log = logging.getLogger(__name__)
VAL = "val"  # the split's dev part; `test` (the split's test part) and role-test sets are refused


class DevErrors(NamedTuple):
    source: dict[str, Any]   # the focus file's `source`: which dev set steered the round
    mismatches: Any          # text, true, predicted, confidence, p_<label>..., origin: every dev mismatch
    patterns: list[dict[str, Any]]  # LIME's spurious patterns per (true, predicted) pair (explanation/patterns)


def dev_names(cfg: params.Evaluate) -> list[str]:
    """The dev sets focus may read: the val split, then each external set with role: dev."""
    return [VAL, *(spec.name for spec in cfg.external_test if spec.role == "dev")]


def dev_spec(name: str, cfg: params.Evaluate) -> params.ExternalTest | None:
    """The external set `name` (None for the val split); a test set or an unknown name is refused in one line."""
    dev = ", ".join(dev_names(cfg))
    if name == VAL:
        return None
    if name == "test":
        raise DataError(f"--dev test: the test split only judges a round; synthbert focus reads dev errors only "
                        f"(dev sets: {dev})")
    spec = next((s for s in cfg.external_test if s.name == name), None)
    if spec is None:
        raise DataError(f"--dev {name}: no such dev set (dev sets: {dev})")
    if spec.role != "dev":
        raise DataError(f"--dev {name}: evaluate.external_test set {name!r} has role: {spec.role}, which only judges; "
                        f"synthbert focus reads dev errors only (dev sets: {dev})")
    return spec


def read_dev(name: str, spec: params.ExternalTest | None, split_dir: Path, external_dir: Path, labels: list[str],
             multi_label: bool) -> tuple[Any, Path]:
    """The dev rows (text, label, origin) and their file: val.csv as split wrote it, or the external set read as
    evaluate reads it (evaluation/external.py), each row's origin its file and 1-based data row."""
    from stages.evaluation import external

    if spec is None:
        path = split_dir / "val.csv"
        frame = contracts.read_dataset(path, "validation split", ("text", "label", "origin"))
        unknown = sorted(set(label_names(frame["label"], multi_label)) - set(labels))
        if unknown:  # e.g. a file cut short mid-row ("click" for "clickbait"), or another model's split
            raise DataError(f"{path}: label {unknown[0]!r} is unknown to the model (model labels: {', '.join(labels)})")
        return frame, path
    key = f"evaluate.external_test[{name}]"
    frame = external.read_external(spec, key, external_dir, labels, multi_label)
    if frame is None:
        raise DataError(f"--dev {name}: none of the set's labels is a label of the model ({', '.join(labels)})")
    return frame.assign(origin=origin.file_rows(spec.path, len(frame))), external_dir / spec.path


def decide(model: Any, tokenizer: Any, frame: Any, cfg: params.Evaluate) -> Any:
    """predictions.csv-like rows of `frame` (text, true, predicted, confidence, p_<label>...) plus its origin,
    decided by the model's saved rule (evaluation/outputs.prediction_frame), most confident first."""
    from stages.core.decision import offsets_of
    from stages.core.precision import scoring_for
    from stages.evaluation.outputs import prediction_frame

    labels, multi = modeling.labels_of(model), modeling.is_multi_label(model)
    precision = scoring_for(cfg.precision, modeling.device())
    proba = modeling.predict_proba(model, tokenizer, frame["text"].tolist(), cfg.batch_size, precision=precision)
    preds = prediction_frame(frame, proba, labels, modeling.thresholds_of(model) if multi else None,
                             None if multi else offsets_of(model, labels))
    preds["origin"] = frame["origin"].tolist()
    return preds.sort_values(["confidence", "text"], ascending=[False, True], kind="stable")


def wrong(preds: Any, multi_label: bool) -> Any:
    """The mismatches of `preds` (a multi-label row: its label sets differ)."""
    if not multi_label:
        return preds[preds["true"] != preds["predicted"]]
    differ = [split_labels(t) != split_labels(p) for t, p in zip(preds["true"], preds["predicted"])]
    return preds[differ]


def lime_patterns(model: Any, tokenizer: Any, preds: Any, cfg: params.Explain, seed: int) -> list[dict[str, Any]]:
    """LIME on up to explain.max_examples mismatches (explanation/selection.choose: most confident first, texts
    without a word character skipped) and their spurious patterns per (true, predicted) pair."""
    from stages.explanation import lime_runner, multilabel, patterns, selection

    labels, multi = modeling.labels_of(model), modeling.is_multi_label(model)
    chosen = selection.choose(preds, cfg, multi).mismatches
    if not len(chosen):
        return []
    from stages.core.precision import scoring_for

    fn = lime_runner.CachedClassifier(model, tokenizer, cfg.batch_size,
                                      scoring_for(cfg.precision, modeling.device(), "explain.precision"))
    explained = lime_runner.explain_frames({"mismatch": chosen}, labels, fn, cfg, seed,
                                           modeling.thresholds_of(model) if multi else None)["mismatch"]
    return patterns.spurious_patterns(multilabel.pattern_examples([item for item, _ in explained]), cfg.pattern_tokens)


def dev_errors(name: str, spec: params.ExternalTest | None, model_dir: Path, split_dir: Path, external_dir: Path,
               params_path: Path) -> DevErrors:
    """The model's mismatches on the dev set `name` (`spec`: dev_spec's answer) and LIME's tokens behind them."""
    from stages.core.cli import require_model_dir

    cfg = params.load("evaluate", params_path)
    require_model_dir(model_dir)
    model = modeling.load_classifier(str(model_dir)).to(modeling.device())
    tokenizer = modeling.load_tokenizer(str(model_dir))
    multi = modeling.is_multi_label(model)
    frame, path = read_dev(name, spec, split_dir, external_dir, modeling.labels_of(model), multi)
    preds = decide(model, tokenizer, frame, cfg)
    mismatches = wrong(preds, multi)
    log.info("dev set %s (%s): %s rows, %s mismatches", name, path, f"{len(frame):,}", f"{len(mismatches):,}")
    if spec is not None:  # real rows: no template behind them; their nearest synthetic train rows stand for them
        from stages.tools.focus_nearest import nearest_origins

        mismatches = nearest_origins(params.load("train", params_path).model, mismatches, split_dir, cfg.batch_size)
    patterns = lime_patterns(model, tokenizer, mismatches, params.load("explain", params_path),
                             params.load("base", params_path).seed)
    source = {"dev": name, "file": str(path), "rows": len(frame), "mismatches": len(mismatches),
              "model": str(model_dir)}
    return DevErrors(source, mismatches, patterns)
