"""The OpenAI Batch API of the local test server (testkit/openai_server.py): `/v1/files` (upload, content download)
and `/v1/batches` (create, retrieve, list), for the client's batch path (stages/core/llm/batch.py).

A batch runs in a thread: after `latency` seconds and once `gate` is set (tests clear it to hold a batch in progress),
each input line is answered as the chat endpoint would (the server's script and rules apply: a 5xx or 400 behaviour
becomes that request's line in the error file, `ok` its chat completion in the output file). `expire_after`: answer
only that many requests, then end `expired` (the rest in the error file with code batch_expired); `fail_validation`:
end `failed` with an error. `created` counts the batches created.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any

ERRORS = {"400": "Invalid request.", "429": "Rate limit reached.", "500": "The server had an error.",
          "503": "The server is overloaded."}


class BatchAPI:
    def __init__(self, server: Any):
        self.server = server
        self.files: dict[str, dict[str, Any]] = {}  # id -> {object, content}
        self.batches: dict[str, dict[str, Any]] = {}
        self.latency = 0.0
        self.gate = threading.Event()
        self.gate.set()
        self.expire_after: int | None = None
        self.fail_validation = False
        self.ids = itertools.count(1)
        self.lock = threading.Lock()

    @property
    def created(self) -> int:
        return len(self.batches)

    def _file(self, content: bytes, name: str, purpose: str) -> dict[str, Any]:
        ident = f"file-{next(self.ids)}"
        obj = {"id": ident, "object": "file", "bytes": len(content), "created_at": int(time.time()),
               "filename": name, "purpose": purpose, "status": "processed"}
        with self.lock:
            self.files[ident] = {"object": obj, "content": content}
        return obj

    def post(self, handler: Any, path: str, raw: bytes) -> None:
        if path.rstrip("/") == "/v1/files":
            form = BytesParser(policy=HTTP).parsebytes(
                f"Content-Type: {handler.headers['Content-Type']}\r\n\r\n".encode() + raw)
            parts = {p.get_param("name", header="content-disposition"): p for p in form.iter_parts()}
            upload = parts["file"]
            obj = self._file(upload.get_payload(decode=True), upload.get_filename() or "upload.jsonl",
                             parts["purpose"].get_payload(decode=True).decode())
            return handler._send(200, json.dumps(obj).encode())
        if path.rstrip("/") == "/v1/batches":
            body = json.loads(raw)
            if body.get("input_file_id") not in self.files:
                return handler._error(404, f"No such File object: {body.get('input_file_id')}", "not_found")
            ident = f"batch_{next(self.ids)}"
            batch = {"id": ident, "object": "batch", "endpoint": body["endpoint"], "errors": None,
                     "input_file_id": body["input_file_id"], "completion_window": body["completion_window"],
                     "status": "validating", "output_file_id": None, "error_file_id": None,
                     "created_at": int(time.time()), "request_counts": {"total": 0, "completed": 0, "failed": 0}}
            with self.lock:
                self.batches[ident] = batch
            threading.Thread(target=self._run, args=(ident,), daemon=True).start()
            return handler._send(200, json.dumps(batch).encode())
        return handler._error(404, f"no route {path}", "not_found")

    def get(self, handler: Any, path: str) -> None:
        parts = path.split("?")[0].strip("/").split("/")  # v1 files <id> content | v1 batches [<id>]
        with self.lock:
            if parts == ["v1", "batches"]:  # newest first, one page
                data = sorted(self.batches.values(), key=lambda b: -int(b["id"].split("_")[1]))
                return handler._send(200, json.dumps({"object": "list", "data": data, "has_more": False}).encode())
            if parts[1:2] == ["files"] and len(parts) == 4 and parts[2] in self.files:
                return handler._send(200, self.files[parts[2]]["content"], content_type="application/octet-stream")
            if parts[1:2] == ["batches"] and len(parts) == 3 and parts[2] in self.batches:
                return handler._send(200, json.dumps(self.batches[parts[2]]).encode())
        return handler._error(404, f"no such object: {path}", "not_found")

    def _run(self, ident: str) -> None:
        from testkit.openai_server import completion, request_key

        batch = self.batches[ident]
        lines = [json.loads(x) for x in self.files[batch["input_file_id"]]["content"].decode().splitlines() if x.strip()]
        with self.lock:
            batch["status"] = "in_progress"
            batch["request_counts"]["total"] = len(lines)
        time.sleep(self.latency)
        self.gate.wait(60)
        if self.fail_validation:
            with self.lock:
                batch.update(status="failed", errors={"object": "list", "data": [
                    {"code": "invalid_request", "message": "Line 1: the model does not support the Batch API."}]})
            return
        out, err = [], []
        for n, line in enumerate(lines):
            body, cid = line["body"], line["custom_id"]
            if self.expire_after is not None and n >= self.expire_after:
                err.append({"id": f"req-{n}", "custom_id": cid, "response": None, "error": {
                    "code": "batch_expired", "message": "This request could not be executed before the window expired."}})
                continue
            key = request_key(body)
            behaviour = self.server._choose(body)
            with self.server.lock:
                self.server.received[key] += 1
                self.server.bodies.append(body)
                self.server.statuses[behaviour] += 1
            if behaviour in ERRORS:
                error = {"error": {"message": ERRORS[behaviour], "type": "server_error", "code": behaviour}}
                err.append({"id": f"req-{n}", "custom_id": cid, "response": {"status_code": int(behaviour),
                                                                             "body": error}, "error": None})
                continue
            with self.server.lock:
                self.server.answered[key] += 1
            out.append({"id": f"req-{n}", "custom_id": cid, "error": None, "response": {
                "status_code": 200, "request_id": f"r{n}",
                "body": completion(body, key, behaviour,
                                   self.server.classify_by_model.get(body.get("model"), self.server.classify))}})
        as_file = lambda rows, name: self._file("".join(json.dumps(r) + "\n" for r in rows).encode(), name,
                                                "batch_output")["id"] if rows else None  # noqa: E731
        output, errors = as_file(out, "output.jsonl"), as_file(err, "errors.jsonl")
        with self.lock:
            batch.update(status="expired" if self.expire_after is not None and len(lines) > self.expire_after
                         else "completed", output_file_id=output, error_file_id=errors)
            batch["request_counts"].update(completed=len(out), failed=len(err))
