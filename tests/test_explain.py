"""The explain stage on a tiny BERT trained on template headlines: equivalence with plain LIME, the reports,
determinism, escaping, edge cases (no mismatch, one word, no word characters) and bad inputs."""

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from stages import explain, train
from stages.core import modeling, params
from stages.core.errors import DataError
from stages.explanation import lime_runner
from stages.generation.task import load_task
from stages.generation.template import generate_label
from tests.page_checks import check_page
from testkit import ROOT

LONG = "you won't believe what the mayor found in texas this year, and why parents are furious about coffee"


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory, tiny_bert):
    """A real fine-tuned classifier: the tiny BERT trained on 40 template headlines per label."""
    tmp = tmp_path_factory.mktemp("explain-model")
    task = load_task(ROOT / "data" / "tasks" / "clickbait.yaml")
    rows = [(t, label.name) for label in task.labels for t in generate_label(label, 40, seed=1)]
    (tmp / "split").mkdir()
    pd.DataFrame(rows, columns=["text", "label"]).to_csv(tmp / "split" / "train.csv", index=False)
    pd.DataFrame(rows[::4], columns=["text", "label"]).to_csv(tmp / "split" / "val.csv", index=False)
    cfg = params.load_dict({"model": str(tiny_bert), "epochs": 4, "batch_size": 8, "learning_rate": 3e-3,
                            "warmup_ratio": 0.0, "max_length": 32}, "train")
    train.run(cfg=cfg, seed=0, split_dir=tmp / "split", model_dir=tmp / "model", reports=tmp / "reports")
    return tmp / "model"


@pytest.fixture(scope="module")
def loaded(model_dir):
    model = modeling.load_classifier(str(model_dir))
    return model, modeling.load_tokenizer(str(model_dir)), modeling.labels_of(model)


def cfg(**kw):
    return params.load_dict({"num_samples": 300, "num_features": 6, "correct_per_label": 1, "precision": "fp32",
                             "max_seconds": 600, **kw},  # the budget only in test_rounds.py (fake clock): no timing here
                            "explain")


def tutorial_fn(model, tokenizer):
    """The plain way: no cache, every perturbation tokenized in one call with padding=True."""
    import torch

    def fn(texts):
        with torch.inference_mode():
            enc = tokenizer(list(texts), padding=True, truncation=True, return_tensors="pt")
            return torch.softmax(model(**enc).logits.float(), dim=-1).double().numpy()
    return fn


@pytest.mark.parametrize("text", [LONG, "the mayor found coffee", "storm"])
def test_cached_classifier_gives_the_same_weights_as_plain_lime(loaded, text):
    from lime.lime_text import LimeTextExplainer

    model, tok, labels = loaded
    reference = LimeTextExplainer(class_names=labels, random_state=lime_runner.example_seed(3, text)).explain_instance(
        text, tutorial_fn(model, tok), labels=[0, 1], num_features=6, num_samples=300)
    fn = lime_runner.CachedClassifier(model, tok, batch_size=16)
    ours = lime_runner.explain_one(text, [0, 1], labels, fn, cfg(), 3)
    for label in (0, 1):
        ref_w, our_w = dict(reference.as_list(label=label)), dict(ours.as_list(label=label))
        assert ref_w.keys() == our_w.keys()
        assert max(abs(ref_w[k] - our_w[k]) for k in ref_w) < 1e-4
    if " " in text:  # the model does react to the words, so equal weights are not both ~0
        assert max(abs(w) for _, w in reference.as_list(label=1)) > 1e-3
    assert fn.predicted < fn.calls  # repeated perturbations were predicted once


def test_an_explanation_does_not_depend_on_the_examples_explained_before(loaded):
    model, tok, labels = loaded
    alone = lime_runner.explain_one(LONG, [1], labels, lime_runner.CachedClassifier(model, tok, 64), cfg(), 5)
    shared = lime_runner.CachedClassifier(model, tok, 64)
    lime_runner.explain_one("the mayor found coffee", [1], labels, shared, cfg(), 5)
    after = lime_runner.explain_one(LONG, [1], labels, shared, cfg(), 5)
    a, b = dict(alone.as_list(label=1)), dict(after.as_list(label=1))
    assert a.keys() == b.keys() and max(abs(a[k] - b[k]) for k in a) < 1e-6


