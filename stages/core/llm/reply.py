"""What an HTTP reply from an OpenAI-compatible server tells the client (core/llm/client.py) before anything is cached:
how long a 429 asks to wait, whether a broken connection was cut mid-reply, and whether a 200's body is the API's
JSON at all (a proxy or gateway may answer 200 with its own HTML page: a transport fault, retried, never cached).
"""

from __future__ import annotations

import email.utils
import json
import time
from typing import Any

NOT_API_JSON = "not the API's JSON"  # the retry reason (Outcome.retries, Outcome.failed) of such a 200


def retry_after(headers: Any) -> float | None:
    """Seconds the server asks to wait: `retry-after-ms`, `retry-after` in seconds, or an HTTP date."""
    for name, scale in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            return max(0.0, float(value) / scale)
        except ValueError:
            date = email.utils.parsedate_to_datetime(value) if name == "retry-after" else None
            if date is not None:
                return max(0.0, date.timestamp() - time.time())
    return None


def cut_off(exc: Exception) -> bool:
    """Whether a connection error happened after the server was reached (closed mid-reply), not while connecting."""
    import httpx2

    cause = exc.__cause__
    return isinstance(cause, (httpx2.ReadError, httpx2.WriteError, httpx2.RemoteProtocolError)) or \
        type(cause).__name__ == "EndOfStream"


def not_api_json(text: str, content_type: str | None) -> str | None:
    """None when a 200's body is a chat completion (a JSON object with a `choices` list, whatever its content says);
    else what it is instead, in a few words for the log ("text/html: '<html><head><title>502 Bad Gateway...'")."""
    try:
        body = json.loads(text)
        if isinstance(body, dict) and isinstance(body.get("choices"), list):
            return None
    except ValueError:
        pass
    start = " ".join(text.split())[:60]
    return f"{content_type or 'no content type'}: {start!r}" + ("..." if len(" ".join(text.split())) > 60 else "")
