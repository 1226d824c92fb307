"""Task files (data/tasks/<task>.yaml): labels with descriptions, templates and prompts, slots and attributes.

Validated on load, so a typo in a task file fails with its path and key before any generation starts.
Templates (`{slot}` filled from `slots`) feed the template provider; prompts (`{attribute}`, `{n}`, `{label}`,
`{description}` filled per request), `attributes` and seed `examples` feed the openai provider.
A task with `multi_label: true` gives each row a set of labels: a template entry may then be a mapping
`{template: "...", also: [other labels]}`, whose rows carry the owning label plus the `also` labels.
Each template gets an id, `<label>-<n>` (its 1-based position under the label; core/origin.py): the `origin` of
its rows. A template text listed under several labels keeps the id of its first listing, so its fills, whatever
label they carry, are one origin (split keeps them in one split).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from stages.core.errors import DataError
from stages.core.io import read_yaml
from stages.core.labelsets import LABEL_SEP
from stages.core.origin import template_id

SLOT = re.compile(r"\{(\w+)\}")
TOP_KEYS = {"name", "description", "multi_label", "labels", "slots", "attributes", "prompts", "examples"}
LABEL_KEYS = {"description", "templates", "slots", "prompts", "attributes", "examples"}
PROMPT_FIELDS = {"n", "label", "description"}  # filled by the openai provider in every prompt
TEMPLATE_KEYS = {"template", "also"}  # a multi-label task's template entry written as a mapping


@dataclass(frozen=True)
class Label:
    name: str
    description: str
    templates: tuple[str, ...]
    slots: dict[str, tuple[str, ...]]  # the task's slots, overridden by the label's own
    prompts: tuple[str, ...] = ()
    attributes: dict[str, tuple[str, ...]] = field(default_factory=dict)  # the task's, overridden by the label's
    examples: tuple[str, ...] = ()
    also: tuple[tuple[str, ...], ...] = ()  # per template: the other labels its rows carry (multi-label tasks)
    ids: tuple[str, ...] = ()  # per template: its id (core/origin.template_id; a shared text: its first listing's)

    def extra_labels(self, index: int) -> tuple[str, ...]:
        """The labels a row of template `index` carries besides this one."""
        return self.also[index] if index < len(self.also) else ()


@dataclass(frozen=True)
class Task:
    name: str
    description: str
    labels: tuple[Label, ...]
    path: str
    prompts: tuple[str, ...] = ()  # model-as-label mode: the questions sent to every model
    attributes: dict[str, tuple[str, ...]] = field(default_factory=dict)
    examples: tuple[str, ...] = ()
    multi_label: bool = False  # rows carry one or more labels (core/labelsets.py)

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
        raise DataError(f"{where} must be a mapping of name to values, got {type(raw).__name__}")
    return {str(k): _strings(v, f"{where}.{k}") for k, v in raw.items()}


def _optional(spec: dict, key: str, where: str) -> tuple[str, ...]:
    return _strings(spec[key], where) if key in spec else ()


def _check_prompts(prompts: tuple[str, ...], attributes: dict[str, tuple[str, ...]], where: str) -> None:
    for prompt in prompts:
        for name in SLOT.findall(prompt):
            if name not in attributes and name not in PROMPT_FIELDS:
                raise DataError(f"{where}: placeholder {{{name}}} in {prompt!r} is neither an attribute "
                                f"nor one of {{n}}, {{label}}, {{description}}"[:300])


def _templates(spec: dict, multi_label: bool, where: str) -> tuple[tuple[str, ...], tuple[tuple[str, ...], ...]]:
    """A label's templates and, per template, its `also` labels (mapping entries of a multi-label task)."""
    raw = spec.get("templates")
    if raw is None:
        return (), ()
    if not isinstance(raw, list) or not raw:
        raise DataError(f"{where}.templates must be a non-empty list of strings, got {raw!r}"[:300])
    templates, also = [], []
    for i, entry in enumerate(raw):
        if isinstance(entry, dict):
            if not multi_label:
                raise DataError(f"{where}.templates[{i}]: a template with 'also' labels needs `multi_label: true` "
                                f"at the top of the task file, got {entry!r}"[:300])
            unknown = sorted(set(entry) - TEMPLATE_KEYS)
            if unknown or not isinstance(entry.get("template"), str):
                raise DataError(f"{where}.templates[{i}] must be a string or a mapping with 'template' (a string) "
                                f"and 'also' (label names), got {entry!r}"[:300])
            templates.append(entry["template"])
            also.append(_strings(entry.get("also"), f"{where}.templates[{i}].also") if "also" in entry else ())
        elif isinstance(entry, (str, int, float)):
            templates.append(str(entry))
            also.append(())
        else:
            raise DataError(f"{where}.templates[{i}] must be a string, got {entry!r}"[:300])
    return tuple(templates), tuple(also)


