"""Stage report: reports/report.md, the one page a pull-request reviewer reads, and its training-curves PNG.

Reads (each optional but quality.json and metrics.json): the data-quality, split and audit reports, the train summary
and DVCLive curves, the eval directory (test_metrics.json, confusion.png, baselines.json, summary.md), the explain
directory (explanations.json) and the ledger of focus rounds (rounds.json, committed by `synthbert rounds
--write`: the report never reads git history, so it stays reproducible from its deps). Writes: the report, its
Verdict first (core/verdict_section.py: real test sets, then the synthetic split, then dev sets), then the rounds
and "Synthetic against real" (audit.json's headline, auditing/render.py), and a PNG of the training curves
(core/plotting.py); the completed model card and the dataset card (training/modelcard.py, generation/datacard.py).
A multi-label run gets its own headline metrics (subset accuracy, hamming loss, micro/macro/samples F1) and no
confusion chart. Params: report.near_perfect_f1 (shortcut-overfitting warning), report.ece_warning (poor
calibration), report.data_license and report.data_language (the dataset card). The report ends with its provenance
(git revision, device, threads, package versions). Links are relative to the report; values that could hold a
machine path are shortened.
"""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path
from typing import Any

from stages.auditing.render import headline as audit_headline
from stages.core import cli, params, provenance
from stages.core.contracts import (AuditReport, DatasetInfo, QualityReport, RoundsLedger, SplitReport, TestReport,
                                     TrainSummary)
from stages.core.io import read_json, write_text
from stages.core.plotting import plot_training_curves
from stages.core.markdown import code, fixed, fmt, interval, signed, table
from stages.core.rounds_section import ledger_lines
from stages.core.text import md_escape
from stages.core.verdict_section import verdict_lines
from stages.core.verdicts import poorly_calibrated
from stages.generation import datacard
from stages.generation.judge_report import report_lines
from stages.training.modelcard import complete_card

log = logging.getLogger(__name__)
HEADLINE = (("accuracy", "accuracy"), ("f1_macro", "macro F1"), ("f1_weighted", "weighted F1"),
            ("precision_macro", "macro precision"), ("recall_macro", "macro recall"), ("roc_auc", "ROC AUC"),
            ("roc_auc_macro", "macro ROC AUC (one vs rest)"), ("ece", "calibration error (ECE)"))
MULTI_LABEL_HEADLINE = (("subset_accuracy", "subset accuracy (every label of a row right)"), ("hamming_loss", "hamming loss"),
                        ("f1_micro", "micro F1"), ("f1_macro", "macro F1"), ("f1_samples", "samples F1"),
                        *HEADLINE[3:])  # a multi-label model (evaluation/multilabel.py)
TOP_SHORTCUTS = 5


def optional_json(path: Path | None, name: str = "") -> Any:
    path = path / name if path is not None and name else path
    return read_json(path) if path is not None and path.is_file() else None


def header(quality: QualityReport, split: SplitReport | None, summary: TrainSummary | None,
           revision: str) -> list[str]:
    provider = quality.provider
    facts = [f"- task: **{fmt(provider.task or provider.file or '—')}**, provider {code(provider.provider)}"]
    if summary:
        facts.append(f"- base model: {code(summary.base_model)}, trained on {fmt(summary.device)}")
    facts.append(f"- rows: {fmt(quality.rows_read)} generated, {fmt(quality.rows_kept)} kept")
    if split:
        sizes = ", ".join(f"{name} {fmt(s.get('rows'))}" for name, s in split.splits.items())
        facts.append(f"- split: {sizes}")
    facts.append(f"- git revision: {code(revision)} (HEAD when this report was built)")
    return ["# Model report", "", *facts]


def verdict_section(baselines: dict | None, result: TestReport) -> list[str]:
    """Up front, as eval/summary.md shows it (core/verdict_section.py): each real test set, then the synthetic
    split, then the dev sets; per set the fine-tuned model's macro-F1 and a verdict against every baseline."""
    return ["", "## Verdict", *verdict_lines(baselines, result.test.to_dict())]


