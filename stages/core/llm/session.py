"""One fetch at the server (client.py starts it): concurrent requests, bounded retries, the machine store, signals.

Requests run `generate.concurrency` at a time in this process, and `concurrency` in all across the processes of the
machine that use the same endpoint (store.py's slot files); 429 (honouring Retry-After), 5xx, timeouts and replies
cut off mid-body (the connection closed before the whole response arrived) are retried up to `generate.max_retries`
times with exponential backoff and jitter; a 400 while the run can still fall back from response_format json_schema
(wire.py) switches the run's mode and asks again at once; any other error stops the run with the server's message
in one line. Bodies go out as wire.py adapts them (the fallback mode, reasoning models). A
200 whose body is not the API's JSON (a proxy's HTML page) is retried too and never stored; when its retries are
spent that request fails (Outcome.failed, one warning) and the run goes on. An attempt that outlives
`generate.timeout_s` is cancelled and its connection closed, so the server stops working on it.

Before asking, a request claims its key in the machine store (store.py): when another process is asking the same
request, it waits and takes that answer. Each answer is written to the store (one file, atomically) and appended to
the workspace's record (cache.py) as it arrives, before anything parses it.

SIGINT and SIGTERM stop a fetch cleanly: no new request starts, the requests in flight finish (each within its
timeout) and are stored, then `Interrupted` says how many responses were kept (exit code 128 + signal). Further
SIGTERMs are ignored (a `dvc` killed by SIGKILL sends its stage a parent-death SIGTERM and maybe another: answers
the server is sending are not thrown away); a second Ctrl-C (SIGINT) drops the requests still in flight.
"""

from __future__ import annotations

import asyncio
import logging
import random
import signal
import threading
from typing import Any

from stages.core import params
from stages.core.progress import Progress
from stages.core.errors import Interrupted, SynthbertError
from stages.core.llm.cache import ResponseCache
from stages.core.llm.store import Store
from stages.core.llm.reply import NOT_API_JSON, cut_off, not_api_json, retry_after
from stages.core.llm.request import (OPENAI_URL, LLMError, Outcome, Request, endpoint, entry_of,  # noqa: F401
                                     section_of)
from stages.core.llm.usage import usage_of
from stages.core.llm import wire

log = logging.getLogger(__name__)
RETRYABLE = {408, 429}  # and every 5xx
MAX_WAIT_S = 120.0  # a longer Retry-After (a daily quota) ends the run instead of stalling it
HINTS = {400: "the server rejected the request", 401: "check the key in ${env}",
         403: "the key has no access to this model or endpoint",
         404: "check generate.model / generate.models against the models the server offers"}


class Abandoned(Exception):
    """A failed attempt not retried because the run is stopping (an error elsewhere, or a signal)."""


class Failed(Exception):
    """Every attempt of one request got a 200 whose body is not the API's JSON: that request fails, the run goes on."""


# Why an attempt failed, as counted in Outcome.retries -> how the final error says it.
WORDING = {"timeout": "no response within generate.timeout_s",
           "connection closed": "the server closed the connection mid-response"}


def _one_line(text: str, secret: str) -> str:
    return " ".join(str(text).replace(secret, "***").split())[:400]


