"""`synthbert predict` and `synthbert export` on a multi-label model: sigmoid per label, every label at or above
its decision threshold (config.json decision_thresholds), joined by "|"; ONNX agreement on thresholded sets."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest

from stages.core import labelsets, modeling
from stages.tools import __main__ as tools_main
from stages.tools import export, predict
from tests.multilabel_kit import build_model

LABELS = ["billing", "technical", "urgent"]
TEXTS = ["please refund my invoice", "the app crashes on login", "urgent please call me back now",
         "invoice page crashes with an error", "refund me today it is urgent", "my card was charged twice",
         "an error page when loading settings", "urgent the app crashes again"]
THRESHOLDS = {"billing": 0.3, "technical": 0.7}  # urgent: none saved -> 0.5


@pytest.fixture(scope="module")
def ml_model(tmp_path_factory):
    """A multi-label classifier with a confident random head (scores spread over (0, 1)) and saved thresholds."""
    tmp = tmp_path_factory.mktemp("predict-ml")
    build_model(tmp, THRESHOLDS, name="classifier", labels=LABELS, words=TEXTS, scale=30)
    return tmp


def expected_sets(proba):
    return labelsets.from_multi_hot(labelsets.decide(proba, [0.3, 0.7, 0.5]), LABELS)


def test_predictor_gives_sigmoids_and_thresholded_label_sets(ml_model, capsys):
    from transformers import pipeline

    p = predict.Predictor(ml_model / "classifier", device="cpu")
    assert p.multi_label and p.thresholds == [0.3, 0.7, 0.5]
    proba = p.proba(TEXTS)
    clf = pipeline("text-classification", model=str(ml_model / "classifier"), top_k=None, device="cpu")
    want = np.array([[{d["label"]: d["score"] for d in row}[lab] for lab in LABELS] for row in clf(TEXTS)])
    np.testing.assert_allclose(proba, want, atol=1e-5)
    assert not np.allclose(proba.sum(1), 1.0)  # independent sigmoids, not a softmax
    assert predict.main(["--model", str(ml_model / "classifier"), "--precision", "fp32", *TEXTS]) == 0  # exact
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    sets = expected_sets(proba)
    assert [r["label"] for r in rows] == sets
    for r, q in zip(rows, proba):
        assert r["score"] == pytest.approx(float(np.min(np.maximum(q, 1 - q))), abs=1e-6)
        assert r["top_k"] == pytest.approx(dict(zip(LABELS, q)), abs=1e-6)
        assert all(lab in LABELS for lab in labelsets.split_labels(r["label"]))


def test_thresholds_decide_not_one_half(ml_model):
    p = predict.Predictor(ml_model / "classifier", device="cpu")
    proba = p.proba(TEXTS)
    rows = list(p.predict(TEXTS))
    for r, q in zip(rows, proba):
        chosen = set(labelsets.split_labels(r["label"]))
        assert ("billing" in chosen) == (q[0] >= 0.3) and ("technical" in chosen) == (q[1] >= 0.7)
        assert ("urgent" in chosen) == (q[2] >= 0.5)


def test_csv_output_of_a_multi_label_model(ml_model, tmp_path):
    out = tmp_path / "pred.csv"
    assert predict.main(["--model", str(ml_model / "classifier"), "--out", str(out), *TEXTS[:3]]) == 0
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    proba = predict.Predictor(ml_model / "classifier", device="cpu").proba(TEXTS[:3])
    assert [r["label"] for r in rows] == expected_sets(proba) and list(rows[0])[:3] == ["text", "label", "score"]


def test_export_of_a_multi_label_model_agrees_on_label_sets(ml_model, capsys):
    (ml_model / "test.csv").write_text("text\n" + "\n".join(TEXTS) + "\n", encoding="utf-8")
    code = tools_main.main(["export", "--model", str(ml_model / "classifier"), "--out", str(ml_model / "onnx"),
                            "--test", str(ml_model / "test.csv")])
    report = json.loads((ml_model / "onnx" / "export.json").read_text())
    assert code == 0 and report["onnx"]["label_agreement"] == 1.0
    assert report["onnx"]["max_probability_difference"] < 1e-4
    capsys.readouterr()
    assert predict.main(["--onnx", str(ml_model / "onnx" / "model.onnx"), *TEXTS]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    torch_rows = list(predict.Predictor(ml_model / "classifier", device="cpu").predict(TEXTS))
    assert [r["label"] for r in rows] == [r["label"] for r in torch_rows]


def test_agreement_compares_thresholded_label_sets():
    a = np.array([[0.9, 0.2]] * 199 + [[0.4, 0.6]])
    # Argmax would flip on the last row; the label sets at thresholds (0.3, 0.5) do not change.
    b = a.copy()
    b[-1] = [0.7, 0.55]
    assert export.agreement(a, b, [0.3, 0.5])["label_agreement"] == 1.0
    assert export.agreement(a, b)["label_agreement"] == 0.995
    b[:2] = [[0.9, 0.6]]  # urgent crosses its threshold on two rows
    result = export.agreement(a, b, [0.3, 0.5])
    assert result == {"label_agreement": 0.99, "max_probability_difference": 0.4, "ok": False}
