"""What a newcomer sees through the real dvc CLI after a run: `dvc exp show` of two experiments that fits a screen,
`dvc plots diff` that overlays their training curves offline, and tracked reports that survive a failing stage."""

from __future__ import annotations

import json
import re
import subprocess

import pytest

from testkit.dvc_repo import dvc, run_cmd, stages_ran, write_params
from tests.e2e.test_experiments import copy_of_baseline

pytestmark = pytest.mark.e2e
README_EXP_SHOW = ("exp", "show", "--md", "--no-pager", "--only-changed")  # the README's first suggestion


@pytest.fixture(scope="module")
def repo(tmp_path_factory, tiny_bert):
    return copy_of_baseline(tmp_path_factory, tiny_bert, tmp_path_factory.mktemp("outputs") / "repo")


def header_cells(table: str) -> list[str]:
    return [c.strip() for c in table.splitlines()[0].strip().strip("|").split("|")]


# First: the later tests change the workspace.
def test_a_failing_evaluate_keeps_every_tracked_report(repo):
    tracked = run_cmd(["git", "ls-files", "reports/eval", "reports/metrics.json"], repo).stdout.split()
    assert len(tracked) >= 15
    before = {p: (repo / p).read_bytes() for p in tracked}
    write_params(repo / "params.yaml", {"evaluate": {"positive_label": "no-such-label"}})  # checked once the model is loaded
    proc = dvc(repo, "repro", check=False)
    assert proc.returncode != 0 and "evaluate.positive_label" in proc.stdout + proc.stderr
    for path, data in before.items():
        assert (repo / path).is_file(), f"{path} deleted by the failing stage"
        assert (repo / path).read_bytes() == data, f"{path} changed by the failing stage"
    status = subprocess.run(["git", "status", "--porcelain", "reports"], cwd=repo, capture_output=True, text=True,
                            timeout=60).stdout
    assert status == "", status
    run_cmd(["git", "checkout", "--", "params.yaml"], repo)


EXPERIMENTS = {"one-epoch": "train.epochs=1", "slower": "train.learning_rate=0.0005"}
HEADLINE = {"test.f1_macro", "test.accuracy", "test.roc_auc", "external.stop_clickbait.f1_macro",
            "external.stop_clickbait_dev.f1_macro", "best_val_f1_macro"}
# The hashes DVC needs: the deps of later stages that earlier stages (train, evaluate) write, one column each.
NEEDED_HASHES = {"models/classifier", "reports/train", "reports/eval", "reports/eval/predictions.csv",
                 "reports/explain"}


def test_exp_show_of_two_experiments_fits_15_columns_with_the_headline_metrics(repo):
    for name, change in EXPERIMENTS.items():
        ran = stages_ran(dvc(repo, "exp", "run", "-n", name, "-S", change).stdout)
        assert ran[0] == "train"
    cells = header_cells(dvc(repo, *README_EXP_SHOW).stdout)
    assert len(cells) <= 15, cells
    assert {"train.epochs", "train.learning_rate"} <= set(cells), cells
    everything = header_cells(dvc(repo, "exp", "show", "--md", "--no-pager").stdout)
    # One column per headline number: the kept epoch's validation score, no last-epoch values, epoch, step or loss
    # (DVCLive's summary), no roc_auc_macro beside a binary task's roc_auc, no intervals or per-label values.
    metrics = {c for c in everything
               if c.startswith(("test.", "external.", "eval.", "best_", "epoch", "step", "loss"))}
    assert metrics == HEADLINE, metrics
    hashes = {c for c in cells if "/" in c}
    assert hashes <= NEEDED_HASHES, hashes
    # Even when every headline number changes, the table keeps to 15 columns.
    assert len(cells) - len(metrics & set(cells)) + len(metrics) <= 15, cells
    # The documented view without the hashes: headline numbers and changed params only.
    bare = header_cells(dvc(repo, *README_EXP_SHOW, "--drop", ".*/").stdout)
    assert bare == [c for c in cells if c not in hashes] and not [c for c in bare if "/" in c], bare


def test_exp_show_has_no_price_table_among_the_params(repo):
    everything = header_cells(dvc(repo, "exp", "show", "--md", "--no-pager").stdout)
    assert not [c for c in everything if ".prices." in c]


def spec_revisions(page: str) -> dict[str, set[str]]:
    """{title: the revisions in its data} of each Vega plot of a `dvc plots` page."""
    out = {}
    for spec in re.findall(r"var spec = (\{.*?\});\s*vegaEmbed\(", page, re.S):
        spec = json.loads(spec)
        out[spec["title"]["text"]] = {row["rev"] for row in spec["data"]["values"]}
    return out


def test_plots_diff_overlays_the_training_curves_offline(repo, tmp_path):
    # After test_exp_show_...: the baseline and its two experiments.
    out = tmp_path / "plots"
    dvc(repo, "plots", "diff", "main", *EXPERIMENTS, "-o", str(out))
    page = (out / "index.html").read_text(encoding="utf-8")
    # Each training curve is one chart holding every revision's data (one colour each), not a chart per revision.
    revs = {"main", *EXPERIMENTS}
    assert spec_revisions(page) == {"train and validation loss": revs, "validation macro-F1": revs}
    # vega, vega-lite and vega-embed are inlined (.dvc/plots.html): no page element loads from the network
    html = re.sub(r"<script[^>]*>.*?</script>", "", page, flags=re.S)
    assert page.count("<script") > 3 and not re.search(r"<script[^>]*\bsrc=", page)
    assert not re.search(r"""(src|href)\s*=\s*["']?https?:""", html), "the page loads something from the network"
    assert "cdn.jsdelivr" not in page
    images = re.findall(r"<img[^>]+src=\"([^\"]+)\"", html)  # the PNG charts, one per revision
    assert len(images) == len(set(images)) >= 6 * len(revs), images
    for src in images:
        assert (out / src).is_file(), src
    assert "dvc_plots" in (repo / ".gitignore").read_text()
