"""A real HTTP server on 127.0.0.1 that speaks the OpenAI chat-completions API, for tests and benchmarks.

It answers `POST /v1/chat/completions` with structured output (`{"samples": [...]}`, as many samples as
the request's JSON schema asks for; objects `{text, labels}` with one to three of the schema's label names when
its items are such objects, as a multi-label task asks; for a `classification` schema,
`{"answers": [{"id", "label"}]}` from `server.classify(text, labels)`, by default a keyword rule, with a `reason`
when the schema asks for one) and can be told,
per request, to misbehave instead: 429 with
Retry-After, 500, hang past the client's timeout, malformed JSON content, a garbage body, status 200 with a
proxy's HTML page (`html`, Content-Type text/html: what a gateway in front of the API may send), a body cut off
mid-way (the connection closed before Content-Length bytes), a body trickled a byte at a time for
`hang_s` (each read is quick, the whole reply is not), a refusal, `finish_reason: length`, or 401.
Unknown models get OpenAI's 404 `model_not_found` error. It counts what it receives by request key (sha256
of the canonical request body) and how many requests overlapped: like a real server, a request whose client
closed its connection stops being processed (and counted in flight) at once.

It also serves the Batch API (`/v1/files`, `/v1/batches`: testkit/batch_api.py, `server.batches`), can be told to
answer 400 to a response_format type or to `max_tokens`/`temperature` (`server.reject`, as servers without
structured output and reasoning models do), and answers a request that carries its schema in the system message
instead (the client's fallback) with the JSON in a fenced block when it has no response_format at all.

    with FakeOpenAI(latency=0.1) as server:
        server.script("429", "500")          # the next two requests misbehave, then all are answered
        server.when("clickbait", "refusal")  # every request whose messages contain "clickbait" is refused
        ... base_url=server.url ...
"""

from __future__ import annotations

import collections
import hashlib
import json
import random
import select
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from testkit.batch_api import BatchAPI

BEHAVIOURS = {"ok", "429", "500", "503", "hang", "malformed", "garbage", "html", "truncated", "trickle", "refusal", "length",
              "400", "401", "403"}
SCHEMA_MARK = "JSON schema: "  # where core/llm/wire.py puts the schema in the system message when it falls back
PROXY_PAGE = (b"<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head>\n<body><center><h1>502 Bad Gateway"
              b"</h1></center><hr><center>nginx</center></body></html>\n")
WORDS = ("river market council storm budget vote school price rail farm city league court bank clinic "
         "harbor festival museum bridge airport library union factory orchard tunnel senate ferry "
         "reactor vaccine tariff drought glacier satellite startup pension mortgage wildfire census").split()


def request_key(body: dict) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def with_schema(body: dict) -> dict:
    """`body` as the answer is built from it: a request sent without json_schema (the client's json_object or plain-text
    fallback, core/llm/wire.py) carries its schema as text in the system message; put it back in response_format."""
    if ((body.get("response_format") or {}).get("json_schema") or {}).get("schema") is not None:
        return body
    for m in body.get("messages", []):
        text = str(m.get("content", ""))
        if m.get("role") == "system" and SCHEMA_MARK in text:
            schema, _ = json.JSONDecoder().raw_decode(text[text.index(SCHEMA_MARK) + len(SCHEMA_MARK):])
            name = "classification" if "answers" in schema.get("properties", {}) else "samples"
            return {**body, "response_format": {"type": "json_schema", "json_schema": {"name": name, "schema": schema}}}
    return body


def rejected(reject: set[str], body: dict) -> str | None:
    """The 400 message of a server told to reject a response_format type or a parameter (`FakeOpenAI.reject`)."""
    kind = (body.get("response_format") or {}).get("type")
    if kind in reject:
        return f"Invalid parameter: 'response_format' of type '{kind}' is not supported with this model."
    if "max_tokens" in reject and "max_tokens" in body:
        return "Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens'."
    if "temperature" in reject and "temperature" in body:
        return "Unsupported value: 'temperature' does not support this value with this model. Only the default (1)."
    return None


