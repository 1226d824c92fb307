"""Stage inputs: md5 and size of the files the generate params name, the only thing generate depends on of
data/raw/ (so an unrelated file there reruns nothing downstream; the dvc side is in tests/e2e/test_pipeline_dvc.py)."""

import hashlib
import json
import shutil

import pytest
import yaml

from stages import inputs
from stages.core import params
from testkit import ROOT

HEADLINES = ROOT / "data" / "raw" / "headlines.csv"


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A project directory as cwd with data/raw/headlines.csv and a params.yaml to edit."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data" / "raw").mkdir(parents=True)
    shutil.copy(HEADLINES, tmp_path / "data" / "raw" / "headlines.csv")
    return tmp_path


def write_params(project, generate: dict):
    (project / "params.yaml").write_text(yaml.safe_dump({"generate": generate}))


def test_the_template_provider_without_real_rows_names_no_file(project):
    write_params(project, {})
    assert inputs.main(["--out", "data/inputs.json"]) == 0
    assert json.loads((project / "data" / "inputs.json").read_text()) == {"files": []}


def test_csv_and_real_files_are_listed_by_content_sorted_and_nothing_else_counts(project):
    (project / "data" / "raw" / "mine.csv").write_text("text,label\na,x\nb,y\n")
    (project / "data" / "raw" / "unrelated.csv").write_text("text,label\nc,z\n")
    write_params(project, {"provider": "csv", "csv": {"path": "data/raw/mine.csv"},
                           "real": {"path": "data/raw/headlines.csv"}})
    assert inputs.main(["--out", "data/inputs.json"]) == 0
    first = (project / "data" / "inputs.json").read_bytes()
    files = json.loads(first)["files"]
    assert [(f["param"], f["path"]) for f in files] == [("generate.real.path", "data/raw/headlines.csv"),
                                                         ("generate.csv.path", "data/raw/mine.csv")]
    assert files[1]["md5"] == hashlib.md5(b"text,label\na,x\nb,y\n").hexdigest() and files[1]["bytes"] == 19
    (project / "data" / "raw" / "unrelated.csv").write_text("changed\n")
    (project / "data" / "raw" / "another.csv").write_text("new\n")
    assert inputs.main(["--out", "data/inputs.json"]) == 0
    assert (project / "data" / "inputs.json").read_bytes() == first  # byte for byte: DVC skips generate
    (project / "data" / "raw" / "mine.csv").write_text("text,label\na,x\nb,z\n")
    assert inputs.main(["--out", "data/inputs.json"]) == 0
    assert (project / "data" / "inputs.json").read_bytes() != first  # a named file changed: generate reruns


def test_the_csv_path_counts_only_for_the_csv_provider(project):
    cfg = params.load_dict({"provider": "template", "csv": {"path": "data/raw/missing.csv"}}, "generate")
    assert inputs.named_files(cfg) == []


@pytest.mark.parametrize(("generate", "message"), [
    ({"provider": "csv", "csv": {"path": "data/raw/missing.csv"}},
     "error: params.yaml: generate.csv.path names data/raw/missing.csv, which does not exist (expected a CSV file; "
     "`git add` or `dvc add` it so a fresh clone has it too)"),
    ({"real": {"path": "data/raw/gone.csv"}},
     "error: params.yaml: generate.real.path names data/raw/gone.csv, which does not exist (expected a CSV file; "
     "`git add` or `dvc add` it so a fresh clone has it too)"),
    ({"provider": "csv", "csv": {"path": "data/raw"}},
     "error: params.yaml: generate.csv.path must name a CSV file, got the directory data/raw"),
])
def test_a_missing_file_is_one_line_naming_the_key_and_nothing_is_written(project, capsys, generate, message):
    write_params(project, generate)
    assert inputs.main(["--out", "data/inputs.json"]) == 2
    assert capsys.readouterr().err.strip() == message
    assert not (project / "data" / "inputs.json").exists()


def test_a_csv_outside_data_raw_is_hashed_with_a_warning_that_dvc_does_not_watch_it(project, caplog):
    shutil.copy(HEADLINES, project / "elsewhere.csv")
    cfg = params.load_dict({"provider": "csv", "csv": {"path": "elsewhere.csv"}}, "generate")
    manifest = inputs.run(cfg=cfg, out=project / "data" / "inputs.json")
    assert manifest["files"][0]["md5"] == hashlib.md5(HEADLINES.read_bytes()).hexdigest()
    assert "elsewhere.csv (generate.csv.path) lies outside data/raw/: DVC does not watch it" in caplog.text


def test_the_llm_label_provider_s_texts_are_listed(project):
    (project / "data" / "raw" / "unlabelled.csv").write_text("text\nsome headline\n")
    write_params(project, {"provider": "llm_label", "llm_label": {"path": "data/raw/unlabelled.csv"}})
    assert inputs.main(["--out", "data/inputs.json"]) == 0
    files = json.loads((project / "data" / "inputs.json").read_text())["files"]
    assert [(f["param"], f["path"], f["bytes"]) for f in files] == [("generate.llm_label.path", "data/raw/unlabelled.csv", 19)]