def warnings(cfg: params.Report, quality: QualityReport, summary: TrainSummary | None,
             result: TestReport | None = None) -> list[str]:
    found = []
    if quality.shortcut_warning:
        top = quality.shortcuts[0]
        found.append(f"- **Shortcut**: {code(top['feature'])} alone predicts the label with accuracy "
                     f"{fmt(top['accuracy'])}: the model may learn it instead of the task.")
    if summary and summary.overfitting_warning:
        found.append(f"- **Overfitting**: {md_escape(summary.overfitting_warning)}")
    if summary and summary.undertrained_warning:
        found.append(f"- **Undertrained**: {md_escape(summary.undertrained_warning)}")
    if summary and quality.shortcut_warning and summary.best_val_f1_macro >= cfg.near_perfect_f1:
        found.append(f"- **Overfitting**: best validation macro-F1 {summary.best_val_f1_macro:.4f} is near perfect "
                     f"(>= report.near_perfect_f1 = {cfg.near_perfect_f1:g}) while the data report's shortcut probe "
                     "fired: the model may have learned a surface feature, not the task.")
    if result is not None and poorly_calibrated(result.test.ece, cfg.ece_warning):
        found.append(f"- **Poor calibration**: expected calibration error {result.test.ece:.3f} is above "
                     f"report.ece_warning = {cfg.ece_warning:g}: the model's confidences are not probabilities "
                     "(see the reliability diagram, eval/reliability.png).")
    return ["", "## Warnings", "", *found] if found else []


def metrics_section(result: TestReport, baselines: dict | None = None) -> list[str]:
    test = result.test.to_dict()
    keys = MULTI_LABEL_HEADLINE if test.get("multi_label") else HEADLINE
    rows = [[name, test[key], interval(test, key)] for key, name in keys if test.get(key) is not None]
    out = ["", "## Test metrics", "", f"{fmt(test['rows'])} held-out test rows; intervals are bootstrap "
           "confidence intervals where evaluate computed them.", "", *table(["metric", "value", "interval"], rows)]
    out += real_sets_table(result, baselines) if result.external else []
    per_label = test["per_label"]
    if per_label:
        rows = [[md_escape(lab), v["precision"], v["recall"], v["f1"], interval(v, "f1"), v["support"]]
                for lab, v in per_label.items()]
        out += ["", "### Per label", "", *table(["label", "precision", "recall", "F1", "F1 interval", "support"], rows)]
    return out


def real_sets_table(result: TestReport, baselines: dict | None) -> list[str]:
    """The fine-tuned model on each real set, test sets first (role, gap to the synthetic split with its interval),
    beside every baseline's macro-F1 on the same set."""
    others = [k for k in ((baselines or {}).get("models") or {}) if k != "fine_tuned"]
    rows = [[md_escape(name), md_escape(str(r.get("role", "test"))), r["rows"], r["f1_macro"], interval(r, "f1_macro"),
             signed(r["f1_macro_gap"]), interval(r, "f1_macro_gap"),
             *[baselines["models"][k].get(name, {}).get("f1_macro") for k in others]]
            for name, r in sorted(result.external.items(), key=lambda item: item[1].get("role", "test") != "test")]
    header = ["set", "role", "rows", "macro F1", "interval", "gap to synthetic test", "gap interval",
              *[f"{code(k)} macro F1" for k in others]]
    return ["", "### Real (external) sets", "", "Role test: judges; role dev: steering-only. Gap: macro-F1 on the "
            "synthetic test split minus on the real set.", "", *table(header, rows, right_from=2)]


