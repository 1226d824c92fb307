"""The OpenAI-compatible client against a real local server: concurrency, retries, cache, budget, resume."""

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from stages.core import params
from stages.core.llm import client as llm
from stages.generation import openai_provider
from stages.core.errors import DataError
from stages.core.llm.cache import ResponseCache, request_key
from stages.generation.task import load_task
from testkit.openai_server import FakeOpenAI

from testkit import ROOT
TASK = ROOT / "data" / "tasks" / "clickbait.yaml"
KEY = "sk-test-9f8e7d6c5b4a"


@pytest.fixture(autouse=True)
def api_key(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)


@pytest.fixture
def server():
    with FakeOpenAI(hang_s=1.5) as s:
        yield s


def cfg(server, **kw):
    raw = {"provider": "openai", "task": str(TASK), "base_url": server.url, "n_per_label": 20,
           "samples_per_request": 5, "backoff_s": 0.01, "timeout_s": 5, "max_retries": 3, **kw}
    return params.load_dict(raw, "generate")


def fetch(tmp_path, config):
    cache = ResponseCache(tmp_path / "cache")
    try:
        return llm.fetch(openai_provider.plan(load_task(config.task), config, 42), cache, config)
    finally:
        cache.close()


def test_requests_really_overlap_up_to_the_concurrency(tmp_path, server):
    server.latency = 0.3  # long enough that requests sent together are in the server together
    out = fetch(tmp_path, cfg(server, n_per_label=40, concurrency=4))  # 16 requests
    assert out.sent == 16 and len(out.used) == 16
    assert server.max_in_flight == 4  # measured by the server: 4 at once, never more (wall time: the benchmark)


def test_429_waits_for_retry_after_then_succeeds(tmp_path, server):
    server.retry_after = "1"
    server.script("429")
    start = time.monotonic()
    out = fetch(tmp_path, cfg(server, n_per_label=5, concurrency=1))  # 2 requests, the first one gets 429
    assert time.monotonic() - start >= 1.0  # backoff_s is 0.01: only Retry-After explains the wait
    assert out.retries == {"429": 1} and out.sent == 2
    assert sorted(server.received.values()) == [1, 2]


def test_5xx_and_timeouts_are_retried_with_backoff(tmp_path, server):
    server.script("500", "hang", "503")
    out = fetch(tmp_path, cfg(server, n_per_label=5, concurrency=1, timeout_s=0.4))
    assert out.retries == {"500": 1, "503": 1, "timeout": 1} and out.sent == 2
    assert sum(server.answered.values()) == 2


def test_a_timed_out_request_is_cancelled_on_the_server(tmp_path, server):
    """A timeout closes the request's connection, so the server never processes more than `concurrency` at once."""
    server.hang_s = 30  # far past timeout_s: only a closed connection ends these requests on the server
    server.script(*["hang"] * 12)  # the first 12 attempts hang: 3 rounds of timeouts at concurrency 4
    start = time.monotonic()
    out = fetch(tmp_path, cfg(server, n_per_label=40, concurrency=4, timeout_s=0.3, max_retries=4))  # 16 requests
    assert out.sent == 16 and out.retries == {"timeout": 12}
    assert server.max_in_flight <= 4  # measured by the server: requests whose client is still connected
    assert time.monotonic() - start < 20


def test_timeout_s_bounds_the_whole_attempt_even_when_bytes_keep_coming(tmp_path, server):
    """A reply trickled a byte at a time never trips a per-read timeout; the attempt is still cut at timeout_s."""
    server.hang_s = 10
    server.script("trickle")
    start = time.monotonic()
    out = fetch(tmp_path, cfg(server, n_per_label=5, concurrency=1, timeout_s=0.5))
    assert out.retries == {"timeout": 1} and out.sent == 2
    assert time.monotonic() - start < 5  # not the 10 s of the trickle
    assert server.in_flight == 0  # the trickling handler saw its client go


