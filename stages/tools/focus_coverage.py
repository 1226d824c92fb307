"""`synthbert focus --coverage`: the real dev rows the synthetic data covers least (reports/data/audit.json's
least_covered, core/audit_report.py) become generation targets.

The openai provider gets one prompt per label, "write texts like these", with that label's least covered rows as
examples (added to the focus file's `prompts`, asked like the contrastive ones); templates cannot be written
automatically, so for the template (and csv) provider the rows are listed under `coverage` for the user. Only rows
of evaluate.external_test sets with `role: dev` may steer: generate.real's rows (already training data) are left
out, a row of any other set is refused.
"""

from __future__ import annotations

import collections
from pathlib import Path
from typing import Any

from stages.core import contracts
from stages.core.errors import DataError
from stages.core.labelsets import split_labels

GENERATE_REAL = "generate.real"  # audit.json's set name of generate.real's rows (auditing/rows.py)
FIELDS = ("set", "row", "text", "label", "distance")  # of each least_covered row (core/audit_report.py)
EXAMPLES = 8  # least covered rows shown per label in its coverage prompt
PROMPT = ("Write {{n}} texts that are clearly {{label}} ({{description}}), like these real ones, which the training "
          "data covers least: {examples}. Do not copy or simply rewrite them; vary topics and wording.")


def read_audit(path: Path, dev_sets: list[str]) -> list[dict[str, Any]]:
    """audit.json's least covered dev rows, least covered first (generate.real's rows left out: they are training
    data already); a missing file, one without a real reference and a row of a set that is neither a role-dev set
    nor generate.real each fail in one line naming the file."""
    if not path.is_file():
        raise DataError(f"{path}: no such file; run `dvc repro` (the audit stage writes it) before "
                        "synthbert focus --coverage")
    report = contracts.AuditReport.read(path)
    if report.reason:
        raise DataError(f"{path}: nothing to cover: {report.reason}")
    for i, row in enumerate(report.least_covered):
        missing = [k for k in FIELDS if not isinstance(row, dict) or k not in row]
        if missing:
            raise DataError(f"{path}: least_covered[{i}] has no {missing[0]!r} (expected {', '.join(FIELDS)}); "
                            "rerun the audit stage")
        if row["set"] not in dev_sets and row["set"] != GENERATE_REAL:
            raise DataError(f"{path}: least_covered row {row['row']} is from set {row['set']!r}, which is not "
                            f"a dev set (role: dev in evaluate.external_test: {', '.join(dev_sets) or 'none'}); "
                            "focus --coverage uses dev rows only")
    return [row for row in report.least_covered if row["set"] != GENERATE_REAL]  # those already train the model


def by_label(rows: list[dict[str, Any]], labels: list[str]) -> dict[str, list[dict[str, Any]]]:
    """The rows per task label (a label-set row under each of its labels), least covered first."""
    out: dict[str, list[dict[str, Any]]] = collections.defaultdict(list)
    for row in rows:
        for name in split_labels(str(row["label"])):
            if name in labels:
                out[name].append(row)
    return {name: out[name] for name in labels if out[name]}


def prompts(rows: list[dict[str, Any]], task: Any) -> dict[str, list[str]]:
    """label -> one "write texts like these" prompt with its EXAMPLES least covered rows (braces dropped, so a
    real text cannot add a placeholder)."""
    out = {}
    for name, mine in by_label(rows, task.label_names).items():
        shown = "; ".join(repr(str(r["text"]).replace("{", "").replace("}", "")) for r in mine[:EXAMPLES])
        out[name] = [PROMPT.format(examples=shown)]
    return out


def listed(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The focus file's `coverage`: each row as audit.json holds it (set, row, text, label, distance)."""
    return [{k: row[k] for k in FIELDS} for row in rows]


def lines(rows: list[dict[str, Any]]) -> list[str]:
    """What `synthbert focus` prints for the template provider: the rows to write templates like."""
    head = [f"coverage: {len(rows)} real dev rows the synthetic data covers least (listed under coverage; write "
            "templates like them):"]
    return head + [f"  {r['set']}:{r['row']} [{r['label']}] {r['text']!r}" for r in rows]
