"""The LLM judge (generate.judge) against the local OpenAI-compatible server, whose answers a rule scripted here
gives: the judge disputes every row of one template (factual-9, "{org} to cut {number} jobs {period}") and one real
row. The report names that template and those rows; drop and relabel act on the synthetic rows only; a rerun, in any
mode, sends nothing; a seeded sample asks only its own batches."""

import json
import re
import shutil

import pandas as pd
import pytest

from stages import generate, report
from stages.core import params
from stages.core.contracts import QualityReport
from stages.core.labelsets import split_labels
from stages.generation import judge, judge_report
from testkit import ROOT
from tests.page_checks import check_page

TASK = ROOT / "data" / "tasks" / "clickbait.yaml"
WRONG_TEMPLATE = re.compile(r" to cut \d+ jobs ")  # factual-9: the rows the scripted judge calls clickbait
REAL_DISPUTED = "Central bank raises interest rates by 0.25 points"  # a real factual row the judge calls clickbait
UNSURE = "unsure"  # not a label: the judge abstains (label_not_in_enum)
KEY = "sk-judge-test"


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A project directory as cwd with data/raw/headlines.csv (generate.real.path lies under data/raw/)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    (tmp_path / "data" / "raw").mkdir(parents=True)
    shutil.copy(ROOT / "data" / "raw" / "headlines.csv", tmp_path / "data" / "raw" / "headlines.csv")
    return tmp_path


@pytest.fixture
def server():
    from testkit.openai_server import FakeOpenAI

    with FakeOpenAI() as s:
        yield s


def cfg(server, mode="report", **judge_kw):
    return params.load_dict({"task": str(TASK), "n_per_label": 40, "real": {"path": "data/raw/headlines.csv"},
                             "judge": {"mode": mode, "base_url": server.url, "texts_per_request": 10, **judge_kw}},
                            "generate")


def run(project, config, name, prices=None):
    quality = generate.run(cfg=config, seed=42, out=project / f"{name}.csv", reports=project / name,
                           cache_dir=project / "cache", prices=prices)
    return quality, pd.read_csv(project / f"{name}.csv", keep_default_na=False)


def script(server, truth, abstain=""):
    """The judge's rule: factual-9's rows and REAL_DISPUTED -> clickbait, `abstain` -> no label, else the truth."""
    def answer(text, labels):
        if WRONG_TEMPLATE.search(text) or text == REAL_DISPUTED:
            return "clickbait"
        return UNSURE if text == abstain else truth[text]

    server.classify = answer


