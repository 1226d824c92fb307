"""The evaluate stage end to end through run() and main(), with one tiny model trained once for the module."""

import json

import pandas as pd
import pytest
import yaml

from stages import evaluate, train
from testkit import ROOT
from stages.core import modeling, params
from stages.core.errors import DataError, ParamsError
from tests.test_train import CLICKBAIT, FACTUAL, tiny_cfg, write_splits

PNGS = ["confusion.png", "per_label_f1.png", "reliability.png", "roc.png", "pr.png"]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory, tiny_bert):
    tmp = tmp_path_factory.mktemp("eval")
    train.run(cfg=tiny_cfg(tiny_bert, epochs=1), seed=0, split_dir=write_splits(tmp), model_dir=tmp / "model", reports=tmp / "reports")
    return tmp / "model"


def splits_with_source(tmp_path):
    d = write_splits(tmp_path)
    test = pd.read_csv(d / "test.csv")
    test["source"] = ["template", "llm:gpt-4o-mini"] * 4
    test["origin"] = ["clickbait-1", "llm:aaaaaaaaaaaa/clickbait-p1/topic=1", "clickbait-1",
                      "llm:bbbbbbbbbbbb/clickbait-p1/topic=2", "factual-2", "llm:cccccccccccc/factual-p2", "factual-2",
                      "llm:dddddddddddd/factual-p2/audience=1,topic=1"]
    test.to_csv(d / "test.csv", index=False)
    return d


def cfg_of(**kw):
    return params.load_dict({"bootstrap": 200, **kw}, "evaluate")


def run(tmp_path, model_dir, tiny_bert, cfg=None, split_dir=None, **kw):
    return evaluate.run(cfg=cfg or cfg_of(), seed=42, base_model=str(tiny_bert), model_dir=model_dir, split_dir=split_dir or splits_with_source(tmp_path),
                        metrics_path=tmp_path / "metrics.json", eval_dir=tmp_path / "eval", **kw)


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory, model_dir, tiny_bert):
    tmp = tmp_path_factory.mktemp("evaluated")
    report = tmp / "train_summary.json"  # the real summary of the module's model, with a round training time
    summary = json.loads((model_dir.parent / "reports" / "summary.json").read_text())
    report.write_text(json.dumps({**summary, "train_seconds": 12.5}))
    out = run(tmp, model_dir, tiny_bert, cfg_of(positive_label="clickbait"), train_report=report)
    return tmp, out


def test_metrics_json_holds_only_the_headline_numbers(evaluated):
    # `dvc exp show` gets one column per key: intervals and per-label values would add ~30 of them.
    tmp, out = evaluated
    saved = json.loads((tmp / "metrics.json").read_text())
    t = out["test"]
    # a binary task's roc_auc_macro is its roc_auc: one column, not two
    assert t["roc_auc_macro"] == pytest.approx(t["roc_auc"], abs=1e-6)
    assert saved == {"test": {"f1_macro": t["f1_macro"], "accuracy": t["accuracy"], "roc_auc": t["roc_auc"]}}


def test_test_metrics_json_has_headline_metrics_intervals_calibration_and_curves(evaluated):
    tmp, out = evaluated
    saved = json.loads((tmp / "eval" / "test_metrics.json").read_text())
    assert list(saved) == ["test"]  # no external sets configured
    t = saved["test"]
    assert t == out["test"] and t["rows"] == 8
    for key in ("accuracy", "f1_macro"):
        assert 0 <= t[f"{key}_ci_low"] <= t[key] <= t[f"{key}_ci_high"] <= 1
    for key in ("precision_macro", "recall_weighted", "f1_weighted", "roc_auc", "average_precision", "ece", "brier"):
        assert isinstance(t[key], float), key
    for lab in ("clickbait", "factual"):
        v = t["per_label"][lab]
        assert set(v) == {"precision", "recall", "f1", "f1_ci_low", "f1_ci_high", "support", "roc_auc", "average_precision"}
        assert 0 <= v["f1_ci_low"] <= v["f1"] <= v["f1_ci_high"] <= 1
    assert list(t)[:3] == ["rows", "accuracy", "accuracy_ci_low"] and list(t)[-1] == "confusion_matrix"


def test_predictions_keep_their_columns_and_mismatches_are_sorted_by_confidence(evaluated):
    tmp, _ = evaluated
    preds = pd.read_csv(tmp / "eval" / "predictions.csv")
    assert list(preds.columns) == ["text", "true", "predicted", "confidence", "p_clickbait", "p_factual"]
    assert ((preds["p_clickbait"] + preds["p_factual"] - 1).abs() < 1e-5).all()
    wrong = pd.read_csv(tmp / "eval" / "mismatches.csv")
    assert list(wrong.columns) == [*preds.columns, "source"]
    assert len(wrong) == int((preds["true"] != preds["predicted"]).sum())
    assert (wrong["true"] != wrong["predicted"]).all()
    assert wrong["confidence"].is_monotonic_decreasing


