"""stages.report: reports/report.md from what the other stages wrote; relative links that exist; no machine paths."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from stages import report
from stages.core import params
from stages.core.contracts import AuditReport, Provider, QualityReport, SplitReport, TestMetrics, TrainSummary
from stages.core.errors import DataError
from tests.page_checks import check_page, mixed_formats, reprs
from testkit import ROOT
from testkit.dvc_repo import subprocess_env

LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
MACHINE_PATH = re.compile(r"(?<![\w.<>])(/(?:tmp|home|root|work|Users|var|private)/|[A-Za-z]:\\)")


def write(path: Path, data) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return path


def quality_report(**kw) -> dict:
    """A complete quality.json as generate writes it (stages.core.contracts.QualityReport)."""
    fields = dict(
        provider=Provider(provider="template", task="clickbait"), rows_read=100, rows_kept=90,
        dropped={"duplicate": 10}, per_label={"a": {"before": 50, "after": 45}, "b": {"before": 50, "after": 45}},
        llm_dropped={}, duplicates={"exact": 10, "exact_rate": 0.1, "near": 0, "near_threshold": 0.9, "near_rate": 0.0},
        length_chars={}, length_words={}, diversity={}, majority_baseline=0.5, shortcut_threshold=0.9,
        shortcuts=[{"feature": "ends_with_!", "accuracy": 0.97}, {"feature": "length", "accuracy": 0.6}],
        shortcut_warning=True, shortcut_features=["ends_with_!"], per_source={"template": {"before": 100, "after": 90}},
        label_issues={"method": "confident learning", "folds": 5, "filter": "none", "skipped": "too few rows",
                      "total": None, "per_label": None, "per_source": None, "examples": []})
    return QualityReport(**{**fields, **kw}).to_dict()


def train_summary(model_path: str, **kw) -> dict:
    """A complete train summary.json (stages.core.contracts.TrainSummary)."""
    fields = dict(
        base_model=model_path, device="cpu", torch="2", transformers="5", train_rows=54, val_rows=18, epochs=3.0,
        train_loss=0.3, last_train_loss=0.125, best_val_f1_macro=0.81234, best_val_accuracy=0.8, best_epoch=2.0,
        epochs_trained=3.0,
        optimizer_steps=9, stopped_early=False, train_seconds=15.2, train_samples_per_second=10.0,
        peak_memory_mb=100.0, processes=1, precision="fp32", max_length=32, trainable_parameters=1000,
        total_parameters=1000, class_weights=None, deterministic=False, resumed_from=None,
        overfitting_warning="train loss fell while val loss rose after epoch 2", undertrained_warning=None)
    return TrainSummary(**{**fields, **kw}).to_dict()


def test_metrics(**kw) -> dict:
    fields = dict(
        rows=18, accuracy=0.833333, accuracy_ci_low=0.666667, accuracy_ci_high=1.0, f1_macro=0.8321,
        f1_macro_ci_low=0.65, f1_macro_ci_high=0.97, precision_macro=0.835, recall_macro=0.825,
        precision_weighted=0.835, recall_weighted=0.825, f1_weighted=0.8321, ece=0.1, brier=0.2, per_label={
            "a": {"precision": 0.9, "recall": 0.75, "f1": 0.818182, "f1_ci_low": 0.6, "f1_ci_high": 0.95, "support": 9,
                  "roc_auc": 0.9, "average_precision": 0.9},
            "b": {"precision": 0.77, "recall": 0.9, "f1": 0.83, "f1_ci_low": 0.62, "f1_ci_high": 0.97, "support": 9,
                  "roc_auc": 0.9, "average_precision": 0.86}},
        confusion_matrix={"labels": ["a", "b"], "matrix": [[7, 2], [1, 8]]}, roc_auc_macro=0.9,
        average_precision_macro=0.88)
    return {"test": TestMetrics(**{**fields, **kw}).to_dict()}


test_metrics.__test__ = False  # a factory, not a test


def full_reports(root: Path, model_path: str) -> Path:
    """Every input the report can use, in the pipeline's layout under root/reports."""
    r = root / "reports"
    write(r / "data" / "quality.json", quality_report())
    write(r / "data" / "quality.md", "# Data quality\n")
    write(r / "data" / "split.json", SplitReport(seed=1, val_size=0.2, test_size=0.2, near_duplicate_threshold=0.8, near_duplicate_groups=0,
                                                      max_cross_split_jaccard=0.5, max_cross_split_jaccard_exact=True, val_source="all", test_source="all",
                                                      group_by=["origin", "near_duplicates"], origin_groups=37, origins_in_two_splits=0,
                                                      splits={
        "train": {"rows": 54, "labels": {}}, "val": {"rows": 18, "labels": {}},
        "test": {"rows": 18, "labels": {}}}).to_dict())
    write(r / "train" / "summary.json", train_summary(model_path))
    metrics = r / "train" / "plots" / "metrics"
    write(metrics / "loss.tsv", "step\tloss\n0\t0.7\n2\t0.5\n4\t0.3\n")
    write(metrics / "eval" / "loss.tsv", "step\tloss\n1\t0.6\n3\t0.5\n5\t0.55\n")
    write(metrics / "eval" / "f1_macro.tsv", "step\tf1_macro\n1\t0.7\n3\t0.81234\n5\t0.8\n")
    write(metrics / "epoch.tsv", "step\tepoch\n0\t1\n1\t1\n2\t2\n3\t2\n4\t3\n5\t3\n")
    write(r / "eval" / "test_metrics.json", test_metrics())
    write(r / "eval" / "confusion.png", "png")
    write(r / "eval" / "baselines.json", {"models": {
        "fine_tuned": {"train_seconds": 15.2, "test": {"accuracy": 0.833, "f1_macro": 0.8321}},
        "tfidf_lr": {"train_seconds": 0.4,
                     "test": {"accuracy": 0.7, "f1_macro": 0.69, "fine_tuned_gain_f1_macro": 0.1421}}}})
    write(r / "explain" / "html" / "01.html", "<html></html>")
    write(r / "explain" / "mismatches.md", "# Mismatches\n")
    write(r / "explain" / "spurious_tokens.png", "png")
    write(r / "explain" / "explanations.json", {"mismatches": 3, "explained": 1, "examples": [
        {"text": "<script>x</script> | **bold** wins!", "true": "b", "predicted": "a", "confidence": 0.91,
         "html": "html/01.html", "weights": [["wins", 0.31], ["bold", -0.12]]}],
        "patterns": [{"true": "b", "predicted": "a", "mismatches": 3,
                      "tokens": [{"token": "wins", "count": 2}, {"token": "<b>", "count": 1}]}]})
    return r


