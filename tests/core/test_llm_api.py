"""The LLM client where servers and models differ, against the real local server: the Batch API (resume, per-request
failures, expiry, batch prices), the response_format fallback, reasoning models, and the cost on the console."""

import json
import logging
import os
import subprocess
import sys
import time

import pytest
import yaml

from stages.core import params
from stages.core.errors import ParamsError
from stages.core.llm import client as llm, wire
from stages.core.llm.cache import ResponseCache
from stages.evaluation import llm_baseline
from stages.generation import openai_provider
from stages.generation.task import load_task
from testkit import ROOT
from testkit.openai_server import FakeOpenAI

TASK = ROOT / "data" / "tasks" / "clickbait.yaml"
PRICES = {"gpt-4o-mini": params.Price(input=1.0, output=2.0)}


@pytest.fixture(autouse=True)
def api_key(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-1")


@pytest.fixture
def server():
    with FakeOpenAI() as s:
        yield s


def cfg(server, **kw):  # 2 labels x 2 requests of 5 texts
    raw = {"provider": "openai", "task": str(TASK), "base_url": server.url, "n_per_label": 10,
           "samples_per_request": 5, "backoff_s": 0.01, "timeout_s": 5, "max_retries": 2, "concurrency": 1,
           "batch_poll_s": 0.02, **kw}
    return params.load_dict(raw, "generate")


def fetch(tmp_path, config):
    with ResponseCache(tmp_path / "cache") as cache:
        return llm.fetch(openai_provider.plan(load_task(config.task), config, 42), cache, config, PRICES)


def entries(tmp_path):
    return [json.loads(x) for x in (tmp_path / "cache" / "responses.jsonl").read_text().splitlines()]


def test_a_batch_answers_into_the_same_cache_at_the_batch_price_and_a_rerun_submits_nothing(tmp_path, server):
    config = cfg(server, batch=True)
    rows, report = openai_provider.generate(load_task(TASK), config, 42, tmp_path / "cache", prices=PRICES)
    assert server.batches.created == 1 and len(rows) == 20 and report["requests"]["sent_this_run"] == 4
    assert all(e["batch"] == "batch_2" for e in entries(tmp_path))  # file-1 was the upload
    sync = sum(p * 1.0 + c * 2.0 for p, c in (llm.usage_of(e) for e in entries(tmp_path))) / 1e6
    assert report["this_run"]["cost_usd"] == pytest.approx(sync / 2, abs=1e-6)  # no batch_* price: half
    assert fetch(tmp_path, config).sent == 0 and server.batches.created == 1


def test_a_request_the_batch_failed_is_asked_one_by_one(tmp_path, server):
    server.script("500")  # the batch's first request
    out = fetch(tmp_path, cfg(server, batch=True))
    assert out.sent == 4 and out.retries == {"batch error": 1} and server.batches.created == 1
    assert sorted(bool(e.get("batch")) for e in entries(tmp_path)) == [False, True, True, True]
    assert sorted(server.answered.values()) == [1, 1, 1, 1]


def test_an_expired_batch_keeps_its_answers_and_the_rerun_submits_only_the_rest(tmp_path, server):
    server.batches.expire_after = 3
    with pytest.raises(llm.LLMError, match=r"batch batch_2 at .* ended expired with 1 of its 4 requests unanswered"):
        fetch(tmp_path, cfg(server, batch=True))
    assert len(entries(tmp_path)) == 3
    server.batches.expire_after = None
    assert fetch(tmp_path, cfg(server, batch=True)).sent == 1 and server.batches.created == 2
    assert sorted(server.answered.values()) == [1, 1, 1, 1]


def test_a_batch_that_fails_validation_stops_with_the_servers_reason(tmp_path, server):
    server.batches.fail_validation = True
    with pytest.raises(llm.LLMError, match="batch batch_2 failed at .*Line 1: the model does not support"):
        fetch(tmp_path, cfg(server, batch=True))


def test_a_killed_run_resumes_polling_its_batch_instead_of_submitting_again(tmp_path, server):
    server.batches.gate.clear()  # the batch stays in progress until the run is killed
    p = tmp_path / "params.yaml"
    p.write_text(yaml.safe_dump({"base": {"seed": 42}, "generate": {
        "provider": "openai", "task": str(TASK), "base_url": server.url, "n_per_label": 10, "samples_per_request": 5,
        "batch": True, "batch_poll_s": 0.02}}))
    args = [sys.executable, "-m", "stages.generate", "--params", str(p), "--out", str(tmp_path / "g.csv"),
            "--reports", str(tmp_path / "r"), "--cache", str(tmp_path / "cache")]
    proc = subprocess.Popen(args, cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(ROOT)},
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    store = llm.Store()
    deadline = time.monotonic() + 60
    while not store.batches(server.url):
        assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read()
        time.sleep(0.02)
    proc.kill()
    proc.wait(timeout=30)
    server.batches.gate.set()
    out = fetch(tmp_path, cfg(server, batch=True))
    assert out.sent == 4 and server.batches.created == 1 and sorted(server.answered.values()) == [1, 1, 1, 1]
    assert not store.batches(server.url)  # collected: the record is gone


@pytest.mark.parametrize("reject, sent_as", [({"json_schema"}, "json_object"),
                                             ({"json_schema", "json_object"}, None)])
def test_a_server_without_json_schema_gets_json_object_then_plain_text_once_per_run(tmp_path, server, reject,
                                                                                     sent_as, caplog):
    server.reject = reject
    config = cfg(server)
    with caplog.at_level(logging.WARNING):
        out = fetch(tmp_path, config)
    assert out.sent == 4 and len(caplog.records) == len(reject)  # one warning per fallback, not per request
    kinds = [(b.get("response_format") or {}).get("type") for b in server.bodies]
    assert kinds[:len(reject) + 1] == ["json_schema", "json_object", None][:len(reject) + 1]
    assert kinds[len(reject):] == [sent_as] * 4  # the rest of the run remembers the mode
    texts = [openai_provider.parse(e["response"], 5)[0] for _, e in out.used]
    assert all(len(t) == 5 for t in texts)  # plain text: the JSON taken from the reply's fenced block
    plan = openai_provider.plan(load_task(TASK), config, 42)
    assert {e["key"] for e in entries(tmp_path)} == {r.key for r in plan}  # keys of the planned json_schema requests
    server.reject = set()
    assert fetch(tmp_path, config).sent == 0  # a rerun pays nothing twice


def test_reasoning_models_get_max_completion_tokens_and_no_temperature(tmp_path, server):
    server.reject = {"max_tokens", "temperature"}
    out = fetch(tmp_path, cfg(server, model="o3-mini"))
    assert out.sent == 4 and all("max_completion_tokens" in b and "temperature" not in b for b in server.bodies)
    assert all(e["request"]["max_tokens"] == 2048 for e in entries(tmp_path))  # the planned request, as keyed
    with pytest.raises(llm.LLMError, match="Unsupported parameter: 'max_tokens'.*even as plain text"):
        fetch(tmp_path / "other", cfg(server, model="gpt-4o-mini"))


def test_the_console_says_the_estimate_before_sending_and_the_spend_after(tmp_path, server, caplog):
    with caplog.at_level(logging.INFO):
        report = openai_provider.generate(load_task(TASK), cfg(server), 42, tmp_path / "cache", prices=PRICES)[1]
    text, spent = caplog.text, report["this_run"]
    assert "4 requests planned, 0 cached" in text and "4 to ask" in text
    assert "estimated $" in text and "every reply at max_tokens: an upper bound" in text
    assert f"this run: 4 requests sent, {spent['prompt_tokens'] + spent['completion_tokens']:,} tokens" in text
    assert f"the data set in all: {report['tokens']['total']:,} tokens, ${report['cost_usd']:,.4f}" in text
    caplog.clear()
    with caplog.at_level(logging.INFO):  # more rows: the estimate uses the cached replies' length
        openai_provider.generate(load_task(TASK), cfg(server, n_per_label=20), 42, tmp_path / "cache", prices=PRICES)
    assert "8 requests planned, 4 cached" in caplog.text and "replies as long as the cached ones" in caplog.text


def test_the_llm_baseline_labels_through_a_batch(tmp_path, server):
    raw = {"base_url": server.url, "texts_per_request": 2, "batch": True, "batch_poll_s": 0.02}
    config = params.load_dict({"baselines": {"llm": raw}}, "evaluate").baselines.llm
    texts = ["why you win", "council votes budget", "secrets of you", "rail strike ends", "you too"]
    result = llm_baseline.classify(config, tmp_path / "c", PRICES, ["clickbait", "factual"], False, [texts])
    assert server.batches.created == 1 and result.report["requests_sent"] == 3
    assert result.report["abstained_texts"] == 0 and set(result.rows) == set(texts)


def test_json_content_takes_the_json_from_a_reply():
    assert wire.json_content('{"a": 1}') == {"a": 1}
    assert wire.json_content('Sure:\n```json\n{"a": [1, 2]}\n```\nDone.') == {"a": [1, 2]}
    assert wire.json_content('Here: {"a": 2} as asked') == {"a": 2}
    for bad in ("no json here", "```json\n{broken\n```", "{ not json }"):
        with pytest.raises(ValueError):
            wire.json_content(bad)


def test_batch_params_and_prices_are_checked_in_one_line():
    with pytest.raises(ParamsError, match=r"generate.max_total_tokens must be 0 when generate.batch is true"):
        params.load_dict({"batch": True, "max_total_tokens": 100}, "generate")
    with pytest.raises(ParamsError, match=r"evaluate.baselines.llm.batch_poll_s must be > 0 seconds"):
        params.load_dict({"baselines": {"llm": {"batch_poll_s": 0}}}, "evaluate")
    price = params.Price(input=1.0, output=4.0, batch_output=1.0)
    assert llm.cost_usd(10**6, 10**6, price, batch=True) == pytest.approx(0.5 + 1.0)  # input halved, output given


def test_the_llm_baseline_reads_its_labels_from_a_plain_text_reply(tmp_path, server):
    server.reject = {"json_schema", "json_object"}
    config = params.load_dict({"baselines": {"llm": {"base_url": server.url, "texts_per_request": 3}}},
                              "evaluate").baselines.llm
    texts = ["why you win", "council votes budget", "secrets of you"]
    result = llm_baseline.classify(config, tmp_path / "c", PRICES, ["clickbait", "factual"], False, [texts])
    assert result.report["abstained_texts"] == 0 and result.rows["why you win"] == [1.0, 0.0]
    assert "response_format" not in server.bodies[-1] and "```json" in json.loads(
        (tmp_path / "c" / "responses.jsonl").read_text().splitlines()[0])["response"]


@pytest.mark.parametrize("created", [False, True])
def test_a_run_killed_between_upload_and_recording_the_batch_never_submits_twice(tmp_path, server, created):
    """The record names the uploaded input file before the batch exists: the rerun finds the batch the server made
    for it, or creates it from that file, and uploads nothing again."""
    import openai

    config = cfg(server, batch=True)
    plan = openai_provider.plan(load_task(TASK), config, 42)
    client = openai.OpenAI(base_url=server.url, api_key="k")
    lines = "".join(json.dumps({"custom_id": r.key, "method": "POST", "url": "/v1/chat/completions",
                                "body": r.body}) + "\n" for r in plan)
    upload = client.files.create(file=("in.jsonl", lines.encode()), purpose="batch")
    if created:  # killed after the server created the batch, before its id was recorded
        client.batches.create(input_file_id=upload.id, endpoint="/v1/chat/completions", completion_window="24h")
    llm.Store().put_batch({"id": None, "input_file_id": upload.id, "endpoint": server.url,
                           "keys": [r.key for r in plan], "submitted": "earlier"}, name=upload.id)
    assert fetch(tmp_path, config).sent == 4
    assert server.batches.created == 1 and len(server.batches.files) == 2  # the input, the output: no new upload
    assert sorted(server.answered.values()) == [1, 1, 1, 1] and not llm.Store().batches(server.url)