def test_plot_sources_and_pngs(evaluated):
    tmp, out = evaluated
    ev = tmp / "eval"
    for name in PNGS:
        assert (ev / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
    roc = pd.read_csv(ev / "roc.csv")
    assert list(roc.columns) == ["label", "fpr", "tpr", "threshold"] and roc["fpr"].is_monotonic_increasing
    assert set(roc["label"]) == {"clickbait"}  # binary: the positive label's curve only
    assert list(pd.read_csv(ev / "pr.csv").columns) == ["label", "recall", "precision", "threshold"]
    per_label = pd.read_csv(ev / "per_label.csv")
    assert per_label["label"].tolist() == ["clickbait", "factual"]
    calib = pd.read_csv(ev / "calibration.csv")
    assert calib["rows"].sum() == 8 and list(calib.columns[:2]) == ["bin", "lower"]
    assert len(pd.read_csv(ev / "confusion.csv")) == 8


def test_slices_by_length_source_and_origin(evaluated):
    tmp, _ = evaluated
    slices = pd.read_csv(tmp / "eval" / "slices.csv")
    by = slices.groupby("slice_by")["rows"].sum()
    assert by["length"] == 8 and by["source"] == 8 and by["origin"] == 8
    assert slices[slices["slice_by"] == "source"]["slice"].tolist() == ["llm:gpt-4o-mini", "template"]
    # origin: the template id, or the LLM prompt id (request and attributes left out), two rows each
    by_origin = slices[slices["slice_by"] == "origin"].set_index("slice")
    assert by_origin.index.tolist() == ["clickbait-1", "clickbait-p1", "factual-2", "factual-p2"]
    preds = pd.read_csv(tmp / "eval" / "predictions.csv")
    origin = ["clickbait-1", "clickbait-p1"] * 2 + ["factual-2", "factual-p2"] * 2  # the fixture's test rows
    wrong = (preds["true"] != preds["predicted"]).groupby(origin).sum()
    assert by_origin["rows"].tolist() == [2] * 4 and by_origin["mismatches"].to_dict() == wrong.to_dict()
    assert (by_origin["accuracy"] == 1 - by_origin["mismatches"] / 2).all()
    assert "| origin | clickbait\\-p1 | 2 |" in (tmp / "eval" / "summary.md").read_text()  # markdown-escaped
    # fixture texts have 5 to 7 words: all in the first default bucket (1-8 words)
    assert slices[slices["slice_by"] == "length"]["slice"].tolist() == ["1-8 words"]


def test_baselines_side_by_side_with_paired_gains(evaluated):
    tmp, _ = evaluated
    table = json.loads((tmp / "eval" / "baselines.json").read_text())
    assert list(table["models"]) == ["fine_tuned", "majority", "tfidf_lr", "frozen_lr"]
    assert table["sets"] == ["test"] and table["resamples"] == 200
    assert table["models"]["fine_tuned"]["train_seconds"] == 12.5  # from the train summary
    ft = table["models"]["fine_tuned"]["test"]["f1_macro"]
    for name in ("majority", "tfidf_lr", "frozen_lr"):
        row = table["models"][name]["test"]
        assert row["fine_tuned_gain_f1_macro"] == pytest.approx(ft - row["f1_macro"], abs=1e-6)
        assert row["gain_ci_low"] <= row["gain_ci_high"]
    # TF-IDF sees the test texts in train (the fixture reuses them): it must be perfect; majority cannot be.
    assert table["models"]["tfidf_lr"]["test"]["accuracy"] == 1.0
    assert table["models"]["majority"]["test"]["accuracy"] == 0.5
    summary = (tmp / "eval" / "summary.md").read_text()
    for text in ("| fine-tuned |", "| TF-IDF + logistic regression |", "12.5 s", "Expected calibration error",
                 "## Slices"):
        assert text in summary, text


def with_rule(model_dir, tmp_path, offsets):
    """A copy of the module's model whose config.json carries `offsets` as its decision rule (decision_offsets)."""
    import shutil

    copy = tmp_path / "ruled-model"
    shutil.copytree(model_dir, copy)
    config = json.loads((copy / "config.json").read_text())
    (copy / "config.json").write_text(json.dumps({**config, "decision_offsets": offsets}))
    return copy


def test_the_fine_tuned_model_decides_by_its_saved_rule_and_collapses_are_recorded(evaluated, tmp_path, model_dir,
                                                                                  tiny_bert):
    # Force the label argmax picks least often (the tiny model leans one way): the rule must override argmax.
    argmax = pd.read_csv(evaluated[0] / "eval" / "predictions.csv")[["p_clickbait", "p_factual"]].to_numpy().argmax(1)
    forced = ["clickbait", "factual"][int((argmax == 1).sum() < (argmax == 0).sum())]
    ruled = with_rule(model_dir, tmp_path, {"clickbait": 0.0, "factual": 0.0} | {forced: 50.0})
    out = run(tmp_path, ruled, tiny_bert, cfg_of(baselines={"models": ["majority", "tfidf_lr"]}))
    preds = pd.read_csv(tmp_path / "eval" / "predictions.csv")
    assert (preds["predicted"] == forced).all() and (preds[f"p_{forced}"] < 0.5).any()  # argmax: the other there
    assert preds["confidence"].tolist() == preds[f"p_{forced}"].tolist()  # the decided label's probability
    other = next(lab for lab in ("clickbait", "factual") if lab != forced)
    per_label = out["test"]["per_label"]
    assert per_label[forced]["recall"] == 1.0 and per_label[other]["recall"] == 0.0
    column = ["clickbait", "factual"].index(forced)
    assert out["test"]["confusion_matrix"]["matrix"] == [[4 * (j == column) for j in range(2)]] * 2
    models = out["baselines"]["models"]
    assert models["fine_tuned"]["test"]["collapsed"] == {"label": forced, "predicted_share": 1.0, "true_share": 0.5}
    assert models["majority"]["test"]["collapsed"]["predicted_share"] == 1.0  # baselines decide by argmax
    assert models["tfidf_lr"]["test"]["collapsed"] is None and models["tfidf_lr"]["test"]["accuracy"] == 1.0
    assert len(pd.read_csv(tmp_path / "eval" / "mismatches.csv")) == 4  # explain's input: the rule's mismatches


def test_without_a_saved_rule_the_model_decides_by_argmax_and_baselines_always_do():
    import numpy as np

    from stages.evaluation import outputs

    proba = np.array([[0.6, 0.4], [0.3, 0.7], [0.0, 0.0]])
    assert evaluate.decisions(proba[:2], False).tolist() == [0, 1]  # no decision_offsets: argmax
    assert evaluate.decisions(proba[:2], False, [0.0, -1.0]).tolist() == [0, 0]
    assert evaluate.decisions(proba, False).tolist() == [0, 1, 2]  # 2: an abstention (an all-zero LLM row)
    assert evaluate.decisions(proba[:2], True).tolist() == [[1, 0], [0, 1]]  # multi-label: 0.5
    assert evaluate.decisions(proba[:2], True, [0.65, 0.2]).tolist() == [[0, 1], [0, 1]]
    frame = pd.DataFrame({"text": ["a", "b"], "label": ["x", "y"]})
    assert outputs.prediction_frame(frame, proba[:2], ["x", "y"])["predicted"].tolist() == ["x", "y"]
    ruled = outputs.prediction_frame(frame, proba[:2], ["x", "y"], offsets=[0.0, -1.0])
    assert ruled["predicted"].tolist() == ["x", "x"] and ruled["confidence"].tolist() == [0.6, 0.3]


def test_same_inputs_give_the_same_bytes(evaluated, tmp_path, model_dir, tiny_bert):
    first, _ = evaluated
    run(tmp_path, model_dir, tiny_bert, cfg_of(positive_label="clickbait"), train_report=first / "train_summary.json")
    assert (tmp_path / "metrics.json").read_bytes() == (first / "metrics.json").read_bytes()
    for name in ("predictions.csv", "mismatches.csv", "slices.csv", "roc.csv", "calibration.csv", *PNGS):
        assert (tmp_path / "eval" / name).read_bytes() == (first / "eval" / name).read_bytes(), name


def test_without_baselines_or_train_summary(tmp_path, model_dir, tiny_bert):
    cfg = cfg_of(baselines={"models": []}, length_buckets=[5, 6])
    out = run(tmp_path, model_dir, tiny_bert, cfg, split_dir=write_splits(tmp_path))
    assert list(out["baselines"]["models"]) == ["fine_tuned"]
    assert out["baselines"]["models"]["fine_tuned"]["train_seconds"] is None
    slices = pd.read_csv(tmp_path / "eval" / "slices.csv")
    assert slices["slice"].tolist() == ["1-5 words", "6-6 words", "7+ words", "template",
                                        "clickbait-1", "clickbait-2", "factual-1", "factual-2"]
    assert "source" in pd.read_csv(tmp_path / "eval" / "mismatches.csv").columns


def test_a_split_file_without_the_source_column_is_one_line_naming_it(tmp_path, model_dir, tiny_bert):
    split_dir = write_splits(tmp_path)
    pd.read_csv(split_dir / "test.csv").drop(columns="source").to_csv(split_dir / "test.csv", index=False)
    with pytest.raises(DataError, match=r"test.csv: missing column 'source' \(expected text, label, source, origin"):
        run(tmp_path, model_dir, tiny_bert, split_dir=split_dir)
    assert not (tmp_path / "metrics.json").exists() and not (tmp_path / "eval").exists()


def test_test_label_unknown_to_the_model_is_a_clear_error(tmp_path, model_dir, tiny_bert):
    split_dir = write_splits(tmp_path)
    pd.DataFrame({"text": ["a satire headline"], "label": ["satire"], "source": ["template"], "origin": ["s-1"]}).to_csv(
        split_dir / "test.csv", index=False)
    with pytest.raises(DataError, match="test.csv: label 'satire' is unknown to the model"):
        run(tmp_path, model_dir, tiny_bert, split_dir=split_dir)
    assert not (tmp_path / "metrics.json").exists() and not (tmp_path / "eval").exists()


def test_positive_label_must_be_a_model_label(tmp_path, model_dir, tiny_bert):
    with pytest.raises(ParamsError, match=r"evaluate.positive_label must be one of the model labels "
                                          r"\(clickbait, factual\), got 'spam'"):
        run(tmp_path, model_dir, tiny_bert, cfg_of(positive_label="spam"))
    assert not (tmp_path / "eval").exists()


# ------------------------------------------------------------------------------------ external test sets


def write_external(tmp_path, rows, name="real.csv"):
    d = tmp_path / "external"
    d.mkdir(exist_ok=True)
    pd.DataFrame(rows, columns=["headline", "tag"]).to_csv(d / name, index=False)
    return d


# ONLY_REAL is a text no split holds (in any case): finding it in a report can only mean a real row leaked.
ONLY_REAL = "Harbor ferry strike ends after nine days"
REAL = [(t.capitalize(), "bait") for t in CLICKBAIT] + [(t, "news") for t in FACTUAL[:3]] + [(ONLY_REAL, "news")]
EXTERNAL = {"name": "real", "path": "real.csv", "text_column": "headline", "label_column": "tag",
            "label_map": {"bait": "clickbait", "news": "factual"}}


def test_external_set_is_scored_beside_the_test_split_with_its_gap(tmp_path, model_dir, tiny_bert):
    ext_dir = write_external(tmp_path, REAL)
    out = run(tmp_path, model_dir, tiny_bert, cfg_of(external_test=[EXTERNAL]), external_dir=ext_dir)
    saved = json.loads((tmp_path / "eval" / "test_metrics.json").read_text())
    real = saved["external"]["real"]
    headline = json.loads((tmp_path / "metrics.json").read_text())
    # one `dvc exp show` column per real set: its macro-F1 (accuracy and interval: test_metrics.json)
    assert headline["external"] == {"real": {"f1_macro": real["f1_macro"]}} and "accuracy" in real
    assert real["rows"] == 8 and real == out["external"]["real"]
    assert real["f1_macro_gap"] == pytest.approx(saved["test"]["f1_macro"] - real["f1_macro"], abs=1e-6)
    assert real["f1_macro_ci_low"] <= real["f1_macro"] <= real["f1_macro_ci_high"]
    table = json.loads((tmp_path / "eval" / "baselines.json").read_text())
    assert table["sets"] == ["test", "real"]
    for name, row in table["models"].items():
        assert row["real"]["rows"] == 8 and "f1_macro_gap" in row["real"], name
    slices = pd.read_csv(tmp_path / "eval" / "slices.csv")
    assert slices[slices["slice"] == "real:real"]["rows"].tolist() == [8]
    assert "## Reality check" in (tmp_path / "eval" / "summary.md").read_text()
    # No row of the real set is copied into the committed reports. The marker is in the external file and in
    # no split, so the check below can fail: a leak would put it in a report.
    assert ONLY_REAL in (ext_dir / "real.csv").read_text()
    assert not any(ONLY_REAL.lower() in p.read_text().lower() for p in (tmp_path / "split").glob("*.csv"))
    reports = [p for p in (tmp_path / "eval").rglob("*") if p.suffix in (".csv", ".json", ".md")]
    assert any(p.name == "predictions.csv" for p in reports)  # the files a leak would land in are checked
    for path in reports:
        assert ONLY_REAL.lower() not in path.read_text().lower(), path.name


def test_each_distinct_text_is_scored_once_and_every_row_gets_its_texts_scores(tmp_path, model_dir, tiny_bert):
    split = splits_with_source(tmp_path)
    test = pd.read_csv(split / "test.csv")
    ext_dir = tmp_path / "external"
    ext_dir.mkdir()
    pd.concat([test, test])[["text", "label"]].to_csv(ext_dir / "twice.csv", index=False)  # every test row twice
    spec = {"name": "twice", "path": "twice.csv"}
    out = run(tmp_path, model_dir, tiny_bert, cfg_of(external_test=[spec]), split_dir=split, external_dir=ext_dir)
    models = out["baselines"]["models"]
    assert models["fine_tuned"]["inference"]["texts"] == test["text"].nunique() == len(test)  # not 3x
    for name, row in models.items():  # the same texts' scores: a set of the test rows twice scores the same
        assert row["twice"]["rows"] == 2 * len(test), name
        for key in ("accuracy", "f1_macro"):
            assert row["twice"][key] == row["test"][key], (name, key)


def test_scoring_precision_is_applied_to_model_and_frozen_encoder_and_recorded(tmp_path, model_dir, tiny_bert,
                                                                              monkeypatch):
    """evaluate.precision bf16 scores both forward passes under bf16 autocast: close to fp32, not equal."""
    import numpy as np

    from stages.core import modeling

    embedded, embed = [], modeling.embed  # the frozen encoder's passes, with the precision each ran in
    monkeypatch.setattr(modeling, "embed", lambda *a, **k: embedded.append(a[5] if len(a) > 5 else
                                                                           k.get("precision")) or embed(*a, **k))
    split = splits_with_source(tmp_path)
    tables, probas = {}, {}
    for prec in ("fp32", "bf16"):
        out_dir = tmp_path / prec
        out_dir.mkdir()
        run(out_dir, model_dir, tiny_bert, cfg_of(precision=prec), split_dir=split)
        tables[prec] = json.loads((out_dir / "eval" / "baselines.json").read_text())["models"]
        probas[prec] = pd.read_csv(out_dir / "eval" / "predictions.csv").filter(like="p_").to_numpy()
    assert tables["fp32"]["fine_tuned"]["inference"]["precision"] == "fp32"
    assert tables["bf16"]["fine_tuned"]["inference"]["precision"] == "bf16"
    diff = np.abs(probas["bf16"] - probas["fp32"]).max()
    assert 0 < diff < 0.05, diff  # the fine-tuned model ran in bf16: 8 bits of mantissa
    assert embedded == ["fp32", "fp32", "bf16", "bf16"]  # frozen_lr: train rows, then the sets, in each precision


def write_params(tmp_path, tiny_bert, evaluate_section):
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump({"base": {"seed": 42}, "train": {"model": str(tiny_bert)}, "evaluate": evaluate_section}))
    return path


