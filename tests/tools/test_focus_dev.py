"""`synthbert focus` reads a dev set's errors only (stages/tools/focus_errors.py), never weights noise up
(focus_labels.py: fix_labels) and turns audit.json's least covered dev rows into targets (focus_coverage.py).

The model is the tiny BERT with a fresh head whose saved decision rule (config.json decision_offsets) always says
factual: every clickbait row of a dev set is a mismatch, so the expected weights are counted by hand."""

from __future__ import annotations

import re

import pandas as pd
import pytest
import yaml

from stages.core import contracts, modeling
from stages.core.errors import DataError
from stages.generation import focus, template
from stages.generation.task import load_task
from stages.tools import focus as focus_tool
from testkit import ROOT

TASK = load_task(ROOT / "data" / "tasks" / "clickbait.yaml")
LABELS = {lab.name: lab for lab in TASK.labels}
TEXT = {tid: text for lab in TASK.labels for text, tid in zip(lab.templates, lab.ids)}
SHARED = "clickbait-19"  # listed under both labels in the task file
REAL_BAIT = ["you will not believe this mayor", "the secret trick doctors hate", "why parents are furious"]
REAL_NEWS = ["council approves the budget", "storm hits the coast"]


@pytest.fixture(scope="module")
def always_factual(tmp_path_factory, tiny_bert):
    """A saved classifier whose rule (decision offsets, core/decision.py) decides factual for every text."""
    path = tmp_path_factory.mktemp("always-factual")
    model = modeling.load_classifier(str(tiny_bert), ["clickbait", "factual"])
    model.config.decision_offsets = {"clickbait": 0.0, "factual": 50.0}
    model.save_pretrained(str(path))
    modeling.load_tokenizer(str(tiny_bert)).save_pretrained(str(path))
    return path


def fills(tid: str, n: int) -> list[dict[str, str]]:
    """n val rows of template `tid` with their origin, as split writes them."""
    label = next(lab for lab in TASK.labels if tid in lab.ids)
    one = type(label)(label.name, label.description, (TEXT[tid],), label.slots)
    return [{"text": t, "label": label.name, "source": "template", "origin": tid}
            for t in template.generate_label(one, n, seed=3)]


def quality(flagged: dict[str, int]) -> contracts.QualityReport:
    """quality.json whose label issues flag `flagged[origin]` rows of each origin."""
    origins = {o: {"flagged": n, "examples": [{"text": f"flagged row {i} of {o}", "label": "clickbait",
                                               "suggested": "factual", "self_confidence": 0.2, "source": "template",
                                               "origin": o} for i in range(n)]} for o, n in flagged.items()}
    examples = [e for o in origins.values() for e in o["examples"]]
    issues = {"method": "m", "folds": 5, "filter": "none", "skipped": None, "total": len(examples),
              "per_label": {}, "per_source": {}, "examples": examples, "origins": origins}
    return contracts.QualityReport(
        provider=contracts.Provider(provider="template"), rows_read=0, rows_kept=0, dropped={}, per_label={},
        per_source={}, llm_dropped={}, duplicates={}, length_chars={}, length_words={}, diversity={},
        majority_baseline=0.5, shortcut_threshold=0.9, shortcuts=[], shortcut_warning=False, shortcut_features=[],
        label_issues=issues)


def workspace(tmp_path, model, val_rows, flagged=None, provider="template", train_rows=None):
    """val.csv, train.csv (`train_rows`, else the val rows), a real dev and a real test set, quality.json and
    params.yaml (tiny LIME) under tmp_path; run()'s keyword arguments."""
    (tmp_path / "split").mkdir(parents=True)
    contracts.write_dataset(tmp_path / "split" / "val.csv", val_rows)
    contracts.write_dataset(tmp_path / "split" / "train.csv", val_rows if train_rows is None else train_rows)
    (tmp_path / "ext" / "mine").mkdir(parents=True)
    real = pd.DataFrame({"text": REAL_BAIT + REAL_NEWS, "label": ["clickbait"] * 3 + ["factual"] * 2})
    for part in ("dev", "test"):
        real.to_csv(tmp_path / "ext" / "mine" / f"{part}.csv", index=False)
    quality(flagged or {}).write(tmp_path / "quality.json")
    raw = yaml.safe_load((ROOT / "params.yaml").read_text())
    raw["generate"]["provider"] = provider
    raw["explain"].update(max_examples=2, num_samples=40, num_features=4)
    raw["train"]["model"] = str(model)  # its encoder, frozen, finds real dev errors' nearest rows (focus_nearest.py)
    raw["evaluate"]["external_test"] = [{"name": "mine_dev", "path": "mine/dev.csv", "role": "dev"},
                                        {"name": "mine_test", "path": "mine/test.csv", "role": "test"}]
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw))
    return {"params_path": tmp_path / "params.yaml", "out": tmp_path / "focus.yaml", "model": model,
            "split_dir": tmp_path / "split", "external_dir": tmp_path / "ext", "quality": tmp_path / "quality.json"}