def baselines_section(baselines: dict | None, accuracy: str = "accuracy") -> list[str]:
    models = (baselines or {}).get("models")
    if not isinstance(models, dict) or not models:
        return []
    rows = []
    for name, row in models.items():
        test = row["test"]
        rows.append([code(name), test["accuracy"], test["f1_macro"], interval(test, "f1_macro"),
                     signed(test.get("fine_tuned_gain_f1_macro")), fixed(row["train_seconds"], 1)])
    return ["", "## Baselines (test split)", "",
            *table(["model", accuracy, "macro F1", "macro-F1 interval", "fine-tuned gain", "train seconds"], rows)]


TRAINING = {"epochs": "epochs", "best_epoch": "kept epoch", "train_rows": "train rows", "val_rows": "validation rows",
            "best_val_f1_macro": "best validation macro F1", "last_train_loss": "train loss, last epoch",
            "train_loss": "mean train loss over the run", "precision": "numeric precision", "train_seconds": "train seconds", "device": "device", "peak_memory_mb": "peak memory (MB)",
            "trainable_parameters": "trainable parameters"}


def training_section(summary: TrainSummary | None, curves: str | None) -> list[str]:
    if not summary and not curves:
        return []
    rows = [[name, getattr(summary, k)] for k, name in TRAINING.items() if summary and getattr(summary, k) is not None]
    out = ["", "## Training", ""] + (table(["", "value"], rows) if rows else [])
    return out + (["", f"![Training curves]({curves})"] if curves else [])


def quality_section(quality: QualityReport, link: str | None) -> list[str]:
    dropped = quality.dropped
    out = ["", "## Data quality", "", f"{fmt(quality.rows_read)} rows read, {fmt(quality.rows_kept)} "
           f"kept; dropped: {', '.join(f'{fmt(n)} {md_escape(r)}' for r, n in dropped.items()) or 'none'}."]
    if quality.per_label:
        rows = [[md_escape(lab), v["before"], v["after"]] for lab, v in quality.per_label.items()]
        out += ["", *table(["label", "rows before cleaning", "rows kept"], rows)]
    if quality.shortcuts:
        rows = [[code(s["feature"]), s["accuracy"]] for s in quality.shortcuts[:TOP_SHORTCUTS]]
        out += ["", "Surface features that predict the label on their own (accuracy of that feature alone):", "",
                *table(["feature", "accuracy"], rows)]
    return out + report_lines(quality) + (["", f"Full report: [data quality]({link})"] if link else [])


def audit_section(path: Path | None, rel: Any) -> list[str]:
    """Synthetic against real (audit.json): the headline figures, or why nothing was measured; a link to audit.md."""
    if path is None or not path.is_file():
        return []
    md = path.with_suffix(".md")
    link = ["", f"Full audit: [synthetic against real]({rel(md)})"] if md.is_file() else []
    return ["", "## Synthetic against real", "", *audit_headline(AuditReport.read(path)), *link]


def mismatches_section(explained: dict | None, explain_dir: Path, rel: Any) -> list[str]:
    if not explained:
        return []
    out = ["", "## Top mismatches", "",
           f"{explained.get('explained', 0)} of {explained.get('mismatches', 0)} test mismatches explained with LIME, "
           "most confident first; tokens pushing toward the (wrong) prediction, strongest first."]
    rows = []
    for i, ex in enumerate(explained.get("examples") or [], 1):
        tokens = ", ".join(f"{md_escape(str(t))} ({w:+.2f})" for t, w in ex.get("weights", []) if w > 0) or "—"
        page = explain_dir / str(ex.get("html", ""))
        number = f"[{i}]({rel(page)})" if ex.get("html") and page.is_file() else str(i)
        rows.append([number, md_escape(str(ex.get("text", ""))), md_escape(str(ex.get("true", ""))),
                     md_escape(str(ex.get("predicted", ""))), ex.get("confidence"), tokens])
    if rows:
        out += ["", *table(["#", "text", "true", "predicted", "confidence", "LIME tokens"], rows, right_from=6)]
    patterns = [[f"{md_escape(str(p.get('true')))} → {md_escape(str(p.get('predicted')))}",
                 ", ".join(f"{md_escape(str(t.get('token')))} ({t.get('count')})" for t in p.get("tokens", [])[:6]),
                 p.get("mismatches")] for p in (explained.get("patterns") or [])[:5] if isinstance(p, dict)]
    if patterns:
        out += ["", "Tokens that recur in the mistakes (in how many mismatches each pushed toward the wrong label):",
                "", *table(["true → predicted", "tokens", "mismatches"], patterns, right_from=2)]
    if patterns and (explain_dir / "spurious_tokens.png").is_file():  # no empty chart when nothing was mismatched
        out += ["", f"![Tokens behind the mistakes]({rel(explain_dir / 'spurious_tokens.png')})"]
    if (explain_dir / "mismatches.md").is_file():
        out += ["", f"All explanations: [mismatches]({rel(explain_dir / 'mismatches.md')})"]
    return out


