"""Typed, validated sections of params.yaml.

`load("train")` returns a frozen dataclass. Unknown keys, wrong types, non-finite numbers and out-of-range values
raise `ParamsError` naming `section.key`, what was expected and found, before any work (machinery: core/schema.py).
"""

from __future__ import annotations

import dataclasses
import re
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stages.core.errors import ParamsError
from stages.core.schema import build, check

PARAMS_FILE = "params.yaml"


# ---------------------------------------------------------------------------------------- sections


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


@dataclass(frozen=True)
class Price:
    input: float = 0.0  # USD per million prompt tokens
    output: float = 0.0  # USD per million completion tokens

    def validate(self, p: str) -> None:
        for name in ("input", "output"):
            check(getattr(self, name) >= 0, f"{p}.{name}", ">= 0 (USD per million tokens)", getattr(self, name))


@dataclass(frozen=True)
class Generate:
    provider: typing.Literal["template", "csv", "openai"] = "template"
    mode: typing.Literal["label_conditioned", "model_as_label"] = "label_conditioned"
    task: str = "data/tasks/clickbait.yaml"
    n_per_label: int = 400
    min_chars: int = 3
    max_chars: int = 1000
    near_duplicate_threshold: float = 0.9
    shortcut_threshold: float = 0.9
    csv: CsvImport = field(default_factory=CsvImport)
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
    prices: dict[str, Price] = field(default_factory=dict)

    def validate(self, p: str) -> None:
        check(self.n_per_label >= 1, f"{p}.n_per_label", ">= 1", self.n_per_label)
        check(self.min_chars >= 1, f"{p}.min_chars", ">= 1", self.min_chars)
        check(self.max_chars > self.min_chars, f"{p}.max_chars", f"> generate.min_chars ({self.min_chars})",
               self.max_chars)
        for name in ("near_duplicate_threshold", "shortcut_threshold"):
            check(0 < getattr(self, name) <= 1, f"{p}.{name}", "a fraction in (0, 1]", getattr(self, name))
        if self.mode == "model_as_label":
            check(len(set(self.models)) >= 2 and len(set(self.models)) == len(self.models), f"{p}.models",
                   "at least two distinct model names in model_as_label mode", list(self.models))
        check(self.base_url is None or self.base_url.startswith(("http://", "https://")), f"{p}.base_url",
               "null or an http(s):// URL", self.base_url)
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", self.api_key_env):  # its value is not echoed: it may be a key
            raise ParamsError(f"params.yaml: {p}.api_key_env must be the name of an environment variable such as "
                              "OPENAI_API_KEY (never the key itself), got something else")
        check(0 <= self.temperature <= 2, f"{p}.temperature", "in [0, 2]", self.temperature)
        check(self.max_tokens >= 16, f"{p}.max_tokens", ">= 16 tokens", self.max_tokens)
        check(1 <= self.samples_per_request <= 100, f"{p}.samples_per_request", "in [1, 100]",
               self.samples_per_request)
        check(1 <= self.concurrency <= 256, f"{p}.concurrency", "in [1, 256]", self.concurrency)
        check(self.timeout_s > 0, f"{p}.timeout_s", "> 0 seconds", self.timeout_s)
        check(0 <= self.max_retries <= 20, f"{p}.max_retries", "in [0, 20]", self.max_retries)
        for name in ("backoff_s", "few_shot", "max_requests", "max_total_tokens"):
            check(getattr(self, name) >= 0, f"{p}.{name}", ">= 0", getattr(self, name))


@dataclass(frozen=True)
class Split:
    val_size: float = 0.2
    test_size: float = 0.2
    near_duplicate_threshold: float = 0.8

    def validate(self, p: str) -> None:
        for name in ("val_size", "test_size"):
            v = getattr(self, name)
            check(0.0 < v < 1.0, f"{p}.{name}", "a fraction in (0, 1)", v)
        check(0 < self.near_duplicate_threshold <= 1, f"{p}.near_duplicate_threshold", "a fraction in (0, 1]",
              self.near_duplicate_threshold)
        total = self.val_size + self.test_size
        check(total < 0.9, f"{p}.val_size + {p}.test_size", "< 0.9 (train needs rows)", total)


