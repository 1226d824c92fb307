"""Tokens and USD of LLM responses: the usage a cached response reports, priced by data/prices.yaml."""

from __future__ import annotations

import json
from typing import Any

from stages.core import params


def usage_of(entry: dict[str, Any]) -> tuple[int, int]:
    """(prompt_tokens, completion_tokens) reported with a cached response; (0, 0) if it has none."""
    try:
        usage = json.loads(entry["response"]).get("usage") or {}
        return int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0)
    except (ValueError, TypeError, AttributeError):
        return 0, 0


def cost_usd(prompt: int, completion: int, price: params.Price | None) -> float | None:
    return None if price is None else (prompt * price.input + completion * price.output) / 1e6