def _check_also(labels: list[Label], path: str | Path, multi_label: bool) -> None:
    names = {label.name for label in labels}
    for label in labels:
        if multi_label and (LABEL_SEP in label.name or label.name != label.name.strip()):
            raise DataError(f"{path}: labels.{label.name}: a label name of a multi-label task may not contain "
                            f"{LABEL_SEP!r} (it joins a row's labels) nor start or end with spaces")
        for i, also in enumerate(label.also):
            for name in also:
                if name not in names:
                    raise DataError(f"{path}: labels.{label.name}.templates[{i}].also names {name!r}, which is not "
                                    f"a label of the task ({', '.join(sorted(names))})")


def with_ids(labels: list[Label]) -> list[Label]:
    """The labels with their templates' ids: `<label>-<n>`, or the id of the text's first listing in the file."""
    first: dict[str, str] = {}
    return [replace(label, ids=tuple(first.setdefault(text, template_id(label.name, n))
                                                 for n, text in enumerate(label.templates, 1))) for label in labels]


def load_task(path: str | Path) -> Task:
    raw = read_yaml(path)
    if not isinstance(raw, dict):
        raise DataError(f"{path}: expected a mapping with 'labels', found {type(raw).__name__}")
    unknown = sorted(set(raw) - TOP_KEYS)
    if unknown:
        raise DataError(f"{path}: unknown field {unknown[0]!r} (known: {', '.join(sorted(TOP_KEYS))})")
    multi_label = raw.get("multi_label", False)
    if not isinstance(multi_label, bool):
        raise DataError(f"{path}: multi_label must be true or false, got {multi_label!r}")
    prompts = _optional(raw, "prompts", f"{path}: prompts")
    labels_raw = raw.get("labels")
    if not (prompts and labels_raw is None) and (not isinstance(labels_raw, dict) or len(labels_raw) < 2):
        raise DataError(f"{path}: 'labels' must map at least two label names to their specs")
    shared = _slots(raw.get("slots"), f"{path}: slots")
    shared_attributes = _slots(raw.get("attributes"), f"{path}: attributes")
    _check_prompts(prompts, shared_attributes, f"{path}: prompts")
    labels = []
    for name, spec in (labels_raw or {}).items():
        where = f"{path}: labels.{name}"
        if not isinstance(spec, dict):
            raise DataError(f"{where} must be a mapping, got {spec!r}")
        unknown = sorted(set(spec) - LABEL_KEYS)
        if unknown:
            raise DataError(f"{where}: unknown field {unknown[0]!r} (known: {', '.join(sorted(LABEL_KEYS))})")
        if "templates" not in spec and "prompts" not in spec:
            raise DataError(f"{where}: needs templates (template provider) or prompts (openai provider)")
        templates, also = _templates(spec, multi_label, where)
        slots = {**shared, **_slots(spec.get("slots"), f"{where}.slots")}
        for template in templates:
            for slot in SLOT.findall(template):
                if slot not in slots:
                    raise DataError(f"{where}.templates: slot {{{slot}}} in {template!r} has no values")
        attributes = {**shared_attributes, **_slots(spec.get("attributes"), f"{where}.attributes")}
        label_prompts = _optional(spec, "prompts", f"{where}.prompts")
        _check_prompts(label_prompts, attributes, f"{where}.prompts")
        labels.append(Label(str(name), str(spec.get("description", name)), templates, slots, label_prompts,
                            attributes, _optional(spec, "examples", f"{where}.examples"), also))
    _check_also(labels, path, multi_label)
    labels = with_ids(labels)
    return Task(str(raw.get("name", Path(path).stem)), str(raw.get("description", "")), tuple(labels), str(path),
                prompts, shared_attributes, _optional(raw, "examples", f"{path}: examples"), multi_label)
