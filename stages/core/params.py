"""Typed, validated sections of params.yaml.

`load("train")` returns a frozen dataclass. Unknown keys, wrong types, non-finite numbers and out-of-range values
raise `ParamsError` naming `section.key`, what was expected and found, before any work (machinery: core/schema.py).
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stages.core.errors import ParamsError
from stages.core.params_model import (BASELINES, SCHEDULERS, Baselines, Evaluate, Explain, ExternalTest, LlmBaseline,
                                       Report, SetFitBaseline, Train, check_client)
from stages.core.params_annotate import Judge, LlmLabel
from stages.core.params_real import RealRows, check_separator
from stages.core.schema import build, check

PARAMS_FILE = "params.yaml"


@dataclass(frozen=True)
class Base:
    seed: int = 42

    def validate(self, p: str) -> None:
        check(0 <= self.seed < 2**32, f"{p}.seed", "an integer in [0, 2**32)", self.seed)


@dataclass(frozen=True)
class CsvImport:
    path: str = "data/raw/headlines.csv"
    text_column: str = "text"
    label_column: str = "label"
    label_separator: str | None = None  # null: one label per row; e.g. "|": label sets (a multi-label data set)

    def validate(self, p: str) -> None:
        check_separator(self.label_separator, f"{p}.label_separator")


@dataclass(frozen=True)
class Price:
    input: float = 0.0  # USD per million prompt tokens
    output: float = 0.0  # USD per million completion tokens
    batch_input: float | None = None  # the Batch API's price per million prompt tokens; None: half of `input`
    batch_output: float | None = None  # the Batch API's price per million completion tokens; None: half of `output`

    def validate(self, p: str) -> None:
        for name in ("input", "output", "batch_input", "batch_output"):
            value = getattr(self, name)
            check(value is None or value >= 0, f"{p}.{name}", ">= 0 (USD per million tokens)", value)


@dataclass(frozen=True)
class Generate:
    provider: typing.Literal["template", "csv", "openai", "llm_label"] = "template"
    mode: typing.Literal["label_conditioned", "model_as_label"] = "label_conditioned"
    task: str = "data/tasks/clickbait.yaml"
    n_per_label: int = 400
    min_chars: int = 3
    max_chars: int = 1000
    near_duplicate_threshold: float = 0.9
    shortcut_threshold: float = 0.9
    csv: CsvImport = field(default_factory=CsvImport)
    real: RealRows = field(default_factory=RealRows)
    llm_label: LlmLabel = field(default_factory=LlmLabel)
    judge: Judge = field(default_factory=Judge)
    few_shot_source: typing.Literal["task", "real"] = "task"
    label_filter: typing.Literal["none", "confident_learning"] = "none"
    model: str = "gpt-4o-mini"
    models: tuple[str, ...] = ("gpt-4o-mini", "gpt-4.1-nano")
    base_url: str | None = None
    api_key_env: str = "OPENAI_API_KEY"
    temperature: float = 1.0
    max_tokens: int = 2048
    samples_per_request: int = 10
    few_shot: int = 3
    concurrency: int = 8
    timeout_s: float = 60.0
    max_retries: int = 5
    backoff_s: float = 1.0
    max_requests: int = 0
    max_total_tokens: int = 0
    max_planned_requests: int = 100_000
    batch: bool = False
    batch_poll_s: float = 30.0
    reasoning_models: tuple[str, ...] = ("o1", "o3", "o4", "gpt-5")

    def validate(self, p: str) -> None:
        # More runs for hours (template) or fills memory with a plan of requests (openai).
        check(1 <= self.n_per_label <= 1_000_000, f"{p}.n_per_label", "in [1, 1,000,000] rows", self.n_per_label)
        check(self.max_planned_requests >= 1, f"{p}.max_planned_requests", ">= 1", self.max_planned_requests)
        check(self.min_chars >= 1, f"{p}.min_chars", ">= 1", self.min_chars)
        check(self.max_chars > self.min_chars, f"{p}.max_chars", f"> generate.min_chars ({self.min_chars})",
               self.max_chars)
        for name in ("near_duplicate_threshold", "shortcut_threshold"):
            check(0 < getattr(self, name) <= 1, f"{p}.{name}", "a fraction in (0, 1]", getattr(self, name))
        if self.mode == "model_as_label":
            check(len(set(self.models)) >= 2 and len(set(self.models)) == len(self.models), f"{p}.models",
                   "at least two distinct model names in model_as_label mode", list(self.models))
        check_client(self, p)
        check(1 <= self.samples_per_request <= 100, f"{p}.samples_per_request", "in [1, 100]",
               self.samples_per_request)
        check(self.few_shot >= 0, f"{p}.few_shot", ">= 0", self.few_shot)
        check(self.few_shot_source == "task" or self.real.path is not None, f"{p}.few_shot_source",
              "task unless generate.real.path names the real rows", self.few_shot_source)
        check(self.judge.mode == "none" or self.provider != "openai" or self.mode == "label_conditioned",
              f"{p}.judge.mode", "none in model_as_label mode (the label is the model that wrote the text: nothing "
              "to judge)", self.judge.mode)


@dataclass(frozen=True)
class Split:
    val_size: float = 0.2
    test_size: float = 0.2
    near_duplicate_threshold: float = 0.8
    val_source: typing.Literal["all", "real"] = "all"  # real: only rows whose source is real
    test_source: typing.Literal["all", "real"] = "all"
    # What joins rows into groups that land in one split: rows of one origin (a template's fills, one LLM
    # request's texts), chains of near-duplicates. Equal texts always share a split.
    group_by: tuple[typing.Literal["origin", "near_duplicates"], ...] = ("origin", "near_duplicates")

    def validate(self, p: str) -> None:
        check(0 < len(self.group_by) == len(set(self.group_by)), f"{p}.group_by",
              "a list of origin and/or near_duplicates (at least one, each once)", list(self.group_by))
        for name in ("val_size", "test_size"):
            v = getattr(self, name)
            check(0.0 < v < 1.0, f"{p}.{name}", "a fraction in (0, 1)", v)
        check(0 < self.near_duplicate_threshold <= 1, f"{p}.near_duplicate_threshold", "a fraction in (0, 1]",
              self.near_duplicate_threshold)
        total = self.val_size + self.test_size
        check(total < 0.9, f"{p}.val_size + {p}.test_size", "< 0.9 (train needs rows)", total)


SECTIONS: dict[str, type] = {
    "base": Base,
    "generate": Generate,
    "split": Split,
    "train": Train,
    "evaluate": Evaluate,
    "explain": Explain,
    "report": Report,
}


def read_params(path: str | Path = PARAMS_FILE) -> dict[str, Any]:
    from stages.core.io import read_yaml

    raw = read_yaml(path)
    if not isinstance(raw, dict):
        raise ParamsError(f"{path}: expected a mapping of sections, found {type(raw).__name__}")
    unknown = sorted(set(raw) - set(SECTIONS))
    if unknown:
        raise ParamsError(f"{path}: unknown section {unknown[0]!r} (known: {', '.join(SECTIONS)})")
    return raw


def load(section: str, path: str | Path = PARAMS_FILE) -> Any:
    """Load and validate one section of params.yaml; the section must be there (`section: {}` takes every
    default), so a stage run by hand never trains on defaults that `dvc repro` would not use."""
    raw = read_params(path)
    if section not in raw:
        raise ParamsError(f"{path}: missing section {section!r} (write `{section}: {{}}` to take its defaults)")
    return build(SECTIONS[section], raw[section], section)


def load_prices(path: str | Path | None) -> dict[str, Price]:
    """The price table (data/prices.yaml: model -> {input, output} USD per million tokens); {} without one.
    Kept out of params.yaml so `dvc exp show` does not list a column per price."""
    if path is None:
        return {}
    from stages.core.errors import DataError
    from stages.core.io import read_yaml

    raw = read_yaml(path) or {}
    if not isinstance(raw, dict):
        raise DataError(f"{path}: expected a mapping of model name -> {{input, output}}, found {type(raw).__name__}")
    try:
        return {str(model): build(Price, value, str(model)) for model, value in raw.items()}
    except ParamsError as exc:  # the same checks as a params section, named after this file
        raise DataError(str(exc).replace("params.yaml: ", f"{path}: ", 1)) from None


def load_dict(raw: dict[str, Any], section: str) -> Any:
    """Validate one section given as a plain dict (tests and tools)."""
    return build(SECTIONS[section], raw, section)


def as_dict(obj: Any) -> dict[str, Any]:
    return dataclasses.asdict(obj)


__all__ = ["load", "load_dict", "build", "as_dict", "ParamsError", "SECTIONS", "Base", "Generate", "Split", "Train",
           "Evaluate", "Explain", "Report", "Baselines", "SetFitBaseline", "ExternalTest", "RealRows", "Judge", "LlmLabel",
           "BASELINES", "SCHEDULERS"]
