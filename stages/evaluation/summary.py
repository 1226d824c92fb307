"""reports/eval/summary.md: the Verdict (the same lines as report.md's, core/verdict_section.py), then the fine-tuned
model beside its baselines, on the test split and on real data, with bootstrap intervals, calibration, the per-label
table and slices — the page a reviewer reads. For a multi-label model (test["multi_label"]) accuracy is subset
accuracy and its headline F1s and hamming loss lead.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from stages.core.text import md_escape
from stages.core.verdict_section import verdict_lines
from stages.core.verdicts import MODEL_NAMES as NAMES
from stages.core.verdicts import verdict
from stages.evaluation import llm_baseline


def _opt(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


def _ci(row: dict[str, Any], key: str) -> str:
    return f"{row[key]:.3f} [{row[f'{key}_ci_low']:.3f}, {row[f'{key}_ci_high']:.3f}]"


def _seconds(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f} s"  # no thousands separator: one number token


def _gain(row: dict[str, Any], fine_tuned: dict[str, Any]) -> str:
    word = verdict(fine_tuned, row)
    if word is None:
        return "—"
    lo, hi = row["gain_ci_low"], row["gain_ci_high"]
    return f"{row['fine_tuned_gain_f1_macro']:+.3f} [{lo:+.3f}, {hi:+.3f}] ({word})"


def _collapsed(row: dict[str, Any]) -> str:
    found = row.get("collapsed")
    return "—" if not found else (f"{found['predicted_share']:.0%} on {md_escape(found['label']) or 'no label'} "
                                  f"({found['true_share']:.0%} of the truth)")


def render(base_model: str, test: dict[str, Any], table: dict[str, Any], slices: Sequence[dict[str, Any]],
           positive_label: str | None) -> str:
    pct = f"{table['confidence'] * 100:g}%"
    multi = bool(test.get("multi_label"))
    acc = "subset accuracy" if multi else "accuracy"
    lines = ["# Evaluation", "",
             f"Fine-tuned from {md_escape(base_model)}; test split: {test['rows']:,} rows. Intervals are "
             f"{pct} percentile intervals over {table['resamples']:,} bootstrap resamples of the rows (seeded by "
             "base.seed); the gain column compares the fine-tuned model with each baseline on the same "
             "resamples, so an interval that excludes 0 is a real difference, not noise.", "",
             "## Verdict", *verdict_lines(table, test), "",
             *(multi_label_lines(test, pct) if multi else []),
             "## Model and baselines on the test split", "",
             f"| model | {acc} [{pct} CI] | macro-F1 [{pct} CI] | fine-tuned gain in macro-F1 | collapsed | "
             "time to train |",
             "|---|---|---|---|---|---:|"]
    ft = table["models"].get("fine_tuned", {})
    for name, row in table["models"].items():
        r = row["test"]
        lines.append(f"| {NAMES.get(name, name)} | {_ci(r, 'accuracy')} | {_ci(r, 'f1_macro')} | "
                     f"{_gain(r, ft.get('test', {}))} | {_collapsed(r)} | {_seconds(row['train_seconds'])} |")
    lines += reality_lines(table)
    lines += llm_baseline.cost_lines(table)
    lines += ["", "## Calibration", "",
              f"Expected calibration error {test['ece']:.4f} (0 = confidence matches accuracy), Brier score "
              f"{test['brier']:.4f}" + (", over every (row, label) probability as a binary prediction" if multi else "")
              + ". Reliability diagram: `reliability.png`, table: `calibration.csv`."]
    if test.get("roc_auc_macro") is not None:
        lines += ["", f"One vs rest, averaged over the labels: ROC-AUC {test['roc_auc_macro']:.4f}, average precision "
                      f"{test['average_precision_macro']:.4f} (each label's in the table below; curves `roc.png`, "
                      "`pr.png`)."]
    if positive_label is not None and test.get("roc_auc") is not None:
        lines += ["", f"Positive label {md_escape(positive_label)}: ROC-AUC {test['roc_auc']:.4f}, average "
                      f"precision {test['average_precision']:.4f}."]
    lines += ["", "## Per label (test split)", "",
              "Recall is the share of the label's rows the model found (what fine-tuning tutorials call per-label "
              "accuracy); the F1 interval is bootstrapped like the headline ones.", "",
              "| label | precision | recall | F1 [interval] | ROC-AUC | AP | support |",
              "|---|---:|---:|---:|---:|---:|---:|"]
    lines += [f"| {md_escape(lab)} | {v['precision']:.3f} | {v['recall']:.3f} | {_ci(v, 'f1')} | {_opt(v['roc_auc'])} | "
              f"{_opt(v['average_precision'])} | {v['support']:,} |" for lab, v in test["per_label"].items()]
    lines += ["", "## Slices: where the fine-tuned model fails", "",
              f"| by | slice | rows | {acc} | macro-F1 | mismatches |", "|---|---|---:|---:|---:|---:|"]
    lines += [f"| {s['slice_by']} | {md_escape(s['slice'])} | {s['rows']:,} | {s['accuracy']:.3f} | "
              f"{s['f1_macro']:.3f} | {s['mismatches']:,} |" for s in slices]
    lines += ["", "Every test row with any wrong label, most confident first, with the labels missed and extra: "
                  "`mismatches.csv`." if multi else "Every misclassified test row, most confident first: `mismatches.csv`."]
    return "\n".join(lines) + "\n"


def reality_lines(table: dict[str, Any]) -> list[str]:
    """Every model on every real set: its role, macro-F1, the gap to the test split with its interval, the gain."""
    real = table["sets"][1:]
    if not real:
        return []
    roles, ft = table.get("roles") or {}, table["models"].get("fine_tuned", {})
    lines = ["", "## Reality check: real, human-labelled sets", "",
             "Role test: the set only judges; role dev: automated rounds may steer on it (steering-only). Gap = "
             "macro-F1 on the synthetic test split minus macro-F1 on the real set, with an interval over both sets' "
             "resamples: how much of what was learned from synthetic data does not carry over.", "",
             "| model | set | role | rows | macro-F1 [CI] | gap [CI] | fine-tuned gain in macro-F1 | collapsed |",
             "|---|---|---|---:|---|---|---|---|"]
    for name, row in table["models"].items():
        for s in real:
            r = row[s]
            lines.append(f"| {NAMES.get(name, name)} | {md_escape(s)} | {roles.get(s, 'test')} | {r['rows']:,} | "
                         f"{_ci(r, 'f1_macro')} | {_ci(r, 'f1_macro_gap')} | {_gain(r, ft.get(s, {}))} | "
                         f"{_collapsed(r)} |")
    return lines


def multi_label_lines(test: dict[str, Any], pct: str) -> list[str]:
    """The headline numbers of a multi-label model: its F1s with intervals, hamming loss, thresholds."""
    thresholds = ", ".join(f"{md_escape(lab)} {t:.2f}" for lab, t in (test.get("thresholds") or {}).items())
    return ["## Multi-label", "",
            f"Every row carries a set of labels; the model decides each label at its own threshold ({thresholds}), "
            "the baselines at 0.5. Subset accuracy counts a row right only when its whole set is.", "",
            f"| micro-F1 [{pct} CI] | macro-F1 [{pct} CI] | samples-F1 [{pct} CI] | hamming loss | subset accuracy |",
            "|---|---|---|---:|---:|",
            f"| {_ci(test, 'f1_micro')} | {_ci(test, 'f1_macro')} | {_ci(test, 'f1_samples')} | "
            f"{test['hamming_loss']:.4f} | {test['subset_accuracy']:.4f} |", ""]
