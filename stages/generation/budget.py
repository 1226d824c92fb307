"""The planned-request cap of the openai provider (generate.max_planned_requests): the task's requests
(n_per_label rows per label, generate.samples_per_request texts each) and the focus file's (`rows` texts per
contrastive prompt, generation/focus.py) count against it together; a run over it is refused before anything is
planned or sent, in one line with the planned figure and an upper cost estimate. `synthbert focus --rows` asks
the same question before it writes the focus file."""

from __future__ import annotations

import math

from stages.core import params
from stages.core.errors import DataError
from stages.core.llm import client as llm
from stages.generation.task import Task

PROMPT_TOKENS_GUESS = 300  # a prompt with a description and few-shot examples; only for the refusal's estimate


def estimate_usd(requests_per_model: int, models: list[str], cfg: params.Generate,
                 prices: dict[str, params.Price]) -> float | None:
    """An upper estimate of the cost: every reply as long as generate.max_tokens; None without a price."""
    found = [prices.get(m) for m in models]
    if any(p is None for p in found):
        return None
    return sum(llm.cost_usd(requests_per_model * PROMPT_TOKENS_GUESS, requests_per_model * cfg.max_tokens, p) or 0.0
               for p in found)


def focus_requests(cfg: params.Generate, prompts: int, rows: int) -> int:
    """Requests of the focus file's `prompts` contrastive prompts, `rows` texts each (openai_provider.focus_plan)."""
    return prompts * math.ceil(rows / cfg.samples_per_request)


def check_size(task: Task, cfg: params.Generate, prices: dict[str, params.Price] | None, prompts: int = 0,
               rows: int = 0) -> None:
    """Refuse, before building the plan, a run that would plan more than generate.max_planned_requests: the task's
    requests plus those of `prompts` focus prompts of `rows` texts each. `prices` None: no cost estimate."""
    streams = list(cfg.models) if cfg.mode == "model_as_label" else [lab.name for lab in task.labels]
    per_stream = math.ceil(cfg.n_per_label / cfg.samples_per_request)
    aimed = focus_requests(cfg, prompts, rows)
    planned = per_stream * len(streams) + aimed
    if planned <= cfg.max_planned_requests:
        return
    models = list(cfg.models) if cfg.mode == "model_as_label" else [cfg.model]
    usd = None if prices is None else estimate_usd(
        per_stream * (1 if cfg.mode == "model_as_label" else len(streams)) + aimed, models, cfg, prices)
    cost = "" if prices is None else " (no price in the price table)" if usd is None else \
        f" (up to ${usd:,.2f} estimated)"
    focus = (f" and the focus file's {prompts} prompts x rows {rows:,} need {aimed:,} more, {planned:,} in all"
             if aimed else "")
    lower = "n_per_label or the focus rows (synthbert focus --rows)" if aimed else "n_per_label"
    raise DataError(
        f"generate: {cfg.n_per_label * len(streams):,} rows ({len(streams)} x n_per_label {cfg.n_per_label:,}) need "
        f"{planned - aimed:,} requests{focus}{cost}, more than generate.max_planned_requests "
        f"({cfg.max_planned_requests:,}); lower {lower}, raise samples_per_request or max_planned_requests; nothing "
        "was planned or sent")
