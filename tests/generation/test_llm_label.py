"""The llm_label provider against the local OpenAI-compatible server: several models label a CSV of texts without
labels, the majority wins, ties and abstentions are counted and reported, the rows carry their own source, a rerun
sends nothing; bad inputs stop generate in one line (exit code 2)."""

import json

import pandas as pd
import pytest

from stages import generate, report as report_stage
from stages.core import params
from stages.core.contracts import QualityReport
from stages.core.errors import DataError
from stages.generation import label_issues, llm_label
from testkit import ROOT
from tests.page_checks import check_page

TASK = ROOT / "data" / "tasks" / "clickbait.yaml"
PATH = "data/raw/unlabelled.csv"
BAIT = [f"You won't believe what happened to {n} shoppers" for n in range(10)]
NEWS = [f"Council approves budget of {n} million for roads" for n in range(10)]
SPLIT = [f"Mayor speaks about rail plan number {n}" for n in range(4)]  # model b disagrees: a tie with two models


def bait_rule(text, labels):
    return "clickbait" if "believe" in text else "factual"


def contrary(text, labels):  # model b: the other label for SPLIT texts, no label (abstains) for NEWS 0
    if text == NEWS[0]:
        return "maybe"
    return "clickbait" if text in SPLIT else bait_rule(text, labels)


