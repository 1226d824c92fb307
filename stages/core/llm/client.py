"""OpenAI-compatible chat completions for generate and evaluate's llm_zero_shot baseline: `fetch(plan, cache, cfg)`.

It returns the raw response of every planned request, asking the server (`generate.base_url`, the OpenAI API by
default) only for those neither the workspace's cache (cache.py, the DVC-tracked record of what a run used) nor the
machine's store (store.py, shared by every workspace copy and process on this machine) holds. Answers found in the
store are written into the workspace's record; answers of the record the store lacks are written into the store.
How requests are sent, retried, stored and stopped: session.py; with `batch: true` they go through the OpenAI Batch
API first (batch.py), and what a batch failed is then asked one by one. The log line before sending gives the
estimated cost (usage.estimate_usd). The API key is read from the environment only.

On Linux the process also asks for SIGTERM when its parent dies, so a stage orphaned by a killed `dvc` stops instead
of paying for answers nobody reads.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys

from stages.core import params
from stages.core.errors import SynthbertError
from stages.core.llm.cache import ResponseCache
from stages.core.llm.session import (OPENAI_URL, LLMError, Outcome, Request, Session, endpoint, entry_of,  # noqa: F401
                                     section_of)
from stages.core.llm.store import Store
from stages.core.llm import batch as batches, wire
from stages.core.llm.usage import cost_usd, entry_cost, estimate_usd, usage_of  # noqa: F401  (llm.usage_of, ...)

log = logging.getLogger(__name__)


def share(plan: list[Request], cache: ResponseCache, store: Store) -> int:
    """Copy the store's answers the workspace's record lacks into it, and the record's answers the store lacks into
    the store; how many came from the store."""
    found, writable = [], True
    for req in plan:
        entry = cache.get(req.key)
        if entry is None:
            stored = store.get(req.key)
            if stored is not None:
                found.append(entry_of(req, stored["response"]))
        elif writable and not store.has(req.key):
            try:
                store.put(req.key, entry["request"], entry["response"])
            except (OSError, SynthbertError) as exc:  # the store only shares: the run goes on without it
                log.warning("could not write to the LLM response store %s (%s)", store.root, exc)
                writable = False
    cache.extend(found)
    return len(found)


def estimate(plan: list[Request], missing: list[Request], cache: ResponseCache,
             prices: dict[str, params.Price] | None, batch: bool) -> str:
    """"; estimated $0.0123 (basis)" for the log line before sending; "" when nothing is to ask or no table given."""
    if not missing or prices is None:
        return ""
    known = [e for r in plan if (e := cache.get(r.key)) is not None]
    usd, basis = estimate_usd(missing, known, prices, batch)
    return f"; {basis}" if usd is None else f"; estimated ${usd:,.4f} ({basis})"


def die_with_parent() -> None:
    """Linux: have the kernel send us SIGTERM when our parent (dvc) dies, so an orphaned stage stops cleanly."""
    parent = os.getppid()
    if not sys.platform.startswith("linux") or parent == 1:
        return
    import ctypes

    pr_set_pdeathsig = 1
    if ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM, 0, 0, 0) != 0:
        log.debug("prctl(PR_SET_PDEATHSIG) failed: errno %d", ctypes.get_errno())
    elif os.getppid() != parent:  # the parent died before the request took effect
        os.kill(os.getpid(), signal.SIGTERM)


def fetch(plan: list[Request], cache: ResponseCache, cfg: params.Generate | params.LlmBaseline,
          prices: dict[str, params.Price] | None = None) -> Outcome:
    """Responses for `plan` (in order) from the cache or the server, within the budget; `prices` (data/prices.yaml):
    the estimated cost of what is to ask goes into the log line before anything is sent."""
    outcome = Outcome(planned=len(plan))
    if cfg.max_requests:
        plan = plan[: cfg.max_requests]
    store = Store()
    wire.start(endpoint(cfg.base_url))
    outcome.from_store = share(plan, cache, store)
    missing = [r for r in plan if cache.get(r.key) is None]
    batch = bool(getattr(cfg, "batch", False))
    log.info("%s requests planned, %s cached (%s from the machine store %s), %s to ask %s%s%s", f"{len(plan):,}",
             f"{len(plan) - len(missing):,}", f"{outcome.from_store:,}", store.root, f"{len(missing):,}",
             "in a batch at " if batch and missing else "", endpoint(cfg.base_url), estimate(plan, missing, cache, prices, batch))
    if missing:
        key = os.environ.get(cfg.api_key_env, "")
        if not key.strip():
            why = f"generate.provider is {cfg.provider} and" if section_of(cfg) == "generate" else f"{section_of(cfg)}:"
            raise LLMError(f"{why} {len(missing)} requests are not cached, but the environment variable "
                           f"{cfg.api_key_env} is not set: export it (any value for a local server without keys) or "
                           f"name another variable in {section_of(cfg)}.api_key_env; nothing was sent")
        die_with_parent()
        if batch:
            batches.run(missing, cache, store, cfg, key, outcome)
            missing = [r for r in missing if cache.get(r.key) is None]  # failed in the batch: asked one by one
        if missing:
            asyncio.run(Session(cache, store, cfg, key, outcome, len(missing)).run(plan))
    warn_failed(outcome, cfg)
    tokens, failed = 0, {req.key for req, _ in outcome.failed}
    for req in plan:  # the used prefix is fixed by the plan order, so a rerun uses the same responses
        entry = cache.get(req.key)
        if entry is None and req.key in failed:
            continue  # asked again by the next run
        if entry is None:
            break
        outcome.used.append((req, entry))
        tokens += sum(usage_of(entry))
        if cfg.max_total_tokens and tokens >= cfg.max_total_tokens:
            break
    outcome.budget_exhausted = len(outcome.used) + len(failed) < outcome.planned
    return outcome


def warn_failed(outcome: Outcome, cfg: params.Generate | params.LlmBaseline) -> None:
    """One warning for the requests given up on: how many, what the server sent instead, what to do."""
    if outcome.failed:
        log.warning("%s of %s requests failed: every one of their %d attempts got a 200 whose body is not the API's "
                    "JSON (e.g. %s); nothing of them was cached, a rerun asks them again (is %s.base_url the API "
                    "and not a proxy's or gateway's page?)", f"{len(outcome.failed):,}", f"{outcome.planned:,}",
                    cfg.max_retries + 1, outcome.failed[0][1], section_of(cfg))
