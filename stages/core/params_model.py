"""The model-side sections of params.yaml: train, evaluate (with its baselines and external sets), explain and
report. Built and checked like every section (core/schema.py); params.py re-exports them with the data-side
sections, so stages write `params.Train` and `params.load("train")`.
"""

from __future__ import annotations

import re
import typing
from dataclasses import dataclass, field
from pathlib import Path

from stages.core.errors import ParamsError
from stages.core.schema import check

TRACKERS = ("wandb", "mlflow", "tensorboard")  # train.report_to: the Trainer integrations beside DVCLive
SCHEDULERS = ("linear", "cosine", "cosine_with_restarts", "polynomial", "constant", "constant_with_warmup",
              "inverse_sqrt")


LOWER_BOUNDS = (("max_steps", 0, " (0: train for train.epochs)"), ("batch_size", 1, ""),
                ("gradient_accumulation_steps", 1, ""), ("eval_batch_size", 1, ""), ("weight_decay", 0, ""),
                ("lr_cycles", 1, " cosine cycles"), ("max_grad_norm", 0, " (0: no clipping)"),
                ("eval_steps", 0, " optimizer steps (0: evaluate every epoch)"), ("freeze_layers", 0, " encoder layers"),
                ("early_stopping_patience", 0, " evaluations (0: off)"), ("overfit_patience", 1, " evaluations"))


@dataclass(frozen=True)
class Train:
    model: str = "sentence-transformers/all-MiniLM-L6-v2"
    epochs: float = 4.0
    max_steps: int = 0
    learning_rate: float = 5e-5
    batch_size: int = 32
    gradient_accumulation_steps: int = 1
    eval_batch_size: int = 128
    weight_decay: float = 0.01
    warmup_ratio: float = 0.1
    lr_scheduler: str = "linear"
    lr_cycles: int = 1
    max_grad_norm: float = 1.0
    eval_steps: int = 0
    label_smoothing: float = 0.0
    class_weights: typing.Literal["auto", "none", "balanced", "explicit"] = "auto"
    label_weights: dict[str, float] = field(default_factory=dict)
    decision: typing.Literal["auto", "argmax", "tuned"] = "auto"
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
    report_to: tuple[str, ...] = ()

    def validate(self, p: str) -> None:
        check(self.epochs > 0, f"{p}.epochs", "> 0", self.epochs)
        for name, low, note in LOWER_BOUNDS:
            check(getattr(self, name) >= low, f"{p}.{name}", f">= {low}{note}", getattr(self, name))
        check(0 < self.learning_rate < 1, f"{p}.learning_rate", "in (0, 1)", self.learning_rate)
        check(0 <= self.warmup_ratio < 1, f"{p}.warmup_ratio", "in [0, 1)", self.warmup_ratio)
        check(self.lr_scheduler in SCHEDULERS, f"{p}.lr_scheduler", "one of " + ", ".join(SCHEDULERS),
              self.lr_scheduler)
        check(self.lr_cycles == 1 or self.lr_scheduler == "cosine_with_restarts", f"{p}.lr_cycles",
              "1 unless train.lr_scheduler is cosine_with_restarts (the only schedule that restarts)", self.lr_cycles)
        check(0 <= self.label_smoothing < 1, f"{p}.label_smoothing", "in [0, 1)", self.label_smoothing)
        for label, weight in self.label_weights.items():
            check(0 < weight < float("inf"), f"{p}.label_weights.{label}", "a weight > 0", weight)
        check(self.class_weights != "explicit" or bool(self.label_weights), f"{p}.label_weights",
              "a weight for every label when train.class_weights is explicit", self.label_weights)
        check(self.max_length == 0 or 8 <= self.max_length <= 8192, f"{p}.max_length",
               "0 (auto) or in [8, 8192] tokens", self.max_length)
        check(0 < self.length_percentile <= 100, f"{p}.length_percentile", "in (0, 100]", self.length_percentile)
        check(bool(re.fullmatch(r"[\w.+-]+", self.card_license)), f"{p}.card_license", "a license id", self.card_license)
        check(self.card_language.isalpha(), f"{p}.card_language", "an ISO 639 code (e.g. en)", self.card_language)
        check(all(t in TRACKERS for t in self.report_to) and len(set(self.report_to)) == len(self.report_to),
              f"{p}.report_to", "a list of distinct trackers among " + ", ".join(TRACKERS), list(self.report_to))


BASELINES = ("majority", "tfidf_lr", "frozen_lr")  # the default: none of them calls an LLM