def build(r: Path) -> tuple[str, dict]:
    summary = report.run(cfg=params.Report(), quality_path=r / "data" / "quality.json", metrics_path=r / "eval" / "test_metrics.json",
                         out=r / "report.md", curves_png=r / "train_curves.png", split_path=r / "data" / "split.json",
                         train_dir=r / "train", eval_dir=r / "eval", explain_dir=r / "explain")
    return (r / "report.md").read_text(encoding="utf-8"), summary


def assert_links_exist_and_no_machine_paths(md: str, out_dir: Path, *forbidden: str) -> list[str]:
    links = LINK.findall(md)
    for target in links:
        assert not target.startswith(("/", "file:")), target
        assert (out_dir / target).resolve().is_file(), f"broken link {target}"
    assert not MACHINE_PATH.search(md), MACHINE_PATH.search(md)
    for path in forbidden:
        assert path not in md
    return links


def test_report_shows_every_section_with_links_that_exist(tmp_path):
    model = tmp_path / "models" / "tiny-bert"
    r = full_reports(tmp_path, str(model))
    md, summary = build(r)
    assert summary["curves"] and summary["warnings"]
    links = assert_links_exist_and_no_machine_paths(md, r, str(tmp_path), str(model))
    assert set(links) == {"eval/confusion.png", "train_curves.png", "data/quality.md", "explain/html/01.html",
                          "explain/mismatches.md", "explain/spurious_tokens.png"}
    assert (r / "train_curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "base model: `<local>/tiny-bert`" in md and "split: train 54, val 18, test 18" in md
    assert "| macro F1 | 0.832 | 0.650 – 0.970 |" in md and "| accuracy | 0.833 | 0.667 – 1.000 |" in md
    assert "| a | 0.900 | 0.750 | 0.818 | 0.600 – 0.950 | 9 |" in md
    assert "| `tfidf_lr` | 0.700 | 0.690 | — | +0.142 | 0.4 |" in md
    assert "**Shortcut**: `ends_with_!` alone predicts the label with accuracy 0.970" in md
    assert "**Overfitting**: train loss fell while val loss rose after epoch 2" in md
    assert "| best validation macro F1 | 0.812 |" in md and "| epochs | 3 |" in md
    # Untrusted text is shown literally: no HTML, no broken table, no emphasis.
    assert "<script>" not in md and "&lt;script&gt;" in md and "\\| \\*\\*bold\\*\\*" in md
    assert "| b → a | wins (2), &lt;b&gt; (1) | 3 |" in md
    assert "wins (+0.31)" in md and "bold" not in md.split("wins (+0.31)")[1].split("\n")[0]  # only toward predicted
    git_line = next(line for line in md.splitlines() if line.startswith("- git revision"))
    assert git_line == "- git revision: `unknown` (HEAD when this report was built)"  # tmp_path: no git repo


def test_report_is_byte_identical_on_a_rerun(tmp_path):
    r = full_reports(tmp_path, "sentence-transformers/all-MiniLM-L6-v2")
    first, png = build(r)[0], (r / "train_curves.png").read_bytes()
    assert build(r)[0] == first and (r / "train_curves.png").read_bytes() == png
    assert "base model: `sentence-transformers/all-MiniLM-L6-v2`" in first


def test_report_with_only_the_required_inputs_leaves_optional_sections_out(tmp_path):
    r = full_reports(tmp_path, "m")
    (r / "train_curves.png").write_bytes(b"stale")
    for name in ("data/split.json", "data/quality.md", "train/summary.json", "eval/baselines.json",
                 "eval/confusion.png", "explain/explanations.json", "explain/mismatches.md",
                 "explain/spurious_tokens.png"):
        (r / name).unlink()
    for tsv in (r / "train").rglob("*.tsv"):
        tsv.unlink()
    write(r / "data" / "quality.json", quality_report(shortcuts=[], shortcut_warning=False, shortcut_features=[]))
    md, summary = build(r)
    assert not summary["curves"] and not summary["warnings"] and not (r / "train_curves.png").exists()
    assert assert_links_exist_and_no_machine_paths(md, r) == []
    for absent in ("## Warnings", "## Baselines", "## Training", "## Confusion matrix", "## Top mismatches"):
        assert absent not in md
    assert "| macro F1 | 0.832 | 0.650 – 0.970 |" in md and "## Data quality" in md


def test_missing_metrics_is_a_one_line_error(tmp_path):
    r = full_reports(tmp_path, "m")
    (r / "eval" / "test_metrics.json").unlink()
    with pytest.raises(DataError, match=r"test_metrics.json: file not found"):
        build(r)
    assert not (r / "report.md").exists()
    (tmp_path / "params.yaml").write_text((ROOT / "params.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "stages.report", "--quality", "reports/data/quality.json",
                           "--metrics", "reports/metrics.json", "--out", "reports/report.md", "--curves",
                           "reports/c.png"], cwd=tmp_path, env={**subprocess_env(), "PYTHONPATH": str(ROOT)},
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and proc.stderr.strip() == "error: reports/metrics.json: file not found"


def test_near_perfect_validation_with_a_data_shortcut_warns_only_above_the_threshold(tmp_path):
    r = full_reports(tmp_path, "m")
    write(r / "train" / "summary.json", train_summary("m", best_val_f1_macro=0.995, overfitting_warning=None))
    md, _ = build(r)
    line = next(x for x in md.splitlines() if "near perfect" in x)
    assert line.startswith("- **Overfitting**: best validation macro-F1 0.9950 is near perfect")
    assert "report.near_perfect_f1 = 0.99" in line
    write(r / "train" / "summary.json", train_summary("m", best_val_f1_macro=0.98, overfitting_warning=None))
    assert "near perfect" not in build(r)[0]
    write(r / "data" / "quality.json", quality_report(shortcut_warning=False, shortcut_features=[]))
    write(r / "train" / "summary.json", train_summary("m", best_val_f1_macro=1.0, overfitting_warning=None))
    assert "near perfect" not in build(r)[0]  # no shortcut in the data: a perfect score is just a perfect score


def test_an_undertrained_run_is_flagged_up_front(tmp_path):
    r = full_reports(tmp_path, "m")
    write(r / "train" / "summary.json", train_summary("m", undertrained_warning="only 12 optimizer steps, 108 rows"))
    md, summary = build(r)
    warnings = md.split("## Warnings")[1].split("\n## ")[0]
    assert "- **Undertrained**: only 12 optimizer steps, 108 rows" in warnings and summary["warnings"]
    assert md.index("## Warnings") < md.index("## Test metrics")


def test_report_records_device_threads_and_package_versions(tmp_path):
    from importlib import metadata

    md, _ = build(full_reports(tmp_path, "m"))
    section = md.split("## Provenance")[1]
    assert f"torch {metadata.version('torch')}" in section and f"dvc {metadata.version('dvc')}" in section
    assert f"transformers {metadata.version('transformers')}" in section
    threads = re.search(r"- device: `cpu` \((.+)\), (\d+) torch threads", section)
    assert threads and int(threads.group(2)) >= 1 and threads.group(1) != "unknown"


@pytest.mark.parametrize(("name", "data", "message"), [
    ("eval/test_metrics.json", {"test": {"rows": 3}}, "test_metrics.json: test: field 'accuracy' is missing"),
    ("eval/test_metrics.json", [], "test_metrics.json: expected a JSON object (test_metrics.json (evaluate)), found list"),
    ("data/quality.json", {"provider": "template"}, "quality.json: field 'provider' must be an object, found 'template'"),
    ("train/summary.json", {"base_model": 3}, "summary.json: field 'base_model' must be a string, found 3"),
])
def test_a_hand_off_file_of_the_wrong_shape_is_one_line_naming_file_and_field(tmp_path, name, data, message):
    r = full_reports(tmp_path, "m")
    write(r / name, data)
    with pytest.raises(DataError) as err:
        build(r)
    assert message in str(err.value) and "\n" not in str(err.value)
    assert not (r / "report.md").exists()


def gain_row(gain: float, lo: float, hi: float) -> dict:
    return {"accuracy": 0.8, "f1_macro": 0.8 - gain, "fine_tuned_gain_f1_macro": gain, "gain_ci_low": lo,
            "gain_ci_high": hi}


def test_verdicts_come_first_and_match_the_evaluation_summary(tmp_path):
    from stages.evaluation import summary as eval_summary

    r = full_reports(tmp_path, "m")
    models = {"fine_tuned": {"train_seconds": 15.2, "test": {"accuracy": 0.833, "f1_macro": 0.8321}},
              "majority": {"train_seconds": 0.0, "test": gain_row(0.5, 0.4, 0.6)},
              "tfidf_lr": {"train_seconds": 0.4, "test": gain_row(0.01, -0.03, 0.05)},
              "frozen_lr": {"train_seconds": 1.0, "test": gain_row(-0.1, -0.2, -0.02)}}
    write(r / "eval" / "baselines.json", {"models": models})
    md, _ = build(r)
    assert md.index("## Verdict") < md.index("## Warnings") < md.index("## Test metrics")
    verdict = md.split("## Verdict")[1].split("##")[0]
    assert "- vs majority class: **fine-tuned better** (macro-F1 gain +0.500, interval +0.400 to +0.600)" in verdict
    assert "- vs TF-IDF + logistic regression: **within noise**" in verdict
    assert "- vs frozen encoder + logistic regression: **baseline better**" in verdict
    # The same verdict words as eval/summary.md, which computes them with the same function.
    table = {"confidence": 0.95, "resamples": 10, "sets": ["test"],
             "models": {k: {**v, "test": {**v["test"], "f1_macro_ci_low": 0.0, "f1_macro_ci_high": 1.0,
                                          "accuracy_ci_low": 0.0, "accuracy_ci_high": 1.0}} for k, v in models.items()}}
    page = eval_summary.render("m", test_metrics()["test"], table, [], None)
    for name, word in (("majority class", "fine-tuned better"), ("TF-IDF + logistic regression", "within noise"),
                       ("frozen encoder + logistic regression", "baseline better")):
        assert f"({word})" in next(line for line in page.splitlines() if line.startswith(f"| {name} |"))


def test_poor_calibration_is_flagged_above_report_ece_warning(tmp_path):
    r = full_reports(tmp_path, "m")
    write(r / "eval" / "test_metrics.json", test_metrics(ece=0.283))
    md, _ = build(r)
    line = next(x for x in md.splitlines() if "Poor calibration" in x)
    assert "0.283" in line and "report.ece_warning = 0.1" in line
    write(r / "eval" / "test_metrics.json", test_metrics(ece=0.05))
    assert "Poor calibration" not in build(r)[0]


def test_no_chart_of_mistakes_when_nothing_was_mismatched(tmp_path):
    r = full_reports(tmp_path, "m")
    write(r / "explain" / "explanations.json", {"mismatches": 0, "explained": 0, "examples": [], "patterns": []})
    md, _ = build(r)
    assert "spurious_tokens.png" not in md and "0 of 0 test mismatches" in md


def test_report_writes_the_model_card_completed_with_test_metrics_and_leaves_the_model_alone(tmp_path):
    from stages.core.contracts import DatasetInfo

    r = full_reports(tmp_path, "m")
    model = tmp_path / "models" / "classifier"
    write(model / "config.json", {"id2label": {"0": "a", "1": "b"}})
    write(model / "synthbert_params.json", {"seed": 1, "train": {"model": "org/base", "max_length": 32,
                                                                 "card_license": "mit", "card_language": "de"}})
    write(model / "README.md", "train's card")
    write(r / "data" / "dataset.json", DatasetInfo(provider=Provider(provider="template", task="clickbait"),
                                                   rows_read=100, rows_kept=90).to_dict())
    before = {p: p.read_bytes() for p in model.iterdir()}
    report.run(cfg=params.Report(), quality_path=r / "data" / "quality.json", metrics_path=r / "eval" / "test_metrics.json",
               out=r / "report.md", curves_png=r / "train_curves.png", train_dir=r / "train", model_dir=model,
               card=r / "model_card.md", dataset=r / "data" / "dataset.json")
    card = (r / "model_card.md").read_text(encoding="utf-8")
    front = card.split("\n---\n")[0]
    assert "license: mit" in front and "language: de" in front and "base_model: org/base" in front
    assert "| accuracy | 0.833 | 0.667 – 1.000 |" in card and "| macro F1 | 0.832 | 0.650 – 0.970 |" in card
    assert "100 rows generated, 90 kept" in card and "for the task `clickbait`" in card
    assert {p: p.read_bytes() for p in model.iterdir()} == before  # train's output is never changed later


def test_multi_label_run_shows_its_headline_and_no_confusion_chart(tmp_path):
    r = full_reports(tmp_path, str(tmp_path / "model"))
    (r / "eval" / "confusion.png").unlink()  # evaluate draws none for a multi-label model
    per_label = {lab: {"precision": 0.8, "recall": 0.7, "f1": 0.746667, "f1_ci_low": 0.5, "f1_ci_high": 0.9,
                       "support": 5, "roc_auc": 0.8, "average_precision": 0.7} for lab in ("billing", "urgent")}
    counts = {lab: {"tn": 10, "fp": 1, "fn": 2, "tp": 5} for lab in per_label}
    write(r / "eval" / "test_metrics.json", test_metrics(
        accuracy=0.4, multi_label=True, subset_accuracy=0.4, hamming_loss=0.125, f1_micro=0.76, f1_micro_ci_low=0.6,
        f1_micro_ci_high=0.88, f1_samples=0.7, f1_samples_ci_low=0.55, f1_samples_ci_high=0.81, per_label=per_label,
        confusion_matrix=None, label_confusion=counts, thresholds={"billing": 0.4, "urgent": 0.6}))
    md, _ = build(r)
    assert "## Confusion matrix" not in md and "confusion.png" not in md
    for row in ("| subset accuracy (every label of a row right) | 0.400 | — |", "| hamming loss | 0.125 | — |",
                "| micro F1 | 0.760 | 0.600 – 0.880 |", "| macro F1 | 0.832 | 0.650 – 0.970 |",
                "| samples F1 | 0.700 | 0.550 – 0.810 |", "| billing | 0.800 | 0.700 | 0.747 | 0.500 – 0.900 | 5 |"):
        assert row in md, row
    assert "| accuracy | 0.400 |" not in md and "| model | subset accuracy | macro F1 |" in md  # says what it is


def scored_row(f1: float, gain: tuple[float, float, float] | None = None, gap: tuple[float, float, float] | None = None,
               collapsed: dict | None = None, rows: int = 100) -> dict:
    """One model's row on one set as evaluate writes it into baselines.json (intervals +-0.05 around f1)."""
    row = {"rows": rows, "accuracy": f1, "accuracy_ci_low": f1 - 0.05, "accuracy_ci_high": f1 + 0.05, "f1_macro": f1,
           "f1_macro_ci_low": f1 - 0.05, "f1_macro_ci_high": f1 + 0.05}
    if gain:
        row.update(fine_tuned_gain_f1_macro=gain[0], gain_ci_low=gain[1], gain_ci_high=gain[2])
    if gap:
        row.update(f1_macro_gap=gap[0], f1_macro_gap_ci_low=gap[1], f1_macro_gap_ci_high=gap[2])
    return row | {"collapsed": collapsed}


ALL_ONE = {"label": "b", "predicted_share": 1.0, "true_share": 0.5}


def real_set_reports(tmp_path: Path) -> tuple[Path, dict]:
    """The pipeline's reports with two real sets: `real` (role test) and `real_dev` (role dev), listed dev first."""
    r = full_reports(tmp_path, "m")
    models = {
        "fine_tuned": {"train_seconds": 15.2, "test": scored_row(0.832),
                       "real_dev": scored_row(0.8, gap=(0.032, -0.02, 0.08)),
                       "real": scored_row(0.9, gap=(-0.068, -0.12, -0.01), rows=1500)},
        "majority": {"train_seconds": 0.0, "test": scored_row(0.333, (0.5, 0.4, 0.6), None, ALL_ONE),
                     "real_dev": scored_row(0.333, (0.467, 0.4, 0.5), (0.0, -0.1, 0.1), ALL_ONE),
                     "real": scored_row(0.333, (0.567, 0.5, 0.6), (0.0, -0.1, 0.1), ALL_ONE, rows=1500)},
        "tfidf_lr": {"train_seconds": 0.4, "test": scored_row(0.82, (0.012, -0.03, 0.05)),
                     "real_dev": scored_row(0.7, (0.1, 0.02, 0.2), (0.12, 0.05, 0.2)),
                     "real": scored_row(0.75, (0.15, 0.1, 0.2), (0.07, 0.03, 0.1), rows=1500)}}
    table = {"resamples": 1000, "confidence": 0.95, "seed": 7, "sets": ["test", "real_dev", "real"],
             "roles": {"test": "synthetic", "real_dev": "dev", "real": "test"}, "models": models}
    write(r / "eval" / "baselines.json", table)
    external = {s: {"role": table["roles"][s], **models["fine_tuned"][s]} for s in ("real_dev", "real")}
    write(r / "eval" / "test_metrics.json", {**test_metrics(), "external": external})
    return r, table


def test_real_test_sets_lead_the_verdict_collapse_is_named_and_the_summary_agrees(tmp_path):
    from stages.evaluation import summary as eval_summary

    r, table = real_set_reports(tmp_path)
    md, _ = build(r)
    verdict = md.split("## Verdict\n")[1].split("\n## ")[0]
    real, synthetic, dev = (verdict.index(s) for s in ("**Real test set `real`** (1,500 rows; real, human-labelled",
                                                       "**Synthetic test split** (100 rows; generated like the "
                                                       "training data: it measures fit to the generator",
                                                       "**Real dev set `real_dev`** (100 rows; real, **steering-only**"))
    assert real < synthetic < dev  # the test part leads; params listed the dev part first
    lead = verdict[real:synthetic]
    assert "- fine-tuned model: macro-F1 0.900 (0.850 – 0.950)" in lead
    assert ("- vs majority class: **collapsed** (majority class puts 100.0% of its decisions on `b`, which holds 50.0% "
            "of the true labels; macro-F1 gain +0.567, interval +0.500 to +0.600)") in lead
    assert "- vs TF-IDF + logistic regression: **fine-tuned better** (macro-F1 gain +0.150, interval +0.100 to +0.200)" \
        in lead
    assert "- synthetic-to-real gap: -0.068 (interval -0.120 to -0.010)" in lead
    assert "- vs TF-IDF + logistic regression: **within noise**" in verdict[synthetic:dev]
    assert "within noise" not in "\n".join(line for line in verdict.splitlines() if "majority" in line)
    assert "1 training seed (base.seed 7)" in verdict and "`synthbert compare`" in verdict
    # eval/summary.md shows the same Verdict, from the same renderer and the same baselines.json
    page = eval_summary.render("m", test_metrics()["test"], table, [], None)
    assert page.split("## Verdict\n")[1].split("\n## ")[0] == verdict
    # the real sets' table: role, gap with its interval, and every baseline's macro-F1 on the set
    assert "| set | role | rows | macro F1 | interval | gap to synthetic test | gap interval | `majority` macro F1 " \
           "| `tfidf_lr` macro F1 |" in md
    assert "| real | test | 1,500 | 0.900 | 0.850 – 0.950 | -0.068 | -0.120 – -0.010 | 0.333 | 0.750 |" in md
    assert "| real\\_dev | dev | 100 | 0.800 |" in md


def test_a_collapsed_fine_tuned_model_gets_no_better_or_noise_verdict(tmp_path):
    r, table = real_set_reports(tmp_path)
    models = table["models"]
    models["fine_tuned"]["real"]["collapsed"] = {"label": "a", "predicted_share": 0.97, "true_share": 0.5}
    write(r / "eval" / "baselines.json", table)
    md, _ = build(r)
    lead = md.split("**Real test set `real`**")[1].split("**Synthetic test split**")[0]
    assert "- fine-tuned model: macro-F1 0.900 (0.850 – 0.950); **collapsed**: it puts 97.0% of its decisions on `a`" \
           ", which holds 50.0% of the true labels" in lead
    assert "- vs TF-IDF + logistic regression: **collapsed** (the fine-tuned model (above); macro-F1 gain +0.150" in lead
    assert "fine-tuned better" not in lead and "within noise" not in lead


def test_real_only_answers_whether_the_synthetic_rows_were_worth_it_with_k(tmp_path):
    r, table = real_set_reports(tmp_path)
    table["models"]["real_only"] = {"train_seconds": 3.0, "real_rows": 40, "val_rows": 20, "source": "real",
                                    "test": scored_row(0.7, (0.132, 0.05, 0.2)),
                                    "real_dev": scored_row(0.75, (0.05, -0.02, 0.1)),
                                    "real": scored_row(0.82, (0.08, 0.04, 0.12), rows=1500)}
    write(r / "eval" / "baselines.json", table)
    md, _ = build(r)
    lead = md.split("**Real test set `real`**")[1].split("**Synthetic test split**")[0]
    assert ("- vs the same fine-tuning on the 40 real train rows alone: **fine-tuned better** (macro-F1 gain +0.080, "
            "interval +0.040 to +0.120)") in lead


def ledger_round(number: int, f1: float, gain: dict | None, gained: bool | None) -> dict:
    return {"round": number, "commit": f"{number}" * 40, "subject": f"focus round {number}", "reports_at": "f" * 40,
            "reproduced": True, "test": {"real": {"rows": 200, "f1_macro": f1, "low": f1 - 0.05, "high": f1 + 0.05,
                                                                    "collapsed": False}},
            "dev": {}, "gain": gain, "gained": gained, "rows": {"generated": 800, "kept": 790},
            "llm": {"provider": "openai", "requests": 4, "requests_used": 12, "usd": 0.0041, "usd_total": 0.0123},
            "confused": {"real": [{"true": "a", "predicted": "b", "mismatches": 7}]}}


def test_rounds_section_comes_from_rounds_json_and_only_when_it_holds_rounds(tmp_path):
    r = full_reports(tmp_path, "m")
    gain = {"rows": 200, "only_old": 0, "only_new": 0, "relabelled": 0, "old": 0.8, "new": 0.9, "diff": 0.1,
            "low": 0.05, "high": 0.15, "verdict": "better"}
    ledger = write(r / "rounds.json", {"rounds": [ledger_round(0, 0.8, None, None), ledger_round(1, 0.9, {"real": gain}, True)],
                                       "decision": "continue", "reason": "round 1 gained beyond noise",
                                       "bootstrap": {"resamples": 1000, "confidence": 0.95, "seed": 42}})

    def built() -> str:
        report.run(cfg=params.Report(), quality_path=r / "data" / "quality.json", out=r / "report.md",
                   metrics_path=r / "eval" / "test_metrics.json", curves_png=r / "train_curves.png", rounds=ledger)
        return (r / "report.md").read_text(encoding="utf-8")

    md = built()
    assert md.index("## Verdict") < md.index("## Rounds") < md.index("## Test metrics")
    assert "**continue**: round 1 gained beyond noise." in md and "(95% interval, 1,000 bootstrap resamples)" in md
    assert ("| 1 | `1111111` focus round 1 | 0.900 [0.850, 0.950] | +0.100 [+0.050, +0.150] better | 800 | 790 | 4 | "
            "0.0041 | 0.0123 |") in md
    assert "| `real`: a → b | 7 | 7 |" in md
    write(ledger, {"rounds": [], "decision": None, "reason": "no rounds yet"})   # the file as the project ships it
    assert "## Rounds" not in built()
    ledger.unlink()
    assert "## Rounds" not in built()


def audit_report(**kw) -> dict:
    """A measured audit.json (stages.core.audit_report.AuditReport) as the audit stage writes it."""
    div = {"rows": 500, "window": 100, "distinct_1": 57.6, "distinct_2": 275.7, "mean_pairwise_similarity": 0.145}
    fields = dict(
        reference=["dev:stop_clickbait_dev"], reason=None, synthetic_rows=650, real_rows=500,
        discriminability={"tfidf_lr": {"roc_auc": 0.9999, "folds": 5}, "frozen_lr": {"roc_auc": 0.9958, "folds": 5}},
        coverage={"share": 0.144, "covered": 72, "rows": 500, "threshold": 0.6031, "median_distance": 0.7},
        diversity={"synthetic": {**div, "largest_origin": "clickbait-20", "largest_origin_share": 0.065},
                   "real": {**div, "distinct_2": 894.3, "mean_pairwise_similarity": 0.054, "largest_origin": None,
                            "largest_origin_share": None}},
        label_shares={"synthetic": {"a": 0.5, "b": 0.5}, "real": {"a": 0.4, "b": 0.6}},
        most_unreal=[{"set": "val", "row": 70, "text": "What | the *senator* said", "label": "a",
                      "origin": "a-21", "p_synthetic": 0.976}],
        least_covered=[{"set": "stop_clickbait_dev", "row": 225, "text": "Which Oscar Winner Is Your Soulmate",
                        "label": "a", "distance": 0.899}])
    return AuditReport(**{**fields, **kw}).to_dict()


def test_the_audit_s_headline_follows_the_verdict_with_a_link_to_audit_md(tmp_path):
    r = full_reports(tmp_path, "m")
    write(r / "data" / "audit.json", audit_report())
    write(r / "data" / "audit.md", "# Synthetic against real\n")
    report.run(cfg=params.Report(), quality_path=r / "data" / "quality.json", out=r / "report.md",
               metrics_path=r / "eval" / "test_metrics.json", curves_png=r / "c.png", audit=r / "data" / "audit.json")
    md = (r / "report.md").read_text(encoding="utf-8")
    section = md.split("## Synthetic against real\n")[1].split("\n## ")[0]
    assert md.index("## Verdict") < md.index("## Synthetic against real") < md.index("## Test metrics")
    assert "- compared: 650 synthetic rows (train and val) with 500 real rows (`dev:stop_clickbait_dev`)" in section
    assert "TF-IDF + LR 1.000, frozen encoder + LR 0.996" in section
    assert "- coverage: 14.4% of the real rows have a synthetic row nearer than the median real-to-real " \
           "nearest-neighbour distance (0.603," in section
    assert "distinct 2-grams per 1,000 275.7 / 894.3; mean pairwise cosine similarity 0.145 / 0.054; the largest " \
           "origin, `clickbait-20`, holds 6.5% of the synthetic rows" in section
    assert "- label shares, synthetic / real: a 50.0% / 40.0%, b 50.0% / 60.0%" in section
    assert "Full audit: [synthetic against real](data/audit.md)" in section
    assert_links_exist_and_no_machine_paths(md, r)
    write(r / "data" / "audit.json", AuditReport(reference=[], reason="no real reference: none").to_dict())
    (r / "data" / "audit.md").unlink()
    report.run(cfg=params.Report(), quality_path=r / "data" / "quality.json", out=r / "report.md",
               metrics_path=r / "eval" / "test_metrics.json", curves_png=r / "c.png", audit=r / "data" / "audit.json")
    section = (r / "report.md").read_text(encoding="utf-8").split("## Synthetic against real\n")[1].split("\n## ")[0]
    assert section.strip() == "Not measured: no real reference: none."


def test_every_table_keeps_one_number_format_per_column_and_no_page_shows_a_repr(tmp_path):
    """The run's numbers as they come (train seconds 0.0, 1.0, 7.0, 166.9 and none; dollars 0 and 1.5; a provider
    with a list of models and no file): one format per column, no `None`, no list repr; the loss labelled honestly."""
    r = full_reports(tmp_path, "m")
    write(r / "data" / "quality.json", quality_report(provider=Provider(provider="openai", task="clickbait",
                                                                        mode="label_per_request", models=["a", "b"])))
    test = {"accuracy": 0.7, "f1_macro": 0.69, "fine_tuned_gain_f1_macro": 0.1421}
    write(r / "eval" / "baselines.json", {"models": {
        "fine_tuned": {"train_seconds": 166.9, "test": {"accuracy": 0.833, "f1_macro": 0.8321}},
        **{name: {"train_seconds": s, "test": test} for name, s in
           (("majority", 0.0), ("tfidf_lr", 1.0), ("frozen_lr", 7.0), ("llm", None))}}})
    write(r / "data" / "audit.json", audit_report())
    spent = ledger_round(1, 0.9, None, None)
    spent["llm"] = {**spent["llm"], "usd": 1.5, "usd_total": 1.5123}
    free = ledger_round(0, 0.8, None, None)
    free["llm"] = {"provider": "template", "requests": 0, "requests_used": 0, "usd": 0.0, "usd_total": 0.0}
    ledger = write(r / "rounds.json", {"rounds": [free, spent], "decision": "continue", "reason": "one round",
                                       "bootstrap": {"resamples": 1000, "confidence": 0.95, "seed": 42}})
    report.run(cfg=params.Report(), quality_path=r / "data" / "quality.json", out=r / "report.md",
               metrics_path=r / "eval" / "test_metrics.json", curves_png=r / "c.png", split_path=r / "data" / "split.json",
               train_dir=r / "train", eval_dir=r / "eval", explain_dir=r / "explain", rounds=ledger,
               audit=r / "data" / "audit.json")
    md = (r / "report.md").read_text(encoding="utf-8")
    check_page(md)
    assert "| `majority` | 0.700 | 0.690 | — | +0.142 | 0.0 |" in md and "| 166.9 |" in md and "| `llm` |" in md
    assert "| train loss, last epoch | 0.125 |" in md and "| mean train loss over the run | 0.300 |" in md
    assert "final train loss" not in md
    assert "| 0.0000 | 0.0000 |" in md and "| 1.5000 | 1.5123 |" in md


def test_the_page_checks_catch_mixed_formats_and_reprs():
    mixed = "| model | train seconds |\n|---|---:|\n| a | 0.000 |\n| b | 7 |\n| c | 166.9 |\n| d | — |\n"
    assert mixed_formats(mixed) == ["table model | train seconds: 'train seconds' mixes 0.000, 7, 166.9"]
    per_row = "| measure | synthetic | real |\n|---|---:|---:|\n| rows | 650 | 1,500 |\n| share | 0.065 | 0.5 |\n"
    assert mixed_formats(per_row) == ["table measure | synthetic | real: 'share' mixes 0.065, 0.5"]
    assert mixed_formats("| a | b |\n|---|---|\n| 0.650 – 0.970 | x \\| 1.5 |\n| 0.1 – 0.2 | 2 |\n") == \
        ["table a | b: 'a' mixes 0.650 – 0.970, 0.1 – 0.2"]
    assert reprs("Provider: file `None`, models `['a', 'b']`\nok\n{'k': 1}") == [
        "Provider: file `None`, models `['a', 'b']`", "{'k': 1}"]
