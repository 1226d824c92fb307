"""The README's recipes run to the report exactly as written: each command is read from README.md and run
word for word with the real dvc CLI in a fresh repository (only the environment differs: the LLM recipe's
requests go to a local OpenAI-compatible server through $OPENAI_BASE_URL)."""

from __future__ import annotations

import json
import re
import shlex

import pandas as pd
import pytest

from stages.core.text import md_escape
from stages.generation import template
from stages.generation.task import load_task
from testkit import ROOT
from testkit.dvc_repo import dvc, make_repo, stages_ran
from testkit.openai_server import FakeOpenAI

pytestmark = pytest.mark.e2e
ALL = ["inputs", "generate", "split", "train", "train_real_only", "evaluate", "explain", "audit", "report"]


def readme_command(*needles: str) -> list[str]:
    """The one `dvc exp run ...` command of README.md (in a code block or in backticks) holding every needle."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    found = {c.strip() for c in re.findall(r"^(dvc exp run [^\n`#]*)", text, re.M) + re.findall(r"`(dvc exp run [^`]*)`", text)}
    matches = [c for c in found if all(n in c for n in needles)]
    assert len(matches) == 1, f"README.md: expected one `dvc exp run` command with {needles}, found {matches}"
    return shlex.split(matches[0])


def check_report(repo, out: str, labels: list[str]) -> None:
    assert stages_ran(out) == ALL, out
    full = json.loads((repo / "reports" / "eval" / "test_metrics.json").read_text())["test"]
    assert sorted(full["per_label"]) == sorted(labels)
    report = (repo / "reports" / "report.md").read_text(encoding="utf-8")
    assert "## Verdict" in report and all(f"| {md_escape(lab)} |" in report for lab in labels), report


def test_the_bring_your_own_csv_command(tmp_path, tiny_bert):
    args = readme_command("generate.provider=csv", "generate.csv.path=", "generate.csv.text_column=")
    repo = make_repo(tmp_path / "repo", tiny_bert)
    path = next(a.split("=", 1)[1] for a in args if a.startswith("generate.csv.path="))
    text_column = next(a.split("=", 1)[1] for a in args if a.startswith("generate.csv.text_column="))
    rows = template.generate(load_task(ROOT / "data" / "tasks" / "clickbait.yaml"), 50, seed=3)
    # A user's labels, not the task file's: nothing in the pipeline may assume a label called clickbait.
    names = {"clickbait": "bait", "factual": "news"}
    pd.DataFrame({text_column: [r["text"] for r in rows], "label": [names.get(r["label"], r["label"]) for r in rows]}) \
        .to_csv(repo / path, index=False)
    check_report(repo, dvc(repo, *args[1:]).stdout, ["bait", "news"])


def test_the_model_as_label_command(tmp_path, tiny_bert, monkeypatch):
    args = readme_command("generate.mode=model_as_label")
    models = re.search(r"generate\.models=\[([^\]]*)\]", " ".join(args)).group(1).split(",")
    with FakeOpenAI() as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.url)
        monkeypatch.setenv("OPENAI_API_KEY", "local")
        repo = make_repo(tmp_path / "repo", tiny_bert)
        check_report(repo, dvc(repo, *args[1:]).stdout, models)
        asked = {body["model"] for body in server.bodies}
    assert asked == set(models)
    generation = json.loads((repo / "reports" / "data" / "generation.json").read_text())
    assert generation["base_url"] == server.url and generation["requests"]["sent_this_run"] == server.total


def test_the_multi_label_csv_command(tmp_path):
    from testkit.tiny_bert import build_tiny_bert

    args = readme_command("generate.provider=csv", "generate.csv.label_separator=")
    tickets = ROOT / "data" / "tasks" / "support_tickets.yaml"
    repo = make_repo(tmp_path / "repo", build_tiny_bert(tmp_path / "bert", [tickets.read_text(encoding="utf-8")]))
    path = next(a.split("=", 1)[1] for a in args if a.startswith("generate.csv.path="))
    separator = next(a.split("=", 1)[1] for a in args if a.startswith("generate.csv.label_separator=")).strip("'")
    rows = template.generate(load_task(tickets), 60, seed=3)  # stands in for the user's own multi-label rows
    pd.DataFrame({"text": [r["text"] for r in rows], "label": [r["label"].replace("|", separator) for r in rows]}) \
        .to_csv(repo / path, index=False)
    labels = ["account", "billing", "technical", "urgent"]
    check_report(repo, dvc(repo, *args[1:]).stdout, labels)
    assert json.loads((repo / "reports" / "data" / "dataset.json").read_text())["multi_label"] is True
