"""The llm_zero_shot baseline against a real local OpenAI-compatible server that labels texts by keywords."""

import json
import re

import numpy as np
import pytest
import yaml

from stages import evaluate
from stages.core import modeling, params
from stages.core.errors import DataError, ParamsError
from stages.evaluation import llm_baseline
from stages.core.llm.client import LLMError
from tests.test_train import CLICKBAIT, FACTUAL, write_splits
from testkit.openai_server import FakeOpenAI

LABELS = ["clickbait", "factual"]
BAIT_WORDS = ("you", "secrets", "why")


def keyword(text, labels):
    """A deterministic "LLM": clickbait when a bait word is in the text; it gets the coffee headline wrong."""
    if "coffee" in text:
        return "factual"
    return "clickbait" if any(w in text.split() for w in BAIT_WORDS) else "factual"


@pytest.fixture(autouse=True)
def api_key(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-123")


@pytest.fixture
def server():
    with FakeOpenAI() as s:
        s.classify = keyword
        yield s


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory, tiny_bert):
    """An untrained classifier head on the tiny BERT: the LLM baseline does not care what the model learned."""
    out = tmp_path_factory.mktemp("model") / "classifier"
    model = modeling.load_classifier(str(tiny_bert), LABELS)
    model.save_pretrained(str(out))
    modeling.load_tokenizer(str(tiny_bert)).save_pretrained(str(out))
    return out


def llm_cfg(server, **kw):
    raw = {"base_url": server.url, "texts_per_request": 3, "backoff_s": 0.01, "timeout_s": 5, "max_retries": 1, **kw}
    return params.load_dict({"baselines": {"llm": raw}}, "evaluate").baselines.llm


def eval_cfg(server, models=("majority", "llm_zero_shot"), **kw):
    llm = {"base_url": server.url, "texts_per_request": 3, "backoff_s": 0.01, "timeout_s": 5, "max_retries": 1, **kw}
    return params.load_dict({"bootstrap": 200, "baselines": {"models": list(models), "llm": llm}}, "evaluate")


def prices_file(tmp_path):
    path = tmp_path / "prices.yaml"
    path.write_text("gpt-4o-mini: {input: 0.15, output: 0.60}\n")
    return path


def run_eval(tmp_path, model_dir, tiny_bert, cfg, split_dir=None):
    return evaluate.run(cfg=cfg, seed=42, base_model=str(tiny_bert), model_dir=model_dir,
                        split_dir=split_dir or write_splits(tmp_path), metrics_path=tmp_path / "metrics.json",
                        eval_dir=tmp_path / "eval", llm_cache=tmp_path / "llm_eval_cache", prices=prices_file(tmp_path))


def cached_usage(cache_dir):
    entries = [json.loads(line) for line in (cache_dir / "responses.jsonl").read_text().splitlines()]
    usage = [json.loads(e["response"])["usage"] for e in entries]
    return sum(u["prompt_tokens"] for u in usage), sum(u["completion_tokens"] for u in usage), len(entries)


