"""stages.tools.rounds (`synthbert rounds`): the ledger of focus rounds read from a real temporary git history of
hand-made committed reports (no training): rounds, the paired gain and its verdict, the stopping rule, spending, the
confused pairs, --since, and the ledger file the report stage reads."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd
import pytest

from stages import report
from stages.core.contracts import RoundsLedger
from stages.core.predictions import write_real_predictions
from stages.tools import rounds
from testkit import ROOT
from testkit.dvc_repo import run_cmd

TRUTH = ["a", "b"] * 100  # 200 rows of the real test set, balanced
DEV_TRUTH = ["a", "b"] * 20
BASE = range(80)          # the rows round 0 gets wrong


def git(repo: Path, *args: str) -> str:
    return run_cmd(["git", *args], repo, timeout=60).stdout.strip()


def decisions(truth: list[str], wrong: set[int] | range) -> list[str]:
    return [("b" if t == "a" else "a") if i in wrong else t for i, t in enumerate(truth)]


def frame(truth: list[str], predicted: list[str], name: str) -> pd.DataFrame:
    p_a = [0.9 if p == "a" else 0.1 for p in predicted]
    texts = [f"{name} {i}" for i in range(len(truth))]
    return pd.DataFrame({"set": name, "row": range(1, len(truth) + 1), "text": texts,
                         "true": truth, "predicted": predicted, "confidence": 0.9, "p_a": p_a,
                         "p_b": [round(1 - p, 1) for p in p_a]})


def external(name: str, role: str, truth: list[str], predicted: list[str]) -> dict:
    right = sum(t == p for t, p in zip(truth, predicted)) / len(truth)
    share = max(predicted.count(lab) for lab in set(predicted)) / len(predicted)
    return {name: {"role": role, "rows": len(truth), "accuracy": right, "f1_macro": right,
                   "f1_macro_ci_low": right - 0.05, "f1_macro_ci_high": right + 0.05,
                   "collapsed": {"label": "a", "predicted_share": share} if share >= 0.95 else None}}


def write_reports(repo: Path, wrong: set[int] | range, rows: int = 800, generation: dict | None = None) -> None:
    """One round's committed reports: the real test and dev sets' decisions and scores, quality and generation."""
    test, dev = decisions(TRUTH, wrong), decisions(DEV_TRUTH, range(len(wrong) % 7))
    path = repo / "reports" / "eval" / "real_predictions.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    write_real_predictions(path, pd.concat([frame(TRUTH, test, "real"), frame(DEV_TRUTH, dev, "dev")]), ["a", "b"])
    shipped = json.loads((ROOT / rounds.TEST_METRICS).read_text(encoding="utf-8"))
    shipped["external"] = external("real", "test", TRUTH, test) | external("dev", "dev", DEV_TRUTH, dev)
    (repo / rounds.TEST_METRICS).write_text(json.dumps(shipped), encoding="utf-8")
    quality = json.loads((ROOT / rounds.QUALITY).read_text(encoding="utf-8"))
    quality |= {"rows_read": rows, "rows_kept": rows - 5}
    (repo / rounds.QUALITY).parent.mkdir(parents=True, exist_ok=True)
    (repo / rounds.QUALITY).write_text(json.dumps(quality), encoding="utf-8")
    (repo / rounds.GENERATION).write_text(json.dumps(generation or json.loads(
        (ROOT / rounds.GENERATION).read_text(encoding="utf-8"))), encoding="utf-8")


def commit(repo: Path, message: str, focus: str | None = None, wrong: set[int] | range | None = None, **kw) -> str:
    if focus is not None:
        (repo / rounds.FOCUS).parent.mkdir(parents=True, exist_ok=True)
        (repo / rounds.FOCUS).write_text(focus, encoding="utf-8")
    if wrong is not None:
        write_reports(repo, wrong, **kw)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", message)
    return git(repo, "rev-parse", "HEAD")


def focus(n: int) -> str:
    return f"# a focus file\ntemplates:\n  a:\n    t{n}: {n + 1}.0\n"


@pytest.fixture
def repo(tmp_path) -> Path:
    git(tmp_path, "init", "-q", "-b", "main")
    commit(tmp_path, "init", focus="# no focus\n{}\n", wrong=BASE)
    return tmp_path


def ledger(repo: Path, since: str | None = None) -> RoundsLedger:
    return rounds.build(repo, since, (500, 0.95, 7))


# round 1 gets 70 more rows right (better); a swap of 5 right rows for 5 wrong ones changes nothing (within noise)
BETTER, SWAP, BACK = range(10), set(range(5)) | set(range(10, 15)), range(10)
NOISE = range(5, 85)      # round 0's 80 wrong rows, 5 of them swapped for others


def test_two_rounds_within_noise_after_a_better_one_say_stop(repo):
    base = git(repo, "rev-parse", "HEAD")
    c1 = commit(repo, "focus round 1", focus(1), BETTER)
    (repo / rounds.LEDGER).write_text("{}\n", encoding="utf-8")
    ledger1 = commit(repo, "ledger")                        # a ledger commit between rounds is no round
    commit(repo, "focus round 2", focus(2), SWAP)
    commit(repo, "focus round 3", focus(3), BACK)
    found = ledger(repo)
    assert [r["round"] for r in found.rounds] == [0, 1, 2, 3]
    assert found.rounds[0]["commit"] == base and found.rounds[1]["commit"] == c1
    assert found.rounds[1]["reports_at"] == ledger1 and found.rounds[1]["subject"] == "focus round 1"
    assert [r["test"]["real"]["f1_macro"] for r in found.rounds] == [0.6, 0.95, 0.95, 0.95]
    assert found.rounds[0]["gain"] is None and found.rounds[0]["gained"] is None
    gain = found.rounds[1]["gain"]["real"]
    assert gain["verdict"] == "better" and gain["rows"] == 200 and 0 < gain["low"] < gain["diff"] < gain["high"]
    assert (gain["old"], gain["new"], gain["diff"]) == pytest.approx((0.6, 0.95, 0.35))  # the paired rows: all 200
    assert [r["gain"]["real"]["verdict"] for r in found.rounds[2:]] == ["within noise"] * 2
    assert [r["gained"] for r in found.rounds] == [None, True, False, False]
    assert found.decision == "stop" and found.reason == ("rounds 2 and 3 each gained nothing beyond noise on the real "
                                                         "test sets")
    assert set(found.rounds[1]["dev"]) == {"dev"} and set(found.rounds[1]["test"]) == {"real"}  # dev: apart
    assert "dev" not in found.rounds[1]["gain"] and set(found.rounds[1]["confused"]) == {"real"}


def test_a_better_round_after_noise_says_continue_and_one_noise_round_is_not_enough(repo):
    commit(repo, "focus round 1", focus(1), NOISE)
    found = ledger(repo)
    assert found.rounds[1]["gain"]["real"]["verdict"] == "within noise"
    assert (found.decision, found.reason) == ("continue", "round 1 gained nothing beyond noise; stop if the next round "
                                                          "does not either")
    commit(repo, "focus round 2", focus(2), BETTER)
    found = ledger(repo)
    assert [r["gained"] for r in found.rounds] == [None, False, True]
    assert (found.decision, found.reason) == ("continue", "round 2 gained beyond noise on the real test sets")


def test_a_worse_round_gains_nothing(repo):
    commit(repo, "focus round 1", focus(1), range(120))
    found = ledger(repo)
    assert found.rounds[1]["gain"]["real"]["verdict"] == "worse" and found.rounds[1]["gained"] is False


def test_a_round_whose_model_collapsed_is_no_gain_even_when_its_macro_f1_rose(repo):
    commit(repo, "focus round 1", focus(1), set(range(0, 200, 2)))      # every row called "b": 0.333 macro-F1
    commit(repo, "focus round 2", focus(2), set(range(0, 188, 2)))      # 6 rows called "a": 97% "b", still collapsed
    found = ledger(repo)
    assert [r["test"]["real"]["collapsed"] for r in found.rounds] == [False, True, True]
    assert [r["gain"]["real"]["verdict"] for r in found.rounds[1:]] == ["collapsed", "collapsed"]
    assert found.rounds[2]["gain"]["real"]["low"] > 0              # better by its interval alone
    assert found.decision == "stop" and [r["gained"] for r in found.rounds[1:]] == [False, False]
    assert "| 2 | " in rounds.render(found) and "**collapsed** | +0." in rounds.render(found)


def test_rows_requests_dollars_and_confused_pairs_per_round(repo):
    paid = {"provider": "openai", "requests": {"planned": 12, "used": 12, "sent_this_run": 4},
            "tokens": {"prompt": 1, "completion": 2, "total": 3}, "cost_usd": 0.0123,
            "this_run": {"prompt_tokens": 1, "completion_tokens": 1, "cost_usd": 0.0041}}
    commit(repo, "focus round 1", focus(1), {0, 2, 4, 1}, rows=900, generation=paid)
    r0, r1 = ledger(repo).rounds
    assert r0["llm"] == {"provider": "template", "requests": 0, "requests_used": 0, "usd": 0.0, "usd_total": 0.0}
    assert r1["llm"] == {"provider": "openai", "requests": 4, "requests_used": 12, "usd": 0.0041, "usd_total": 0.0123}
    assert r0["rows"] == {"generated": 800, "kept": 795} and r1["rows"] == {"generated": 900, "kept": 895}
    assert r1["confused"]["real"] == [{"true": "a", "predicted": "b", "mismatches": 3},
                                      {"true": "b", "predicted": "a", "mismatches": 1}]
    assert sum(p["mismatches"] for p in r0["confused"]["real"]) == 80


def test_markdown_and_json_and_the_report_section_from_the_written_ledger(repo, monkeypatch, capsys):
    commit(repo, "focus round 1", focus(1), BETTER)
    monkeypatch.chdir(repo)
    assert rounds.main(["--write"]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("## Rounds\n") and "**continue**: round 1 gained beyond noise" in out
    assert "| 1 | `" in out and "focus round 1 | 0.950 [0.900, 1.000] | +0.350 [" in out and "] better |" in out
    assert "| `real`: a → b | 40 | 5 |" in out and "`dev` macro F1 [interval]" in out
    assert err.strip() == ("wrote reports/rounds.json (1 rounds, continue); run `dvc repro` (report.md shows it) "
                           "and commit")
    written = RoundsLedger.read(repo / rounds.LEDGER)
    assert written.rounds[1]["gain"]["real"]["verdict"] == "better" and written.decision == "continue"
    assert written.bootstrap == {"resamples": 1000, "confidence": 0.95, "seed": 42}  # no params.yaml: the defaults
    assert report.rounds_section(repo / rounds.LEDGER) == ["", *out.rstrip("\n").split("\n")]  # one renderer
    assert rounds.main(["--json"]) == 0
    assert json.loads(capsys.readouterr().out)["decision"] == "continue"


def test_a_round_whose_reports_were_not_reproduced_is_not_judged(repo):
    commit(repo, "focus round 1", focus(1), BETTER)
    text = focus(2)
    lock = {"stages": {"generate": {"deps": [{"path": rounds.FOCUS, "hash": "md5",
                                              "md5": hashlib.md5(focus(1).encode()).hexdigest()}]}}}
    (repo / rounds.LOCK).write_text(json.dumps(lock), encoding="utf-8")   # focus changed, dvc repro not run
    commit(repo, "focus round 2 (no repro)", text)
    found = ledger(repo)
    assert found.rounds[1]["reproduced"] is None and found.rounds[2]["reproduced"] is False
    assert found.rounds[2]["gained"] is None and found.decision == "undecided"
    assert found.reason == "round 2 cannot be judged: its reports were not reproduced from its focus file"
    lock["stages"]["generate"]["deps"][0]["md5"] = hashlib.md5(text.encode()).hexdigest()
    (repo / rounds.LOCK).write_text(json.dumps(lock), encoding="utf-8")
    commit(repo, "dvc repro", wrong=SWAP)
    assert ledger(repo).rounds[2]["reproduced"] is True


def test_since_chooses_round_0(repo):
    commit(repo, "focus round 1", focus(1), BETTER)
    c2 = commit(repo, "focus round 2", focus(2), SWAP)
    commit(repo, "focus round 3", focus(3), BACK)
    found = ledger(repo, since=c2)
    assert [(r["round"], r["commit"]) for r in found.rounds][0] == (0, c2) and len(found.rounds) == 2
    assert found.since == c2 and found.decision == "continue"   # one round within noise since c2


def test_no_rounds_is_one_line_and_exit_0(repo, monkeypatch, capsys):
    (repo / rounds.FOCUS).unlink()
    commit(repo, "no focus file")                  # absent and {} both mean no focus: no round
    commit(repo, "an empty focus file again", "{}\n")
    monkeypatch.chdir(repo)
    assert rounds.main([]) == 0
    assert capsys.readouterr().out == rounds.NO_ROUNDS + "\n"
    assert ledger(repo).rounds == [] and ledger(repo).decision is None


@pytest.mark.parametrize("since", ["no-such-rev", "other"])
def test_a_bad_since_is_one_line_and_exit_2(repo, monkeypatch, capsys, since):
    git(repo, "checkout", "-q", "-b", "other")
    commit(repo, "elsewhere", focus(9))
    git(repo, "checkout", "-q", "main")
    monkeypatch.chdir(repo)
    assert rounds.main(["--since", since]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: --since ")
    assert ("no such git revision" if since == "no-such-rev" else "not an ancestor of HEAD") in err
