import json

import pandas as pd
import pytest

from stages import evaluate, params, train
from stages.errors import DataError
from tests.test_train import tiny_cfg, write_splits


def test_metrics_match_a_ten_row_example_computed_by_hand():
    y_true = ["a", "a", "a", "a", "a", "b", "b", "b", "b", "b"]
    y_pred = ["a", "a", "a", "b", "b", "b", "b", "b", "b", "a"]
    m = evaluate.classification_metrics(y_true, y_pred, ["a", "b"])
    # a: tp=3, fp=1, fn=2 -> P=3/4, R=3/5, F1=2*.75*.6/1.35=0.666667
    # b: tp=4, fp=2, fn=1 -> P=4/6, R=4/5, F1=2*(2/3)*.8/(2/3+.8)=0.727273
    assert m["accuracy"] == 0.7
    assert m["per_label"]["a"] == {"precision": 0.75, "recall": 0.6, "f1": 0.666667, "support": 5}
    assert m["per_label"]["b"] == {"precision": 0.666667, "recall": 0.8, "f1": 0.727273, "support": 5}
    assert m["f1_macro"] == pytest.approx((0.666667 + 0.727273) / 2, abs=1e-6)
    assert m["precision_macro"] == pytest.approx((0.75 + 2 / 3) / 2, abs=1e-6)
    assert m["confusion_matrix"] == {"labels": ["a", "b"], "matrix": [[3, 2], [1, 4]]}


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory, tiny_bert):
    tmp = tmp_path_factory.mktemp("eval")
    train.run(tiny_cfg(tiny_bert, epochs=1), 0, write_splits(tmp), tmp / "model", tmp / "reports")
    return tmp / "model"


def test_evaluate_writes_metrics_predictions_and_plots(tmp_path, model_dir):
    split_dir = write_splits(tmp_path)
    cfg = params.load_dict({}, "evaluate")
    m = evaluate.run(cfg, model_dir, split_dir, tmp_path / "metrics.json", tmp_path / "eval")
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["test"]["accuracy"] == m["accuracy"] and saved["test"]["rows"] == 8
    preds = pd.read_csv(tmp_path / "eval" / "predictions.csv")
    assert list(preds.columns) == ["text", "true", "predicted", "confidence", "p_clickbait", "p_factual"]
    assert ((preds["p_clickbait"] + preds["p_factual"] - 1).abs() < 1e-5).all()
    assert (preds["confidence"] >= 0.5).all()
    confusion = pd.read_csv(tmp_path / "eval" / "confusion.csv")
    assert list(confusion.columns) == ["actual", "predicted"] and len(confusion) == 8
    assert (tmp_path / "eval" / "confusion.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_test_label_unknown_to_the_model_is_a_clear_error(tmp_path, model_dir):
    split_dir = write_splits(tmp_path)
    pd.DataFrame({"text": ["a satire headline"], "label": ["satire"]}).to_csv(split_dir / "test.csv", index=False)
    with pytest.raises(DataError, match="test.csv: label 'satire' is unknown to the model"):
        evaluate.run(params.load_dict({}, "evaluate"), model_dir, split_dir, tmp_path / "m.json", tmp_path / "e")
    assert not (tmp_path / "m.json").exists()
