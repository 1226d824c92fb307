"""Texts labelled by a chat model: the request and answer format that evaluate's llm_zero_shot baseline and generate's
LLM judge and llm_label provider share.

A request sends its texts as JSON ({"texts": [{"id": 1, "text": ...}]}) and asks for structured output
{"answers": [{"id": 1, "label": <enum>}]} (multi-label: `labels`, a list of enum values, possibly empty), with a
one-line `reason` per answer when asked (the judge). Answers are parsed strictly: a refusal, a cut-off or malformed
reply, a wrong schema, a missing id or a label outside the enum makes its texts abstain, counted by reason.
"""

from __future__ import annotations

import collections
import json
from typing import Any

from stages.core.llm import wire

INTRO = "You are a text classifier."


def response_format(labels: list[str], n: int, multi_label: bool, reason: bool = False) -> dict[str, Any]:
    """Structured output: one answer per text id, its label(s) restricted to `labels`; with `reason`, a short reason."""
    enum = {"type": "string", "enum": labels}
    key, value = ("labels", {"type": "array", "items": enum}) if multi_label else ("label", enum)
    properties: dict[str, Any] = {"id": {"type": "integer"}, key: value}
    if reason:
        properties["reason"] = {"type": "string"}
    answer = {"type": "object", "properties": properties, "required": list(properties), "additionalProperties": False}
    answers = {"type": "array", "items": answer, "minItems": n, "maxItems": n}
    schema = {"type": "object", "properties": {"answers": answers}, "required": ["answers"],
              "additionalProperties": False}
    return {"type": "json_schema", "json_schema": {"name": "classification", "strict": True, "schema": schema}}


def instructions(labels: list[str], descriptions: dict[str, str], multi_label: bool, reason: bool = False,
                 intro: str = INTRO) -> str:
    """The system message: `intro`, the labels with their descriptions, what to answer."""
    lines = [f"{intro} The labels:"]
    lines += [f"- {lab}" + (f": {descriptions[lab]}" if lab in descriptions else "") for lab in labels]
    what = "every label that applies (an empty list if none does)" if multi_label else "the one label that fits it best"
    lines.append(f"For each text in the user's JSON, answer with its id and {what}" +
                 (", and a reason in one short line." if reason else "."))
    return "\n".join(lines)


def body(model: str, temperature: float, max_tokens: int, system: str, texts: list[str], labels: list[str],
         multi_label: bool, reason: bool = False) -> dict[str, Any]:
    """The chat-completions request for one batch of texts (ids 1..n in order)."""
    user = json.dumps({"texts": [{"id": i + 1, "text": t} for i, t in enumerate(texts)]}, ensure_ascii=False)
    return {"model": model, "temperature": temperature, "max_tokens": max_tokens,
            "messages": [{"role": "system", "content": system}, {"role": "user", "content": user}],
            "response_format": response_format(labels, len(texts), multi_label, reason)}


def texts_of(request_body: dict[str, Any]) -> list[str]:
    """The texts a request built by body() asks about, in id order."""
    return [item["text"] for item in json.loads(request_body["messages"][1]["content"])["texts"]]


def content(text: str) -> tuple[Any, str | None]:
    """The answers of one raw response, or why there are none."""
    try:
        choice = json.loads(text)["choices"][0]
        message, finish = choice["message"], choice.get("finish_reason")
    except (ValueError, KeyError, IndexError, TypeError):
        return None, "malformed_response"
    if message.get("refusal"):
        return None, "refusal"
    if finish in ("length", "content_filter"):
        return None, "cut_off_at_max_tokens" if finish == "length" else "content_filter"
    try:
        answers = wire.json_content(message.get("content") or "")  # a fenced block too (plain-text fallback)
    except ValueError:
        return None, "malformed_json"
    if not isinstance(answers, dict) or not isinstance(answers.get("answers"), list):
        return None, "wrong_schema"
    return answers["answers"], None


def _by_id(answers: list[Any], n: int) -> dict[int, dict[str, Any]]:
    """The first answer for each id in 1..n (ids outside the request or repeated are ignored)."""
    found: dict[int, dict[str, Any]] = {}
    for item in answers:
        ident = item.get("id") if isinstance(item, dict) else None
        if isinstance(ident, int) and 1 <= ident <= n and ident not in found:
            found[ident] = item
    return found


def parse(text: str, n: int, labels: list[str],
          multi_label: bool) -> tuple[list[list[str] | None], collections.Counter]:
    """Each of the request's `n` texts' labels (None: abstained), and the abstentions by reason."""
    answers, why = content(text)
    if why is not None:
        return [None] * n, collections.Counter({why: n})
    found = _by_id(answers, n)
    result: list[list[str] | None] = []
    reasons: collections.Counter[str] = collections.Counter()
    for ident in range(1, n + 1):
        if ident not in found:
            reasons["missing_answer"] += 1
            result.append(None)
            continue
        value = found[ident].get("labels" if multi_label else "label")
        chosen = value if multi_label and isinstance(value, list) else [value]
        ok = all(isinstance(v, str) and v in labels for v in chosen)
        reasons["label_not_in_enum"] += not ok
        result.append(sorted(set(chosen)) if ok else None)
    return result, +reasons


def reasons(text: str, n: int) -> list[str]:
    """The one-line reason given for each of the request's `n` texts ("" where none is given)."""
    answers, why = content(text)
    found = {} if why is not None else _by_id(answers, n)
    return [" ".join(str(found.get(i, {}).get("reason") or "").split())[:300] for i in range(1, n + 1)]
