"""stages.audit: synthetic train/val rows against a real reference (role-dev sets, generate.real rows) with the tiny
BERT; the no-reference path (exit 0, no torch); one-line errors; audit.json rows that point back into their files."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from stages import audit
from stages.core import params
from stages.core.audit_report import AuditReport
from stages.core.contracts import write_dataset
from stages.core.io import read_csv
from stages.core.text import md_escape
from stages.generation.task import load_task
from stages.generation.template import generate_label
from tests.page_checks import check_page
from testkit import ROOT
from testkit.dvc_repo import subprocess_env

DEV = [("You Won't Believe What This Cat Did Next", "clickbait"), ("Which Pizza Topping Are You", "clickbait"),
       ("21 Things Only Nineties Kids Remember", "clickbait"), ("This Dog Has The Best Reaction Ever", "clickbait"),
       ("Council approves new budget for city schools", "factual"), ("Storm closes airport for two days", "factual"),
       ("Bank raises interest rates by half a point", "factual"), ("Senate passes water bill after long debate", "factual")]


def write_inputs(tmp_path: Path, real_rows: int = 2) -> tuple[Path, Path]:
    """Split files of template rows (plus `real_rows` generate.real rows in train) and a dev set under external/."""
    task = load_task(ROOT / "data" / "tasks" / "clickbait.yaml")
    rows = [{"text": t, "label": lab.name, "source": "template", "origin": f"{lab.name}-{i % 3 + 1}"}
            for lab in task.labels for i, t in enumerate(generate_label(lab, 12, seed=3))]
    real = [{"text": f"Real headline number {k} about the council", "label": "factual", "source": "real",
             "origin": f"data/raw/r.csv:{k + 4}"} for k in range(real_rows)]
    split = tmp_path / "split"
    write_dataset(split / "train.csv", rows[::2] + real)
    write_dataset(split / "val.csv", rows[1::2])
    write_dataset(split / "test.csv", rows[:2])
    external = tmp_path / "external"
    external.mkdir()
    with open(external / "dev.csv", "w", encoding="utf-8", newline="") as f:
        csv.writer(f, lineterminator="\n").writerows([("text", "label"), *DEV])
    return split, external


def evaluate_cfg(*entries: dict) -> params.Evaluate:
    return params.load_dict({"external_test": list(entries)}, "evaluate")


DEV_ENTRY = {"name": "d", "path": "dev.csv", "role": "dev"}
TEST_ENTRY = {"name": "t", "path": "missing-test.csv", "role": "test"}  # never opened: it does not even exist


def run(tmp_path: Path, model: Path, cfg: params.Evaluate, split: Path, external: Path) -> dict:
    return audit.run(seed=0, model=str(model), evaluate=cfg, split_dir=split, external_dir=external,
                     out_json=tmp_path / "out" / "audit.json", out_md=tmp_path / "out" / "audit.md")


def test_audit_compares_train_and_val_synthetic_rows_with_dev_sets_and_real_rows(tmp_path, tiny_bert):
    split, external = write_inputs(tmp_path)
    out = run(tmp_path, tiny_bert, evaluate_cfg(TEST_ENTRY, DEV_ENTRY), split, external)
    first = (tmp_path / "out" / "audit.json").read_bytes()
    assert AuditReport.read(tmp_path / "out" / "audit.json").to_dict() == out  # the contract reads what it wrote
    assert out["reference"] == ["dev:d", "generate.real"] and out["reason"] is None
    assert out["synthetic_rows"] == 24 and out["real_rows"] == len(DEV) + 2  # test.csv's rows are left out
    for name in ("tfidf_lr", "frozen_lr"):
        assert 0 <= out["discriminability"][name]["roc_auc"] <= 1 and out["discriminability"][name]["folds"] == 5
    assert 0 <= out["coverage"]["share"] <= 1 and out["coverage"]["rows"] == 10 and out["coverage"]["threshold"] > 0
    assert out["diversity"]["synthetic"]["rows"] == 24 and out["diversity"]["real"]["rows"] == 10
    assert out["diversity"]["synthetic"]["window"] == out["diversity"]["real"]["window"] == 10
    assert out["diversity"]["real"]["largest_origin"] is None and out["diversity"]["synthetic"]["largest_origin"]
    assert out["label_shares"]["real"] == {"clickbait": 0.4, "factual": 0.6}
    assert out["label_shares"]["synthetic"] == {"clickbait": 0.5, "factual": 0.5}
    assert len(out["most_unreal"]) == 20 and len(out["least_covered"]) == 10  # at most 20: all 10 real rows
    files = {name: read_csv(split / f"{name}.csv") for name in ("train", "val")} | {"d": read_csv(external / "dev.csv")}
    for r in out["least_covered"]:
        assert set(r) == {"set", "row", "text", "label", "distance"}  # what `synthbert focus --coverage` reads
        if r["set"] == "generate.real":  # its row in the generate.real CSV, from the row's origin
            assert r["text"] == f"Real headline number {r['row'] - 4} about the council"
        else:
            assert files[r["set"]]["text"][r["row"] - 1] == r["text"]
    assert [r["distance"] for r in out["least_covered"]] == sorted((r["distance"] for r in out["least_covered"]),
                                                                   reverse=True)
    for r in out["most_unreal"]:
        assert set(r) == {"set", "row", "text", "label", "origin", "p_synthetic"} and r["set"] in ("train", "val")
        assert files[r["set"]]["text"][r["row"] - 1] == r["text"] and files[r["set"]]["origin"][r["row"] - 1] == r["origin"]
    md = (tmp_path / "out" / "audit.md").read_text(encoding="utf-8")
    assert md.startswith("# Synthetic against real\n") and "TF-IDF + LR" in md and "## Least covered real rows" in md
    check_page(md)
    run(tmp_path, tiny_bert, evaluate_cfg(TEST_ENTRY, DEV_ENTRY), split, external)
    assert (tmp_path / "out" / "audit.json").read_bytes() == first  # seeded: the same bytes


def test_without_a_real_reference_it_writes_the_reason_exits_0_and_never_loads_torch(tmp_path):
    split, external = write_inputs(tmp_path, real_rows=0)
    raw = yaml.safe_load((ROOT / "params.yaml").read_text(encoding="utf-8"))
    raw["evaluate"]["external_test"] = [TEST_ENTRY]  # a test set is not a reference
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw), encoding="utf-8")
    code = ("import sys; from stages import audit; rc = audit.main(sys.argv[1:]); "
            "print(rc, 'torch' in sys.modules, 'sklearn' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", code, "--split", str(split), "--external", str(external), "--json",
                           "audit.json", "--md", "audit.md"], cwd=tmp_path, capture_output=True, text=True,
                          env={**subprocess_env(), "PYTHONPATH": str(ROOT)}, timeout=120)
    assert proc.returncode == 0 and proc.stdout.split() == ["0", "False", "False"], proc.stderr
    out = json.loads((tmp_path / "audit.json").read_text(encoding="utf-8"))
    assert out["reason"].startswith("no real reference: evaluate.external_test has no role-dev set")
    assert out["reference"] == [] and out["least_covered"] == [] and out["discriminability"] == {}
    assert (tmp_path / "audit.md").read_text(encoding="utf-8") == \
        f"# Synthetic against real\n\nNot measured: {md_escape(out['reason'])}.\n"


def test_another_task_s_dev_set_is_no_reference(tmp_path):
    split, external = write_inputs(tmp_path, real_rows=0)
    (external / "other.csv").write_text("text,label\nA goal in extra time,sport\nNew phone out,tech\n", encoding="utf-8")
    out = run(tmp_path, Path("never-loaded"), evaluate_cfg({"name": "o", "path": "other.csv", "role": "dev"}),
              split, external)
    assert out["reason"].startswith("no real reference") and out["real_rows"] == 0


def test_too_few_real_rows_is_a_reason_not_an_error(tmp_path):
    split, external = write_inputs(tmp_path, real_rows=1)
    out = run(tmp_path, Path("never-loaded"), evaluate_cfg(), split, external)
    assert out["reference"] == ["generate.real"] and out["reason"].startswith("too few rows to compare: 24 synthetic")


@pytest.mark.parametrize("change, message", [
    ({"external_test": [{"name": "d", "path": "dev.csv", "role": "judge"}]},
     "error: params.yaml: evaluate.external_test[0].role must be one of dev, test, got 'judge'"),
    ({"external_test": [{"name": "d", "path": "dev.csv", "role": "dev", "label_map": {"clickbait": "bait"}}]},
     "error: params.yaml: evaluate.external_test[0].label_map.clickbait must be one of the model labels "
     "(clickbait, factual), got 'bait'"),
])
def test_param_errors_are_one_line(tmp_path, capsys, change, message):
    split, external = write_inputs(tmp_path)
    raw = yaml.safe_load((ROOT / "params.yaml").read_text(encoding="utf-8"))
    raw["evaluate"].update(change)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw), encoding="utf-8")
    rc = audit.main(["--params", str(tmp_path / "params.yaml"), "--split", str(split), "--external", str(external),
                     "--json", str(tmp_path / "a.json"), "--md", str(tmp_path / "a.md")])
    assert rc == 2 and capsys.readouterr().err.strip().splitlines() == [message]
    assert not (tmp_path / "a.json").exists()


def test_input_errors_are_one_line(tmp_path, capsys):
    split, external = write_inputs(tmp_path)
    args = ["--split", str(tmp_path / "nowhere"), "--external", str(external), "--json", str(tmp_path / "a.json"),
            "--md", str(tmp_path / "a.md")]
    assert audit.main(args) == 2
    assert capsys.readouterr().err.strip().splitlines() == [f"error: {tmp_path / 'nowhere' / 'train.csv'}: file not found"]
    (external / "stop_clickbait").mkdir()  # params.yaml's dev entry: stop_clickbait/dev.csv
    (external / "stop_clickbait" / "dev.csv").write_text("text,label\nA headline,satire\nAnother one,clickbait\n",
                                                                encoding="utf-8")
    assert audit.main(["--split", str(split), *args[2:]]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "label 'satire' is unknown to the model" in err[0], err
