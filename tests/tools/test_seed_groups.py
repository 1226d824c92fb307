"""stages.tools.seed_groups: runs of `dvc exp show --json` grouped by all but base.seed, their spread, and the
two-level bootstrap verdict (seeds within each group, then rows) on hand-made decisions."""

from __future__ import annotations

import statistics

import pytest

from stages.tools import seed_groups, verdict_md
from stages.tools.paired import Decisions

CODE = {"stages/train.py": {"hash": "c0de", "size": 1, "nfiles": None},
        "data/split/train.csv": {"hash": "split-of-this-seed", "size": 1, "nfiles": None}}
OUTS = {"data/split": {"hash": "x.dir", "use_cache": True}, "models/classifier": {"hash": "y.dir", "use_cache": True}}


def state(rev: str, name: str | None, seed: int, lr: float = 5e-5, f1: float | None = 0.8,
          real: float | None = None, code: str = "c0de", error: bool = False) -> dict:
    params = {"params.yaml": {"data": {"base": {"seed": seed}, "train": {"learning_rate": lr, "label_weights": {}}}}}
    deps = {**CODE, "stages/train.py": {**CODE["stages/train.py"], "hash": code},
            "data/split/train.csv": {"hash": f"split-{seed}"}}
    metrics = {} if f1 is None else {"reports/metrics.json": {"data": {"test": {"f1_macro": f1, "accuracy": f1},
               **({"external": {"stop": {"f1_macro": real}}} if real is not None else {})}}}
    data = {"rev": rev, "params": params, "metrics": metrics, "deps": deps, "outs": OUTS, "meta": {}}
    return {"rev": rev, "name": name, "data": None if error else data,
            "error": {"msg": "failed", "type": "X"} if error else None, "experiments": None}


def exp(s: dict, executor: str | None = None) -> dict:
    return {"revs": [s], "executor": {"state": executor, "name": "dvc-task"} if executor else None, "name": s["name"]}


def shown() -> list[dict]:
    head = state("h" * 40, "main", 42, f1=0.80, real=0.70)
    head["experiments"] = [exp(e) for e in (
        state("e1", "seed-1", 1, f1=0.84, real=0.74),
        state("e2", "seed-2", 2, f1=0.82, real=0.72),
        state("e3", "lr-1", 1, lr=3e-5, f1=0.70, real=0.60),
        state("e4", "lr-2", 2, lr=3e-5, f1=0.74, real=0.62),
        state("e5", "seed-1-again", 1, f1=0.10),              # the same seed twice: the first one counts
        state("e6", "edited-code", 3, code="changed", f1=0.9),  # uncommitted code: never the baseline's seed
        state("e7", "failed", 4, error=True),
        state("e8", "queued", 5, f1=None),
    )] + [exp(state("e9", "running", 6, f1=0.5), "running")]  # a running one may show its baseline's metrics
    return [state("workspace", None, 2), head]


def test_runs_group_by_every_param_but_the_seed_and_by_source_files():
    runs, workspace, head, skipped = seed_groups.read_runs(shown())
    assert head == "h" * 40 and skipped == 3
    groups = seed_groups.group_runs(runs)
    assert [[r.name for r in g.runs] for g in groups] == [["main", "seed-1", "seed-2"], ["lr-1", "lr-2"],
                                                          ["edited-code"]]
    assert seed_groups.baseline_group(groups, workspace, head) == 0
    assert seed_groups.differences(groups[1], groups[0]) == ["train.learning_rate=3e-05"]
    assert seed_groups.differences(groups[2], groups[0]) == ["source stages/train.py"]
    mean, sd, n = seed_groups.spread(groups[0])["test"]
    assert n == 3 and mean == pytest.approx(0.82) and sd == pytest.approx(statistics.stdev([0.80, 0.84, 0.82]))
    assert seed_groups.spread(groups[1])["real:stop"][:2] == pytest.approx((0.61, statistics.stdev([0.60, 0.62])))
    assert seed_groups.spread(groups[2])["test"] == (0.9, None, 1)