SCHEDULERS = ("linear", "cosine", "cosine_with_restarts", "polynomial", "constant", "constant_with_warmup",
              "inverse_sqrt")


@dataclass(frozen=True)
class Train:
    model: str = "sentence-transformers/all-MiniLM-L6-v2"
    epochs: float = 3.0
    max_steps: int = 0
    learning_rate: float = 5e-5
    batch_size: int = 32
    gradient_accumulation_steps: int = 1
    eval_batch_size: int = 128
    weight_decay: float = 0.01
    warmup_ratio: float = 0.1
    lr_scheduler: str = "linear"
    label_smoothing: float = 0.0
    class_weights: typing.Literal["none", "balanced", "explicit"] = "none"
    label_weights: dict[str, float] = field(default_factory=dict)
    freeze: typing.Literal["none", "all_but_head", "embeddings_and_first", "all_but_last"] = "none"
    freeze_layers: int = 0
    early_stopping_patience: int = 0
    metric_for_best_model: typing.Literal["f1_macro", "accuracy", "loss"] = "f1_macro"
    max_length: int = 0
    length_percentile: float = 99.0
    precision: typing.Literal["auto", "fp32", "bf16", "fp16"] = "auto"
    resume: bool = False
    deterministic: bool = False
    overfit_patience: int = 2
    card_license: str = "apache-2.0"
    card_language: str = "en"

    def validate(self, p: str) -> None:
        check(self.epochs > 0, f"{p}.epochs", "> 0", self.epochs)
        check(self.max_steps >= 0, f"{p}.max_steps", ">= 0 (0: train for train.epochs)", self.max_steps)
        check(0 < self.learning_rate < 1, f"{p}.learning_rate", "in (0, 1)", self.learning_rate)
        check(self.batch_size >= 1, f"{p}.batch_size", ">= 1", self.batch_size)
        check(self.gradient_accumulation_steps >= 1, f"{p}.gradient_accumulation_steps", ">= 1",
               self.gradient_accumulation_steps)
        check(self.eval_batch_size >= 1, f"{p}.eval_batch_size", ">= 1", self.eval_batch_size)
        check(self.weight_decay >= 0, f"{p}.weight_decay", ">= 0", self.weight_decay)
        check(0 <= self.warmup_ratio < 1, f"{p}.warmup_ratio", "in [0, 1)", self.warmup_ratio)
        check(self.lr_scheduler in SCHEDULERS, f"{p}.lr_scheduler", "one of " + ", ".join(SCHEDULERS),
               self.lr_scheduler)
        check(0 <= self.label_smoothing < 1, f"{p}.label_smoothing", "in [0, 1)", self.label_smoothing)
        for label, weight in self.label_weights.items():
            check(0 < weight < float("inf"), f"{p}.label_weights.{label}", "a weight > 0", weight)
        check(self.class_weights != "explicit" or bool(self.label_weights), f"{p}.label_weights",
               "a weight for every label when train.class_weights is explicit", self.label_weights)
        check(self.freeze_layers >= 0, f"{p}.freeze_layers", ">= 0 encoder layers", self.freeze_layers)
        check(self.early_stopping_patience >= 0, f"{p}.early_stopping_patience", ">= 0 evaluations (0: off)",
               self.early_stopping_patience)
        check(self.max_length == 0 or 8 <= self.max_length <= 8192, f"{p}.max_length",
               "0 (auto) or in [8, 8192] tokens", self.max_length)
        check(0 < self.length_percentile <= 100, f"{p}.length_percentile", "in (0, 100]", self.length_percentile)
        check(self.overfit_patience >= 1, f"{p}.overfit_patience", ">= 1 evaluations", self.overfit_patience)
        check(bool(re.fullmatch(r"[\w.+-]+", self.card_license)), f"{p}.card_license", "a license id", self.card_license)
        check(self.card_language.isalpha(), f"{p}.card_language", "an ISO 639 code (e.g. en)", self.card_language)


BASELINES = ("majority", "tfidf_lr", "frozen_lr")


