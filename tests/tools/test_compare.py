"""stages.tools.compare: the markdown comparison with a git revision, link rebasing, and the PR workflow file
(tests/e2e/test_compare_dvc.py runs its `python -m stages.tools.compare` lines in a CI-shaped clone)."""

from __future__ import annotations

import yaml

from stages.tools import compare
from testkit import ROOT

WORKFLOW = ROOT / ".github" / "workflows" / "pr-report.yml"
LINK_BASE = "https://github.com/owner/repo/blob/0123abc"


def test_metric_rows_show_changed_and_headline_metrics_and_per_label_f1():
    diff = {"reports/metrics.json": {
        "test.accuracy": {"old": 0.8, "new": 0.8, "diff": 0.0},            # unchanged, but always shown
        "test.f1_macro": {"old": 0.7, "new": 0.75, "diff": 0.05},
        "test.ece": {"old": 0.1, "new": 0.1, "diff": 0.0},                 # unchanged: left out
        "test.f1_macro_ci_low": {"old": None, "new": 0.6, "diff": None},   # new in this branch
        "test.per_label.a.b.f1": {"old": 0.5, "new": 0.75, "diff": 0.25},  # a label with a dot
        "test.per_label.c.f1": {"old": 0.9, "new": 0.75, "diff": -0.15},
        "test.per_label.c.precision": {"old": 0.9, "new": 0.8, "diff": -0.1},
    }}
    headline, per_label = compare.metric_rows(diff)
    assert [r[0] for r in headline] == ["`test.accuracy`", "`test.f1_macro`", "`test.f1_macro_ci_low`"]
    assert per_label == [["a.b", 0.5, 0.75, 0.25], ["c", 0.9, 0.75, -0.15]]
    md = compare.render("main", diff, {"params.yaml": {"train.epochs": {"old": 2, "new": 3},
                                                       "train.freeze": {"old": None, "new": "none"}}})
    assert "| `test.f1_macro_ci_low` | — | 0.600 | — |" in md
    assert "| a.b | 0.500 | 0.750 | +0.250 |" in md and "| c | 0.900 | 0.750 | -0.150 |" in md
    assert "| `train.epochs` | `2` | `3` |" in md and "| `train.freeze` | — | `none` |" in md
    assert "No param changed." in compare.render("main", diff, {})


def test_metric_rows_leave_out_bookkeeping():
    # An older revision's DVCLive summary was a DVC metric: its counters, loss and last-epoch values are no result.
    old_train = {k: {"old": 1.0, "new": None, "diff": None} for k in (
        "epoch", "step", "loss", "eval.loss", "eval.f1_macro", "eval.accuracy", "best_epoch", "train_seconds",
        "eval.runtime", "train_samples_per_second", "model_hash")}
    diff = {"reports/train/metrics.json": {**old_train, "best_val_f1_macro": {"old": 0.9, "new": None, "diff": None}},
            "reports/train/best_val.json": {"best_val_f1_macro": {"old": None, "new": 0.91, "diff": None}},
            "reports/metrics.json": {"test.f1_macro": {"old": 0.7, "new": 0.75, "diff": 0.05},
                                     "test.loss_ratio": {"old": 1.0, "new": 2.0, "diff": 1.0}}}
    headline, _ = compare.metric_rows(diff)
    assert [r[0] for r in headline] == ["`reports/metrics.json:test.f1_macro`",
                                        "`reports/metrics.json:test.loss_ratio`",
                                        "`reports/train/best_val.json:best_val_f1_macro`",
                                        "`reports/train/metrics.json:best_val_f1_macro`"]
    md = compare.render("main", diff, {})
    assert not [w for w in ("epoch", "step", "eval.", "seconds", "runtime", "hash") if w in md], md


def test_rebase_links_points_relative_links_at_the_commit_and_images_at_raw_files(tmp_path):
    report = tmp_path / "reports" / "report.md"
    md = ("![cm](eval/confusion.png) [page](explain/html/01.html) [web](https://dvc.org) [top](#top) "
          "![x](../x.png) [out](../../../elsewhere.md)")
    out = compare.rebase_links(md, report, tmp_path, LINK_BASE + "/")
    assert f"![cm]({LINK_BASE}/reports/eval/confusion.png?raw=true)" in out
    assert f"[page]({LINK_BASE}/reports/explain/html/01.html)" in out
    assert "[out](../../../elsewhere.md)" in out  # outside the repository: left alone
    assert "[web](https://dvc.org)" in out and "[top](#top)" in out and f"![x]({LINK_BASE}/x.png?raw=true)" in out


def test_workflow_is_valid_and_posts_with_cml_without_a_public_image_host():
    flow = yaml.safe_load(WORKFLOW.read_text())
    trigger = flow.get("on", flow.get(True))  # YAML 1.1 reads the key `on` as True
    assert "pull_request" in trigger and flow["permissions"]["pull-requests"] == "write"
    steps = flow["jobs"]["report"]["steps"]
    uses = [s.get("uses", "") for s in steps]
    assert any(u.startswith("actions/checkout@") for u in uses)
    assert any(u.startswith("iterative/setup-cml@") for u in uses)
    assert steps[0]["with"]["fetch-depth"] == 0
    runs = "\n".join(s.get("run", "") for s in steps)
    assert "bash scripts/setup.sh" in runs
    cml = [line for line in runs.splitlines() if line.startswith("cml ")]
    assert len(cml) == 1 and cml[0].startswith("cml comment create") and "--publish=false" in cml[0]
    assert cml[0].endswith(" pr-comment.md") and "--out pr-comment.md" in runs
    for step in steps:  # expressions only in env:, so the run lines are plain shell that tests can execute
        assert "${{" not in step.get("run", ""), step


