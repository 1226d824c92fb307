"""Benchmark `stages.tools.predict` against `transformers.pipeline` with default settings (target: >= 3x texts/s).

32,000 headlines (issue 15: the size of a large real set) from the default task's templates, classified on the
CPU by a MiniLM-L6 classifier (the bundled all-MiniLM-L6-v2 encoder with a fresh 2-label head: speed does not
depend on training). Both paths load the same model directory; the script checks they agree before it reports
the timings.

Usage: python benchmarks/predict.py [--texts 32000] [--batch-size 64]   (repository root, .venv active)
"""

from __future__ import annotations

import argparse
import os
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=32_000, help="headlines to classify (default 32,000)")
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args()
    import numpy as np
    import torch
    from transformers import pipeline
    from transformers.utils import logging as hf_logging

    from stages.tools.predict import Predictor

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    texts = headlines(args.texts)
    print(f"machine: {os.cpu_count()} CPU cores, torch {torch.__version__} with {torch.get_num_threads()} threads; "
          f"{len(texts):,} headlines, {np.mean([len(t.split()) for t in texts]):.1f} words on average")
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = build_model(Path(tmp) / "minilm")
        clf = pipeline("text-classification", model=str(model_dir), device="cpu")
        clf(texts[:20])  # warm-up: first-call allocations are not what we measure
        start = time.perf_counter()
        theirs = clf(texts)
        base = time.perf_counter() - start

        predictor = Predictor(model_dir, batch_size=args.batch_size, device="cpu")
        predictor.proba(texts[:20])
        start = time.perf_counter()
        ours = list(predictor.predict(texts, top_k=1))
        fast = time.perf_counter() - start

    same = sum(a["label"] == b["label"] for a, b in zip(theirs, ours))
    gap = max(abs(a["score"] - b["score"]) for a, b in zip(theirs, ours))
    print(f"transformers.pipeline (defaults)   : {len(texts) / base:8.1f} texts/s  ({base:6.2f} s)")
    print(f"stages.tools.predict (batch {args.batch_size:>4})        : {len(texts) / fast:8.1f} texts/s  ({fast:6.2f} s)")
    print(f"speed-up: {base / fast:.2f}x (target >= 3x: {'ok' if base / fast >= 3 else 'MISSED'}); "
          f"same label for {same:,}/{len(texts):,} texts, largest score difference {gap:.1e}")


if __name__ == "__main__":
    main()