def test_unknown_external_label_is_a_one_line_error_with_exit_code_2(tmp_path, model_dir, tiny_bert, capsys):
    ext_dir = write_external(tmp_path, REAL + [("A satirical headline about the mayor", "satire")])
    p = write_params(tmp_path, tiny_bert, {"bootstrap": 100, "external_test": [EXTERNAL]})
    code = evaluate.main(["--params", str(p), "--model", str(model_dir), "--split", str(splits_with_source(tmp_path)),
                          "--external", str(ext_dir), "--metrics", str(tmp_path / "m.json"),
                          "--out", str(tmp_path / "eval")])
    # transformers' own progress bar may precede it; the stage's error is exactly one line.
    err = [line for line in capsys.readouterr().err.strip().splitlines() if line.startswith("error:")]
    assert code == 2 and len(err) == 1
    assert err[0] == (f"error: {ext_dir / 'real.csv'}: label 'satire' is unknown to the model (model labels: "
                   "clickbait, factual); map it to one in evaluate.external_test[0].label_map")
    assert not (tmp_path / "m.json").exists() and not (tmp_path / "eval").exists()


@pytest.mark.parametrize("spec, rows, error, message", [
    ({"label_map": {"bait": "clikbait"}}, REAL, ParamsError,
     r"evaluate.external_test\[0\].label_map.bait must be one of the model labels \(clickbait, factual\), got 'clikbait'"),
    ({"label_map": {"news": "factual"}}, REAL, DataError, r"label 'bait' is unknown to the model"),  # one of two
    ({}, REAL[:2] + [("  ", "bait")], DataError, r"real.csv: line 4: empty 'headline'"),
    ({"text_column": "title"}, REAL, DataError, r"real.csv: missing column 'title'"),
    ({"path": "missing.csv"}, REAL, DataError, r"missing.csv: file not found"),
])
def test_bad_external_sets_fail_before_any_output(tmp_path, model_dir, tiny_bert, spec, rows, error, message):
    ext_dir = write_external(tmp_path, rows)
    with pytest.raises(error, match=message):
        run(tmp_path, model_dir, tiny_bert, cfg_of(external_test=[{**EXTERNAL, **spec}]), external_dir=ext_dir)
    assert not (tmp_path / "metrics.json").exists() and not (tmp_path / "eval").exists()


