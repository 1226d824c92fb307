"""The machine's LLM response store: one content-addressed file per answer, shared by every workspace copy.

Where: $SYNTHBERT_LLM_STORE, else $XDG_CACHE_HOME/synthbert/llm, else ~/.cache/synthbert/llm. Every run of generate
and of evaluate's llm_zero_shot baseline reads it before asking, whichever workspace it runs in (a queued or temporary
experiment's copy, another branch, a lineage just checked out), so an answer is bought once per machine; the
workspace's DVC-tracked cache (cache.py) stays the reviewable record of what a run used.

    responses/<k[:2]>/<key>.json   {key, request, response}: written whole (temporary, fsync, rename) as each answer
                                   arrives, so a kill at any moment keeps every answer received
    locks/<key>.lock               flock while one process asks that request; another process that needs it waits,
                                   then reads the answer (removed by its holder once the answer is stored)
    slots/<endpoint>/<i>.lock      `concurrency` slot files per endpoint: an attempt holds one (flock) while it is at
                                   the server, so parallel processes on the machine keep `concurrency` in flight in all
    batches/<id>.json              a Batch API batch submitted and not yet collected (its id, input file, endpoint and
                                   request keys; named by the input file, id null, between upload and creation):
                                   a run killed while it waits, or another run needing the same requests, polls
                                   that batch instead of submitting them again (core/llm/batch.py)

flock locks die with their process, so a SIGKILL leaves nothing held. Without fcntl (not POSIX) nothing is locked.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Any, BinaryIO

from stages.core.errors import DataError
from stages.core.io import atomic_path

try:
    import fcntl
except ImportError:  # not POSIX: no cross-process locks
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger(__name__)
ENV = "SYNTHBERT_LLM_STORE"
POLL_S = 0.02  # how often a waiting request looks again for its key's answer or a free slot


def default_root() -> Path:
    """$SYNTHBERT_LLM_STORE, else the user cache directory's synthbert/llm ($XDG_CACHE_HOME or ~/.cache)."""
    explicit = os.environ.get(ENV, "").strip()
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CACHE_HOME", "").strip()
    return (Path(base) if base else Path.home() / ".cache") / "synthbert" / "llm"


def try_lock(path: Path) -> BinaryIO | None:
    """An open, exclusively flocked `path`, or None when another holder has it (or removed it meanwhile)."""
    handle = open(path, "a+b", buffering=0)
    if fcntl is None:
        return handle
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        same = os.stat(path).st_ino == os.fstat(handle.fileno()).st_ino  # not unlinked by its last holder
    except (BlockingIOError, FileNotFoundError):
        same = False
    if not same:
        handle.close()
        return None
    return handle


class Store:
    def __init__(self, root: str | Path | None = None):
        self.root = Path(root) if root is not None else default_root()
        try:
            for sub in ("responses", "locks", "slots", "batches"):
                (self.root / sub).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DataError(f"cannot use the LLM response store {self.root}: {exc.strerror or exc}; point ${ENV} at "
                            "a writable directory") from None

    def path(self, key: str) -> Path:
        return self.root / "responses" / key[:2] / f"{key}.json"

    def get(self, key: str) -> dict[str, Any] | None:
        """{key, request, response} of a stored answer, or None (absent, or unreadable: then asked again)."""
        try:
            data = json.loads(self.path(key).read_bytes())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            log.warning("%s: unreadable (%s); its request will be asked again", self.path(key), exc)
            return None
        if not isinstance(data, dict) or data.get("key") != key or not isinstance(data.get("response"), str):
            log.warning("%s: not a stored answer; its request will be asked again", self.path(key))
            return None
        return data

    def has(self, key: str) -> bool:
        return self.path(key).exists()

    def put(self, key: str, request: dict[str, Any], response: str, batch: str | None = None) -> None:
        """Store one answer whole (temporary file, fsync, rename): a reader sees all of it or nothing. `batch`: the
        id of the Batch API batch that answered it."""
        record = {"key": key, "request": request, "response": response, **({"batch": batch} if batch else {})}
        with atomic_path(self.path(key)) as tmp:
            tmp.write_bytes(json.dumps(record, sort_keys=True, ensure_ascii=False).encode("utf-8"))

    # -- Batch API batches in flight (core/llm/batch.py): batches/<id>.json {id, input_file_id, endpoint, keys}
    def batches(self, where: str) -> list[dict[str, Any]]:
        """The records of the batches submitted to endpoint `where` and not yet collected."""
        found = []
        for path in sorted((self.root / "batches").glob("*.json")):
            try:
                record = json.loads(path.read_bytes())
            except (OSError, ValueError):
                continue
            if record.get("endpoint") == where:
                found.append(record)
        return found

    def put_batch(self, record: dict[str, Any], name: str | None = None) -> None:
        """Record a batch under its id (`name`: under its input file's id while the batch is not yet created)."""
        with atomic_path(self.root / "batches" / f"{name or record['id']}.json") as tmp:
            tmp.write_bytes(json.dumps(record, sort_keys=True).encode("utf-8"))

    def drop_batch(self, name: str) -> None:
        (self.root / "batches" / f"{name}.json").unlink(missing_ok=True)

    def batch_lock(self) -> BinaryIO:
        """An exclusive flock on batches/.lock (blocking): held while a run looks for batches and submits one, so two
        runs never submit the same requests."""
        handle = open(self.root / "batches" / ".lock", "a+b", buffering=0)
        if fcntl is not None:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        return handle

    async def claim(self, key: str, stopping: asyncio.Event) -> BinaryIO | None:
        """The right to ask `key`: wait while another process asks it (then its answer is in the store). None when
        the run stops while waiting."""
        path = self.root / "locks" / f"{key}.lock"
        while (held := try_lock(path)) is None:
            if stopping.is_set():
                return None
            await asyncio.sleep(POLL_S)
        return held

    def release(self, key: str, held: BinaryIO) -> None:
        """Give the key back; its lock file goes first, while it is still ours (a waiter then retries the path)."""
        try:
            os.unlink(self.root / "locks" / f"{key}.lock")
        except FileNotFoundError:
            pass
        held.close()

    async def slot(self, endpoint: str, concurrency: int, stopping: asyncio.Event) -> BinaryIO | None:
        """One of the endpoint's `concurrency` slots, held across processes until closed; None when the run stops
        while waiting for one."""
        folder = self.root / "slots" / hashlib.sha256(endpoint.encode()).hexdigest()[:16]
        folder.mkdir(exist_ok=True)
        while True:
            for i in range(concurrency):
                held = try_lock(folder / f"{i}.lock")
                if held is not None:
                    return held
            if stopping.is_set():
                return None
            await asyncio.sleep(POLL_S)