def test_explaining_logs_a_progress_line_per_ten_seconds_not_one_per_row(loaded, caplog):
    """A fake clock 4 s further at each reading (one per row, one per line): lines at 3/6 (12 s) and 5/6 (24 s) and
    a last one, never a line per row. The explanations are those of the row explained alone."""
    import itertools
    import logging

    model, tok, labels = loaded
    texts = ["the mayor found coffee", "storm hits texas", "you won't believe this", "council approves budget",
             "why parents are furious", "rain expected today"]
    rows = pd.DataFrame({"text": texts, "true": labels[0], "predicted": labels[1], "confidence": 0.9})
    fn, now = lime_runner.CachedClassifier(model, tok, 64), itertools.count(0.0, 4.0)
    caplog.set_level(logging.INFO, logger="stages")
    out = lime_runner.explain_frames({"mismatch": rows}, labels, fn, cfg(num_samples=50), 3, clock=lambda: next(now))
    lines = [r.getMessage() for r in caplog.records if r.name == lime_runner.log.name]
    assert len(lines) == 3 and not any("new strings predicted" in line for line in lines), lines
    assert lines[0].startswith("LIME rows: 3/6 rows") and lines[-1].startswith("LIME rows: 6/6 rows")
    alone = lime_runner.explain_frames({"mismatch": rows.iloc[5:]}, labels, lime_runner.CachedClassifier(model, tok, 64),
                                       cfg(num_samples=50), 3)
    assert out["mismatch"][5][0] == {**alone["mismatch"][0][0], "html": "html/06.html"}  # the log changes nothing


def test_the_stage_rounds_give_plain_lime_in_exact_mode_and_at_num_samples(loaded):
    """Exact mode, and a converge run that never settles, are plain LIME at num_samples (explain_one, no rounds),
    and converge settles sooner where the weights settle (bf16 scoring here)."""
    model, tok, labels = loaded
    rows = pd.DataFrame({"text": [LONG, "the mayor found coffee", "storm"], "true": labels[0], "predicted": labels[1],
                         "confidence": 0.9})
    plain = [lime_runner.explain_one(t, [1, 0], labels, lime_runner.CachedClassifier(model, tok, 64), cfg(), 7)
             for t in rows["text"]]
    for c in (cfg(mode="exact"), cfg(min_samples=100, tolerance=1e-9)):
        fn = lime_runner.CachedClassifier(model, tok, 64)
        out = lime_runner.explain_frames({"mismatch": rows}, labels, fn, c, 7)["mismatch"]
        assert [item["samples"] for item, _ in out] == [300] * 3
        assert {item["stopped"] for item, _ in out} == {"exact" if c.mode == "exact" else "num_samples"}
        for (_, exp), ref in zip(out, plain):  # equal up to fp32 rounding (other batches, other padding)
            for label in (0, 1):
                a, b = dict(exp.as_list(label=label)), dict(ref.as_list(label=label))
                assert a.keys() == b.keys() and max(abs(a[k] - b[k]) for k in a) < 1e-6
    fn = lime_runner.CachedClassifier(model, tok, 64, "bf16")  # the bf16 path (autocast) where auto picks it
    settled = lime_runner.explain_frames({"mismatch": rows}, labels, fn, cfg(num_samples=1000, min_samples=100), 7)
    stops = [(item["stopped"], item["samples"]) for item, _ in settled["mismatch"]]
    assert stops[0][0] == "converged" and stops[1][0] == "converged" and stops[1][1] < 1000, stops
    assert stops[2] == ("num_samples", 1000)  # one word: LIME's single weight grows with n (its ridge shrinkage)


def write_predictions(path, rows):
    frame = pd.DataFrame(rows, columns=["text", "true", "predicted", "confidence"])
    frame["p_clickbait"] = [c if p == "clickbait" else 1 - c for _, _, p, c in rows]
    frame["p_factual"] = 1 - frame["p_clickbait"]
    frame.to_csv(path, index=False)


ROWS = [
    ("<script>alert(1)</script> **mayor** found [x](http://e.x) | coffee", "factual", "clickbait", 0.9),
    ("storm", "factual", "clickbait", 0.8),                        # a single word works
    ("!!! ???", "factual", "clickbait", 0.95),                     # no word characters: skipped, said so
    ("city council approved a budget", "clickbait", "factual", 0.7),
    ("central bank raised rates in march", "factual", "factual", 0.99),
    ("toyota to cut 100 jobs", "factual", "factual", 0.6),
    ("10 secrets nobody saw coming", "clickbait", "clickbait", 0.97),
]


@pytest.fixture(scope="module")
def reports(tmp_path_factory, model_dir):
    tmp = tmp_path_factory.mktemp("explained")
    write_predictions(tmp / "predictions.csv", ROWS)
    summary = explain.run(cfg=cfg(), seed=0, model_dir=model_dir, predictions=tmp / "predictions.csv",
                          out=tmp / "out")
    return tmp, summary