@pytest.fixture
def project(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-label-test")
    (tmp_path / "data" / "raw").mkdir(parents=True)
    rows = BAIT + NEWS + SPLIT + [BAIT[0], "  "]  # a duplicate (asked once) and a blank text (cleaning drops it)
    pd.DataFrame({"id": range(len(rows)), "text": rows}).to_csv(tmp_path / PATH, index=False)
    return tmp_path


@pytest.fixture
def server():
    from testkit.openai_server import FakeOpenAI

    with FakeOpenAI() as s:
        s.classify = bait_rule
        s.classify_by_model = {"b": contrary}
        yield s


def cfg(server, models=("a", "b"), **top):
    return params.load_dict({"task": str(TASK), "provider": "llm_label", "base_url": server.url,
                             "llm_label": {"path": PATH, "models": list(models), "texts_per_request": 8}, **top},
                            "generate")


def run(project, config, name="generated"):
    return generate.run(cfg=config, seed=42, out=project / f"{name}.csv", reports=project / "reports",
                        cache_dir=project / "cache")


def test_two_models_vote_ties_and_abstentions_are_counted_and_rows_carry_their_own_source(project, server):
    report = run(project, cfg(server))
    frame = pd.read_csv(project / "generated.csv")
    assert set(frame["source"]) == {"llm_label"} and not label_issues.human("llm_label")
    labels = dict(zip(frame["text"], frame["label"]))
    assert labels == {**{t: "clickbait" for t in BAIT}, **{t: "factual" for t in NEWS}}  # SPLIT: ties, no row
    assert frame.loc[frame["text"] == NEWS[3], "origin"].item() == f"{PATH}:14"  # file and data row
    gen = json.loads((project / "reports" / "generation.json").read_text())
    votes = gen["votes"]
    assert (votes["texts"], votes["labelled"], votes["unanimous"], votes["majority"]) == (24, 20, 19, 1)
    assert votes["dropped"] == {"tie": 4} and votes["agreement_with_vote"] == {"a": 1.0, "b": 0.95}
    assert gen["per_model"]["b"]["abstained"] == {"label_not_in_enum": 1} and gen["per_model"]["a"]["abstained"] == {}
    assert gen["requests"]["sent_this_run"] == server.total == 2 * 3 and gen["models"] == ["a", "b"]
    assert report["llm_dropped"] == {"tie": 4} and report["dropped"]["empty"] == 1
    assert report["provider"] == {"provider": "llm_label", "task": "clickbait", "file": PATH, "models": ["a", "b"],
                                  "mode": None}
    page = (project / "reports" / "quality.md").read_text()
    check_page(page)
    assert "20 of 24 distinct texts labelled by the models' majority (19 unanimous, 1 by majority)" in page
    assert "no row for: 4 tie" in page
    assert report_stage.report_lines(QualityReport.read(project / "reports" / "quality.json")) == [
        "", "Labels by LLMs (source llm_label, not a person's): 20 of 24 texts; dropped: 4 tie."]
    run(project, cfg(server), "again")
    assert (project / "again.csv").read_bytes() == (project / "generated.csv").read_bytes() and server.total == 6


def test_three_models_break_the_tie_and_one_model_needs_no_vote(project, server):
    run(project, cfg(server, models=("a", "b", "c")))
    labels = dict(pd.read_csv(project / "generated.csv")[["text", "label"]].values)
    assert all(labels[t] == "factual" for t in SPLIT) and len(labels) == 24
    server.classify_by_model = {}
    run(project, cfg(server, models=("c",)), "one")
    assert len(pd.read_csv(project / "one.csv")) == 24 and server.total == 9  # model c's answers are cached


@pytest.mark.parametrize("content, message", [
    ("id,headline\n1,Council approves budget\n", "missing column 'text'"),
    ("", "empty unlabelled CSV (generate.llm_label.path)"),
    ("text\n", "unlabelled CSV (generate.llm_label.path) has a header but no rows"),
])
def test_a_bad_input_file_is_one_line_naming_the_file_and_exit_2(project, server, capsys, content, message):
    (project / PATH).write_text(content)
    params_file = project / "params.yaml"
    params_file.write_text(json.dumps({"base": {"seed": 1}, "generate": {
        "task": str(TASK), "provider": "llm_label", "base_url": server.url, "llm_label": {"path": PATH}}}))
    code = generate.main(["--params", str(params_file), "--out", str(project / "g.csv"), "--reports",
                          str(project / "r"), "--cache", str(project / "cache")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and PATH in err[0] and message in err[0] and server.total == 0


def test_real_rows_with_a_label_outside_the_task_set_stop_before_any_request(project, server):
    (project / "data" / "raw" / "real.csv").write_text("text,label\nCouncil votes on budget,news\n")
    with pytest.raises(DataError, match="label 'news' is not one of the task's labels"):
        run(project, cfg(server, real={"path": "data/raw/real.csv"}))
    assert server.total == 0


def test_a_multi_label_task_is_refused_naming_the_task(project, server):
    with pytest.raises(DataError, match="generate.provider llm_label needs a single-label task"):
        run(project, cfg(server, task=str(ROOT / "data/tasks/support_tickets.yaml")))


@pytest.mark.parametrize("override, message", [
    ({"models": []}, "generate.llm_label.models must be one or more distinct model names, got []"),
    ({"models": ["a", "a"]}, "generate.llm_label.models must be one or more distinct model names"),
    ({"path": "/tmp/texts.csv"}, "generate.llm_label.path must be a .csv file under data/raw/"),
    ({"texts_per_request": 101}, "generate.llm_label.texts_per_request must be in [1, 100], got 101"),
])
def test_llm_label_params_errors_name_the_key(override, message):
    with pytest.raises(params.ParamsError) as err:
        params.load_dict({"provider": "llm_label", "llm_label": override}, "generate")
    assert message in str(err.value)


def test_the_vote_by_hand():
    said = {"a": {"t1": ["x"], "t2": ["x"], "t3": None}, "b": {"t1": ["x"], "t2": ["y"], "t3": None},
            "c": {"t1": ["y"], "t2": ["y"], "t3": ["x"]}}
    winners, votes = llm_label.vote(["t1", "t2", "t3", "t4"], said)
    assert winners == {"t1": "x", "t2": "y", "t3": "x"}
    assert (votes["unanimous"], votes["majority"], votes["dropped"]) == (0, 3, {"no_answer": 1})
    assert votes["agreement_with_vote"] == {"a": round(1 / 3, 4), "b": round(2 / 3, 4), "c": round(2 / 3, 4)}
