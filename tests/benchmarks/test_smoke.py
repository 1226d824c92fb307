"""Every script in benchmarks/ runs at its smallest size in a subprocess (with a timeout) and prints its
ratio or table. Numbers are not checked (the machine is shared); that the script runs to its report is."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from testkit import ROOT
from testkit.dvc_repo import subprocess_env
from tests.test_train import write_splits

BENCH = ROOT / "benchmarks"


def bench(script: str, *args: str, timeout: float = 300) -> str:
    """Run benchmarks/<script> from the repository root; its stdout, or AssertionError with the tail of both."""
    cmd = [sys.executable, str(BENCH / script), *args]
    try:
        proc = subprocess.run(cmd, cwd=ROOT, env={**subprocess_env(), "PYTHONPATH": str(ROOT)}, capture_output=True,
                              text=True, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        raise AssertionError(f"{' '.join(cmd)} timed out after {timeout:g} s") from exc
    assert proc.returncode == 0, f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout


def test_every_benchmark_script_has_a_smoke_test():
    tested = set(re.findall(r'bench\("(\w+\.py)"', Path(__file__).read_text()))
    assert {p.name for p in BENCH.glob("*.py")} <= tested


def test_pipeline_split_benchmark():
    out = bench("pipeline.py", "--skip-repro")
    assert re.search(r"^split, 10,000 rows \(with start\): +[\d.]+ s", out, re.M), out


def test_reproducibility_safe_writes_benchmark():
    out = bench("reproducibility.py", "--skip-dvc")
    assert re.search(r"^write_csv, 100k rows .* ratio [\d.]+x$", out, re.M), out
    assert re.search(r"^model dir, 90 MB .* ratio [\d.]+x$", out, re.M), out


def test_generate_benchmark_against_the_local_server():
    out = bench("generate.py", "--samples", "20", "--latency", "0.01")
    assert re.search(r"^speed-up +: +[\d.]+x", out, re.M), out
    assert re.search(r"^warm-cache rerun \(new process\) +: +[\d.]+ s +0 requests", out, re.M), out


def test_dedup_benchmark_prints_speed_up_and_recall():
    out = bench("dedup.py", "--rows", "2000")
    assert re.search(r"^speed-up [\d.]+x; recall [\d.]+; identical drops: (True|False)$", out, re.M), out
    assert re.search(r"^generate.run [\d.]+ s \+ split.run [\d.]+ s", out, re.M), out


def test_dedup_benchmark_side_by_side_with_a_baseline_checkout():
    out = bench("dedup.py", "--rows", "600", "--skip-exact", "--baseline", str(ROOT), "--repeat", "1")
    assert re.search(r"^generate \+ split speed-up [\d.]+x; identical outputs: True \(7 of 7 files\)$", out, re.M), out


@pytest.mark.e2e  # over 20 s on a shared 2-core CPU
def test_predict_benchmark():
    out = bench("predict.py", "--texts", "16", "--batch-size", "8")
    for path in ("pipeline", r"predict fp32", r"predict auto \((bf16|fp32)\)", "predict ONNX int8"):
        assert re.search(rf"^{path} +[\d.]+ texts/s \( *[\d.]+ s\) +[\d.]+x  same label as pipeline [\d.]+%", out, re.M), out
    assert out.startswith("CPU: "), out


@pytest.mark.e2e  # over 20 s on a shared 2-core CPU
def test_evaluate_benchmark_on_a_tiny_split(tmp_path):
    split = write_splits(tmp_path)
    out = bench("evaluate.py", "--split", str(split), "--rows", "200", "--resamples", "20",
                "--model", str(tmp_path / "no-model"))
    assert len(re.findall(r"^baseline \w+ *: fit +[\d.]+ s", out, re.M)) == 3, out
    assert re.search(r"^bootstrap, 20 resamples x 200 rows x 4 predictors: +[\d.]+ s", out, re.M), out


@pytest.mark.e2e  # two evaluate runs with MiniLM
def test_evaluate_benchmark_external_set_side_by_side(tmp_path):
    split = write_splits(tmp_path)
    out = bench("evaluate.py", "--split", str(split), "--external", "40", "--against", str(ROOT),
                "--model", str(tmp_path / "no-model"))
    assert re.search(r"^external set: 40 rows \([\d,]+ distinct\)", out, re.M), out
    assert re.search(r"^fine-tuned model: scoring +[\d.]+ +[\d.]+$", out, re.M), out
    assert re.search(r"^whole stage with 40 external rows: [\d.]+ s .*before / after: [\d.]+x$", out, re.M), out
    assert "outputs identical (metrics.json and every eval file, seconds aside): True" in out, out


@pytest.mark.e2e  # two evaluate runs with MiniLM
def test_evaluate_benchmark_precisions_side_by_side(tmp_path):
    split = write_splits(tmp_path)
    out = bench("evaluate.py", "--split", str(split), "--external", "40", "--precision", "fp32,bf16",
                "--model", str(tmp_path / "no-model"))
    assert re.search(r"^step \(seconds\) +fp32 +bf16$", out, re.M), out
    assert re.search(r"^whole stage with 40 external rows: [\d.]+ s .*fp32 / bf16: [\d.]+x$", out, re.M), out
    match = re.search(r"^bf16 against fp32: same predicted label for ([\d.]+)% of ([\d,]+) distinct texts, largest "
                      r"probability difference ([\d.]+); metrics.json: test.f1_macro [+-][\d.]+", out, re.M)
    assert match, out
    assert float(match[1]) >= 90 and int(match[2].replace(",", "")) >= 40 and 0 < float(match[3]) < 0.05, out


@pytest.mark.e2e
def test_explain_benchmark():
    out = bench("explain.py", "--examples", "1", "--num-samples", "20", "--steps", "1", timeout=900)
    assert re.search(r"^speedup: [\d.]+x wall", out, re.M), out
    assert re.search(r"^LIME's own work per explanation .*: [\d.]+x; max \|weight difference\|", out, re.M), out


@pytest.mark.e2e  # fine-tunes the tiny BERT twice
def test_explain_long_benchmark(tiny_bert):
    out = bench("explain_long.py", "--rows", "60", "--steps", "1", "--compare", "1", "--headlines", "1",
                "--reference-samples", "200", "--model", str(tiny_bert))
    assert re.search(r"^SMS-like stand-in: 60 rows, median [\d.]+ characters", out, re.M), out
    assert re.search(r"^\(1\) explain stage at defaults on the stand-in: [\d.]+ s .*; target <= 60 s: (ok|MISSED)$",
                     out, re.M), out
    assert re.search(r"^ +against plain LIME at 200 samples .*top-8 token overlap mean \d+%", out, re.M), out
    assert re.search(r"^ +tutorial LIME .*speed-up [\d.]+x \(target >= 20x: (ok|MISSED)\)", out, re.M), out


@pytest.mark.e2e
def test_train_benchmark_on_a_tiny_split(tmp_path):
    split = write_splits(tmp_path)
    out = bench("train.py", "--epochs", "1", "--seeds", "1", "--tutorial512-steps", "0", "--split", str(split),
                timeout=900)
    assert "tokens/row" in out and re.search(r"^\w[\w ]* +[\d.]+ +[\d.]+ +[\d.]+ ", out, re.M), out
    assert re.search(r"^target: >= 3x .*\(train.precision auto is (bf16|fp32) on this CPU: the '(stage, bf16|train "
                     r"stage)' row, [\d.]+x: (ok|MISSED)\)$", out, re.M), out


def test_train_benchmark_long_split_precision_parity(tmp_path):
    split = write_splits(tmp_path)
    out = bench("train.py", "--epochs", "1", "--seeds", "1", "--split", str(split), "--data", "long",
                "--precision", "fp32,bf16", "--no-tutorial", timeout=900)
    assert re.search(r"^stage, bf16 vs fp32 stage \(parity for train.precision auto\): [\d.]+x", out, re.M), out
    assert not re.search(r"^tutorial", out, re.M), out


def test_export_benchmark():
    out = bench("export.py", "--texts", "40", "--repeats", "1", timeout=600)
    assert re.search(r"^ONNX int8 +[\d.]+ texts/s per core +[\d.]+x +label agreement", out, re.M), out


@pytest.mark.e2e  # three tiny `dvc repro` runs and two report-only ones (about 90 s on a shared 2-core CPU)
def test_focus_rounds_benchmark(tiny_bert):
    out = bench("focus_rounds.py", "--quick", "--model", str(tiny_bert), "--rounds", "2", timeout=900)
    assert re.search(r"^round 0: dvc repro \(\d+ s\)$", out, re.M), out
    assert "a last dvc repro: nothing to do; report.md shows the ledger" in out, out
    ledger = out[out.index("## Rounds"):]
    assert re.search(r"^\*\*(stop|continue|undecided)\*\*: ", ledger, re.M), out
    assert re.search(r"^\| 0 \| `[0-9a-f]{7}` round 0: no focus \| [\d.]+ \[", ledger, re.M), out
    for n in (1, 2):  # a round is committed unless its focus file came out unchanged; each has a gain with interval
        if f"round {n}: the focus file is unchanged" in out:
            break
        assert re.search(rf"^\| {n} \| `[0-9a-f]{{7}}` focus round {n} \| [\d.]+ \[[\d.]+, [\d.]+\]( \*\*collapsed\*\*)? "
                         r"\| [-+][\d.]+ \[[-+][\d.]+, [-+][\d.]+\] (better|within noise|worse|collapsed) \|", ledger,
                         re.M), out


@pytest.mark.e2e  # five tiny trainings (about 30 s on a shared 2-core CPU)
def test_real_vs_synthetic_benchmark(tiny_bert, tmp_path):
    out = bench("real_vs_synthetic.py", str(tmp_path / "real.csv"), "--stand-in", "data/tasks/clickbait_standin.yaml",
                "--stand-in-per-label", "20", "--label-map", "bait=clickbait,news=factual", "--sizes", "0,3",
                "--min-test", "5", "--seeds", "1", "--epochs", "1", "--n-per-label", "20", "--model", str(tiny_bert),
                "--png", str(tmp_path / "curve.png"))
    assert "0 real rows without synthetic rows: nothing to train on, no model (skipped)" in out, out
    assert re.search(r"^synthetic alone +0 +1 +[\d.]+ +[\d.]+-[\d.]+ +[\d.]+$", out, re.M), out
    assert re.search(r"^real only +3 +1 +[\d.]+ ", out, re.M), out
    assert re.search(r"^real \+ synthetic +3 +1 +[\d.]+ ", out, re.M), out
    assert (tmp_path / "curve.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.e2e  # two tiny seeds through generate, split, train and evaluate in one process (about 30 s)
def test_seeds_benchmark(tiny_bert):
    out = bench("seeds.py", "--quick", "--model", str(tiny_bert), "--seeds", "2", timeout=900)
    assert re.search(r"^seed 42: test [\d.]+(, real \S+ [\d.]+)* \(\d+ s\)$", out, re.M), out
    assert re.search(r"^seed 43: test [\d.]+", out, re.M), out
    assert re.search(r"^mean ± sd +[\d.]+ ± [\d.]+", out, re.M), out
    assert re.search(r"^test: 2 seeds, macro-F1 [\d.]+ ± [\d.]+ \(sample sd\), range [\d.]+-[\d.]+ \(spread [\d.]+\)$",
                     out, re.M), out
    real = re.findall(r"^real (\S+): 2 seeds, macro-F1", out, re.M)  # one line per evaluate.external_test entry
    assert len(real) == len(yaml.safe_load((ROOT / "params.yaml").read_text())["evaluate"]["external_test"]), out


@pytest.mark.e2e  # two tiny trainings and evaluations (about 30 s on a shared 2-core CPU)
def test_imbalance_benchmark_old_and_new_defaults_side_by_side(tiny_bert, tmp_path):
    from stages.generation.task import load_task
    from stages.generation.template import generate_label

    task = load_task(ROOT / "data" / "tasks" / "clickbait.yaml")  # template headlines: a labelled stand-in
    rows = [(t, label.name) for label in task.labels for t in generate_label(label, 60, seed=3)]
    pd.DataFrame(rows, columns=["text", "label"]).to_csv(tmp_path / "labelled.csv", index=False)
    out = bench("imbalance.py", "--csv", str(tmp_path / "labelled.csv"), "--rows", "60", "--model", str(tiny_bert),
                "--epochs", "1")
    assert re.search(r"^imbalanced set from .*: 60 rows, clickbait 8 \(13%\), factual 52 \(87%\)$", out, re.M), out
    assert re.search(r"^old defaults \(train.class_weights none, train.decision argmax; \d+ s; test split \d+ rows, "
                     r"clickbait \d+\)$", out, re.M), out
    assert re.search(r"^  class weights balanced \(largest label factual has \d+ rows, [\d.]+x the smallest", out, re.M)
    fine = re.findall(r"^  fine-tuned  macro-F1 [\d.]+ \[[\d.]+, [\d.]+\]  clickbait recall [\d.]+  collapsed on val: "
                      r"(?:no|yes, .*); on test: (?:no|yes, .*)$", out, re.M)
    assert len(fine) == 2 and len(re.findall(r"^  baseline tfidf_lr +macro-F1 [\d.]+ \[", out, re.M)) == 2, out
    assert re.search(r"^new vs old: macro-F1 [+-][\d.]+ \([\d.]+x\), clickbait recall [+-][\d.]+$", out, re.M), out


def test_imbalance_benchmark_without_its_csv_fails_in_one_line(tmp_path):
    missing = tmp_path / "dev.csv"
    proc = subprocess.run([sys.executable, str(BENCH / "imbalance.py"), "--csv", str(missing)], cwd=ROOT,
                          env={**subprocess_env(), "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.strip().splitlines() == [f"error: {missing}: labelled CSV not found (pass --csv PATH, a CSV "
                                                "with text and label columns)"]


@pytest.mark.e2e  # five tiny settings through generate, split, audit, train and evaluate in one process (about 30 s)
def test_audit_predicts_benchmark(tiny_bert):
    out = bench("audit_predicts.py", "--quick", "--model", str(tiny_bert), "--sizes", "20,40", "--real", "4",
                timeout=900)
    for name in ("template 20/label", "template 40/label", "focus round on 20/label", "template 40 + 4 real/label",
                 "stand-in task 40/label"):
        assert re.search(rf"^{re.escape(name)}: real test macro-F1 [\d.]+, audit ROC-AUC [\d.]+ .*\(\d+ s\)$", out,
                         re.M), (name, out)
        assert re.search(rf"^{re.escape(name)} +[\d,]+ +[\d.]+ \([\d.]+-[\d.]+\)( +[\d.]+){{7}} +\d+$", out, re.M), out
    assert re.search(r"^Spearman rank correlation with real test macro-F1 \(stop_clickbait\), 5 settings", out, re.M)
    assert len(re.findall(r"^(discriminability|coverage|synthetic|largest)\b.* +[-+] +([-+][\d.]+ +[\d.]+|— +—)$", out,
                          re.M)) == 7, out


@pytest.mark.e2e  # three tiny trainings, one `synthbert select` (about 20 s on a shared 2-core CPU)
def test_select_vs_random_benchmark(tiny_bert):
    out = bench("select_vs_random.py", "--quick", "--model", str(tiny_bert), "--seeds", "1", "--sizes", "3",
                "--n-per-label", "40", "--epochs", "1")
    assert re.search(r"^  select +6 rows \(3/label; picked \{.*\}\) \(\d+ s\)$", out, re.M), out
    assert re.search(r"^\| 0 \| round 0 \(no real rows\) \| [\d.]+ \| ", out, re.M), out
    for arm in ("select", "random"):
        assert re.search(rf"^\| 3 \| {arm} \| [\d.]+ \| [\d.]+ \[[\d.]+, [\d.]+\] \| \{{", out, re.M), out
    assert re.search(r"^\| 3 \| seed 42: [-+][\d.]+ \[[-+][\d.]+, [-+][\d.]+\] \| ", out, re.M), out