def all_clickbait(model, tokenizer, texts, batch_size=128, max_length=None, precision="fp32"):
    """A fine-tuned model that collapsed: P(clickbait) = 0.9 for every text."""
    import numpy as np

    labels = [model.config.id2label[i] for i in range(model.config.num_labels)]
    return np.tile([0.9 if lab == "clickbait" else 0.1 for lab in labels], (len(texts), 1))


def test_real_sets_get_roles_gaps_with_intervals_collapse_and_hashed_predictions(tmp_path, model_dir, tiny_bert,
                                                                                   monkeypatch, caplog):
    from stages.core.predictions import read_real_predictions, text_key
    from stages.core.verdicts import collapsed

    monkeypatch.setattr(modeling, "predict_proba", all_clickbait)
    ext_dir = write_external(tmp_path, REAL)
    write_external(tmp_path, REAL[::-1], "dev.csv")
    sets = [EXTERNAL, {**EXTERNAL, "name": "real_dev", "path": "dev.csv", "role": "dev"}]
    with caplog.at_level("INFO"):
        out = run(tmp_path, model_dir, tiny_bert, cfg_of(external_test=sets), external_dir=ext_dir)
    table = json.loads((tmp_path / "eval" / "baselines.json").read_text())
    assert table["roles"] == {"test": "synthetic", "real": "test", "real_dev": "dev"} and table["seed"] == 42
    assert {s: r["role"] for s, r in out["external"].items()} == {"real": "test", "real_dev": "dev"}
    half = {"label": "clickbait", "predicted_share": 1.0, "true_share": 0.5}
    for s in table["sets"]:  # every model on every set says whether it collapsed
        assert table["models"]["fine_tuned"][s]["collapsed"] == half, s
        assert table["models"]["majority"][s]["collapsed"]["predicted_share"] == 1.0, s
        assert table["models"]["tfidf_lr"][s]["collapsed"] is None, s  # it fits the fixture: both labels
    warned = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any(m.startswith("fine-tuned collapsed onto one label") and "real_dev: it puts 100.0%" in m for m in warned)
    # The gap: test-split macro-F1 minus the real set's, with an interval over both sets' resamples.
    for s in ("real", "real_dev"):
        row, test = table["models"]["tfidf_lr"][s], table["models"]["tfidf_lr"]["test"]
        assert row["f1_macro_gap"] == pytest.approx(test["f1_macro"] - row["f1_macro"], abs=1e-6)
        assert -1 <= row["f1_macro_gap_ci_low"] <= row["f1_macro_gap_ci_high"] <= 1
    # real_predictions.csv: the fine-tuned model's decisions on every real set, keyed by a hash, never the text.
    text = (tmp_path / "eval" / "real_predictions.csv").read_text()
    assert ONLY_REAL.lower() not in text.lower() and "mayor" not in text.lower()
    preds, labels = read_real_predictions(tmp_path / "eval" / "real_predictions.csv")
    assert labels == ["clickbait", "factual"] and preds["set"].tolist() == ["real"] * 8 + ["real_dev"] * 8
    assert preds["row"].tolist() == list(range(1, 9)) * 2
    assert preds["key"].tolist()[:8] == [text_key(t) for t, _ in REAL]
    assert preds["key"].tolist()[8:] == [text_key(t) for t, _ in REAL[::-1]]
    assert set(preds["predicted"]) == {"clickbait"} and set(preds["confidence"]) == {"0.9"}
    real = preds[preds["set"] == "real"]
    assert collapsed(real["predicted"].tolist(), real["true"].tolist()) == half  # the file and the table agree
    summary = (tmp_path / "eval" / "summary.md").read_text()
    verdict = summary.split("## Verdict")[1].split("\n## ")[0]
    assert verdict.index("Real test set `real`") < verdict.index("Synthetic test split") < \
        verdict.index("Real dev set `real_dev`")
    assert "within noise" not in verdict and "fine-tuned better" not in verdict  # a collapsed model never is
    head = [line for line in verdict.splitlines() if line.startswith("- fine-tuned model: macro-F1 0.333 (")]
    assert len(head) == 3 and all(line.endswith("; **collapsed**: it puts 100.0% of its decisions on `clickbait`, "
                                                "which holds 50.0% of the true labels") for line in head)
    assert "- vs TF-IDF + logistic regression: **collapsed** (the fine-tuned model (above); macro-F1 gain" in verdict


