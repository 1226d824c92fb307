"""Multi-label training on the tiny BERT: sigmoid + BCE with pos_weight, the validation metrics, the per-label
decision thresholds tuned on val and saved with the model, the model card, and bad multi-label inputs."""

import json

import numpy as np
import pandas as pd
import pytest

from stages import train
from stages.core import labelsets, modeling
from stages.core.contracts import DatasetInfo, Provider
from stages.core.errors import DataError, ParamsError
from stages.training import controls, multilabel
from testkit.tiny_bert import build_tiny_bert
from tests.test_train import LEARNS, tiny_cfg

TICKETS = {
    "please refund my invoice": "billing", "my card was charged twice": "billing",
    "the app crashes on login": "technical", "an error page when loading settings": "technical",
    "invoice page crashes with an error": "billing|technical", "refund me today it is urgent": "billing|urgent",
    "urgent the app crashes again": "technical|urgent", "urgent please call me back now": "urgent",
}
LABELS = ["billing", "technical", "urgent"]


def write_ml_splits(tmp_path, val_override=None):
    d = tmp_path / "split"
    d.mkdir(exist_ok=True)
    rows = list(TICKETS.items())
    pd.DataFrame(rows * 4, columns=["text", "label"]).assign(source="template", origin="t-1").to_csv(
        d / "train.csv", index=False)
    val = pd.DataFrame(rows, columns=["text", "label"]).assign(source="template", origin="t-1")
    if val_override:
        val.loc[0, "label"] = val_override
    val.to_csv(d / "val.csv", index=False)
    val.to_csv(d / "test.csv", index=False)
    return d


def ml_dataset_json(tmp_path):
    path = tmp_path / "dataset.json"
    DatasetInfo(provider=Provider(provider="template", task="tickets"), rows_read=8, rows_kept=8, multi_label=True,
                labels=LABELS).write(path)
    return path


@pytest.fixture(scope="module")
def ticket_bert(tmp_path_factory):
    return build_tiny_bert(tmp_path_factory.mktemp("ticket-bert"), extra_words=list(TICKETS))


@pytest.fixture(scope="module")
def ml_trained(tmp_path_factory, ticket_bert):
    tmp = tmp_path_factory.mktemp("ml-train")
    cfg = tiny_cfg(ticket_bert, **LEARNS, class_weights="balanced", decision="tuned")  # decision: ignored here
    summary = train.run(cfg=cfg, seed=0, split_dir=write_ml_splits(tmp), model_dir=tmp / "model",
                        reports=tmp / "reports", dataset=ml_dataset_json(tmp))
    return tmp, summary


def test_multi_label_model_is_saved_with_problem_type_and_tuned_thresholds(ml_trained):
    tmp, summary = ml_trained
    config = json.loads((tmp / "model" / "config.json").read_text())
    assert config["problem_type"] == "multi_label_classification"
    assert [config["id2label"][str(i)] for i in range(3)] == LABELS
    thresholds = config["decision_thresholds"]
    assert set(thresholds) == set(LABELS) and all(t in multilabel.CANDIDATES for t in thresholds.values())
    saved = json.loads((tmp / "model" / "synthbert_params.json").read_text())
    assert saved["multi_label"] is True and saved["thresholds"] == thresholds and saved["labels"] == LABELS
    assert summary["multi_label"] is True and summary["thresholds"] == thresholds
    # train.decision is for single-label models: the thresholds are the rule, no offsets are saved
    assert summary["decision"] == "thresholds" and summary["decision_offsets"] is None
    assert "decision_offsets" not in config and saved["decision_offsets"] is None
    assert summary["class_weights_mode"] == "balanced" and summary["class_weights_reason"] == "set in params.yaml"
    # balanced pos_weight: negatives / positives of each label in train.csv (billing 4 of 8 rows, urgent 3)
    assert summary["class_weights"] == pytest.approx([1.0, 1.0, 5 / 3])
    # The thresholds are those tune_thresholds picks on the saved (best) model's val probabilities.
    model, tok = modeling.load_classifier(str(tmp / "model")), modeling.load_tokenizer(str(tmp / "model"))
    val = pd.read_csv(tmp / "split" / "val.csv")
    proba = modeling.predict_proba(model, tok, val["text"].tolist())
    assert multilabel.tune_thresholds(proba, labelsets.multi_hot(val["label"].tolist(), LABELS), LABELS) == thresholds
    assert modeling.thresholds_of(model) == [thresholds[lab] for lab in LABELS]