class Session:
    """One fetch: the semaphore, the stop flag and the counters shared by the request tasks."""

    def __init__(self, cache: ResponseCache, store: Store, cfg: params.Generate | params.LlmBaseline, key: str,
                 outcome: Outcome, todo: int):
        self.cache, self.store, self.cfg, self.key, self.outcome = cache, store, cfg, key, outcome
        self.section = section_of(cfg)
        self.where = endpoint(cfg.base_url)
        self.tokens = 0
        self.progress = Progress("answered", todo, "requests", log=log)  # a line every ~10 s, rate and ETA
        self.error: LLMError | None = None
        self.signum: int | None = None  # the signal that asked us to stop
        self.stopping = asyncio.Event()  # set on the first error or signal: wakes requests waiting to retry
        self.sem = asyncio.Semaphore(cfg.concurrency)
        self.tasks: list[asyncio.Task] = []

    def named(self, text: str) -> str:
        return text.replace("generate.", self.section + ".")

    def stopped(self) -> bool:
        limit = self.cfg.max_total_tokens
        return self.error is not None or self.signum is not None or (limit > 0 and self.tokens >= limit)

    def interrupt(self, signum: int) -> None:
        """First signal: start nothing new, let the requests in flight finish. A later SIGTERM: ignored (their
        answers may be on the way); a second SIGINT: drop them too."""
        if self.signum is not None and signum == signal.SIGTERM:
            log.warning("SIGTERM again: ignored, the requests in flight finish and are stored (SIGINT drops them)")
            return
        if self.signum is not None:
            log.warning("%s again: dropping the requests in flight", signal.Signals(signum).name)
            for task in self.tasks:
                task.cancel()
            return
        self.signum = signum
        self.stopping.set()
        busy = sum(not t.done() for t in self.tasks)
        log.warning("%s: finishing the %d requests in flight (each within %s.timeout_s=%g s), then stopping; "
                    "press Ctrl-C again to drop them", signal.Signals(signum).name, busy, self.section, self.cfg.timeout_s)

    async def attempt(self, client: Any, req: Request, fmt: str) -> Any:
        """One attempt, holding one of the endpoint's slots on this machine (store.py) while it is at the server; the
        body as wire.py adapts it to response_format mode `fmt` and the model."""
        slot = await self.store.slot(self.where, self.cfg.concurrency, self.stopping)
        if slot is None:  # the run stopped while every slot was taken
            raise Abandoned
        try:
            # The whole attempt within timeout_s (the SDK's timeout bounds each read, not the sum); on expiry the
            # task is cancelled and httpx closes the connection, which is how a server learns to stop working.
            async with asyncio.timeout(self.cfg.timeout_s):
                return await client.chat.completions.with_raw_response.create(
                    **wire.body(req.body, fmt, getattr(self.cfg, "reasoning_models", ())))
        finally:
            slot.close()

    def refused(self, exc: Any, req: Request, fmt: str) -> None:
        """A 4xx that is not retried: returns when it was a 400 to a structured-output mode the run can fall back from
        (wire.py: json_schema -> json_object -> plain text), else raises LLMError with the server's message."""
        status, body = exc.status_code, exc.body if isinstance(exc.body, dict) else {}
        message = _one_line(body.get("message") or exc.message, self.key)
        if status == 400 and "response_format" in req.body and wire.fall_back(self.where, fmt, message):
            return
        hint = self.named(HINTS.get(status, "").replace("{env}", self.cfg.api_key_env))
        if status == 400 and "response_format" in req.body:
            hint += " even as plain text, without response_format"
        raise LLMError(f"{self.where} answered {status} for model {req.body['model']}: {message}"
                       + (f" ({hint})" if hint else "")) from None

    async def call(self, client: Any, req: Request) -> str:
        import openai

        attempt = -1
        while attempt < self.cfg.max_retries:
            attempt, wait, fmt = attempt + 1, None, wire.mode(self.where)
            try:
                raw = await self.attempt(client, req, fmt)
                # A proxy's or gateway's own page with status 200 is a transport fault: retried, never cached.
                what = not_api_json(raw.text, raw.headers.get("content-type"))
                if what is None:
                    return raw.text
                reason = NOT_API_JSON
            except (openai.APITimeoutError, TimeoutError):
                reason = "timeout"
            except openai.APIStatusError as exc:
                if exc.status_code not in RETRYABLE and exc.status_code < 500:
                    self.refused(exc, req, fmt)
                    attempt -= 1  # the fallback's first try is not a retry
                    continue
                reason = str(exc.status_code)
                wait = retry_after(exc.response.headers) if exc.status_code == 429 else None
            except openai.APIConnectionError as exc:
                if not cut_off(exc):
                    raise LLMError(f"cannot reach {self.where}: {_one_line(exc.message, self.key)} "
                                   f"(is the server running? check {self.section}.base_url)") from None
                reason = "connection closed"  # the server was reached and went away mid-reply: a transport fault
            if wait is not None and wait > MAX_WAIT_S:
                raise LLMError(f"{self.where} asks to retry after {wait:.0f} s (rate limit or quota): rerun later; "
                               "every answered request is cached")
            if self.stopping.is_set():  # an error or a signal already stopped the run: do not retry for nothing
                raise Abandoned
            if attempt == self.cfg.max_retries and reason == NOT_API_JSON:
                raise Failed(what)
            if attempt == self.cfg.max_retries:
                raise LLMError(f"{self.where}: request {req.label}#{req.index} still failing after "
                               f"{attempt + 1} attempts (last: {self.named(WORDING.get(reason, reason))}); rerun "
                               "later, answered requests are cached")
            self.outcome.retries[reason] += 1
            delay = wait * random.uniform(1.0, 1.1) if wait is not None else \
                self.cfg.backoff_s * 2**attempt * random.uniform(0.5, 1.0)
            log.info("retrying %s#%d in %.2f s after %s", req.label, req.index, delay, reason)
            try:  # the backoff, cut short when the run stops
                await asyncio.wait_for(self.stopping.wait(), delay)
                raise Abandoned
            except TimeoutError:
                pass
        raise AssertionError("unreachable")

    def keep(self, req: Request, text: str) -> None:
        """The machine's copy of a new answer, durable before anything parses it; a store that cannot be written (disk
        full) costs only the sharing: the workspace's record below still keeps the answer."""
        try:
            self.store.put(req.key, req.body, text)
        except (OSError, SynthbertError) as exc:
            log.warning("could not write to the LLM response store %s (%s): this answer is kept in %s only",
                        self.store.root, exc, self.cache.path.parent)

    async def one(self, client: Any, req: Request) -> None:
        held = None
        try:
            held = await self.store.claim(req.key, self.stopping)  # waits while another process asks it
            if held is None:
                raise Abandoned
            stored = self.store.get(req.key)  # bought by another process while we waited
            if stored is None:
                text = await self.call(client, req)
                self.keep(req, text)
                self.outcome.sent += 1
                self.outcome.new_keys.add(req.key)
            else:
                text = stored["response"]
                self.outcome.from_store += 1
            entry = entry_of(req, text)
            self.cache.append(entry)  # the workspace's record
            self.tokens += sum(usage_of(entry))
            self.progress.update(1)
        except LLMError as exc:
            self.error = self.error or exc
            self.stopping.set()
        except Failed as exc:
            self.outcome.failed.append((req, str(exc)))
        except Abandoned:
            pass
        finally:
            if held is not None:
                self.store.release(req.key, held)
            self.sem.release()

    def unhook(self, loop: asyncio.AbstractEventLoop, signals: tuple[int, ...]) -> None:
        """Remove the handlers; when stopping on a signal, a late SIGTERM is ignored instead (blocked meanwhile, so
        none slips in while the default action is back) and must not cut the cleanup short."""
        stopping = self.signum is not None and bool(signals)
        if stopping:
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
        for signum in signals:
            loop.remove_signal_handler(signum)
        if stopping:
            signal.signal(signal.SIGTERM, signal.SIG_IGN)  # discards one pending meanwhile
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})

    async def run(self, plan: list[Request]) -> None:
        import openai

        loop = asyncio.get_running_loop()
        signals = (signal.SIGINT, signal.SIGTERM) if threading.current_thread() is threading.main_thread() else ()
        for signum in signals:
            loop.add_signal_handler(signum, self.interrupt, signum)
        try:
            async with openai.AsyncOpenAI(api_key=self.key, base_url=self.where, max_retries=0,
                                          timeout=self.cfg.timeout_s) as client:
                for req in plan:
                    entry = self.cache.get(req.key)
                    if self.stopped():
                        break
                    if entry is not None:
                        self.tokens += sum(usage_of(entry))
                        continue
                    await self.sem.acquire()
                    if self.stopped():  # an error, a signal or the budget arrived while waiting for a slot
                        self.sem.release()
                        break
                    self.tasks.append(asyncio.create_task(self.one(client, req)))
                # In-flight requests finish and are cached even after an error or a signal (not after a second one).
                await asyncio.gather(*self.tasks, return_exceptions=True)
        finally:
            self.unhook(loop, signals)
        if self.signum is not None:
            cached = sum(self.cache.get(r.key) is not None for r in plan)
            raise Interrupted(f"interrupted: {self.outcome.sent:,} responses cached by this run ({cached:,} of "
                              f"{len(plan):,} planned are cached); rerun to continue", self.signum)
        if self.error is not None:
            raise self.error