def test_scores_costs_and_a_second_run_that_sends_nothing(tmp_path, model_dir, tiny_bert, server):
    out = run_eval(tmp_path, model_dir, tiny_bert, eval_cfg(server))
    llm = out["baselines"]["models"]["llm_zero_shot"]
    # 7 of 8 right (the coffee headline is called factual): clickbait F1 6/7, factual F1 8/9.
    assert llm["test"]["accuracy"] == 0.875
    assert llm["test"]["f1_macro"] == pytest.approx((6 / 7 + 8 / 9) / 2, abs=1e-6)
    assert llm["test"]["f1_macro_ci_low"] <= llm["test"]["f1_macro"] <= llm["test"]["f1_macro_ci_high"]
    assert {"fine_tuned_gain_f1_macro", "gain_ci_low", "gain_ci_high"} <= set(llm["test"])
    assert llm["train_seconds"] is None
    prompt, completion, entries = cached_usage(tmp_path / "llm_eval_cache")
    assert entries == 3 and server.total == 3  # 8 distinct texts, 3 per request
    report = llm["llm"]
    assert report["requests"] == 3 and report["requests_sent"] == 3 and report["texts"] == 8
    assert report["tokens_per_1000_texts"] == round((prompt + completion) * 1000 / 8, 1)
    usd = (prompt * 0.15 + completion * 0.60) / 1e6
    assert report["usd"] == round(usd, 6) and report["usd_per_1000_texts"] == round(usd * 1000 / 8, 6)
    assert report["abstained_texts"] == 0 and report["abstentions"] == {}
    inference = out["baselines"]["models"]["fine_tuned"]["inference"]
    assert inference["texts"] == 8 and inference["seconds_per_1000_texts"] > 0
    saved = json.loads((tmp_path / "eval" / "baselines.json").read_text())
    assert saved["models"]["llm_zero_shot"]["llm"] == report
    summary = (tmp_path / "eval" / "summary.md").read_text()
    assert "| LLM zero-shot |" in summary and "## Cost per 1,000 texts" in summary
    assert f"${report['usd_per_1000_texts']:.4f}" in summary and "s on this machine" in summary

    server.reset_counts()
    again = run_eval(tmp_path, model_dir, tiny_bert, eval_cfg(server))
    assert server.total == 0  # every answer came from evaluate's own cache
    assert again["baselines"]["models"]["llm_zero_shot"]["test"] == llm["test"]
    assert again["baselines"]["models"]["llm_zero_shot"]["llm"]["requests_sent"] == 0


def test_unusable_answers_abstain_are_counted_and_score_as_wrong(tmp_path, server):
    server.classify = lambda text, labels: "satire" if "mayor" in text else keyword(text, labels)
    server.when("toyota", "malformed")  # the whole request holding this text (the last two texts) abstains
    texts = CLICKBAIT + FACTUAL
    result = llm_baseline.classify(llm_cfg(server), tmp_path / "cache", {}, LABELS, False, [texts])
    assert result.report["abstentions"] == {"label_not_in_enum": 1, "malformed_json": 2}
    assert result.report["abstained_texts"] == 3 and result.report["usd"] is None  # no price table
    proba = result.predict(texts)
    assert proba[0].tolist() == [0, 0]  # "you won't believe what the mayor found": answered "satire"
    assert proba[1].tolist() == [1, 0]
    # An abstention is no label: wrong, charged to its true label's recall and to no other label's precision.
    y = np.array([0, 0, 1, 1])
    probas = {"fine_tuned": np.eye(2)[y], "llm_zero_shot": np.array([[0, 0], [1, 0], [0, 0], [0, 1]], float)}
    scores, _ = evaluate.score_set("test", y, probas, LABELS, params.load_dict({"bootstrap": 100}, "evaluate"), 0)
    assert scores["llm_zero_shot"]["accuracy"] == 0.5
    assert scores["llm_zero_shot"]["f1_macro"] == pytest.approx(2 / 3, abs=1e-6)  # both labels: P 1, R 1/2


def test_an_llm_that_never_answers_gets_no_verdict_and_a_warning_and_a_rerun_asks_again(tmp_path, model_dir, tiny_bert,
                                                                                         server, caplog):
    """Every request gets a proxy's HTML page (status 200): nothing is cached, every text abstains, and the baseline
    is shown as having no verdict, never as beaten (nor as collapsed, which would blame its decisions)."""
    caplog.set_level("WARNING")
    server.when("", "html")
    out = run_eval(tmp_path, model_dir, tiny_bert, eval_cfg(server))
    llm = out["baselines"]["models"]["llm_zero_shot"]
    assert llm["llm"]["abstentions"] == {"failed_request": 8} and llm["llm"]["requests"] == 0
    why = "every one of its 8 answers abstained (8 failed_request): its scores say nothing about the task"
    assert llm["llm"]["no_verdict"] == why and llm["test"]["no_verdict"] == why
    saved = json.loads((tmp_path / "eval" / "baselines.json").read_text())
    assert saved["models"]["llm_zero_shot"]["test"]["no_verdict"] == why
    verdict = (tmp_path / "eval" / "summary.md").read_text().split("## Verdict")[1].split("\n## ")[0]
    line = next(x for x in verdict.splitlines() if "vs LLM zero-shot" in x)
    assert line.startswith(f"- vs LLM zero-shot: **no verdict**: {why} (macro-F1 gain")
    assert f"LLM zero-shot: no verdict: {why}" in caplog.text and "LLM zero-shot collapsed" not in caplog.text
    assert "3 of 3 requests failed" in caplog.text
    assert (tmp_path / "llm_eval_cache" / "responses.jsonl").read_text() == ""  # no page was cached as an answer
    server.rules.clear()
    server.reset_counts()
    again = run_eval(tmp_path, model_dir, tiny_bert, eval_cfg(server))["baselines"]["models"]["llm_zero_shot"]
    assert server.total == 3 and again["llm"]["no_verdict"] is None and "no_verdict" not in again["test"]


