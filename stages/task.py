"""Task files (data/tasks/<task>.yaml): labels with descriptions and templates, and slot vocabularies.

Validated on load, so a typo in a task file fails with its path and key before any generation starts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stages.errors import DataError
from stages.io import read_yaml

SLOT = re.compile(r"\{(\w+)\}")
TOP_KEYS = {"name", "description", "labels", "slots"}
LABEL_KEYS = {"description", "templates", "slots"}


@dataclass(frozen=True)
class Label:
    name: str
    description: str
    templates: tuple[str, ...]
    slots: dict[str, tuple[str, ...]]  # the task's slots, overridden by the label's own


@dataclass(frozen=True)
class Task:
    name: str
    description: str
    labels: tuple[Label, ...]
    path: str

    @property
    def label_names(self) -> list[str]:
        return [label.name for label in self.labels]


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or not all(isinstance(v, (str, int, float)) for v in value):
        raise DataError(f"{where} must be a non-empty list of strings, got {value!r}"[:300])
    return tuple(str(v) for v in value)


def _slots(raw: Any, where: str) -> dict[str, tuple[str, ...]]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise DataError(f"{where} must be a mapping of slot name to values, got {type(raw).__name__}")
    return {str(k): _strings(v, f"{where}.{k}") for k, v in raw.items()}


def load_task(path: str | Path) -> Task:
    raw = read_yaml(path)
    if not isinstance(raw, dict):
        raise DataError(f"{path}: expected a mapping with 'labels', found {type(raw).__name__}")
    unknown = sorted(set(raw) - TOP_KEYS)
    if unknown:
        raise DataError(f"{path}: unknown field {unknown[0]!r} (known: {', '.join(sorted(TOP_KEYS))})")
    labels_raw = raw.get("labels")
    if not isinstance(labels_raw, dict) or len(labels_raw) < 2:
        raise DataError(f"{path}: 'labels' must map at least two label names to their specs")
    shared = _slots(raw.get("slots"), f"{path}: slots")
    labels = []
    for name, spec in labels_raw.items():
        where = f"{path}: labels.{name}"
        if not isinstance(spec, dict):
            raise DataError(f"{where} must be a mapping, got {spec!r}")
        unknown = sorted(set(spec) - LABEL_KEYS)
        if unknown:
            raise DataError(f"{where}: unknown field {unknown[0]!r} (known: {', '.join(sorted(LABEL_KEYS))})")
        templates = _strings(spec.get("templates"), f"{where}.templates")
        slots = {**shared, **_slots(spec.get("slots"), f"{where}.slots")}
        for template in templates:
            for slot in SLOT.findall(template):
                if slot not in slots:
                    raise DataError(f"{where}.templates: slot {{{slot}}} in {template!r} has no values")
        labels.append(Label(str(name), str(spec.get("description", name)), templates, slots))
    return Task(str(raw.get("name", Path(path).stem)), str(raw.get("description", "")), tuple(labels), str(path))
