"""What the LLM client (core/llm/client.py) works on: a planned `Request`, the `Outcome` of a fetch, the endpoint
requests go to, the cache line of an answer, and the error that stops a fetch."""

from __future__ import annotations

import collections
import os
from dataclasses import dataclass, field
from typing import Any

from stages.core.errors import SynthbertError

OPENAI_URL = "https://api.openai.com/v1"


def endpoint(base_url: str | None) -> str:
    """Where requests go: `base_url` from params.yaml, else $OPENAI_BASE_URL (the openai SDK's convention),
    else the OpenAI API."""
    return base_url or os.environ.get("OPENAI_BASE_URL", "").strip() or OPENAI_URL


class LLMError(SynthbertError):
    """The server refused the requests, or kept failing after the allowed retries."""


@dataclass(frozen=True)
class Request:
    key: str  # cache.request_key(body, index)
    label: str
    index: int
    body: dict[str, Any]  # model, messages, temperature, max_tokens, seed, response_format
    origin: str = ""  # the origin of the rows its answer gives (core/origin.llm); "" when its answers are not rows


@dataclass
class Outcome:
    used: list[tuple[Request, dict[str, Any]]] = field(default_factory=list)  # plan order, with cache entries
    planned: int = 0
    sent: int = 0  # requests answered by the server in this run (the rest came from the cache or the store)
    from_store: int = 0  # answers this run took from the machine store (bought by another workspace or process)
    new_keys: set[str] = field(default_factory=set)
    retries: collections.Counter[str] = field(default_factory=collections.Counter)  # reason -> retries
    failed: list[tuple[Request, str]] = field(default_factory=list)  # given up (not cached), with what was answered
    budget_exhausted: bool = False


def section_of(cfg: Any) -> str:  # where cfg's keys live in params.yaml, for messages (evaluate.baselines.llm)
    return getattr(cfg, "section", "generate")


def entry_of(req: Request, response: str, batch: str | None = None) -> dict[str, Any]:
    """The workspace cache's line for `req` answered by `response`; `batch`: the id of the Batch API batch that
    answered it (priced at the batch price), absent for an answer to a single request."""
    entry = {"key": req.key, "label": req.label, "index": req.index, "request": req.body, "response": response}
    if batch is not None:
        entry["batch"] = batch
    return entry
