import json

import numpy as np
import pandas as pd
import pytest

from stages import explain, modeling, params
from tests.test_evaluate import model_dir  # noqa: F401  (module-scoped fixture)


@pytest.fixture(scope="module")
def loaded(model_dir):  # noqa: F811
    return modeling.load_classifier(str(model_dir)), modeling.load_tokenizer(str(model_dir))


def cfg(**kw):
    return params.load_dict({"num_samples": 200, "num_features": 5, **kw}, "explain")


def test_cached_classifier_gives_the_same_explanation_as_plain_lime(loaded):
    from lime.lime_text import LimeTextExplainer

    model, tok = loaded
    labels = modeling.labels_of(model)
    text = "you won't believe what the mayor found in texas"

    def plain(texts):  # uncached, one call for all perturbations
        return modeling.predict_proba(model, tok, list(texts), batch_size=1024)

    reference = LimeTextExplainer(class_names=labels, random_state=explain.example_seed(3, text)).explain_instance(
        text, plain, labels=[1], num_features=5, num_samples=200)
    fn = explain.CachedClassifier(model, tok, batch_size=16)
    ours = explain.explain_one(text, [1], labels, fn, cfg(), 3)
    ref_w, our_w = dict(reference.as_list(label=1)), dict(ours.as_list(label=1))
    assert ref_w.keys() == our_w.keys()
    assert max(abs(ref_w[k] - our_w[k]) for k in ref_w) < 1e-4
    assert fn.predicted < fn.calls  # the cache did skip repeated strings (9 words -> at most 512 masks)


def write_predictions(path, rows):
    frame = pd.DataFrame(rows, columns=["text", "true", "predicted", "confidence"])
    frame["p_clickbait"] = frame["confidence"]
    frame["p_factual"] = 1 - frame["confidence"]
    frame.to_csv(path, index=False)


def test_explain_reports_mismatches_escaped_and_deterministic(tmp_path, model_dir):  # noqa: F811
    preds = tmp_path / "predictions.csv"
    write_predictions(preds, [
        ("<script>alert(1)</script> **mayor** found", "factual", "clickbait", 0.9),
        ("storm", "factual", "clickbait", 0.8),                 # a single word works
        ("!!! ???", "factual", "clickbait", 0.95),              # no word characters: skipped, said so
        ("city council approved a budget", "factual", "factual", 0.7),
    ])
    summary = explain.run(cfg(), 0, model_dir, preds, tmp_path / "out")
    assert summary["mismatches"] == 3 and summary["explained"] == 2 and summary["skipped_no_words"] == 1
    md = (tmp_path / "out" / "mismatches.md").read_text()
    assert "<script>" not in md and "&lt;script&gt;" in md and "\\*\\*mayor\\*\\*" in md
    assert "Skipped 1 mismatches whose text has no word characters" in md
    assert (tmp_path / "out" / "html" / "01.html").exists() and (tmp_path / "out" / "html" / "02.html").exists()
    first = (tmp_path / "out" / "explanations.json").read_text()
    explain.run(cfg(), 0, model_dir, preds, tmp_path / "out")
    assert (tmp_path / "out" / "explanations.json").read_text() == first
    assert json.loads(first)["examples"][0]["confidence"] == 0.9  # most confident first


def test_zero_mismatches_is_a_report_not_an_error(tmp_path, model_dir):  # noqa: F811
    preds = tmp_path / "predictions.csv"
    write_predictions(preds, [("city council approved a budget", "factual", "factual", 0.7)])
    summary = explain.run(cfg(), 0, model_dir, preds, tmp_path / "out")
    assert summary["explained"] == 0
    assert "every test row was classified correctly" in (tmp_path / "out" / "mismatches.md").read_text()


def test_predict_proba_is_order_independent(loaded):
    model, tok = loaded
    texts = ["a", "city council approved a budget today in texas", "storm hits", "the mayor"]
    p1 = modeling.predict_proba(model, tok, texts, batch_size=2)
    p2 = modeling.predict_proba(model, tok, texts[::-1], batch_size=3)[::-1]
    np.testing.assert_allclose(p1, p2, atol=1e-5)