def rounds_section(path: Path | None) -> list[str]:
    """The ledger of focus rounds (core/rounds_section.py) when `synthbert rounds --write` recorded any."""
    ledger = RoundsLedger.read(path) if path is not None and path.is_file() else None
    return ["", *ledger_lines(ledger)] if ledger is not None and ledger.rounds else []


def provenance_section(prov: dict[str, Any]) -> list[str]:
    """What built this report (the git revision is in the header): device and threads, Python, packages."""
    packages = ", ".join(f"{name} {prov[name]}" for name in provenance.PACKAGES if prov.get(name))
    return ["", "## Provenance", "",
            f"- device: {code(prov['device'])} ({md_escape(str(prov.get('device_name') or 'unknown'))}), "
            f"{prov['torch_threads']} torch threads",
            f"- python {prov['python']} on {prov['platform']}", f"- packages: {packages}"]


def read_inputs(quality_path: Path, split_path: Path | None, train_dir: Path | None,
                metrics_path: Path) -> tuple[QualityReport, SplitReport | None, TrainSummary | None, TestReport]:
    """The typed reports; split.json and the train summary are optional (a report of a partial pipeline)."""
    split = SplitReport.read(split_path) if split_path is not None and split_path.is_file() else None
    summary_path = train_dir / "summary.json" if train_dir is not None else None
    summary = TrainSummary.read(summary_path) if summary_path is not None and summary_path.is_file() else None
    return QualityReport.read(quality_path), split, summary, TestReport.read(metrics_path)


def run(*, cfg: params.Report, quality_path: Path, metrics_path: Path, out: Path, curves_png: Path,
        split_path: Path | None = None, train_dir: Path | None = None, eval_dir: Path | None = None,
        explain_dir: Path | None = None, model_dir: Path | None = None, card: Path | None = None,
        dataset: Path | None = None, rounds: Path | None = None, audit: Path | None = None,
        data_card: Path | None = None, generation: Path | None = None, tasks: Path | None = None) -> dict[str, Any]:
    """Write report.md (and the training-curves PNG, with `model_dir` the completed model card `card`, with
    `data_card` the generated data's dataset card)."""
    def rel(target: Path) -> str:
        return Path(os.path.relpath(target.resolve(), out.resolve().parent)).as_posix()

    quality, split, summary, result = read_inputs(quality_path, split_path, train_dir, metrics_path)
    baselines, explained = optional_json(eval_dir, "baselines.json"), optional_json(explain_dir, "explanations.json")
    if not (has_curves := bool(train_dir) and plot_training_curves(train_dir, curves_png)):
        curves_png.unlink(missing_ok=True)  # no stale image from an earlier run
    prov = provenance.collect(out.resolve().parent, device=summary.device if summary else None)
    # HEAD when the report was built (the commit the run started from), shortened; 'unknown' outside git.
    lines = header(quality, split, summary, (prov["git_rev"] or "unknown")[:12])
    lines += verdict_section(baselines, result) + warnings(cfg, quality, summary, result) + rounds_section(rounds)
    lines += audit_section(audit, rel)
    lines += metrics_section(result, baselines) + baselines_section(baselines, "subset accuracy" if result.test.multi_label
                                                         else "accuracy")
    if eval_dir and (eval_dir / "confusion.png").is_file():
        lines += ["", "## Confusion matrix", "", f"![Test confusion matrix]({rel(eval_dir / 'confusion.png')})"]
    if eval_dir and (eval_dir / "summary.md").is_file():
        lines += ["", f"Calibration, curves and slices: [evaluation summary]({rel(eval_dir / 'summary.md')})"]
    lines += training_section(summary, rel(curves_png) if has_curves else None)
    quality_md = quality_path.with_suffix(".md")
    lines += quality_section(quality, rel(quality_md) if quality_md.is_file() else None)
    lines += mismatches_section(explained, explain_dir, rel) if explain_dir else []
    lines += provenance_section(prov)
    write_text(out, "\n".join(lines) + "\n")
    if model_dir is not None and card is not None:
        data = DatasetInfo.read(dataset) if dataset is not None and dataset.is_file() else None
        complete_card(model_dir, card, summary, result.test.to_dict(), data, result.external)
    if data_card is not None:  # generation/datacard.py: what `synthbert push --dataset-repo` uploads with the rows
        headline = audit_headline(AuditReport.read(audit)) if audit is not None and audit.is_file() else []
        datacard.write(data_card, quality, generation, tasks, headline, cfg.data_license, cfg.data_language)
    log.info("wrote %s (%s lines)", out, len(lines))
    return {"lines": len(lines), "curves": has_curves, "warnings": bool(warnings(cfg, quality, summary, result))}


