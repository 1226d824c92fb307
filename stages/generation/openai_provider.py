"""The `openai` provider: labelled texts from an OpenAI or OpenAI-compatible chat model.

Plans one request per `generate.samples_per_request` texts: in label_conditioned mode each label's own
prompts (the label is what was asked for); in model_as_label mode the task's prompts sent to every model in
`generate.models` (the label is the model that answered). Attribute values and few-shot examples are drawn
per request from a seeded stream, so a request depends only on its label, its index and its prompt text.
Few-shot examples come from the task file, or (`generate.few_shot_source: real`) from the real rows of the
same label (model_as_label mode: of any label).
Replies are parsed strictly; refusals, cut-off and malformed replies are dropped and counted by reason. A row's
origin names its request, prompt and attribute values (core/origin.llm).
Multi-label tasks (`multi_label: true`, label_conditioned mode only): the structured output asks, per text, for
`labels`, an array of the task's label names (enum, at least one); a row carries those labels plus the one its
request asked for (unknown names are dropped and counted as unknown_label).
"""

from __future__ import annotations

import collections
import json
import logging
import math
import random
import zlib
from pathlib import Path
from typing import Any

from stages.core import origin, params
from stages.core.llm import client as llm, wire
from stages.generation import budget
from stages.core.errors import DataError
from stages.core.labelsets import join_labels
from stages.core.llm.cache import ResponseCache, request_key
from stages.generation.task import SLOT, Task

log = logging.getLogger(__name__)
SYSTEM = ("You write synthetic data for training a text classifier. {task}Reply with a JSON object "
          '{{"samples": [...]}} holding exactly {n} strings. Each string is one complete text: no numbering, '
          "no quotes around it, no commentary. Make the {n} texts differ from each other in wording and content.")
FEW_SHOT = ("\n\nReal examples, for tone and format only. Do not copy them and do not simply rewrite them:\n{examples}")
MULTI_LABEL_NOTE = (" Each item is an object: `text` (the text) and `labels` (every label from {labels} that the text "
                    "fits, at least one).")


def response_format(n: int, labels: list[str] | None = None) -> dict[str, Any]:
    """Structured output: exactly `n` strings (accepted by OpenAI, vLLM and Ollama); with `labels` (a multi-label
    task), `n` objects {text, labels: one or more of `labels`}."""
    item: dict[str, Any] = {"type": "string"}
    if labels is not None:
        names = {"type": "array", "items": {"type": "string", "enum": list(labels)}, "minItems": 1}
        item = {"type": "object", "properties": {"text": {"type": "string"}, "labels": names},
                "required": ["text", "labels"], "additionalProperties": False}
    samples = {"type": "array", "items": item, "minItems": n, "maxItems": n}
    schema = {"type": "object", "properties": {"samples": samples}, "required": ["samples"],
              "additionalProperties": False}
    return {"type": "json_schema", "json_schema": {"name": "samples", "strict": True, "schema": schema}}


