"""stages.tools.predict (use the model, standalone) and stages.training.modelcard (the model directory's README.md)."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest

from stages.core import modeling
from stages.tools import predict, predict_io
from stages.training import modelcard
from stages.core.contracts import DatasetInfo, Provider, TrainSummary
from stages.core.errors import DataError
from testkit import ROOT
from testkit.dvc_repo import subprocess_env

TEXTS = ["you won't believe what the mayor found", "city council approved a budget", "storm hits texas",
         "10 secrets nobody saw coming", "the truth about coffee will surprise you"]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory, tiny_bert):
    """A classifier directory as train writes it (random head: these tests check plumbing, not accuracy)."""
    path = tmp_path_factory.mktemp("predict") / "classifier"
    modeling.load_classifier(str(tiny_bert), ["clickbait", "factual"]).save_pretrained(str(path))
    modeling.load_tokenizer(str(tiny_bert)).save_pretrained(str(path))
    train = {"model": str(tiny_bert), "epochs": 2.0, "learning_rate": 0.001, "max_length": 32}
    (path / "synthbert_params.json").write_text(json.dumps({"seed": 42, "train": train,
                                                            "labels": ["clickbait", "factual"]}))
    return path


def cli(capsys, *argv: str, stdin: bytes | None = None, monkeypatch=None) -> tuple[int, str, str]:
    if stdin is not None:
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin), encoding="utf-8"))
    code = predict.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_probabilities_match_transformers_pipeline_in_any_batch_size(model_dir):
    from transformers import pipeline

    clf = pipeline("text-classification", model=str(model_dir), device="cpu", top_k=None)
    reference = [{d["label"]: d["score"] for d in row} for row in clf(TEXTS)]
    for batch_size in (1, 2, 64):
        p = predict.Predictor(model_dir, batch_size=batch_size, device="cpu")
        got = p.proba(TEXTS)
        assert got.shape == (5, 2)
        want = np.array([[r["clickbait"], r["factual"]] for r in reference])
        np.testing.assert_allclose(got, want, atol=1e-5)
    assert p.max_length == 32  # the training truncation, from synthbert_params.json



def test_the_standalone_copy_matches_the_repository_routine(model_dir):
    """predict.py keeps its own batched forward pass (it runs without the repository): it must give what
    modeling.predict_proba gives, in any batch size."""
    model, tokenizer = modeling.load_classifier(str(model_dir)), modeling.load_tokenizer(str(model_dir))
    texts = TEXTS + [" ".join(TEXTS)]  # one text past max_length: both truncate alike
    want = modeling.predict_proba(model, tokenizer, texts, 64, max_length=32)
    for batch_size in (1, 3):
        got = predict.Predictor(model_dir, batch_size=batch_size, device="cpu").proba(texts)
        np.testing.assert_allclose(got, want, atol=1e-6, rtol=0)

def with_rule(model_dir, target, offsets):
    shutil.copytree(model_dir, target)
    config = json.loads((target / "config.json").read_text())
    (target / "config.json").write_text(json.dumps({**config, "decision_offsets": offsets}))
    return target


def test_the_standalone_decision_rule_matches_the_repository_rule(model_dir, tmp_path):
    """predict.py keeps its own copy of core/decision.decide (standalone): same decisions, argmax without a rule."""
    from stages.core import decision

    proba = np.random.default_rng(0).dirichlet([1, 1], size=300)
    plain = predict.Predictor(model_dir, device="cpu")
    assert plain.offsets == [0.0, 0.0] and plain.decide(proba)[0] == [plain.labels[i] for i in proba.argmax(1)]
    ruled = predict.Predictor(with_rule(model_dir, tmp_path / "ruled", {"factual": -0.7}), device="cpu")
    labels, scores = ruled.decide(proba)
    ids = decision.decide(proba, [0.0, -0.7])
    assert labels == [ruled.labels[i] for i in ids] and labels != plain.decide(proba)[0]
    np.testing.assert_allclose(scores, proba[np.arange(300), ids])


def test_a_saved_rule_decides_predict_labels_and_the_card_shows_pipeline_users_how(model_dir, tmp_path, capsys):
    from stages.core import decision

    p1 = np.unique(predict.Predictor(model_dir, device="cpu").proba(TEXTS)[:, 1])
    i = int(np.argmax(np.diff(p1)))  # the widest gap between two texts' P(factual): no text sits near the rule's
    t = float((p1[i] + p1[i + 1]) / 2)  # threshold, whatever the float path (pipeline, predict) rounds
    target = with_rule(model_dir, tmp_path / "classifier", {"clickbait": 0.0, "factual": decision.offset_for_threshold(t)})
    code, out, _ = cli(capsys, "--model", str(target), *TEXTS)
    rows = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and 0 < sum(r["label"] == "factual" for r in rows) < len(TEXTS)
    for r in rows:
        assert r["label"] == ("factual" if r["top_k"]["factual"] > t else "clickbait")
        assert r["score"] == r["top_k"][r["label"]]  # the decided label's probability, maybe not the top one
    card = modelcard.write_model_card(target).read_text(encoding="utf-8")
    assert "## Decision rule" in card and f"`factual` is predicted when its probability is above {t:.4g}" in card
    snippet = card.split("```python\n")[1].split("```")[0]
    assert "top_k=None" in snippet and "decision_offsets" in snippet
    scope: dict = {}  # the card's code as written, on these texts, its last expression kept
    exec(snippet.replace("models/classifier", str(target)).replace("['Example text']", repr(TEXTS))
         .replace("\n[max(", "\ndecided = [max("), scope)
    assert scope["decided"] == [r["label"] for r in rows]
    readme = (ROOT / "docs" / "train.md").read_text(encoding="utf-8")
    assert all(line in readme for line in modelcard._OFFSET_USAGE)  # docs/train.md shows pipeline users the same code


def test_jsonl_output_in_input_order_with_top_k(model_dir, capsys):
    code, out, _ = cli(capsys, "--model", str(model_dir), "--top-k", "1", *TEXTS)
    rows = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and [r["text"] for r in rows] == TEXTS
    for r in rows:
        assert list(r["top_k"]) == [r["label"]] and r["top_k"][r["label"]] == r["score"] and r["score"] >= 0.5
    code, out, _ = cli(capsys, "--model", str(model_dir), TEXTS[0])
    (row,) = [json.loads(line) for line in out.splitlines()]
    assert sorted(row["top_k"]) == ["clickbait", "factual"] and abs(sum(row["top_k"].values()) - 1) < 1e-5
    assert list(row["top_k"].values()) == sorted(row["top_k"].values(), reverse=True)


def test_csv_from_a_csv_file_and_jsonl_from_stdin(model_dir, tmp_path, capsys, monkeypatch):
    src = tmp_path / "in.csv"
    src.write_text("id,headline\n1,\"storm hits texas, figures show\"\n2,the truth about coffee\n", encoding="utf-8")
    out_file = tmp_path / "out" / "pred.csv"
    code, _, _ = cli(capsys, "--model", str(model_dir), "--input", str(src), "--column", "headline",
                     "--out", str(out_file))
    rows = list(csv.reader(out_file.open(encoding="utf-8")))
    assert code == 0 and rows[0] == ["text", "label", "score", "label_2", "score_2"]
    assert [r[0] for r in rows[1:]] == ["storm hits texas, figures show", "the truth about coffee"]
    assert {r[1] for r in rows[1:]} | {r[3] for r in rows[1:]} == {"clickbait", "factual"}
    assert [p.name for p in out_file.parent.iterdir()] == ["pred.csv"]  # no temporary file left behind
    code, out, _ = cli(capsys, "--model", str(model_dir), "--format", "csv", "--top-k", "1",
                       stdin=b"storm hits texas\n\n  \ncity council approved a budget\n", monkeypatch=monkeypatch)
    assert code == 0 and out.splitlines()[0] == "text,label,score" and len(out.splitlines()) == 3  # blanks skipped


@pytest.mark.parametrize("content, message", [
    (b"", "empty input (no texts)"),
    (b"\n  \n", "empty input (no texts)"),
    (b"fine\ncaf\xe9 latte\n", "not valid UTF-8 (byte 0xe9 on line 2); re-save it as UTF-8"),
])
def test_bad_input_files_are_one_line_errors(model_dir, tmp_path, capsys, content, message):
    bad = tmp_path / "texts.txt"
    bad.write_bytes(content)
    code, out, err = cli(capsys, "--model", str(model_dir), "--input", str(bad))
    assert code == 2 and out == "" and err == f"error: {bad}: {message}\n"


def test_missing_model_directory_is_a_one_line_error(tmp_path, capsys):
    code, out, err = cli(capsys, "--model", str(tmp_path / "nope"), "a text")
    assert code == 2 and out == ""
    assert err == (f"error: {tmp_path / 'nope'}: model directory not found (train one with `dvc repro`, "
                   "or pass --model DIR)\n")
    (tmp_path / "empty").mkdir()
    code, _, err = cli(capsys, "--model", str(tmp_path / "empty"), "a text")
    assert code == 2 and err.endswith("not a model directory (no config.json)\n")
    code, _, err = cli(capsys, "--model", str(tmp_path / "empty"), "--top-k", "0", "a text")
    assert code == 2 and err == "error: --top-k must be >= 1, got 0\n"


@pytest.mark.parametrize("name, damage", [("model.safetensors", "truncate"), ("config.json", "truncate"),
                                          ("config.json", "binary")])
def test_a_damaged_model_file_is_one_line_naming_it_exit_2(model_dir, tmp_path, capsys, name, damage):
    shutil.copytree(model_dir, tmp_path / "model")
    bad = tmp_path / "model" / name
    data = bad.read_bytes()
    bad.write_bytes(data[: len(data) // 2] if damage == "truncate" else bytes(range(256)) * 8)
    code, out, err = cli(capsys, "--model", str(tmp_path / "model"), "a text")
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1 and err.startswith("error: "), err
    assert str(bad) in err and "cannot load the model" in err


def test_predict_runs_alone_next_to_a_model_outside_the_repository(model_dir, tmp_path):
    """Only predict.py, its sibling predict_io.py and the model directory: no stages package, params.yaml or DVC."""
    shutil.copy(ROOT / "stages" / "tools" / "predict.py", tmp_path / "predict.py")
    shutil.copytree(model_dir, tmp_path / "classifier")
    env = {k: v for k, v in subprocess_env().items() if k != "PYTHONPATH"}
    alone = subprocess.run([sys.executable, "-I", "predict.py", "a text"], cwd=tmp_path, env=env,
                           capture_output=True, text=True, timeout=60)
    assert alone.returncode == 1 and alone.stderr.endswith("predict.py needs predict_io.py beside it "
                                                           "(copy both from stages/tools/)\n"), alone.stderr
    shutil.copy(ROOT / "stages" / "tools" / "predict_io.py", tmp_path / "predict_io.py")
    proc = subprocess.run([sys.executable, "-I", "predict.py", "--model", "classifier", "--input", "-"],
                          input="storm hits texas\nthe truth about coffee\n", cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert [json.loads(line)["text"] for line in proc.stdout.splitlines()] == ["storm hits texas",
                                                                               "the truth about coffee"]


def test_model_card_names_base_model_data_params_metrics_and_limits(model_dir, tmp_path, tiny_bert):
    target = tmp_path / "classifier"
    shutil.copytree(model_dir, target)
    summary = TrainSummary(
        base_model=str(tiny_bert), device="cpu", torch="2", transformers="5", train_rows=48, val_rows=16, epochs=2.0,
        train_loss=0.4, last_train_loss=0.25, best_val_f1_macro=0.8125, best_val_accuracy=0.8, best_epoch=2.0,
        epochs_trained=2.0,
        optimizer_steps=6, stopped_early=False, train_seconds=1.0, train_samples_per_second=96.0, peak_memory_mb=1.0,
        processes=1, precision="fp32", max_length=32, trainable_parameters=1, total_parameters=1, class_weights=None,
        deterministic=False, resumed_from=None, overfitting_warning=None, undertrained_warning=None)
    metrics = {"rows": 16, "accuracy": 0.875, "accuracy_ci_low": 0.7, "accuracy_ci_high": 1.0, "f1_macro": 0.87}
    data = DatasetInfo(provider=Provider(provider="template", task="clickbait"), rows_read=80, rows_kept=78)
    path = modelcard.write_model_card(target, summary, metrics, data)
    card = path.read_text(encoding="utf-8")
    from huggingface_hub import ModelCard

    front = ModelCard(card).data  # the Hub's own parser
    assert path == target / "README.md" and card.startswith("---\n")
    assert (front.license, front.language, front.library_name) == ("apache-2.0", "en", "transformers")
    assert front.pipeline_tag == "text-classification" and front.base_model is None  # a local dir is no hub id
    assert [(r.dataset_split, r.metric_type, r.metric_value) for r in front.eval_results] == [
        ("test", "accuracy", 0.875), ("test", "f1", 0.87)]  # the synthetic test split's model-index
    assert str(tiny_bert) not in card and str(tmp_path) not in card and f"`<local>/{tiny_bert.name}`" in card
    assert "- Trained on synthetic data" in card and "`clickbait`, `factual`" in card
    assert "80 rows generated, 78 kept" in card and "| `learning_rate` | `0.001` |" in card
    assert "| accuracy | 0.875 | 0.700 – 1.000 |" in card and "Validation macro F1 of the kept epoch: 0.812" in card
    assert "truncated to 32 tokens" in card
    # Train writes the card before evaluate has run: no test metrics yet, and the hub id becomes front matter.
    saved = json.loads((target / "synthbert_params.json").read_text())
    saved["train"]["model"] = "sentence-transformers/all-MiniLM-L6-v2"
    (target / "synthbert_params.json").write_text(json.dumps(saved))
    card = modelcard.write_model_card(target).read_text(encoding="utf-8")
    assert "base_model: sentence-transformers/all-MiniLM-L6-v2" in card and "see `reports/model_card.md`" in card
    predict.Predictor(target)  # the card does not get in the way of loading
    with pytest.raises(DataError, match="not a model directory"):
        modelcard.write_model_card(tmp_path)


def test_unwritable_out_fails_before_loading_the_model_naming_out(tmp_path, capsys, monkeypatch):
    def no_model(*a, **kw):
        raise AssertionError("the model was loaded before --out was checked")

    monkeypatch.setattr(predict, "Predictor", no_model)
    code, out, err = cli(capsys, "--model", str(tmp_path), "--out", "/proc/nope/x.csv", "a text")
    assert code == 2 and out == "" and err.startswith("error: --out /proc/nope/x.csv: cannot write into /proc/nope (")
    assert len(err.splitlines()) == 1 and "[Errno" not in err


def test_stdin_prediction_logs_progress_in_texts_per_second(model_dir, capsys, monkeypatch, caplog):
    import logging

    caplog.set_level(logging.INFO, logger="stages.tools.predict")
    monkeypatch.setattr(predict_io, "PROGRESS_S", 0.0)
    monkeypatch.setattr(predict, "CHUNK", 4)
    code, out, _ = cli(capsys, "--model", str(model_dir), stdin=b"storm hits texas\n" * 10, monkeypatch=monkeypatch)
    assert code == 0 and len(out.splitlines()) == 10
    assert "predicting 10 texts on cpu" in caplog.text
    assert re.search(r"predicted 4/10 texts \(40%\), [\d.]+ texts/s, ETA \d+ s", caplog.text)
    assert "predicted 10/10 texts (100%)" in caplog.text


@pytest.mark.parametrize("flags", ["fpu sse avx512f", "fpu avx512f avx512_bf16", "fpu amx_tile amx_bf16", ""])
@pytest.mark.parametrize("requested", ["auto", "fp32", "bf16"])
def test_precision_choice_is_evaluates_rule(tmp_path, flags, requested):
    """predict's standalone copy of the rule gives stages.core.precision's choice for the same CPU flags."""
    from stages.core import precision

    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(f"processor\t: 0\nflags\t\t: {flags}\n" if flags else "processor\t: 0\n")
    want = precision.scoring(requested, "cpu", None, precision.cpu_bf16_native(precision.cpu_flags(str(cpuinfo))))
    assert predict.scoring_precision(requested, "cpu", str(cpuinfo)) == want


def test_bf16_scores_near_fp32_and_the_cli_option(model_dir, capsys):
    fp32 = predict.Predictor(model_dir, device="cpu").proba(TEXTS)
    bf16 = predict.Predictor(model_dir, device="cpu", precision="bf16")
    assert bf16.precision == "bf16"
    np.testing.assert_allclose(bf16.proba(TEXTS), fp32, atol=0.02)
    code, out, _ = cli(capsys, "--model", str(model_dir), "--precision", "fp32", *TEXTS)
    assert code == 0 and [json.loads(r)["top_k"]["factual"] for r in out.splitlines()] == \
        [round(float(p), 6) for p in fp32[:, 1]]


@pytest.mark.parametrize("argv, message", [
    (["--precision", "fp16"], "error: --precision must be one of auto, fp32, bf16, got 'fp16'"),
    (["--precision", "bf16", "--onnx", "model.onnx"],
     "error: --precision bf16 applies to the PyTorch model; an --onnx file runs as exported")])
def test_bad_precision_is_one_line_exit_2(model_dir, capsys, argv, message):
    code, out, err = cli(capsys, "--model", str(model_dir), *argv, "a text")
    assert code == 2 and out == "" and err.strip().splitlines() == [message]
