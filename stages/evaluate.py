"""Stage evaluate: the fine-tuned classifier and its baselines on the held-out test split and on real data.

Reads: the model directory, <split>/test.csv and train.csv (baselines), the external test directory, the train
summary (time, class weights), the real_only model (train --only-source real) and, for the llm_zero_shot
baseline, the price table and its own LLM response cache (which it appends to; never generate's). Writes: metrics.json (headline numbers only: test macro-F1, accuracy, ROC-AUC, real-set scores)
and the eval directory (test_metrics.json with intervals, calibration and per-label values; predictions,
mismatches, curves, slices, baselines with the fine-tuned model's inference seconds and the LLM's tokens and USD
per 1,000 texts, summary.md, PNGs; see docs/evaluate.md). baselines.json (evaluation/results.py) records each set's role
(evaluate.external_test[i].role: dev | test; the split is synthetic), whether each model collapsed on each set, and
each real set's gap to the test split with its interval; real_predictions.csv holds the fine-tuned model's
decisions on the real sets, keyed by a hash of the text (core/predictions.py). A multi-label model
(core/labelsets.py) is scored on its thresholded decisions (its baselines one vs rest at 0.5): metrics.json then
holds micro/macro/samples F1, hamming loss, subset accuracy and macro ROC-AUC (evaluation/multilabel.py). A
single-label model decides by the rule saved with it (core/decision.py: argmax, or the offsets train tuned on val);
its baselines by argmax.
Both forward passes (fine-tuned model, frozen-encoder baseline) run in evaluate.precision (core/precision.py:
auto is bf16 autocast where the device multiplies bf16 natively); baselines.json records the choice.
Params: base.seed (bootstrap, cross-validation folds), train.model (frozen-encoder, setfit baselines), evaluate.*
"""

from __future__ import annotations

import argparse
import logging
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stages.core import cli, contracts, decision, labelsets, modeling, origin, params
from stages.core.errors import DataError
from stages.core.text import distinct, word_count
from stages.core.precision import scoring_for
from stages.core.predictions import write_real_predictions
from stages.core.io import atomic_dir, write_json, write_text
from stages.evaluation import baselines, external, llm_baseline, metrics, multilabel, outputs, results, summary

log = logging.getLogger(__name__)
FINE_TUNED = "fine_tuned"
TEST_METRICS = "test_metrics.json"   # in the eval directory: the full TestReport


def decisions(proba: Any, multi_label: bool, rule: list[float] | None = None) -> Any:
    """A predictor's decisions by its rule: label indices (offsets on the log-probabilities, core/decision.py; None:
    argmax, where an all-zero row, an LLM abstention, is len(labels)), or for a multi-label model a 0/1 matrix at the
    per-label thresholds (None: 0.5)."""
    if not multi_label:
        return metrics.predicted_ids(proba) if rule is None else decision.decide(proba, rule)
    return labelsets.decide(proba, [0.5] * proba.shape[1] if rule is None else rule)


