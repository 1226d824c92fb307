"""Other tasks than the default, through every stage to the report with the real dvc CLI: the shipped four-label
task file by one override, a user's own four-label CSV by the README's bring-your-own-CSV override alone, and
the shipped multi-label task file (support tickets) by one override."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from stages.generation import template
from stages.generation.task import load_task
from testkit import ROOT
from testkit.dvc_repo import dvc, make_repo, stages_ran
from testkit.tiny_bert import build_tiny_bert

pytestmark = pytest.mark.e2e
ALL = ["inputs", "generate", "split", "train", "train_real_only", "evaluate", "explain", "audit", "report"]
NEWS = ROOT / "data" / "tasks" / "news_topics.yaml"
LABELS = ["business", "science", "sports", "world"]
TICKETS = ROOT / "data" / "tasks" / "support_tickets.yaml"
TICKET_LABELS = ["account", "billing", "technical", "urgent"]


@pytest.fixture(scope="module")
def news_bert(tmp_path_factory):
    """The tiny BERT with the news task's words in its vocabulary (the default one knows the clickbait task's)."""
    return build_tiny_bert(tmp_path_factory.mktemp("news-bert"), [NEWS.read_text(encoding="utf-8")])


def check_four_label_run(repo, out: str) -> dict:
    assert stages_ran(out) == ALL, out
    metrics = json.loads((repo / "reports" / "metrics.json").read_text())["test"]
    assert set(metrics) == {"f1_macro", "accuracy", "roc_auc_macro"}  # no positive label on four labels
    full = json.loads((repo / "reports" / "eval" / "test_metrics.json").read_text())["test"]
    assert sorted(full["per_label"]) == LABELS
    assert all(v["roc_auc"] is not None and v["f1_ci_low"] <= v["f1"] <= v["f1_ci_high"]
               for v in full["per_label"].values())
    assert set(pd.read_csv(repo / "reports" / "eval" / "roc.csv")["label"]) == set(LABELS)  # a curve per label
    report = (repo / "reports" / "report.md").read_text(encoding="utf-8")
    assert "## Verdict" in report and all(f"| {lab} |" in report for lab in LABELS)
    assert "Data and pipelines are up to date." in dvc(repo, "status").stdout
    return full


def test_the_four_label_task_file_runs_to_the_report_by_one_override(tmp_path, news_bert):
    repo = make_repo(tmp_path / "repo", news_bert)
    out = dvc(repo, "exp", "run", "-S", "generate.task=data/tasks/news_topics.yaml").stdout
    check_four_label_run(repo, out)
    generated = pd.read_csv(repo / "data" / "generated.csv")
    assert sorted(generated["label"].unique()) == LABELS and set(generated["source"]) == {"template"}


def test_a_users_four_label_csv_runs_with_the_path_as_the_only_override(tmp_path, news_bert):
    repo = make_repo(tmp_path / "repo", news_bert)
    rows = template.generate(load_task(NEWS), 60, seed=7)  # stands in for the user's own annotated rows
    pd.DataFrame(rows)[["text", "label"]].to_csv(repo / "data" / "raw" / "mine.csv", index=False)
    out = dvc(repo, "exp", "run", "-S", "generate.provider=csv", "-S", "generate.csv.path=data/raw/mine.csv").stdout
    check_four_label_run(repo, out)
    assert set(pd.read_csv(repo / "data" / "generated.csv")["source"]) == {"csv:mine.csv"}


def test_the_multi_label_task_file_runs_to_the_report_by_one_override(tmp_path):
    from transformers import pipeline

    bert = build_tiny_bert(tmp_path / "tickets-bert", [TICKETS.read_text(encoding="utf-8")])
    repo = make_repo(tmp_path / "repo", bert, {"train": {"epochs": 4}})
    out = dvc(repo, "exp", "run", "-S", "generate.task=data/tasks/support_tickets.yaml").stdout
    assert stages_ran(out) == ALL, out
    generated = pd.read_csv(repo / "data" / "generated.csv")
    assert generated["label"].str.contains("|", regex=False).any()            # rows carrying several labels
    assert json.loads((repo / "reports" / "data" / "dataset.json").read_text())["multi_label"] is True
    split = json.loads((repo / "reports" / "data" / "split.json").read_text())["splits"]
    assert all(sorted(split[s]["labels"]) == TICKET_LABELS for s in ("train", "val", "test"))
    config = json.loads((repo / "models" / "classifier" / "config.json").read_text())
    assert config["problem_type"] == "multi_label_classification"
    assert sorted(config["decision_thresholds"]) == TICKET_LABELS
    metrics = json.loads((repo / "reports" / "metrics.json").read_text())["test"]
    assert set(metrics) == {"f1_micro", "f1_macro", "f1_samples", "hamming_loss", "subset_accuracy", "roc_auc_macro"}
    full = json.loads((repo / "reports" / "eval" / "test_metrics.json").read_text())["test"]
    assert sorted(full["per_label"]) == TICKET_LABELS
    assert all(v["f1_ci_low"] <= v["f1"] <= v["f1_ci_high"] for v in full["per_label"].values())
    baselines = json.loads((repo / "reports" / "eval" / "baselines.json").read_text())["models"]
    assert {"majority", "tfidf_lr", "fine_tuned"} <= set(baselines)
    explanations = json.loads((repo / "reports" / "explain" / "explanations.json").read_text())
    assert explanations["multi_label"] is True
    assert all(item["kind"] in ("missed", "extra", "correct") for ex in explanations["examples"] for item in ex["labels"])
    report = (repo / "reports" / "report.md").read_text(encoding="utf-8")
    assert "## Verdict" in report and all(f"| {lab} |" in report for lab in TICKET_LABELS)
    assert "Data and pipelines are up to date." in dvc(repo, "status").stdout
    scores = pipeline("text-classification", model=str(repo / "models" / "classifier"), top_k=None)(
        "I was charged $19 twice for the API yesterday")
    assert sorted(s["label"] for s in scores[0]) == TICKET_LABELS