def test_the_baseline_is_the_workspace_group_when_the_commit_never_ran():
    data = shown()
    data[1]["data"]["metrics"] = {}  # committed without `dvc repro`: no metrics at HEAD
    runs, workspace, head, skipped = seed_groups.read_runs(data)
    groups = seed_groups.group_runs(runs)
    assert skipped == 3 and [r.name for r in groups[0].runs] == ["seed-1", "seed-2"]
    assert seed_groups.baseline_group(groups, workspace, head) == 0  # the workspace has the seed-N params
    assert seed_groups.baseline_group(groups[1:], workspace, head) is None


def rows(n: int = 400) -> tuple[list[str], list[str]]:
    return [f"t{i}" for i in range(n)], ["a", "b"] * (n // 2)


def run_with(accuracy: float, n: int = 400) -> Decisions:
    """Decisions right on the first `accuracy` share of the rows (macro-F1 about `accuracy`)."""
    keys, truth = rows(n)
    right = round(accuracy * n)
    return Decisions.of(keys, truth, [t if i < right else ("b" if t == "a" else "a") for i, t in enumerate(truth)])


def test_two_level_verdict_includes_the_seed_spread():
    base = [run_with(0.70), run_with(0.71), run_with(0.70)]
    steady = [run_with(0.85), run_with(0.86), run_with(0.85)]
    assert seed_groups.two_level(base, steady, 1000, 0.95, 0)["verdict"] == "better"
    assert seed_groups.two_level(steady, base, 1000, 0.95, 0)["verdict"] == "worse"
    # One lucky seed out of three: its rows alone (one seed against one) say better, the seeds do not.
    lucky = [run_with(0.90), run_with(0.70), run_with(0.71)]
    assert seed_groups.two_level(base[:1], lucky[:1], 1000, 0.95, 0)["verdict"] == "better"
    found = seed_groups.two_level(base, lucky, 1000, 0.95, 0)
    assert found["verdict"] == "within noise" and found["low"] <= 0 < found["diff"] < found["high"]
    assert found["diff"] == pytest.approx((0.90 + 0.70 + 0.71 - 0.70 - 0.71 - 0.70) / 3, abs=0.005)
    # The same decisions in both groups: the rows are paired, every resample's difference is exactly 0.
    same = seed_groups.two_level(base[:1], base[:1], 200, 0.95, 0)
    assert (same["diff"], same["low"], same["high"], same["verdict"]) == (0, 0, 0, "within noise")


def test_group_verdicts_per_set_and_a_line_for_a_run_without_decisions():
    runs, workspace, head, _ = seed_groups.read_runs(shown())
    groups = seed_groups.group_runs(runs)
    accuracy = {"main": 0.8, "seed-1": 0.84, "seed-2": 0.82, "lr-1": 0.70, "lr-2": 0.74}

    def decisions(run):  # lr-2 has no real_predictions.csv (an older evaluate)
        real = {} if run.name == "lr-2" else {"real:stop": run_with(accuracy[run.name] - 0.1)}
        return {"test": run_with(accuracy[run.name]), **real}

    found = seed_groups.group_verdicts(groups[1], groups[0], decisions, 500, 0.95, 7)
    assert [r["set"] for r in found] == ["test", "real:stop"]
    assert found[0]["verdict"] == "worse" and found[0]["diff"] == pytest.approx(0.72 - 0.82, abs=0.005)
    assert found[1]["note"].startswith("no verdict on real:stop: no decisions of lr-2")
    page = verdict_md.seed_groups_page(groups, 0, {1: found}, 3, 500, 0.95)
    assert "## Seed groups: 6 runs in 3 groups" in page and "3 queued, running or failed experiments left out" in page
    assert "| 1 (baseline) | — | 3: 42, 1, 2 | `main`, `seed-1`, `seed-2` | 0.820 ± 0.020 | 0.720 ± 0.020 |" in page
    assert "| 2 | `train.learning_rate=3e-05` | 2: 1, 2 | `lr-1`, `lr-2` | 0.720 ± 0.028 | 0.610 ± 0.014 |" in page
    assert "| 3 | `source stages/train.py` | 1: 3 | `edited-code` | 0.900 | — |" in page
    assert "| 2 | test split | 2 vs 3 | -0.100 [" in page and "**worse**" in page
    assert "- group 2: no verdict on real:stop" in page
