"""Benchmark the explain stage against the tutorial way of running LIME (target: >= 10x faster, same weights).

Data and model: the default task's headlines (template provider, params.yaml's generate/split sections and
base.seed), and the bundled all-MiniLM-L6-v2 fine-tuned briefly by the train stage (--steps optimizer
steps) so the weights mean something. The most confident mismatches on the val and test splits are explained
with LIME (`explain.num_features`, --num-samples perturbations, labels predicted and true) two ways:
  (a) tutorial: a fresh seeded LimeTextExplainer per text and a classifier_fn that tokenizes all
      perturbations in one call with padding=True and runs one forward pass, no cache;
  (b) the stage: `stages.explain.run` in explain.mode exact, fp32 (string cache, length-sorted batches, reports
      written), same seeds. benchmarks/explain_long.py measures the default (converge) mode.
Prints seconds each, the speedup, the distinct share of perturbations and the largest weight difference.

Usage: python benchmarks/explain.py [--examples 20] [--num-samples 5000] [--steps 30]   (repository root, .venv active)
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def build(tmp: Path, steps: int, model: str | None = None) -> tuple[Path, Path]:
    """Default data, split, a briefly fine-tuned model (train.model, or `model`); predictions.csv of its val and
    test rows."""
    import pandas as pd

    from stages import generate, split, train
    from stages.core import modeling, params

    seed = params.load("base", ROOT / "params.yaml").seed
    gen = params.load("generate", ROOT / "params.yaml")
    generate.run(cfg=replace(gen, provider="template", task=str(ROOT / gen.task)), seed=seed, out=tmp / "data.csv", reports=tmp / "q")
    split.run(cfg=params.load("split", ROOT / "params.yaml"), seed=seed, data=tmp / "data.csv", out_dir=tmp / "split", report=tmp / "split.json")
    cfg = replace(params.load("train", ROOT / "params.yaml"), max_steps=steps)
    cfg = replace(cfg, model=model) if model else cfg
    train.run(cfg=cfg, seed=seed, split_dir=tmp / "split", model_dir=tmp / "model", reports=tmp / "train")
    model = modeling.load_classifier(str(tmp / "model"))
    tokenizer, labels = modeling.load_tokenizer(str(tmp / "model")), modeling.labels_of(model)
    rows = pd.concat([pd.read_csv(tmp / "split" / f"{s}.csv", dtype=str) for s in ("val", "test")])
    proba = modeling.predict_proba(model, tokenizer, rows["text"].tolist())
    frame = pd.DataFrame({"text": rows["text"].values, "true": rows["label"].values,
                          "predicted": [labels[i] for i in proba.argmax(1)], "confidence": proba.max(1).round(6)})
    for i, label in enumerate(labels):
        frame[f"p_{label}"] = proba[:, i].round(6)
    frame.to_csv(tmp / "predictions.csv", index=False)
    return tmp / "model", tmp / "predictions.csv"


def tutorial(model_dir: Path, rows: list[dict], cfg, seed: int) -> tuple[float, dict]:
    import torch
    from lime.lime_text import LimeTextExplainer

    from stages.core import modeling
    from stages.explanation import lime_runner

    start = time.perf_counter()
    model, tokenizer = modeling.load_classifier(str(model_dir)), modeling.load_tokenizer(str(model_dir))
    model.eval()
    labels = modeling.labels_of(model)

    def classifier_fn(texts):
        with torch.inference_mode():
            enc = tokenizer(list(texts), padding=True, truncation=True, return_tensors="pt")
            return torch.softmax(model(**enc).logits, dim=-1).double().numpy()

    weights = {}
    for row in rows:
        ids = [labels.index(row["predicted"]), labels.index(row["true"])]
        exp = LimeTextExplainer(class_names=labels, random_state=lime_runner.example_seed(seed, row["text"]))\
            .explain_instance(row["text"], classifier_fn, labels=ids, num_features=cfg.num_features,
                              num_samples=cfg.num_samples)
        weights[row["text"]] = [dict(exp.as_list(label=i)) for i in ids]
    return time.perf_counter() - start, weights


def token_counts(model_dir: Path, rows: list[dict], cfg, seed: int) -> tuple[int, int]:
    """Tokens the tutorial's forward passes see (every perturbation padded to the full text) and tokens of the
    distinct perturbations the stage predicts: the compute each needs, so the speedup's upper bound."""
    import numpy as np
    from lime.lime_text import LimeTextExplainer

    from stages.core import modeling
    from stages.explanation import lime_runner

    tokenizer, seen = modeling.load_tokenizer(str(model_dir)), set()

    def record(texts):
        seen.update(texts)
        return np.zeros((len(texts), 2))

    padded = 0
    for row in rows:
        LimeTextExplainer(random_state=lime_runner.example_seed(seed, row["text"])).explain_instance(
            row["text"], record, labels=[0], num_features=cfg.num_features, num_samples=cfg.num_samples)
        padded += cfg.num_samples * len(tokenizer(row["text"], truncation=True)["input_ids"])
    return padded, sum(len(ids) for ids in tokenizer(sorted(seen), truncation=True)["input_ids"])