def check_client(cfg: typing.Any, p: str) -> None:
    """The LLM client settings that generate and evaluate.baselines.llm share (core/llm/client.py reads them by
    these names): endpoint, key variable, sampling, concurrency, timeouts, retries and budgets."""
    check(cfg.base_url is None or cfg.base_url.startswith(("http://", "https://")), f"{p}.base_url",
          "null or an http(s):// URL", cfg.base_url)
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", cfg.api_key_env):  # its value is not echoed: it may be a key
        raise ParamsError(f"params.yaml: {p}.api_key_env must be the name of an environment variable such as "
                          "OPENAI_API_KEY (never the key itself), got something else")
    check(0 <= cfg.temperature <= 2, f"{p}.temperature", "in [0, 2]", cfg.temperature)
    check(cfg.max_tokens >= 16, f"{p}.max_tokens", ">= 16 tokens", cfg.max_tokens)
    check(1 <= cfg.concurrency <= 256, f"{p}.concurrency", "in [1, 256]", cfg.concurrency)
    check(cfg.timeout_s > 0, f"{p}.timeout_s", "> 0 seconds", cfg.timeout_s)
    check(0 <= cfg.max_retries <= 20, f"{p}.max_retries", "in [0, 20]", cfg.max_retries)
    for name in ("backoff_s", "max_requests", "max_total_tokens"):
        check(getattr(cfg, name) >= 0, f"{p}.{name}", ">= 0", getattr(cfg, name))
    check(cfg.batch_poll_s > 0, f"{p}.batch_poll_s", "> 0 seconds", cfg.batch_poll_s)
    check(not cfg.batch or cfg.max_total_tokens == 0, f"{p}.max_total_tokens",
          f"0 when {p}.batch is true (a batch cannot stop part-way)", cfg.max_total_tokens)
    check(all(m.strip() for m in cfg.reasoning_models), f"{p}.reasoning_models", "a list of non-empty model-name "
          "prefixes", list(cfg.reasoning_models))


@dataclass(frozen=True)
class ChatClient:
    """The client settings of a section that labels texts with a chat model (evaluate.baselines.llm, generate.judge):
    they mean what they mean under generate (core/llm/client.py reads them by the same names)."""
    base_url: str | None = None
    api_key_env: str = "OPENAI_API_KEY"
    temperature: float = 0.0
    max_tokens: int = 2048
    concurrency: int = 8
    timeout_s: float = 60.0
    max_retries: int = 5
    backoff_s: float = 1.0
    max_requests: int = 0
    max_total_tokens: int = 0
    batch: bool = False
    batch_poll_s: float = 30.0
    reasoning_models: tuple[str, ...] = ("o1", "o3", "o4", "gpt-5")

    def validate(self, p: str) -> None:
        check_client(self, p)


@dataclass(frozen=True)
class LlmBaseline(ChatClient):
    """evaluate.baselines.llm: the chat model behind the llm_zero_shot baseline (evaluation/llm_baseline.py)."""
    section = "evaluate.baselines.llm"  # not a field: how core/llm/client.py names these keys in its errors
    model: str = "gpt-4o-mini"
    texts_per_request: int = 20
    descriptions: dict[str, str] = field(default_factory=dict)

    def validate(self, p: str) -> None:
        super().validate(p)
        check(1 <= self.texts_per_request <= 100, f"{p}.texts_per_request", "in [1, 100]", self.texts_per_request)


@dataclass(frozen=True)
class SetFitBaseline:
    """evaluate.baselines.setfit: the cost of the setfit baseline's contrastive phase (evaluation/setfit_baseline)."""
    num_iterations: int = 5
    epochs: int = 1
    batch_size: int = 16
    max_steps: int = 1000
    learning_rate: float = 2e-5

    def validate(self, p: str) -> None:
        check(1 <= self.num_iterations <= 100, f"{p}.num_iterations", "in [1, 100] pairs per train row and kind",
              self.num_iterations)
        check(self.epochs >= 1, f"{p}.epochs", ">= 1", self.epochs)
        check(self.batch_size >= 2, f"{p}.batch_size", ">= 2 pairs", self.batch_size)
        check(self.max_steps >= 0, f"{p}.max_steps", ">= 0 (0: no cap)", self.max_steps)
        check(0 < self.learning_rate < 1, f"{p}.learning_rate", "in (0, 1)", self.learning_rate)


