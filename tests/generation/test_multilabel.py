"""Multi-label data: task files with label sets, csv/real label separators, merging in cleaning, the quality
report and label issues over label names, the openai provider's label lists, and the shipped support-tickets task."""

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from stages import generate
from stages.core import params
from stages.core.errors import DataError, ParamsError
from stages.core.labelsets import split_labels
from stages.generation import cleaning, label_issues, openai_provider, quality, template
from stages.generation.task import load_task
from testkit import ROOT
from testkit.openai_server import FakeOpenAI

TICKETS = ROOT / "data" / "tasks" / "support_tickets.yaml"


def write_task(tmp_path, body: dict):
    path = tmp_path / "task.yaml"
    path.write_text(yaml.safe_dump(body, sort_keys=False), encoding="utf-8")
    return path


SMALL = {"multi_label": True, "description": "Tickets.",
         "slots": {"n": [str(i) for i in range(40)], "w": ["red", "blue", "green", "grey", "pink", "gold"]},
         "labels": {"billing": {"templates": ["invoice {n} is {w}", {"template": "refund {n} login {w}",
                                                                      "also": ["account"]}],
                                "prompts": ["Write {n} billing tickets."]},
                    "account": {"templates": ["password {n} reset {w}"], "prompts": ["Write {n} account tickets."]}}}


def test_task_with_also_gives_template_rows_label_sets(tmp_path):
    task = load_task(write_task(tmp_path, SMALL))
    assert task.multi_label and task.labels[0].also == ((), ("account",))
    rows = template.generate(task, 60, 3)
    assert rows == template.generate(task, 60, 3)  # seeded, deterministic
    cells = {r["label"] for r in rows}
    assert cells == {"billing", "account|billing", "account"}
    assert all(r["label"] == "account|billing" for r in rows if r["text"].startswith("Refund"))


@pytest.mark.parametrize("change, message", [
    ({"labels": {**SMALL["labels"], "billing": {"templates": [{"template": "x {n}", "also": ["shipping"]}]}}},
     "labels.billing.templates[0].also names 'shipping', which is not a label of the task (account, billing)"),
    ({"multi_label": False}, "a template with 'also' labels needs `multi_label: true`"),
    ({"multi_label": "yes"}, "multi_label must be true or false, got 'yes'"),
    ({"labels": {**SMALL["labels"], "billing": {"templates": [{"template": "x", "also": "account"}]}}},
     "labels.billing.templates[0].also must be a non-empty list of strings"),
    ({"labels": {**SMALL["labels"], "billing": {"templates": [{"text": "x"}]}}},
     "labels.billing.templates[0] must be a string or a mapping with 'template'"),
    ({"labels": {"a|b": {"templates": ["x"]}, "c": {"templates": ["y"]}}}, "may not contain '|'"),
])
def test_bad_multi_label_task_is_one_line_naming_file_and_key(tmp_path, change, message):
    path = write_task(tmp_path, {**SMALL, **change})
    with pytest.raises(DataError) as err:
        load_task(path)
    assert message in str(err.value) and str(path) in str(err.value) and "\n" not in str(err.value)


def test_cleaning_merges_label_sets_and_a_real_row_wins():
    rows = [{"text": "Card charged twice", "label": "billing", "source": "template"},
            {"text": "card charged twice!", "label": "billing|urgent", "source": "template"},
            {"text": "Password reset fails", "label": "account", "source": "template"},
            {"text": "password reset fails", "label": "account|technical", "source": "real"},
            {"text": "password reset fails.", "label": "urgent", "source": "template"}]
    kept, dropped = cleaning.clean(rows, 3, 1000, multi_label=True)
    assert {r["text"]: r["label"] for r in kept} == {"Card charged twice": "billing|urgent",
                                                     "password reset fails": "account|technical"}
    assert dropped == {"duplicate": 3, "merged_label_sets": 1}
    single, dropped = cleaning.clean(rows[:2], 3, 1000)  # single-label: a text under two labels is dropped
    assert single == [] and dropped == {"conflicting_labels": 1, "duplicate": 1}


def test_quality_counts_each_label_of_a_row():
    rows = [{"text": f"text number {i} here", "label": cell, "source": "t"}
            for i, cell in enumerate(["a|b"] * 3 + ["a"] * 2 + ["b|c"])]
    measures = quality.report(rows, 0.9, 0.9, 0, 0, 6, multi_label=True)
    assert sorted(measures["length_chars"]) == ["a", "b", "c"]
    assert measures["majority_baseline"] == 0.5 and measures["classes"] == "label sets"  # "a|b": 3 of 6 rows