def test_val_errors_weight_their_templates_by_origin(tmp_path, always_factual):
    rows = fills("clickbait-1", 3) + fills("clickbait-2", 1) + fills("factual-3", 2)
    result = focus_tool.run(**workspace(tmp_path, always_factual, rows), boost=2.0, rows=30)
    assert result["templates"] == {"clickbait": {TEXT["clickbait-1"]: 7.0, TEXT["clickbait-2"]: 3.0}}  # 1 + 2 x n
    assert result["source"] == {"dev": "val", "file": str(tmp_path / "split" / "val.csv"), "rows": 6,
                                "mismatches": 4, "model": str(always_factual)}
    pair = result["confused"][0]
    assert (pair["true"], pair["predicted"], pair["mismatches"]) == ("clickbait", "factual", 4)
    assert pair["tokens"] and "factual" in result["prompts"]["clickbait"][0]   # LIME's tokens, a contrastive prompt
    assert result["fix_labels"] == {}
    read = focus.read(tmp_path / "focus.yaml", TASK)   # what generate reads back
    assert read.templates == result["templates"] and read.rows == 30
    assert focus_tool.run(**workspace(tmp_path / "again", always_factual, rows), boost=2.0, rows=30) == \
        {**result, "source": {**result["source"], "file": str(tmp_path / "again" / "split" / "val.csv")}}


def test_flagged_and_shared_templates_are_never_weighted_and_listed_to_fix(tmp_path, always_factual, capsys):
    rows = fills("clickbait-1", 2) + fills("clickbait-2", 2) + fills(SHARED, 2) + fills("factual-3", 1)
    kwargs = workspace(tmp_path, always_factual, rows, flagged={"clickbait-2": 7, "factual-5": 1})
    result = focus_tool.run(**kwargs, boost=1.0, rows=0)
    assert result["templates"] == {"clickbait": {TEXT["clickbait-1"]: 3.0}}
    fix = result["fix_labels"]
    assert list(fix) == ["clickbait-2", "clickbait-19", "factual-5"]
    assert fix["clickbait-2"] == {"text": TEXT["clickbait-2"], "labels": ["clickbait"], "reason": "cleanlab flagged 7 rows",
                                  "flagged": [{"text": f"flagged row {i} of clickbait-2", "given": "clickbait",
                                               "suggested": "factual"} for i in range(5)]}
    assert fix[SHARED] == {"text": TEXT[SHARED], "labels": ["clickbait", "factual"],
                           "reason": "listed under several labels", "flagged": []}
    assert fix["factual-5"]["reason"] == "cleanlab flagged 1 row"   # flagged, though behind no dev error
    assert focus.read(kwargs["out"], TASK).templates == result["templates"]
    focus_tool.main(["--params", str(kwargs["params_path"]), "--out", str(kwargs["out"]), "--model", str(always_factual),
                     "--split", str(kwargs["split_dir"]), "--quality", str(kwargs["quality"])])
    printed = capsys.readouterr().out
    assert f"fix the label, not weighted: clickbait-2 {TEXT['clickbait-2']!r} (clickbait): cleanlab flagged 7 rows" in printed
    assert "1 templates weighted" in printed