def score_set(name: str, y: Any, probas: dict[str, Any], labels: list[str], cfg: params.Evaluate,
              seed: int, multi_label: bool = False, rules: dict[str, Any] | None = None
              ) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    """Accuracy (subset accuracy for a multi-label model: `y` multi-hot) and macro-F1, each predictor deciding by its
    rule (`rules`: model name -> rule, see decisions(); absent: argmax or 0.5), with
    bootstrap intervals for each predictor on one set, plus each baseline's paired gap to the fine-tuned model
    (fine-tuned minus baseline, same resamples); and the resampled scores themselves (metrics.bootstrap or
    multilabel.bootstrap), from which test_details takes the per-label and headline F1 intervals."""
    import numpy as np

    preds = {k: decisions(p, multi_label, (rules or {}).get(k)) for k, p in probas.items()}
    seeds = [seed, zlib.crc32(name.encode())]
    names = [*labels, ""]  # single-label: index len(labels) is an abstention (an LLM answer without a label)
    if not multi_label:
        mask = np.isin(np.arange(len(labels) + 1), y)
        boot = metrics.bootstrap(y, preds, len(labels) + 1, mask, cfg.bootstrap, seeds)
    else:
        boot = multilabel.bootstrap(y, preds, cfg.bootstrap, seeds)
    out: dict[str, dict[str, Any]] = {}
    for k, pred in preds.items():
        if not multi_label:
            m = metrics.classification_metrics([labels[i] for i in y], [names[i] for i in pred], labels)
        else:
            m = multilabel.classification_metrics(y, pred, labels)
        row: dict[str, Any] = {"rows": len(y),
                               "collapsed": results.collapse_of(pred, y, labels, multi_label)}
        for key in ("accuracy", "f1_macro"):
            lo, hi = metrics.interval(boot[k][key], cfg.confidence)
            row.update({key: m[key], f"{key}_ci_low": lo, f"{key}_ci_high": hi})
        if k != FINE_TUNED and FINE_TUNED in boot:
            diff = boot[FINE_TUNED]["f1_macro"] - boot[k]["f1_macro"]
            lo, hi = metrics.interval(diff, cfg.confidence)
            gain = out[FINE_TUNED]["f1_macro"] - m["f1_macro"]
            row.update({"fine_tuned_gain_f1_macro": metrics.r6(gain), "gain_ci_low": lo, "gain_ci_high": hi})
        out[k] = row
    return out, boot


@dataclass
class Scored:
    """Every predictor's probabilities on every set, indexed [set][model], with the true label indices."""

    sets: dict[str, Any]                     # set name -> frame (text, label, source); "test" first
    y: dict[str, Any]                        # set name -> true label indices (multi-label: multi-hot rows x labels)
    proba: dict[str, dict[str, Any]]         # set name -> model name -> (rows x labels) probabilities
    train_seconds: dict[str, float | None]   # model name -> seconds it took to train
    thresholds: list[float] | None = None    # a multi-label model's decision thresholds; None: single-label
    extras: dict[str, dict[str, Any]] = field(default_factory=dict)  # model name -> more baselines.json fields
    offsets: list[float] | None = None       # a single-label model's saved decision rule (None: argmax)

    def rules(self) -> dict[str, Any]:
        """Each model's decision rule: the fine-tuned model's saved one, a baseline's from its record (`rule`: tuned
        on val like the model's, or real_only's saved one); none: argmax (multi-label: 0.5)."""
        own = self.thresholds if self.thresholds is not None else self.offsets
        return {k: v.get("rule") for k, v in self.extras.items()} | {FINE_TUNED: own}

    def decisions(self, set_name: str, model_name: str = FINE_TUNED) -> Any:
        return decisions(self.proba[set_name][model_name], self.thresholds is not None, self.rules().get(model_name))


def load_model(model_dir: Path) -> tuple[Any, Any, list[str]]:
    model = modeling.load_classifier(str(model_dir))
    tokenizer = modeling.load_tokenizer(str(model_dir))
    model.to(modeling.device())
    return model, tokenizer, modeling.labels_of(model)


def read_sets(cfg: params.Evaluate, split_dir: Path, external_dir: Path | None, labels: list[str],
              multi_label: bool = False) -> dict[str, Any]:
    """The test split and every external (real) set, with labels the model knows (label-set cells for a
    multi-label model)."""
    test = contracts.read_dataset(split_dir / "test.csv", "test split")
    unknown = sorted(set(labelsets.label_names(test["label"], multi_label)) - set(labels))
    if unknown:
        raise DataError(f"{split_dir / 'test.csv'}: label {unknown[0]!r} is unknown to the model "
                        f"(model labels: {', '.join(labels)})")
    return {"test": test, **external.read_all(cfg, external_dir, labels, multi_label)}


