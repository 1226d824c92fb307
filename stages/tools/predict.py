"""Use the trained classifier: the label and class probabilities of each text, batched.

    synthbert predict "You won't believe what the mayor did" "Council approves budget"
    synthbert predict --input headlines.txt --out predictions.csv --top-k 1
    synthbert predict --onnx models/onnx/model.int8.onnx "Council approves budget"
    cat headlines.txt | synthbert predict --format csv

Needs only a model directory (default models/classifier): no params.yaml, data or DVC. It imports nothing else
from this repository but its sibling predict_io.py (reading texts, writing rows, progress lines, --out whole or not
at all when killed), so the two files can be copied next to a model and run as `python predict.py`. That is why
Predictor keeps its own copies of the batched forward pass (stages.core.modeling.run_batches: sorted by token count,
each batch padded to its own longest row) and of the decision rule (stages.core.decision.decide) instead of
importing them; tests check they agree. Input: texts as arguments, --input FILE (UTF-8; one text per line, the
`text` column of a .csv or the "text" field of each .jsonl line), or standard input. Output, in input order: JSON
lines (default) with label, score and the top-k probabilities, or CSV (text,label,score,label_2,score_2,...).
A single-label model's `label` is decided by its saved rule (the label maximising log(p) + its offset in config.json
decision_offsets, tuned on val; none saved: argmax), `score` is that label's probability. A multi-label model
(config problem_type multi_label_classification) gives one sigmoid probability per label: `label` is every label
whose probability reaches its threshold (config.json decision_thresholds, else 0.5), joined by "|" ("" for none),
and `score` the lowest max(p, 1 - p) over the labels.
--precision (the CLI's default auto, as evaluate.precision): bf16 autocast where the device multiplies bf16 natively
(weights stay fp32; about 1.9x as fast on such a CPU; a text within about 0.01 of the decision boundary may change
label), else fp32; fp32 forces exact fp32 scores (Predictor's default). An --onnx file runs as exported.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import signal
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

if __package__:  # stages.tools.predict
    from .predict_io import InputError, Progress, read_texts, stop_on_sigterm, whole_or_never, write_rows
else:  # python predict.py: predict_io.py copied beside it
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    try:
        from predict_io import InputError, Progress, read_texts, stop_on_sigterm, whole_or_never, write_rows
    except ImportError:
        raise SystemExit(f"error: {__file__} needs predict_io.py beside it (copy both from stages/tools/)") from None

log = logging.getLogger("stages.tools.predict")
CHUNK = 8192  # texts tokenized and sorted together; bounds memory on large inputs
LABEL_SEP = "|"  # joins a multi-label prediction's labels (stages.core.labelsets.LABEL_SEP; no import: standalone)
PRECISIONS = ("auto", "fp32", "bf16")  # --precision; auto as evaluate.precision (stages.core.precision.scoring)


def scoring_precision(requested: str, device: str, cpuinfo: str = "/proc/cpuinfo") -> str:
    """fp32 or bf16 for --precision on `device`: auto is bf16 autocast where the device multiplies bf16 natively
    (a CPU with AMX or AVX512-BF16 in /proc/cpuinfo, a GPU of compute capability >= 8.0), else fp32. The
    rule of stages.core.precision, copied (standalone); tests check they agree."""
    if requested not in PRECISIONS:
        raise InputError(f"--precision must be one of {', '.join(PRECISIONS)}, got {requested!r}")
    if requested != "auto":
        return requested
    if device.startswith("cuda"):
        import torch

        return "bf16" if tuple(torch.cuda.get_device_capability()) >= (8, 0) else "fp32"
    try:
        flags = next((line.partition(":")[2].split() for line in open(cpuinfo, encoding="utf-8")
                      if line.partition(":")[0].strip() == "flags"), [])
    except OSError:  # not Linux
        flags = []
    return "bf16" if {"amx_bf16", "avx512_bf16"} & set(flags) else "fp32"


class Predictor:
    """A sequence classifier and its tokenizer from one directory; `proba(texts)` in length-sorted batches."""

    def __init__(self, model_dir: str | Path, batch_size: int = 64, device: str | None = None,
                 precision: str = "fp32") -> None:
        path = Path(model_dir)
        if not path.is_dir():
            raise InputError(f"{model_dir}: model directory not found (train one with `dvc repro`, or pass --model DIR)")
        if not (path / "config.json").is_file():
            raise InputError(f"{model_dir}: not a model directory (no config.json)")
        import torch
        from safetensors import SafetensorError
        from transformers import AutoModelForSequenceClassification, AutoTokenizer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # no "Loading weights" bar on every call
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(str(path))
            self.model = AutoModelForSequenceClassification.from_pretrained(str(path))
        except (OSError, ValueError, SafetensorError) as exc:  # a damaged config.json is named in `first`
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
            weights = sorted(path.glob("*.safetensors")) if isinstance(exc, SafetensorError) else []
            raise InputError(f"{weights[0] if weights else model_dir}: cannot load the model ({first})") from None
        self.device, self.batch_size = device or ("cuda" if torch.cuda.is_available() else "cpu"), batch_size
        self.model.to(self.device).eval()
        self.precision = scoring_precision(precision, self.device)
        self._decision_rule(self.model.config)
        self.max_length = self._max_length(path)

    def _decision_rule(self, config: Any) -> None:
        """The labels and the rule: a sigmoid per label at its threshold (multi-label), or argmax of log(p) + offset."""
        self.labels = [config.id2label[i] for i in range(config.num_labels)]
        self.multi_label = getattr(config, "problem_type", None) == "multi_label_classification"
        thresholds, offsets = (getattr(config, key, None) or {} for key in ("decision_thresholds", "decision_offsets"))
        self.thresholds = [float(thresholds.get(lab, 0.5)) for lab in self.labels]
        self.offsets = [float(offsets.get(lab, 0.0)) for lab in self.labels]  # none saved: 0, plain argmax

    def decide(self, proba: Any) -> tuple[list[str], list[float]]:
        """Each row's label and score, as the module docstring says."""
        import numpy as np

        p = np.asarray(proba, dtype=np.float64).reshape(len(proba), len(self.labels))
        if self.multi_label:
            return ([LABEL_SEP.join(sorted(lab for lab, q, t in zip(self.labels, row, self.thresholds) if q >= t))
                     for row in p], np.maximum(p, 1.0 - p).min(1).tolist())
        ids = (np.log(np.clip(p, np.finfo(np.float64).tiny, None)) + np.asarray(self.offsets)[None, :]).argmax(1)
        return [self.labels[i] for i in ids], p[np.arange(len(p)), ids].tolist()

    def _max_length(self, path: Path) -> int:
        """The truncation used in training (synthbert_params.json), else the tokenizer's limit (<= 512)."""
        saved = path / "synthbert_params.json"
        if saved.is_file():
            length = json.loads(saved.read_text(encoding="utf-8")).get("train", {}).get("max_length")
            if isinstance(length, int) and length > 0:  # 0 would be the unresolved "auto" setting
                return length
        limit = getattr(self.tokenizer, "model_max_length", 512) or 512
        return min(limit, getattr(self.model.config, "max_position_embeddings", 512) or 512, 512)

    def proba(self, texts: Sequence[str], done: Callable[[int], None] = lambda n: None) -> Any:
        """(n, labels) float32 probabilities. Tokenizes once, sorts by token count and pads each batch only to
        its own longest row, so little work goes into padding. `done(rows)` after each batch (progress)."""
        import numpy as np
        import torch

        out = np.zeros((len(texts), len(self.labels)), dtype=np.float32)
        pad = self.tokenizer.pad_token_id or 0
        ids = self.tokenizer(list(texts), truncation=True, max_length=self.max_length)["input_ids"]
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        with torch.inference_mode(), self._autocast():
            for start in range(0, len(order), self.batch_size):
                idx = order[start:start + self.batch_size]
                width = max(len(ids[i]) for i in idx)
                batch = np.full((len(idx), width), pad, dtype=np.int64)
                mask = np.zeros((len(idx), width), dtype=np.int64)
                for row, i in enumerate(idx):
                    batch[row, : len(ids[i])] = ids[i]
                    mask[row, : len(ids[i])] = 1
                logits = self._logits(torch.from_numpy(batch), torch.from_numpy(mask)).float()
                out[idx] = (torch.sigmoid(logits) if self.multi_label else torch.softmax(logits, -1)).cpu().numpy()
                done(len(idx))
        return out

    def _autocast(self) -> Any:
        """bf16 autocast (weights stay fp32, matrix products run in bf16) when self.precision is bf16."""
        import torch

        if self.precision != "bf16":
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.split(":")[0], dtype=torch.bfloat16)

    def _logits(self, batch: Any, mask: Any) -> Any:
        return self.model(input_ids=batch.to(self.device), attention_mask=mask.to(self.device)).logits

    def predict(self, texts: Sequence[str], top_k: int | None = None) -> Iterator[dict[str, Any]]:
        """One dict per text, in input order: text, label, score and `top_k` {label: probability}. A progress
        line every PROGRESS_S seconds (predict_io.Progress, checked after each batch)."""
        k, progress = min(top_k or len(self.labels), len(self.labels)), Progress(len(texts))
        for start in range(0, len(texts), CHUNK):
            chunk = texts[start:start + CHUNK]
            proba = self.proba(chunk, progress)
            for text, p, label, score in zip(chunk, proba, *self.decide(proba)):
                best = sorted(range(len(p)), key=lambda j: (-p[j], j))[:k]
                yield {"text": text, "label": label, "score": round(score, 6),
                       "top_k": {self.labels[j]: round(float(p[j]), 6) for j in best}}


