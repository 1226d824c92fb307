"""The machine's LLM response store (core/llm/store.py) with real processes and a real local server: workspaces that
share nothing but the machine pay once, keep `concurrency` in flight in all, and keep every answer through signals."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from stages.core.llm import store
from tests.core.test_llm import KEY, cfg, fetch, stage_args, wait_until
from testkit import ROOT
from testkit.openai_server import FakeOpenAI


@pytest.fixture(autouse=True)
def api_key(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)


@pytest.fixture
def server():
    with FakeOpenAI() as s:
        yield s


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_the_store_is_the_env_var_else_the_user_cache_directory(monkeypatch, tmp_path):
    monkeypatch.setenv("SYNTHBERT_LLM_STORE", str(tmp_path / "mine"))
    assert store.default_root() == tmp_path / "mine"
    monkeypatch.delenv("SYNTHBERT_LLM_STORE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert store.default_root() == tmp_path / "xdg" / "synthbert" / "llm"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert store.default_root() == tmp_path / "home" / ".cache" / "synthbert" / "llm"


def test_a_workspace_whose_cache_is_gone_gets_every_answer_from_the_store(tmp_path, server, llm_store, monkeypatch,
                                                                           caplog):
    """`dvc checkout` of another lineage (or a queued experiment's fresh copy): answers bought are not bought again."""
    config = cfg(server, n_per_label=40)  # 16 requests
    first = fetch(tmp_path / "a", config)
    assert first.sent == 16 and server.total == 16
    assert len(list((llm_store / "responses").rglob("*.json"))) == 16
    monkeypatch.delenv("OPENAI_API_KEY")  # nothing to ask: no key needed
    caplog.set_level("INFO")
    again = fetch(tmp_path / "b", config)
    assert server.total == 16 and again.sent == 0 and again.from_store == 16
    assert [e for _, e in again.used] == [e for _, e in first.used]  # the same answers, in the same order
    assert len(lines(tmp_path / "b" / "cache" / "responses.jsonl")) == 16  # the workspace's record of what it used
    assert "16 requests planned, 16 cached (16 from the machine store" in caplog.text


def test_a_workspace_s_own_record_fills_an_empty_store(tmp_path, server, monkeypatch):
    """A cache pulled from a teammate (`dvc pull`) on a machine whose store is empty: the store learns its answers."""
    config = cfg(server, n_per_label=20)  # 8 requests
    fetch(tmp_path, config)
    monkeypatch.setenv("SYNTHBERT_LLM_STORE", str(tmp_path / "new-machine"))
    fetch(tmp_path, config)
    assert len(list((tmp_path / "new-machine" / "responses").rglob("*.json"))) == 8
    fetch(tmp_path / "elsewhere", config)
    assert server.total == 8


def test_two_workspaces_started_at_once_pay_once_and_keep_concurrency_in_all(tmp_path, server):
    """`dvc queue start -j 2` of two experiments with the same plan: each request bought once, 3 in flight in all."""
    server.latency = 0.3
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    runs = []
    for name in ("exp1", "exp2"):
        (tmp_path / name).mkdir()
        args = stage_args(tmp_path / name, server, concurrency=3)  # 20 requests
        runs.append(subprocess.Popen(args, cwd=tmp_path / name, env=env, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True))
    errs = [p.communicate(timeout=120)[1] for p in runs]
    assert [p.returncode for p in runs] == [0, 0], errs
    assert server.total == 20 and set(server.received.values()) == {1}  # not 40
    assert server.max_in_flight <= 3  # concurrency: 3 held across both processes
    reports = [json.loads((tmp_path / n / "r" / "generation.json").read_text())["requests"] for n in ("exp1", "exp2")]
    assert sum(r["sent_this_run"] for r in reports) == 20 and [r["used"] for r in reports] == [20, 20]
    assert (tmp_path / "exp1" / "g.csv").read_bytes() == (tmp_path / "exp2" / "g.csv").read_bytes()
    assert [len(lines(tmp_path / n / "cache" / "responses.jsonl")) for n in ("exp1", "exp2")] == [20, 20]


def test_two_sigterms_at_once_keep_every_answer_and_the_rerun_buys_nothing_twice(tmp_path, server):
    """dvc SIGKILLed: its stage gets the parent-death SIGTERM and another at once. The second is ignored: the requests
    in flight finish and are stored, so no answer the server sent is paid for again."""
    server.latency = 1.0
    args = stage_args(tmp_path, server, concurrency=4)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(args, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wait_until(lambda: len(lines(tmp_path / "cache" / "responses.jsonl")) >= 4 and server.in_flight >= 2, proc)
    os.kill(proc.pid, signal.SIGTERM)
    time.sleep(0.05)
    os.kill(proc.pid, signal.SIGTERM)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 143 and "Traceback" not in stderr, stderr
    assert stderr.strip().splitlines()[-1].startswith("interrupted: ")
    assert server.received == server.answered  # every request the server saw was answered and kept
    assert len(lines(tmp_path / "cache" / "responses.jsonl")) == server.total < 20
    before = dict(server.received)
    server.latency = 0.0
    done = subprocess.run(args, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert server.total == 20 and set(server.received.values()) == {1}, before  # across both runs: each bought once


def test_a_store_that_cannot_be_written_costs_only_the_sharing(tmp_path, server, llm_store, caplog):
    for i in range(256):  # every shard folder of responses/ is a file: no answer can be stored
        (llm_store / "responses" / f"{i:02x}").parent.mkdir(parents=True, exist_ok=True)
        (llm_store / "responses" / f"{i:02x}").write_text("")
    out = fetch(tmp_path, cfg(server, n_per_label=20))  # 8 requests
    assert out.sent == 8 and len(lines(tmp_path / "cache" / "responses.jsonl")) == 8
    assert "could not write to the LLM response store" in caplog.text