def test_multi_label_training_learns_and_logs_its_metrics(ml_trained):
    tmp, summary = ml_trained
    assert summary["best_val_f1_macro"] >= 0.75 and np.isfinite(summary["train_loss"])
    plots = tmp / "reports" / "plots" / "metrics"
    f1 = {lab: pd.read_csv(plots / "eval" / "f1_label" / f"{lab}.tsv", sep="\t")[lab] for lab in LABELS}
    macro = pd.read_csv(plots / "eval" / "f1_macro.tsv", sep="\t")["f1_macro"]
    assert np.allclose(sum(f1.values()) / 3, macro)  # macro-F1: the mean per-label F1
    assert (plots / "eval" / "f1_micro.tsv").is_file() and (plots / "eval" / "accuracy.tsv").is_file()


def test_pipeline_with_top_k_none_gives_a_sigmoid_per_label(ml_trained):
    from transformers import pipeline

    tmp, _ = ml_trained
    clf = pipeline("text-classification", model=str(tmp / "model"), top_k=None, device="cpu")
    scores = clf(["please refund my invoice", "urgent the app crashes again"])
    model, tok = modeling.load_classifier(str(tmp / "model")), modeling.load_tokenizer(str(tmp / "model"))
    proba = modeling.predict_proba(model, tok, ["please refund my invoice", "urgent the app crashes again"])
    for row, p in zip(scores, proba):
        got = {s["label"]: s["score"] for s in row}
        assert got == pytest.approx(dict(zip(LABELS, p)), abs=1e-5)  # sigmoids: need not sum to 1


def test_model_card_says_multi_label_with_thresholds_and_usage(ml_trained):
    tmp, summary = ml_trained
    card = (tmp / "model" / "README.md").read_text(encoding="utf-8")
    assert "tags a text with any of 3 labels (multi-label: one sigmoid probability per label" in card
    assert "## Decision thresholds" in card and "`multi_label_classification`" in card
    for lab, t in summary["thresholds"].items():
        assert f"| `{lab}` | {t:.3f} |" in card or f"| `{lab}` | {t} |" in card
    assert 'top_k=None' in card and "clf.model.config.decision_thresholds" in card


def test_tune_thresholds_maximises_each_labels_f1_ties_closest_to_half():
    truth = np.array([[1, 0, 1], [1, 0, 0], [0, 0, 1], [0, 0, 0]])
    proba = np.array([[0.90, 0.1, 0.80], [0.70, 0.2, 0.30], [0.30, 0.9, 0.45], [0.60, 0.4, 0.20]])
    got = multilabel.tune_thresholds(proba, truth, ["x", "y", "z"])
    # x: any threshold in (0.60, 0.70] separates perfectly: 0.65 and 0.70 tie, 0.65 is closer to 0.5.
    # y: no positive in val: 0.5. z: perfect in (0.30, 0.45]: 0.35 .. 0.45, 0.45 closest to 0.5.
    assert got == {"x": 0.65, "y": 0.5, "z": 0.45}
    # A plateau that contains 0.5 keeps 0.5.
    assert multilabel.tune_thresholds(np.array([[0.9], [0.1]]), np.array([[1], [0]]), ["a"]) == {"a": 0.5}