def test_parse_counts_each_kind_of_bad_answer():
    def reply(content, finish="stop", refusal=None):
        return json.dumps({"choices": [{"finish_reason": finish, "message": {"content": content, "refusal": refusal}}]})

    good = json.dumps({"answers": [{"id": 2, "label": "factual"}, {"id": 1, "label": "clickbait"}]})
    assert llm_baseline.parse(reply(good), 2, LABELS, False) == ([["clickbait"], ["factual"]], {})
    missing = json.dumps({"answers": [{"id": 1, "label": "clickbait"}, {"id": 1, "label": "factual"},
                                      {"id": 7, "label": "factual"}]})
    assert llm_baseline.parse(reply(missing), 2, LABELS, False) == ([["clickbait"], None], {"missing_answer": 1})
    for text, reason in [(reply(None, refusal="no"), "refusal"), (reply(good, "length"), "cut_off_at_max_tokens"),
                         (reply("{"), "malformed_json"), (reply("[]"), "wrong_schema"), ("<html>", "malformed_response")]:
        assert llm_baseline.parse(text, 2, LABELS, False) == ([None, None], {reason: 2})


def test_multi_label_answers_are_label_lists_in_the_schema_and_the_rows(tmp_path, server):
    server.classify = lambda text, labels: [lab for lab in labels if lab in text]
    labels = ["billing", "technical", "urgent"]
    texts = ["billing and urgent", "technical", "nothing at all"]
    result = llm_baseline.classify(llm_cfg(server), tmp_path / "cache", {}, labels, True, [texts])
    assert result.predict(texts).tolist() == [[1, 0, 1], [0, 1, 0], [0, 0, 0]]
    items = server.bodies[0]["response_format"]["json_schema"]["schema"]["properties"]["answers"]["items"]
    assert items["properties"]["labels"] == {"type": "array", "items": {"type": "string", "enum": labels}}
    assert result.report["abstained_texts"] == 0  # an empty list is an answer ("none applies"), not an abstention


def test_texts_shared_by_sets_are_asked_once_and_descriptions_reach_the_prompt(tmp_path, server):
    cfg = llm_cfg(server, texts_per_request=10, descriptions={"factual": "plain news"})
    result = llm_baseline.classify(cfg, tmp_path / "cache", {}, LABELS, False, [CLICKBAIT, CLICKBAIT[:2] + FACTUAL])
    assert server.total == 1 and result.report["texts"] == 8
    system = server.bodies[0]["messages"][0]["content"]
    assert "- factual: plain news" in system and "- clickbait\n" in system


def test_budget_stops_in_one_line_and_keeps_what_was_answered(tmp_path, server):
    texts = CLICKBAIT + FACTUAL
    with pytest.raises(LLMError, match=r"evaluate.baselines.llm budget reached .*: 1 of 3 requests answered"):
        llm_baseline.classify(llm_cfg(server, max_requests=1), tmp_path / "cache", {}, LABELS, False, [texts])
    server.reset_counts()
    llm_baseline.classify(llm_cfg(server), tmp_path / "cache", {}, LABELS, False, [texts])
    assert server.total == 2