def test_a_real_set_of_another_task_is_left_out_with_a_warning(tmp_path, model_dir, tiny_bert, caplog):
    """The default params list the Stop Clickbait sets: a model of another task (no label in common) runs on."""
    ext_dir = write_external(tmp_path, [("Win a free cruise now", "spam"), ("See you at noon", "ham")], "sms.csv")
    spec = {"name": "sms", "path": "sms.csv", "text_column": "headline", "label_column": "tag"}
    with caplog.at_level("WARNING"):
        out = run(tmp_path, model_dir, tiny_bert, cfg_of(external_test=[spec], baselines={"models": []}),
                  external_dir=ext_dir)
    assert out["external"] == {} and out["baselines"]["skipped_sets"] == ["sms"]
    assert out["baselines"]["sets"] == ["test"] and not (tmp_path / "eval" / "real_predictions.csv").exists()
    assert "external test set sms skipped: none of its labels (ham, spam) is a model label" in caplog.text
    assert "Real sets left out: `sms`" in (tmp_path / "eval" / "summary.md").read_text()


# P(clickbait) for each test text, chosen by hand: ranked by it, 12 of the 16 (clickbait, factual) pairs are
# ordered right, so ROC-AUC with clickbait as the positive label is 0.75 on the clickbait column and 0.25 on
# the factual one. Average precision, clickbait positive (0.9 C, 0.8 C, 0.6 F, 0.4 C, 0.35 F, 0.2 F, 0.15 C,
# 0.1 F): (1/1 + 2/2 + 3/4 + 4/7) / 4 = 0.830357; factual positive on its own column: (1 + 2/3 + 3/4 + 4/6) / 4.
P_CLICKBAIT = dict(zip(CLICKBAIT, (0.9, 0.8, 0.4, 0.15))) | dict(zip(FACTUAL, (0.6, 0.35, 0.2, 0.1)))


