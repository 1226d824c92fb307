"""The focus file (data/focus.yaml): what the next round of generation aims at, written by `synthbert focus`
from the model's errors on a dev set and read by generate (an ordinary dependency of the stage in dvc.yaml).

    source:     {dev, file, rows, mismatches, model, ...}   the dev set that steered the round (report only)
    confused:   [{true, predicted, mismatches, tokens: [...]}]   the label pairs the model mixed up (report only)
    fix_labels: {template or prompt id: {text, labels, reason, flagged}}   cleanlab-flagged or listed under
                several labels: never weighted; their labels to fix in the task file (report only)
    coverage:   [{set, row, text, label, distance}]   real dev rows the synthetic data covers least, for the
                user to write templates like (template provider; report only)
    templates:  {label: {template: weight}}   template provider: sampling weights (a template not listed weighs 1)
    prompts:    {label: [prompt, ...]}        openai provider: extra contrastive (and coverage) prompts, `rows` texts each
    rows:       texts asked per focus prompt (openai provider)

An empty file (or `{}`) means no focus: generation is exactly what it is without the file.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stages.core.errors import DataError
from stages.core.io import read_yaml
from stages.generation.task import SLOT, Task, _check_prompts

KEYS = {"confused", "templates", "fix_labels", "coverage", "prompts", "rows", "source"}


@dataclass(frozen=True)
class Focus:
    templates: dict[str, dict[str, float]] = field(default_factory=dict)
    prompts: dict[str, tuple[str, ...]] = field(default_factory=dict)
    rows: int = 0
    confused: list = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.templates or self.prompts)


def read(path: Path | None, task: Task | None) -> Focus:
    """The focus file checked against the task: known labels and templates, positive finite weights."""
    if path is None or not Path(path).is_file():
        return Focus()
    raw = read_yaml(path) or {}
    if not isinstance(raw, dict):
        raise DataError(f"{path}: expected a mapping (confused, templates, prompts, rows), found {type(raw).__name__}")
    unknown = sorted(set(raw) - KEYS)
    if unknown:
        raise DataError(f"{path}: unknown field {unknown[0]!r} (known: {', '.join(sorted(KEYS))})")
    labels = {lab.name: lab for lab in task.labels} if task is not None else {}
    templates: dict[str, dict[str, float]] = {}
    for name, weights in (raw.get("templates") or {}).items():
        where = f"{path}: templates.{name}"
        if name not in labels:
            raise DataError(f"{where}: no label {name!r} in {task.path if task else 'the task'} (rerun synthbert focus)")
        if not isinstance(weights, dict):
            raise DataError(f"{where} must map templates to weights, got {weights!r}"[:300])
        for template, weight in weights.items():
            if template not in labels[name].templates:
                raise DataError(f"{where}: template {template!r} is not one of the label's templates in "
                                f"{task.path} (rerun synthbert focus)"[:300])
            if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not (0 < weight < math.inf):
                raise DataError(f"{where}: the weight of {template!r} must be a positive number, got {weight!r}"[:300])
        templates[str(name)] = {str(t): float(w) for t, w in weights.items()}
    _check_not_fixed(templates, raw.get("fix_labels"), path)
    prompts: dict[str, tuple[str, ...]] = {}
    for name, items in (raw.get("prompts") or {}).items():
        if name not in labels:
            raise DataError(f"{path}: prompts.{name}: no label {name!r} in the task (rerun synthbert focus)")
        if not isinstance(items, list) or not all(isinstance(p, str) and p.strip() for p in items):
            raise DataError(f"{path}: prompts.{name} must be a list of prompt strings, got {items!r}"[:300])
        _check_prompts(tuple(items), labels[name].attributes, f"{path}: prompts.{name}")
        prompts[str(name)] = tuple(items)
    rows = raw.get("rows", 0)
    if isinstance(rows, bool) or not isinstance(rows, int) or rows < 0:
        raise DataError(f"{path}: rows must be a non-negative integer, got {rows!r}")
    return Focus(templates, prompts, rows, list(raw.get("confused") or []))


def _check_not_fixed(templates: dict[str, dict[str, float]], fix: Any, path: Path) -> None:
    """A template under fix_labels (its rows flagged by cleanlab, or listed under several labels) is never weighted
    up, not even by hand: its label is what to fix."""
    texts = {e.get("text") for e in fix.values() if isinstance(e, dict)} if isinstance(fix, dict) else set()
    for name, weights in templates.items():
        for template, weight in weights.items():
            if template in texts and weight > 1:
                raise DataError(f"{path}: templates.{name}: {template!r} is listed under fix_labels; fix its label "
                                f"in the task file rather than weighting it up (weight {weight:g})"[:300])


def template_pattern(template: str, slots: dict[str, tuple[str, ...]]) -> re.Pattern[str]:
    """A case-insensitive regex matching exactly the texts `template` can produce from `slots`."""
    parts, last = [], 0
    for m in SLOT.finditer(template):
        parts.append(re.escape(template[last:m.start()]))
        values = sorted(slots.get(m.group(1), ()), key=len, reverse=True)
        parts.append("(?:" + "|".join(re.escape(v) for v in values) + ")")
        last = m.end()
    parts.append(re.escape(template[last:]))
    return re.compile("".join(parts), re.IGNORECASE)


def templates_of(text: str, label: Any) -> list[str]:
    """The templates of `label` (a task Label) that can produce `text` (usually one; none for a text that came
    from another provider or from real rows)."""
    from stages.core.text import normalize

    text = normalize(text)
    return [t for t in label.templates if template_pattern(normalize(t), label.slots).fullmatch(text)]
