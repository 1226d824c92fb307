"""Fine-tuning controls: precision choice, max_length, class weights, freezing, the loss, early stopping,
max_steps with gradient accumulation, the scheduler, fused AdamW, SDPA, deterministic mode, overfitting."""

import json

import numpy as np
import pytest

from stages import train
from stages.core import params, precision
from stages.training import checkpoints, controls, diagnostics
from stages.core.contracts import DatasetInfo, Provider
from stages.core.errors import DataError, ParamsError
from tests.test_train import LEARNS, tiny_cfg, write_splits


@pytest.mark.parametrize("requested, device, capability, expected", [
    ("auto", "cpu", None, "fp32"),
    ("auto", "cuda", (8, 0), "bf16"),   # A100
    ("auto", "cuda", (9, 0), "bf16"),   # H100
    ("auto", "cuda", (7, 5), "fp16"),   # T4: bf16 only emulated
    ("auto", "cuda", (6, 1), "fp16"),
    ("fp32", "cuda", (9, 0), "fp32"),
    ("fp16", "cuda", (8, 0), "fp16"),
    ("bf16", "cpu", None, "bf16"),      # CPU autocast supports bf16
])
def test_precision_choice(requested, device, capability, expected):
    assert controls.choose_precision(requested, device, capability) == expected


SPR = "fpu sse avx2 avx512f avx512_bf16 amx_bf16 amx_tile amx_int8"   # Sapphire Rapids: AMX
ZEN4 = "fpu sse avx2 avx512f avx512bw avx512_bf16"                      # AMD Zen 4: AVX512-BF16 only


@pytest.mark.parametrize("switched, cpu_bf16, expected", [
    (False, True, "fp32"),   # switched off: native bf16 is detected, auto stays fp32
    (False, False, "fp32"),
    (True, True, "bf16"),
    (True, False, "fp32"),   # never emulated bf16
])
def test_auto_on_cpu_picks_bf16_only_where_native_and_switched_on(monkeypatch, switched, cpu_bf16, expected):
    monkeypatch.setattr(controls, "CPU_AUTO_BF16", switched)
    assert controls.choose_precision("auto", "cpu", None, cpu_bf16) == expected
    assert controls.choose_precision("fp32", "cpu", None, cpu_bf16) == "fp32"


def test_auto_picks_bf16_on_cpus_with_native_bf16():
    # Switched on after benchmarks/train.py showed test macro-F1 parity over 5 seeds on two data sets.
    assert controls.CPU_AUTO_BF16 is True
    assert controls.choose_precision("auto", "cpu", None, precision.cpu_bf16_native(SPR)) == "bf16"
    assert controls.choose_precision("auto", "cpu", None, precision.cpu_bf16_native(ZEN4)) == "bf16"
    assert controls.choose_precision("auto", "cpu", None, precision.cpu_bf16_native("fpu avx2 avx512f")) == "fp32"


def test_precision_choice_is_logged_with_its_reason(monkeypatch, caplog):
    monkeypatch.setattr(controls, "cpu_flags", lambda: SPR)
    with caplog.at_level("INFO", logger=controls.__name__):
        assert controls.precision_for("auto", "cpu") == "bf16"
        monkeypatch.setattr(controls, "cpu_flags", lambda: "fpu avx2 avx512f")
        assert controls.precision_for("auto", "cpu") == "fp32"
    assert "precision bf16 (train.precision auto): CPU with native bf16 (amx_bf16, avx512_bf16)" in caplog.text
    assert "precision fp32 (train.precision auto): CPU without native bf16 (no amx_bf16 or avx512_bf16 flag)" \
        in caplog.text


@pytest.mark.parametrize("requested, device, capability, message", [
    ("fp16", "cpu", None, "train.precision fp16 needs a CUDA GPU"),
    ("bf16", "cuda", (7, 0), r"train.precision bf16 needs a GPU of compute capability >= 8.0 \(this one is 7.0\)"),
])
def test_impossible_precision_is_a_params_error(requested, device, capability, message):
    with pytest.raises(ParamsError, match=message):
        controls.choose_precision(requested, device, capability)


def test_max_length_choice():
    lengths = [5] * 98 + [30, 200]
    assert controls.choose_max_length(lengths, 0, 99.0, 512, "m") == 32      # 99% fit in 30, rounded up to 8s
    assert controls.choose_max_length(lengths, 0, 100.0, 512, "m") == 200    # everything
    assert controls.choose_max_length(lengths, 0, 100.0, 128, "m") == 128    # capped by the model
    assert controls.choose_max_length(lengths, 0, 50.0, 512, "m") == 8       # at least 8
    assert controls.choose_max_length(lengths, 64, 99.0, 512, "m") == 64     # explicit wins
    with pytest.raises(ParamsError, match=r"train.max_length must be <= 128 \(the limit of m\), got 200"):
        controls.choose_max_length(lengths, 200, 99.0, 128, "m")