def _messages(task: Task, prompt: str, values: dict[str, str], examples: list[str], n: int) -> list[dict]:
    system = SYSTEM.format(task=f"Task: {task.description.strip()} " if task.description.strip() else "", n=n)
    if task.multi_label:
        system = system.replace(" strings. Each string", " items. Each item's text") + MULTI_LABEL_NOTE.format(
            labels=", ".join(task.label_names))
    user = SLOT.sub(lambda m: values[m.group(1)], prompt).strip()
    if examples:
        user += FEW_SHOT.format(examples="\n".join(f"- {e}" for e in examples))
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def plan(task: Task, cfg: params.Generate, seed: int, shots: dict[str, list[str]] | None = None) -> list[llm.Request]:
    """Every request of the run, interleaved across labels so a budget cuts all labels evenly. `shots`: label ->
    few-shot examples replacing the task file's (real rows)."""
    n = cfg.samples_per_request
    per_label = math.ceil(cfg.n_per_label / n)
    if cfg.mode == "model_as_label":
        if task.multi_label:
            raise DataError(f"{task.path}: multi_label: true needs generate.mode label_conditioned, got model_as_label "
                            "(there the label is the model that answered, one per text)")
        if not task.prompts:
            raise DataError(f"{task.path}: model_as_label mode sends the task's top-level 'prompts' to every "
                            "model, but the task has none")
        pool = task.examples if shots is None else [t for label in sorted(shots) for t in shots[label]]
        specs = [(model, model, "", task.prompts, task.attributes, pool, task.description) for model in cfg.models]
    else:
        if not task.labels:
            raise DataError(f"{task.path}: no labels: label_conditioned mode needs 'labels' with prompts")
        for label in task.labels:
            if not label.prompts:
                raise DataError(f"{task.path}: labels.{label.name} has no prompts, which the openai provider needs "
                                f"in label_conditioned mode (add labels.{label.name}.prompts)")
        specs = [(lab.name, cfg.model, lab.name, lab.prompts, lab.attributes,
                  lab.examples if shots is None else shots.get(lab.name, []), lab.description) for lab in task.labels]
    requests = []
    for index in range(per_label):
        for label, model, stream, prompts, attributes, examples, description in specs:
            # Seeded by (seed, label, index) only: adding a label or raising n_per_label keeps the other requests
            # (and their cache entries); in model_as_label mode every model gets the same question.
            rng = random.Random(f"{seed}/{stream}/{index}")
            values, ids = _draw(rng, attributes)
            values.update(n=str(n), label=label if stream else "", description=description)
            shots = rng.sample(examples, min(cfg.few_shot, len(examples)))
            body = _body(task, cfg, model, _messages(task, prompts[index % len(prompts)], values, shots, n),
                         f"{seed}/{stream}/{index}")
            key = request_key(body, index)
            where = origin.llm(key, origin.prompt_id(stream, index % len(prompts) + 1), ids)
            requests.append(llm.Request(key, label, index, body, where))
    return requests


def _draw(rng: random.Random, attributes: dict[str, tuple[str, ...]]) -> tuple[dict[str, str], dict[str, int]]:
    """A value per attribute and its 1-based position (its id in the origin): the draws of rng.choice(values)."""
    ids = {name: rng.choice(range(len(attributes[name]))) + 1 for name in sorted(attributes)}
    return {name: attributes[name][i - 1] for name, i in ids.items()}, ids


def _body(task: Task, cfg: params.Generate, model: str, messages: list[dict], stream: str) -> dict[str, Any]:
    return {"model": model, "messages": messages, "temperature": cfg.temperature, "max_tokens": cfg.max_tokens,
            "seed": zlib.crc32(stream.encode()) & 0x7FFFFFFF,
            "response_format": response_format(cfg.samples_per_request, task.label_names if task.multi_label else None)}


def focus_plan(task: Task, cfg: params.Generate, seed: int, prompts: dict[str, tuple[str, ...]],
               rows: int) -> tuple[list[llm.Request], dict[str, tuple[str, int]]]:
    """Extra requests for the focus file's contrastive prompts (generation/focus.py): `rows` texts per prompt,
    each request seeded by (seed, label, prompt number, index), so an unchanged prompt stays cached; and each
    request's (prompt, rows it may give) for _collect."""
    if not prompts or not rows:
        return [], {}
    if cfg.mode == "model_as_label":
        raise DataError("data/focus.yaml: contrastive prompts need generate.mode label_conditioned (in model_as_label "
                        "mode the label is the model that answered); clear them with `synthbert focus --clear`")
    n, labels, requests, caps = cfg.samples_per_request, {lab.name: lab for lab in task.labels}, [], {}
    for name, items in sorted(prompts.items()):
        lab = labels[name]
        for k, prompt in enumerate(items):
            for index in range(math.ceil(rows / n)):
                stream = f"{seed}/{name}/focus{k}/{index}"
                rng = random.Random(stream)
                values, ids = _draw(rng, lab.attributes)
                values.update(n=str(n), label=name, description=lab.description)
                shots = rng.sample(list(lab.examples), min(cfg.few_shot, len(lab.examples)))
                body = _body(task, cfg, cfg.model, _messages(task, prompt, values, shots, n), stream)
                key = request_key(body, index)
                where = origin.llm(key, origin.focus_prompt_id(name, k + 1), ids)
                requests.append(llm.Request(key, name, index, body, where))
                caps[requests[-1].key] = (f"{name}/focus{k}", rows)
    return requests, caps


