"""Benchmark the explain stage where texts are long (issue 27): an SMS-like stand-in, and the default headlines.

(1) A 600-row SMS-like stand-in, made here deterministically (no real data): spam/ham texts of words drawn
    from two small vocabularies, lengths log-normal around a median of 60 characters with 10% over 150 (as
    real SMS), 8% of labels flipped so a model has mismatches. The bundled all-MiniLM-L6-v2 is fine-tuned
    briefly by the train stage (--steps) on 1,200 other stand-in rows; `stages.explain.run` then explains
    the mismatches of the 600 rows at params.yaml's explain settings (target: <= 60 s on 2 cores). The first
    --compare examples are explained again by plain LIME at 5,000 samples (explain.mode exact, fp32): the
    top-k token overlap and the largest weight difference say how far the default's weights are from it.
(2) The default headlines (benchmarks/explain.py's setup): the stage at defaults against tutorial LIME
    (`LimeTextExplainer.explain_instance`, a classifier_fn tokenizing with padding=True, 5,000 samples) on
    the --headlines most confident mismatches (target: >= 20x), with the same weight comparison.

Usage: python benchmarks/explain_long.py [--rows 600] [--steps 30] [--compare 5] [--headlines 10] [--model DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from benchmarks.real_vs_synthetic import cpu_model  # noqa: E402

SPAM = ("free entry win prize claim call now txt reply cash award urgent mobile guaranteed winner selected "
        "offer ringtone chat stop voucher bonus draw collect tone service unsubscribe customer camera latest "
        "week line rate per min landline holiday weekly nokia").split()
HAM = ("ok i'll see you later going home now can't wait love sorry what time are we meeting tomorrow at the "
       "office lunch dinner tonight just got back did you get my message yeah haha no worries sure thing "
       "mum dad say hi will call when i reach class finished bus late feeling tired good night morning").split()


def sms_like(n: int, seed: int) -> list[tuple[str, str]]:
    """n (text, label) rows: lengths log-normal (median 60 characters, 10% over 150), 30% spam, 8% flipped."""
    import numpy as np

    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(n):
        spam = rng.random() < 0.3
        target = int(np.clip(rng.lognormal(np.log(60), 0.75), 4, 600))  # P(> 150) = P(z > ln 2.5 / 0.75) = 0.11
        words: list[str] = []
        while len(" ".join(words)) < target:
            pool = SPAM if (rng.random() < 0.75) == spam else HAM
            words.append(str(rng.choice(pool)) if rng.random() > 0.05 else str(rng.integers(10, 99999)))
        label = "spam" if spam != (rng.random() < 0.08) else "ham"
        rows.append((" ".join(words)[:max(target, len(words[0]))], label))
    return rows


def build_sms(tmp: Path, rows: int, steps: int, model: str | None) -> tuple[Path, Path, list[int]]:
    """The stand-in's split files, the model fine-tuned on its train part, predictions.csv of the `rows` eval rows."""
    import pandas as pd

    from stages import train
    from stages.core import modeling, params

    (tmp / "split").mkdir()
    for name, n, seed in (("train", 1200, 1), ("val", 200, 2), ("eval", rows, 3)):
        frame = pd.DataFrame(sms_like(n, seed), columns=["text", "label"])
        frame.assign(source="standin", origin=[f"sms:{name}:{i}" for i in range(n)]).to_csv(
            tmp / "split" / f"{name}.csv", index=False)
    cfg = replace(params.load("train", ROOT / "params.yaml"), max_steps=steps, **({"model": model} if model else {}))
    train.run(cfg=cfg, seed=0, split_dir=tmp / "split", model_dir=tmp / "model", reports=tmp / "train")
    frame = pd.read_csv(tmp / "split" / "eval.csv", dtype=str, keep_default_na=False)
    model, tokenizer = modeling.load_classifier(str(tmp / "model")), modeling.load_tokenizer(str(tmp / "model"))
    labels = modeling.labels_of(model)
    proba = modeling.predict_proba(model, tokenizer, frame["text"].tolist())
    out = pd.DataFrame({"text": frame["text"], "true": frame["label"], "predicted": [labels[i] for i in proba.argmax(1)],
                        "confidence": proba.max(1).round(6)})
    for i, label in enumerate(labels):
        out[f"p_{label}"] = proba[:, i].round(6)
    out.to_csv(tmp / "predictions.csv", index=False)
    return tmp / "model", tmp / "predictions.csv", frame["text"].str.len().tolist()


def agreement(ours: list[dict], reference: dict[str, list[dict]], k: int) -> tuple[float, float, float, float]:
    """Against plain LIME's weights per text and side: the mean and the lowest share of plain LIME's top-k tokens
    among ours, the largest |weight difference| over the tokens in both, and plain LIME's largest |weight|."""
    overlaps, diff, peak = [], 0.0, 0.0
    for ex in ours:
        if ex["text"] not in reference:
            continue
        for side, ref in zip(("weights", "weights_true"), reference[ex["text"]]):
            mine = dict(ex[side])
            top = sorted(ref, key=lambda t: -abs(ref[t]))[:k]
            overlaps.append(len(set(top) & set(mine)) / len(top))
            diff = max(diff, *(abs(mine[t] - ref[t]) for t in mine.keys() & ref.keys()))
            peak = max(peak, *(abs(w) for w in ref.values()))
    return sum(overlaps) / len(overlaps), min(overlaps), diff, peak


def timed_stage(cfg, model_dir: Path, preds: Path, out: Path) -> tuple[float, dict]:
    from stages import explain

    start, cpu = time.perf_counter(), time.process_time()
    summary = explain.run(cfg=cfg, seed=0, model_dir=model_dir, predictions=preds, out=out)
    return time.perf_counter() - start, {**summary, "cpu_s": time.process_time() - cpu}