@dataclass(frozen=True)
class Baselines:
    models: tuple[typing.Literal["majority", "tfidf_lr", "frozen_lr"], ...] = BASELINES
    tfidf_max_ngram: int = 2
    c: float = 1.0
    max_length: int = 64

    def validate(self, p: str) -> None:
        check(len(set(self.models)) == len(self.models), f"{p}.models", "a list without repeats", list(self.models))
        check(1 <= self.tfidf_max_ngram <= 5, f"{p}.tfidf_max_ngram", "in [1, 5] words", self.tfidf_max_ngram)
        check(self.c > 0, f"{p}.c", "> 0", self.c)
        check(8 <= self.max_length <= 8192, f"{p}.max_length", "in [8, 8192] tokens", self.max_length)


@dataclass(frozen=True)
class ExternalTest:
    name: str
    path: str
    text_column: str = "text"
    label_column: str = "label"
    label_map: dict[str, str] = field(default_factory=dict)

    def validate(self, p: str) -> None:
        check(all(ch.isalnum() or ch in "-_" for ch in self.name) and self.name != "test", f"{p}.name",
               "letters, digits, - or _ (not 'test', the split's name)", self.name)
        parts = Path(self.path).parts
        check(not Path(self.path).is_absolute() and ".." not in parts and not self.path.startswith("~"),
               f"{p}.path", "a file path relative to the external test directory (data/external/)", self.path)


@dataclass(frozen=True)
class Evaluate:
    batch_size: int = 128
    positive_label: str | None = None
    bootstrap: int = 1000
    confidence: float = 0.95
    calibration_bins: int = 10
    length_buckets: tuple[int, ...] = (8, 11)
    baselines: Baselines = field(default_factory=Baselines)
    external_test: tuple[ExternalTest, ...] = ()

    def validate(self, p: str) -> None:
        check(self.batch_size >= 1, f"{p}.batch_size", ">= 1", self.batch_size)
        check(100 <= self.bootstrap <= 100_000, f"{p}.bootstrap", "in [100, 100000] resamples", self.bootstrap)
        check(0.5 <= self.confidence < 1, f"{p}.confidence", "in [0.5, 1)", self.confidence)
        check(2 <= self.calibration_bins <= 100, f"{p}.calibration_bins", "in [2, 100]", self.calibration_bins)
        edges = list(self.length_buckets)
        check(all(e >= 1 for e in edges) and edges == sorted(set(edges)), f"{p}.length_buckets",
               "increasing word counts >= 1", edges)
        names = [e.name for e in self.external_test]
        check(len(set(names)) == len(names), f"{p}.external_test", "entries with distinct names", names)


@dataclass(frozen=True)
class Explain:
    max_examples: int = 10
    correct_per_label: int = 2
    num_samples: int = 5000
    num_features: int = 8
    pattern_tokens: int = 10
    batch_size: int = 256

    def validate(self, p: str) -> None:
        check(self.max_examples >= 0, f"{p}.max_examples", ">= 0", self.max_examples)
        check(self.correct_per_label >= 0, f"{p}.correct_per_label", ">= 0", self.correct_per_label)
        check(self.num_samples >= 10, f"{p}.num_samples", ">= 10", self.num_samples)
        check(self.num_features >= 1, f"{p}.num_features", ">= 1", self.num_features)
        check(self.pattern_tokens >= 1, f"{p}.pattern_tokens", ">= 1", self.pattern_tokens)
        check(self.batch_size >= 1, f"{p}.batch_size", ">= 1", self.batch_size)


@dataclass(frozen=True)
class Report:
    near_perfect_f1: float = 0.99
    ece_warning: float = 0.1

    def validate(self, p: str) -> None:
        check(0 < self.near_perfect_f1 <= 1, f"{p}.near_perfect_f1", "in (0, 1]", self.near_perfect_f1)
        check(0 <= self.ece_warning <= 1, f"{p}.ece_warning", "in [0, 1]", self.ece_warning)


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
    """Load and validate one section of params.yaml."""
    return build(SECTIONS[section], read_params(path).get(section), section)


def load_dict(raw: dict[str, Any], section: str) -> Any:
    """Validate one section given as a plain dict (tests and tools)."""
    return build(SECTIONS[section], raw, section)


def as_dict(obj: Any) -> dict[str, Any]:
    return dataclasses.asdict(obj)


__all__ = ["load", "load_dict", "build", "as_dict", "ParamsError", "SECTIONS"]