def test_a_reply_cut_off_mid_body_is_retried_and_worded_as_such(tmp_path, server, monkeypatch):
    server.script("truncated")  # the first reply stops half way and the connection closes; then all are answered
    out = fetch(tmp_path, cfg(server, n_per_label=5, concurrency=1))
    assert out.retries == {"connection closed": 1} and out.sent == 2
    assert sorted(server.received.values()) == [1, 2] and len(ResponseCache(tmp_path / "cache")) == 2
    server.when("", "truncated")
    monkeypatch.setenv("SYNTHBERT_LLM_STORE", str(tmp_path / "another-machine"))  # nothing bought yet
    with pytest.raises(llm.LLMError) as err:
        fetch(tmp_path / "again", cfg(server, n_per_label=5, concurrency=1, max_retries=1))
    assert "closed the connection mid-response" in str(err.value) and "is the server running" not in str(err.value)
    assert "still failing after 2 attempts" in str(err.value)


def test_a_200_whose_body_is_not_the_apis_json_is_retried_and_never_cached(tmp_path, server):
    """A proxy's HTML page (or any body that is not a chat completion) with status 200 is a transport fault."""
    server.script("html", "garbage")  # the first request gets a gateway's page, then a non-JSON body, then its answer
    out = fetch(tmp_path, cfg(server, n_per_label=5, concurrency=1))
    assert out.retries == {"not the API's JSON": 2} and out.sent == 2 and len(out.used) == 2 and not out.failed
    assert sorted(server.received.values()) == [1, 3]
    cached = (tmp_path / "cache" / "responses.jsonl").read_text()
    assert len(cached.splitlines()) == 2 and "html" not in cached.lower() and "Bad gateway" not in cached


def test_a_request_never_answered_with_the_apis_json_fails_alone_and_a_rerun_asks_it_again(tmp_path, server, caplog):
    caplog.set_level("WARNING")
    server.script("html", "html")  # both attempts of the first request (max_retries 1); the other three are answered
    out = fetch(tmp_path, cfg(server, n_per_label=10, concurrency=1, max_retries=1))
    assert [(r.label, r.index) for r, _ in out.failed] == [("clickbait", 0)] and "502 Bad Gateway" in out.failed[0][1]
    assert out.failed[0][1].startswith("text/html")
    assert len(out.used) == 3 and not out.budget_exhausted  # the requests after it are still used
    assert "1 of 4 requests failed: every one of their 2 attempts got a 200 whose body is not the API's JSON" in \
        caplog.text and "a rerun asks them again" in caplog.text
    assert len(ResponseCache(tmp_path / "cache")) == 3  # nothing of the failed request was cached
    server.reset_counts()
    again = fetch(tmp_path, cfg(server, n_per_label=10, concurrency=1, max_retries=1))
    assert server.bodies == [out.failed[0][0].body]  # only the failed request is asked again
    assert len(again.used) == 4 and not again.failed and again.sent == 1


def test_retries_are_bounded(tmp_path, server):
    server.when("clickbait", "500")
    with pytest.raises(llm.LLMError) as err:
        fetch(tmp_path, cfg(server, n_per_label=5, concurrency=1, max_retries=2))
    assert "still failing after 3 attempts (last: 500)" in str(err.value)
    assert max(server.received.values()) == 3  # 1 try + 2 retries, never more


@pytest.mark.parametrize("behaviour, message, tries", [
    ("400", "answered 400 for model gpt-4o-mini: Invalid schema for response_format 'samples'. (the server rejected "
     "the request even as plain text", 3),  # json_schema, json_object, then plain text (wire.py), never retried
    ("401", "answered 401 for model gpt-4o-mini: Incorrect API key provided. (check the key in $OPENAI_API_KEY)", 1),
    ("403", "answered 403 for model gpt-4o-mini: Project does not have access to this model.", 1),
])
def test_client_errors_fail_fast_without_retry(tmp_path, server, behaviour, message, tries):
    server.when("", behaviour)
    with pytest.raises(llm.LLMError) as err:
        fetch(tmp_path, cfg(server, n_per_label=5, concurrency=1))
    assert message in str(err.value) and "\n" not in str(err.value) and KEY not in str(err.value)
    assert server.total == tries


