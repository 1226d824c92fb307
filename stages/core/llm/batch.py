"""The OpenAI Batch API path of the LLM client (`generate.batch`, `evaluate.baselines.llm.batch`): about half the price,
answers within the 24 h completion window.

The requests neither the workspace's cache nor the machine's store holds are written as JSONL (custom_id = the
request's cache key, the body as wire.py sends it), uploaded (`client.files`, purpose batch) and submitted
(`client.batches`). The batch's id, input file and request keys are recorded in the machine's store
(store.py, batches/<id>.json) before anything waits on it, so a run killed while it waits, or any run on this machine
needing the same requests, polls that batch instead of submitting them again. The batch is polled every
`batch_poll_s`; its output file's answers go through the same store and cache as single requests (each entry marked
with the batch id: priced at the batch price, usage.py). A request the batch answered with an error (a 5xx, a 400,
...) is asked again one by one in the same run (session.py: retries, the response_format fallback). A batch that
expired (or was cancelled) keeps what it answered; the run then stops in one line naming the batch, and the rerun
submits the rest in a new batch. A batch that failed validation stops the run with the server's reasons.
"""

from __future__ import annotations

import json
import logging
import signal
import time
from typing import Any

from stages.core.errors import Interrupted, SynthbertError
from stages.core.llm import wire
from stages.core.llm.cache import ResponseCache
from stages.core.llm.reply import not_api_json
from stages.core.llm.request import LLMError, Outcome, Request, endpoint, entry_of, section_of
from stages.core.llm.store import Store

log = logging.getLogger(__name__)
URL = "/v1/chat/completions"
MAX_REQUESTS = 50_000  # the Batch API's limit per batch
TERMINAL = {"completed", "expired", "failed", "cancelled"}
LOG_EVERY_S = 60.0


def run(todo: list[Request], cache: ResponseCache, store: Store, cfg: Any, key: str, outcome: Outcome) -> None:
    """Answers for `todo` through the Batch API: resumed batches first, a new one for what none covers."""
    import openai

    where, by_key = endpoint(cfg.base_url), {r.key: r for r in todo}
    try:
        with openai.OpenAI(api_key=key, base_url=where, max_retries=cfg.max_retries, timeout=cfg.timeout_s) as client:
            ended = [collect(client, store, cache, record, by_key, cfg, outcome)
                     for record in claim(client, store, where, todo, cfg)]
    except openai.APIStatusError as exc:
        message = " ".join(str((exc.body or {}).get("message") if isinstance(exc.body, dict) else exc.message).split())
        raise LLMError(f"{where} answered {exc.status_code} to the Batch API: {message.replace(key, '***')[:300]} (does "
                       f"it offer /v1/files and /v1/batches? else set {section_of(cfg)}.batch false)") from None
    except openai.APIConnectionError:
        raise LLMError(f"cannot reach {where} (is the server running? check {section_of(cfg)}.base_url)") from None
    short = [(record, left) for record, left in ended if left]
    if short:
        record, left = short[0]
        raise LLMError(f"batch {record['id']} at {where} ended {record['status']} with {left:,} of its "
                       f"{len(record['keys']):,} requests unanswered (the answered ones are cached); rerun to submit "
                       "the rest in a new batch")


def claim(client: Any, store: Store, where: str, todo: list[Request], cfg: Any) -> list[dict[str, Any]]:
    """The batches to wait for: those recorded in the store that hold some of `todo` (resumed), and new ones for the
    rest, each recorded before it is waited on. Under the store's batch lock: two runs never submit a request twice."""
    lock = store.batch_lock()
    try:
        wanted = {r.key for r in todo}
        records = [rec for rec in store.batches(where) if wanted & set(rec["keys"])]
        for rec in records:
            log.info("resuming batch %s (%s requests, submitted %s): polling it, nothing is submitted again",
                     rec["id"] or f"of input file {rec['input_file_id']}", f"{len(rec['keys']):,}", rec["submitted"])
        records = [rec if rec["id"] else create(client, store, rec, cfg) for rec in records]
        covered = {k for rec in records for k in rec["keys"]}
        rest = [r for r in todo if r.key not in covered]
        for start in range(0, len(rest), MAX_REQUESTS):
            records.append(submit(client, store, where, rest[start:start + MAX_REQUESTS], cfg))
        return records
    finally:
        lock.close()


def submit(client: Any, store: Store, where: str, requests: list[Request], cfg: Any) -> dict[str, Any]:
    fmt, reasoning = wire.mode(where), getattr(cfg, "reasoning_models", ())
    lines = "".join(json.dumps({"custom_id": r.key, "method": "POST", "url": URL,
                                "body": wire.body(r.body, fmt, reasoning)}, ensure_ascii=False) + "\n" for r in requests)
    upload = client.files.create(file=("synthbert-batch.jsonl", lines.encode("utf-8")), purpose="batch")
    pending = {"id": None, "input_file_id": upload.id, "endpoint": where, "keys": [r.key for r in requests],
               "submitted": time.strftime("%Y-%m-%d %H:%M:%S")}
    store.put_batch(pending, name=upload.id)  # a kill before the batch's id is recorded cannot submit twice
    log.info("uploaded %s requests (input file %s, %s bytes)", f"{len(requests):,}", upload.id,
             f"{len(lines.encode()):,}")
    return create(client, store, pending, cfg)


