"""The explain stage on a multi-label tiny BERT: mismatches are rows whose label sets differ, each wrongly decided
label (missed or extra) is explained on its own sigmoid column, and the pages, mismatches.md and the patterns say
per wrong label what pushes toward and away from it, consistently."""

import html
import json
import re

import numpy as np
import pandas as pd
import pytest

from stages import explain
from stages.core import labelsets, modeling, params
from stages.core.errors import DataError
from stages.core.text import md_escape
from stages.explanation import lime_runner, multilabel
from tests.multilabel_kit import build_model
from tests.explanation.test_pages import page_sections

LABELS = ["billing", "technical", "urgent"]
TEXTS = ["please refund my invoice", "the app crashes on login", "urgent please call me back now",
         "invoice page crashes with an error", "refund me today it is urgent", "my card was charged twice"]
THRESHOLDS = {"billing": 0.4, "technical": 0.6, "urgent": 0.5}


@pytest.fixture(scope="module")
def ml_model(tmp_path_factory):
    return build_model(tmp_path_factory.mktemp("explain-ml"), THRESHOLDS, labels=LABELS, words=TEXTS, scale=30)


def flip(cell, label):
    """`cell` with `label` added or removed: a true set that differs from the prediction in that label."""
    names = set(labelsets.split_labels(cell)) ^ {label}
    return labelsets.join_labels(names)


@pytest.fixture(scope="module")
def explained(ml_model, tmp_path_factory):
    """predictions.csv as evaluate writes it for a multi-label model: sets, confidence, a sigmoid per label."""
    tmp = tmp_path_factory.mktemp("explained-ml")
    model, tok = modeling.load_classifier(str(ml_model)), modeling.load_tokenizer(str(ml_model))
    proba = modeling.predict_proba(model, tok, TEXTS)
    predicted = labelsets.from_multi_hot(labelsets.decide(proba, modeling.thresholds_of(model)), LABELS)
    # Rows 0-2 differ from the prediction in one label each; row 3 in two; rows 4-5 are right.
    true = [flip(predicted[0], "billing"), flip(predicted[1], "technical"), flip(predicted[2], "urgent"),
            flip(flip(predicted[3], "billing"), "urgent"), predicted[4], predicted[5]]
    frame = pd.DataFrame({"text": TEXTS, "true": true, "predicted": predicted,
                          "confidence": np.min(np.maximum(proba, 1 - proba), axis=1)})
    for j, lab in enumerate(LABELS):
        frame[f"p_{lab}"] = proba[:, j]
    frame.to_csv(tmp / "predictions.csv", index=False)
    cfg = params.load_dict({"num_samples": 200, "num_features": 6, "correct_per_label": 1, "mode": "exact",
                            "precision": "fp32"}, "explain")  # plain LIME, so explain_one gives the same weights
    summary = explain.run(cfg=cfg, seed=0, model_dir=ml_model, predictions=tmp / "predictions.csv", out=tmp / "out")
    return tmp, summary, frame, proba, cfg


def test_each_wrong_label_is_explained_on_its_own_sigmoid(explained, ml_model):
    tmp, summary, frame, proba, cfg = explained
    assert summary["multi_label"] is True and summary["mismatches"] == 4 and summary["explained"] == 4
    model, tok = modeling.load_classifier(str(ml_model)), modeling.load_tokenizer(str(ml_model))
    fn = lime_runner.CachedClassifier(model, tok, 64)
    for ex in summary["examples"]:
        t, p = set(labelsets.split_labels(ex["true"])), set(labelsets.split_labels(ex["predicted"]))
        assert t != p
        assert [(e["label"], e["kind"]) for e in ex["labels"]] == (
            [(lab, "missed") for lab in sorted(t - p)] + [(lab, "extra") for lab in sorted(p - t)])
        ids = [LABELS.index(e["label"]) for e in ex["labels"]]
        exp = lime_runner.explain_one(ex["text"], ids, LABELS, fn, cfg, 0)
        # LIME's target is the label's own sigmoid column, which need not sum to 1 with the others.
        i = TEXTS.index(ex["text"])
        np.testing.assert_allclose(exp.predict_proba, proba[i], atol=1e-6)
        for e, j in zip(ex["labels"], ids):
            assert e["weights"] == [[tok, pytest.approx(w, abs=1e-6)] for tok, w in exp.as_list(label=j)]
            assert e["probability"] == pytest.approx(proba[i, j], abs=1e-6)
            assert e["threshold"] == THRESHOLDS[e["label"]]
            assert (e["kind"] == "missed") == (proba[i, j] < THRESHOLDS[e["label"]])
    two = [ex for ex in summary["examples"] if len(ex["labels"]) == 2]
    assert len(two) == 1 and {e["label"] for e in two[0]["labels"]} == {"billing", "urgent"}


