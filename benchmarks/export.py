"""Benchmark the serving export: texts/s per CPU core of PyTorch fp32, ONNX and int8 ONNX (issue 15).

A classifier on all-MiniLM-L6-v2 (untrained head: this measures speed; agreement is on its own outputs) is
exported by `stages.tools.export.run`; then N template headlines of the default task are scored one thread
each (torch.set_num_threads(1); onnxruntime intra_op_num_threads=1), alternating, the best of --repeats
rounds. texts/s per core is the number a 1-vCPU host is sized by. --model DIR: a trained classifier instead.

Usage: python benchmarks/export.py [--texts 2000] [--repeats 2] [--model DIR]   (repository root, .venv active)
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def headlines(n: int) -> list[str]:
    from stages.generation.task import load_task
    from stages.generation.template import generate_label

    task = load_task(ROOT / "data" / "tasks" / "clickbait.yaml")
    per = -(-n // len(task.labels))
    return [t for label in task.labels for t in generate_label(label, per, seed=0)][:n]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--model", type=Path, help="a trained classifier directory (default: MiniLM, new head)")
    args = parser.parse_args()
    import pandas as pd
    import torch
    from transformers.utils import logging as hf_logging

    from stages.core import modeling
    from stages.tools import export, predict

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    texts = headlines(args.texts)
    with tempfile.TemporaryDirectory(prefix="bench-export-") as tmp_name:
        tmp = Path(tmp_name)
        model_dir = args.model
        if model_dir is None:
            model_dir = tmp / "classifier"
            modeling.load_classifier("sentence-transformers/all-MiniLM-L6-v2", ["clickbait", "factual"]).save_pretrained(str(model_dir))
            modeling.load_tokenizer("sentence-transformers/all-MiniLM-L6-v2").save_pretrained(str(model_dir))
        pd.DataFrame({"text": texts}).to_csv(tmp / "texts.csv", index=False)
        report = export.run(model_dir, tmp / "onnx", tmp / "texts.csv")
        torch.set_num_threads(1)
        runners = {"PyTorch fp32": predict.Predictor(model_dir, 64, device="cpu"),
                   "ONNX fp32": predict.OnnxPredictor(tmp / "onnx" / "model.onnx", 64, threads=1),
                   "ONNX int8": predict.OnnxPredictor(tmp / "onnx" / "model.int8.onnx", 64, threads=1)}
        best = {name: 0.0 for name in runners}
        for _ in range(args.repeats):  # alternate: load from elsewhere hits every runner alike
            for name, runner in runners.items():
                start = time.perf_counter()
                runner.proba(texts)
                best[name] = max(best[name], len(texts) / (time.perf_counter() - start))
    print(f"machine: {os.cpu_count()} CPU cores, load average {os.getloadavg()[0]:.2f}; {len(texts):,} headlines, "
          f"one thread each, best of {args.repeats}")
    for name, rate in best.items():
        key = {"ONNX fp32": "onnx", "ONNX int8": "int8"}.get(name)
        extra = (f"  label agreement {report[key]['label_agreement']:.2%}, largest probability difference "
                 f"{report[key]['max_probability_difference']:.3g}, {report[key]['bytes'] / 1e6:.0f} MB") if key else ""
        print(f"{name:13} {rate:8.1f} texts/s per core  {rate / best['PyTorch fp32']:.2f}x{extra}")


if __name__ == "__main__":
    main()