def test_csv_label_separator_makes_a_multi_label_data_set(tmp_path):
    src = tmp_path / "mine.csv"
    pd.DataFrame({"text": [f"ticket about thing {i} and more {i * 7}" for i in range(30)],
                  "tags": ["billing; urgent", "account", "billing"] * 10}).to_csv(src, index=False)
    cfg = params.load_dict({"provider": "csv", "csv": {"path": str(src), "label_column": "tags",
                                                       "label_separator": ";"}}, "generate")
    report = generate.run(cfg=cfg, seed=1, out=tmp_path / "g.csv", reports=tmp_path / "r")
    assert set(pd.read_csv(tmp_path / "g.csv")["label"]) == {"billing|urgent", "account", "billing"}
    assert {k: v["after"] for k, v in report["per_label"].items()} == {"account": 10, "billing": 20, "urgent": 10}
    info = json.loads((tmp_path / "r" / "dataset.json").read_text())
    assert info["multi_label"] is True and info["labels"] == ["account", "billing", "urgent"]


def test_a_label_separator_that_splits_no_cell_is_a_warning(tmp_path, caplog):
    """A file whose label sets are joined by "," read with label_separator ";": each whole cell would become one
    label ("billing,urgent") without a word; the log says so."""
    src = tmp_path / "mine.csv"
    pd.DataFrame({"text": [f"ticket about thing {i} and more {i * 7}" for i in range(30)],
                  "tags": ["billing,urgent", "account", "billing"] * 10}).to_csv(src, index=False)
    cfg = params.load_dict({"provider": "csv", "csv": {"path": str(src), "label_column": "tags",
                                                       "label_separator": ";"}}, "generate")
    generate.run(cfg=cfg, seed=1, out=tmp_path / "g.csv", reports=tmp_path / "r")
    warned = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert f"{src}: column 'tags' (generate.csv.label_separator ';'): no label cell holds the separator, so each " \
           "cell is one label; check generate.csv.label_separator (the file's separator?) or set it to null" in warned
    caplog.clear()
    test_csv_label_separator_makes_a_multi_label_data_set(tmp_path)  # a separator that splits: no warning
    assert not [r for r in caplog.records if "separator" in r.getMessage()]


