"""The report stage inside the real pipeline: every link of reports/report.md points at a file in git."""

from __future__ import annotations

import subprocess

import pytest

from testkit.dvc_repo import dvc
from tests.e2e.test_experiments import baseline
from tests.test_report import LINK, assert_links_exist_and_no_machine_paths

pytestmark = pytest.mark.e2e


def test_report_stage_in_the_pipeline_links_only_committed_files(tmp_path_factory, tiny_bert):
    repo = baseline(tmp_path_factory, tiny_bert)
    md = (repo / "reports" / "report.md").read_text(encoding="utf-8")
    assert_links_exist_and_no_machine_paths(md, repo / "reports", str(repo), str(tiny_bert))
    assert "![Training curves](train_curves.png)" in md and "![Test confusion matrix](eval/confusion.png)" in md
    built_from = subprocess.run(["git", "rev-parse", "--short=12", "HEAD~1"], cwd=repo, capture_output=True,
                                text=True, timeout=60).stdout.strip()  # the repro ran before the commit that holds its reports
    assert f"- git revision: `{built_from}` (HEAD when this report was built)" in md
    tracked = subprocess.run(["git", "ls-files", "reports"], cwd=repo, capture_output=True, text=True,
                             timeout=60).stdout.split()
    for target in LINK.findall(md):  # everything it links is in git, so a PR shows it
        assert f"reports/{target}" in tracked, target
    assert "Data and pipelines are up to date." in dvc(repo, "status").stdout