def test_class_weights():
    labels, rows = ["a", "b"], ["a", "a", "a", "b"]
    assert controls.class_weight_values("none", {}, labels, rows) is None
    assert controls.class_weight_values("balanced", {}, labels, rows) == pytest.approx([4 / 6, 2.0])
    assert controls.class_weight_values("explicit", {"b": 3.0, "a": 1.0}, labels, rows) == [1.0, 3.0]


@pytest.mark.parametrize("factual, spam, mode, shown", [
    (522, 78, "balanced", "6.7x"), (30, 10, "balanced", "3.0x"), (299, 100, "none", "2.990x"), (29, 10, "none", "2.9x"),
    (10, 10, "none", "1.0x")])
def test_auto_class_weights_are_balanced_from_3x_with_the_reason(factual, spam, mode, shown, caplog):
    rows = ["factual"] * factual + ["spam"] * spam
    with caplog.at_level("INFO", logger="stages.training.controls"):
        got = controls.resolve_class_weights("auto", ["factual", "spam"], rows)
    large, small = ("factual", "spam") if factual > spam else ("spam", "factual")  # a tie: the name sorted last
    reason = (f"largest label {large} has {max(factual, spam):,} rows, {shown} the smallest, {small} "
              f"{min(factual, spam):,} (balanced from 3x)")
    assert got == (mode, reason)
    assert f"class weights {mode} (train.class_weights auto): {reason}" in caplog.text
    expected = controls.class_weight_values(mode, {}, ["factual", "spam"], rows)
    assert controls.class_weight_values("auto", {}, ["factual", "spam"], rows) == expected
    assert (expected is None) == (mode == "none")


def test_auto_class_weights_of_a_multi_label_set_compare_positive_rows_per_label():
    cells = ["a"] * 9 + ["a|b"] * 3 + ["c"] * 4  # positives: a 12, b 3, c 4 -> 4.0x
    assert controls.resolve_class_weights("auto", ["a", "b", "c"], cells, multi_label=True) == (
        "balanced", "largest label a has 12 positive rows, 4.0x the smallest, b 3 (balanced from 3x)")
    assert controls.resolve_class_weights("auto", ["a", "b"], ["a|b", "a", "b"], multi_label=True)[0] == "none"
    assert controls.resolve_class_weights("explicit", ["a"], ["a"]) == ("explicit", "set in params.yaml")


@pytest.mark.parametrize("raw, message", [
    ({"lr_scheduler": "cosine_annealing"}, "train.lr_scheduler must be one of linear, cosine"),
    ({"batch_size": 0}, "train.batch_size must be >= 1, got 0"),
    ({"gradient_accumulation_steps": 0}, "train.gradient_accumulation_steps must be >= 1, got 0"),
    ({"max_steps": -1}, "train.max_steps must be >= 0"),
    ({"freeze": "encoder"}, "train.freeze must be one of none, all_but_head, embeddings_and_first, all_but_last"),
    ({"freeze_layers": -1}, "train.freeze_layers must be >= 0"),
    ({"label_smoothing": 1.0}, "train.label_smoothing must be in [0, 1), got 1.0"),
    ({"class_weights": "explicit"}, "train.label_weights must be a weight for every label"),
    ({"class_weights": "weighted"}, "train.class_weights must be one of auto, none, balanced, explicit, got 'weighted'"),
    ({"decision": "threshold"}, "train.decision must be one of auto, argmax, tuned, got 'threshold'"),
    ({"label_weights": {"a": 0}}, "train.label_weights.a must be a weight > 0, got 0"),
    ({"precision": "fp8"}, "train.precision must be one of auto, fp32, bf16, fp16"),
    ({"metric_for_best_model": "f1"}, "train.metric_for_best_model must be one of f1_macro, accuracy, loss"),
    ({"max_length": 4}, "train.max_length must be 0 (auto) or in [8, 8192] tokens, got 4"),
    ({"length_percentile": 0}, "train.length_percentile must be in (0, 100]"),
    ({"early_stopping_patience": -2}, "train.early_stopping_patience must be >= 0"),
    ({"resume": "yes"}, "train.resume must be true or false, got 'yes'"),
    ({"deterministic": 1}, "train.deterministic must be true or false, got 1"),
    ({"overfit_patience": 0}, "train.overfit_patience must be >= 1"),
])
def test_invalid_train_params_name_key_expected_and_found(raw, message):
    with pytest.raises(ParamsError) as err:
        params.load_dict(raw, "train")
    assert message in str(err.value) and "\n" not in str(err.value)


