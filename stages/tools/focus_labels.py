"""Noise is fixed, not amplified: the templates and prompts `synthbert focus` never weights up, listed under the
focus file's `fix_labels` with their flagged rows.

A template or LLM prompt is listed when cleanlab flagged any of its rows (reports/data/quality.json's
label_issues.origins, per origin.slice_of: a template id, an LLM row's prompt id) or, behind a dev mismatch, when
the task lists its text under several labels (ambiguous by design: weighting one label's copy only moves the
model's guess for that shape). Rows of files (the csv provider, real rows) name no template or prompt: not listed.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from stages.core import contracts, origin
from stages.core.errors import DataError

FLAGGED_SHOWN = 5  # flagged rows listed per template or prompt


def sources_of(task: Any, previous: dict[str, Any]) -> dict[str, tuple[str, list[str]]]:
    """Every template and prompt id of `task` -> (its text, the labels listing it); the focus prompts of the
    `previous` focus file (`<label>-focus<n>`, the prompts behind the rows of the round it steered) too."""
    out: dict[str, tuple[str, list[str]]] = {}
    for label in task.labels if task is not None else ():
        for text, tid in zip(label.templates, label.ids):
            out.setdefault(tid, (text, []))[1].append(label.name)
        for n, prompt in enumerate(label.prompts, 1):
            out[origin.prompt_id(label.name, n)] = (prompt, [label.name])
        old = (previous.get("prompts") or {}).get(label.name) or []
        for n in range(1, len(old) + 1):
            out[origin.focus_prompt_id(label.name, n)] = (str(old[n - 1]), [label.name])
    for n, prompt in enumerate(task.prompts if task is not None else (), 1):
        out[origin.prompt_id("", n)] = (prompt, [])  # model_as_label mode: the label is the model that answered
    return out


def read_issues(quality: Path) -> dict[str, Any]:
    """quality.json's label_issues (generation/label_issues.py): `examples`, and `origins` unless it was skipped."""
    if not quality.is_file():
        raise DataError(f"{quality}: no such file; run `dvc repro` (generate writes it) before synthbert focus")
    issues = contracts.QualityReport.read(quality).label_issues
    if not issues.get("skipped") and "origins" not in issues:
        raise DataError(f"{quality}: label_issues has no 'origins' (written by an older generate); run `dvc repro`")
    return issues


def fix_labels(task: Any, issues: dict[str, Any], behind_errors: Iterable[str],
               previous: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """{template or prompt id: {text, labels, reason, flagged: [{text, given, suggested}]}}, in reading order:
    each one cleanlab flagged rows of (`issues`: read_issues), and each shared template (listed under several
    labels) behind an error (`behind_errors`: the origin.slice_of of each mismatch)."""
    known = sources_of(task, previous)
    out: dict[str, dict[str, Any]] = {}
    for name, seen in (issues.get("origins") or {}).items():
        if name not in known:
            continue  # a file's rows (csv provider, real rows), or a template or prompt no longer in the task
        text, labels = known[name]
        rows = [{"text": e["text"], "given": e["label"], "suggested": e["suggested"]}
                for e in seen["examples"][:FLAGGED_SHOWN]]
        reasons = [f"cleanlab flagged {seen['flagged']} row{'s' if seen['flagged'] != 1 else ''}"]
        if len(labels) > 1:
            reasons.insert(0, "listed under several labels")
        out[name] = {"text": text, "labels": labels, "reason": "; ".join(reasons), "flagged": rows}
    for name in set(behind_errors) - set(out):
        text, labels = known.get(name, ("", []))
        if len(labels) > 1:
            out[name] = {"text": text, "labels": labels, "reason": "listed under several labels", "flagged": []}
    return {name: out[name] for name in origin.slice_order(out)}


def lines(fix: dict[str, dict[str, Any]]) -> list[str]:
    """What `synthbert focus` prints about them: one line each."""
    return [f"fix the label, not weighted: {name} {entry['text']!r} ({', '.join(entry['labels']) or 'the model'}): "
            f"{entry['reason']}" for name, entry in fix.items()]