def lime_own_work(model_dir: Path, rows: list[dict], cfg, seed: int) -> tuple[float, float, float]:
    """Seconds per explanation of LIME's own work (model answers cached first): plain LIME and the stage's
    fast_lime, on the same rows and seeds; and their largest weight difference."""
    from lime.lime_text import LimeTextExplainer

    from stages.core import modeling
    from stages.explanation import fast_lime, lime_runner

    model = modeling.load_classifier(str(model_dir))
    labels = modeling.labels_of(model)
    fn = lime_runner.CachedClassifier(model, modeling.load_tokenizer(str(model_dir)), cfg.batch_size)
    times, weights = {}, {}
    for name in ("warm-up", "plain", "fast"):
        start = time.perf_counter()
        for row in rows:
            ids, seed_ = [labels.index(row["predicted"]), labels.index(row["true"])], lime_runner.example_seed(seed, row["text"])
            explainer = (fast_lime.explainer(labels, seed_, cfg.num_features, row["text"]) if name == "fast"
                         else LimeTextExplainer(class_names=labels, random_state=seed_))
            exp = explainer.explain_instance(row["text"], fn, labels=ids, num_features=cfg.num_features,
                                             num_samples=cfg.num_samples)
            weights.setdefault(name, []).extend(dict(exp.as_list(label=i)) for i in ids)
        times[name] = (time.perf_counter() - start) / len(rows)
    diff = max(abs(a[k] - b[k]) for a, b in zip(weights["plain"], weights["fast"]) for k in a)
    return times["plain"], times["fast"], diff


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=20)
    parser.add_argument("--num-samples", type=int, default=5000)
    parser.add_argument("--steps", type=int, default=30, help="fine-tuning steps of the train stage")
    args = parser.parse_args()
    import torch
    from transformers.utils import logging as hf_logging

    from stages import explain
    from stages.core import params

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    seed = params.load("base", ROOT / "params.yaml").seed
    cfg = replace(params.load("explain", ROOT / "params.yaml"), max_examples=args.examples, correct_per_label=0,
                  num_samples=args.num_samples, mode="exact", precision="fp32")  # the same weights as the tutorial's
    print(f"machine: {os.cpu_count()} CPU cores, torch {torch.__version__} with {torch.get_num_threads()} threads, "
          f"{'CUDA ' + torch.cuda.get_device_name() if torch.cuda.is_available() else 'no GPU'}")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        start = time.perf_counter()
        model_dir, preds = build(tmp, args.steps)
        print(f"setup (generate, split, fine-tune MiniLM {args.steps} steps, score val+test): "
              f"{time.perf_counter() - start:.1f} s")
        start, cpu = time.perf_counter(), time.process_time()
        summary = explain.run(cfg=cfg, seed=seed, model_dir=model_dir, predictions=preds, out=tmp / "explain")
        stage_s, stage_cpu = time.perf_counter() - start, time.process_time() - cpu
        rows = summary["examples"]
        words = [len(set(w for w in re.split(r"\W+", r["text"]) if w)) for r in rows]
        print(f"explained: {len(rows)} of {summary['mismatches']} mismatches, {cfg.num_samples:,} perturbations "
              f"each, {cfg.num_features} features, labels predicted and true; distinct words per text "
              f"min {min(words)}, median {statistics.median(words):g}, max {max(words)}")
        cpu = time.process_time()
        tut_s, reference = tutorial(model_dir, rows, cfg, seed)
        tut_cpu = time.process_time() - cpu
        diff, largest = 0.0, 0.0
        for row in rows:
            ref_pred, ref_true = reference[row["text"]]
            for ours, ref in ((dict(row["weights"]), ref_pred), (dict(row["weights_true"]), ref_true)):
                assert ours.keys() == ref.keys(), f"different tokens for {row['text']!r}"
                diff = max(diff, *(abs(ours[t] - ref[t]) for t in ref))
                largest = max(largest, *(abs(w) for w in ref.values()))
        pert = summary["perturbations"]
        padded, distinct = token_counts(model_dir, rows, cfg, seed)
        print(f"(a) tutorial (no cache, padding=True, one call): {tut_s:8.1f} s ({tut_cpu:.1f} s CPU)")
        print(f"(b) stage (cache, length-sorted batches of {cfg.batch_size}, reports written): {stage_s:8.1f} s "
              f"({stage_cpu:.1f} s CPU)")
        print(f"speedup: {tut_s / stage_s:.1f}x wall, {tut_cpu / stage_cpu:.1f}x CPU time")
        print(f"distinct perturbed texts predicted: {pert['predicted']:,} of {pert['requested']:,} "
              f"({pert['predicted'] / pert['requested']:.1%}); tokens through the model: {padded:,} (a) vs "
              f"{distinct:,} (b): {padded / distinct:.1f}x fewer (the speedup beyond it is throughput: full, even batches "
              f"of short texts against one call of {cfg.num_samples:,} full-length rows per text)")
        print(f"max |weight difference|: {diff:.2e} (stage weights rounded to 1e-6; largest |weight| {largest:.3f})")
        plain_s, fast_s, own_diff = lime_own_work(model_dir, rows, cfg, seed)
        print(f"LIME's own work per explanation (model answers cached): plain LIME {plain_s * 1000:.0f} ms, "
              f"fast_lime {fast_s * 1000:.0f} ms: {plain_s / fast_s:.1f}x; max |weight difference| {own_diff:.1e}")
        print(json.dumps({"lime_own_ratio": round(plain_s / fast_s, 2), "tutorial_s": round(tut_s, 1), "stage_s": round(stage_s, 1),
                          "speedup": round(tut_s / stage_s, 2), "token_ratio": round(padded / distinct, 2),
                          "max_weight_diff": diff}))


if __name__ == "__main__":
    main()