def samples_asked(body: dict) -> int:
    try:
        return int(body["response_format"]["json_schema"]["schema"]["properties"]["samples"]["maxItems"])
    except (KeyError, TypeError, ValueError):
        return 1


def keyword_label(text: str, labels: list[str]) -> str:
    """The default zero-shot "model": the first label whose name occurs in the text, else the first label."""
    return next((lab for lab in labels if lab.lower() in text.lower()), labels[0])


def fake_answers(body: dict, classify) -> dict:
    """{"answers": [...]} for a classification request: the texts come as JSON in the user message, the labels
    as the schema's enum; `classify(text, labels)` gives a label (or a list of labels for a multi-label schema)."""
    schema = body["response_format"]["json_schema"]["schema"]["properties"]["answers"]["items"]["properties"]
    multi = "labels" in schema
    labels = schema["labels"]["items"]["enum"] if multi else schema["label"]["enum"]
    user = next(m["content"] for m in body["messages"] if m.get("role") == "user")
    answers = []
    for item in json.loads(user)["texts"]:
        chosen = classify(item["text"], labels)
        answers.append({"id": item["id"], ("labels" if multi else "label"): chosen})
        if "reason" in schema:  # the judge's schema: a one-line reason beside each label
            answers[-1]["reason"] = f"reads as {chosen}"
    return {"answers": answers}


def fake_samples(body: dict, n: int) -> list[str]:
    """Deterministic, varied texts: words of the user message mixed with a fixed vocabulary."""
    rng = random.Random(request_key(body))
    prompt = " ".join(str(m.get("content", "")) for m in body.get("messages", []) if m.get("role") == "user")
    vocab = [w for w in prompt.lower().replace("\n", " ").split() if w.isalpha() and len(w) > 3] + list(WORDS)
    out = []
    for _ in range(n):
        words = rng.sample(vocab, k=min(len(vocab), rng.randint(5, 10)))
        out.append(" ".join(words).capitalize())
    return out


def label_enum(body: dict) -> list[str] | None:
    """The label names a multi-label request's schema allows per item, or None (items are plain strings)."""
    try:
        items = body["response_format"]["json_schema"]["schema"]["properties"]["samples"]["items"]
        return list(items["properties"]["labels"]["items"]["enum"])
    except (KeyError, TypeError):
        return None


def fake_items(body: dict, n: int) -> list:
    """fake_samples, or for a multi-label schema objects {text, labels} (a seeded 1-3 of the allowed names)."""
    texts, names = fake_samples(body, n), label_enum(body)
    if names is None:
        return texts
    rng = random.Random("labels/" + request_key(body))
    return [{"text": t, "labels": rng.sample(names, k=rng.randint(1, min(3, len(names))))} for t in texts]


