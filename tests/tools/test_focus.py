"""The focus file (generation/focus.py) that `synthbert focus` writes and the next generate run reads: template
weights, contrastive prompts, bad files, the dependency in dvc.yaml. What the command reads: test_focus_dev.py."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import yaml

from stages.core.errors import DataError
from stages.generation import focus, template
from stages.generation.task import load_task
from stages.tools import focus as focus_tool
from testkit import ROOT

TASK = load_task(ROOT / "data" / "tasks" / "clickbait.yaml")
CLICKBAIT = next(lab for lab in TASK.labels if lab.name == "clickbait")


def test_weighted_templates_are_drawn_more_often_and_no_focus_changes_nothing(tmp_path):
    weighted = CLICKBAIT.templates[0]
    pattern = focus.template_pattern(weighted, CLICKBAIT.slots)
    plain = template.generate(TASK, 200, seed=5)
    aimed = template.generate(TASK, 200, seed=5, weights={"clickbait": {weighted: 8.0}})
    share = [sum(bool(pattern.fullmatch(r["text"])) for r in rows if r["label"] == "clickbait") / 200
             for rows in (plain, aimed)]
    assert share[1] > 2 * share[0] > 0
    assert [r for r in aimed if r["label"] == "factual"] == [r for r in plain if r["label"] == "factual"]
    empty = tmp_path / "focus.yaml"
    focus_tool.run(params_path=ROOT / "params.yaml", out=empty, clear=True)
    assert not focus.read(empty, TASK) and yaml.safe_load(empty.read_text()) == {}
    assert (ROOT / "data" / "focus.yaml").read_text() == empty.read_text()   # the shipped file: no focus


@pytest.mark.parametrize("content, message", [
    ("templates: {spam: {x: 2}}", "templates.spam: no label 'spam'"),
    ("templates: {clickbait: {'No such {template}': 2}}", "is not one of the label's templates"),
    ("templates: {clickbait: {'{number} {thing} about {topic} {hook}': -1}}", "must be a positive number"),
    ("prompts: {factual: [1, 2]}", "prompts.factual must be a list of prompt strings"),
    ("rows: -3", "rows must be a non-negative integer"),
    ("weights: {}", "unknown field 'weights'"),
    ("shared_templates: []", "unknown field 'shared_templates'"),
    ("templates: {clickbait: {'{number} {thing} about {topic} {hook}': 3}}\n"
     "fix_labels: {clickbait-1: {text: '{number} {thing} about {topic} {hook}'}}", "is listed under fix_labels"),
])
def test_bad_focus_files_fail_in_one_line_naming_the_file(tmp_path, content, message):
    path = tmp_path / "focus.yaml"
    path.write_text(content + "\n")
    with pytest.raises(DataError, match=message) as err:
        focus.read(path, TASK)
    assert str(path) in str(err.value) and "\n" not in str(err.value)


def test_the_focus_file_is_a_dependency_of_generate():
    stage = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]["generate"]
    assert "data/focus.yaml" in stage["deps"] and "--focus data/focus.yaml" in stage["cmd"]


def test_openai_provider_asks_the_contrastive_prompts_on_top_and_caches_them(tmp_path, monkeypatch):
    from stages import generate
    from stages.core import params
    from testkit.openai_server import FakeOpenAI

    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    focus_file = tmp_path / "focus.yaml"
    focus_file.write_text(yaml.safe_dump({"rows": 7, "prompts": {"factual": [
        "Write {n} texts that are clearly {label} ({description}), although they open with 'What'."]}}))
    with FakeOpenAI() as server:
        cfg = params.load_dict({**params.read_params(ROOT / "params.yaml")["generate"], "provider": "openai",
                                "base_url": server.url, "n_per_label": 10, "samples_per_request": 5,
                                "task": str(ROOT / "data" / "tasks" / "clickbait.yaml")}, "generate")
        run = dict(cfg=cfg, seed=42, out=tmp_path / "g.csv", reports=tmp_path / "r", cache_dir=tmp_path / "cache")
        report = generate.run(**run, focus=focus_file)
        aimed = [b for b in server.bodies if "open with 'What'" in b["messages"][-1]["content"]]
        assert len(aimed) == 2 and server.total == 4 + 2      # 2 labels x 2 requests, then ceil(7 / 5) focus requests
        assert "clearly factual (" in aimed[0]["messages"][-1]["content"]   # {label} and {description} filled
        generation = json.loads((tmp_path / "r" / "generation.json").read_text())
        assert generation["per_label"]["factual"]["samples"] == 10 + 7   # n_per_label, plus `rows` of the prompt
        assert report["rows_read"] == 27
        server.reset_counts()
        generate.run(**run, focus=focus_file)
        assert server.total == 0                                  # every request, focus ones too, is cached
        generate.run(**run, focus=None)
        assert server.total == 0 and len(pd.read_csv(tmp_path / "g.csv")) <= 20   # no focus: the plain plan


def test_focus_rows_count_against_max_planned_requests_before_anything_is_sent(tmp_path, monkeypatch):
    """4 requests for n_per_label plus ceil(7 / 5) = 2 for the focus prompt: 6, over a cap of 5."""
    from stages import generate
    from stages.core import params
    from testkit.openai_server import FakeOpenAI

    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    focus_file = tmp_path / "focus.yaml"
    focus_file.write_text(yaml.safe_dump({"rows": 7, "prompts": {"factual": ["Write {n} texts that are {label}."]}}))
    with FakeOpenAI() as server:
        cfg = params.load_dict({"provider": "openai", "base_url": server.url, "n_per_label": 10, "samples_per_request": 5,
                                "max_planned_requests": 5, "task": str(ROOT / "data" / "tasks" / "clickbait.yaml")},
                               "generate")
        with pytest.raises(DataError) as err:
            generate.run(cfg=cfg, seed=42, out=tmp_path / "g.csv", reports=tmp_path / "r", cache_dir=tmp_path / "c",
                         focus=focus_file)
        assert server.total == 0 and not (tmp_path / "g.csv").exists()
    assert str(err.value) == (
        "generate: 20 rows (2 x n_per_label 10) need 4 requests and the focus file's 1 prompts x rows 7 need 2 more, "
        "6 in all (no price in the price table), more than generate.max_planned_requests (5); lower n_per_label or "
        "the focus rows (synthbert focus --rows), raise samples_per_request or max_planned_requests; nothing was "
        "planned or sent")


def test_a_focus_prompt_with_an_unknown_placeholder_is_refused(tmp_path):
    path = tmp_path / "focus.yaml"
    path.write_text("prompts: {factual: ['Write {n} texts about {colour}']}\n")
    with pytest.raises(DataError, match=r"prompts.factual: placeholder \{colour\}"):
        focus.read(path, TASK)
