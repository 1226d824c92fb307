"""Real rows mixed into a provider's rows (generate.real): sampling per label, priority over synthetic
duplicates (exact and near), counts per source, and real rows as few-shot examples for the openai provider."""

import json

import pandas as pd
import pytest

from stages import generate
from stages.core import params
from stages.core.params_real import RealRows
from stages.core.similarity import jaccard, words
from stages.generation import real
from testkit import ROOT

TASK = ROOT / "data" / "tasks" / "clickbait.yaml"
HEADLINES = ROOT / "data" / "raw" / "headlines.csv"


def cfg(**kw):
    return params.load_dict({"task": str(TASK), **kw}, "generate")


def test_per_label_draws_that_many_of_each_label_seeded_and_zero_takes_all():
    rows = real.read(RealRows(path=str(HEADLINES), per_label=2), seed=42)
    assert [r["label"] for r in rows] == ["clickbait", "clickbait", "factual", "factual"]
    assert {r["source"] for r in rows} == {"real"}
    assert real.read(RealRows(path=str(HEADLINES), per_label=2), seed=42) == rows
    others = [real.read(RealRows(path=str(HEADLINES), per_label=2), seed=s) for s in range(5)]
    assert any(o != rows for o in others)  # the draw depends on the seed
    assert len(real.read(RealRows(path=str(HEADLINES)), seed=42)) == len(pd.read_csv(HEADLINES)) == 12
    assert len(real.read(RealRows(path=str(HEADLINES), per_label=100), seed=42)) == 12
    assert real.read(RealRows(), seed=42) == []  # path null: off


def test_real_rows_are_marked_real_and_win_over_exact_and_near_synthetic_duplicates(tmp_path):
    generate.run(cfg=cfg(n_per_label=30), seed=42, out=tmp_path / "synthetic.csv", reports=tmp_path / "r0")
    synthetic = pd.read_csv(tmp_path / "synthetic.csv")
    exact = synthetic[synthetic["label"] == "clickbait"]["text"].iloc[0]
    near_of = next(t for t in synthetic["text"] if len(set(words(t))) >= 9 and "zebra" not in words(t))
    near = near_of + " zebra"
    assert jaccard(set(words(near)), set(words(near_of))) >= 0.9
    lines = ["headline,tag", f'"{exact.upper()}",factual', f'"{near}",{synthetic.set_index("text").loc[near_of, "label"]}',
             '"Court rejects appeal over water prices",factual', '"This one trick ends every argument",clickbait']
    (tmp_path / "real.csv").write_text("\n".join(lines) + "\n")
    config = cfg(n_per_label=30, real={"path": str(tmp_path / "real.csv"), "text_column": "headline",
                                       "label_column": "tag"})
    report = generate.run(cfg=config, seed=42, out=tmp_path / "mixed.csv", reports=tmp_path / "r")
    mixed = pd.read_csv(tmp_path / "mixed.csv")
    real_rows = mixed[mixed["source"] == "real"]
    assert len(real_rows) == 4 and mixed["source"].iloc[:4].tolist() == ["real"] * 4  # real rows first
    assert exact not in set(mixed["text"]) and exact.upper() in set(real_rows["text"])  # the real label won
    assert mixed.set_index("text").loc[exact.upper(), "label"] == "factual"
    assert near_of not in set(mixed["text"]) and near in set(real_rows["text"])
    assert report["dropped"]["duplicate"] == 1 and report["dropped"]["near_duplicate"] >= 1
    assert "conflicting_labels" not in report["dropped"]
    assert report["per_source"] == {"real": {"before": 4, "after": 4}, "template": {"before": 60, "after": 58}}
    assert report["rows_read"] == 64 and report["rows_kept"] == 62
    md = (tmp_path / "r" / "quality.md").read_text()
    assert "Rows per source (read → kept): real 4 → 4; template 60 → 58." in md


def test_without_real_rows_nothing_changes_and_the_report_names_one_source(tmp_path):
    report = generate.run(cfg=cfg(n_per_label=20), seed=42, out=tmp_path / "g.csv", reports=tmp_path / "r")
    assert report["per_source"] == {"template": {"before": 40, "after": 40}}


@pytest.mark.parametrize("override, message", [
    ({"few_shot_source": "real"}, "generate.few_shot_source must be task unless generate.real.path names the real rows"),
    ({"real": {"path": "data/raw/x.csv", "per_label": -1}}, "generate.real.per_label must be >= 0 rows per label"),
    ({"real": {"path": "data/raw/x.txt"}}, "generate.real.path must be null or a .csv file"),
    ({"real": {"file": "x.csv"}}, "unknown key generate.real.file"),
    ({"label_filter": "cleanlab"}, "generate.label_filter must be one of none, confident_learning"),
])
def test_mixing_params_errors_name_the_key(override, message):
    with pytest.raises(params.ParamsError) as err:
        params.load_dict(override, "generate")
    assert message in str(err.value)


KEY = "sk-real-test-0a1b2c"


@pytest.fixture
def server(monkeypatch):
    from testkit.openai_server import FakeOpenAI

    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    with FakeOpenAI() as s:
        yield s


def test_openai_few_shot_examples_come_from_the_real_rows_of_the_same_label(tmp_path, server):
    config = cfg(provider="openai", base_url=server.url, n_per_label=10, samples_per_request=5, few_shot=2,
                 few_shot_source="real", real={"path": str(HEADLINES)})
    report = generate.run(cfg=config, seed=42, out=tmp_path / "g.csv", reports=tmp_path / "r",
                          cache_dir=tmp_path / "cache")
    heads = pd.read_csv(HEADLINES)
    by_label = {lab: set(g["text"]) for lab, g in heads.groupby("label")}
    assert server.total == 4
    seen = []
    for body in server.bodies:
        prompt = body["messages"][1]["content"]
        shown = {line[2:] for line in prompt.splitlines() if line.startswith("- ")}
        seen += [lab for lab, texts in by_label.items() if len(shown) == 2 and shown <= texts]  # one label's rows
        assert "Central bank holds interest rate at 4.5%" not in prompt  # not the task file's examples
    assert sorted(seen) == ["clickbait", "clickbait", "factual", "factual"]
    assert report["per_source"]["real"] == {"before": 12, "after": 12}
    assert json.loads((tmp_path / "r" / "quality.json").read_text())["provider"]["provider"] == "openai"