class OnnxPredictor(Predictor):
    """The same batching over an ONNX export (`synthbert export`), run by onnxruntime; the tokenizer, labels
    and max_length come from the ONNX file's directory. onnxruntime is imported only here."""

    def __init__(self, onnx_path: str | Path, batch_size: int = 64, threads: int = 0) -> None:
        path = Path(onnx_path)
        if not path.is_file():
            raise InputError(f"{onnx_path}: ONNX file not found (write one with `synthbert export`)")
        if not (path.parent / "config.json").is_file():
            raise InputError(f"{path.parent}: no config.json beside the ONNX file (expected `synthbert export` output)")
        import onnxruntime
        from onnxruntime.capi import onnxruntime_pybind11_state as ort
        from transformers import AutoConfig, AutoTokenizer

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads  # 0: onnxruntime's default (all cores)
        try:
            self.session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except (ort.InvalidProtobuf, ort.InvalidGraph, ort.Fail) as exc:  # cut short, or not an ONNX model at all
            raise InputError(f"{path}: not a loadable ONNX model ({type(exc).__name__}): truncated? export it again") from None
        self.tokenizer = AutoTokenizer.from_pretrained(str(path.parent))
        config = AutoConfig.from_pretrained(str(path.parent))
        self.model = type("Config", (), {"config": config})()  # what Predictor reads of a model: its config
        self.device, self.batch_size, self.precision = "cpu", batch_size, "fp32"  # the file runs as exported
        self._decision_rule(config)
        self.max_length = self._max_length(path.parent)

    def _logits(self, batch: Any, mask: Any) -> Any:
        import torch

        out = self.session.run(["logits"], {"input_ids": batch.numpy(), "attention_mask": mask.numpy()})[0]
        return torch.from_numpy(out)


