"""The evaluate stage on a multi-label model end to end through run(): label-set predictions decided at the
model's thresholds, metrics checked against scikit-learn from predictions.csv, one-vs-rest baselines, intervals,
external sets with their own separator, and a label the model does not know."""

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import accuracy_score, f1_score, hamming_loss

from stages import evaluate
from stages.core import labelsets, params
from stages.core.errors import DataError, ParamsError
from tests.multilabel_kit import LABELS, build_model, write_splits


def cfg_of(**kw):
    return params.load_dict({"bootstrap": 200, **kw}, "evaluate")


def run(tmp, model, cfg=None, **kw):
    return evaluate.run(cfg=cfg or cfg_of(), seed=42, base_model=str(model.parent / "base"), model_dir=model,
                        split_dir=write_splits(tmp), metrics_path=tmp / "metrics.json",
                        eval_dir=tmp / "eval", **kw)


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("multilabel")
    out = run(tmp, build_model(tmp))
    return tmp, out


def test_metrics_json_holds_the_multi_label_headline(evaluated):
    tmp, out = evaluated
    saved = json.loads((tmp / "metrics.json").read_text())
    assert list(saved["test"]) == ["f1_micro", "f1_macro", "f1_samples", "hamming_loss", "subset_accuracy", "roc_auc_macro"]
    assert saved["test"] == {k: out["test"][k] for k in saved["test"]}


def test_metrics_agree_with_sklearn_on_the_predictions_file(evaluated):
    tmp, out = evaluated
    preds = pd.read_csv(tmp / "eval" / "predictions.csv", keep_default_na=False)
    assert list(preds.columns) == ["text", "true", "predicted", "confidence", *(f"p_{lab}" for lab in LABELS)]
    Y, D = (labelsets.multi_hot(preds[c].tolist(), LABELS) for c in ("true", "predicted"))
    t = out["test"]
    assert t["multi_label"] is True and t["confusion_matrix"] is None
    assert t["f1_micro"] == pytest.approx(f1_score(Y, D, average="micro"), abs=1e-6)
    assert t["f1_samples"] == pytest.approx(f1_score(Y, D, average="samples", zero_division=0), abs=1e-6)
    assert t["f1_macro"] == pytest.approx(f1_score(Y, D, average="macro", zero_division=0), abs=1e-6)
    assert t["hamming_loss"] == pytest.approx(hamming_loss(Y, D), abs=1e-6)
    assert t["subset_accuracy"] == t["accuracy"] == pytest.approx(accuracy_score(Y, D), abs=1e-6)
    # decided at the model's own thresholds, saved in its config
    thresholds = json.loads((tmp / "model" / "config.json").read_text())["decision_thresholds"]
    assert t["thresholds"] == thresholds
    P = preds[[f"p_{lab}" for lab in LABELS]].to_numpy()
    assert np.array_equal(D, P >= np.array([thresholds[lab] for lab in LABELS]))
    assert preds["confidence"].tolist() == pytest.approx(np.maximum(P, 1 - P).min(1), abs=1e-6)
    for lab, c in t["label_confusion"].items():
        j = LABELS.index(lab)
        assert (c["tp"], c["fp"]) == (int((Y[:, j] & D[:, j]).sum()), int(((1 - Y[:, j]) & D[:, j]).sum()))


def test_intervals_bracket_the_point_values(evaluated):
    t = evaluated[1]["test"]
    for key in ("accuracy", "f1_micro", "f1_macro", "f1_samples"):
        assert t[f"{key}_ci_low"] <= t[key] <= t[f"{key}_ci_high"], key
    for lab, v in t["per_label"].items():
        for key in ("precision", "recall", "f1"):  # per-label precision and recall get intervals too
            assert v[f"{key}_ci_low"] <= v[key] <= v[f"{key}_ci_high"], (lab, key)
        assert v["roc_auc"] is not None and v["average_precision"] is not None
    assert t["roc_auc_macro"] == pytest.approx(np.mean([v["roc_auc"] for v in t["per_label"].values()]), abs=1e-6)


def test_mismatches_confusion_curves_and_slices(evaluated):
    tmp, _ = evaluated
    ev = tmp / "eval"
    preds = pd.read_csv(ev / "predictions.csv", keep_default_na=False)
    wrong = pd.read_csv(ev / "mismatches.csv", keep_default_na=False)
    assert list(wrong.columns) == [*preds.columns, "source", "missed", "extra"]
    assert len(wrong) == int((preds["true"] != preds["predicted"]).sum()) > 0
    for _, row in wrong.iterrows():
        true, pred = set(labelsets.split_labels(row["true"])), set(labelsets.split_labels(row["predicted"]))
        assert labelsets.split_labels(row["missed"]) == sorted(true - pred)
        assert labelsets.split_labels(row["extra"]) == sorted(pred - true)
    assert list(pd.read_csv(ev / "confusion.csv").columns) == ["label", "tn", "fp", "fn", "tp"]
    assert not (ev / "confusion.png").exists()  # no empty chart: a multi-label model has no confusion matrix
    assert set(pd.read_csv(ev / "roc.csv")["label"]) == set(LABELS)  # one curve per label
    for name in ("roc.png", "pr.png", "reliability.png", "per_label_f1.png"):
        assert (ev / name).read_bytes()[:4] == b"\x89PNG", name
    slices = pd.read_csv(ev / "slices.csv")
    assert slices.groupby("slice_by")["rows"].sum().to_dict() == {"length": 8, "origin": 8, "source": 8}
    by_origin = slices[slices["slice_by"] == "origin"]
    assert by_origin["slice"].tolist() == ["tickets-1", "tickets-2", "tickets-3"]
    assert by_origin["rows"].tolist() == [3, 3, 2]
    missed = (preds["true"] != preds["predicted"]).groupby([f"tickets-{i % 3 + 1}" for i in range(8)]).sum()
    assert by_origin["mismatches"].tolist() == missed.tolist()  # rows with any wrong label, per template
    summary = (ev / "summary.md").read_text()
    assert "## Multi-label" in summary and "| model | subset accuracy [95% CI] |" in summary


