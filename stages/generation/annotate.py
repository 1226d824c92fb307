"""Texts labelled by a chat model, for generate's LLM judge (judge.py) and llm_label provider (llm_label.py).

Batches of `size` texts, in the order given, go through the LLM client (core/llm/client.py: the workspace cache, the
machine store, retries, budget) in the classification format of core/llm/classify.py. A batch's request key depends
only on its texts, the model, the instructions and the sampling settings, so a rerun over the same texts sends
nothing. Texts of a request that failed or that the budget left unasked get no answer (`unanswered`).
"""

from __future__ import annotations

import collections
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stages.core import params
from stages.core.llm import cache as llm_cache, classify, client as llm
from stages.core.llm.usage import entry_cost

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Ask:
    """One model's question: the labels, the system message, sampling and batching."""
    model: str
    labels: list[str]
    system: str
    multi_label: bool
    temperature: float
    max_tokens: int
    size: int  # texts per request
    reason: bool = False  # ask for a one-line reason per text (the judge)


@dataclass
class Answers:
    """Each asked text's label names (None: the model abstained), reasons, and what the answers cost."""
    labels: dict[str, list[str] | None] = field(default_factory=dict)
    reasons: dict[str, str] = field(default_factory=dict)
    abstained: collections.Counter = field(default_factory=collections.Counter)  # reason -> texts
    unanswered: int = 0  # texts of failed requests, or left unasked by the budget
    cost: dict[str, Any] = field(default_factory=dict)


def plan(ask: Ask, texts: list[str]) -> list[llm.Request]:
    """One request per `ask.size` texts, in order."""
    out = []
    for index, start in enumerate(range(0, len(texts), ask.size)):
        body = classify.body(ask.model, ask.temperature, ask.max_tokens, ask.system, texts[start:start + ask.size],
                             ask.labels, ask.multi_label, ask.reason)
        out.append(llm.Request(llm_cache.request_key(body, 0), ask.model, index, body))
    return out


def _cost(outcome: llm.Outcome, model: str, prices: dict[str, params.Price], texts: int) -> dict[str, Any]:
    """Requests, tokens and USD of the answers used (all, and those bought by this run), and per 1,000 texts."""
    def total(entries: list[dict[str, Any]]) -> tuple[int, int, float | None]:
        prompt = sum(llm.usage_of(e)[0] for e in entries)
        completion = sum(llm.usage_of(e)[1] for e in entries)
        price = prices.get(model)  # a batch's answers at the batch price (each entry says which answered it)
        return prompt, completion, None if price is None else sum(entry_cost(e, price) for e in entries)

    prompt, completion, usd = total([e for _, e in outcome.used])
    new = total([e for r, e in outcome.used if r.key in outcome.new_keys])
    per_1000 = 1000 / max(texts, 1)
    return {"model": model, "requests": {"planned": outcome.planned, "used": len(outcome.used),
                                         "sent_this_run": outcome.sent, "failed_this_run": len(outcome.failed)},
            "tokens": {"prompt": prompt, "completion": completion, "total": prompt + completion},
            "usd": None if usd is None else round(usd, 6),
            "this_run_usd": None if new[2] is None else round(new[2], 6),
            "tokens_per_1000_texts": round((prompt + completion) * per_1000, 1),
            "usd_per_1000_texts": None if usd is None else round(usd * per_1000, 6),
            "budget_exhausted": outcome.budget_exhausted}


def ask(question: Ask, texts: list[str], client_cfg: Any, cache_dir: Path,
        prices: dict[str, params.Price]) -> Answers:
    """`texts` (distinct) labelled by `question.model` (cache first). `client_cfg`: the section whose client settings
    (base_url, api_key_env, concurrency, retries, budget) the requests use."""
    requests = plan(question, texts)
    with llm_cache.ResponseCache(cache_dir) as cache:
        outcome = llm.fetch(requests, cache, client_cfg, prices)
    answers = Answers()
    for req, entry in outcome.used:
        batch = classify.texts_of(req.body)
        chosen, why = classify.parse(entry["response"], len(batch), question.labels, question.multi_label)
        answers.abstained.update(why)
        answers.labels.update(zip(batch, chosen))
        if question.reason:
            answers.reasons.update(zip(batch, classify.reasons(entry["response"], len(batch))))
    answers.unanswered = len(texts) - len(answers.labels)
    answers.cost = _cost(outcome, question.model, prices, len(texts))
    if outcome.budget_exhausted:
        log.warning("%s: the budget (max_requests, max_total_tokens) stopped it after %d of %d requests: %s texts got "
                    "no answer", question.model, len(outcome.used), len(requests), f"{answers.unanswered:,}")
    return answers