def test_a_busy_cache_stops_in_one_line_naming_evaluate_and_sends_nothing(tmp_path, server):
    from stages.core.llm import cache as llm_cache

    with llm_cache.ResponseCache(tmp_path / "cache", owner="evaluate"):  # another evaluate run holds the cache
        with pytest.raises(llm_cache.CacheBusy, match=r"cache is in use by another evaluate run \(pid \d+ on .*; "
                                                      r"wait for it to finish or stop it, then rerun \(nothing was sent"):
            llm_baseline.classify(llm_cfg(server), tmp_path / "cache", {}, LABELS, False, [CLICKBAIT])
    assert server.total == 0


def write_params(tmp_path, llm):
    p = tmp_path / "params.yaml"
    evaluate_section = {"bootstrap": 100, "baselines": {"models": ["llm_zero_shot"], "llm": llm}}
    p.write_text(yaml.safe_dump({"base": {"seed": 42}, "train": {"model": "unused"}, "evaluate": evaluate_section}))
    return p


@pytest.mark.parametrize("case", ["no_key", "unreachable"])
def test_no_key_or_no_server_is_one_line_exit_2_before_any_scoring(tmp_path, model_dir, monkeypatch, capsys, case):
    if case == "no_key":
        monkeypatch.delenv("OPENAI_API_KEY")
        llm, expected = {"base_url": "http://127.0.0.1:9/v1"}, "error: evaluate.baselines.llm: 3 requests are not cached"
    else:
        llm, expected = {"base_url": "http://127.0.0.1:9/v1", "max_retries": 0}, "error: cannot reach http://127.0.0.1:9/v1"
    code = evaluate.main(["--params", str(write_params(tmp_path, {"texts_per_request": 3, **llm})), "--model",
                          str(model_dir), "--split", str(write_splits(tmp_path)), "--metrics", str(tmp_path / "m.json"),
                          "--out", str(tmp_path / "eval"), "--llm-cache", str(tmp_path / "cache")])
    err = [line for line in capsys.readouterr().err.strip().splitlines() if line.startswith("error:")]
    assert code == 2 and len(err) == 1 and err[0].startswith(expected), err
    if case == "unreachable":
        assert "check evaluate.baselines.llm.base_url" in err[0]
    assert not (tmp_path / "m.json").exists() and not (tmp_path / "eval").exists()


@pytest.mark.parametrize("llm, message", [
    ({"texts_per_request": 0}, "evaluate.baselines.llm.texts_per_request must be in [1, 100], got 0"),
    ({"api_key_env": "sk-abc"}, "evaluate.baselines.llm.api_key_env must be the name of an environment variable"),
    ({"base_url": "localhost:8000"}, "evaluate.baselines.llm.base_url must be null or an http(s):// URL"),
    ({"temperature": 3}, "evaluate.baselines.llm.temperature must be in [0, 2]"),
    ({"budget": 3}, "evaluate.baselines.llm"),
])
def test_bad_llm_params_fail_in_one_line_naming_the_key(llm, message):
    with pytest.raises(ParamsError, match=re.escape(message)):
        params.load_dict({"baselines": {"models": ["llm_zero_shot"], "llm": llm}}, "evaluate")


def test_descriptions_must_name_model_labels_and_the_cache_directory_is_required(tmp_path, server):
    with pytest.raises(ParamsError, match="evaluate.baselines.llm.descriptions names 'satire'"):
        llm_baseline.classify(llm_cfg(server, descriptions={"satire": "x"}), tmp_path / "c", {}, LABELS, False, [["a"]])
    with pytest.raises(DataError, match="--llm-cache"):
        llm_baseline.prepare(eval_cfg(server).baselines, None, None, LABELS, False, [["a"]])
    assert server.total == 0


def test_the_default_params_call_no_llm_but_create_the_cache_output(tmp_path):
    from testkit import ROOT

    assert "llm_zero_shot" not in params.load("evaluate", ROOT / "params.yaml").baselines.models
    assert "llm_zero_shot" not in params.load_dict({}, "evaluate").baselines.models
    cfg = params.load_dict({}, "evaluate").baselines
    assert llm_baseline.prepare(cfg, tmp_path / "cache", None, LABELS, False, [["a"]]) is None
    assert (tmp_path / "cache" / "responses.jsonl").read_text() == ""
