"""Tokens and USD of LLM responses: the usage a cached response reports, priced by data/prices.yaml."""

from __future__ import annotations

import json
from typing import Any

from stages.core import params

CHARS_PER_TOKEN = 4  # a rule of thumb for English text, for the estimate before sending only
BATCH_DISCOUNT = 0.5  # the Batch API's price against the synchronous one, for a model without batch_* prices


def usage_of(entry: dict[str, Any]) -> tuple[int, int]:
    """(prompt_tokens, completion_tokens) reported with a cached response; (0, 0) if it has none."""
    try:
        usage = json.loads(entry["response"]).get("usage") or {}
        return int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0)
    except (ValueError, TypeError, AttributeError):
        return 0, 0


def cost_usd(prompt: int, completion: int, price: params.Price | None, batch: bool = False) -> float | None:
    """USD of `prompt` and `completion` tokens at `price` (the Batch API's when `batch`); None without a price."""
    if price is None:
        return None
    if not batch:
        return (prompt * price.input + completion * price.output) / 1e6
    rate_in = price.input * BATCH_DISCOUNT if price.batch_input is None else price.batch_input
    rate_out = price.output * BATCH_DISCOUNT if price.batch_output is None else price.batch_output
    return (prompt * rate_in + completion * rate_out) / 1e6


def entry_cost(entry: dict[str, Any], price: params.Price | None) -> float | None:
    """USD of one cached response: its usage at the batch price when a batch answered it (the entry's `batch`)."""
    return cost_usd(*usage_of(entry), price, batch=bool(entry.get("batch")))


def estimate_usd(todo: list[Any], known: list[dict[str, Any]], prices: dict[str, params.Price],
                 batch: bool) -> tuple[float | None, str]:
    """What the requests `todo` may cost, and on what basis: prompt tokens from their messages' characters
    (CHARS_PER_TOKEN), replies as long as the mean completion of `known` (answers already cached) or, without
    any, as long as max_tokens (an upper bound); None when a model has no price."""
    completions = [usage_of(e)[1] for e in known if usage_of(e)[1]]
    mean = sum(completions) / len(completions) if completions else None
    total = 0.0
    for req in todo:
        body = req.body
        prompt = len(json.dumps(body.get("messages", []), ensure_ascii=False)) / CHARS_PER_TOKEN
        reply = mean if mean is not None else body.get("max_tokens") or body.get("max_completion_tokens") or 0
        cost = cost_usd(round(prompt), round(reply), prices.get(str(body.get("model"))), batch)
        if cost is None:
            return None, f"no price for {body.get('model')} in data/prices.yaml"
        total += cost
    basis = "replies as long as the cached ones" if mean is not None else "every reply at max_tokens: an upper bound"
    return total, ("batch price, " if batch else "") + basis
