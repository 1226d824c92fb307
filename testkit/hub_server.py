"""A real HTTP server on 127.0.0.1 that stands in for the Hugging Face Hub, for tests (HF_ENDPOINT=server.url).

It answers the calls `huggingface_hub.HfApi` makes to create a repository and commit files to it: `POST
/api/repos/create`, `POST /api/validate-yaml` (a README's front matter), `POST /api/{models,datasets}/ID/preupload/REV`
(every file `regular`: sent inline in the commit, so no LFS or Xet upload is involved) and `POST
/api/{models,datasets}/ID/commit/REV` (the NDJSON commit). It records each call (method, path, the Authorization
header, the parsed body) and keeps the files of every repository, decoded, so a test reads what was pushed.
A request without the expected bearer token gets 401, as the Hub answers.

    with FakeHub(token="hf_test") as hub:
        ... HF_ENDPOINT=hub.url HF_TOKEN=hf_test synthbert push ...
        hub.repos["user/model"]["files"]["README.md"]   # bytes
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

REPO_PATH = re.compile(r"/api/(models|datasets)/([^/]+/[^/]+)/(preupload|commit)/([^/?]+)")


class FakeHub:
    def __init__(self, token: str = "hf_test") -> None:
        self.token = token
        self.calls: list[dict] = []
        self.repos: dict[str, dict] = {}  # repo id -> {type, private, files: {path: bytes}, commits: [message]}
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> FakeHub:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    def paths(self) -> list[str]:
        return [f"{c['method']} {c['path']}" for c in self.calls]

    def _create(self, body: dict) -> tuple[int, dict]:
        kind = body.get("type") or "model"
        repo = f"{body.get('organization')}/{body['name']}"
        if repo in self.repos:
            return 409, {"error": "You already created this repo", "url": self._repo_url(kind, repo)}
        self.repos[repo] = {"type": kind, "private": body.get("visibility") == "private", "files": {}, "commits": []}
        return 200, {"url": self._repo_url(kind, repo), "name": repo}

    def _repo_url(self, kind: str, repo: str) -> str:
        return f"{self.url}/{'datasets/' if kind == 'dataset' else ''}{repo}"

    def _commit(self, kind: str, repo: str, lines: list[dict]) -> tuple[int, dict]:
        stored = self.repos.get(repo)
        if stored is None or stored["type"] != kind[:-1]:
            return 404, {"error": f"Repository Not Found for url: {repo}"}
        for line in lines:
            if line["key"] == "header":
                stored["commits"].append(line["value"]["summary"])
            elif line["key"] == "file":
                stored["files"][line["value"]["path"]] = base64.b64decode(line["value"]["content"])
            else:  # lfsFile and others are never asked for: preupload answers `regular`
                return 400, {"error": f"unsupported commit operation {line['key']}"}
        oid = hashlib.sha1(json.dumps(lines, sort_keys=True).encode()).hexdigest()
        return 200, {"commitUrl": f"{self._repo_url(kind[:-1], repo)}/commit/{oid}", "commitOid": oid}

    def _route(self, path: str, raw: bytes) -> tuple[int, dict, object]:
        if path == "/api/repos/create":
            body = json.loads(raw)
            return (*self._create(body), body)
        if path == "/api/validate-yaml":
            return 200, {"errors": [], "warnings": []}, json.loads(raw)
        match = REPO_PATH.fullmatch(path.split("?")[0])
        if match and match.group(3) == "preupload":
            body = json.loads(raw)
            files = [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False} for f in body["files"]]
            return 200, {"files": files}, body
        if match:
            lines = [json.loads(line) for line in raw.splitlines() if line.strip()]
            return (*self._commit(match.group(1), match.group(2), lines), lines)
        return 404, {"error": f"not served by FakeHub: {path}"}, None

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # keep test output quiet
                pass

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                auth = self.headers.get("Authorization")
                with hub._lock:
                    if auth != f"Bearer {hub.token}":
                        status, reply, body = 401, {"error": "Invalid credentials in Authorization header"}, None
                    else:
                        status, reply, body = hub._route(self.path, raw)
                    hub.calls.append({"method": "POST", "path": self.path.split("?")[0], "auth": auth,
                                      "status": status, "body": body})
                payload = json.dumps(reply).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        return Handler
