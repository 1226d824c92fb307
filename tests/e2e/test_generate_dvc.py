"""The whole pipeline with provider=openai through the real dvc CLI, against the local OpenAI-compatible server."""

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from testkit.dvc_repo import dvc, make_repo, run_cmd, stages_ran, subprocess_env, write_params
from testkit.openai_server import FakeOpenAI

pytestmark = pytest.mark.e2e
ALL = ["inputs", "generate", "split", "train", "train_real_only", "evaluate", "explain"]
KEY = "sk-e2e-SECRET-5f4e3d2c1b0a"


@pytest.fixture(scope="module")
def server():
    with FakeOpenAI() as s, pytest.MonkeyPatch.context() as mp:
        mp.setenv("OPENAI_API_KEY", KEY)  # dvc and the stage inherit it; nothing else may keep it
        yield s


@pytest.fixture(scope="module")
def repo(tmp_path_factory, tiny_bert, server):
    overrides = {"generate": {"provider": "openai", "base_url": server.url, "n_per_label": 40,
                              "samples_per_request": 10, "backoff_s": 0.01}}
    path = make_repo(tmp_path_factory.mktemp("openai") / "repo", tiny_bert, overrides)
    out = dvc(path, "repro").stdout
    assert stages_ran(out)[: len(ALL)] == ALL  # and any stage added after explain
    return path


def test_repro_generates_from_the_server_and_trains_on_it(repo, server):
    assert server.total == 8 and set(server.received.values()) == {1}  # 2 labels x 4 requests, each once
    assert server.auth == {f"Bearer {KEY}"}
    rows = pd.read_csv(repo / "data" / "generated.csv")
    assert list(rows.columns) == ["text", "label", "source", "origin"] and set(rows["source"]) == {"openai:gpt-4o-mini"}
    assert rows["origin"].str.fullmatch(r"llm:[0-9a-f]{12}/(clickbait|factual)-p[12]/audience=\d+,length=\d+,style=\d+,"
                                        r"topic=\d+").all() and rows["origin"].nunique() == 8  # one per request
    test = pd.read_csv(repo / "data" / "split" / "test.csv")
    assert not set(test["origin"]) & set(pd.read_csv(repo / "data" / "split" / "train.csv")["origin"])
    generation = json.loads((repo / "reports" / "data" / "generation.json").read_text())
    assert generation["requests"] == {"planned": 8, "used": 8, "sent_this_run": 8, "failed_this_run": 0,
                                      "retries_this_run": {}}
    assert generation["tokens"]["total"] > 0 and generation["cost_usd"] > 0
    quality = json.loads((repo / "reports" / "data" / "quality.json").read_text())
    assert quality["provider"]["provider"] == "openai" and "shortcuts" in quality
    assert (repo / "reports" / "metrics.json").exists()
    lock = yaml.safe_load((repo / "dvc.lock").read_text())
    cache_out = [o for o in lock["stages"]["generate"]["outs"] if o["path"] == "data/llm_cache"]
    assert cache_out and cache_out[0]["md5"].endswith(".dir") and cache_out[0]["nfiles"] == 1
    assert "/llm_cache" in (repo / "data" / ".gitignore").read_text()  # DVC's, not git's


def test_the_api_key_is_in_no_file_written(repo):
    files = [p for p in Path(repo).rglob("*") if p.is_file()]
    assert len(files) > 50  # the DVC cache, dvc.lock, git objects, reports, the response cache, the model
    assert [str(p) for p in files if KEY.encode() in p.read_bytes()] == []


def test_rerun_sends_nothing_and_more_rows_ask_only_the_new_requests(repo, server):
    server.reset_counts()
    assert stages_ran(dvc(repo, "repro").stdout) == [] and server.total == 0
    write_params(repo / "params.yaml", {"generate": {"n_per_label": 50}})
    out = dvc(repo, "repro", "generate").stdout
    assert stages_ran(out) == ["generate"]
    assert server.total == 2  # one more request per label: persist kept the 8 cached responses
    lines = (repo / "data" / "llm_cache" / "responses.jsonl").read_text().splitlines()
    assert len(lines) == 10



def test_two_experiments_at_once_with_overlapping_plans_buy_each_request_once(repo, server):
    """Two `dvc exp run --temp` of generates whose plans overlap, started together: each runs in its own temporary
    copy of the workspace (its own data/llm_cache and lock), and the machine's response store makes each request
    bought once, with `concurrency` held in all. (`dvc queue start -j 2` does the same through DVC's celery
    worker, which hung in one CI run: a DVC queue problem, so the test drives the copies itself.)"""
    run_cmd(["git", "add", "-A"], repo)
    run_cmd(["git", "commit", "-qm", "openai run", "--allow-empty"], repo)
    server.reset_counts()
    server.latency = 0.3
    procs = []
    try:
        for n in (90, 100):  # 18 and 20 requests, the first 18 shared and 10 of them bought before
            procs.append(subprocess.Popen(
                [str(Path(sys.executable).parent / "dvc"), "exp", "run", "--temp", "generate", "-S",
                 f"generate.n_per_label={n}", "-S", "generate.concurrency=2"],
                cwd=repo, env=subprocess_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
        outs = [p.communicate(timeout=300)[0] for p in procs]
    finally:
        server.latency = 0.0
        for p in procs:
            p.kill()
    assert [p.returncode for p in procs] == [0, 0], outs
    assert all(stages_ran(out) == ["generate"] for out in outs), outs
    assert server.total == 10 and set(server.received.values()) == {1}, server.received  # the new ones, each once
    assert server.max_in_flight <= 2
