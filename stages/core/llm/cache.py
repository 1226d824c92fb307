"""The workspace's LLM response cache: an append-only JSONL file (data/llm_cache/responses.jsonl), one line per
response, the DVC-tracked record of what a run used (the machine's store, store.py, is what every copy reads first).

Each raw response is appended, flushed and fsynced *before* it is parsed, keyed by the full request, so a
run killed at any point loses no response that was paid for, and a rerun asks only what is missing. A torn
last line (a write cut short by a crash) is tolerated: it is cut off and its request asked again.

One run at a time: opening the cache takes an exclusive lock (flock) on `.<dir>.lock` beside the directory
(e.g. data/.llm_cache.lock, outside the DVC output so it never changes the output's hash), holding the
holder's pid and host. A second run does not wait: it stops at once with `CacheBusy` (one line naming the
holder, exit code 2) before it reads the cache or sends anything, so two runs never pay for the same request.
The lock file is removed when the cache is closed; a stale one left by a SIGKILL holds no lock and is reused.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import socket
import time
from pathlib import Path
from typing import Any

from stages.core.errors import DataError, SynthbertError

log = logging.getLogger(__name__)
FILE = "responses.jsonl"


def request_key(body: dict[str, Any], index: int) -> str:
    """sha256 of the full request (model, messages, temperature, seed, schema...) and its index."""
    canonical = json.dumps({"index": index, "request": body}, sort_keys=True, ensure_ascii=False,
                           separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class CacheBusy(SynthbertError):
    """Another process holds the cache's lock: another run of the stage that owns it is using it now."""


def lock_path(directory: str | Path) -> Path:
    """The lock file beside the cache directory (data/llm_cache -> data/.llm_cache.lock)."""
    directory = Path(directory)
    return directory.parent / f".{directory.name}.lock"


def ensure_exists(directory: str | Path) -> None:
    """Create the (empty) cache when there is none, without locking it: DVC expects the persistent output to
    exist even when the provider asks no LLM (template, csv), and such a run must not need the lock file."""
    path = Path(directory) / FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()


def _read_holder(lock) -> str:
    """The holder's "pid N on HOST since ..." line. The holder writes it just after it locks, so an empty file
    is read again for up to a second before the line settles for "a process starting up"."""
    for _ in range(20):
        lock.seek(0)
        holder = " ".join(lock.read(300).decode("utf-8", "replace").split())
        if holder:
            return holder
        time.sleep(0.05)
    return "a process starting up"


class ResponseCache:
    def __init__(self, directory: str | Path, owner: str = "generate"):
        """Open (and lock) the cache in `directory`; `owner`: the stage whose output it is, for CacheBusy's line."""
        self.owner = owner
        self.path = Path(directory) / FILE
        self.lock_path = lock_path(directory)
        self.entries: dict[str, dict[str, Any]] = {}
        self._file = None
        self._lock = None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._acquire()
        try:
            self._load()
        except BaseException:
            self.close()
            raise

    def _acquire(self) -> None:
        """Lock `lock_path` (non-blocking) and write our pid and host into it; CacheBusy if another run holds it."""
        try:
            import fcntl
        except ImportError:  # not POSIX: no locking
            return
        for _ in range(100):
            lock = open(self.lock_path, "a+b", buffering=0)  # a file object: closed (and unlocked) even if leaked
            try:
                fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _read_holder(lock)
                lock.close()
                raise CacheBusy(f"{self.path.parent} is in use by another {self.owner} run ({holder}); wait for it to "
                                f"finish or stop it, then rerun (nothing was sent; lock file {self.lock_path})") from None
            try:  # the holder may have removed the file between our open and our lock: then lock the new one
                same = os.stat(self.lock_path).st_ino == os.fstat(lock.fileno()).st_ino
            except FileNotFoundError:
                same = False
            if same:
                lock.truncate(0)
                lock.write(f"pid {os.getpid()} on {socket.gethostname()} since "
                           f"{time.strftime('%Y-%m-%d %H:%M:%S')}\n".encode())
                self._lock = lock
                return
            lock.close()
        raise CacheBusy(f"could not lock {self.lock_path}: it keeps being replaced")

    def _load(self) -> None:
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
        self.extend([entry])

    def extend(self, entries: list[dict[str, Any]]) -> None:
        """Write responses durably, one fsync for all of them (the machine store's answers a run takes at once)."""
        if not entries:
            return
        lines = "".join(json.dumps(e, sort_keys=True, ensure_ascii=False, separators=(",", ":")) + "\n" for e in entries)
        if self._file is None:
            self._file = open(self.path, "ab", buffering=0)  # unbuffered: one write() per call
        self._file.write(lines.encode("utf-8"))
        os.fsync(self._file.fileno())
        self.entries.update((e["key"], e) for e in entries)

    def close(self) -> None:
        """Close the file and release the lock (removing the lock file first, while it is still ours)."""
        if self._file is not None:
            self._file.close()
            self._file = None
        if self._lock is not None:
            try:
                os.unlink(self.lock_path)
            except FileNotFoundError:
                pass
            self._lock.close()
            self._lock = None

    def __enter__(self) -> ResponseCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