def test_a_role_dev_external_set_weights_the_templates_nearest_its_errors(tmp_path, always_factual):
    """A real row has no template: each real mismatch stands for its nearest synthetic train row of its true label.
    Train holds each real clickbait text verbatim (cosine 1), under clickbait-1 (two texts) and clickbait-2 (one);
    the same texts as a generate.real row and under a factual template must never stand for them."""
    train = [{"text": REAL_BAIT[0], "label": "clickbait", "source": "real", "origin": "data/raw/mine.csv:1"},
             {"text": REAL_BAIT[0], "label": "factual", "source": "template", "origin": "factual-3"},
             {"text": REAL_BAIT[1], "label": "factual", "source": "template", "origin": "factual-3"},
             {"text": REAL_BAIT[0], "label": "clickbait", "source": "template", "origin": "clickbait-1"},
             {"text": REAL_BAIT[2], "label": "clickbait", "source": "template", "origin": "clickbait-1"},
             {"text": REAL_BAIT[1], "label": "clickbait", "source": "template", "origin": "clickbait-2"},
             *fills("clickbait-3", 3)]
    kwargs = workspace(tmp_path, always_factual, fills("clickbait-1", 2), train_rows=train)
    result = focus_tool.run(**kwargs, dev="mine_dev")
    assert result["source"] == {"dev": "mine_dev", "file": str(tmp_path / "ext" / "mine" / "dev.csv"), "rows": 5,
                                "mismatches": 3, "model": str(always_factual)}
    assert [(p["true"], p["predicted"], p["mismatches"]) for p in result["confused"]] == [("clickbait", "factual", 3)]
    assert result["templates"] == {"clickbait": {TEXT["clickbait-1"]: 3.0, TEXT["clickbait-2"]: 2.0}}
    assert len(result["prompts"]["clickbait"]) == 1


def test_real_dev_errors_weight_nothing_when_train_has_no_synthetic_row_of_their_label(tmp_path, always_factual):
    train = [{"text": t, "label": "clickbait", "source": "real", "origin": f"data/raw/mine.csv:{i}"}
             for i, t in enumerate(REAL_BAIT, 1)] + fills("factual-3", 3)
    result = focus_tool.run(**workspace(tmp_path, always_factual, fills("clickbait-1", 2), train_rows=train),
                            dev="mine_dev")
    assert result["templates"] == {} and result["source"]["mismatches"] == 3


@pytest.mark.parametrize("dev, message", [
    ("test", "--dev test: the test split only judges a round; synthbert focus reads dev errors only "
             "(dev sets: val, mine_dev)"),
    ("mine_test", "--dev mine_test: evaluate.external_test set 'mine_test' has role: test, which only judges; "
                  "synthbert focus reads dev errors only (dev sets: val, mine_dev)"),
    ("train", "--dev train: no such dev set (dev sets: val, mine_dev)"),
])
def test_test_sets_and_unknown_names_are_refused_in_one_line(tmp_path, capsys, dev, message):
    kwargs = workspace(tmp_path, tmp_path / "no-model", fills("clickbait-1", 1))
    code = focus_tool.main(["--dev", dev, "--params", str(kwargs["params_path"]), "--out", str(kwargs["out"])])
    err = capsys.readouterr().err
    assert code == 2 and err == f"error: {message}\n" and not kwargs["out"].exists()


def test_focus_without_a_model_or_quality_report_exits_2_in_one_line(tmp_path, capsys, always_factual):
    kwargs = workspace(tmp_path, tmp_path / "none", fills("clickbait-1", 1))
    args = ["--params", str(kwargs["params_path"]), "--out", str(kwargs["out"]), "--split", str(kwargs["split_dir"]),
            "--quality", str(kwargs["quality"])]
    assert focus_tool.main([*args, "--model", str(tmp_path / "none")]) == 2
    assert "--model" in capsys.readouterr().err and not kwargs["out"].exists()
    assert focus_tool.main([*args[:-1], str(tmp_path / "q.json"), "--model", str(always_factual)]) == 2
    err = capsys.readouterr().err
    assert "q.json: no such file; run `dvc repro`" in err and len(err.strip().splitlines()) == 1


def least_covered(sets=("mine_dev",)) -> list[dict]:
    rows = [("you will not believe this {mayor}", "clickbait"), ("storm hits the coast", "factual"),
            ("the secret trick doctors hate", "clickbait")]
    return [{"set": sets[i % len(sets)], "row": i + 1, "text": t, "label": lab, "distance": round(0.9 - i / 10, 2)}
            for i, (t, lab) in enumerate(rows)]