@dataclass(frozen=True)
class Baselines:
    models: tuple[typing.Literal["majority", "tfidf_lr", "frozen_lr", "setfit", "llm_zero_shot"], ...] = BASELINES
    tfidf_max_ngram: int = 2
    tfidf_char_ngrams: tuple[int, ...] = (2, 5)
    c_grid: tuple[float, ...] = (0.01, 0.1, 1.0, 10.0, 100.0)
    cv_folds: int = 5
    max_length: int = 64
    setfit: SetFitBaseline = field(default_factory=SetFitBaseline)
    llm: LlmBaseline = field(default_factory=LlmBaseline)

    def validate(self, p: str) -> None:
        check(len(set(self.models)) == len(self.models), f"{p}.models", "a list without repeats", list(self.models))
        check(1 <= self.tfidf_max_ngram <= 5, f"{p}.tfidf_max_ngram", "in [1, 5] words", self.tfidf_max_ngram)
        chars = list(self.tfidf_char_ngrams)
        check(chars == [] or (len(chars) == 2 and 1 <= chars[0] <= chars[1] <= 10), f"{p}.tfidf_char_ngrams",
              "[] (word n-grams only) or [shortest, longest] characters with 1 <= shortest <= longest <= 10", chars)
        grid = list(self.c_grid)
        check(bool(grid) and all(c > 0 for c in grid) and grid == sorted(set(grid)), f"{p}.c_grid",
              "a non-empty list of increasing values > 0", grid)
        check(2 <= self.cv_folds <= 20, f"{p}.cv_folds", "in [2, 20]", self.cv_folds)
        check(8 <= self.max_length <= 8192, f"{p}.max_length", "in [8, 8192] tokens", self.max_length)


@dataclass(frozen=True)
class ExternalTest:
    name: str   # the set's name in reports, metrics and `synthbert focus --dev NAME`
    path: str   # CSV path under data/external/
    text_column: str = "text"   # column holding the text
    label_column: str = "label"   # column holding the label
    label_map: dict[str, str] = field(default_factory=dict)  # {file label: model label}
    label_separator: str | None = None   # splits a label cell into several labels (multi-label model; default "|")
    role: typing.Literal["dev", "test"] = "test"   # test: only judges (leads the Verdict); dev: may steer automated rounds

    def validate(self, p: str) -> None:
        check(all(ch.isalnum() or ch in "-_" for ch in self.name) and self.name != "test", f"{p}.name",
               "letters, digits, - or _ (not 'test', the split's name)", self.name)
        parts = Path(self.path).parts
        check(not Path(self.path).is_absolute() and ".." not in parts and not self.path.startswith("~"),
               f"{p}.path", "a file path relative to the external test directory (data/external/)", self.path)


@dataclass(frozen=True)
class Evaluate:
    batch_size: int = 128
    precision: typing.Literal["auto", "fp32", "bf16"] = "auto"
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
    mode: typing.Literal["converge", "exact"] = "converge"
    min_samples: int = 500
    tolerance: float = 0.1
    max_seconds: float = 3.0
    precision: typing.Literal["auto", "fp32", "bf16"] = "auto"

    def validate(self, p: str) -> None:
        for name, low in (("max_examples", 0), ("correct_per_label", 0), ("num_samples", 10), ("num_features", 1),
                          ("pattern_tokens", 1), ("batch_size", 1), ("min_samples", 10)):
            check(getattr(self, name) >= low, f"{p}.{name}", f">= {low}", getattr(self, name))
        check(0 < self.tolerance < 1, f"{p}.tolerance", "in (0, 1): a fraction of the largest weight", self.tolerance)
        check(self.max_seconds > 0, f"{p}.max_seconds", "> 0 seconds", self.max_seconds)


@dataclass(frozen=True)
class Report:
    near_perfect_f1: float = 0.99
    ece_warning: float = 0.1
    data_license: str = "apache-2.0"
    data_language: str = "en"

    def validate(self, p: str) -> None:
        check(0 < self.near_perfect_f1 <= 1, f"{p}.near_perfect_f1", "in (0, 1]", self.near_perfect_f1)
        check(0 <= self.ece_warning <= 1, f"{p}.ece_warning", "in [0, 1]", self.ece_warning)
        check(bool(re.fullmatch(r"[\w.+-]+", self.data_license)), f"{p}.data_license", "a license id", self.data_license)
        check(self.data_language.isalpha(), f"{p}.data_language", "an ISO 639 code (e.g. en)", self.data_language)