def fixed_proba(model, tokenizer, texts, batch_size=128, max_length=None, precision="fp32"):
    import numpy as np

    labels = [model.config.id2label[i] for i in range(model.config.num_labels)]
    columns = {"clickbait": [P_CLICKBAIT[t] for t in texts], "factual": [1 - P_CLICKBAIT[t] for t in texts]}
    return np.array([columns[label] for label in labels], dtype=np.float64).T


@pytest.mark.parametrize("positive, auc, ap", [
    ("clickbait", 0.75, (1 + 1 + 3 / 4 + 4 / 7) / 4),
    ("factual", 0.75, (1 + 2 / 3 + 3 / 4 + 4 / 6) / 4),
])
def test_roc_auc_scores_the_positive_labels_own_probability_column(tmp_path, model_dir, tiny_bert, monkeypatch,
                                                                   positive, auc, ap):
    # Scoring the other label's column against this label gives 0.25; the AP tells the two positives apart.
    monkeypatch.setattr(modeling, "predict_proba", fixed_proba)
    out = run(tmp_path, model_dir, tiny_bert, cfg_of(positive_label=positive))
    saved = json.loads((tmp_path / "eval" / "test_metrics.json").read_text())["test"]
    assert saved["roc_auc"] == pytest.approx(auc, abs=1e-6) and out["test"]["roc_auc"] == saved["roc_auc"]
    assert saved["average_precision"] == pytest.approx(ap, abs=1e-6)
    assert saved["per_label"][positive]["roc_auc"] == saved["roc_auc"]  # the same one-vs-rest number
    other = (1 + 2 / 3 + 3 / 4 + 4 / 6) / 4 if positive == "clickbait" else (1 + 1 + 3 / 4 + 4 / 7) / 4
    assert saved["average_precision_macro"] == pytest.approx((ap + other) / 2, abs=1e-6)
    assert saved["roc_auc_macro"] == pytest.approx(0.75, abs=1e-6)  # two labels: both one-vs-rest AUCs are 0.75
    roc = pd.read_csv(tmp_path / "eval" / "roc.csv")
    # The trapezoid under the written curve is the same number: the plotted curve uses the same column.
    assert float(((roc["fpr"].diff().fillna(0)) * (roc["tpr"] + roc["tpr"].shift().fillna(0)) / 2).sum()) == \
        pytest.approx(auc, abs=1e-6)