def test_reports_explain_mismatches_most_confident_first_and_contrast_per_label(reports):
    tmp, summary = reports
    assert (summary["mismatches"], summary["explained"], summary["skipped_no_words"]) == (4, 3, 1)
    assert [ex["confidence"] for ex in summary["examples"]] == [0.9, 0.8, 0.7]
    assert [ex["text"] for ex in summary["examples"]][1] == "storm"
    assert [w[0] for w in summary["examples"][1]["weights"]] == ["storm"]
    assert [(c["true"], c["confidence"]) for c in summary["contrast"]] == [("clickbait", 0.97), ("factual", 0.99)]
    for ex in summary["examples"]:  # both sides of a mistake: toward the prediction and toward the truth
        assert {t for t, _ in ex["weights"]} == {t for t, _ in ex["weights_true"]}
    assert json.loads((tmp / "out" / "explanations.json").read_text()) == summary
    pairs = {(p["true"], p["predicted"]): p for p in summary["patterns"]}
    assert pairs[("factual", "clickbait")]["mismatches"] == 2 and pairs[("clickbait", "factual")]["mismatches"] == 1
    md = (tmp / "out" / "mismatches.md").read_text()
    assert "Skipped 1 mismatches whose text has no word characters" in md
    assert "## Spurious patterns" in md and "## Correctly classified, for contrast" in md
    assert "](spurious_tokens.png)" in md and (tmp / "out" / "spurious_tokens.png").stat().st_size > 1000
    check_page(md)


def test_texts_are_shown_as_text_never_as_markup(reports):
    tmp, _ = reports
    md = (tmp / "out" / "mismatches.md").read_text()
    assert "<script>" not in md and "](http" not in md
    # escaped angle brackets; LIME's tokens may be emphasised inside (&lt;*script*&gt;), depending on the model
    assert re.search(r"&lt;\**script\**&gt;", md)
    line = next(x for x in md.splitlines() if x.startswith("> ") and "alert" in x)
    assert "\\*\\*" in line and "\\[" in line and "\\|" in line  # literal asterisks, brackets, pipe
    page = (tmp / "out" / "html" / "01.html").read_text()
    assert "<script>alert" not in page and "</script> **mayor**" not in page


def test_each_page_shows_both_sides_with_the_weights_of_exp_as_list(reports, loaded):
    from tests.explanation.test_pages import page_sections

    model, tok, labels = loaded
    tmp, summary = reports
    html = tmp / "out" / "html"
    assert sorted(p.name for p in html.iterdir()) == ["01.html", "02.html", "03.html", "correct-01.html",
                                                      "correct-02.html"]  # no script bundle: static pages
    md = (tmp / "out" / "mismatches.md").read_text()
    fn = lime_runner.CachedClassifier(model, tok, 64)
    for ex in summary["examples"] + summary["contrast"]:
        page = (tmp / "out" / ex["html"]).read_text()
        pred, true = labels.index(ex["predicted"]), labels.index(ex["true"])
        exp = lime_runner.explain_one(ex["text"], [pred] if pred == true else [pred, true], labels, fn, cfg(), 0)
        sections = list(page_sections(page).items())
        expected = [(pred, "predicted")] + ([(true, "true")] if pred != true else [])
        assert len(sections) == len(expected)
        for (heading, weights), (label, side) in zip(sections, expected):
            assert heading.startswith(f"Toward the {side}") and heading.endswith(labels[label])
            reference = exp.as_list(label=label)
            assert list(weights) == [t for t, _ in reference]
            assert all(abs(weights[t] - w) < 6e-5 for t, w in reference)  # shown to 4 decimals
        assert "<script" not in page and f"[LIME page]({ex['html']})" in md


def test_same_inputs_same_bytes_and_stale_pages_are_removed(reports, model_dir):
    tmp, _ = reports
    before = {p.relative_to(tmp / "out"): p.read_bytes() for p in (tmp / "out").rglob("*") if p.is_file()}
    (tmp / "again" / "html").mkdir(parents=True)
    (tmp / "again" / "html" / "99.html").write_text("old")
    explain.run(cfg=cfg(), seed=0, model_dir=model_dir, predictions=tmp / "predictions.csv",
                out=tmp / "again")
    after = {p.relative_to(tmp / "again"): p.read_bytes() for p in (tmp / "again").rglob("*") if p.is_file()}
    assert after == before
    # Fewer examples into the same directory: the pages of the examples no longer explained are gone.
    explain.run(cfg=cfg(max_examples=1, correct_per_label=0), seed=0, model_dir=model_dir,
                predictions=tmp / "predictions.csv", out=tmp / "again")
    assert sorted(p.name for p in (tmp / "again" / "html").iterdir()) == ["01.html"]
    other = explain.run(cfg=cfg(), seed=1, model_dir=model_dir, predictions=tmp / "predictions.csv",
                        out=tmp / "seed1")
    assert other["examples"][0]["weights"] != json.loads(before[Path("explanations.json")])["examples"][0]["weights"]