def write_audit(path, rows=None, reason=None):
    contracts.AuditReport(reference=["dev:mine_dev"], reason=reason, least_covered=rows or []).write(path)
    return path


def test_coverage_lists_the_least_covered_dev_rows_for_the_template_provider(tmp_path, always_factual, capsys):
    kwargs = workspace(tmp_path, always_factual, fills("clickbait-1", 1))
    audit = write_audit(tmp_path / "audit.json", least_covered())
    args = [f"--{k}={v}" for k, v in (("params", kwargs["params_path"]), ("out", kwargs["out"]),
                                      ("model", always_factual), ("split", kwargs["split_dir"]),
                                      ("quality", kwargs["quality"]), ("audit", audit))]
    assert focus_tool.main([*args, "--coverage"]) == 0
    written = yaml.safe_load(kwargs["out"].read_text())
    assert written["coverage"] == least_covered() and written["source"]["coverage"] == {"file": str(audit), "rows": 3}
    assert "  mine_dev:2 [factual] 'storm hits the coast'" in capsys.readouterr().out.splitlines()
    assert focus.read(kwargs["out"], TASK).templates == written["templates"]   # generate ignores `coverage`


def test_coverage_leaves_out_generate_real_rows_which_already_train_the_model(tmp_path, always_factual):
    kwargs = workspace(tmp_path, always_factual, fills("clickbait-1", 1))
    rows = least_covered(("mine_dev", "generate.real"))  # rows 1 and 3 of the dev set, row 2 a mixed-in real row
    result = focus_tool.run(**kwargs, audit=write_audit(tmp_path / "audit.json", rows))
    assert [r["row"] for r in result["coverage"]] == [1, 3] and result["source"]["coverage"]["rows"] == 2


def test_coverage_becomes_a_few_shot_prompt_per_label_for_the_openai_provider(tmp_path, always_factual):
    kwargs = workspace(tmp_path, always_factual, fills("factual-3", 1), provider="openai")
    result = focus_tool.run(**kwargs, audit=write_audit(tmp_path / "audit.json", least_covered()))
    assert "coverage" not in result and result["confused"] == [] and result["source"]["coverage"]["rows"] == 3
    assert "as examples in a \"write texts like these\" prompt per label" in focus_tool.summary(kwargs["out"], result)[-1]
    (bait,), (news,) = result["prompts"]["clickbait"], result["prompts"]["factual"]
    assert "'you will not believe this mayor'; 'the secret trick doctors hate'" in bait   # braces dropped
    assert "'storm hits the coast'" in news and "storm" not in bait
    assert bait.startswith("Write {n} texts that are clearly {label} ({description}), like these real ones")
    assert focus.read(kwargs["out"], TASK).prompts["clickbait"] == (bait,)   # placeholders generate can fill


def test_huge_rows_are_refused_against_the_planned_request_cap_before_the_dev_set_is_read(tmp_path):
    kwargs = workspace(tmp_path, tmp_path / "no-model", fills("clickbait-1", 1), provider="openai")
    with pytest.raises(DataError) as err:
        focus_tool.run(**kwargs, rows=100_000_000)  # 10,000,000 requests of 10 texts for one prompt, plus 80
    assert "need 80 requests and the focus file's 1 prompts x rows 100,000,000 need 10,000,000 more, 10,000,080 in " \
           "all, more than generate.max_planned_requests (100,000)" in str(err.value)
    assert not kwargs["out"].exists()