def create(client: Any, store: Store, pending: dict[str, Any], cfg: Any) -> dict[str, Any]:
    """The batch of an uploaded input file: the one the server already has for it (a run killed between creating it
    and recording its id), else a new one; recorded under its id."""
    found = next((b for b in client.batches.list(limit=100).data if b.input_file_id == pending["input_file_id"]), None)
    batch = found or client.batches.create(input_file_id=pending["input_file_id"], endpoint=URL,
                                           completion_window="24h")
    record = {**pending, "id": batch.id}
    store.put_batch(record)
    store.drop_batch(pending["input_file_id"])
    log.info("%s batch %s: %s requests; polling every %g s", "found" if found else "submitted", batch.id,
             f"{len(record['keys']):,}", cfg.batch_poll_s)
    return record


def poll(client: Any, record: dict[str, Any], cfg: Any) -> Any:
    """The batch once it has ended (completed, expired, failed or cancelled); Ctrl-C stops waiting, not the batch."""
    said = 0.0
    try:
        while True:
            batch = client.batches.retrieve(record["id"])
            if batch.status in TERMINAL:
                return batch
            if time.monotonic() - said >= LOG_EVERY_S:
                counts = batch.request_counts
                done = f"{counts.completed + counts.failed:,} of {counts.total:,} done" if counts else "no counts yet"
                log.info("batch %s: %s, %s", record["id"], batch.status, done)
                said = time.monotonic()
            time.sleep(cfg.batch_poll_s)
    except KeyboardInterrupt:
        raise Interrupted(f"interrupted while batch {record['id']} runs at {record['endpoint']}: it goes on there and "
                          "is recorded in the machine's LLM store; rerun to resume polling it", signal.SIGINT) from None


def lines_of(client: Any, file_id: str | None) -> list[dict[str, Any]]:
    if not file_id:
        return []
    return [json.loads(line) for line in client.files.content(file_id).text.splitlines() if line.strip()]


def collect(client: Any, store: Store, cache: ResponseCache, record: dict[str, Any], by_key: dict[str, Request],
            cfg: Any, outcome: Outcome) -> tuple[dict[str, Any], int]:
    """Wait for one batch, keep its answers (store, then cache); (the record with its final status, how many of its
    requests of this run it left unanswered when it expired or was cancelled)."""
    import openai

    try:
        batch = poll(client, record, cfg)
    except openai.NotFoundError:
        store.drop_batch(record["id"])
        raise LLMError(f"batch {record['id']} is unknown to {record['endpoint']}: its record is dropped; rerun to "
                       "submit its requests again") from None
    if batch.status == "failed":
        store.drop_batch(record["id"])
        why = "; ".join(str(e.message) for e in (batch.errors.data or [])[:3]) if batch.errors else ""
        raise LLMError(f"batch {record['id']} failed at {record['endpoint']}: {why or 'no reason given'}; nothing of it "
                       "was answered (rerun to submit it again)")
    entries, failures, expired = [], {}, set()
    for item in lines_of(client, batch.output_file_id) + lines_of(client, batch.error_file_id):
        cid, response, error = item.get("custom_id"), item.get("response") or {}, item.get("error") or {}
        body = response.get("body")
        text = json.dumps(body, ensure_ascii=False) if isinstance(body, dict) else ""
        if response.get("status_code") == 200 and not_api_json(text, "application/json") is None:
            req = by_key.get(cid)
            keep(store, cid, req, text, record["id"])
            if req is not None and cache.get(cid) is None:
                entries.append(entry_of(req, text, batch=record["id"]))
                outcome.sent += 1
                outcome.new_keys.add(cid)
        elif error.get("code") == "batch_expired":
            expired.add(cid)
        else:
            status = response.get("status_code") or error.get("code") or "error"
            message = ((body or {}).get("error") or {}).get("message") if isinstance(body, dict) else error.get("message")
            failures[cid] = f"{status}: {' '.join(str(message).split())[:120]}"
    cache.extend(entries)
    store.drop_batch(record["id"])
    record = {**record, "status": batch.status}
    mine = [k for k in record["keys"] if k in by_key and cache.get(k) is None]
    failed = [k for k in mine if k in failures]
    if failed:
        outcome.retries["batch error"] += len(failed)
        log.warning("batch %s: %s requests failed (e.g. %s): asking them one by one now", record["id"],
                    f"{len(failed):,}", failures[failed[0]])
    log.info("batch %s %s: %s answers kept", record["id"], batch.status, f"{len(entries):,}")
    left = [k for k in mine if k not in failures] if batch.status in ("expired", "cancelled") else []
    return record, len(left)


def keep(store: Store, key: str, req: Request | None, text: str, batch_id: str) -> None:
    """The machine's copy of a batch answer (also one another run's request in the same batch: it finds it there)."""
    try:
        store.put(key, req.body if req is not None else {}, text, batch=batch_id)
    except (OSError, SynthbertError) as exc:
        log.warning("could not write to the LLM response store %s (%s)", store.root, exc)