@pytest.mark.parametrize("stage", ["evaluate", "explain"])
def test_a_missing_model_directory_fails_at_once_naming_model(tmp_path, capsys, stage):
    import importlib
    import time

    module = importlib.import_module(f"stages.{stage}")
    outputs = (["--split", str(tmp_path), "--metrics", str(tmp_path / "m.json"), "--out", str(tmp_path / "e")]
               if stage == "evaluate" else ["--predictions", str(tmp_path / "p.csv"), "--out", str(tmp_path / "x")])
    started = time.perf_counter()
    code = module.main(["--params", str(tmp_path / "no-params.yaml"), "--model", "models/nope", *outputs])
    err = capsys.readouterr().err
    assert code == 2 and time.perf_counter() - started < 5
    assert err == ("error: --model models/nope: no such directory (expected the model directory that train wrote, "
                   "e.g. models/classifier)\n")
    (tmp_path / "empty").mkdir()
    module.main(["--model", str(tmp_path / "empty"), *outputs])
    assert "not a saved model (no config.json)" in capsys.readouterr().err


def test_default_positive_label_is_null_and_works_for_any_label_names():
    assert params.load_dict({}, "evaluate").positive_label is None
    assert yaml.safe_load((ROOT / "params.yaml").read_text())["evaluate"]["positive_label"] is None


def test_three_labels_get_one_vs_rest_scores_per_label_their_macro_and_a_curve_each(tmp_path):
    """A 3-label model (random head: plumbing, not accuracy) with no positive label: per-label ROC-AUC and
    AP with their macro average in test_metrics.json, roc_auc_macro in metrics.json, a line per label."""
    from sklearn.metrics import average_precision_score, roc_auc_score

    from stages.core import modeling
    from testkit.tiny_bert import build_tiny_bert

    labels = ["business", "sports", "world"]
    model_dir = tmp_path / "model"
    base = build_tiny_bert(tmp_path / "base")
    head = modeling.load_classifier(str(base), labels)
    head.classifier.weight.data *= 200  # spread the random head's probabilities: no ties at 6 decimals
    head.save_pretrained(str(model_dir))
    modeling.load_tokenizer(str(base)).save_pretrained(str(model_dir))
    split_dir = tmp_path / "split"
    split_dir.mkdir()
    rows = [(t, labels[i % 3]) for i, t in enumerate(CLICKBAIT + FACTUAL + CLICKBAIT[:1])]
    frame = pd.DataFrame(rows, columns=["text", "label"]).assign(source="template", origin="news-1")
    frame.to_csv(split_dir / "test.csv", index=False)
    frame.to_csv(split_dir / "train.csv", index=False)
    # fp32: a random head's probabilities sit within bf16's resolution of each other, and the check below
    # recomputes the scores from predictions.csv's 6-decimal values
    out = evaluate.run(cfg=cfg_of(baselines={"models": []}, precision="fp32"), seed=1, base_model=str(base),
                       model_dir=model_dir,
                       split_dir=split_dir, metrics_path=tmp_path / "metrics.json", eval_dir=tmp_path / "eval")
    t = out["test"]
    assert "roc_auc" not in t and set(json.loads((tmp_path / "metrics.json").read_text())["test"]) == \
        {"f1_macro", "accuracy", "roc_auc_macro"}
    preds = pd.read_csv(tmp_path / "eval" / "predictions.csv")
    y = preds["true"].tolist()
    for lab in labels:
        want_auc = roc_auc_score([v == lab for v in y], preds[f"p_{lab}"])
        want_ap = average_precision_score([v == lab for v in y], preds[f"p_{lab}"])
        assert t["per_label"][lab]["roc_auc"] == pytest.approx(want_auc, abs=1e-5)
        assert t["per_label"][lab]["average_precision"] == pytest.approx(want_ap, abs=1e-5)
    assert t["roc_auc_macro"] == pytest.approx(sum(t["per_label"][lab]["roc_auc"] for lab in labels) / 3, abs=1e-5)
    assert set(pd.read_csv(tmp_path / "eval" / "roc.csv")["label"]) == set(labels)
    assert (tmp_path / "eval" / "roc.png").read_bytes()[:4] == b"\x89PNG"
    assert "One vs rest, averaged over the labels: ROC-AUC" in (tmp_path / "eval" / "summary.md").read_text()


# ---- the baselines' fairness: the fine-tuned model's class weights, and the real_only baseline

from tests.training.test_subset import real_only, write_split  # noqa: E402,F401  (the stage's real_only output)


