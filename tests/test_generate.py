import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from stages import generate
from stages.core import params
from stages.core.errors import DataError
from stages.generation.task import load_task
from stages.core.text import dedup_key
from tests.page_checks import check_page

ROOT = Path(__file__).resolve().parents[1]
TASK = ROOT / "data" / "tasks" / "clickbait.yaml"


def cfg(**kw):
    return params.load_dict({"task": str(TASK), **kw}, "generate")


def run(tmp_path, **kw):
    return generate.run(cfg=cfg(**kw), seed=42, out=tmp_path / "generated.csv", reports=tmp_path / "reports")


def test_template_provider_is_deterministic_balanced_and_clean(tmp_path):
    report = run(tmp_path, n_per_label=50)
    first = (tmp_path / "generated.csv").read_bytes()
    frame = pd.read_csv(tmp_path / "generated.csv")
    assert list(frame.columns) == ["text", "label", "source", "origin"]
    assert frame["label"].value_counts().to_dict() == {"clickbait": 50, "factual": 50}
    assert frame["text"].map(dedup_key).is_unique
    assert set(frame["source"]) == {"template"}
    assert report["rows_kept"] == 100
    run(tmp_path, n_per_label=50)
    assert (tmp_path / "generated.csv").read_bytes() == first  # same seed, same bytes
    generate.run(cfg=cfg(n_per_label=50), seed=7, out=tmp_path / "other.csv", reports=tmp_path / "r2")
    assert (tmp_path / "other.csv").read_bytes() != first


def test_default_task_classes_overlap_in_vocabulary_and_length(tmp_path):
    run(tmp_path, n_per_label=300)
    frame = pd.read_csv(tmp_path / "generated.csv")
    vocab = {lab: set(" ".join(g["text"]).lower().split()) for lab, g in frame.groupby("label")}
    shared = vocab["clickbait"] & vocab["factual"]
    assert len(shared) / min(map(len, vocab.values())) > 0.5
    lengths = frame.assign(n=frame["text"].str.split().str.len()).groupby("label")["n"].mean()
    assert abs(lengths["clickbait"] - lengths["factual"]) < 3


