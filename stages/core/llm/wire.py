"""What goes on the wire for a planned request, adapted to the server and the model without changing the request's
cache key (the key is the planned request: a rerun after a fallback finds its answers and pays nothing twice).

- Structured output: every request is planned with `response_format` json_schema. A server that answers 400 to it
  makes the run fall back, once per run (one fetch of client.py), to `json_object`, then to plain text (no response_format);
  in both the schema goes into the system message as text, and the reply's JSON is taken from the content,
  fenced ```json blocks included (`json_content`). The mode is remembered for the rest of the run.
- Reasoning models (a model name starting with one of `reasoning_models`, e.g. o1, o3, o4, gpt-5) get
  `max_completion_tokens` instead of `max_tokens`, and no temperature (they accept only the default).
"""

from __future__ import annotations

import copy
import json
import logging
import re
import threading
from typing import Any

log = logging.getLogger(__name__)
FORMATS = ("json_schema", "json_object", "text")  # the order of the fallback
SCHEMA_NOTE = "\n\nReply with JSON only, matching this JSON schema: "
FENCED = re.compile(r"```(?:json|JSON)?\s*\n?(.*?)```", re.DOTALL)
_modes: dict[str, str] = {}  # endpoint -> the response_format mode this run (process) uses there
_lock = threading.Lock()


def start(where: str) -> None:
    """A new run (one fetch) at `where` starts with json_schema again."""
    with _lock:
        _modes.pop(where, None)


def mode(where: str) -> str:
    """The response_format mode requests to `where` are sent with now."""
    return _modes.get(where, FORMATS[0])


def fall_back(where: str, failed: str, message: str) -> bool:
    """After a 400 to a request sent in mode `failed`: move `where` to the next mode (unless another request did
    already); False when there is none left (plain text was refused too: the 400 is the server's last word)."""
    with _lock:
        current = mode(where)
        if current != failed:
            return True  # another request fell back meanwhile: retry in the current mode
        if failed == FORMATS[-1]:
            return False
        _modes[where] = FORMATS[FORMATS.index(failed) + 1]
    log.warning("%s answered 400 to response_format %s (%s): sending %s for the rest of this run", where, failed,
                message, "json_object" if _modes[where] == "json_object" else "plain text, the JSON taken from the reply")
    return True


def is_reasoning(model: str, prefixes: tuple[str, ...]) -> bool:
    return any(model.startswith(p) for p in prefixes)


def body(planned: dict[str, Any], fmt: str, reasoning_models: tuple[str, ...] = ()) -> dict[str, Any]:
    """The body sent for the planned body `planned` in response_format mode `fmt`."""
    out = copy.deepcopy(planned)
    if is_reasoning(str(out.get("model", "")), reasoning_models):
        if "max_tokens" in out:
            out["max_completion_tokens"] = out.pop("max_tokens")
        out.pop("temperature", None)
    schema = (out.get("response_format") or {}).get("json_schema", {}).get("schema")
    if fmt == "json_schema" or schema is None:
        return out
    out.pop("response_format")
    if fmt == "json_object":
        out["response_format"] = {"type": "json_object"}
    note = SCHEMA_NOTE + json.dumps(schema, separators=(",", ":"))
    system = next((m for m in out["messages"] if m.get("role") == "system"), None)
    if system is None:
        out["messages"].insert(0, {"role": "system", "content": note.strip()})
    else:
        system["content"] = str(system["content"]) + note
    return out


def json_content(content: str) -> Any:
    """The JSON value a reply's content holds: the whole content, else the first fenced block (```json ... ```) that
    parses, else the span from the first `{` to the last `}`; ValueError when none parses."""
    try:
        return json.loads(content)
    except ValueError:
        pass
    candidates = [m.group(1) for m in FENCED.finditer(content)]
    if "{" in content and "}" in content:
        candidates.append(content[content.index("{"): content.rindex("}") + 1])
    for text in candidates:
        try:
            return json.loads(text)
        except ValueError:
            continue
    raise ValueError("no JSON in the reply")
