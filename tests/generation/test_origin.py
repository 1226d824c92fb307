"""Where rows came from (core/origin.py): the origin strings, what evaluate slices by, the groups split joins, and
the origin each provider gives its rows (template, csv, real rows, openai against the local server)."""

import json
import re

from pathlib import Path

import pandas as pd
import pytest

from stages import generate
from stages.core import origin, params
from stages.core.io import read_csv
from stages.generation import openai_provider, template
from stages.generation.focus import templates_of
from stages.generation.task import load_task
from testkit import ROOT
from testkit.openai_server import FakeOpenAI

TASK = ROOT / "data" / "tasks" / "clickbait.yaml"


@pytest.mark.parametrize("value, expected", [
    ("clickbait-3", "clickbait-3"),
    ("llm:0123456789ab/clickbait-p2/audience=3,topic=12", "clickbait-p2"),
    ("llm:0123456789ab/p1/topic=1", "p1"),                      # model_as_label: the task's own prompt
    ("llm:0123456789ab/factual-focus1", "factual-focus1"),      # no attributes
    ("llm:0123456789ab/a/b-p1/x=1", "a/b-p1"),                  # a label with a slash
    ("data/raw/headlines.csv:17", "data/raw/headlines.csv"),
    ("C:/data/my:file.csv:3", "C:/data/my:file.csv"),           # colons in the path: the last one counts
    ("", "(none)"),
])
def test_slice_of_is_the_template_the_prompt_or_the_file(value, expected):
    assert origin.slice_of(value) == expected


def test_builders_and_slice_order_by_hand():
    key = "0123456789abcdef" * 4
    assert origin.llm(key, origin.prompt_id("clickbait", 2), {"topic": 12, "audience": 3}) == \
        "llm:0123456789ab/clickbait-p2/audience=3,topic=12"  # attributes by name
    assert origin.llm(key, origin.prompt_id("", 1), {}) == "llm:0123456789ab/p1"
    assert origin.focus_prompt_id("factual", 1) == "factual-focus1"
    assert origin.file_rows("in.csv", 2) == ["in.csv:1", "in.csv:2"] and origin.template_id("a", 4) == "a-4"
    assert origin.slice_order(["b-10", "b-2", "a-1", "b-2", "a.csv"]) == ["a-1", "a.csv", "b-2", "b-10"]


def test_join_groups_by_hand():
    # rows 0..6; near-duplicate groups g0={0,1}, g2={2}, g3={3,4}, g5={5}, g6={6}; origins join g0-g3 (t1)
    # and, through row 4, g3-g5 (t2); row 6 has no origin and joins nothing, as does row 2 (origin t3 alone).
    groups = {"g0": [0, 1], "g2": [2], "g3": [3, 4], "g5": [5], "g6": [6]}
    origins = ["t1", "t9", "t3", "t1", "t2", "t2", ""]
    assert origin.join_groups(groups, origins) == {"g0": [0, 1, 3, 4, 5], "g2": [2], "g6": [6]}
    assert origin.join_groups({"x": [1], "y": [0]}, ["", ""]) == {"x": [1], "y": [0]}


def test_template_ids_are_positions_and_a_shared_text_keeps_its_first_listing():
    task = load_task(TASK)
    bait, fact = task.labels
    assert bait.ids == tuple(f"clickbait-{n}" for n in range(1, len(bait.templates) + 1))
    shared = [t for t in fact.templates if t in bait.templates]
    assert len(shared) == 3  # the task file's deliberately ambiguous shapes
    for text, id_ in zip(fact.templates, fact.ids):
        own = f"factual-{fact.templates.index(text) + 1}"
        assert id_ == (bait.ids[bait.templates.index(text)] if text in shared else own)
    assert len(set(bait.ids + fact.ids)) == len(bait.templates) + len(fact.templates) - 3