def run(args: argparse.Namespace) -> int:
    if args.texts and args.input:
        raise InputError("give texts as arguments or --input FILE, not both")
    if args.top_k is not None and args.top_k < 1:
        raise InputError(f"--top-k must be >= 1, got {args.top_k}")
    if not args.texts and args.input is None and sys.stdin.isatty():
        raise InputError("no texts: give them as arguments, with --input FILE, or on standard input")
    if args.onnx and args.precision not in (None, "auto"):
        raise InputError(f"--precision {args.precision} applies to the PyTorch model; an --onnx file runs as exported")
    scoring_precision(args.precision or "auto", "cpu")  # a bad value stops here, before any text is read
    texts = list(args.texts) or read_texts(args.input, args.column)
    fmt = args.format or ("csv" if args.out and args.out.suffix.lower() == ".csv" else "jsonl")
    start = time.perf_counter()
    with whole_or_never(args.out) if args.out is not None else contextlib.nullcontext(sys.stdout) as f:
        predictor = OnnxPredictor(args.onnx, args.batch_size) if args.onnx else \
            Predictor(args.model, args.batch_size, precision=args.precision or "auto")
        if len(texts) > CHUNK:
            log.info("predicting %s texts on %s in %s, %s per batch", f"{len(texts):,}", predictor.device,
                     "int8/fp32 ONNX" if args.onnx else predictor.precision, args.batch_size)
        n = write_rows(predictor.predict(texts, args.top_k), fmt, f)
    log.info("predicted %s texts in %.1f s", f"{n:,}", time.perf_counter() - start)
    return n


def main(argv: list[str] | None = None) -> int:
    example = "\n".join("  " + line.strip() for line in __doc__.splitlines()[2:6])  # no stages import: standalone
    p = argparse.ArgumentParser(prog="synthbert predict", description=__doc__.splitlines()[0],
                                epilog="example:\n" + example, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("texts", nargs="*", help="texts to classify (else --input, else standard input)")
    p.add_argument("--model", default="models/classifier", help="model directory (default: models/classifier)")
    p.add_argument("--input", "-i", help="UTF-8 file: one text per line, a .csv (--column) or .jsonl; '-' = stdin")
    p.add_argument("--column", default="text", help="text column of a .csv / field of a .jsonl input (default: text)")
    p.add_argument("--out", "-o", type=Path, help="file to write (default: standard output)")
    p.add_argument("--format", choices=("jsonl", "csv"), help="output format (default: from --out, else jsonl)")
    p.add_argument("--top-k", type=int, help="probabilities of the k most likely labels (default: all)")
    p.add_argument("--batch-size", type=int, default=64, help="texts per forward pass (default: 64)")
    p.add_argument("--precision", help="auto (default: bf16 autocast where the CPU has AMX or AVX512-BF16, or on "
                                        "a GPU of compute capability >= 8.0; else fp32) | fp32 | bf16")
    p.add_argument("--onnx", type=Path, help="run this ONNX export with onnxruntime instead of --model "
                                             "(`synthbert export` writes models/onnx/model.onnx and model.int8.onnx)")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    if args.batch_size < 1:
        p.error(f"--batch-size must be >= 1, got {args.batch_size}")
    try:
        with stop_on_sigterm():
            run(args)
    except (InputError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:  # SIGINT, or SIGTERM (stop_on_sigterm): no partial --out is left
        signum = exc.args[0] if exc.args else signal.SIGINT
        print(f"error: stopped by {signal.Signals(signum).name}" + (f"; {args.out} not written" if args.out else ""),
              file=sys.stderr)
        return 128 + signum
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
