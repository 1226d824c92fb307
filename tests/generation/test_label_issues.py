"""Label issues: confident learning on out-of-fold TF-IDF+LR probabilities flags planted mislabels, is
deterministic, is skipped (with a reason) when a label is too small, and drops only synthetic rows."""

import json

import pandas as pd
import pytest

from stages import generate
from stages.core import params
from stages.generation import label_issues
from testkit import ROOT
from tests.page_checks import check_page

NEWS = ["council", "budget", "court", "rates", "bank", "storm", "rail", "senate", "census", "tariff"]
BAIT = ["shocking", "unbelievable", "secret", "trick", "amazing", "insane", "jaw", "dropping", "weird", "epic"]


def planted(n=40, source="template"):
    """n news-like and n bait-like rows; rows 0 and 1 of the news side carry the wrong label."""
    news = [{"text": f"{NEWS[i % 10]} {NEWS[(i * 3 + 1) % 10]} report number {i} official", "label": "news",
             "source": source} for i in range(n)]
    bait = [{"text": f"{BAIT[i % 10]} {BAIT[(i * 7 + 2) % 10]} you will not believe {i} now", "label": "bait",
             "source": source} for i in range(n)]
    for row in news[:2]:
        row["label"] = "bait"
    return news + bait


def test_planted_mislabels_are_flagged_with_the_suggested_label():
    rows = planted()
    report, flagged = label_issues.find(rows, 42, "none")
    assert {0, 1} <= set(flagged) and report["skipped"] is None
    assert report["total"] == len(flagged) and report["per_source"] == {"template": len(flagged)}
    assert report["per_label"]["bait"] >= 2 and set(report["per_label"]) == {"bait", "news"}
    worst = {e["text"]: e for e in report["examples"]}
    for row in rows[:2]:
        assert worst[row["text"]]["suggested"] == "news" and worst[row["text"]]["self_confidence"] < 0.5
    confidences = [e["self_confidence"] for e in report["examples"]]
    assert confidences == sorted(confidences) and len(report["examples"]) <= label_issues.TOP_EXAMPLES


def test_each_flagged_row_carries_its_origin_and_origins_count_them():
    """quality.json names the template or prompt behind each flagged row, for `synthbert focus`'s fix_labels."""
    rows = [{**r, "origin": f"{r['label']}-{i % 3 + 1}"} for i, r in enumerate(planted())]
    report, flagged = label_issues.find(rows, 42, "none")
    origin_of = {rows[i]["text"]: rows[i]["origin"] for i in flagged}
    assert [e["origin"] for e in report["examples"]] == [origin_of[e["text"]] for e in report["examples"]]
    assert sum(o["flagged"] for o in report["origins"].values()) == len(flagged) == report["total"]
    assert sorted(report["origins"]) == sorted({origin_of[t] for t in origin_of})
    for name, seen in report["origins"].items():
        assert 0 < len(seen["examples"]) <= label_issues.ORIGIN_EXAMPLES
        assert {e["origin"] for e in seen["examples"]} == {name}
    assert label_issues.find(rows[:6] + rows[40:42], 42, "none")[0]["origins"] is None   # skipped: too few rows


def test_same_rows_and_seed_give_the_same_report():
    first = json.dumps(label_issues.find(planted(), 7, "none"), sort_keys=True)
    assert json.dumps(label_issues.find(planted(), 7, "none"), sort_keys=True) == first


def test_a_label_with_fewer_rows_than_folds_is_skipped_with_a_reason():
    rows = [r for r in planted() if r["label"] == "news"] + planted()[40:44]  # 38 news rows, 4 bait rows
    report, flagged = label_issues.find(rows, 42, "none")
    assert flagged == [] and report["total"] is None and report["per_label"] is None
    assert report["skipped"] == "label 'bait' has 4 rows, fewer than the 5 cross-validation folds need"


