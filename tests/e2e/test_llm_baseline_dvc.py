"""The llm_zero_shot baseline through the real dvc CLI against a local OpenAI-compatible server: evaluate's own
persistent cache (data/llm_eval_cache, committed to git), and a rerun that pays for nothing."""

import json

import pytest

from testkit.dvc_repo import dvc, make_repo, run_cmd, stages_ran, write_params
from testkit.openai_server import FakeOpenAI

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def server():
    with FakeOpenAI() as s:  # the default keyword rule: a label whose name is in the text, else the first label
        yield s


@pytest.fixture(scope="module")
def repo(tmp_path_factory, tiny_bert, server):
    mp = pytest.MonkeyPatch()
    mp.setenv("LLM_TEST_KEY", "sk-local")
    llm = {"base_url": server.url, "api_key_env": "LLM_TEST_KEY", "texts_per_request": 20, "backoff_s": 0.01}
    path = make_repo(tmp_path_factory.mktemp("llm-dvc") / "repo", tiny_bert,
                     {"evaluate": {"bootstrap": 200, "baselines": {"models": ["majority", "llm_zero_shot"], "llm": llm}},
                      "explain": {"max_examples": 1, "num_samples": 30}})
    ran = stages_ran(dvc(path, "repro").stdout)
    assert "evaluate" in ran
    yield path
    mp.undo()


def test_the_llm_baseline_is_scored_and_costed_through_dvc(repo, server):
    table = json.loads((repo / "reports" / "eval" / "baselines.json").read_text())
    assert list(table["models"]) == ["fine_tuned", "majority", "llm_zero_shot"]
    report = table["models"]["llm_zero_shot"]["llm"]
    assert report["requests_sent"] == report["requests"] == server.total > 0
    assert report["usd_per_1000_texts"] > 0  # gpt-4o-mini is priced in data/prices.yaml
    assert table["models"]["fine_tuned"]["inference"]["seconds_per_1000_texts"] > 0
    assert "## Cost per 1,000 texts" in (repo / "reports" / "eval" / "summary.md").read_text()
    cache = repo / "data" / "llm_eval_cache" / "responses.jsonl"
    assert len(cache.read_text().splitlines()) == report["requests"]
    assert not (repo / "data" / ".llm_eval_cache.lock").exists()
    assert run_cmd(["git", "check-ignore", "-q", str(cache)], repo, check=False).returncode == 1  # committed


def test_a_rerun_of_evaluate_sends_nothing_and_keeps_the_cache(repo, server):
    before = server.total
    assert stages_ran(dvc(repo, "repro").stdout) == []
    write_params(repo / "params.yaml", {"evaluate": {"bootstrap": 300}})
    ran = stages_ran(dvc(repo, "repro").stdout)
    assert ran[0] == "evaluate" and not {"generate", "split", "train"} & set(ran)
    assert server.total == before  # persist: DVC left data/llm_eval_cache in place, every answer came from it
    table = json.loads((repo / "reports" / "eval" / "baselines.json").read_text())
    assert table["resamples"] == 300 and table["models"]["llm_zero_shot"]["llm"]["requests_sent"] == 0