def sizes(module):
    return sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize("mode, n", [("none", 0), ("all_but_head", 0), ("embeddings_and_first", 1),
                                     ("embeddings_and_first", 2), ("all_but_last", 1), ("all_but_last", 0)])
def test_freeze_counts(tiny_bert, mode, n):
    from stages.core.modeling import load_classifier

    model = load_classifier(str(tiny_bert), ["a", "b"])
    bert, total = model.bert, sizes(model)
    layers, head, pooler = bert.encoder.layer, sizes(model.classifier), sizes(bert.pooler)
    expected = {
        "none": total,
        "all_but_head": head,
        "embeddings_and_first": total - sizes(bert.embeddings) - sum(sizes(m) for m in layers[:n]),
        "all_but_last": head + pooler + sum(sizes(m) for m in layers[len(layers) - n:]),
    }[mode]
    assert controls.freeze(model, mode, n, "tiny") == (expected, total)
    assert head == 32 * 2 + 2 and expected < total or mode == "none"


def test_loss_applies_class_weights_and_label_smoothing_by_hand(tiny_bert, tmp_path):
    import torch
    from transformers import TrainingArguments

    from stages.core.modeling import load_classifier, load_tokenizer

    torch.manual_seed(0)
    model, tok = load_classifier(str(tiny_bert), ["a", "b"]), load_tokenizer(str(tiny_bert))
    model.eval()
    enc = tok(["the mayor found", "city council approved a budget", "storm hits texas"], padding=True,
              return_tensors="pt")
    labels = torch.tensor([0, 1, 1])
    weights, eps = [1.0, 3.0], 0.2
    args = TrainingArguments(output_dir=str(tmp_path), use_cpu=True, report_to="none")
    trainer = controls.make_trainer(weights, eps, model=model, args=args)
    loss = trainer.compute_loss(model, {**enc, "labels": labels})
    with torch.no_grad():
        logp = torch.log_softmax(model(**enc).logits, -1).numpy()
    w, y, k = np.array(weights), labels.numpy(), 2
    # PyTorch's weighted, smoothed cross-entropy, written out: mean over rows weighted by w[y].
    per_row = (1 - eps) * w[y] * -logp[np.arange(3), y] + eps / k * (-(logp * w).sum(1))
    assert loss.item() == pytest.approx(per_row.sum() / w[y].sum(), rel=1e-5)
    plain = controls.make_trainer(None, 0.0, model=model, args=args).compute_loss(model, {**enc, "labels": labels})
    assert plain.item() == pytest.approx(-logp[np.arange(3), y].mean(), rel=1e-5)
    # Evaluation runs under inference_mode: its outputs are inference tensors.
    _, logits, _ = trainer.prediction_step(model, {**enc, "labels": labels}, prediction_loss_only=False)
    assert logits.is_inference()


def test_epoch_rows_and_overfitting_warning():
    history = []
    for epoch, (train_loss, val_loss, f1) in enumerate([(0.6, 0.5, 0.7), (0.5, 0.4, 0.8), (0.4, 0.45, 0.8),
                                                        (0.3, 0.5, 0.8)], start=1):
        history += [{"loss": train_loss, "epoch": float(epoch), "step": 4 * epoch},
                    {"eval_loss": val_loss, "eval_f1_macro": f1, "eval_runtime": 0.1, "epoch": float(epoch),
                     "step": 4 * epoch}]
    history.append({"train_runtime": 3.0, "train_loss": 0.45, "epoch": 4.0})
    rows = diagnostics.epoch_rows(history)
    assert [r["step"] for r in rows] == [1, 2, 3, 4] and [r["global_step"] for r in rows] == [4, 8, 12, 16]
    assert diagnostics.last_train_loss(history) == 0.3 and diagnostics.last_train_loss([]) is None  # not the mean 0.45
    assert rows[2] == {"step": 3, "global_step": 12, "epoch": 3.0, "loss": 0.4, "eval/loss": 0.45,
                       "eval/f1_macro": 0.8}
    warning = diagnostics.rising_val_loss(rows, 2)
    assert warning == ("validation loss rose for 2 evaluations in a row (epoch 2 to 4: 0.4000 -> 0.5000) while "
                       "training loss fell (0.5000 -> 0.3000)")
    assert diagnostics.rising_val_loss(rows, 3) is None
    flat = [dict(r, loss=0.5) for r in rows]  # val loss rises but training loss does not fall: no warning
    assert diagnostics.rising_val_loss(flat, 2) is None
    # Fractional epochs: every evaluation still gets its own, rising step.
    half = diagnostics.epoch_rows([{"eval_loss": 1.0, "epoch": 0.5}, {"eval_loss": 0.9, "epoch": 1.0}])
    assert [r["step"] for r in half] == [1, 2]