def predict_all(cfg: params.Evaluate, base_model: str, model: Any, tokenizer: Any, labels: list[str],
                sets: dict[str, Any], split_dir: Path, train_report: Path | None,
                llm: llm_baseline.ZeroShot | None = None, seed: int = 0, real_only: Path | None = None) -> Scored:
    """The fine-tuned model (timed: inference seconds per 1,000 distinct texts) and each baseline (fit on train.csv with
    the model's class weights; the LLM's answers already fetched; real_only) on every set; each distinct text once."""
    import numpy as np

    multi = modeling.is_multi_label(model)
    texts = {name: frame["text"].tolist() for name, frame in sets.items()}
    unique, rows = distinct(list(texts.values()))  # each distinct text scored once, whichever sets hold it
    precision = scoring_for(cfg.precision, modeling.device())
    start = time.perf_counter()
    scored = modeling.predict_proba(model, tokenizer, unique, cfg.batch_size, precision=precision)
    proba = {name: {FINE_TUNED: scored[idx]} for name, idx in zip(texts, rows)}
    n = len(unique)
    extras = {FINE_TUNED: {"inference": {"seconds_per_1000_texts": round((time.perf_counter() - start) / n * 1000, 3),
                                         "texts": n, "batch_size": cfg.batch_size, "device": modeling.device(),
                                         "precision": precision}}}
    summary = contracts.TrainSummary.read(train_report) if train_report else None
    seconds = {FINE_TUNED: summary.train_seconds if summary else None}
    if cfg.baselines.models or real_only is not None:
        train = contracts.read_dataset(split_dir / "train.csv", "train split", ("text", "label"))
        fitted = baselines.run_all(cfg.baselines, base_model, cfg.batch_size, train["text"].tolist(),
                                   train["label"].tolist(), labels, list(texts.values()), multi, llm, precision,
                                   summary and summary.class_weights, seed, real_only,
                                   baselines.val_for_rules(split_dir, labels, summary, multi))
        for name, fit in fitted.items():
            seconds[name], extras[name] = fit["train_seconds"], fit["record"]
            for set_name, p in zip(sets, fit["proba"]):
                proba[set_name][name] = p
    if multi:
        y = {name: labelsets.multi_hot(frame["label"].tolist(), labels) for name, frame in sets.items()}
    else:
        y = {name: np.array([labels.index(lab) for lab in frame["label"]]) for name, frame in sets.items()}
    return Scored(sets, y, proba, seconds, modeling.thresholds_of(model) if multi else None, extras,
                  None if multi else decision.offsets_of(model, labels))


def test_details(cfg: params.Evaluate, scored: Scored, labels: list[str], pos: int | None, intervals: dict[str, Any],
                 boot: dict[str, Any]) -> tuple[contracts.TestMetrics, dict[str, Any], list[dict[str, Any]]]:
    """The fine-tuned model on the test split in detail: metrics with intervals (per-label F1 too), ROC/PR
    curves, calibration (a multi-label model: multilabel.test_details)."""
    test, proba, y = scored.sets["test"], scored.proba["test"][FINE_TUNED], scored.y["test"]
    if scored.thresholds is not None:
        m, curves, calib = multilabel.test_details(y, proba, scored.thresholds, labels, None if pos is None else
                                                   labels[pos], boot, cfg.confidence, cfg.calibration_bins)
        return contracts.TestMetrics(**m), curves, calib
    m = metrics.classification_metrics(test["label"].tolist(), [labels[i] for i in scored.decisions("test")], labels)
    m.update({k: v for k, v in intervals.items() if "_ci_" in k})
    for i, lab in enumerate(labels):  # on the resamples of the headline intervals
        lo, hi = metrics.interval(boot["f1_per_label"][:, i], cfg.confidence)
        m["per_label"][lab].update(f1_ci_low=lo, f1_ci_high=hi)
    ovr = metrics.ovr_scores(y, proba, labels)
    for lab, c in ovr["per_label"].items():
        m["per_label"][lab].update(roc_auc=c["roc_auc"], average_precision=c["average_precision"])
    positive = None if pos is None else labels[pos]
    curves = {"positive_label": positive, "per_label": ovr["per_label"]}
    named = ovr["per_label"][positive] if positive is not None else {"roc_auc": None, "average_precision": None}
    m.update(roc_auc=named["roc_auc"], average_precision=named["average_precision"],
             roc_auc_macro=ovr["roc_auc_macro"], average_precision_macro=ovr["average_precision_macro"])
    m["ece"], m["brier"], calib = metrics.calibration(proba, y, cfg.calibration_bins)
    return contracts.TestMetrics(**m), curves, calib


