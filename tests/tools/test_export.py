"""stages.tools.export: ONNX and int8 ONNX of the tiny BERT, their agreement with PyTorch on a test file, the
report, and `predict --onnx` giving PyTorch's labels."""

from __future__ import annotations

import json
import logging
import warnings

import numpy as np
import pandas as pd
import pytest
import torch

from stages.core import modeling
from stages.generation.task import load_task
from stages.generation.template import generate_label
from stages.tools import __main__ as tools_main
from stages.tools import export, predict
from testkit import ROOT


@pytest.fixture(scope="module")
def exported(tmp_path_factory, tiny_bert):
    """A classifier with a confident head (weights scaled: labels far from ties) and a saved decision rule that
    disagrees with argmax (every text 2 log-odds away from the rule's boundary), exported once."""
    tmp = tmp_path_factory.mktemp("export")
    model = modeling.load_classifier(str(tiny_bert), ["clickbait", "factual"])
    with torch.no_grad():
        model.classifier.weight.mul_(40)
    tokenizer = modeling.load_tokenizer(str(tiny_bert))
    task = load_task(ROOT / "data" / "tasks" / "clickbait.yaml")
    rows = [(t, label.name) for label in task.labels for t in generate_label(label, 30, seed=2)]
    pd.DataFrame(rows, columns=["text", "label"]).to_csv(tmp / "test.csv", index=False)
    proba = modeling.predict_proba(model, tokenizer, [t for t, _ in rows])
    odds = np.log(proba[:, 1] / proba[:, 0])  # of factual; the head's random start depends on earlier tests
    offset = -(odds.max() + 2.0) if (odds > 0).any() else 2.0 - odds.min()  # all clickbait, else all factual
    model.config.decision_offsets = {"clickbait": 0.0, "factual": float(offset)}
    model.save_pretrained(str(tmp / "classifier"))
    tokenizer.save_pretrained(str(tmp / "classifier"))
    records: list[logging.LogRecord] = []
    handler = logging.Handler(logging.DEBUG)
    handler.emit = records.append  # type: ignore[method-assign]
    logging.root.addHandler(handler)
    previous = logging.root.level
    logging.root.setLevel(logging.DEBUG)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            code = tools_main.main(["export", "--model", str(tmp / "classifier"), "--out", str(tmp / "onnx"),
                                    "--test", str(tmp / "test.csv")])
    finally:
        logging.root.removeHandler(handler)
        logging.root.setLevel(previous)
    EXPORT_OUTPUT.extend([f"{r.name}: {r.getMessage()}" for r in records] + [str(w.message) for w in caught])
    return tmp, code


EXPORT_OUTPUT: list[str] = []  # every log record and warning of the fixture's export run


def test_export_prints_only_its_own_lines(exported):
    """torch.onnx's deprecation and tracer warnings and onnxruntime.quantization's ~40 root-logger lines are
    silenced: what is left is export's own line per file (and transformers' loading, at debug level)."""
    ours = [line for line in EXPORT_OUTPUT if line.startswith("stages.tools.export: ")]
    assert [line.split(":")[1].strip() for line in ours] == ["onnx", "int8"], EXPORT_OUTPUT
    assert not [line for line in EXPORT_OUTPUT if line.startswith("root: ") or "onnx" in line.lower()
                and not line.startswith("stages.tools.export: ")], EXPORT_OUTPUT


def test_export_writes_onnx_int8_and_a_report_that_agrees(exported):
    tmp, code = exported
    report = json.loads((tmp / "onnx" / "export.json").read_text())
    assert code == 0 and report["rows"] == 60
    assert report["onnx"]["label_agreement"] == 1.0 and report["onnx"]["max_probability_difference"] < 1e-4
    assert report["int8"]["label_agreement"] >= 0.995 and report["int8"]["ok"]
    assert report["int8"]["bytes"] < report["onnx"]["bytes"]
    assert {"model.onnx", "model.int8.onnx", "config.json", "tokenizer.json"} <= {p.name for p in (tmp / "onnx").iterdir()}


@pytest.mark.parametrize("name", ["model.onnx", "model.int8.onnx"])
def test_predict_onnx_gives_the_pytorch_labels(exported, name, capsys):
    tmp, _ = exported
    texts = pd.read_csv(tmp / "test.csv")["text"].tolist()
    want = predict.Predictor(tmp / "classifier", device="cpu")
    assert predict.main(["--onnx", str(tmp / "onnx" / name), "--input", str(tmp / "test.csv")]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    decided = [r["label"] for r in want.predict(texts)]  # by the saved rule, which export copies with the config
    assert [r["label"] for r in rows] == decided != [want.labels[i] for i in want.proba(texts).argmax(1)]
    # dynamic axes: any batch size and length
    onnx = predict.OnnxPredictor(tmp / "onnx" / name, batch_size=7)
    np.testing.assert_allclose(onnx.proba(texts), want.proba(texts), atol=1e-4 if name == "model.onnx" else 0.1)


def test_agreement_compares_the_decisions_of_the_saved_rule():
    a = np.array([[0.9, 0.1]] * 199 + [[0.3, 0.7]])
    b = a.copy()
    b[-1] = [0.6, 0.4]  # argmax flips on the last row; with an offset of -1 on factual both are clickbait
    assert export.agreement(a, b)["label_agreement"] == 0.995
    assert export.agreement(a, b, offsets=[0.0, -1.0])["label_agreement"] == 1.0


def test_agreement_below_target_fails():
    a = np.array([[0.9, 0.1]] * 199 + [[0.4, 0.6]])
    assert export.agreement(a, a)["ok"] and export.agreement(a, a)["label_agreement"] == 1.0
    flipped = a.copy()
    flipped[:2] = [[0.2, 0.8]]
    result = export.agreement(a, flipped)
    assert result == {"label_agreement": 0.99, "max_probability_difference": 0.7, "ok": False}


@pytest.mark.parametrize("damage", ["truncate", "binary"])
def test_a_truncated_or_binary_onnx_file_is_one_line_naming_it_exit_2(exported, tmp_path, capsys, damage):
    import shutil

    tmp, _ = exported
    shutil.copytree(tmp / "onnx", tmp_path / "onnx")
    bad = tmp_path / "onnx" / "model.onnx"
    data = bad.read_bytes()
    bad.write_bytes(data[: len(data) // 2] if damage == "truncate" else bytes(range(256)) * 64)
    assert predict.main(["--onnx", str(bad), "hello"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: {bad}: not a loadable ONNX model (") and "truncated?" in err[0]


def test_missing_onnx_file_is_a_one_line_error(tmp_path, capsys):
    assert predict.main(["--onnx", str(tmp_path / "nope.onnx"), "hello"]) == 2
    assert "nope.onnx: ONNX file not found" in capsys.readouterr().err


def test_int8_keeps_the_head_value_and_feed_forward_output_in_float(exported):
    import onnx

    tmp, _ = exported
    quantized = [n.name for n in onnx.load(str(tmp / "onnx" / "model.int8.onnx")).graph.node
                 if n.op_type in ("MatMulInteger", "DynamicQuantizeMatMul")]
    assert any("/query/" in name for name in quantized) and any("/intermediate/" in name for name in quantized)
    assert not [name for name in quantized if export.kept_in_float(name)], quantized
    assert export.kept_in_float("/model/bert/encoder/layer.0/output/dense/MatMul")
    assert not export.kept_in_float("/model/bert/encoder/layer.0/attention/output/dense/MatMul")