def test_the_judge_names_the_mislabelled_template_and_drop_and_relabel_spare_real_rows(project, server):
    _, plain = run(project, cfg(server, mode="none"), "plain")  # the rows the judge will see, labelled right
    assert server.total == 0
    wrong = set(plain.loc[plain["origin"] == "factual-9", "text"])
    assert len(wrong) >= 2 and all(WRONG_TEMPLATE.search(t) for t in wrong)
    abstain = plain.loc[plain["origin"] == "factual-1", "text"].iloc[0]
    script(server, dict(zip(plain["text"], plain["label"])), abstain)
    prices = project / "prices.yaml"
    prices.write_text("gpt-4o-mini: {input: 0.15, output: 0.6}\n")

    quality, reported = run(project, cfg(server), "report", prices)
    sent = server.total
    assert sent == -(-len(plain) // 10)  # every row judged, 10 a request
    assert reported.equals(plain)  # report mode changes nothing
    j = quality["judge"]
    assert (j["judged"], j["answered"], j["abstained"]) == (len(plain), len(plain) - 1, {"label_not_in_enum": 1})
    assert j["disputes"]["total"] == len(wrong) + 1 and j["disputes"]["human"] == 1
    assert {r["text"] for r in j["disputes"]["listed"]} == wrong | {REAL_DISPUTED}
    assert all(r["judge"] == "clickbait" and r["reason"] for r in j["disputes"]["listed"])
    disputed = [name for name, e in j["per_origin"].items() if e["disputed"]]
    assert disputed == ["data/raw/headlines.csv", "factual-9"]
    assert j["per_origin"]["factual-9"]["agreement"] == 0.0
    assert j["per_label"]["factual"]["judge_says"] == {"clickbait": len(wrong) + 1,
                                                       "factual": j["per_label"]["factual"]["agreed"]}
    assert j["per_source"]["real"]["disputed"] == 1 and j["per_source"]["template"]["disputed"] == len(wrong)
    c = j["cleanlab"]
    assert c["both"] + c["cleanlab_only"] == c["flagged_and_judged"] and c["judge_only"] == len(wrong) + 1 - c["both"]
    tokens = j["cost"]["tokens"]
    assert j["cost"]["usd"] == round((tokens["prompt"] * 0.15 + tokens["completion"] * 0.6) / 1e6, 6)
    assert j["cost"]["usd_per_1000_rows"] == pytest.approx(j["cost"]["usd"] * 1000 / len(plain), abs=1e-5)
    page = (project / "report" / "quality.md").read_text()
    check_page(page)
    table = page.split("Templates or prompts with disputes")[1]
    assert table.index("factual\\-9") < table.index("headlines.csv")  # least agreement first
    assert json.loads((project / "report" / "generation.json").read_text())["judge"]["requests"]["sent_this_run"] == sent
    line = report.report_lines(QualityReport.read(project / "report" / "quality.json"))[1]  # report.md's line
    assert line.endswith(f"{len(wrong) + 1} disputed; least agreement: `factual-9` (0%).")

    _, dropped = run(project, cfg(server, mode="drop"), "drop")
    assert set(dropped["text"]) == set(plain["text"]) - wrong  # the real row stays
    assert json.loads((project / "drop" / "quality.json").read_text())["dropped"]["judge_disputed"] == len(wrong)
    _, relabelled = run(project, cfg(server, mode="relabel"), "relabel")
    changed = relabelled.merge(plain, on=["text", "source", "origin"]).query("label_x != label_y")
    assert set(changed["text"]) == wrong and set(changed["label_x"]) == {"clickbait"}
    assert relabelled.loc[relabelled["text"] == REAL_DISPUTED, "label"].item() == "factual"
    assert server.total == sent  # three modes, one set of answers: nothing asked twice


def test_a_seeded_sample_is_stable_and_a_larger_one_asks_only_its_new_batches(project, server):
    server.classify = lambda text, labels: labels[0]
    first, _ = run(project, cfg(server, sample=30), "a")
    again, _ = run(project, cfg(server, sample=30), "b")
    assert first["judge"]["judged"] == 30 and server.total == 3 and again["judge"]["cost"]["requests"]["sent_this_run"] == 0
    assert {k: v for k, v in again["judge"].items() if k != "cost"} == {k: v for k, v in first["judge"].items() if k != "cost"}
    larger, _ = run(project, cfg(server, sample=50), "c")
    assert larger["judge"]["judged"] == 50 and server.total == 5


def test_multi_label_rows_are_judged_by_label_set(tmp_path, server, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    rows = [{"text": "a", "label": "x|y", "source": "template", "origin": "x-1"},
            {"text": "b", "label": "x", "source": "template", "origin": "x-2"},
            {"text": "c", "label": "y", "source": "real", "origin": "f.csv:1"},
            {"text": "d", "label": "y", "source": "template", "origin": "y-1"}]
    server.classify = lambda text, labels: {"a": ["y", "x"], "b": ["x", "y"], "c": ["x"], "d": []}[text]
    config = cfg(server, mode="relabel").judge
    verdicts = judge.run(rows, config, ["x", "y"], {"x": "about x"}, "", True, 42, tmp_path / "cache", {})
    assert verdicts.said == {"a": "x|y", "b": "x|y", "c": "x", "d": None}
    assert verdicts.answers.abstained == {"no_label": 1} and "x: about x" in server.bodies[0]["messages"][0]["content"]
    assert [r["text"] for r in verdicts.disputed()] == ["b", "c"]
    kept, _, done = judge.act(rows, verdicts, "relabel", {})
    assert [r["label"] for r in kept] == ["x|y", "x|y", "y", "y"] and split_labels(kept[1]["label"]) == ["x", "y"]
    assert done == {"disputed": 2, "dropped": 0, "relabelled": 1, "human_kept": 1}
    kept, dropped, _ = judge.act(rows, verdicts, "drop", {"duplicate": 1})
    assert [r["text"] for r in kept] == ["a", "c", "d"] and dropped == {"duplicate": 1, "judge_disputed": 1}


def test_the_order_is_seeded_and_a_sample_is_a_prefix_of_a_larger_one():
    rows = [{"text": f"text {i}"} for i in range(50)]
    assert judge.order(rows, 1, 0) == judge.order(rows, 1, 0) != judge.order(rows, 2, 0)
    assert judge.order(rows, 1, 10) == judge.order(rows, 1, 20)[:10] and sorted(judge.order(rows, 1, 0)) == list(range(50))


def test_no_judge_no_section():
    assert judge_report.markdown_lines(None) == []


@pytest.mark.parametrize("override, message", [
    ({"judge": {"mode": "fix"}}, "generate.judge.mode must be one of none, report, drop, relabel, got 'fix'"),
    ({"judge": {"sample": -1}}, "generate.judge.sample must be >= 0 rows (0: every row), got -1"),
    ({"judge": {"texts_per_request": 0}}, "generate.judge.texts_per_request must be in [1, 100], got 0"),
    ({"judge": {"base_url": "localhost"}}, "generate.judge.base_url must be null or an http(s):// URL"),
    ({"provider": "openai", "mode": "model_as_label", "judge": {"mode": "drop"}},
     "generate.judge.mode must be none in model_as_label mode"),
])
def test_judge_params_errors_name_the_key(override, message):
    with pytest.raises(params.ParamsError, match=re.escape(message)):
        params.load_dict(override, "generate")


def test_the_judge_through_the_batch_api_costs_the_batch_price_and_a_rerun_submits_nothing(project, server):
    server.classify = lambda text, labels: labels[0]
    prices = project / "prices.yaml"
    prices.write_text("gpt-4o-mini: {input: 0.15, output: 0.6}\n")
    first, _ = run(project, cfg(server, sample=30, batch=True, batch_poll_s=0.02), "a", prices)
    cost = first["judge"]["cost"]
    assert server.batches.created == 1 and first["judge"]["judged"] == 30 and cost["requests"]["sent_this_run"] == 3
    tokens = cost["tokens"]
    assert cost["usd"] == round((tokens["prompt"] * 0.15 + tokens["completion"] * 0.6) / 2 / 1e6, 6)  # half price
    again, _ = run(project, cfg(server, sample=30, batch=True, batch_poll_s=0.02), "b", prices)
    assert server.batches.created == 1 and again["judge"]["cost"]["requests"]["sent_this_run"] == 0
