"""The LLM response cache: an append-only JSONL file (data/llm_cache/responses.jsonl), one line per response.

Each raw response is appended, flushed and fsynced *before* it is parsed, keyed by the full request, so a
run killed at any point loses no response that was paid for, and a rerun asks only what is missing. A torn
last line (a write cut short by a crash) is tolerated: it is cut off and its request asked again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Any

from stages.core.errors import DataError

log = logging.getLogger(__name__)
FILE = "responses.jsonl"


def request_key(body: dict[str, Any], index: int) -> str:
    """sha256 of the full request (model, messages, temperature, seed, schema...) and its index."""
    canonical = json.dumps({"index": index, "request": body}, sort_keys=True, ensure_ascii=False,
                           separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class ResponseCache:
    def __init__(self, directory: str | Path):
        self.path = Path(directory) / FILE
        self.entries: dict[str, dict[str, Any]] = {}
        self._file = None
        self._load()

    def _load(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = self.path.read_bytes() if self.path.exists() else b""
        end = data.rfind(b"\n") + 1  # everything after the last newline is a torn write
        for number, line in enumerate(data[:end].splitlines(), start=1):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
                self.entries[entry["key"]] = entry
            except (ValueError, KeyError, TypeError):
                raise DataError(f"{self.path}: line {number} is not a cache entry; the cache is append-only, "
                                "restore it with `dvc checkout` or delete the file to ask again") from None
        tail = data[end:]
        if tail.strip():
            try:  # a complete entry that only lacks its newline is kept
                entry = json.loads(tail)
                self.entries[entry["key"]] = entry
                end = len(data)
            except (ValueError, KeyError, TypeError):
                log.warning("%s: dropped a torn last line (%d bytes); its request will be asked again",
                            self.path, len(tail))
        if end < len(data) or (data and not data.endswith(b"\n")):
            with open(self.path, "r+b") as f:
                f.truncate(end)
                if end and not data[:end].endswith(b"\n"):
                    f.seek(end)
                    f.write(b"\n")
        elif not self.path.exists():
            self.path.touch()  # DVC needs the output to exist even when nothing was asked

    def __len__(self) -> int:
        return len(self.entries)

    def get(self, key: str) -> dict[str, Any] | None:
        return self.entries.get(key)

    def append(self, entry: dict[str, Any]) -> None:
        """Write one response durably (flush + fsync) before anyone parses it."""
        line = json.dumps(entry, sort_keys=True, ensure_ascii=False, separators=(",", ":")) + "\n"
        if self._file is None:
            self._file = open(self.path, "ab", buffering=0)  # unbuffered: one write() per line
        self._file.write(line.encode("utf-8"))
        os.fsync(self._file.fileno())
        self.entries[entry["key"]] = entry

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
