"""Benchmark `synthbert predict` against `transformers.pipeline` (defaults plus truncation=True): fp32, auto
(bf16 autocast where the CPU multiplies bf16 natively) and the int8 ONNX export (issue 27: target >= 10x with the
same label for >= 99.9% of texts).

32,000 headlines (issue 15: the size of a large real set) from the default task's templates (about 10 words each;
the real Stop Clickbait headlines under data/external average 9.0: their lengths are only printed, never used),
classified on the CPU by a MiniLM-L6 classifier (the bundled all-MiniLM-L6-v2 encoder with a fresh 2-label head:
speed does not depend on training; --model DIR scores a trained one). Every path loads the same model directory
and is timed on the same texts, one after another in one run; labels are compared with the pipeline's (and the
bf16 and int8 ones with predict fp32's). The ONNX files come from `stages.tools.export.run` (its own check uses
2,000 of the texts).

Usage: python benchmarks/predict.py [--texts 32000] [--batch-size 64] [--model DIR]   (repository root, .venv active)
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def headlines(n: int) -> list[str]:
    from stages.generation.task import load_task
    from stages.generation.template import generate_label

    task = load_task(ROOT / "data" / "tasks" / "clickbait.yaml")
    texts: list[str] = []
    for label in task.labels:
        texts += generate_label(label, n, seed=7)
    texts.sort(key=lambda t: (zlib.crc32(t.encode()), t))  # mix labels and lengths, as a real input file would be
    return (texts * (n // max(len(texts), 1) + 1))[:n]


def build_model(path: Path) -> Path:
    from stages.core import modeling

    modeling.load_classifier("sentence-transformers/all-MiniLM-L6-v2", ["clickbait", "factual"]).save_pretrained(path)
    modeling.load_tokenizer("sentence-transformers/all-MiniLM-L6-v2").save_pretrained(path)
    return path


def cpu_name() -> str:
    from stages.core.precision import cpu_flags, cpu_reason

    name = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo", encoding="utf-8")
                 if line.startswith("model name")), platform.processor() or "unknown CPU")
    return f"{name}, {os.cpu_count()} cores, {cpu_reason(cpu_flags())}"


def timed(fn, texts):
    start = time.perf_counter()
    out = fn(texts)
    return out, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=32_000, help="headlines to classify (default 32,000)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--model", type=Path, help="a trained classifier directory (default: MiniLM, new head)")
    args = parser.parse_args()
    import numpy as np
    import pandas as pd
    import torch
    from transformers import pipeline
    from transformers.utils import logging as hf_logging

    from stages.tools import export
    from stages.tools.predict import OnnxPredictor, Predictor

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    texts = headlines(args.texts)
    real = pd.concat([pd.read_csv(p) for p in sorted((ROOT / "data" / "external").glob("*/*.csv"))])["text"]
    print(f"CPU: {cpu_name()}; torch {torch.__version__}, {torch.get_num_threads()} threads, load average "
          f"{os.getloadavg()[0]:.2f}\n{len(texts):,} template headlines, {np.mean([len(t.split()) for t in texts]):.1f} "
          f"words on average (real Stop Clickbait headlines: {real.str.split().str.len().mean():.1f})")
    labels, seconds = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = args.model or build_model(Path(tmp) / "minilm")
        clf = pipeline("text-classification", model=str(model_dir), device="cpu")
        clf(texts[:20], truncation=True)  # warm-up: first-call allocations are not what we measure
        rows, seconds["pipeline"] = timed(lambda t: clf(t, truncation=True), texts)
        labels["pipeline"] = [r["label"] for r in rows]
        pd.DataFrame({"text": texts[:2000]}).to_csv(Path(tmp) / "check.csv", index=False)
        export.run(Path(model_dir), Path(tmp) / "onnx", Path(tmp) / "check.csv", args.batch_size)
        for name, predictor in (("predict fp32", Predictor(model_dir, args.batch_size, "cpu", "fp32")),
                                ("predict auto", Predictor(model_dir, args.batch_size, "cpu", "auto")),
                                ("predict ONNX int8", OnnxPredictor(Path(tmp) / "onnx" / "model.int8.onnx",
                                                                    args.batch_size))):
            predictor.proba(texts[:20])
            rows, seconds[name] = timed(lambda t: list(predictor.predict(t, top_k=1)), texts)
            labels[name] = [r["label"] for r in rows]
            if name == "predict auto":
                name_auto = f"predict auto ({predictor.precision})"
                labels[name_auto], seconds[name_auto] = labels.pop(name), seconds.pop(name)
    print(f"load average at the end {os.getloadavg()[0]:.2f} (other jobs slow whichever path runs then)")
    base = seconds["pipeline"]
    for name, s in seconds.items():
        same = np.mean(np.array(labels[name]) == np.array(labels["pipeline"]))
        vs32 = np.mean(np.array(labels[name]) == np.array(labels["predict fp32"])) if "predict fp32" in labels else 1.0
        ratio = base / s
        verdict = "" if name == "pipeline" else f"  {'ok' if ratio >= 10 and same >= 0.999 else 'MISSED'} (>= 10x, >= 99.9%)"
        print(f"{name:26} {len(texts) / s:8.1f} texts/s ({s:6.1f} s)  {ratio:5.2f}x  same label as pipeline "
              f"{same:.3%}, as predict fp32 {vs32:.3%}{verdict}")


if __name__ == "__main__":
    main()
