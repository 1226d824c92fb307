import json
from pathlib import Path

import pandas as pd
import pytest

from stages import generate, params
from stages.errors import DataError
from stages.task import load_task
from stages.text import dedup_key

ROOT = Path(__file__).resolve().parents[1]
TASK = ROOT / "data" / "tasks" / "clickbait.yaml"


def cfg(**kw):
    return params.load_dict({"task": str(TASK), **kw}, "generate")


def run(tmp_path, **kw):
    return generate.run(cfg(**kw), 42, tmp_path / "generated.csv", tmp_path / "reports")


def test_template_provider_is_deterministic_balanced_and_clean(tmp_path):
    report = run(tmp_path, n_per_label=50)
    first = (tmp_path / "generated.csv").read_bytes()
    frame = pd.read_csv(tmp_path / "generated.csv")
    assert list(frame.columns) == ["text", "label", "source"]
    assert frame["label"].value_counts().to_dict() == {"clickbait": 50, "factual": 50}
    assert frame["text"].map(dedup_key).is_unique
    assert set(frame["source"]) == {"template"}
    assert report["rows_kept"] == 100
    run(tmp_path, n_per_label=50)
    assert (tmp_path / "generated.csv").read_bytes() == first  # same seed, same bytes
    generate.run(cfg(n_per_label=50), 7, tmp_path / "other.csv", tmp_path / "r2")
    assert (tmp_path / "other.csv").read_bytes() != first


def test_default_task_classes_overlap_in_vocabulary_and_length(tmp_path):
    run(tmp_path, n_per_label=300)
    frame = pd.read_csv(tmp_path / "generated.csv")
    vocab = {lab: set(" ".join(g["text"]).lower().split()) for lab, g in frame.groupby("label")}
    shared = vocab["clickbait"] & vocab["factual"]
    assert len(shared) / min(map(len, vocab.values())) > 0.5
    lengths = frame.assign(n=frame["text"].str.split().str.len()).groupby("label")["n"].mean()
    assert abs(lengths["clickbait"] - lengths["factual"]) < 3


def write_csv(path: Path, text: str, encoding="utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def csv_cfg(path: Path, **kw):
    return cfg(provider="csv", csv={"path": str(path), **kw})


def test_csv_provider_maps_columns_and_counts_drops(tmp_path):
    src = write_csv(tmp_path / "in.csv", 'headline,cls\n'
                    '"Rates rose 2% in May",news\n'
                    '"  rates ROSE 2% in may!  ",news\n'       # duplicate after normalisation
                    ',news\n'                                   # empty text
                    '"12345",news\n'                            # no letters
                    '"You will not believe this",bait\n'
                    '"Same text both ways",news\n'
                    '"same text, both ways",bait\n'             # conflicting labels: both dropped
                    '"A headline without a label",\n'
                    '"Another real headline",bait\n')
    report = generate.run(csv_cfg(src, text_column="headline", label_column="cls"), 1,
                          tmp_path / "out.csv", tmp_path / "rep")
    frame = pd.read_csv(tmp_path / "out.csv")
    assert sorted(frame["text"]) == ["Another real headline", "Rates rose 2% in May", "You will not believe this"]
    assert report["dropped"] == {"conflicting_labels": 1, "duplicate": 2, "empty": 1, "missing_label": 1,
                                 "no_letters": 1}
    assert set(frame["source"]) == {"csv:in.csv"}
    quality = json.loads((tmp_path / "rep" / "quality.json").read_text())
    assert quality["per_label"]["news"] == {"before": 5, "after": 1}
    assert "missing_label: 1" in (tmp_path / "rep" / "quality.md").read_text()


@pytest.mark.parametrize("content, encoding, message", [
    (None, "utf-8", "in.csv: file not found"),
    ("", "utf-8", "in.csv: empty annotated CSV"),
    ("text,label\n", "utf-8", "in.csv: annotated CSV has a header but no rows"),
    ("body,label\nhi there,a\n", "utf-8", "in.csv: missing column 'text' (expected text, label; found body, label)"),
    ("text,label\nhello there,a\nbye now,a\n", "utf-8", "need at least two labels after cleaning, found a"),
    ("text,label\n,a\n,b\n", "utf-8", "need at least two labels after cleaning, found none"),
    ("text,label\ncaf\u00e9 here,a\nother one,b\n", "latin-1", "in.csv: not valid UTF-8 (byte 0xe9 on line 2)"),
])
def test_csv_bad_input_is_one_clear_error_and_nothing_written(tmp_path, content, encoding, message):
    src = tmp_path / "in.csv"
    if content is not None:
        write_csv(src, content, encoding)
    with pytest.raises(DataError) as err:
        generate.run(csv_cfg(src), 1, tmp_path / "out.csv", tmp_path / "rep")
    assert message in str(err.value) and "\n" not in str(err.value)
    assert not (tmp_path / "out.csv").exists() and not (tmp_path / "rep").exists()


@pytest.mark.parametrize("body, message", [
    ("labels: {a: {templates: [x]}}", "'labels' must map at least two label names"),
    ("labels: {a: {templates: [x]}, b: {templates: []}}", "labels.b.templates must be a non-empty list"),
    ("labels: {a: {templates: [x]}, b: {tmplates: [y]}}", "labels.b: unknown field 'tmplates'"),
    ("labels: {a: {templates: ['{who} won']}, b: {templates: [y]}}", "slot {who} in '{who} won' has no values"),
    ("lables: {}", "unknown field 'lables'"),
    ("labels: [a, b", "invalid YAML"),
])
def test_task_file_errors_name_the_file_and_field(tmp_path, body, message):
    path = tmp_path / "task.yaml"
    path.write_text(body)
    with pytest.raises(DataError) as err:
        load_task(path)
    assert str(path) in str(err.value) and message in str(err.value)


def test_main_exit_code_and_one_line_for_missing_task(tmp_path, capsys):
    p = tmp_path / "params.yaml"
    p.write_text(f"generate: {{task: {tmp_path / 'nope.yaml'}}}\n")
    code = generate.main(["--params", str(p), "--out", str(tmp_path / "g.csv"), "--reports", str(tmp_path / "r")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and err == [f"error: {tmp_path / 'nope.yaml'}: file not found"]
