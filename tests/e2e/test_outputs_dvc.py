"""What a newcomer sees through the real dvc CLI after a run: `dvc exp show` that fits a screen, plots that
render offline, and tracked reports that survive a failing stage."""

from __future__ import annotations

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


def test_exp_show_fits_25_columns_with_the_headline_metrics(repo):
    ran = stages_ran(dvc(repo, "exp", "run", "-S", "train.epochs=1").stdout)
    assert ran[0] == "train"
    cells = header_cells(dvc(repo, *README_EXP_SHOW).stdout)
    assert len(cells) <= 25, cells
    assert "train.epochs" in cells, cells
    assert any(c.startswith("eval.") for c in cells) and any(c.startswith("test.") for c in cells), cells
    everything = header_cells(dvc(repo, "exp", "show", "--md", "--no-pager").stdout)
    metrics = [c for c in everything if c.startswith(("test.", "external.", "eval.", "best_val"))]
    assert not [c for c in metrics if "_ci_" in c or "per_label" in c], metrics


def test_exp_show_has_no_price_table_among_the_params(repo):
    everything = header_cells(dvc(repo, "exp", "show", "--md", "--no-pager").stdout)
    assert not [c for c in everything if ".prices." in c]


def test_plots_show_renders_every_plot_once_without_network(repo, tmp_path):
    out = tmp_path / "plots"
    dvc(repo, "plots", "show", "-o", str(out))
    page = (out / "index.html").read_text(encoding="utf-8")
    assert not re.search(r"""(src|href)\s*=\s*["']?https?:""", page), "the page loads something from the network"
    assert "cdn.jsdelivr" not in page
    images = re.findall(r"<img[^>]+src=\"([^\"]+)\"", page)
    assert len(images) == len(set(images)) >= 6, images
    for src in images:
        assert (out / src).is_file(), src
    assert "dvc_plots" in (repo / ".gitignore").read_text()