def test_the_page_explains_the_decision_of_predictions_csv_even_when_not_the_most_probable(tmp_path, model_dir):
    # evaluate writes a tuned rule's decision (core/decision.py), its probability as confidence: here clickbait at
    # 0.3. The page shows and explains that label, never the argmax (factual, the true label here).
    preds = tmp_path / "predictions.csv"
    write_predictions(preds, [("storm hits texas", "factual", "clickbait", 0.3)])
    summary = explain.run(cfg=cfg(correct_per_label=0), seed=0, model_dir=model_dir, predictions=preds,
                          out=tmp_path / "out")
    (ex,) = summary["examples"]
    assert (ex["predicted"], ex["true"], ex["confidence"]) == ("clickbait", "factual", 0.3)
    page = (tmp_path / "out" / ex["html"]).read_text()
    assert "true: factual, predicted: clickbait (confidence 0.300)" in page
    assert "Toward the predicted label: clickbait" in page and "Toward the true label: factual" in page
    assert "### 1. true factual, predicted clickbait (confidence 0.300)" in (tmp_path / "out" / "mismatches.md").read_text()


def test_zero_mismatches_is_a_report_not_an_error(tmp_path, model_dir):
    preds = tmp_path / "predictions.csv"
    write_predictions(preds, [("city council approved a budget", "factual", "factual", 0.7)])
    summary = explain.run(cfg=cfg(correct_per_label=0), seed=0, model_dir=model_dir, predictions=preds,
                          out=tmp_path / "out")
    assert (summary["mismatches"], summary["explained"], summary["examples"], summary["patterns"]) == (0, 0, [], [])
    assert "every test row was classified correctly" in (tmp_path / "out" / "mismatches.md").read_text()
    assert (tmp_path / "out" / "spurious_tokens.png").is_file() and not (tmp_path / "out" / "html").exists()


def test_predictions_without_probability_columns_name_what_is_missing(tmp_path, model_dir):
    preds = tmp_path / "predictions.csv"
    pd.DataFrame([("storm hits", "factual", "factual", 0.9)], columns=["text", "true", "predicted", "confidence"]
                 ).to_csv(preds, index=False)
    with pytest.raises(DataError, match=r"predictions.csv: expected a probability column p_<label> per model label, "
                                        r"found 0"):
        explain.run(cfg=cfg(), seed=0, model_dir=model_dir, predictions=preds, out=tmp_path / "out")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("rows, message", [
    ([("storm hits", "factual", "sports", 0.9)], "predicted label 'sports' is not a label of the model"),
    ([("storm hits", "factual", "clickbait", "high")], "row 1: confidence must be a probability in [0, 1], got 'high'"),
    ([("storm hits", "factual", "clickbait", 1.5)], "row 1: confidence must be a probability in [0, 1], got '1.5'"),
])
def test_bad_predictions_fail_in_one_line_and_write_nothing(tmp_path, model_dir, capsys, rows, message):
    preds = tmp_path / "predictions.csv"
    frame = pd.DataFrame(rows, columns=["text", "true", "predicted", "confidence"])
    frame.assign(p_clickbait=0.5, p_factual=0.5).to_csv(preds, index=False)
    (tmp_path / "params.yaml").write_text("base: {seed: 1}\nexplain: {num_samples: 50}\n")
    code = explain.main(["--params", str(tmp_path / "params.yaml"), "--model", str(model_dir),
                         "--predictions", str(preds), "--out", str(tmp_path / "out")])
    errors = [line for line in capsys.readouterr().err.splitlines() if "error" in line.lower()]
    assert code == 2 and len(errors) == 1 and errors[0].startswith(f"error: {preds}: ") and message in errors[0]
    assert not (tmp_path / "out").exists()
    with pytest.raises(DataError, match="missing column 'confidence'"):
        pd.DataFrame({"text": ["a"], "true": ["x"], "predicted": ["y"]}).to_csv(preds, index=False)
        explain.run(cfg=cfg(), seed=0, model_dir=model_dir, predictions=preds, out=tmp_path / "out")


@pytest.mark.skipif(not __import__("torch").cuda.is_available(), reason="needs a CUDA GPU")
def test_on_the_gpu_weights_match_the_cpu(loaded, model_dir):
    model, tok, labels = loaded
    cpu = lime_runner.explain_one(LONG, [1], labels, lime_runner.CachedClassifier(model, tok, 64), cfg(), 2)
    gpu_model = modeling.load_classifier(str(model_dir)).to("cuda")
    gpu = lime_runner.explain_one(LONG, [1], labels, lime_runner.CachedClassifier(gpu_model, tok, 64), cfg(), 2)
    a, b = dict(cpu.as_list(label=1)), dict(gpu.as_list(label=1))
    assert a.keys() == b.keys() and max(abs(a[k] - b[k]) for k in a) < 1e-3
    assert np.isfinite(list(b.values())).all()

