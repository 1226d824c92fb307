"""Export the trained classifier for serving: ONNX (fp32) and dynamic-int8 ONNX, checked on the test split.

    synthbert export                       # models/classifier -> models/onnx, checked on data/split/test.csv
    synthbert export --model DIR --out DIR --test FILE

Writes OUT/model.onnx (torch.onnx.export, dynamic batch and sequence axes; inputs input_ids and
attention_mask, output logits), OUT/model.int8.onnx (onnxruntime.quantization.quantize_dynamic: int8 weights
per channel; the head, value and feed-forward output projections stay float, see FLOAT_NODES), the tokenizer,
config.json and synthbert_params.json beside them (so `synthbert predict --onnx OUT/model.int8.onnx` needs
nothing else), and OUT/export.json: for each file its size, the share of test rows whose label equals the
PyTorch model's (required >= 99.5%) and the largest probability difference. A row's label is the model's
decision (stages.tools.predict: the saved rule, decision_offsets or argmax; for a multi-label model its label
set, sigmoid probabilities at the per-label decision thresholds). The libraries' warnings and log lines are
silenced (quiet): it prints one line per file. OUT (default models/onnx) is git-ignored, not a DVC output.
Exit code 1 when a file misses the agreement target (the files and the report are still written).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from stages.core import cli

log = logging.getLogger("stages.tools.export")
MIN_AGREEMENT = 0.995


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Silences what the exporters print on a healthy run (about 40 lines): torch.onnx's deprecation and tracer
    warnings, and onnxruntime.quantization's root-logger lines ("Quantization parameters for tensor ... not
    specified", "Ignore MatMul due to non constant B"). Errors still raise."""
    import warnings

    previous = logging.root.manager.disable
    logging.disable(logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logging.disable(previous)


def export_onnx(model_dir: Path, out: Path, opset: int = 18) -> Path:
    """model.onnx from a saved sequence classifier, with the tokenizer and config copied beside it."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    model = AutoModelForSequenceClassification.from_pretrained(str(model_dir), attn_implementation="eager").eval()
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    out.mkdir(parents=True, exist_ok=True)
    tokenizer.save_pretrained(str(out))
    model.config.save_pretrained(str(out))
    if (model_dir / "synthbert_params.json").is_file():
        shutil.copy2(model_dir / "synthbert_params.json", out / "synthbert_params.json")

    class Logits(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: Any, attention_mask: Any) -> Any:
            return self.model(input_ids=input_ids, attention_mask=attention_mask).logits

    example = tokenizer(["an example", "a longer example text"], padding=True, return_tensors="pt")
    axes = {0: "batch", 1: "sequence"}
    target = out / "model.onnx"
    with torch.inference_mode():  # the TorchScript exporter: fast, and dynamic_axes as given
        torch.onnx.export(Logits().eval(), (example["input_ids"], example["attention_mask"]), str(target),
                          input_names=["input_ids", "attention_mask"], output_names=["logits"],
                          dynamic_axes={"input_ids": axes, "attention_mask": axes, "logits": {0: "batch"}},
                          opset_version=opset, dynamo=False)
    return target


# Kept in float: the head (pooler, classifier), whose few products decide the label, and the two kinds of product
# whose int8 inputs flip the most labels: the value projections and the feed-forward output projections (their
# inputs, GELU outputs, have outliers that one int8 scale per tensor crushes). Measured on the default model and
# 5,000 template headlines: all int8 99.1% label agreement, per-channel weights and the head in float 99.3%, this 99.7%
# at about 0.6x the all-int8 speed (benchmarks/README.md, "Export for serving"). Node names: BERT and DistilBERT exports.
FLOAT_NODES = ("classifier", "pooler", "/value/", "/v_lin/", "/ffn/lin2/")


def kept_in_float(name: str) -> bool:
    """Whether the ONNX node `name` stays float in model.int8.onnx (FLOAT_NODES, or a feed-forward output)."""
    return any(part in name for part in FLOAT_NODES) or ("/output/dense/" in name and "/attention/" not in name)


def quantize(onnx_path: Path) -> Path:
    """model.int8.onnx: int8 weights (one scale per output channel) of the matrix products and embeddings but those
    kept_in_float, activations quantized on the fly (dynamic)."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    target = onnx_path.with_name("model.int8.onnx")
    # per_channel first rewrites each Gemm (pooler, classifier) as a MatMul named NAME_MatMul, then quantizes that
    floats = [name for node in onnx.load(str(onnx_path), load_external_data=False).graph.node
              if kept_in_float(node.name) for name in (node.name, f"{node.name}_MatMul")]
    quantize_dynamic(str(onnx_path), str(target), weight_type=QuantType.QInt8, per_channel=True,
                     nodes_to_exclude=floats)
    return target


def agreement(reference: Any, other: Any, thresholds: Any = None, offsets: Any = None) -> dict[str, Any]:
    """Label agreement (share of rows with the same decision: argmax, or the model's saved `offsets` rule
    (core/decision.py); with a multi-label model's `thresholds`, one per label, the same thresholded label set) and
    the largest probability difference."""
    import numpy as np

    from stages.core.decision import decide

    if thresholds is not None:
        t = np.asarray(thresholds, dtype=float)[None, :]
        same = float(np.mean(((reference >= t) == (other >= t)).all(1))) if len(reference) else 1.0
    else:
        same = float(np.mean(decide(reference, offsets) == decide(other, offsets))) if len(reference) else 1.0
    return {"label_agreement": round(same, 6), "max_probability_difference": round(float(np.abs(reference - other).max()), 6)
            if len(reference) else 0.0, "ok": same >= MIN_AGREEMENT}


def run(model_dir: Path, out: Path, test_csv: Path, batch_size: int = 64) -> dict[str, Any]:
    """Export, quantize, compare with the PyTorch model on the texts of `test_csv`; write OUT/export.json."""
    from stages.tools import predict

    texts = predict.read_texts(str(test_csv))
    torch_model = predict.Predictor(model_dir, batch_size, device="cpu")
    reference = torch_model.proba(texts)  # sigmoid per label for a multi-label model, else softmax
    thresholds = torch_model.thresholds if torch_model.multi_label else None
    with quiet():
        files = {"onnx": export_onnx(model_dir, out)}
        files["int8"] = quantize(files["onnx"])
    report: dict[str, Any] = {"model": str(model_dir), "test": str(test_csv), "rows": len(texts),
                              "min_label_agreement": MIN_AGREEMENT}
    for name, path in files.items():
        probs = predict.OnnxPredictor(path, batch_size).proba(texts)
        report[name] = {"file": path.name, "bytes": path.stat().st_size, **agreement(reference, probs, thresholds, torch_model.offsets)}
        log.info("%s: %s, %.1f MB, label agreement %.2f%%, largest probability difference %.2g", name, path,
                 path.stat().st_size / 1e6, 100 * report[name]["label_agreement"],
                 report[name]["max_probability_difference"])
    (out / "export.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return report


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="synthbert export", description=__doc__.splitlines()[0],
                                epilog=cli.epilog(cli.examples(__doc__)), formatter_class=cli.HelpFormatter)
    p.add_argument("--model", type=Path, default=Path("models/classifier"), help="trained model directory")
    p.add_argument("--out", type=Path, default=Path("models/onnx"), help="directory to write")
    p.add_argument("--test", type=Path, default=Path("data/split/test.csv"), help="texts to check agreement on")
    p.add_argument("--batch-size", type=int, default=64, help="texts per forward pass")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    from stages.tools.predict import InputError

    try:
        report = run(args.model, args.out, args.test, args.batch_size)
    except (InputError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    failed = [name for name in ("onnx", "int8") if not report[name]["ok"]]
    for name in failed:
        print(f"error: {name}: label agreement {report[name]['label_agreement']:.2%} with the PyTorch model on "
              f"{args.test}, expected >= {MIN_AGREEMENT:.1%} (see {args.out / 'export.json'})", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