def _labelled(items: list[Any], labels: list[str], dropped: collections.Counter[str]) -> list[tuple[str, list[str]]]:
    """(text, label names) of a multi-label reply's items; malformed items dropped, unknown names counted."""
    known, kept = set(labels), []
    for item in items:
        text, names = (item.get("text"), item.get("labels")) if isinstance(item, dict) else (None, None)
        if not isinstance(text, str) or not text.strip() or not isinstance(names, list):
            dropped["malformed_item"] += 1
            continue
        dropped["unknown_label"] += sum(not (isinstance(x, str) and x in known) for x in names)
        kept.append((text, [x for x in names if isinstance(x, str) and x in known]))
    return kept


def parse(text: str, n: int, labels: list[str] | None = None) -> tuple[list[Any], collections.Counter[str]]:
    """The samples in one raw response, and why anything was dropped (whole responses or single items). With
    `labels` (a multi-label task) each sample is (text, the label names the model gave it)."""
    dropped: collections.Counter[str] = collections.Counter()
    try:
        choice = json.loads(text)["choices"][0]
        message, finish = choice["message"], choice.get("finish_reason")
    except (ValueError, KeyError, IndexError, TypeError):
        return [], collections.Counter({"malformed_response": 1})
    if message.get("refusal"):
        return [], collections.Counter({"refusal": 1})
    if finish == "length":
        return [], collections.Counter({"cut_off_at_max_tokens": 1})
    if finish == "content_filter":
        return [], collections.Counter({"content_filter": 1})
    try:
        samples = wire.json_content(message.get("content") or "")  # a fenced block too (plain-text fallback)
    except ValueError:
        return [], collections.Counter({"malformed_json": 1})
    if not isinstance(samples, dict) or not isinstance(samples.get("samples"), list):
        return [], collections.Counter({"wrong_schema": 1})
    items = samples["samples"]
    if len(items) > n:
        dropped["extra_item"] += len(items) - n
    if labels is not None:
        return _labelled(items[:n], labels, dropped), +dropped
    kept = [item for item in items[:n] if isinstance(item, str) and item.strip()]
    if len(kept) < len(items[:n]):
        dropped["malformed_item"] += len(items[:n]) - len(kept)
    return kept, dropped


def _plus(a: float | None, b: float | None) -> float | None:
    """Sum of two costs; None (a model without a price in the price table) wins."""
    return None if a is None or b is None else a + b


def _collect(outcome: llm.Outcome, cfg: params.Generate, labels: list[str], prices: dict[str, params.Price],
             multi_label: bool = False, focus: dict[str, tuple[str, int]] | None = None) -> tuple[list[dict], dict, dict]:
    """Rows from the used responses (plan order, at most n_per_label per label, plus the focus requests' rows:
    `focus` maps their keys to (their prompt, the rows it may give)), and tokens/cost/drops."""
    focus = focus or {}
    taken: collections.Counter[str] = collections.Counter()
    per_label = {lab: {"model": "", "requests": 0, "cached": 0, "samples": 0, "prompt_tokens": 0,
                       "completion_tokens": 0, "cost_usd": 0.0, "dropped": collections.Counter()} for lab in labels}
    this_run: dict[str, Any] = {"prompt_tokens": 0, "completion_tokens": 0, "cost_usd": 0.0}
    rows: list[dict[str, str]] = []
    for req, entry in outcome.used:
        stats, model = per_label[req.label], req.body["model"]
        samples, dropped = parse(entry["response"], cfg.samples_per_request, labels if multi_label else None)
        group, cap = focus.get(req.key, (req.label, cfg.n_per_label))
        samples = samples[: max(0, cap - taken[group])]
        taken[group] += len(samples)
        texts = [(s[0], join_labels([req.label, *s[1]])) if multi_label else (s, req.label) for s in samples]
        rows += [{"text": t, "label": lab, "source": f"openai:{model}", "origin": req.origin} for t, lab in texts]
        prompt, completion = llm.usage_of(entry)
        cost = llm.entry_cost(entry, prices.get(model))  # the batch price for an answer of the Batch API
        stats["model"], stats["requests"] = model, stats["requests"] + 1
        stats["cached"] += req.key not in outcome.new_keys
        stats["samples"] += len(samples)
        stats["dropped"].update(dropped)
        for target in (stats, this_run) if req.key in outcome.new_keys else (stats,):
            target["prompt_tokens"] += prompt
            target["completion_tokens"] += completion
            target["cost_usd"] = _plus(target["cost_usd"], cost)
    for req, _ in outcome.failed:  # no answer (llm.py): its rows are lost, so they count as dropped
        per_label[req.label]["dropped"]["failed_request"] += 1
    for stats in (*per_label.values(), this_run):
        stats["cost_usd"] = None if stats["cost_usd"] is None else round(stats["cost_usd"], 6)
        if "dropped" in stats:
            stats["dropped"] = dict(sorted(stats["dropped"].items()))
    return rows, per_label, this_run