def raw_dir(tmp_path, monkeypatch):
    """tmp_path as the project directory (cwd) and its data/raw/, where generate.real.path must lie."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data" / "raw").mkdir(parents=True)
    return Path("data/raw")


def test_label_sets_into_a_single_label_task_and_bad_separators_are_one_line(tmp_path, monkeypatch):
    real = raw_dir(tmp_path, monkeypatch) / "real.csv"
    pd.DataFrame({"text": ["a real text here", "another real one"], "label": ["x|y", "x"]}).to_csv(real, index=False)
    cfg = params.load_dict({"task": str(ROOT / "data/tasks/clickbait.yaml"),
                            "real": {"path": "data/raw/real.csv", "label_separator": "|"}}, "generate")
    with pytest.raises(ParamsError, match=r"generate.real.label_separator must be null for a single-label data set "
                                          r"\(the task .*clickbait.yaml has no `multi_label: true`\), got '\|'"):
        generate.run(cfg=cfg, seed=1, out=tmp_path / "g.csv", reports=tmp_path / "r")
    assert not (tmp_path / "g.csv").exists()
    for bad in ("", "  "):
        with pytest.raises(ParamsError, match="generate.csv.label_separator"):
            params.load_dict({"csv": {"label_separator": bad}}, "generate")
    src = tmp_path / "pipes.csv"
    pd.DataFrame({"text": ["some text here"], "label": ["a|b;c"]}).to_csv(src, index=False)
    cfg = params.load_dict({"provider": "csv", "csv": {"path": str(src), "label_separator": ";"}}, "generate")
    with pytest.raises(DataError, match=r"pipes.csv: column 'label' .* holds '\|'"):
        generate.run(cfg=cfg, seed=1, out=tmp_path / "g.csv", reports=tmp_path / "r")


def test_real_rows_with_label_sets_join_a_multi_label_task(tmp_path, monkeypatch):
    real = raw_dir(tmp_path, monkeypatch) / "real.csv"
    pd.DataFrame({"text": ["refund 3 login red", "my own real ticket text"],
                  "label": ["billing", "account;billing"]}).to_csv(real, index=False)
    cfg = params.load_dict({"task": str(write_task(tmp_path, SMALL)), "n_per_label": 40,
                            "real": {"path": "data/raw/real.csv", "label_separator": ";"}}, "generate")
    generate.run(cfg=cfg, seed=3, out=tmp_path / "g.csv", reports=tmp_path / "r")
    frame = pd.read_csv(tmp_path / "g.csv")
    real_rows = frame[frame["source"] == "real"].set_index("text")["label"].to_dict()
    assert real_rows == {"refund 3 login red": "billing", "my own real ticket text": "account|billing"}


def test_multi_label_issues_flag_planted_wrong_sets():
    words = {"billing": "invoice refund charge card price", "account": "password login email username profile",
             "technical": "crash error bug slow screen"}
    rows = []
    for i in range(60):
        for cell in ("billing", "account", "technical", "account|billing"):
            text = " ".join(w for lab in cell.split("|") for w in words[lab].split()[i % 3:i % 3 + 3])
            rows.append({"text": f"{text} ticket {i}", "label": cell, "source": "template"})
    planted = [4 * i + 2 for i in range(0, 60, 10)]  # technical texts labelled billing
    for i in planted:
        rows[i] = {**rows[i], "label": "billing"}
    report, flagged = label_issues.find(rows, 7, "none", multi_label=True)
    assert report["skipped"] is None and report["method"] == label_issues.METHOD_MULTI
    assert set(planted) <= set(flagged) and report["per_label"]["billing"] >= len(planted)
    assert report["examples"][0]["suggested"] == "technical"
    assert label_issues.find(rows, 7, "none", multi_label=True)[1] == flagged  # seeded


def test_openai_provider_asks_for_label_lists_and_keeps_the_requested_label(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    task = load_task(write_task(tmp_path, SMALL))
    with FakeOpenAI() as server:
        raw = {"provider": "openai", "task": str(task.path), "base_url": server.url, "n_per_label": 12,
               "samples_per_request": 4, "few_shot": 0}
        cfg = params.load_dict(raw, "generate")
        request = openai_provider.plan(task, cfg, 1)[0]
        item = request.body["response_format"]["json_schema"]["schema"]["properties"]["samples"]["items"]
        assert item["properties"]["labels"] == {"type": "array", "minItems": 1,
                                                "items": {"type": "string", "enum": task.label_names}}
        rows, report = openai_provider.generate(task, cfg, 1, tmp_path / "cache")
    assert len(rows) == 24 and report["requests"]["sent_this_run"] == 6
    for row in rows:
        assert set(split_labels(row["label"])) <= {"billing", "account"}
    asked = {r["text"]: r["label"] for r in rows}
    assert len({cell for cell in asked.values() if "|" in cell}) >= 1  # the model added labels
    by_request = [rows[i:i + 4] for i in range(0, 24, 4)]
    assert all(task.label_names[0] in split_labels(r["label"]) for r in by_request[0])  # plan interleaves labels
    assert all(task.label_names[1] in split_labels(r["label"]) for r in by_request[1])
    with pytest.raises(DataError, match="multi_label: true needs generate.mode label_conditioned"):
        openai_provider.plan(task, params.load_dict({**raw, "mode": "model_as_label"}, "generate"), 1)


def test_parse_drops_unknown_label_names_and_malformed_items():
    content = json.dumps({"samples": [{"text": "ok one", "labels": ["billing", "shipping"]}, {"text": "no labels"},
                                      "a plain string", {"text": "fine", "labels": ["account"]}]})
    reply = json.dumps({"choices": [{"message": {"content": content}, "finish_reason": "stop"}]})
    samples, dropped = openai_provider.parse(reply, 4, ["account", "billing"])
    assert samples == [("ok one", ["billing"]), ("fine", ["account"])]
    assert dropped == {"unknown_label": 1, "malformed_item": 2}


def test_shipped_support_tickets_task_gives_enough_rows_of_every_label(tmp_path):
    cfg = params.load_dict({"task": str(TICKETS)}, "generate")  # default n_per_label 400
    report = generate.run(cfg=cfg, seed=42, out=tmp_path / "g.csv", reports=tmp_path / "r")
    assert report["rows_kept"] >= 1500 and report["classes"] == "label sets"
    kept = {lab: counts["after"] for lab, counts in report["per_label"].items()}
    assert sorted(kept) == ["account", "billing", "technical", "urgent"] and min(kept.values()) >= 350
    cells = pd.read_csv(tmp_path / "g.csv")["label"]
    urgent = cells[cells.str.contains("urgent")]
    assert (urgent != "urgent").mean() > 0.8  # urgent mostly comes with a topic
    assert "account|billing" in set(cells) and report["shortcut_warning"] is False
