"""The typed `generate.judge` and `generate.llm_label` params: an LLM that checks the generated labels, and the
provider whose labels an LLM gives to a CSV of texts. Kept beside params.py (which builds them into the generate
section) so that module stays under the size limit."""

from __future__ import annotations

import typing
from dataclasses import dataclass

from stages.core.params_model import ChatClient
from stages.core.params_real import under_raw
from stages.core.schema import check


@dataclass(frozen=True)
class Judge(ChatClient):
    """generate.judge: the chat model that labels the cleaned rows blind (generation/judge.py), with its own client
    settings (ChatClient)."""
    section = "generate.judge"  # not a field: how core/llm/client.py names these keys in its errors
    mode: typing.Literal["none", "report", "drop", "relabel"] = "none"
    model: str = "gpt-4o-mini"
    sample: int = 0
    texts_per_request: int = 20

    def validate(self, p: str) -> None:
        super().validate(p)
        check(self.sample >= 0, f"{p}.sample", ">= 0 rows (0: every row)", self.sample)
        check(1 <= self.texts_per_request <= 100, f"{p}.texts_per_request", "in [1, 100]", self.texts_per_request)
        check(self.model.strip() != "", f"{p}.model", "a model name", self.model)


@dataclass(frozen=True)
class LlmLabel:
    """generate.llm_label: the unlabelled CSV and the models that label it (generation/llm_label.py); the client
    settings (base_url, api_key_env, max_tokens, concurrency, retries, budget) are generate's."""
    path: str = "data/raw/unlabelled.csv"
    text_column: str = "text"
    models: tuple[str, ...] = ("gpt-4o-mini",)
    texts_per_request: int = 20
    temperature: float = 0.0

    def validate(self, p: str) -> None:
        check(self.path.lower().endswith(".csv") and under_raw(self.path), f"{p}.path",
              "a .csv file under data/raw/ (which DVC watches for the inputs stage; e.g. data/raw/unlabelled.csv)", self.path)
        check(len(self.models) >= 1 and len(set(self.models)) == len(self.models)
              and all(m.strip() for m in self.models), f"{p}.models", "one or more distinct model names",
              list(self.models))
        check(1 <= self.texts_per_request <= 100, f"{p}.texts_per_request", "in [1, 100]", self.texts_per_request)
        check(0 <= self.temperature <= 2, f"{p}.temperature", "in [0, 2]", self.temperature)