def completion(body: dict, key: str, behaviour: str, classify) -> dict:
    """The chat completion answering `body` (behaviour ok, malformed, length or refusal); sent without
    response_format (the client's plain-text fallback), the JSON comes in a fenced block after a sentence."""
    schema_body = with_schema(body)
    fmt = (schema_body.get("response_format") or {}).get("json_schema") or {}
    answer = fake_answers(schema_body, classify) if fmt.get("name") == "classification" else \
        {"samples": fake_items(schema_body, samples_asked(schema_body))}
    content, refusal, finish = json.dumps(answer), None, "stop"
    if behaviour == "malformed":
        content = content[: len(content) // 2]
    elif behaviour == "length":
        content, finish = content[: len(content) // 3], "length"
    elif behaviour == "refusal":
        content, refusal = None, "I'm sorry, I can't help with that."
    if content is not None and "response_format" not in body:
        content = f"Here is the JSON you asked for:\n\n```json\n{content}\n```\n"
    prompt_tokens = sum(len(str(m.get("content", "")).split()) for m in body.get("messages", []))
    completion_tokens = len((content or refusal).split())
    return {"id": "chatcmpl-" + key[:12], "object": "chat.completion", "created": 0, "model": body.get("model"),
            "choices": [{"index": 0, "finish_reason": finish,
                         "message": {"role": "assistant", "content": content, "refusal": refusal}}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                      "total_tokens": prompt_tokens + completion_tokens}}


class FakeOpenAI:
    def __init__(self, latency: float = 0.0, models: tuple[str, ...] | None = None, api_key: str | None = None,
                 retry_after: str = "1", hang_s: float = 5.0):
        self.latency, self.models, self.api_key = latency, models, api_key
        self.retry_after, self.hang_s = retry_after, hang_s
        self.classify = keyword_label  # (text, labels) -> label, or a list of labels for a multi-label schema
        self.classify_by_model: dict[str, object] = {}  # model -> its own classify (models that disagree)
        self.lock = threading.Lock()
        self.queue: collections.deque[str] = collections.deque()
        self.rules: list[list] = []  # [substring, behaviour, remaining or None]
        self.received: collections.Counter[str] = collections.Counter()   # request key -> times received
        self.answered: collections.Counter[str] = collections.Counter()   # key -> 200 responses written
        self.statuses: collections.Counter[str] = collections.Counter()   # behaviour -> times used
        self.bodies: list[dict] = []
        self.auth: set[str] = set()
        self.in_flight = self.max_in_flight = 0
        self.hold_after: int | None = None      # answer this many requests, then hold the rest
        self.held = self.admitted = 0
        self.gate = threading.Event()
        self.reject: set[str] = set()  # 400 to: json_schema, json_object (response_format types), max_tokens, temperature
        self.batches = BatchAPI(self)  # /v1/files and /v1/batches (testkit/batch_api.py)
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    # -- control
    def script(self, *behaviours: str) -> None:
        """The next requests, in arrival order, get these behaviours; later ones are answered normally."""
        assert set(behaviours) <= BEHAVIOURS, behaviours
        with self.lock:
            self.queue.extend(behaviours)

    def when(self, substring: str, behaviour: str, times: int | None = None) -> None:
        """Requests whose user message contains `substring` get `behaviour` (`times` times, or always)."""
        assert behaviour in BEHAVIOURS, behaviour
        with self.lock:
            self.rules.append([substring, behaviour, times])

    def reset_counts(self) -> None:
        with self.lock:
            self.received.clear(), self.answered.clear(), self.statuses.clear(), self.bodies.clear()
            self.max_in_flight = 0

    @property
    def total(self) -> int:
        return sum(self.received.values())

    def __enter__(self) -> FakeOpenAI:
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.gate.set()
        self.httpd.shutdown()
        self.httpd.server_close()

    # -- behaviour
    def _choose(self, body: dict) -> str:
        text = " ".join(str(m.get("content")) for m in body.get("messages", []) if m.get("role") == "user")
        with self.lock:
            for rule in self.rules:
                if rule[0] in text and rule[2] != 0:
                    if rule[2] is not None:
                        rule[2] -= 1
                    return rule[1]
            return self.queue.popleft() if self.queue else "ok"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # keep test output quiet
                pass

            def setup(self) -> None:
                super().setup()  # headers and body go out in two writes: without NODELAY, Nagle adds ~40 ms
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def _wait(self, seconds: float) -> bool:
                """Sleep `seconds`, or until the client closes its connection (then False: stop processing)."""
                end = time.monotonic() + seconds
                while (left := end - time.monotonic()) > 0:
                    if select.select([self.connection], [], [], min(left, 0.02))[0]:
                        try:
                            gone = self.connection.recv(1, socket.MSG_PEEK) == b""
                        except OSError:
                            gone = True
                        if gone:
                            self.close_connection = True
                            self._leave()
                            return False
                        time.sleep(min(left, 0.02))  # pipelined bytes, not a close: keep sleeping
                return True

            def _leave(self) -> None:
                """This request stops counting as in flight (once: when the client left or the handler ends)."""
                if not getattr(self, "left", True):
                    self.left = True
                    with server.lock:
                        server.in_flight -= 1

            def _send(self, status: int, payload: bytes, headers: dict[str, str] | None = None,
                      content_type: str = "application/json") -> bool:
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", content_type)
                    self.send_header("Content-Length", str(len(payload)))
                    for k, v in (headers or {}).items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(payload)
                    self.wfile.flush()
                    return True
                except OSError:  # the client went away (killed, or timed out)
                    return False

            def _error(self, status: int, message: str, code: str, headers: dict | None = None) -> None:
                err = {"error": {"message": message, "type": "invalid_request_error", "param": None, "code": code}}
                self._send(status, json.dumps(err).encode(), headers)

            def do_GET(self) -> None:
                server.batches.get(self, self.path)

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.path.startswith(("/v1/files", "/v1/batches")):
                    return server.batches.post(self, self.path, raw)
                if self.path.rstrip("/") != "/v1/chat/completions":
                    return self._error(404, f"no route {self.path}", "not_found")
                body = json.loads(raw)
                key = request_key(body)
                with server.lock:
                    server.received[key] += 1
                    server.bodies.append(body)
                    server.auth.add(self.headers.get("Authorization", ""))
                    server.in_flight += 1
                    self.left = False
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                    hold = server.hold_after is not None and server.admitted >= server.hold_after
                    server.held += hold
                    server.admitted += not hold
                try:
                    if hold:  # never answered: the client is killed while waiting
                        server.gate.wait(60)
                        self.close_connection = True
                        return None
                    self._respond(body, key)
                finally:
                    self._leave()

            def _respond(self, body: dict, key: str) -> None:
                behaviour = server._choose(body)
                with server.lock:
                    server.statuses[behaviour] += 1
                if server.latency and not self._wait(server.latency):
                    return None
                if server.api_key is not None and self.headers.get("Authorization") != f"Bearer {server.api_key}":
                    behaviour = "401"
                model = body.get("model")
                if behaviour in ("400", "401", "403"):
                    message = {"400": "Invalid schema for response_format 'samples'.",
                               "401": "Incorrect API key provided.",
                               "403": "Project does not have access to this model."}[behaviour]
                    return self._error(int(behaviour), message, "error_" + behaviour)
                if server.models is not None and model not in server.models:
                    return self._error(404, f"The model `{model}` does not exist or you do not have access to it.",
                                       "model_not_found")
                if (why := rejected(server.reject, body)) is not None:
                    return self._error(400, why, "invalid_request_error")
                if behaviour == "429":
                    return self._error(429, "Rate limit reached.", "rate_limit_exceeded",
                                       {"Retry-After": server.retry_after})
                if behaviour in ("500", "503"):
                    return self._error(int(behaviour), "The server had an error.", "server_error")
                if behaviour == "hang":
                    self._wait(server.hang_s)
                    return None
                if behaviour in ("garbage", "html"):
                    page, kind = (b"<html>Bad gateway</html>", "application/json") if behaviour == "garbage" else \
                        (PROXY_PAGE, "text/html; charset=utf-8")
                    if self._send(200, page, content_type=kind):
                        with server.lock:
                            server.answered[key] += 1
                    return None
                if behaviour == "trickle":  # a byte every 20 ms for hang_s, then the connection closes unfinished
                    self.close_connection = True
                    try:
                        self.send_response(200)
                        self.send_header("Content-Type", "application/json")
                        self.send_header("Content-Length", "1000000")
                        self.end_headers()
                        end = time.monotonic() + server.hang_s
                        while time.monotonic() < end and self._wait(0.02):
                            self.wfile.write(b" ")
                            self.wfile.flush()
                    except OSError:
                        self._leave()
                    return None
                payload = completion(body, key, behaviour, server.classify_by_model.get(model, server.classify))
                if behaviour == "truncated":  # headers promise the whole body; half of it, then the connection closes
                    data = json.dumps(payload).encode()
                    self.close_connection = True
                    try:
                        self.send_response(200)
                        self.send_header("Content-Type", "application/json")
                        self.send_header("Content-Length", str(len(data)))
                        self.end_headers()
                        self.wfile.write(data[: len(data) // 2])
                        self.wfile.flush()
                    except OSError:
                        pass
                    return None
                if self._send(200, json.dumps(payload).encode()):
                    with server.lock:
                        server.answered[key] += 1

        return Handler
