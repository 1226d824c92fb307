"""`stages.train --only-source real` (the real_only baseline): the rows it trains on, the marker it leaves when there
is nothing to train (without loading a model), and a real fine-tuning on the real rows alone."""

import json
import subprocess
import sys

import pandas as pd
import pytest
import yaml

from stages import train
from stages.core import contracts, modeling
from stages.training import subset
from testkit import ROOT
from tests.test_train import CLICKBAIT, FACTUAL, LEARNS


def write_split(tmp_path, real=(("shocking secrets of the council", "clickbait"), ("the bank raised rates again",
                                                                                    "factual"))):
    """A split whose train.csv holds 16 template rows and the `real` rows three times each; val both labels."""
    d = tmp_path / "split"
    d.mkdir(exist_ok=True)
    synthetic = [(t, "clickbait", "template") for t in CLICKBAIT] + [(t, "factual", "template") for t in FACTUAL]
    rows = synthetic * 2 + [(t, lab, "real") for t, lab in real] * 3
    origins = [f"o-{i}" for i in range(len(rows))]
    pd.DataFrame(rows, columns=["text", "label", "source"]).assign(origin=origins).to_csv(d / "train.csv", index=False)
    val = pd.DataFrame(synthetic, columns=["text", "label", "source"]).assign(origin="template-1")
    val.to_csv(d / "val.csv", index=False)
    val.to_csv(d / "test.csv", index=False)
    return d


def write_params(tmp_path, tiny_bert, **train_section):
    p = tmp_path / "params.yaml"
    section = {"model": str(tiny_bert), "epochs": 1, "batch_size": 4, **train_section}
    p.write_text(yaml.safe_dump({"base": {"seed": 7}, "train": section}))
    return p


@pytest.mark.parametrize("real, reason", [
    ((), "train.csv holds no row of source 'real'"),
    ((("shocking secrets of the council", "clickbait"),), "the 3 train rows of source 'real' hold one label (clickbait)"),
])
def test_nothing_to_train_leaves_only_the_marker_and_says_why(tmp_path, real, reason):
    info = subset.select(write_split(tmp_path, real), "real", tmp_path / "out")
    assert (info.trained, info.reason, info.train_rows) == (False, reason, 3 * len(real))
    assert not (tmp_path / "out").exists()


def test_val_keeps_only_rows_of_labels_the_real_rows_have(tmp_path):
    split = write_split(tmp_path, (("shocking secrets", "clickbait"), ("you will never believe it", "clickbait"),
                                   ("rates rose", "factual")))
    val = pd.read_csv(split / "val.csv")
    pd.concat([val, val.assign(label="other")]).to_csv(split / "val.csv", index=False)
    info = subset.select(split, "real", tmp_path / "out")
    assert (info.trained, info.train_rows, info.val_rows, info.labels) == (True, 9, 8, ["clickbait", "factual"])
    assert set(pd.read_csv(tmp_path / "out" / "train.csv")["source"]) == {"real"}
    assert set(pd.read_csv(tmp_path / "out" / "val.csv")["label"]) == {"clickbait", "factual"}


def test_without_real_rows_the_stage_writes_the_marker_without_loading_a_model(tmp_path, tiny_bert):
    split, params_file, out = write_split(tmp_path, ()), write_params(tmp_path, tiny_bert), tmp_path / "real_only"
    out.mkdir()
    (out / "stale.bin").write_text("from an earlier run")  # replaced whole, like every stage output
    code = ("import sys; from stages import train; rc = train.main(sys.argv[1:]); "
            "assert 'torch' not in sys.modules, 'a model was loaded'; sys.exit(rc)")
    done = subprocess.run([sys.executable, "-c", code, "--params", str(params_file), "--split", str(split),
                           "--model", str(out), "--only-source", "real"], cwd=ROOT, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in out.iterdir()) == ["subset.json"]
    assert json.loads((out / "subset.json").read_text()) == {
        "source": "real", "train_rows": 0, "val_rows": 0, "labels": [], "trained": False,
        "reason": "train.csv holds no row of source 'real'"}


def test_the_usual_run_still_needs_reports_and_checkpoints(tmp_path, tiny_bert, capsys):
    code = train.main(["--params", str(write_params(tmp_path, tiny_bert)), "--split", str(write_split(tmp_path)),
                       "--model", str(tmp_path / "m")])
    assert code == 2 and capsys.readouterr().err.strip() == (
        "error: --reports and --checkpoints are required (unless --only-source)")


@pytest.fixture(scope="module")
def real_only(tmp_path_factory, tiny_bert):
    """models/real_only as the stage writes it from a split with 6 real train rows (the evaluate tests use it)."""
    tmp = tmp_path_factory.mktemp("real_only")
    code = train.main(["--params", str(write_params(tmp, tiny_bert, **LEARNS)), "--split", str(write_split(tmp)),
                       "--model", str(tmp / "real_only"), "--only-source", "real"])
    assert code == 0
    return tmp / "real_only"


def test_the_real_rows_alone_train_a_model_with_the_same_settings(real_only):
    info = contracts.SubsetModel.read(real_only / "subset.json")
    assert (info.trained, info.train_rows, info.val_rows, info.labels) == (True, 6, 8, ["clickbait", "factual"])
    summary = contracts.TrainSummary.read(real_only / "train" / "summary.json")
    assert summary.train_rows == 6 and summary.val_rows == 8 and summary.epochs == LEARNS["epochs"]
    saved = json.loads((real_only / "model" / "synthbert_params.json").read_text())
    assert saved["seed"] == 7 and saved["train"]["learning_rate"] == LEARNS["learning_rate"]
    assert modeling.labels_of(modeling.load_classifier(str(real_only / "model"))) == ["clickbait", "factual"]