def test_one_vs_rest_baselines_scored_with_paired_gains(evaluated):
    tmp, _ = evaluated
    table = json.loads((tmp / "eval" / "baselines.json").read_text())
    assert list(table["models"]) == ["fine_tuned", "majority", "tfidf_lr", "frozen_lr"]
    ft = table["models"]["fine_tuned"]["test"]["f1_macro"]
    for name in ("majority", "tfidf_lr", "frozen_lr"):
        row = table["models"][name]["test"]
        assert row["fine_tuned_gain_f1_macro"] == pytest.approx(ft - row["f1_macro"], abs=1e-6)
        assert row["gain_ci_low"] <= row["fine_tuned_gain_f1_macro"] <= row["gain_ci_high"]
    # TF-IDF sees the test texts in train: every label set right; majority (billing, 4 of 8 rows) gets 1 row right
    assert table["models"]["tfidf_lr"]["test"]["accuracy"] == 1.0
    assert table["models"]["majority"]["test"]["accuracy"] == 0.125


def test_thresholds_decide_the_predictions(tmp_path, evaluated):
    low = build_model(tmp_path, {"account": 0.5, "billing": 0.45, "technical": 0.5, "urgent": 0.0}, name="low")
    run(tmp_path, low, cfg_of(baselines={"models": []}))
    first = pd.read_csv(evaluated[0] / "eval" / "predictions.csv", keep_default_na=False)
    preds = pd.read_csv(tmp_path / "eval" / "predictions.csv", keep_default_na=False)
    assert first["p_urgent"].tolist() == preds["p_urgent"].tolist()  # same model, only the threshold changed
    assert all("urgent" in labelsets.split_labels(cell) for cell in preds["predicted"])
    assert not all("urgent" in labelsets.split_labels(cell) for cell in first["predicted"])


def test_external_set_with_its_own_separator_and_label_map(tmp_path, evaluated):
    tmp, _ = evaluated
    (tmp_path / "ext").mkdir()
    pd.DataFrame({"text": ["my card was charged twice", "app crashes now"], "tags": ["money;urgent", "tech"]}).to_csv(
        tmp_path / "ext" / "real.csv", index=False)
    cfg = cfg_of(baselines={"models": ["majority"]}, external_test=[
        {"name": "real", "path": "real.csv", "label_column": "tags", "label_separator": ";",
         "label_map": {"money": "billing", "tech": "technical"}}])
    out = run(tmp_path, tmp / "model", cfg, external_dir=tmp_path / "ext")
    assert out["external"]["real"]["rows"] == 2
    assert set(out["baselines"]["models"]["majority"]) == {"train_seconds", "test", "real"}


def test_a_test_label_unknown_to_the_model_is_one_line(tmp_path, evaluated):
    d = write_splits(tmp_path)
    test = pd.read_csv(d / "test.csv")
    test.loc[0, "label"] = "billing|refund"
    test.to_csv(d / "test.csv", index=False)
    with pytest.raises(DataError, match=r"test\.csv: label 'refund' is unknown to the model \(model labels: account, "):
        evaluate.run(cfg=cfg_of(), seed=0, base_model="unused", model_dir=evaluated[0] / "model", split_dir=d,
                     metrics_path=tmp_path / "m.json", eval_dir=tmp_path / "eval")


def test_label_separator_needs_a_multi_label_model(tmp_path):
    from stages.evaluation import external

    spec = params.load_dict({"external_test": [{"name": "x", "path": "x.csv", "label_separator": ";"}]},
                            "evaluate").external_test[0]
    with pytest.raises(ParamsError, match=r"evaluate.external_test\[0\].label_separator must be unset"):
        external.read_external(spec, "evaluate.external_test[0]", tmp_path, ["a", "b"])


def test_a_real_set_of_another_task_is_left_out_of_a_multi_label_run_and_a_partial_one_is_an_error(tmp_path):
    from stages.evaluation import external

    (tmp_path / "x.csv").write_text("text,label\nwin a cruise,clickbait\nrates rise,factual|clickbait\n")
    spec = params.load_dict({"external_test": [{"name": "x", "path": "x.csv"}]}, "evaluate").external_test[0]
    assert external.read_external(spec, "evaluate.external_test[0]", tmp_path, ["a", "b"], multi_label=True) is None
    (tmp_path / "x.csv").write_text("text,label\nwin a cruise,a\nrates rise,factual|b\n")
    with pytest.raises(DataError, match=r"label 'factual' is unknown to the model"):
        external.read_external(spec, "evaluate.external_test[0]", tmp_path, ["a", "b"], multi_label=True)