def test_template_rows_carry_the_id_of_the_template_that_made_them():
    task = load_task(TASK)
    rows = template.generate(task, 120, 3)
    text_of = {id_: t for lab in task.labels for t, id_ in zip(lab.templates, lab.ids)}
    labels = {lab.name: lab for lab in task.labels}
    for row in rows:  # the template the origin names can make the text
        assert text_of[row["origin"]] in templates_of(row["text"], labels[row["label"]]), row
    assert len({r["origin"] for r in rows}) > 30  # 37 templates, 120 rows per label: nearly all used


def test_csv_and_real_rows_point_at_their_file_row_after_cleaning(tmp_path, monkeypatch):
    rows = [("Council approves budget for schools", "news"), ("You won't believe this trick", "bait"),
            ("council approves budget for schools!", "news"),  # an exact duplicate: dropped, row 1 kept
            ("Rail strike ends after pay deal", "news"), ("", "bait"), ("Nine secrets nobody tells you", "bait")]
    src = tmp_path / "in.csv"
    pd.DataFrame(rows, columns=["headline", "tag"]).to_csv(src, index=False)
    monkeypatch.chdir(tmp_path)  # generate.real.path: relative, under data/raw/
    (tmp_path / "data" / "raw").mkdir(parents=True)
    real_src = Path("data/raw/real.csv")
    pd.DataFrame([("Storm closes two roads in the north", "news"), ("This one habit ruins sleep", "bait")],
                 columns=["text", "label"]).to_csv(real_src, index=False)
    config = params.load_dict({"provider": "csv", "csv": {"path": str(src), "text_column": "headline",
                                                          "label_column": "tag"}, "real": {"path": str(real_src)}},
                              "generate")
    generate.run(cfg=config, seed=1, out=tmp_path / "g.csv", reports=tmp_path / "r")
    out = read_csv(tmp_path / "g.csv")
    assert dict(zip(out["origin"], out["text"])) == {
        f"{real_src}:1": "Storm closes two roads in the north", f"{real_src}:2": "This one habit ruins sleep",
        f"{src}:1": "Council approves budget for schools", f"{src}:2": "You won't believe this trick",
        f"{src}:4": "Rail strike ends after pay deal", f"{src}:6": "Nine secrets nobody tells you"}
    assert set(out[out["source"] == "real"]["origin"]) == {f"{real_src}:1", f"{real_src}:2"}


def test_openai_rows_name_their_request_prompt_and_attribute_values(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    task = load_task(TASK)
    with FakeOpenAI() as server:
        cfg = params.load_dict({"provider": "openai", "task": str(TASK), "base_url": server.url, "n_per_label": 20,
                                "samples_per_request": 5, "backoff_s": 0.01}, "generate")
        requests = openai_provider.plan(task, cfg, 42)
        rows, _ = openai_provider.generate(task, cfg, 42, tmp_path / "cache")
    assert len(rows) == 40 and len({r["origin"] for r in rows}) == 8  # 5 rows from each of 8 requests
    by_key = {r.key[:12]: r for r in requests}
    for row in rows:
        m = re.fullmatch(r"llm:([0-9a-f]{12})/(\w+)-p(\d)/audience=(\d+),length=(\d+),style=(\d+),topic=(\d+)",
                         row["origin"])
        assert m, row["origin"]
        req = by_key[m.group(1)]
        label = task.labels[task.label_names.index(m.group(2))]
        assert m.group(2) == row["label"] == req.label
        assert int(m.group(3)) == req.index % len(label.prompts) + 1  # the prompt the request used
        prompt, user = label.prompts[int(m.group(3)) - 1], req.body["messages"][1]["content"]
        used = [(name, int(k)) for name, k in zip(("audience", "length", "style", "topic"), m.groups()[3:])
                if f"{{{name}}}" in prompt]
        assert len(used) >= 2 and all(label.attributes[name][k - 1] in user for name, k in used)  # the values sent
    assert json.dumps(rows) == json.dumps(openai_provider.generate(task, cfg, 42, tmp_path / "cache")[0])  # cached