def fake_checkpoint(directory, step, whole=True):
    path = directory / f"checkpoint-{step}"
    path.mkdir(parents=True)
    for name in ("config.json", "model.safetensors", "optimizer.pt", "scheduler.pt"):
        (path / name).write_text("x")
    (path / "trainer_state.json").write_text('{"epoch": 1.0}' if whole else '{"epo')
    return path


def test_checkpoint_directory_keeps_only_the_same_runs_complete_checkpoints(tmp_path):
    d = tmp_path / "ckpt"
    checkpoints.prepare(d, "fp1", resume=True)
    fake_checkpoint(d, 4), fake_checkpoint(d, 8), fake_checkpoint(d, 12, whole=False)
    assert checkpoints.last_complete(d).name == "checkpoint-8"  # 12 was cut off mid-write
    checkpoints.prepare(d, "fp1", resume=True)
    assert [p.name for p in checkpoints.checkpoints(d)] == ["checkpoint-4", "checkpoint-8"]
    checkpoints.prepare(d, "fp2", resume=True)  # other params or data: never resumed from
    assert checkpoints.checkpoints(d) == [] and checkpoints.read_run(d) == {"fingerprint": "fp2", "complete": False}
    fake_checkpoint(d, 4)
    checkpoints.prepare(d, "fp2", resume=False)
    assert checkpoints.checkpoints(d) == []
    fake_checkpoint(d, 4)
    checkpoints.finish(d, "fp2")
    assert sorted(p.name for p in d.iterdir()) == ["run.json"] and checkpoints.read_run(d)["complete"] is True


# ------------------------------------------------------------------------------------ training runs


def test_freezing_keeps_frozen_weights_bit_identical(tmp_path, tiny_bert):
    from safetensors.torch import load_file

    cfg = tiny_cfg(tiny_bert, **{**LEARNS, "epochs": 1}, freeze="all_but_last", freeze_layers=1)
    summary = train.run(cfg=cfg, seed=0, split_dir=write_splits(tmp_path), model_dir=tmp_path / "m", reports=tmp_path / "r")
    before, after = load_file(tiny_bert / "model.safetensors"), load_file(tmp_path / "m" / "model.safetensors")
    after = {k.removeprefix("bert."): v for k, v in after.items()}
    frozen = [k for k in before if k.startswith(("embeddings.", "encoder.layer.0."))]
    trained = [k for k in before if k.startswith(("encoder.layer.1.", "pooler."))]
    assert frozen and trained
    assert all(np.array_equal(before[k].numpy(), after[k].numpy()) for k in frozen)
    assert all(not np.array_equal(before[k].numpy(), after[k].numpy()) for k in trained if k.endswith("weight"))
    assert summary["trainable_parameters"] == sum(after[k].numel() for k in trained) + 32 * 2 + 2
    assert summary["trainable_parameters"] < summary["total_parameters"]


def test_early_stopping_stops_and_restores_the_best_epoch(tmp_path, tiny_bert):
    # A learning rate too small to change a prediction: validation accuracy never improves after epoch 1.
    cfg = tiny_cfg(tiny_bert, epochs=6, batch_size=16, learning_rate=1e-8, early_stopping_patience=2,
                   metric_for_best_model="accuracy")
    summary = train.run(cfg=cfg, seed=0, split_dir=write_splits(tmp_path), model_dir=tmp_path / "m", reports=tmp_path / "r")
    assert summary["stopped_early"] and summary["epochs_trained"] == 3.0 and summary["best_epoch"] == 1.0