@pytest.mark.parametrize("case, message", [
    ("missing", "audit.json: no such file; run `dvc repro` (the audit stage writes it)"),
    ("no reference", "audit.json: nothing to cover: no real reference"),
    ("test set", "least_covered row 2 is from set 'mine_test', which is not a dev set (role: dev in "
                 "evaluate.external_test: mine_dev); focus --coverage uses dev rows only"),
    ("no label", "least_covered[0] has no 'label'"),
])
def test_bad_audit_files_fail_in_one_line_naming_the_file(tmp_path, capsys, case, message):
    kwargs = workspace(tmp_path, tmp_path / "no-model", fills("clickbait-1", 1))
    audit = tmp_path / "audit.json"
    if case == "no reference":
        write_audit(audit, reason="no real reference (no dev set, no generate.real)")
    elif case == "test set":
        write_audit(audit, least_covered(("mine_dev", "mine_test")))
    elif case == "no label":
        write_audit(audit, [{k: v for k, v in least_covered()[0].items() if k != "label"}])
    with pytest.raises(DataError, match=re.escape(message)) as err:
        focus_tool.run(**kwargs, audit=audit)
    assert str(audit) in str(err.value) and "\n" not in str(err.value) and not kwargs["out"].exists()



def test_a_multi_label_model_decides_by_its_thresholds_and_counts_each_missed_label(tmp_path):
    from tests.multilabel_kit import TICKETS, build_model

    model = build_model(tmp_path, thresholds=dict.fromkeys(["account", "billing", "technical", "urgent"], 1.0))
    rows = [{"text": t, "label": lab, "source": "template", "origin": "billing-1"} for t, lab in TICKETS]
    kwargs = workspace(tmp_path / "w", model, rows)   # no probability reaches 1.0: every label is missed
    raw = yaml.safe_load(kwargs["params_path"].read_text())
    raw["generate"]["task"] = "data/tasks/support_tickets.yaml"
    kwargs["params_path"].write_text(yaml.safe_dump(raw))
    result = focus_tool.run(**kwargs)
    task = load_task(ROOT / "data" / "tasks" / "support_tickets.yaml")
    billing = next(lab for lab in task.labels if lab.name == "billing")
    missed = sum(len(lab.split("|")) for _, lab in TICKETS)
    assert result["templates"] == {"billing": {billing.templates[0]: 1.0 + missed}}
    assert {(p["true"], p["predicted"]) for p in result["confused"]} == \
        {(lab, "(none)") for _, cell in TICKETS for lab in cell.split("|")}
    assert any(p["tokens"] for p in result["confused"])   # LIME's (label, not label) patterns


BINARY = bytes(range(256)) * 8  # no text format: not UTF-8, not JSON, not YAML, not safetensors


@pytest.mark.parametrize("target, damage", [
    ("quality", "truncate"), ("quality", "binary"), ("audit", "truncate"), ("audit", "binary"),
    ("model/config.json", "truncate"), ("model/model.safetensors", "truncate"), ("model/tokenizer.json", "binary"),
    ("split/val.csv", "binary"), ("split/val.csv", "truncate"), ("ext/mine/dev.csv", "binary"),
    ("focus.yaml", "truncate"), ("focus.yaml", "binary"),
])
def test_a_truncated_or_binary_input_is_one_line_naming_the_file_exit_2(tmp_path, always_factual, capsys, target,
                                                                         damage):
    """Every file focus reads (the model directory, quality.json, audit.json with --coverage, the previous focus
    file, val.csv or a real dev set), cut in half or replaced by binary bytes: one line naming it, exit 2."""
    import shutil

    shutil.copytree(always_factual, tmp_path / "model")
    kwargs = workspace(tmp_path, tmp_path / "model", fills("clickbait-1", 2) + fills("factual-3", 2))
    write_audit(tmp_path / "audit", least_covered())
    kwargs["out"].write_text(yaml.safe_dump({"source": {"dev": "val"}, "templates": {}, "prompts": {}, "rows": 5,
                                             "fix_labels": {"clickbait-2": {"text": "x", "labels": ["clickbait"]}}}))
    path = {"quality": kwargs["quality"], "audit": tmp_path / "audit"}.get(target, tmp_path / target)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2] if damage == "truncate" else BINARY)
    args = [f"--{k}={v}" for k, v in (("params", kwargs["params_path"]), ("out", kwargs["out"]),
                                      ("model", tmp_path / "model"), ("split", kwargs["split_dir"]),
                                      ("external", kwargs["external_dir"]), ("quality", kwargs["quality"]),
                                      ("audit", tmp_path / "audit"))]
    code = focus_tool.main([*args, "--coverage", *(["--dev", "mine_dev"] if target.startswith("ext/") else [])])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("error: ") and str(path) in err[0], err
