"""The llm_zero_shot baseline: a chat model labels the test split and every real set, zero-shot, and what it costs.

Reads the distinct texts of all scored sets; asks `evaluate.baselines.llm.model` through core/llm/client.py (the
same concurrent, retried, budgeted client as generate) with up to `texts_per_request` texts per request, sent as
JSON ({"texts": [{"id": 1, "text": ...}]}; the format: core/llm/classify.py), and structured output {"answers": [{"id": 1, "label": <enum>}]} (for a
multi-label model `labels`: a list of enum values, possibly empty). Raw responses go to evaluate's own cache
(`--llm-cache`, data/llm_eval_cache; never generate's data/llm_cache), so a rerun over the same texts sends nothing.
An unusable answer (refusal, cut off, malformed JSON, wrong schema, a missing id, a label outside the enum) is not
retried, since the same request would get the same answer at temperature 0: the text abstains (a row of zero
probabilities: no label predicted, so it is wrong on every metric) and is counted by reason in baselines.json; so do
the texts of a request that failed (a 200 that is not the API's JSON after every retry; not cached, asked again next
run). When every text abstains the baseline gets no verdict (`no_verdict` says why) and a warning.
Tokens and USD per 1,000 texts come from the usage the server reports and data/prices.yaml (`--prices`).
Params: evaluate.baselines.models (llm_zero_shot), evaluate.baselines.llm.*
"""

from __future__ import annotations

import collections
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stages.core import params
from stages.core.errors import DataError, ParamsError
from stages.core.text import md_escape
from stages.core.llm import cache as llm_cache, classify as labelling, client as llm

log = logging.getLogger(__name__)
NAME = "llm_zero_shot"
SECTION = params.LlmBaseline.section


def plan(cfg: params.LlmBaseline, labels: list[str], multi_label: bool, texts: list[str]) -> list[llm.Request]:
    """One request per `texts_per_request` distinct texts, in order. The key ignores the batch's position, so a
    batch of the same texts is answered from the cache whatever else changed."""
    system = labelling.instructions(labels, cfg.descriptions, multi_label)
    out = []
    for index, start in enumerate(range(0, len(texts), cfg.texts_per_request)):
        body = labelling.body(cfg.model, cfg.temperature, cfg.max_tokens, system,
                             texts[start:start + cfg.texts_per_request], labels, multi_label)
        out.append(llm.Request(llm_cache.request_key(body, 0), "texts", index, body))
    return out


parse = labelling.parse  # each text's labels (None: abstained) and the abstentions by reason


@dataclass
class ZeroShot:
    """The LLM's answer per distinct text, as probability rows, and what the answers cost."""

    labels: list[str]
    rows: dict[str, Any] = field(default_factory=dict)          # text -> (labels,) array of 0/1 (zeros: abstained)
    report: dict[str, Any] = field(default_factory=dict)        # baselines.json models.llm_zero_shot.llm

    def predict(self, texts: list[str]) -> Any:
        import numpy as np

        return np.array([self.rows[t] for t in texts], dtype=float).reshape(len(texts), len(self.labels))


def check_params(cfg: params.LlmBaseline, labels: list[str]) -> None:
    unknown = sorted(set(cfg.descriptions) - set(labels))
    if unknown:
        raise ParamsError(f"params.yaml: {SECTION}.descriptions names {unknown[0]!r}, which is not a model label "
                          f"(model labels: {', '.join(labels)})")


def _economics(cfg: params.LlmBaseline, outcome: llm.Outcome, texts: int, prices: dict[str, params.Price],
               abstained: collections.Counter) -> dict[str, Any]:
    prompt = sum(llm.usage_of(entry)[0] for _, entry in outcome.used)
    completion = sum(llm.usage_of(entry)[1] for _, entry in outcome.used)
    costs = [llm.entry_cost(entry, prices.get(cfg.model)) for _, entry in outcome.used]  # batch answers: batch price
    usd = None if prices.get(cfg.model) is None else sum(costs)
    per_1000 = 1000 / max(texts, 1)
    return {"model": cfg.model, "texts": texts, "texts_per_request": cfg.texts_per_request,
            "requests": len(outcome.used), "requests_sent": outcome.sent, "prompt_tokens": prompt,
            "completion_tokens": completion, "tokens_per_1000_texts": round((prompt + completion) * per_1000, 1),
            "usd": None if usd is None else round(usd, 6),
            "usd_per_1000_texts": None if usd is None else round(usd * per_1000, 6),
            "abstained_texts": sum(abstained.values()), "abstentions": dict(sorted(abstained.items())),
            "no_verdict": None}