def write_csv(path: Path, text: str, encoding="utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def csv_cfg(path: Path, **kw):
    return cfg(provider="csv", csv={"path": str(path), **kw})


def test_csv_provider_maps_columns_and_counts_drops(tmp_path):
    src = write_csv(tmp_path / "in.csv", 'headline,cls\n'
                    '"Rates rose 2% in May",news\n'
                    '"  rates ROSE 2% in may!  ",news\n'       # duplicate after normalisation
                    ',news\n'                                   # empty text
                    '"12345",news\n'                            # no letters
                    '"You will not believe this",bait\n'
                    '"Same text both ways",news\n'
                    '"same text, both ways",bait\n'             # conflicting labels: both dropped
                    '"A headline without a label",\n'
                    '"Another real headline",bait\n')
    report = generate.run(cfg=csv_cfg(src, text_column="headline", label_column="cls"), seed=1,
                          out=tmp_path / "out.csv", reports=tmp_path / "rep")
    frame = pd.read_csv(tmp_path / "out.csv")
    assert sorted(frame["text"]) == ["Another real headline", "Rates rose 2% in May", "You will not believe this"]
    assert report["dropped"] == {"conflicting_labels": 1, "duplicate": 2, "empty": 1, "missing_label": 1,
                                 "no_letters": 1}
    assert set(frame["source"]) == {"csv:in.csv"}
    quality = json.loads((tmp_path / "rep" / "quality.json").read_text())
    assert quality["per_label"]["news"] == {"before": 5, "after": 1}
    assert "missing_label: 1" in (tmp_path / "rep" / "quality.md").read_text()


@pytest.mark.parametrize("content, encoding, message", [
    (None, "utf-8", "in.csv: file not found"),
    ("", "utf-8", "in.csv: empty annotated CSV"),
    ("text,label\n", "utf-8", "in.csv: annotated CSV has a header but no rows"),
    ("body,label\nhi there,a\n", "utf-8", "in.csv: missing column 'text' (expected text, label; found body, label)"),
    ("text,label\nhello there,a\nbye now,a\n", "utf-8", "need at least two labels after cleaning, found a"),
    ("text,label\n,a\n,b\n", "utf-8", "need at least two labels after cleaning, found none"),
    ("text,label\ncaf\u00e9 here,a\nother one,b\n", "latin-1", "in.csv: not valid UTF-8 (byte 0xe9 on line 2)"),
])
def test_csv_bad_input_is_one_clear_error_and_nothing_written(tmp_path, content, encoding, message):
    src = tmp_path / "in.csv"
    if content is not None:
        write_csv(src, content, encoding)
    with pytest.raises(DataError) as err:
        generate.run(cfg=csv_cfg(src), seed=1, out=tmp_path / "out.csv", reports=tmp_path / "rep")
    assert message in str(err.value) and "\n" not in str(err.value)
    assert not (tmp_path / "out.csv").exists() and not (tmp_path / "rep").exists()


@pytest.mark.parametrize("body, message", [
    ("labels: {a: {templates: [x]}}", "'labels' must map at least two label names"),
    ("labels: {a: {templates: [x]}, b: {templates: []}}", "labels.b.templates must be a non-empty list"),
    ("labels: {a: {templates: [x]}, b: {tmplates: [y]}}", "labels.b: unknown field 'tmplates'"),
    ("labels: {a: {templates: ['{who} won']}, b: {templates: [y]}}", "slot {who} in '{who} won' has no values"),
    ("lables: {}", "unknown field 'lables'"),
    ("labels: [a, b", "invalid YAML"),
])
def test_task_file_errors_name_the_file_and_field(tmp_path, body, message):
    path = tmp_path / "task.yaml"
    path.write_text(body)
    with pytest.raises(DataError) as err:
        load_task(path)
    assert str(path) in str(err.value) and message in str(err.value)


def test_main_exit_code_and_one_line_for_missing_task(tmp_path, capsys):
    p = tmp_path / "params.yaml"
    p.write_text(f"base: {{seed: 42}}\ngenerate: {{task: {tmp_path / 'nope.yaml'}}}\n")
    code = generate.main(["--params", str(p), "--out", str(tmp_path / "g.csv"), "--reports", str(tmp_path / "r")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and err == [f"error: {tmp_path / 'nope.yaml'}: file not found"]


# ---------------------------------------------------------------- the template provider stays as it was

def test_default_template_output_is_unchanged_byte_for_byte(tmp_path):
    """The offline default (params.yaml's generate section, base.seed 42) must keep producing the same file."""
    import hashlib

    config = params.load_dict({**params.read_params(ROOT / "params.yaml")["generate"], "task": str(TASK)}, "generate")
    report = generate.run(cfg=config, seed=42, out=tmp_path / "generated.csv", reports=tmp_path / "reports", cache_dir=tmp_path / "cache")
    digest = hashlib.md5((tmp_path / "generated.csv").read_bytes()).hexdigest()
    assert digest == "31a28fb71a609cca1bef1149f8267dde" and report["rows_kept"] == 800
    assert (tmp_path / "cache" / "responses.jsonl").read_bytes() == b""  # the DVC output exists, nothing asked
    assert json.loads((tmp_path / "reports" / "generation.json").read_text())["requests"]["sent_this_run"] == 0


def test_quality_report_counts_near_duplicates_and_flags_shortcuts(tmp_path):
    lines = ["text,label"]
    lines += [f"You will never guess what happened to {w} today!,bait" for w in
              ("Anna", "the mayor", "our dog", "a pilot", "the team", "my bank")]
    lines += ["Council approves new budget for city schools,news",
              "Council approves a new budget for city schools,news",        # near-duplicate (Jaccard 7/8)
              "Storm closes two roads in the north,news", "Bank raises rates by half a point,news",
              "Court rejects appeal over water prices,news", "Rail strike ends after pay deal,news"]
    src = write_csv(tmp_path / "in.csv", "\n".join(lines) + "\n")
    config = cfg(provider="csv", csv={"path": str(src)}, near_duplicate_threshold=0.85)
    report = generate.run(cfg=config, seed=1, out=tmp_path / "out.csv", reports=tmp_path / "rep")
    assert report["dropped"] == {"near_duplicate": 1}
    assert report["duplicates"]["near"] == 1 and report["duplicates"]["near_rate"] == round(1 / 12, 4)
    assert report["per_label"]["news"] == {"before": 6, "after": 5}
    assert report["shortcut_warning"] and report["shortcuts"][0]["accuracy"] == 1.0
    assert {"contains_exclamation", "ends_with_exclamation"} <= set(report["shortcut_features"])
    assert set(report["diversity"]) == set(report["length_chars"]) == {"bait", "news"}
    md = (tmp_path / "rep" / "quality.md").read_text()
    assert "near_duplicate: 1" in md and "**Warning: shortcut features:**" in md
    check_page(md)  # no None or list reprs (the csv provider has no task, mode or models), one format per column
    assert md.splitlines()[2] == f"Provider: provider `csv`, file `{src}`"
    assert (tmp_path / "out.csv").read_text().count("Council approves") == 1


# ---------------------------------------------------------------- the openai provider through run()

KEY = "sk-gen-test-0a1b2c3d4e5f"


@pytest.fixture
def server(monkeypatch):
    from testkit.openai_server import FakeOpenAI

    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    with FakeOpenAI() as s:
        yield s


def llm_cfg(server, **kw):
    return cfg(provider="openai", base_url=server.url, n_per_label=20, samples_per_request=5, backoff_s=0.01, **kw)


def llm_run(tmp_path, config, out="generated.csv", prices=None):
    return generate.run(cfg=config, seed=42, out=tmp_path / out, reports=tmp_path / "reports",
                        cache_dir=tmp_path / "cache", prices=prices)


def test_openai_rows_drops_by_reason_tokens_and_cost(tmp_path, server):
    server.script("refusal", "length", "malformed", "html")  # the proxy's page is retried: no row lost to it
    config = llm_cfg(server, concurrency=1)
    price_file = tmp_path / "prices.yaml"
    price_file.write_text("gpt-4o-mini: {input: 0.15, output: 0.6}\n")
    report = llm_run(tmp_path, config, prices=price_file)
    frame = pd.read_csv(tmp_path / "generated.csv")
    assert set(frame["source"]) == {"openai:gpt-4o-mini"} and len(frame) == 25  # 8 requests x 5, 3 dropped
    assert report["llm_dropped"] == {"cut_off_at_max_tokens": 1, "malformed_json": 1, "refusal": 1}
    gen = json.loads((tmp_path / "reports" / "generation.json").read_text())
    usage = [json.loads(r["response"]).get("usage") for r in map(json.loads, (tmp_path / "cache" / "responses.jsonl")
                                                                  .read_text().splitlines()) if "usage" in r["response"]]
    prompt, completion = sum(u["prompt_tokens"] for u in usage), sum(u["completion_tokens"] for u in usage)
    assert gen["tokens"] == {"prompt": prompt, "completion": completion, "total": prompt + completion}
    assert gen["cost_usd"] == round((prompt * 0.15 + completion * 0.6) / 1e6, 6) == gen["this_run"]["cost_usd"]
    assert sum(s["prompt_tokens"] for s in gen["per_label"].values()) == prompt
    assert gen["per_label"]["clickbait"]["requests"] == 4 and gen["requests"]["sent_this_run"] == 8
    assert gen["requests"]["retries_this_run"] == {"not the API's JSON": 1} and gen["requests"]["failed_this_run"] == 0
    again = llm_run(tmp_path, config, "again.csv")  # replay: the same bytes, nothing paid
    assert (tmp_path / "again.csv").read_bytes() == (tmp_path / "generated.csv").read_bytes()
    assert again["llm_dropped"] == report["llm_dropped"] and server.total == 9
    gen = json.loads((tmp_path / "reports" / "generation.json").read_text())
    assert gen["this_run"] == {"prompt_tokens": 0, "completion_tokens": 0, "cost_usd": 0.0}


def test_requests_answered_only_by_a_proxys_page_are_counted_as_lost_rows_and_asked_again(tmp_path, server, caplog):
    caplog.set_level("INFO")
    server.script("html", "html")  # both attempts of the first request get a gateway's HTML page with status 200
    report = llm_run(tmp_path, llm_cfg(server, concurrency=1, max_retries=1))
    assert len(pd.read_csv(tmp_path / "generated.csv")) == 35  # 7 requests x 5: the failed one's rows are missing
    gen = json.loads((tmp_path / "reports" / "generation.json").read_text())
    assert gen["requests"]["failed_this_run"] == 1 and gen["requests"]["used"] == 7 and not gen["budget"]["exhausted"]
    assert gen["per_label"]["clickbait"]["dropped"] == {"failed_request": 1}
    assert report["llm_dropped"] == {"failed_request": 1}  # quality.json
    assert "kept 35 rows; dropped 1 failed_request (LLM)" in caplog.text and "dropped none" not in caplog.text
    assert "html" not in (tmp_path / "cache" / "responses.jsonl").read_text().lower()
    server.reset_counts()
    caplog.clear()
    again = llm_run(tmp_path, llm_cfg(server, concurrency=1, max_retries=1))  # the rerun asks the failed request only
    assert server.total == 1 and again["rows_kept"] == 40 and again["llm_dropped"] == {}
    assert "kept 40 rows; dropped none" in caplog.text


def test_when_every_request_gets_a_proxys_page_generate_stops_in_one_line_and_caches_nothing(tmp_path, server):
    server.when("", "html")
    with pytest.raises(DataError, match=r"all 8 requests failed \(200 replies whose body is not the API's JSON"):
        llm_run(tmp_path, llm_cfg(server, max_retries=1))
    assert server.total == 16 and (tmp_path / "cache" / "responses.jsonl").read_text() == ""


def test_changing_one_labels_prompt_reasks_only_that_label(tmp_path, server):
    task = tmp_path / "task.yaml"
    task.write_text(TASK.read_text())
    llm_run(tmp_path, llm_cfg(server, task=str(task)))
    assert server.total == 8
    server.reset_counts()
    task.write_text(TASK.read_text().replace("Write {n} plain headlines", "Write {n} sober headlines"))
    llm_run(tmp_path, llm_cfg(server, task=str(task)))
    asked = [b["messages"][1]["content"] for b in server.bodies]
    assert server.total == 2 and all("sober headlines" in a for a in asked)  # factual requests using that prompt


def test_model_as_label_sends_the_same_questions_to_each_model(tmp_path, server):
    server.models = ("model-a", "model-b")
    report = llm_run(tmp_path, llm_cfg(server, mode="model_as_label", models=["model-a", "model-b"]))
    frame = pd.read_csv(tmp_path / "generated.csv")
    assert sorted(frame["label"].unique()) == ["model-a", "model-b"] == sorted(report["per_label"])
    assert (frame["source"] == "openai:" + frame["label"]).all()
    by_model = {m: [b["messages"] for b in server.bodies if b["model"] == m] for m in ("model-a", "model-b")}
    key = lambda msgs: json.dumps(msgs, sort_keys=True)  # noqa: E731
    assert len(by_model["model-a"]) == 4 and sorted(map(key, by_model["model-a"])) == sorted(map(key, by_model["model-b"]))
    assert all("news headlines about" in m[1]["content"] for m in by_model["model-a"])


def test_budget_exhausted_keeps_what_it_has_and_says_rows_per_label(tmp_path, server, caplog):
    caplog.set_level("WARNING")
    report = llm_run(tmp_path, llm_cfg(server, max_requests=3))
    assert server.total == 3 and report["per_label"]["clickbait"]["after"] == 10
    assert report["per_label"]["factual"]["after"] == 5
    assert "budget reached (generate.max_requests=3, generate.max_total_tokens=0): stopped after 3 of 8 requests; " \
           "rows per label before cleaning: clickbait=10, factual=5 (asked for 20 each)" in caplog.text
    gen = json.loads((tmp_path / "reports" / "generation.json").read_text())
    assert gen["budget"]["exhausted"] and gen["requests"]["used"] == 3


def test_the_api_key_appears_in_no_file_and_no_log(tmp_path, server, capsys):
    p = tmp_path / "params.yaml"
    p.write_text(yaml.safe_dump({"base": {"seed": 42}, "generate": {"provider": "openai", "task": str(TASK), "base_url": server.url,
                                              "n_per_label": 10}}))
    code = generate.main(["--params", str(p), "--out", str(tmp_path / "g.csv"), "--reports", str(tmp_path / "r"),
                          "--cache", str(tmp_path / "cache")])
    captured = capsys.readouterr()
    assert code == 0 and server.auth == {f"Bearer {KEY}"}  # the key was used...
    files = [f for f in tmp_path.rglob("*") if f.is_file()]
    assert len(files) == 7 and not [f for f in files if KEY.encode() in f.read_bytes()]  # ...and written nowhere
    assert KEY not in captured.err + captured.out


@pytest.mark.parametrize("body, message", [
    ("labels: {a: {templates: [x]}, b: {templates: [y], prompts: [p]}}",
     "labels.a has no prompts, which the openai provider needs in label_conditioned mode"),
    ("attributes: {tone: []}\nlabels: {a: {prompts: [x]}, b: {prompts: [y]}}",
     "attributes.tone must be a non-empty list of strings, got []"),
    ("labels: {a: {prompts: [x], attributes: {tone: }}, b: {prompts: [y]}}",
     "labels.a.attributes.tone must be a non-empty list of strings, got None"),
    ("labels: {a: {prompts: [x], promts: [y]}, b: {prompts: [y]}}", "labels.a: unknown field 'promts'"),
    ("labels: {a: {prompts: ['{n} about {topic}']}, b: {prompts: [y]}}",
     "labels.a.prompts: placeholder {topic} in '{n} about {topic}' is neither an attribute"),
    ("labels: {a: {description: x}, b: {prompts: [y]}}", "labels.a: needs templates (template provider) or prompts"),
    ("labels: {a: {prompts: [x]}, b: {prompts: [y]}}", "model_as_label mode sends the task's top-level 'prompts'"),
])
def test_llm_task_file_errors_name_the_file_and_field(tmp_path, server, body, message):
    path = tmp_path / "task.yaml"
    path.write_text(body)
    mode = "model_as_label" if "model_as_label" in message else "label_conditioned"
    with pytest.raises(DataError) as err:
        llm_run(tmp_path, llm_cfg(server, task=str(path), mode=mode))
    assert str(path) in str(err.value) and message in str(err.value) and server.total == 0


@pytest.mark.parametrize("override, message", [
    ({"provider": "gpt"}, "generate.provider must be one of template, csv, openai"),
    ({"mode": "model_as_label", "models": ["a"]}, "generate.models must be at least two distinct model names"),
    ({"api_key_env": "sk-live-123"}, "generate.api_key_env must be the name of an environment variable"),
    ({"samples_per_request": 0}, "generate.samples_per_request must be in [1, 100], got 0"),
    ({"concurrency": 0}, "generate.concurrency must be in [1, 256], got 0"),
    ({"temperature": 3}, "generate.temperature must be in [0, 2], got 3.0"),
    ({"near_duplicate_threshold": 0}, "generate.near_duplicate_threshold must be a fraction in (0, 1], got 0.0"),
    ({"prices": {"m": {"input": 1}}}, "unknown key generate.prices"),  # prices live in data/prices.yaml
    ({"base_url": "localhost:11434"}, "generate.base_url must be null or an http(s):// URL"),
])
def test_generate_params_errors_name_the_key(override, message):
    with pytest.raises(params.ParamsError) as err:
        params.load_dict(override, "generate")
    assert message in str(err.value) and "sk-live-123" not in str(err.value)


@pytest.mark.parametrize("text, message", [
    ("m: {input: -1}\n", "prices.yaml: m.input must be >= 0 (USD per million tokens), got -1.0"),
    ("m: {in: 1}\n", "prices.yaml: unknown key m.in (known keys: batch_input, batch_output, input, output)"),
    ("- m\n", "prices.yaml: expected a mapping of model name -> {input, output}, found list"),
    ("m: {input: 1}\nm: {input: 2}\n", "duplicate key 'm'"),
])
def test_a_bad_price_table_is_one_line_naming_the_file_and_key(tmp_path, text, message):
    path = tmp_path / "prices.yaml"
    path.write_text(text)
    with pytest.raises(DataError) as err:
        params.load_prices(path)
    assert message in str(err.value) and str(path) in str(err.value) and "\n" not in str(err.value)


def test_the_shipped_price_table_loads():
    prices = params.load_prices(ROOT / "data" / "prices.yaml")
    assert prices["gpt-4o-mini"] == params.Price(input=0.15, output=0.6) and len(prices) >= 4


def test_missing_key_is_one_line_and_exit_2_before_any_request(tmp_path, server, capsys, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY")
    p = tmp_path / "params.yaml"
    p.write_text(yaml.safe_dump({"base": {"seed": 42}, "generate": {"provider": "openai", "task": str(TASK), "base_url": server.url}}))
    code = generate.main(["--params", str(p), "--out", str(tmp_path / "g.csv"), "--reports", str(tmp_path / "r"),
                          "--cache", str(tmp_path / "cache")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and server.total == 0 and len(err) == 1
    assert err[0].startswith("error: generate.provider is openai and 80 requests are not cached, but the environment "
                             "variable OPENAI_API_KEY is not set")
    assert not (tmp_path / "g.csv").exists() and not (tmp_path / "r").exists()