def test_class_weights_of_the_train_summary_reach_the_baselines(evaluated, tmp_path, model_dir, tiny_bert):
    # 24 factual rows and 8 clickbait rows sharing words; the test split mixes both. Weighted like the fine-tuned
    # model, TF-IDF puts more of its decisions on the rare label than unweighted.
    from tests.evaluation.test_baselines import ambiguous_imbalanced

    texts, labels, test = ambiguous_imbalanced()
    split = tmp_path / "split"
    split.mkdir()
    pd.DataFrame({"text": texts, "label": labels, "source": "template", "origin": "t-1"}).to_csv(split / "train.csv", index=False)
    pd.DataFrame({"text": test, "label": ["clickbait", "factual"] * 20, "source": "template", "origin": "t-2"}).to_csv(
        split / "test.csv", index=False)
    summary = json.loads((evaluated[0] / "train_summary.json").read_text())
    cfg = cfg_of(baselines={"models": ["tfidf_lr"], "c_grid": [1.0]})
    rows = {}
    for weights in (None, [3.0, 0.6]):
        report = tmp_path / f"summary-{weights}.json"
        report.write_text(json.dumps({**summary, "class_weights": weights, "decision": "argmax"}))
        out = run(tmp_path / str(weights), model_dir, tiny_bert, cfg, split_dir=split, train_report=report)
        rows[weights is None] = out["baselines"]["models"]["tfidf_lr"]
    assert rows[True]["class_weights"] is None and rows[False]["class_weights"] == [3.0, 0.6]
    assert rows[False]["cv"]["c"] == 1.0 and rows[False]["cv"]["folds"] == 5
    assert rows[False]["test"]["f1_macro"] != rows[True]["test"]["f1_macro"]
    assert "rule" not in rows[True]  # the model decided by argmax: so do the baselines


def test_baselines_tune_their_decision_rule_on_val_when_the_model_tuned_its_own(evaluated, tmp_path, model_dir,
                                                                                tiny_bert):
    """Unweighted TF-IDF on 24 factual and 8 clickbait rows leans factual; when the fine-tuned model's summary says
    its rule was tuned on val, tfidf_lr tunes an offset there too (core/decision.tune) and decides by it."""
    from stages.core import decision
    from tests.evaluation.test_baselines import ambiguous_imbalanced

    texts, labels, test = ambiguous_imbalanced()
    split = tmp_path / "split"
    split.mkdir()
    pd.DataFrame({"text": texts, "label": labels, "source": "template", "origin": "t-1"}).to_csv(split / "train.csv",
                                                                                                index=False)
    frame = pd.DataFrame({"text": test, "label": ["clickbait", "factual"] * 20, "source": "template", "origin": "t-2"})
    frame.to_csv(split / "test.csv", index=False)
    frame.to_csv(split / "val.csv", index=False)  # val = test here: the tuned rule must not lose to argmax on it
    summary = json.loads((evaluated[0] / "train_summary.json").read_text())
    cfg = cfg_of(baselines={"models": ["tfidf_lr"], "c_grid": [1.0]})
    rows = {}
    for mode in ("argmax", "tuned"):
        report = tmp_path / f"summary-{mode}.json"
        report.write_text(json.dumps({**summary, "class_weights": None, "decision": mode}))
        rows[mode] = run(tmp_path / mode, model_dir, tiny_bert, cfg, split_dir=split,
                         train_report=report)["baselines"]["models"]["tfidf_lr"]
    rule = rows["tuned"]["rule"]
    assert len(rule) == 2 and rule[0] == 0.0 and rule[1] < 0  # toward the rare clickbait
    assert rows["tuned"]["decision_rule"] == decision.describe(["clickbait", "factual"], rule)
    assert rows["tuned"]["test"]["f1_macro"] > rows["argmax"]["test"]["f1_macro"]


def test_real_only_is_scored_with_k_and_a_paired_gain_when_train_held_real_rows(tmp_path, model_dir, tiny_bert,
                                                                                real_only):
    out = run(tmp_path, model_dir, tiny_bert, cfg_of(baselines={"models": ["majority"]}), real_only=real_only)
    models = out["baselines"]["models"]
    assert list(models) == ["fine_tuned", "majority", "real_only"]
    row = models["real_only"]
    assert (row["real_rows"], row["val_rows"], row["source"]) == (6, 8, "real")
    assert row["train_seconds"] == json.loads((real_only / "train" / "summary.json").read_text())["train_seconds"]
    saved = json.loads((real_only / "model" / "config.json").read_text()).get("decision_offsets")  # its own rule
    assert row["rule"] == (None if saved is None else [saved["clickbait"], saved["factual"]])
    gain = models["fine_tuned"]["test"]["f1_macro"] - row["test"]["f1_macro"]
    assert row["test"]["fine_tuned_gain_f1_macro"] == pytest.approx(gain, abs=1e-6)
    assert row["test"]["gain_ci_low"] <= row["test"]["gain_ci_high"]
    assert "| fine-tuned on the real train rows alone |" in (tmp_path / "eval" / "summary.md").read_text()


def test_real_only_is_absent_when_train_held_no_real_rows(tmp_path, model_dir, tiny_bert):
    marker = tmp_path / "real_only"
    marker.mkdir()
    (marker / "subset.json").write_text(json.dumps({"source": "real", "train_rows": 0, "val_rows": 0, "labels": [],
                                                    "trained": False, "reason": "train.csv holds no row of source 'real'"}))
    out = run(tmp_path, model_dir, tiny_bert, cfg_of(baselines={"models": []}), real_only=marker)
    assert list(out["baselines"]["models"]) == ["fine_tuned"]
