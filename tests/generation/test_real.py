"""Real rows mixed into a provider's rows (generate.real): sampling per label, priority over synthetic
duplicates (exact and near), counts per source, and real rows as few-shot examples for the openai provider."""

import json
import shutil

import pandas as pd
import pytest

from stages import generate
from stages.core import params
from stages.core.errors import DataError
from stages.core.params_real import RealRows
from stages.core.similarity import jaccard, words
from stages.generation import real
from testkit import ROOT

TASK = ROOT / "data" / "tasks" / "clickbait.yaml"
HEADLINES = ROOT / "data" / "raw" / "headlines.csv"
REL = "data/raw/headlines.csv"  # generate.real.path as params.yaml gives it (relative to the project)


def cfg(**kw):
    return params.load_dict({"task": str(TASK), **kw}, "generate")


@pytest.fixture
def raw(tmp_path, monkeypatch):
    """A project directory as cwd, its data/raw/ holding a copy of headlines.csv (generate.real.path lies there)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data" / "raw").mkdir(parents=True)
    shutil.copy(HEADLINES, tmp_path / "data" / "raw" / "headlines.csv")
    return tmp_path / "data" / "raw"


def test_per_label_draws_that_many_of_each_label_seeded_and_zero_takes_all(raw):
    rows = real.read(RealRows(path=str(REL), per_label=2), seed=42)
    assert [r["label"] for r in rows] == ["clickbait", "clickbait", "factual", "factual"]
    assert {r["source"] for r in rows} == {"real"}
    assert real.read(RealRows(path=str(REL), per_label=2), seed=42) == rows
    others = [real.read(RealRows(path=str(REL), per_label=2), seed=s) for s in range(5)]
    assert any(o != rows for o in others)  # the draw depends on the seed
    assert len(real.read(RealRows(path=str(REL)), seed=42)) == len(pd.read_csv(HEADLINES)) == 12
    assert len(real.read(RealRows(path=str(REL), per_label=100), seed=42)) == 12
    assert real.read(RealRows(), seed=42) == []  # path null: off


def test_real_rows_are_marked_real_and_win_over_exact_and_near_synthetic_duplicates(tmp_path, raw):
    generate.run(cfg=cfg(n_per_label=30), seed=42, out=tmp_path / "synthetic.csv", reports=tmp_path / "r0")
    synthetic = pd.read_csv(tmp_path / "synthetic.csv")
    exact = synthetic[synthetic["label"] == "clickbait"]["text"].iloc[0]
    near_of = next(t for t in synthetic["text"] if len(set(words(t))) >= 9 and "zebra" not in words(t))
    near = near_of + " zebra"
    assert jaccard(set(words(near)), set(words(near_of))) >= 0.9
    lines = ["headline,tag", f'"{exact.upper()}",factual', f'"{near}",{synthetic.set_index("text").loc[near_of, "label"]}',
             '"Court rejects appeal over water prices",factual', '"This one trick ends every argument",clickbait']
    (raw / "real.csv").write_text("\n".join(lines) + "\n")
    config = cfg(n_per_label=30, real={"path": "data/raw/real.csv", "text_column": "headline",
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
    ({"real": {"path": "/tmp/x.csv"}}, "generate.real.path must be a relative path under data/raw/ (which DVC "
                                        "watches for the inputs stage; e.g. data/raw/mine.csv), got '/tmp/x.csv'"),
    ({"real": {"path": "data/mine.csv"}}, "generate.real.path must be a relative path under data/raw/"),
    ({"real": {"path": "data/raw/../../x.csv"}}, "generate.real.path must be a relative path under data/raw/"),
    ({"real": {"path": "data/raw/x.csv", "label_map": {" ": "factual"}}}, "generate.real.label_map must be file labels"),
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


def test_openai_few_shot_examples_come_from_the_real_rows_of_the_same_label(tmp_path, raw, server):
    config = cfg(provider="openai", base_url=server.url, n_per_label=10, samples_per_request=5, few_shot=2,
                 few_shot_source="real", real={"path": REL})
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


# ---------------------------------------------------------------- labels that are not the task's (issue 24, item 2)

def write_raw(raw, rows, name="mine.csv"):
    pd.DataFrame(rows, columns=["text", "label"]).to_csv(raw / name, index=False)
    return f"data/raw/{name}"


SPAM = [("Win a free cruise now, reply YES", "spam"), ("Are we still on for lunch tomorrow", "ham"),
        ("You won't believe what this cat did next", "Clickbait "), ("Parliament passes the water bill", "factual")]


def test_real_labels_not_the_tasks_stop_generate_in_one_line_naming_file_labels_and_task(tmp_path, raw, capsys):
    path = write_raw(raw, SPAM)
    (tmp_path / "params.yaml").write_text(f"base: {{seed: 42}}\ngenerate: {{task: {TASK}, n_per_label: 20, "
                                          f"real: {{path: {path}}}}}\n")
    code = generate.main(["--params", "params.yaml", "--out", "g.csv", "--reports", "r"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1, err
    assert err[0] == ("error: data/raw/mine.csv (generate.real.path): label 'Clickbait', 'ham', 'spam' is not one of "
                      "the task's labels (clickbait, factual); fix the file or map it with generate.real.label_map "
                      "{file label: task label}")  # 'Clickbait ': whitespace stripped as cleaning does, case kept
    assert not (tmp_path / "g.csv").exists()


def test_label_map_renames_file_labels_and_its_targets_must_be_the_tasks(tmp_path, raw):
    path = write_raw(raw, SPAM + [("Council   approves the budget ", " factual  ")])
    mapping = {"spam": "clickbait", "ham": "factual", "Clickbait": "clickbait"}
    report = generate.run(cfg=cfg(n_per_label=20, real={"path": path, "label_map": mapping}), seed=42,
                          out=tmp_path / "g.csv", reports=tmp_path / "r")
    frame = pd.read_csv(tmp_path / "g.csv")
    assert sorted(report["per_label"]) == ["clickbait", "factual"]
    assert frame[frame["source"] == "real"].set_index("text")["label"].to_dict() == {
        "Win a free cruise now, reply YES": "clickbait", "Are we still on for lunch tomorrow": "factual",
        "You won't believe what this cat did next": "clickbait", "Parliament passes the water bill": "factual",
        "Council approves the budget": "factual"}
    with pytest.raises(params.ParamsError, match=r"^params.yaml: generate.real.label_map.spam must be one of the task's "
                                               r"labels \(clickbait, factual\), got 'junk'$"):
        generate.run(cfg=cfg(real={"path": path, "label_map": {**mapping, "spam": "junk"}}), seed=42,
                     out=tmp_path / "g2.csv", reports=tmp_path / "r2")


def test_few_shot_from_real_rows_without_a_row_of_some_label_fails_before_any_request(tmp_path, raw, server):
    path = write_raw(raw, [("This one trick ends every argument", "clickbait"),
                           ("Nine secrets your landlord keeps", "clickbait")])
    config = cfg(provider="openai", base_url=server.url, n_per_label=10, samples_per_request=5,
                 few_shot_source="real", real={"path": path})
    with pytest.raises(DataError, match=r"^generate.few_shot_source is real, but data/raw/mine.csv "
                                               r"\(generate.real.path\) has no row of label 'factual' to show"):
        generate.run(cfg=config, seed=42, out=tmp_path / "g.csv", reports=tmp_path / "r", cache_dir=tmp_path / "c")
    assert server.total == 0


# ---------------------------------------------------------------- few-shot rows never held out (issue 24, item 6)

TOPICS = ["harbour", "violin", "glacier", "tractor", "orchid", "comet", "lantern", "falcon", "quarry", "meadow",
          "tunnel", "pepper"]


def test_few_shot_real_rows_the_llm_saw_never_land_in_val_or_test(tmp_path, raw, server):
    from stages import split

    rows = [(f"Shocking {t} secret number {i} that doctors hate", "clickbait") for i, t in enumerate(TOPICS)]
    rows += [(f"Council report on the {t} budget for district {i}", "factual") for i, t in enumerate(TOPICS)]
    path = write_raw(raw, rows)
    config = cfg(provider="openai", base_url=server.url, n_per_label=40, samples_per_request=5, few_shot=3,
                 few_shot_source="real", real={"path": path})
    generate.run(cfg=config, seed=42, out=tmp_path / "g.csv", reports=tmp_path / "r", cache_dir=tmp_path / "c")
    shown = {line[2:] for body in server.bodies for line in body["messages"][1]["content"].splitlines()
             if line.startswith("- ")}
    assert len(shown) >= 6  # examples were shown, and half of each label's real rows is left
    info = json.loads((tmp_path / "r" / "dataset.json").read_text())
    assert len(info["few_shot"]) == 12
    cfg_split = params.load_dict({"test_source": "real", "val_source": "real"}, "split")
    split.run(cfg=cfg_split, seed=42, data=tmp_path / "g.csv", out_dir=tmp_path / "split", report=tmp_path / "s.json",
              dataset=tmp_path / "r" / "dataset.json")
    parts = {name: set(pd.read_csv(tmp_path / "split" / f"{name}.csv")["text"]) for name in ("train", "val", "test")}
    assert parts["test"] and parts["val"]  # real-only splits still get real rows
    assert not shown & (parts["val"] | parts["test"]) and shown <= parts["train"]