def main(argv: list[str] | None = None) -> int:
    def add(p: argparse.ArgumentParser) -> None:
        p.add_argument("--quality", required=True, type=Path, help="quality.json from generate")
        p.add_argument("--split", type=Path, help="split.json from split")
        p.add_argument("--train", type=Path, help="train reports directory (summary.json, DVCLive plots)")
        p.add_argument("--metrics", required=True, type=Path, help="test_metrics.json from evaluate (in its eval directory)")
        p.add_argument("--eval", type=Path, help="eval reports directory (confusion.png, baselines.json)")
        p.add_argument("--explain", type=Path, help="explain reports directory (explanations.json)")
        p.add_argument("--out", required=True, type=Path, help="report.md to write")
        p.add_argument("--curves", required=True, type=Path, help="training-curves PNG to write")
        p.add_argument("--model", type=Path, help="model directory whose card to complete (with --card)")
        p.add_argument("--card", type=Path, help="completed model card to write (the model's card + test metrics)")
        p.add_argument("--dataset", type=Path, help="dataset.json from generate (for the card)")
        p.add_argument("--rounds", type=Path, help="rounds.json from `synthbert rounds --write` (the focus rounds)")
        p.add_argument("--audit", type=Path, help="audit.json from audit (synthetic against real)")
        p.add_argument("--data-card", type=Path, help="dataset card of the generated data to write")
        p.add_argument("--generation", type=Path, help="generation.json from generate (requests, tokens, cost)")
        p.add_argument("--tasks", type=Path, help="task files directory (the data card's templates or prompts)")

    def body(args: argparse.Namespace) -> None:
        run(cfg=params.load("report", args.params), quality_path=args.quality, metrics_path=args.metrics,
            out=args.out, curves_png=args.curves, split_path=args.split, train_dir=args.train, eval_dir=args.eval,
            explain_dir=args.explain, model_dir=args.model, card=args.card, dataset=args.dataset,
            rounds=args.rounds, audit=args.audit, data_card=args.data_card, generation=args.generation,
            tasks=args.tasks)

    return cli.main(__doc__.splitlines()[0], add, body, argv,
                    example="python -m stages.report --quality reports/data/quality.json --split reports/data/split.json --train reports/train --metrics reports/metrics.json --eval reports/eval --explain reports/explain --out reports/report.md")  # as dvc.yaml runs it


if __name__ == "__main__":
    raise SystemExit(main())