def classify(cfg: params.LlmBaseline, cache_dir: Path, prices: dict[str, params.Price], labels: list[str],
             multi_label: bool, sets: Sequence[Sequence[str]]) -> ZeroShot:
    """Every distinct text of `sets` labelled by the LLM (cache first); LLMError on a missing key, an unreachable
    server or a refusing one, or when the budget (max_requests, max_total_tokens) stops it short."""
    check_params(cfg, labels)
    texts = list(dict.fromkeys(t for s in sets for t in s))
    requests = plan(cfg, labels, multi_label, texts)
    with llm_cache.ResponseCache(cache_dir, owner="evaluate") as cache:
        outcome = llm.fetch(requests, cache, cfg, prices)
    if outcome.budget_exhausted:
        raise llm.LLMError(f"{SECTION} budget reached (max_requests {cfg.max_requests}, max_total_tokens "
                           f"{cfg.max_total_tokens}): {len(outcome.used):,} of {len(requests):,} requests answered "
                           f"and cached in {cache_dir}; raise the budget to score the rest")
    result, abstained = ZeroShot(labels), collections.Counter()
    # A request that failed (llm.py: no answer the API would send, after every retry) is not cached: its texts
    # abstain now, and the next run asks it again.
    for req, entry in [*outcome.used, *((req, None) for req, _ in outcome.failed)]:
        batch = labelling.texts_of(req.body)
        answers, reasons = ([None] * len(batch), collections.Counter({"failed_request": len(batch)})) if entry is None \
            else parse(entry["response"], len(batch), labels, multi_label)
        abstained.update(reasons)
        for text, chosen in zip(batch, answers):
            result.rows[text] = [float(chosen is not None and lab in chosen) for lab in labels]
    result.report = _economics(cfg, outcome, len(texts), prices, abstained)
    if texts and result.report["abstained_texts"] == len(texts):  # evaluate warns (evaluation/results.py)
        result.report["no_verdict"] = (f"every one of its {len(texts):,} answers abstained (" + ", ".join(
            f"{n:,} {why}" for why, n in result.report["abstentions"].items()) + "): its scores say nothing about the task")
    log.info("%s: %s texts in %s requests (%s sent now), %s abstained, %s tokens per 1,000 texts", NAME,
             f"{len(texts):,}", f"{len(requests):,}", f"{outcome.sent:,}", f"{sum(abstained.values()):,}",
             f"{result.report['tokens_per_1000_texts']:,.0f}")
    log_spent(cfg, outcome, prices, result.report)
    return result


def log_spent(cfg: params.LlmBaseline, outcome: llm.Outcome, prices: dict[str, params.Price],
              report: dict[str, Any]) -> None:
    """The console's account: tokens and USD this run paid (the requests it sent), and for all the answers used."""
    new = [entry for req, entry in outcome.used if req.key in outcome.new_keys]
    tokens = sum(sum(llm.usage_of(e)) for e in new)
    costs = [llm.entry_cost(e, prices.get(cfg.model)) for e in new]
    usd = (lambda v: "no price in data/prices.yaml" if v is None else f"${v:,.4f}")
    log.info("%s: this run %s tokens, %s; in all %s tokens, %s (baselines.json)", NAME, f"{tokens:,}",
             usd(None if prices.get(cfg.model) is None else sum(costs)),
             f"{report['prompt_tokens'] + report['completion_tokens']:,}", usd(report["usd"]))


def prepare(cfg: params.Baselines, cache_dir: Path | None, prices: Path | None, labels: list[str],
            multi_label: bool, sets: Sequence[Sequence[str]]) -> ZeroShot | None:
    """The LLM's answers when evaluate.baselines.models asks for llm_zero_shot (else None), before any model is
    scored, so a missing key or an unreachable server stops the stage at once. The cache directory is created
    either way: DVC expects the output."""
    if cache_dir is not None:
        llm_cache.ensure_exists(cache_dir)
    if NAME not in cfg.models:
        return None
    if cache_dir is None:
        raise DataError(f"evaluate.baselines.models has {NAME} but no LLM cache directory was given (--llm-cache, "
                        "e.g. data/llm_eval_cache)")
    return classify(cfg.llm, cache_dir, params.load_prices(prices), labels, multi_label, sets)


def cost_lines(table: dict[str, Any]) -> list[str]:
    """summary.md: the LLM's tokens and USD per 1,000 texts beside the fine-tuned model's inference seconds."""
    models = table["models"]
    if NAME not in models:
        return []
    r = models[NAME]["llm"]
    usd = "no price in data/prices.yaml" if r["usd_per_1000_texts"] is None else f"${r['usd_per_1000_texts']:.4f}"
    lines = ["", "## Cost per 1,000 texts", "",
             "| model | cost per 1,000 texts | notes |", "|---|---|---|",
             f"| LLM zero-shot ({md_escape(r['model'])}) | {r['tokens_per_1000_texts']:,.0f} tokens, {usd} | "
             f"{r['texts']:,} distinct texts in {r['requests']:,} requests of up to {r['texts_per_request']} texts; "
             f"{r['abstained_texts']:,} abstained (counted wrong) |"]
    inference = models.get("fine_tuned", {}).get("inference")
    if inference:
        lines.append(f"| fine-tuned | {inference['seconds_per_1000_texts']:.2f} s on this machine "
                     f"({inference['device']}) | {inference['texts']:,} texts, batch size {inference['batch_size']} |")
    lines += ["", "The LLM is paid per token; the fine-tuned model costs machine time. Above the volume where the "
                  "LLM's bill per day exceeds the cost of the machine running the small model, the small model pays."]
    return lines