def generate(task: Task, cfg: params.Generate, seed: int, cache_dir: Path,
             shots: dict[str, list[str]] | None = None, prices: dict[str, params.Price] | None = None,
             focus_prompts: dict[str, tuple[str, ...]] | None = None,
             focus_rows: int = 0) -> tuple[list[dict], dict[str, Any]]:
    """Rows (text, label, source) and the generation report: requests, tokens, cost (from `prices`, the
    data/prices.yaml table), drops per label. `focus_prompts`: label -> contrastive prompts of the focus file,
    `focus_rows` texts each, asked after the task's own requests."""
    prices = prices or {}
    budget.check_size(task, cfg, prices, len([p for items in (focus_prompts or {}).values() for p in items]),
                      focus_rows)
    aimed, caps = focus_plan(task, cfg, seed, focus_prompts or {}, focus_rows)
    requests = plan(task, cfg, seed, shots) + aimed
    cache = ResponseCache(cache_dir)
    try:
        outcome = llm.fetch(requests, cache, cfg, prices)
    finally:
        cache.close()
    rows, per_label, this_run = _collect(outcome, cfg, list(dict.fromkeys(r.label for r in requests)), prices,
                                         task.multi_label, caps)
    if outcome.budget_exhausted:
        log.warning("budget reached (generate.max_requests=%d, generate.max_total_tokens=%d): stopped after %d of %d "
                    "requests; rows per label before cleaning: %s (asked for %d each)", cfg.max_requests,
                    cfg.max_total_tokens, len(outcome.used), outcome.planned,
                    ", ".join(f"{lab}={s['samples']}" for lab, s in per_label.items()), cfg.n_per_label)
    total = [sum(s[k] for s in per_label.values()) for k in ("prompt_tokens", "completion_tokens")]
    costs = [s["cost_usd"] for s in per_label.values()]
    report = {
        "provider": "openai", "mode": cfg.mode, "base_url": llm.endpoint(cfg.base_url),
        "models": sorted({s["model"] for s in per_label.values() if s["model"]}),
        "samples_per_request": cfg.samples_per_request,
        "requests": {"planned": outcome.planned, "used": len(outcome.used), "sent_this_run": outcome.sent,
                     "failed_this_run": len(outcome.failed), "retries_this_run": dict(sorted(outcome.retries.items()))},
        "budget": {"max_requests": cfg.max_requests, "max_total_tokens": cfg.max_total_tokens,
                   "exhausted": outcome.budget_exhausted},
        "tokens": {"prompt": total[0], "completion": total[1], "total": sum(total)},
        "cost_usd": None if None in costs else round(sum(costs), 6),
        "this_run": this_run,
        "per_label": per_label,
    }
    log_spent(report)
    return rows, report


def log_spent(report: dict[str, Any]) -> None:
    """The console's account of the run: tokens and USD paid by this run, and for the data set in all."""
    now, usd = report["this_run"], (lambda v: "no price in data/prices.yaml" if v is None else f"${v:,.4f}")
    log.info("this run: %s requests sent, %s tokens (%s prompt + %s completion), %s; the data set in all: %s "
             "tokens, %s (generation.json)", f"{report['requests']['sent_this_run']:,}",
             f"{now['prompt_tokens'] + now['completion_tokens']:,}", f"{now['prompt_tokens']:,}",
             f"{now['completion_tokens']:,}", usd(now["cost_usd"]), f"{report['tokens']['total']:,}",
             usd(report["cost_usd"]))