def test_pos_weights_and_bad_label_weights():
    cells = ["a", "a|b", "b", "c", "a|c"]

    def weights(mode, explicit, labels=("a", "b", "c"), train=cells):
        return controls.class_weight_values(mode, explicit, list(labels), train, multi_label=True)

    assert weights("none", {}) is None
    assert weights("balanced", {}) == pytest.approx([2 / 3, 3 / 2, 3 / 2])
    assert weights("balanced", {}, ("a", "b"), ["a", "a|b"]) == [1.0, 1.0]  # a: no negatives
    assert weights("explicit", {"a": 2.0, "b": 1.0, "c": 4.0}) == [2, 1, 4]
    with pytest.raises(ParamsError, match=r"train.label_weights.d names no label of train.csv \(labels: a, b, c\)"):
        weights("explicit", {"a": 2.0, "b": 1.0, "c": 1.0, "d": 1.0})


def test_multi_label_loss_is_bce_with_pos_weight_and_smoothed_targets(ticket_bert, tmp_path):
    import torch
    from transformers import TrainingArguments

    torch.manual_seed(0)
    model = modeling.load_classifier(str(ticket_bert), LABELS, multi_label=True).eval()
    enc = modeling.load_tokenizer(str(ticket_bert))(list(TICKETS)[:4], padding=True, return_tensors="pt")
    targets = torch.tensor(labelsets.multi_hot(list(TICKETS.values())[:4], LABELS), dtype=torch.float32)
    args = TrainingArguments(output_dir=str(tmp_path), use_cpu=True, report_to="none")
    with torch.no_grad():
        z = model(**enc).logits.double().numpy()
    log_p, log_q = -np.logaddexp(0, -z), -np.logaddexp(0, z)  # log sigmoid, log (1 - sigmoid)
    for pos_weight, eps in [(None, 0.0), ([1.0, 4.0, 0.5], 0.0), ([1.0, 4.0, 0.5], 0.2)]:
        loss = controls.make_trainer(pos_weight, eps, True, model=model, args=args).compute_loss(
            model, {**enc, "labels": targets})
        y = targets.numpy() * (1 - eps) + eps / 2
        w = np.ones(3) if pos_weight is None else np.array(pos_weight)
        assert np.isfinite(loss.item())
        assert loss.item() == pytest.approx(np.mean(-(w * y * log_p + (1 - y) * log_q)), rel=1e-5)


def test_multi_label_metrics_threshold_logits_at_zero():
    logits = np.array([[2.0, -1.0], [0.5, 0.5], [-3.0, 1.0], [-1.0, -1.0]])
    y = np.array([[1, 0], [1, 0], [0, 1], [0, 1]], dtype=float)
    got = controls.metric_fn(["a", "b/c"], multi_label=True)((logits, y))
    # a: tp 2, fp 0, fn 0 -> 1.0; b: tp 1, fp 1, fn 1 -> 0.5; subset accuracy: rows 1 and 3 only.
    assert got == pytest.approx({"accuracy": 0.5, "f1_macro": 0.75, "f1_micro": 6 / 8,
                                 "f1_label/a": 1.0, "f1_label/b_c": 0.5})


def test_multi_label_bad_inputs_stop_before_training(tmp_path, ticket_bert):
    with pytest.raises(DataError, match=r"val.csv: label 'refunds' never occurs in train.csv \(train labels: "
                                        r"billing, technical, urgent\)"):
        train.run(cfg=tiny_cfg(ticket_bert), seed=0, split_dir=write_ml_splits(tmp_path, "billing|refunds"),
                  model_dir=tmp_path / "m", reports=tmp_path / "r", multi_label=True)
    cfg = tiny_cfg(ticket_bert, class_weights="explicit", label_weights={"billing": 1.0, "technical": 1.0,
                                                                          "urgent": 2.0, "billing|urgent": 1.0})
    with pytest.raises(ParamsError, match=r"train.label_weights.billing\|urgent names no label of train.csv"):
        train.run(cfg=cfg, seed=0, split_dir=write_ml_splits(tmp_path), model_dir=tmp_path / "m",
                  reports=tmp_path / "r", dataset=ml_dataset_json(tmp_path))
    assert not (tmp_path / "m").exists() and not (tmp_path / "r").exists()