def test_pages_and_markdown_say_the_same_per_wrong_label(explained):
    tmp, summary, *_ = explained
    md = (tmp / "out" / "mismatches.md").read_text(encoding="utf-8")
    assert "Multi-label model: each wrongly decided label is explained on its own sigmoid" in md
    for i, ex in enumerate(summary["examples"], 1):
        section = md.split(f"\n### {i}. true ")[1].split("\n### ")[0]
        page = (tmp / "out" / ex["html"]).read_text(encoding="utf-8")
        sections = page_sections(page)
        assert len(sections) == len(ex["labels"])
        for e in ex["labels"]:
            heading = multilabel.heading(e)
            assert sections[html.escape(heading)] == {t: pytest.approx(w, abs=1e-4) for t, w in e["weights"]}
            assert md_escape(heading) in section  # the same line in mismatches.md
            pushing = [t for t, w in e["weights"] if (w < 0 if e["kind"] == "missed" else w > 0)][:5]
            what = "away from" if e["kind"] == "missed" else "toward"
            line = next(x for x in section.splitlines() if x.startswith(f"- {md_escape(heading)}"))
            assert line.endswith(f"pushing {what} it: " + (", ".join(pushing) or "no token"))
            assert f"weight toward {e['label']} ({e['kind']})" in section
            for t in pushing:  # marked as pushing toward the model's wrong decision in the page
                assert f'<mark class="pred">{t}</mark>' in page or f'<mark class="both">{t}</mark>' in page
    assert "toward the model's wrong decisions" in page


def test_patterns_are_per_wrong_label_and_contrast_explains_correct_labels(explained):
    tmp, summary, *_ = explained
    pairs = {(p["true"], p["predicted"]) for p in summary["patterns"]}
    want = set()
    for ex in summary["examples"]:
        for e in ex["labels"]:
            want.add((e["label"], f"not {e['label']}") if e["kind"] == "missed" else (f"not {e['label']}", e["label"]))
    assert pairs == want
    for item in summary["contrast"]:
        assert item["true"] == item["predicted"] != ""
        assert [e["kind"] for e in item["labels"]] == ["correct"] * len(labelsets.split_labels(item["true"]))
    data = json.loads((tmp / "out" / "explanations.json").read_text())
    assert data["examples"] == json.loads(json.dumps(summary["examples"]))
    assert (tmp / "out" / "spurious_tokens.png").is_file()
    assert re.search(r"For a multi-label model the pairs are per label", (tmp / "out" / "mismatches.md").read_text())


def test_unknown_label_in_a_set_is_a_one_line_error(explained, ml_model, tmp_path):
    tmp, _, frame, _, cfg = explained
    bad = frame.copy()
    bad.loc[0, "true"] = "billing|refunds"
    bad.to_csv(tmp_path / "predictions.csv", index=False)
    with pytest.raises(DataError, match=r"true label 'refunds' is not a label of the model"):
        explain.run(cfg=cfg, seed=0, model_dir=ml_model, predictions=tmp_path / "predictions.csv", out=tmp_path / "o")
