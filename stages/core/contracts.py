"""The hand-off files between stages: one typed definition each, used by its writer and every reader.

| file                         | writer   | readers          |
|------------------------------|----------|------------------|
| data/generated.csv           | generate | split            |
| data/split/{train,val,test}  | split    | train, evaluate  |
| reports/data/quality.json    | generate | report           |
| reports/data/dataset.json    | generate | train            |
| reports/data/split.json      | split    | report           |
| reports/data/audit.json      | audit    | report, `synthbert focus --coverage` |
| reports/train/summary.json   | train    | evaluate, report |
| models/real_only/subset.json | train --only-source | evaluate |
| reports/metrics.json         | evaluate | (dvc exp show; and train's reports/train/best_val.json) |
| reports/eval/test_metrics.json | evaluate | report         |
| reports/eval/predictions.csv | evaluate | explain          |

A JSON contract is a frozen dataclass (base: core/schema.py's Contract): `read(path)` checks every field's
presence and type and stops with one line naming the file and the field; `write(path)` writes exactly its
fields. A field has a default only when its writer may leave it out.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, ClassVar

from stages.core.io import read_csv, write_csv
from stages.core.schema import Contract

# CSV hand-offs: generated.csv and the three split files share their columns. origin: where the row came from
# (a template id, an LLM request and prompt, a file and row: core/origin.py).
DATASET_COLUMNS = ("text", "label", "source", "origin")
REAL_SOURCE = "real"  # the source of rows from a real annotated CSV (generate.real); every other source is synthetic
# predictions.csv (evaluate -> explain): its columns, reader and writer live in core/predictions.py.
from stages.core.predictions import (  # noqa: E402,F401  (re-exported: the hand-off definitions are looked up here)
    PREDICTION_COLUMNS, PROBABILITY_PREFIX, prediction_columns, read_predictions, write_predictions)
from stages.core.audit_report import AuditReport  # noqa: E402,F401  (re-exported, as above)
from stages.core.rounds_ledger import RoundsLedger  # noqa: E402,F401  (re-exported, as above)


# ---- generate -> report: reports/data/quality.json

@dataclasses.dataclass(frozen=True)
class Provider(Contract):
    """Where the rows came from: the provider, and its task file or CSV, mode and models."""

    FILE: ClassVar[str] = "quality.json"
    provider: str
    task: str | None = None
    file: str | None = None
    mode: str | None = None
    models: list | None = None


@dataclasses.dataclass(frozen=True)
class QualityReport(Contract):
    """Counts and measures of the cleaned dataset (see stages/generation/quality.py)."""

    FILE: ClassVar[str] = "quality.json (generate)"
    provider: Provider
    rows_read: int
    rows_kept: int
    dropped: dict
    per_label: dict            # label -> {before, after}
    per_source: dict           # source -> {before, after}: real and each provider's source
    llm_dropped: dict
    duplicates: dict
    length_chars: dict
    length_words: dict
    diversity: dict
    majority_baseline: float
    shortcut_threshold: float
    shortcuts: list            # [{feature, accuracy}], best first
    shortcut_warning: bool
    shortcut_features: list
    label_issues: dict         # {method, folds, filter, skipped (reason or null), total (null when skipped), ...}
    classes: str = "labels"    # what majority_baseline and shortcuts predict: labels | label sets (multi-label)
    judge: dict | None = None  # generate.judge: agreement per label, source, origin; disputes; cost (judge_report.py)
    llm_votes: dict | None = None  # llm_label provider: texts labelled, unanimous, majority, dropped (tie, no_answer)


# ---- generate -> split, train: reports/data/dataset.json (small on purpose: a report-only param such as
# generate.shortcut_threshold changes quality.json, not this file, so it never retrains the model)

@dataclasses.dataclass(frozen=True)
class DatasetInfo(Contract):
    """What the model card says about the data: the provider and the row counts before and after cleaning."""

    FILE: ClassVar[str] = "dataset.json (generate)"
    provider: Provider
    rows_read: int
    rows_kept: int
    multi_label: bool = False   # rows carry label sets joined by core/labelsets.LABEL_SEP
    labels: list | None = None  # every label name of the task or CSV, sorted
    few_shot: list | None = None  # key_hash of each real text the LLM may be shown (split keeps them in train)


# ---- split -> report: reports/data/split.json

@dataclasses.dataclass(frozen=True)
class SplitReport(Contract):
    FILE: ClassVar[str] = "split.json (split)"
    seed: int
    val_size: float
    test_size: float
    near_duplicate_threshold: float
    near_duplicate_groups: int         # groups that joined two or more distinct texts
    max_cross_split_jaccard: float     # highest word-set Jaccard between texts of two different splits
    max_cross_split_jaccard_exact: bool  # false: a lower bound (above 5,000 rows only LSH candidates are compared)
    val_source: str            # all | real (only rows whose source is real)
    test_source: str
    group_by: list             # split.group_by: what joins rows into groups that move together (origin, near_duplicates)
    origin_groups: int         # distinct origins (a template, an LLM request, a file row)
    origins_in_two_splits: int  # origins with rows in more than one split: 0 whenever group_by holds origin
    splits: dict               # train|val|test -> {rows, labels: {label: rows}, sources: {source: rows}}


# ---- train -> evaluate, report: reports/train/summary.json


@dataclasses.dataclass(frozen=True)
class TrainSummary(Contract):
    FILE: ClassVar[str] = "summary.json (train)"
    base_model: str
    device: str
    torch: str
    transformers: str
    train_rows: int
    val_rows: int
    epochs: float
    train_loss: float                  # the Trainer's training_loss: the mean over every step of the run
    last_train_loss: float | None      # the last logged train loss (the curve's end); None: none was logged
    best_val_f1_macro: float
    best_val_accuracy: float
    best_epoch: float
    epochs_trained: float
    optimizer_steps: int
    stopped_early: bool
    train_seconds: float
    train_samples_per_second: float
    peak_memory_mb: float
    processes: int
    precision: str
    max_length: int
    trainable_parameters: int
    total_parameters: int
    class_weights: list | None
    deterministic: bool
    resumed_from: str | None
    overfitting_warning: str | None
    undertrained_warning: str | None   # too few optimizer steps to trust the scores (diagnostics.undertrained)
    multi_label: bool = False          # one sigmoid per label (training/multilabel.py)
    thresholds: dict | None = None     # multi-label: {label: decision threshold} tuned on val
    class_weights_mode: str = "none"   # the mode used (none | balanced | explicit): train.class_weights, auto resolved
    class_weights_reason: str | None = None  # why: the label counts behind auto, or "set in params.yaml"
    decision: str = "argmax"           # argmax | tuned (train.decision resolved) | thresholds (multi-label)
    decision_offsets: dict | None = None  # tuned: {label: offset on its log-probability} (core/decision.py)
    decision_rule: str | None = None   # the rule in words, with val macro-F1 under it and under argmax
    collapsed: dict | None = None      # verdicts.collapsed on the val decisions: {label, predicted_share, true_share}


# ---- train --only-source -> evaluate: <models/real_only>/subset.json (the real_only baseline)

SUBSET_FILE, SUBSET_MODEL, SUBSET_REPORTS = "subset.json", "model", "train"  # inside the --only-source directory


@dataclasses.dataclass(frozen=True)
class SubsetModel(Contract):
    """What `stages.train --only-source SOURCE` trained on: the train rows of one source alone (k), the val rows
    kept (those whose labels the subset holds) and their labels; or why it trained nothing (then its directory
    holds only this file, else also the model in SUBSET_MODEL/ and the train reports in SUBSET_REPORTS/)."""

    FILE: ClassVar[str] = "subset.json (train --only-source)"
    source: str
    train_rows: int
    val_rows: int
    labels: list
    trained: bool
    reason: str | None = None


# ---- evaluate -> report: reports/eval/test_metrics.json (the full record) and reports/metrics.json (headline)


@dataclasses.dataclass(frozen=True)
class TestMetrics(Contract):
    """The fine-tuned model on the test split. roc_auc/average_precision: the positive label's (evaluate.positive_label,
    or the second label of a binary task); *_macro: the mean of every label's one-vs-rest value.

    A multi-label model (multi_label true) fills the fields from multi_label on; its `accuracy` is the subset
    accuracy, ece/brier cover every (row, label) probability as a binary one, label_confusion replaces the matrix."""

    __test__: ClassVar[bool] = False  # not a pytest test class
    FILE: ClassVar[str] = "test_metrics.json (evaluate)"
    rows: int
    accuracy: float
    accuracy_ci_low: float
    accuracy_ci_high: float
    f1_macro: float
    f1_macro_ci_low: float
    f1_macro_ci_high: float
    precision_macro: float
    recall_macro: float
    precision_weighted: float
    recall_weighted: float
    f1_weighted: float
    ece: float
    brier: float
    per_label: dict            # label -> {precision, recall, f1, f1_ci_low, f1_ci_high, support, roc_auc, average_precision}
    confusion_matrix: dict | None  # {labels, matrix}: rows are true labels (null for a multi-label model)
    roc_auc_macro: float | None
    average_precision_macro: float | None
    roc_auc: float | None = None
    average_precision: float | None = None
    multi_label: bool = False
    subset_accuracy: float | None = None     # multi-label only, from here on
    hamming_loss: float | None = None        # share of wrong (row, label) decisions
    f1_micro: float | None = None
    f1_micro_ci_low: float | None = None
    f1_micro_ci_high: float | None = None
    f1_samples: float | None = None
    f1_samples_ci_low: float | None = None
    f1_samples_ci_high: float | None = None
    thresholds: dict | None = None           # label -> the decision threshold applied (the model's)
    label_confusion: dict | None = None      # label -> {tn, fp, fn, tp}

    def to_dict(self) -> dict[str, Any]:
        # Headline numbers first, then the curve scores when there are any, the bulky tables last.
        out = super().to_dict()
        if not out["multi_label"]:
            out = {k: v for k, v in out.items() if k not in MULTI_LABEL_FIELDS}
        tail = {k: out.pop(k) for k in ("per_label", "thresholds", "label_confusion", "confusion_matrix") if k in out}
        curve_keys = ("roc_auc", "average_precision", "roc_auc_macro", "average_precision_macro")
        for key in curve_keys:
            if out[key] is None:
                del out[key]
        head = {k: out.pop(k) for k in list(out) if k not in ("ece", "brier", *curve_keys)}
        order = (*curve_keys, "ece", "brier")
        return head | {k: out[k] for k in order if k in out} | tail


@dataclasses.dataclass(frozen=True)
class TestReport(Contract):
    """reports/eval/test_metrics.json: every number of the fine-tuned model on the test split and the real sets,
    intervals and per-label values included. Not a DVC metric (it would add ~30 columns to `dvc exp show`)."""

    __test__: ClassVar[bool] = False
    FILE: ClassVar[str] = "test_metrics.json (evaluate)"
    test: TestMetrics
    external: dict = dataclasses.field(default_factory=dict)   # real set name -> {rows, accuracy, f1_macro, ...}

    def to_dict(self) -> dict[str, Any]:
        out = {"test": self.test.to_dict()}
        return out | ({"external": self.external} if self.external else {})


_NAMES = [f.name for f in dataclasses.fields(TestMetrics)]
MULTI_LABEL_FIELDS = tuple(_NAMES[_NAMES.index("multi_label"):])  # left out of a single-label model's file
HEADLINE_KEYS = ("f1_macro", "accuracy", "roc_auc", "roc_auc_macro")  # test split, in `dvc exp show`; see headline()
HEADLINE_MULTI_LABEL_KEYS = ("f1_micro", "f1_macro", "f1_samples", "hamming_loss", "subset_accuracy", "roc_auc_macro")
HEADLINE_REAL_KEYS = ("f1_macro",)  # each real set (its accuracy and intervals: test_metrics.json)


@dataclasses.dataclass(frozen=True)
class Metrics(Contract):
    """reports/metrics.json, the DVC metrics file: headline numbers only, so `dvc exp show` fits a screen."""

    FILE: ClassVar[str] = "metrics.json (evaluate)"
    test: dict                 # HEADLINE_KEYS, or for a multi-label model HEADLINE_MULTI_LABEL_KEYS (None left out)
    external: dict = dataclasses.field(default_factory=dict)   # real set name -> {f1_macro}

    @classmethod
    def headline(cls, report: TestReport) -> "Metrics":
        test = report.test.to_dict()
        keys = HEADLINE_MULTI_LABEL_KEYS if report.test.multi_label else HEADLINE_KEYS
        keys = tuple(k for k in keys if k != "roc_auc_macro" or test.get("roc_auc") is None)  # binary: = roc_auc
        return cls(test={k: test[k] for k in keys if test.get(k) is not None},
                   external={name: {k: row[k] for k in HEADLINE_REAL_KEYS} for name, row in report.external.items()})

    def to_dict(self) -> dict[str, Any]:
        return {"test": self.test} | ({"external": self.external} if self.external else {})


# ---- CSV hand-offs


def write_dataset(path: str | Path, rows: list[dict[str, str]]) -> None:
    """generated.csv or a split file: the columns text,label,source,origin in this order."""
    import pandas as pd

    write_csv(path, pd.DataFrame(rows, columns=list(DATASET_COLUMNS)))


def read_dataset(path: str | Path, what: str, columns: tuple[str, ...] = DATASET_COLUMNS) -> Any:
    """generated.csv or a split file as a DataFrame with (at least) `columns`, all read as text."""
    unknown = set(columns) - set(DATASET_COLUMNS)
    if unknown:
        raise ValueError(f"not a dataset column: {sorted(unknown)}")
    return read_csv(path, columns=columns, what=what)