def test_drop_removes_flagged_synthetic_rows_only_and_counts_them():
    rows = planted()
    rows[0]["source"], rows[2]["source"], rows[1]["source"] = "real", "csv:in.csv", "openai:gpt-4o-mini"
    kept, dropped = label_issues.drop(rows, [0, 1, 2], {"duplicate": 3})
    assert rows[0] in kept and rows[2] in kept and rows[1] not in kept and len(kept) == len(rows) - 1
    assert dropped == {"duplicate": 3, "label_issue": 1}
    assert label_issues.drop(rows, [0, 2], {}) == (rows, {})


@pytest.mark.parametrize("label_filter", ["none", "confident_learning"])
def test_stage_reports_label_issues_and_drops_them_only_when_asked(tmp_path, label_filter):
    src = tmp_path / "in.csv"
    pd.DataFrame(planted())[["text", "label"]].to_csv(src, index=False)
    config = params.load_dict({"provider": "csv", "csv": {"path": str(src)}, "label_filter": label_filter}, "generate")
    report = generate.run(cfg=config, seed=42, out=tmp_path / "g.csv", reports=tmp_path / "r")
    out = pd.read_csv(tmp_path / "g.csv")
    issues = json.loads((tmp_path / "r" / "quality.json").read_text())["label_issues"]
    assert issues["total"] >= 2 and issues["filter"] == label_filter
    mislabelled = planted()[0]["text"]
    # csv-provider rows are human-labelled: flagged and listed, never dropped, whatever the filter
    assert "label_issue" not in report["dropped"] and mislabelled in set(out["text"]) and len(out) == 80
    md = (tmp_path / "r" / "quality.md").read_text()
    assert "## Label issues" in md and f"Flagged: {issues['total']}" in md and "| given label |" in md
    check_page(md)


def test_confident_learning_drops_flagged_template_rows_and_a_skipped_filter_is_a_warning(tmp_path, caplog):
    task = ROOT / "data" / "tasks" / "clickbait.yaml"
    config = params.load_dict({"task": str(task), "n_per_label": 60, "label_filter": "confident_learning"}, "generate")
    report = generate.run(cfg=config, seed=42, out=tmp_path / "g.csv", reports=tmp_path / "r")
    assert report["label_issues"]["total"] == report["dropped"]["label_issue"] >= 1  # synthetic: all dropped
    caplog.clear()
    config = params.load_dict({"task": str(task), "n_per_label": 3, "label_filter": "confident_learning"}, "generate")
    report = generate.run(cfg=config, seed=42, out=tmp_path / "g2.csv", reports=tmp_path / "r2")
    assert report["label_issues"]["skipped"]
    warned = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert f"generate.label_filter confident_learning was skipped, nothing dropped: {report['label_issues']['skipped']}" \
        in warned


@pytest.mark.parametrize("multi", [False, True])
def test_features_made_once_give_the_probabilities_of_analysing_each_fold(multi):
    """Each text is analysed once (label_issues.Analyzed); the out-of-fold probabilities equal, bit for bit,
    those of TfidfVectorizer(ngram_range=(1, 2)) analysing every fold's texts itself."""
    import numpy as np
    from iterstrat.ml_stratifiers import MultilabelStratifiedKFold
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.multiclass import OneVsRestClassifier
    from sklearn.pipeline import make_pipeline

    rows = planted(60)
    texts = [r["text"] for r in rows]
    labels = sorted({r["label"] for r in rows})
    if multi:
        y = np.array([[r["label"] == lab or i % 3 == j for j, lab in enumerate(labels)] for i, r in enumerate(rows)],
                     dtype=int)
        plain = make_pipeline(TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True),
                              OneVsRestClassifier(LogisticRegression(max_iter=1000)))
        folds = MultilabelStratifiedKFold(n_splits=label_issues.FOLDS, shuffle=True, random_state=7)
        got = label_issues.out_of_fold_multi(texts, y, 7)
    else:
        y = [labels.index(r["label"]) for r in rows]
        plain = make_pipeline(TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True), LogisticRegression(max_iter=1000))
        folds = StratifiedKFold(n_splits=label_issues.FOLDS, shuffle=True, random_state=7)
        got = label_issues.out_of_fold(texts, y, 7)
    assert np.array_equal(got, cross_val_predict(plain, texts, y, cv=folds, method="predict_proba"))
