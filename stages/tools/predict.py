"""Use the trained classifier: the label and class probabilities of each text, batched.

    synthbert predict "You won't believe what the mayor did" "Council approves budget"
    synthbert predict --input headlines.txt --out predictions.csv --top-k 1
    synthbert predict --onnx models/onnx/model.int8.onnx "Council approves budget"
    cat headlines.txt | synthbert predict --format csv

Needs only a model directory (default models/classifier): no params.yaml, data or DVC. It imports nothing
else from this repository, so the file can be copied next to a model and run as `python predict.py`. That is
why Predictor keeps its own copies of the batched forward pass (stages.core.modeling.run_batches: sorted by token
count, each batch padded to its own longest row) and of the decision rule (stages.core.decision.decide) instead of
importing them; tests check they agree. Input: texts as arguments, --input FILE (UTF-8; one text per line, the
`text` column of a .csv or the "text" field of each .jsonl line), or standard input. Output, in input order: JSON
lines (default) with label, score and the top-k probabilities, or CSV (text,label,score,label_2,score_2,...).
A single-label model's `label` is decided by its saved rule (the label maximising log(p) + its offset in config.json
decision_offsets, tuned on val; none saved: argmax), `score` is that label's probability. A multi-label model
(config problem_type multi_label_classification) gives one sigmoid probability per label: `label` is every label
whose probability reaches its threshold (config.json decision_thresholds, else 0.5), joined by "|" ("" for none),
and `score` the lowest max(p, 1 - p) over the labels.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import logging
import os
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

log = logging.getLogger("stages.tools.predict")
CHUNK = 8192  # texts tokenized and sorted together; bounds memory on large inputs
LABEL_SEP = "|"  # joins a multi-label prediction's labels (stages.core.labelsets.LABEL_SEP; no import: standalone)
PROGRESS_S = float(os.environ.get("SYNTHBERT_PROGRESS_S", "10"))  # a progress line on stderr this often


class InputError(Exception):
    """Bad input from the user: printed as one `error: ...` line, exit code 2."""


def read_texts(path: str | None, column: str = "text") -> list[str]:
    """Non-blank texts from a file, or from standard input when `path` is None or '-'."""
    stdin = path in (None, "-")
    name = "standard input" if stdin else path
    if not stdin and not Path(path).is_file():
        raise InputError(f"{path}: input file not found")
    data = sys.stdin.buffer.read() if stdin else Path(path).read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InputError(f"{name}: not valid UTF-8 (byte 0x{data[exc.start]:02x} on line {line}); re-save it as UTF-8") from None
    suffix = "" if stdin else Path(path).suffix.lower()
    if suffix == ".csv":
        reader = csv.DictReader(io.StringIO(text))
        if column not in (reader.fieldnames or []):
            raise InputError(f"{name}: no column {column!r} (found {', '.join(reader.fieldnames or []) or 'none'})")
        texts = [row[column] or "" for row in reader]
    elif suffix == ".jsonl":
        texts = []
        for i, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    texts.append(str(json.loads(line)[column]))
                except (json.JSONDecodeError, KeyError, TypeError):
                    raise InputError(f"{name}: line {i} is not a JSON object with a {column!r} field") from None
    else:
        texts = text.splitlines()
    texts = [t for t in texts if t.strip()]
    if not texts:
        raise InputError(f"{name}: empty input (no texts)")
    return texts


class Predictor:
    """A sequence classifier and its tokenizer from one directory; `proba(texts)` in length-sorted batches."""

    def __init__(self, model_dir: str | Path, batch_size: int = 64, device: str | None = None) -> None:
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

    def proba(self, texts: Sequence[str]) -> Any:
        """(n, labels) float32 probabilities. Tokenizes once, sorts by token count and pads each batch only to
        its own longest row, so little work goes into padding."""
        import numpy as np
        import torch

        out = np.zeros((len(texts), len(self.labels)), dtype=np.float32)
        pad = self.tokenizer.pad_token_id or 0
        ids = self.tokenizer(list(texts), truncation=True, max_length=self.max_length)["input_ids"]
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        with torch.inference_mode():
            for start in range(0, len(order), self.batch_size):
                idx = order[start:start + self.batch_size]
                width = max(len(ids[i]) for i in idx)
                batch = torch.full((len(idx), width), pad, dtype=torch.long)
                mask = torch.zeros((len(idx), width), dtype=torch.long)
                for row, i in enumerate(idx):
                    batch[row, : len(ids[i])] = torch.tensor(ids[i])
                    mask[row, : len(ids[i])] = 1
                logits = self._logits(batch, mask).float()
                out[idx] = (torch.sigmoid(logits) if self.multi_label else torch.softmax(logits, -1)).cpu().numpy()
        return out

    def _logits(self, batch: Any, mask: Any) -> Any:
        return self.model(input_ids=batch.to(self.device), attention_mask=mask.to(self.device)).logits

    def predict(self, texts: Sequence[str], top_k: int | None = None) -> Iterator[dict[str, Any]]:
        """One dict per text, in input order: text, label, score and `top_k` {label: probability}."""
        k = min(top_k or len(self.labels), len(self.labels))
        began = last = time.perf_counter()
        for start in range(0, len(texts), CHUNK):
            chunk = texts[start:start + CHUNK]
            proba = self.proba(chunk)
            done, now = start + len(chunk), time.perf_counter()
            if now - last >= PROGRESS_S or (done == len(texts) and last > began):  # long runs only
                rate = done / max(now - began, 1e-9)
                log.info("predicted %s/%s texts (%.0f%%), %.1f texts/s, ETA %.0f s", f"{done:,}", f"{len(texts):,}",
                         100 * done / len(texts), rate, (len(texts) - done) / rate)
                last = now
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
        self.device, self.batch_size = "cpu", batch_size
        self._decision_rule(config)
        self.max_length = self._max_length(path.parent)

    def _logits(self, batch: Any, mask: Any) -> Any:
        import torch

        out = self.session.run(["logits"], {"input_ids": batch.numpy(), "attention_mask": mask.numpy()})[0]
        return torch.from_numpy(out)


def write_rows(rows: Iterator[dict[str, Any]], fmt: str, f: Any) -> int:
    n = 0
    writer = csv.writer(f, lineterminator="\n")
    for n, row in enumerate(rows, 1):
        if fmt == "jsonl":
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
        else:
            ranked = list(row["top_k"].items())
            if n == 1:
                writer.writerow(["text", "label", "score"] + [f"{c}_{r}" for r in range(2, len(ranked) + 1)
                                                              for c in ("label", "score")])
            writer.writerow([row["text"], row["label"], row["score"]] + [v for pair in ranked[1:] for v in pair])
    return n


def check_writable(out: Path) -> None:
    """Fail before predicting anything when --out cannot be written (one line naming --out)."""
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=out.parent).close()  # created and removed at once: the directory takes files
    except OSError as exc:
        raise InputError(f"--out {out}: cannot write into {out.parent} ({exc.strerror or exc})") from None
    if out.is_dir():
        raise InputError(f"--out {out}: is a directory; expected a file name such as predictions.csv")


def run(args: argparse.Namespace) -> int:
    if args.texts and args.input:
        raise InputError("give texts as arguments or --input FILE, not both")
    if args.top_k is not None and args.top_k < 1:
        raise InputError(f"--top-k must be >= 1, got {args.top_k}")
    if not args.texts and args.input is None and sys.stdin.isatty():
        raise InputError("no texts: give them as arguments, with --input FILE, or on standard input")
    texts = list(args.texts) or read_texts(args.input, args.column)
    fmt = args.format or ("csv" if args.out and args.out.suffix.lower() == ".csv" else "jsonl")
    if args.out is not None:
        check_writable(args.out)
    start = time.perf_counter()
    predictor = OnnxPredictor(args.onnx, args.batch_size) if args.onnx else Predictor(args.model, args.batch_size)
    if len(texts) > CHUNK:
        log.info("predicting %s texts on %s, %s per batch", f"{len(texts):,}", predictor.device, args.batch_size)
    rows = predictor.predict(texts, args.top_k)
    if args.out is None:
        n = write_rows(rows, fmt, sys.stdout)
    else:  # atomic: a killed run never leaves a half-written file that looks finished
        args.out.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{args.out.name}.", dir=args.out.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
                n = write_rows(rows, fmt, f)
            os.replace(tmp, args.out)
        finally:
            Path(tmp).unlink(missing_ok=True)
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
    p.add_argument("--onnx", type=Path, help="run this ONNX export with onnxruntime instead of --model "
                                             "(`synthbert export` writes models/onnx/model.onnx and model.int8.onnx)")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    if args.batch_size < 1:
        p.error(f"--batch-size must be >= 1, got {args.batch_size}")
    try:
        run(args)
    except (InputError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