def write_reports(cfg: params.Evaluate, base_model: str, eval_dir: Path, metrics_path: Path, scored: Scored,
                  labels: list[str], head: contracts.TestMetrics, curves: dict[str, Any], calib: list[dict[str, Any]],
                  table: dict[str, Any]) -> contracts.TestReport:
    """The eval directory (atomically, test_metrics.json inside), then the headline metrics.json."""
    test, real = scored.sets["test"], list(scored.sets)[1:]
    preds = outputs.prediction_frame(test, scored.proba["test"][FINE_TUNED], labels, scored.thresholds, scored.offsets)
    slices = slice_table(scored, labels, cfg.length_buckets)
    external_rows = {s: {"role": table["roles"][s], **table["models"][FINE_TUNED][s]} for s in real}
    result = contracts.TestReport(test=head, external=external_rows)
    with atomic_dir(eval_dir) as tmp:
        result.write(tmp / TEST_METRICS)
        outputs.write_eval_dir(tmp, preds, labels, test["source"].tolist(), head.to_dict(), curves, calib, slices, cfg)
        if real:  # the fine-tuned model's decisions on the real sets, keyed by a hash of each text (no text)
            write_real_predictions(tmp / "real_predictions.csv", outputs.real_prediction_frame(
                {s: scored.sets[s] for s in real}, {s: scored.proba[s][FINE_TUNED] for s in real},
                {s: scored.decisions(s) for s in real}, labels, scored.thresholds is not None), labels)
        write_json(tmp / "baselines.json", table)
        write_text(tmp / "summary.md", summary.render(base_model, head.to_dict(), table, slices,
                                                      curves["positive_label"]))
    contracts.Metrics.headline(result).write(metrics_path)
    return result


def run(*, cfg: params.Evaluate, seed: int, base_model: str, model_dir: Path, split_dir: Path, metrics_path: Path,
        eval_dir: Path, external_dir: Path | None = None, train_report: Path | None = None,
        llm_cache: Path | None = None, prices: Path | None = None, real_only: Path | None = None) -> dict[str, Any]:
    """Score the model and its baselines on the test split and the real sets; write metrics.json and eval/."""
    model, tokenizer, labels = load_model(model_dir)
    multi = modeling.is_multi_label(model)
    pos = metrics.positive_index(cfg.positive_label, labels, multi)
    sets = read_sets(cfg, split_dir, external_dir, labels, multi)
    llm = llm_baseline.prepare(cfg.baselines, llm_cache, prices, labels, multi,
                               [frame["text"].tolist() for frame in sets.values()])  # before any scoring
    scored = predict_all(cfg, base_model, model, tokenizer, labels, sets, split_dir, train_report, llm, seed, real_only)
    scores, boots = {}, {}
    for name in sets:
        scores[name], boots[name] = score_set(name, scored.y[name], scored.proba[name], labels, cfg, seed, multi,
                                              scored.rules())
    roles = {"test": results.SYNTHETIC, **{e.name: e.role for e in cfg.external_test if e.name in sets}}
    skipped = [e.name for e in cfg.external_test if e.name not in sets]  # another task's (external.read_all)
    table = results.baselines_table(cfg.bootstrap, cfg.confidence, seed, roles, skipped, scored.train_seconds,
                                    scored.extras, scores, boots)
    head, curves, calib = test_details(cfg, scored, labels, pos, scores["test"][FINE_TUNED], boots["test"][FINE_TUNED])
    result = write_reports(cfg, base_model, eval_dir, metrics_path, scored, labels, head, curves, calib, table)
    pred, y = scored.decisions("test"), scored.y["test"]
    wrong = int((pred != y).sum() if y.ndim == 1 else (pred != y).any(1).sum())  # multi-label: any wrong label
    results.log_results(result.test, result.external, table, wrong)
    return {"test": head.to_dict(), "external": result.external, "baselines": table}