def test_an_unreachable_server_fails_fast_with_the_url(tmp_path):
    import socket

    with socket.socket() as sock:  # a port that nothing listens on
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
    config = params.load_dict({"provider": "openai", "task": str(TASK), "base_url": url, "n_per_label": 5,
                               "backoff_s": 5, "max_retries": 5}, "generate")
    start = time.monotonic()
    with pytest.raises(llm.LLMError, match=f"cannot reach {url}: Connection error"):
        fetch(tmp_path, config)
    assert time.monotonic() - start < 5  # no backoff: a connection refused is not retried


def test_unknown_model_shows_the_servers_error_in_one_line(tmp_path, server, capsys):
    server.models = ("gpt-4o-mini",)
    p = tmp_path / "params.yaml"
    p.write_text(yaml.safe_dump({"base": {"seed": 42}, "generate": {"provider": "openai", "task": str(TASK), "model": "gpt-9-turbo",
                                              "base_url": server.url, "n_per_label": 5, "concurrency": 1}}))
    from stages import generate

    code = generate.main(["--params", str(p), "--out", str(tmp_path / "g.csv"), "--reports", str(tmp_path / "r"),
                          "--cache", str(tmp_path / "cache")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and server.total == 1
    assert "answered 404 for model gpt-9-turbo: The model `gpt-9-turbo` does not exist" in err[0]
    assert not (tmp_path / "g.csv").exists() and not (tmp_path / "r").exists()


def test_missing_key_fails_before_any_request_but_a_full_cache_needs_none(tmp_path, server, monkeypatch):
    config = cfg(server, n_per_label=10)
    monkeypatch.delenv("OPENAI_API_KEY")
    with pytest.raises(llm.LLMError) as err:
        fetch(tmp_path, config)
    assert "environment variable OPENAI_API_KEY is not set" in str(err.value) and "nothing was sent" in str(err.value)
    assert server.total == 0
    monkeypatch.setenv("MY_KEY", KEY)
    fetch(tmp_path, cfg(server, n_per_label=10, api_key_env="MY_KEY"))  # fills the cache
    assert server.auth == {f"Bearer {KEY}"}
    server.reset_counts()
    out = fetch(tmp_path, config)  # replay from the cache: no key, no request
    assert out.sent == 0 and len(out.used) == 4 and server.total == 0


def test_cache_hit_is_zero_requests_and_more_rows_ask_only_the_new_ones(tmp_path, server):
    first = fetch(tmp_path, cfg(server, n_per_label=20))
    assert first.sent == 8 and server.total == 8
    server.reset_counts()
    again = fetch(tmp_path, cfg(server, n_per_label=20))
    assert again.sent == 0 and server.total == 0
    assert [e for _, e in again.used] == [e for _, e in first.used]
    more = fetch(tmp_path, cfg(server, n_per_label=30))
    assert more.sent == 4 and server.total == 4 and len(more.used) == 12


def test_request_budget_stops_cleanly_and_the_rerun_is_identical(tmp_path, server):
    out = fetch(tmp_path, cfg(server, n_per_label=20, max_requests=5))
    assert out.budget_exhausted and len(out.used) == 5 and server.total == 5
    assert [r.label for r, _ in out.used] == ["clickbait", "factual"] * 2 + ["clickbait"]  # interleaved
    server.reset_counts()
    assert fetch(tmp_path, cfg(server, n_per_label=20, max_requests=5)).sent == 0 and server.total == 0


def test_token_budget_keeps_a_fixed_prefix_of_the_plan(tmp_path, server):
    config = cfg(server, n_per_label=40, max_total_tokens=600, concurrency=3)
    out = fetch(tmp_path, config)
    tokens = [sum(llm.usage_of(e)) for _, e in out.used]
    assert out.budget_exhausted and sum(tokens[:-1]) < 600 <= sum(tokens)
    server.reset_counts()
    again = fetch(tmp_path, config)
    assert again.sent == 0 and [r.key for r, _ in again.used] == [r.key for r, _ in out.used]


def test_in_flight_requests_are_kept_when_another_fails(tmp_path, server):
    server.latency = 0.3
    server.when("factual", "401")
    with pytest.raises(llm.LLMError):
        fetch(tmp_path, cfg(server, n_per_label=5, concurrency=2))
    cache = ResponseCache(tmp_path / "cache")
    assert len(cache) == 1 and next(iter(cache.entries.values()))["label"] == "clickbait"


def test_retry_after_forms():
    from stages.core.llm.reply import retry_after

    assert retry_after({"retry-after-ms": "250"}) == 0.25
    assert retry_after({"retry-after": "3"}) == 3.0
    assert 55 < retry_after({"retry-after": time.strftime("%a, %d %b %Y %H:%M:%S GMT",
                                                              time.gmtime(time.time() + 60))}) <= 60
    assert retry_after({}) is None


def test_cache_tolerates_a_torn_last_line_and_rejects_a_corrupt_middle(tmp_path):
    cache = ResponseCache(tmp_path)
    for i in range(3):
        cache.append({"key": f"k{i}", "response": "{}"})
    cache.close()
    path = tmp_path / "responses.jsonl"
    path.write_bytes(path.read_bytes() + b'{"key": "k3", "respo')  # killed mid-write
    cache = ResponseCache(tmp_path)
    assert sorted(cache.entries) == ["k0", "k1", "k2"] and path.read_bytes().endswith(b"}\n")
    cache.append({"key": "k3", "response": "{}"})
    cache.close()
    assert [json.loads(line)["key"] for line in path.read_text().splitlines()] == ["k0", "k1", "k2", "k3"]
    path.write_bytes(path.read_bytes()[:-1])  # a complete last entry that lost only its newline is kept
    assert len(ResponseCache(tmp_path)) == 4 and path.read_bytes().endswith(b"}\n")
    path.write_text('{"key": "k0"}\nnot json\n{"key": "k2"}\n')
    with pytest.raises(DataError, match="responses.jsonl: line 2 is not a cache entry"):
        ResponseCache(tmp_path)


def test_request_key_covers_the_whole_request_and_the_index():
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "temperature": 1.0, "seed": 1}
    keys = {request_key(body, 0), request_key(body, 1), request_key({**body, "temperature": 0.5}, 0),
            request_key({**body, "seed": 2}, 0), request_key({**body, "model": "n"}, 0),
            request_key({**body, "messages": [{"role": "user", "content": "hi!"}]}, 0)}
    assert len(keys) == 6 and request_key(dict(reversed(body.items())), 0) == request_key(body, 0)


def test_sigkill_mid_run_then_rerun_loses_nothing_and_asks_nothing_twice(tmp_path, server):
    """Kill the stage while requests are in flight; the rerun asks only what was never answered."""
    server.latency = 0.05
    server.hold_after = 9  # answer 9 requests, then hold the rest unanswered until the kill
    p = tmp_path / "params.yaml"
    p.write_text(yaml.safe_dump({"base": {"seed": 42}, "generate": {"provider": "openai", "task": str(TASK), "base_url": server.url,
                                              "n_per_label": 40, "samples_per_request": 4, "concurrency": 3}}))
    args = [sys.executable, "-m", "stages.generate", "--params", str(p), "--out", str(tmp_path / "g.csv"),
            "--reports", str(tmp_path / "r"), "--cache", str(tmp_path / "cache")]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(args, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    cache_file = tmp_path / "cache" / "responses.jsonl"
    deadline = time.monotonic() + 60
    while not (server.held >= 1 and cache_file.exists() and cache_file.read_text().count("\n") >= 9):
        assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read() if proc.poll() else "timeout"
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)
    answered_before = set(server.answered)
    received_before = dict(server.received)
    assert len(answered_before) == 9 and not (tmp_path / "g.csv").exists()
    server.hold_after = None
    server.gate.set()  # held handlers close their (dead) connections without answering
    server.reset_counts()
    done = subprocess.run(args, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert not answered_before & set(server.received)  # no answered request was sent again
    assert all(n == 1 for n in server.received.values())
    assert len(answered_before) + len(server.answered) == 20  # every planned request answered exactly once
    resent = set(server.received) & set(received_before)
    assert resent and all(k not in answered_before for k in resent)  # only those held unanswered at the kill
    lines = cache_file.read_text().splitlines()
    assert len(lines) == 20 and len({json.loads(line)["key"] for line in lines}) == 20
    report = json.loads((tmp_path / "r" / "generation.json").read_text())
    assert report["requests"]["sent_this_run"] == 11 and report["requests"]["used"] == 20


def stage_args(tmp_path, server, **generate):
    p = tmp_path / "params.yaml"
    p.write_text(yaml.safe_dump({"base": {"seed": 42}, "generate": {"provider": "openai", "task": str(TASK), "base_url": server.url,
                                              "n_per_label": 40, "samples_per_request": 4, **generate}}))
    return [sys.executable, "-m", "stages.generate", "--params", str(p), "--out", str(tmp_path / "g.csv"),
            "--reports", str(tmp_path / "r"), "--cache", str(tmp_path / "cache")]  # 20 requests


def wait_until(condition, proc=None, timeout=60):
    deadline = time.monotonic() + timeout
    while not condition():
        assert proc is None or proc.poll() is None, proc.stderr.read() if proc.stderr else proc.returncode
        assert time.monotonic() < deadline, "timeout"
        time.sleep(0.02)


def cached_lines(tmp_path) -> int:
    path = tmp_path / "cache" / "responses.jsonl"
    return path.read_text().count("\n") if path.exists() else 0


@pytest.mark.parametrize("signum, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_mid_run_caches_the_requests_in_flight_and_the_rerun_buys_nothing_twice(tmp_path, server, signum,
                                                                                         code):
    """Ctrl-C (or SIGTERM) with requests in flight: they finish and are cached; one line, no traceback."""
    server.latency = 0.5
    args = stage_args(tmp_path, server, concurrency=4)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(args, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wait_until(lambda: cached_lines(tmp_path) >= 4 and server.in_flight >= 2, proc)
    os.kill(proc.pid, signum)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == code, stderr
    assert "Traceback" not in stderr
    assert re.fullmatch(r"interrupted: \d+ responses cached by this run \(\d+ of 20 planned are cached\); "
                        r"rerun to continue", stderr.strip().splitlines()[-1])
    assert server.received == server.answered  # every request the server saw was answered...
    assert cached_lines(tmp_path) == server.total < 20  # ...and cached; nothing started after the signal
    assert not (tmp_path / "g.csv").exists() and not (tmp_path / ".cache.lock").exists()
    done = subprocess.run(args, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert server.total == 20 and set(server.received.values()) == {1}  # across both runs: each bought once


def test_two_runs_at_once_pay_once(tmp_path, server):
    """The cache is locked: a second run started alongside stops in one line naming the first, sending nothing."""
    server.latency = 1.0  # 20 requests, 4 at a time: the first run holds the cache for 5 s
    args = stage_args(tmp_path, server, concurrency=4)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [subprocess.Popen(args, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              text=True) for _ in range(2)]
    errs = [p.communicate(timeout=120)[1] for p in procs]
    assert sorted(p.returncode for p in procs) == [0, 2], errs
    winner, loser = sorted(range(2), key=lambda i: procs[i].returncode)
    line = errs[loser].strip()
    assert "\n" not in line and line.startswith(f"error: {tmp_path / 'cache'} is in use by another generate run "
                                                f"(pid {procs[winner].pid} on ")
    assert server.total == 20 and set(server.received.values()) == {1}  # 20 planned, 20 asked: not 40
    assert not (tmp_path / ".cache.lock").exists()  # removed on release: never inside the DVC output either
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == ["responses.jsonl"]


def test_a_run_that_meets_the_lock_before_its_holder_wrote_its_line_still_names_the_holder(tmp_path):
    """The holder locks, then writes its pid: a run that arrives between the two waits for the line (this race
    once made the two-runs test above read "a process starting up")."""
    import fcntl
    import threading

    from stages.core.llm.cache import CacheBusy, lock_path

    lock_file = lock_path(tmp_path / "cache")
    holder = open(lock_file, "a+b", buffering=0)
    fcntl.flock(holder.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)  # locked, line not written yet
    writer = threading.Timer(0.3, lambda: holder.write(b"pid 4242 on elsewhere since 2026-12-05 10:00:00\n"))
    writer.start()
    try:
        with pytest.raises(CacheBusy, match=r"in use by another generate run \(pid 4242 on elsewhere since "):
            ResponseCache(tmp_path / "cache")
    finally:
        writer.join()
        holder.close()


def test_a_stage_whose_parent_dies_stops_cleanly_and_releases_the_cache(tmp_path, server):
    """dvc SIGKILLed: its child stage gets SIGTERM from the kernel, caches what is in flight and unlocks the cache."""
    server.latency = 0.5
    args = stage_args(tmp_path, server, concurrency=2)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    spawn = "import subprocess, sys, time; print(subprocess.Popen(sys.argv[1:]).pid, flush=True); time.sleep(300)"
    log_file = tmp_path / "stage.log"
    with open(log_file, "w") as log_out:
        parent = subprocess.Popen([sys.executable, "-c", spawn, *args], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                                  stderr=log_out, text=True)
    try:
        child = int(parent.stdout.readline())
        wait_until(lambda: cached_lines(tmp_path) >= 2 and server.in_flight >= 1, parent)
        parent.kill()
        parent.wait(timeout=10)

        def gone() -> bool:
            try:
                return Path(f"/proc/{child}/stat").read_text().split(") ")[1][0] in "ZX"  # exited (maybe unreaped)
            except FileNotFoundError:
                return True

        wait_until(gone, timeout=30)
    finally:
        parent.kill()
    stderr = log_file.read_text()
    assert "Traceback" not in stderr and stderr.strip().splitlines()[-1].startswith("interrupted: ")
    assert server.received == server.answered and cached_lines(tmp_path) == server.total < 20
    assert not (tmp_path / ".cache.lock").exists()


def test_a_plan_over_max_planned_requests_is_refused_in_one_line_before_planning(tmp_path, monkeypatch):
    def no_plan(*a, **kw):
        raise AssertionError("planned anyway")

    monkeypatch.setattr(openai_provider, "plan", no_plan)
    cfg = params.load_dict({"provider": "openai", "task": str(TASK), "n_per_label": 1_000_000, "samples_per_request": 10,
                            "max_tokens": 1000}, "generate")
    prices = {"gpt-4o-mini": params.Price(input=0.15, output=0.6)}
    with pytest.raises(DataError) as err:
        openai_provider.generate(load_task(TASK), cfg, 0, tmp_path / "cache", prices=prices)
    # 2 labels x 100,000 requests; 200,000 x (300 x 0.15 + 1000 x 0.6) / 1e6 = $129
    assert str(err.value) == (
        "generate: 2,000,000 rows (2 x n_per_label 1,000,000) need 200,000 requests (up to $129.00 estimated), more "
        "than generate.max_planned_requests (100,000); lower n_per_label, raise samples_per_request or "
        "max_planned_requests; nothing was planned or sent")
    assert not (tmp_path / "cache").exists()


def test_n_per_label_has_an_upper_bound():
    with pytest.raises(params.ParamsError, match=r"generate.n_per_label must be in \[1, 1,000,000\] rows, got 10000000"):
        params.load_dict({"n_per_label": 10_000_000}, "generate")
    with pytest.raises(params.ParamsError, match="generate.max_planned_requests must be >= 1, got 0"):
        params.load_dict({"max_planned_requests": 0}, "generate")


def test_endpoint_is_base_url_then_openai_base_url_then_the_openai_api(monkeypatch):
    from stages.core.llm.client import OPENAI_URL, endpoint

    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    assert endpoint(None) == OPENAI_URL
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    assert endpoint(None) == "http://127.0.0.1:9/v1"
    assert endpoint("http://localhost:11434/v1") == "http://localhost:11434/v1"  # params.yaml wins