def test_max_steps_accumulation_scheduler_optimizer_attention_and_determinism(tmp_path, tiny_bert):
    import torch
    from transformers import TrainerCallback

    seen = {}

    class Probe(TrainerCallback):
        def on_train_begin(self, args, state, control, model=None, optimizer=None, **kw):
            seen.update(deterministic=torch.are_deterministic_algorithms_enabled(), fused=optimizer.defaults["fused"],
                        attn=model.config._attn_implementation, lrs=[])

        def on_step_end(self, args, state, control, lr_scheduler=None, **kw):
            seen["lrs"].append(lr_scheduler.get_last_lr()[0])

    cfg = tiny_cfg(tiny_bert, max_steps=5, batch_size=4, gradient_accumulation_steps=2, learning_rate=1e-3,
                   warmup_ratio=0.0, lr_scheduler="cosine", deterministic=True, class_weights="balanced",
                   label_smoothing=0.1)
    summary = train.run(cfg=cfg, seed=0, split_dir=write_splits(tmp_path), model_dir=tmp_path / "m", reports=tmp_path / "r", callbacks=[Probe()])
    assert summary["optimizer_steps"] == 5 and summary["epochs_trained"] == pytest.approx(5 * 2 * 4 / 32)
    assert seen["deterministic"] and not torch.are_deterministic_algorithms_enabled()  # restored afterwards
    assert seen["fused"] is True and seen["attn"] == "sdpa"
    cosine = [1e-3 * 0.5 * (1 + np.cos(np.pi * s / 5)) for s in range(1, 6)]
    assert seen["lrs"] == pytest.approx(cosine, abs=1e-9)
    assert summary["class_weights"] == [1.0, 1.0] and summary["deterministic"] is True


def test_model_card_names_the_data_and_records_provenance(tmp_path, tiny_bert):
    from importlib import metadata

    dataset = tmp_path / "dataset.json"
    DatasetInfo(provider=Provider(provider="template", task="clickbait"), rows_read=44, rows_kept=40).write(dataset)
    cfg = tiny_cfg(tiny_bert, **{**LEARNS, "epochs": 1})
    summary = train.run(cfg=cfg, seed=0, split_dir=write_splits(tmp_path), model_dir=tmp_path / "m",
                        reports=tmp_path / "r", dataset=dataset)
    card = (tmp_path / "m" / "README.md").read_text(encoding="utf-8")  # the model card names generate's data
    assert "synthetic data from the `template` provider for the task `clickbait`" in card
    assert "44 rows generated, 40 kept after cleaning." in card
    provenance = card.split("## Provenance")[1]
    assert f"| torch | `{metadata.version('torch')}` |" in provenance
    assert f"| transformers | `{metadata.version('transformers')}` |" in provenance
    assert "| device | `cpu` " in provenance and "| torch threads | " in provenance and "| git revision |" in provenance
    assert summary["overfitting_warning"] is None or "validation loss rose" in summary["overfitting_warning"]


def test_dataset_json_of_the_wrong_shape_stops_before_training(tmp_path, tiny_bert):
    dataset = tmp_path / "dataset.json"
    dataset.write_text(json.dumps({"provider": {"provider": "template"}, "rows_read": "44", "rows_kept": 40}))
    with pytest.raises(DataError, match=r"dataset.json: field 'rows_read' must be an integer, found '44'"):
        train.run(cfg=tiny_cfg(tiny_bert), seed=0, split_dir=write_splits(tmp_path), model_dir=tmp_path / "m",
                  reports=tmp_path / "r", dataset=dataset)
    assert not (tmp_path / "m").exists()


@pytest.mark.parametrize("steps, expected", [(12, True), (49, True), (50, False), (400, False)])
def test_fewer_than_50_optimizer_steps_is_an_undertrained_warning(steps, expected):
    warning = diagnostics.undertrained(steps, 3.0, 108)
    assert (warning is not None) == expected
    if expected:
        assert warning.startswith(f"only {steps} optimizer steps (108 training rows, 3 epochs; fewer than 50)")
        assert "train.epochs" in warning and "\n" not in warning


def test_a_tiny_run_logs_and_records_the_undertrained_warning(tmp_path, tiny_bert, caplog):
    import logging

    caplog.set_level(logging.WARNING, logger="stages")
    summary = train.run(cfg=tiny_cfg(tiny_bert, epochs=1), seed=0, split_dir=write_splits(tmp_path),
                        model_dir=tmp_path / "m", reports=tmp_path / "r")
    assert summary["optimizer_steps"] < 50 and "probably undertrained" in summary["undertrained_warning"]
    assert "undertrained: only " in caplog.text


def test_texts_longer_than_the_model_limit_are_counted_in_a_warning(caplog):
    import logging

    caplog.set_level(logging.INFO, logger="stages")
    over_max, over_limit = diagnostics.log_truncation([10, 40, 129, 129, 64], max_length=32, limit=128)
    assert (over_max, over_limit) == (4, 2)
    warning = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warning) == 1 and warning[0].getMessage().startswith(
        "2 of 5 training texts are longer than the model's limit of 128 tokens and are truncated")
    caplog.clear()
    assert diagnostics.log_truncation([5, 6], max_length=8, limit=128) == (0, 0) and not caplog.records