def stage_line(name: str, seconds: float, summary: dict) -> str:
    rows = summary["examples"] + summary["contrast"]
    samples = sorted(r["samples"] for r in rows)
    return (f"{name}: {seconds:.1f} s ({summary['cpu_s']:.1f} s CPU) for {len(rows)} examples ({summary['explained']} of {summary['mismatches']} "
            f"mismatches + {len(summary['contrast'])} contrast); samples per example min {samples[0]:,} median "
            f"{samples[len(samples) // 2]:,} max {samples[-1]:,}; stopped {json.dumps(summary['stopped'])}; "
            f"{summary['perturbations']['predicted']:,} distinct texts predicted")


def sms_part(tmp: Path, args: argparse.Namespace, cfg) -> dict:
    import statistics

    start = time.perf_counter()
    model_dir, preds, lengths = build_sms(tmp, args.rows, args.steps, args.model)
    over = sum(n > 150 for n in lengths) / len(lengths)
    print(f"SMS-like stand-in: {args.rows} rows, median {statistics.median(lengths):g} characters, {over:.0%} over 150; "
          f"setup (fine-tune MiniLM {args.steps} steps, score): {time.perf_counter() - start:.1f} s")
    stage_s, summary = timed_stage(cfg, model_dir, preds, tmp / "explain")
    print(stage_line("(1) explain stage at defaults on the stand-in", stage_s, summary)
          + f"; target <= 60 s: {'ok' if stage_s <= 60 else 'MISSED'}")
    first = summary["examples"][:args.compare]
    n = args.reference_samples
    exact = replace(cfg, mode="exact", precision="fp32", num_samples=n, max_examples=len(first), correct_per_label=0)
    ref_s, ref = timed_stage(exact, model_dir, preds, tmp / "exact")
    reference = {ex["text"]: [dict(ex["weights"]), dict(ex.get("weights_true") or ex["weights"])] for ex in ref["examples"]}
    mean, low, diff, peak = agreement(first, reference, cfg.num_features)
    print(f"    against plain LIME at {n:,} samples (fp32, {len(first)} mismatches, {ref_s:.1f} s): top-{cfg.num_features} "
          f"token overlap mean {mean:.0%}, lowest {low:.0%}; largest |weight difference| {diff:.4f} (largest plain "
          f"LIME |weight| {peak:.4f})")
    return {"sms_stage_s": round(stage_s, 1), "sms_overlap": round(mean, 3), "sms_max_diff": round(diff, 4)}


def headline_part(tmp: Path, args: argparse.Namespace, cfg) -> dict:
    from benchmarks.explain import build, tutorial

    model_dir, preds = build(tmp, args.steps, args.model)
    head = replace(cfg, max_examples=args.headlines, correct_per_label=0)
    stage_s, summary = timed_stage(head, model_dir, preds, tmp / "explain-head")
    rows = summary["examples"]
    tut_s, reference = tutorial(model_dir, rows, replace(head, num_samples=args.reference_samples), 0)
    mean, low, diff, peak = agreement(rows, reference, cfg.num_features)
    print(stage_line("(2) explain stage at defaults on the default headlines", stage_s, summary))
    print(f"    tutorial LIME ({args.reference_samples:,} samples, padding=True, no cache): {tut_s:.1f} s; speed-up {tut_s / stage_s:.1f}x "
          f"(target >= 20x: {'ok' if tut_s / stage_s >= 20 else 'MISSED'}); top-{cfg.num_features} token overlap mean "
          f"{mean:.0%}, lowest {low:.0%}; largest |weight difference| {diff:.4f} (largest |weight| {peak:.4f})")
    return {"headline_speedup": round(tut_s / stage_s, 2), "headline_overlap": round(mean, 3),
            "headline_max_diff": round(diff, 4)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=600, help="rows of the SMS-like set whose mismatches are explained")
    parser.add_argument("--steps", type=int, default=30, help="fine-tuning steps of the train stage")
    parser.add_argument("--compare", type=int, default=5, help="stand-in mismatches also explained by plain LIME")
    parser.add_argument("--reference-samples", type=int, default=5000, help="plain LIME's and the tutorial's samples")
    parser.add_argument("--headlines", type=int, default=10, help="headline mismatches (0: skip part 2)")
    parser.add_argument("--model", help="encoder to fine-tune instead of train.model (the smoke test's tiny BERT)")
    args = parser.parse_args()
    import torch
    from transformers.utils import logging as hf_logging

    from stages.core import params
    from stages.core.precision import cpu_bf16_native, cpu_flags

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    cfg = params.load("explain", ROOT / "params.yaml")
    print(f"machine: {cpu_model()}, {os.cpu_count()} cores, torch {torch.get_num_threads()} threads, native bf16: "
          f"{cpu_bf16_native(cpu_flags())}; load average {os.getloadavg()[0]:.1f} at the start")
    print(f"explain params: mode {cfg.mode}, num_samples {cfg.num_samples:,}, min_samples {cfg.min_samples:,}, "
          f"tolerance {cfg.tolerance:g}, max_seconds {cfg.max_seconds:g}, precision {cfg.precision}, "
          f"max_examples {cfg.max_examples}, correct_per_label {cfg.correct_per_label}")
    figures = {}
    with tempfile.TemporaryDirectory() as tmp:
        for part, run in (("sms", sms_part), ("head", headline_part if args.headlines else None)):
            if run is not None:
                (Path(tmp) / part).mkdir()
                figures.update(run(Path(tmp) / part, args, cfg))
    print(f"load average {os.getloadavg()[0]:.1f} at the end")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