def slice_table(scored: Scored, labels: list[str], edges: tuple[int, ...]) -> list:
    """The fine-tuned model per length bucket (test split), per source (test sources, then real sets) and per origin
    (test split: core/origin.slice_of, a template, an LLM prompt, a file); for a multi-label model accuracy is
    subset accuracy and a mismatch a row with any wrong label."""
    import numpy as np

    sets, test = scored.sets, scored.sets["test"]
    by_source = [s or "(empty)" for frame in sets.values() for s in frame["source"].tolist()]
    pad = [None] * (len(by_source) - len(test))  # the real sets' rows: in no length or origin slice
    by_origin = [origin.slice_of(o) for o in test["origin"]]
    groups = {"length": [metrics.length_bucket(word_count(t), edges) for t in test["text"]] + pad,
              "source": by_source, "origin": by_origin + pad}
    order = {"length": [metrics.length_bucket(e, edges) for e in (*edges, (edges[-1] if edges else 0) + 1)],
             "source": sorted(set(by_source[:len(test)])) + [f"real:{s}" for s in list(sets)[1:]],
             "origin": origin.slice_order(by_origin)}
    if scored.thresholds is not None:
        Y, D = (np.concatenate([f(s) for s in sets]) for f in (scored.y.get, scored.decisions))
        return multilabel.slices(Y, D, groups, order)
    true = [lab for frame in sets.values() for lab in frame["label"].tolist()]
    return metrics.slices(true, [labels[i] for s in sets for i in scored.decisions(s)], groups, labels, order)


def main(argv: list[str] | None = None) -> int:
    def add(p: argparse.ArgumentParser) -> None:
        p.add_argument("--model", required=True, type=Path, help="trained model directory")
        p.add_argument("--split", required=True, type=Path, help="directory with test.csv and train.csv")
        p.add_argument("--metrics", required=True, type=Path, help="metrics.json to write")
        p.add_argument("--out", required=True, type=Path, help="directory for predictions, tables and plots")
        p.add_argument("--external", type=Path, help="directory holding the external (real) test sets")
        p.add_argument("--train-report", type=Path, help="train summary.json (training time, class weights)")
        p.add_argument("--llm-cache", type=Path, help="the llm_zero_shot baseline's response cache directory")
        p.add_argument("--prices", type=Path, help="price table (model: {input, output} USD per million tokens)")
        p.add_argument("--real-only", type=Path, help="what `train --only-source real` wrote (the real_only baseline)")

    def body(args: argparse.Namespace) -> None:
        cli.require_model_dir(args.model)
        run(cfg=params.load("evaluate", args.params), seed=params.load("base", args.params).seed,
            base_model=params.load("train", args.params).model, model_dir=args.model, split_dir=args.split,
            metrics_path=args.metrics, eval_dir=args.out, external_dir=args.external, train_report=args.train_report,
            llm_cache=args.llm_cache, prices=args.prices, real_only=args.real_only)

    return cli.main(__doc__.splitlines()[0], add, body, argv,
                    example="python -m stages.evaluate --model models/classifier --split data/split --metrics reports/metrics.json --out reports/eval --llm-cache data/llm_eval_cache --prices data/prices.yaml")  # as dvc.yaml runs it


if __name__ == "__main__":
    raise SystemExit(main())
