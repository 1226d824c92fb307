"""`synthbert focus` and the focus file: the latest evaluation's errors become template weights and
contrastive prompts that the next generate run reads (generation/focus.py, stages/tools/focus.py)."""

from __future__ import annotations

import json
import subprocess
import sys

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


def texts_of(template_text: str, n: int, seed: int = 1) -> list[str]:
    """Texts that one clickbait template produces (the template provider's own filling)."""
    one = type(CLICKBAIT)(CLICKBAIT.name, CLICKBAIT.description, (template_text,), CLICKBAIT.slots)
    return template.generate_label(one, n, seed)


def write_reports(tmp_path, mismatched: list[str]) -> dict:
    rows = [{"text": t, "true": "clickbait", "predicted": "factual", "confidence": 0.9} for t in mismatched]
    rows.append({"text": "Council approves the budget", "true": "factual", "predicted": "clickbait", "confidence": 0.8})
    pd.DataFrame(rows).to_csv(tmp_path / "mismatches.csv", index=False)
    patterns = [{"true": "clickbait", "predicted": "factual", "mismatches": len(mismatched),
                 "tokens": [{"token": "announced", "count": 3}, {"token": "union", "count": 2}]}]
    (tmp_path / "explanations.json").write_text(json.dumps({"patterns": patterns}))
    issues = {"label_issues": {"examples": [{"text": "Why the court cut a program", "label": "clickbait"}]}}
    (tmp_path / "quality.json").write_text(json.dumps(issues))
    return {"params_path": ROOT / "params.yaml", "mismatches": tmp_path / "mismatches.csv",
            "explanations": tmp_path / "explanations.json", "quality": tmp_path / "quality.json",
            "out": tmp_path / "focus.yaml"}


def test_each_template_behind_a_mismatch_is_weighted_by_its_mismatches(tmp_path):
    first, second = CLICKBAIT.templates[0], CLICKBAIT.templates[1]
    mismatched = texts_of(first, 3) + texts_of(second, 1)
    for text in mismatched[:3]:
        assert focus.templates_of(text, CLICKBAIT) == [first]
    result = focus_tool.run(**write_reports(tmp_path, mismatched), boost=2.0, rows=30)
    assert result["templates"]["clickbait"] == {first: 7.0, second: 3.0}   # 1 + 2 x mismatches
    assert result["confused"][0] == {"true": "clickbait", "predicted": "factual", "mismatches": 4,
                                     "tokens": ["announced", "union"], "opens_with": result["confused"][0]["opens_with"]}
    prompt = result["prompts"]["clickbait"][0]
    assert "'announced', 'union'" in prompt and "factual" in prompt and "Why the court cut a program" in prompt
    assert "{n}" in prompt and "{label}" in prompt   # filled by the openai provider per request
    read = focus.read(tmp_path / "focus.yaml", TASK)   # what generate reads back
    assert read.templates == result["templates"] and read.rows == 30 and bool(read)


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
    focus_tool.run(params_path=ROOT / "params.yaml", mismatches=empty, explanations=None, quality=None, out=empty,
                   boost=1.0, rows=0, clear=True)
    assert not focus.read(empty, TASK) and yaml.safe_load(empty.read_text()) == {}
    assert (ROOT / "data" / "focus.yaml").read_text() == empty.read_text()   # the shipped file: no focus


@pytest.mark.parametrize("content, message", [
    ("templates: {spam: {x: 2}}", "templates.spam: no label 'spam'"),
    ("templates: {clickbait: {'No such {template}': 2}}", "is not one of the label's templates"),
    ("templates: {clickbait: {'{number} {thing} about {topic} {hook}': -1}}", "must be a positive number"),
    ("prompts: {factual: [1, 2]}", "prompts.factual must be a list of prompt strings"),
    ("rows: -3", "rows must be a non-negative integer"),
    ("weights: {}", "unknown field 'weights'"),
])
def test_bad_focus_files_fail_in_one_line_naming_the_file(tmp_path, content, message):
    path = tmp_path / "focus.yaml"
    path.write_text(content + "\n")
    with pytest.raises(DataError, match=message) as err:
        focus.read(path, TASK)
    assert str(path) in str(err.value) and "\n" not in str(err.value)


def test_focus_without_an_evaluation_exits_2_in_one_line(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "stages.tools.focus", "--mismatches", str(tmp_path / "none.csv"),
                           "--out", str(tmp_path / "f.yaml")], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "run `dvc repro`" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "f.yaml").exists()


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


def test_a_focus_prompt_with_an_unknown_placeholder_is_refused(tmp_path):
    path = tmp_path / "focus.yaml"
    path.write_text("prompts: {factual: ['Write {n} texts about {colour}']}\n")
    with pytest.raises(DataError, match=r"prompts.factual: placeholder \{colour\}"):
        focus.read(path, TASK)


def test_a_template_the_task_lists_under_both_labels_is_reported_not_weighted(tmp_path):
    factual = next(lab for lab in TASK.labels if lab.name == "factual")
    shared = next(t for t in CLICKBAIT.templates if t in factual.templates)
    own = CLICKBAIT.templates[0]
    result = focus_tool.run(**write_reports(tmp_path, texts_of(shared, 3) + texts_of(own, 1)), boost=1.0, rows=0)
    assert result["templates"] == {"clickbait": {own: 2.0}}
    assert result["shared_templates"] == [shared]
    assert focus.read(tmp_path / "focus.yaml", TASK).templates == {"clickbait": {own: 2.0}}
