"""stages.tools.compare against real DVC runs: two commits of the tiny pipeline, the comparison with `main`,
and the PR workflow's `synthbert compare` lines (the console command) executed in a clone shaped like the CI checkout."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from stages.generation import template
from stages.generation.task import load_task
from testkit import ROOT
from testkit.dvc_repo import dvc, run_cmd, stages_ran, subprocess_env
from tests.e2e.test_experiments import copy_of_baseline
from tests.tools.test_compare import LINK_BASE, WORKFLOW

pytestmark = pytest.mark.e2e


def workflow_python_lines() -> list[str]:
    steps = yaml.safe_load(WORKFLOW.read_text())["jobs"]["report"]["steps"]
    return [line.strip() for s in steps for line in s.get("run", "").splitlines()
            if line.strip().startswith("synthbert ")]


@pytest.fixture(scope="module")
def two_commits(tmp_path_factory, tiny_bert):
    """main: the baseline run; pr: one more commit with explain.num_samples changed and the pipeline rerun."""
    repo = copy_of_baseline(tmp_path_factory, tiny_bert, tmp_path_factory.mktemp("compare") / "repo")
    run_cmd(["git", "checkout", "-qb", "pr"], repo)
    out = dvc(repo, "exp", "run", "-S", "explain.num_samples=80").stdout
    assert stages_ran(out) == ["explain", "report"]
    run_cmd(["git", "add", "-A"], repo)
    run_cmd(["git", "commit", "-qm", "more LIME samples"], repo)
    return repo


def stage_compare(repo: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "stages.tools.compare", *args], cwd=repo, env=subprocess_env(),
                          capture_output=True, text=True, timeout=300)


def test_compare_against_main_shows_metrics_params_and_per_label_f1(two_commits):
    proc = stage_compare(two_commits, "--rev", "main", "--out", "cmp.md")
    assert proc.returncode == 0, proc.stderr
    md = (two_commits / "cmp.md").read_text()
    assert md.startswith("## This branch against `main`")
    assert "| `explain.num_samples` | `60` | `80` |" in md
    labels = re.findall(r"^\| (\w+) \| [\d.]+ \| [\d.]+ \| [+-][\d.]+ \|$", md, re.M)
    assert labels == ["clickbait", "factual"], md
    # two metrics files (evaluate's headline, train's DVCLive): each key is named with its file
    f1 = re.search(r"^\| `reports/metrics.json:test.f1_macro` \| ([\d.]+) \| ([\d.]+) \|", md, re.M)
    assert f1 and f1[1] == f1[2]  # only explain changed: the same model, the same metrics
    # The verdict comes first: the same decisions on every test row, so no difference in any resample.
    rows = len((two_commits / "reports" / "eval" / "predictions.csv").read_text().splitlines()) - 1
    assert md.index("### Verdict") < md.index("### Metrics")
    assert (f"| test split | {rows} | {f1[1]} | {f1[2]} | +0.000 [+0.000, +0.000] | **within noise** | — |"
            in md), md
    real = "- no verdict on the real sets: no reports/eval/real\\_predictions.csv in main nor in the workspace"
    assert (real in md) != (two_commits / "reports" / "eval" / "real_predictions.csv").is_file(), md


def test_compare_against_a_missing_revision_is_a_one_line_error(two_commits):
    proc = stage_compare(two_commits, "--rev", "no-such-branch", "--out", "x.md")
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [proc.stderr.strip()]
    assert proc.stderr.startswith("error: --rev 'no-such-branch': no such git revision")
    assert not (two_commits / "x.md").exists()


@pytest.fixture(scope="module")
def ci_clone(two_commits, tmp_path_factory):
    """What actions/checkout gives the workflow: the PR branch, origin/<base>, no DVC cache, no data."""
    clone = tmp_path_factory.mktemp("ci") / "clone"
    run_cmd(["git", "clone", "-q", "--branch", "pr", str(two_commits), str(clone)], two_commits)
    assert not (clone / "models" / "classifier").exists()
    return clone


def test_workflow_commands_pass_in_a_fresh_clone_and_write_the_comment(ci_clone):
    lines = workflow_python_lines()
    assert any("--check-lock" in line for line in lines) and any("--rev" in line for line in lines)
    env = {**subprocess_env(), "BASE_REF": "origin/main", "LINK_BASE": LINK_BASE}
    for line in lines:
        proc = subprocess.run(["bash", "-c", line], cwd=ci_clone, env=env, capture_output=True, text=True,
                              timeout=900)
        assert proc.returncode == 0, f"{line}\n{proc.stderr}"
    comment = (ci_clone / "pr-comment.md").read_text()
    assert "## This branch against `origin/main`" in comment and "# Model report" in comment
    links = re.findall(r"(!?)\[[^\]]*\]\(([^)\s]+)\)", comment)
    assert any(bang for bang, _ in links), "the comment shows images"
    for bang, url in links:
        assert url.startswith(LINK_BASE + "/reports/"), url
        assert url.endswith("?raw=true") == bool(bang), url
        assert (ci_clone / url[len(LINK_BASE) + 1:].removesuffix("?raw=true")).is_file(), url


def test_check_lock_names_a_changed_param_or_code_file(ci_clone):
    params = ci_clone / "params.yaml"
    params.write_text(params.read_text().replace("num_features: 4", "num_features: 5"))
    proc = stage_compare(ci_clone, "--check-lock")
    assert proc.returncode == 2 and "explain: param explain.num_features modified" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    run_cmd(["git", "checkout", "params.yaml"], ci_clone)
    with open(ci_clone / "stages" / "train.py", "a") as f:
        f.write("# changed\n")
    proc = stage_compare(ci_clone, "--check-lock")
    assert proc.returncode == 2 and "train: deps stages/train.py modified" in proc.stderr
    run_cmd(["git", "checkout", "stages/train.py"], ci_clone)
    (ci_clone / "reports" / "report.md").unlink()  # a report that should be in git is missing
    proc = stage_compare(ci_clone, "--check-lock")
    assert proc.returncode == 2 and "report: outs reports/report.md deleted" in proc.stderr
    run_cmd(["git", "checkout", "reports/report.md"], ci_clone)
    assert stage_compare(ci_clone, "--check-lock").returncode == 0


def test_the_pull_request_recipe_on_your_own_csv_passes_the_lock_check_in_a_fresh_clone(tmp_path_factory, tiny_bert):
    """docs/report.md's recipe on a csv task with other labels than the baseline's (clickbait, factual): the CSV
    tracked as the docs say, `dvc exp run` then `dvc exp apply`, committed as the docs say; a fresh clone passes
    `synthbert compare --check-lock` and holds no report file of the earlier task."""
    recipe = (ROOT / "docs" / "report.md").read_text(encoding="utf-8")
    steps = re.search(r"```bash\n(git checkout -b .*?)```", recipe, re.S)[1]
    repo = copy_of_baseline(tmp_path_factory, tiny_bert, tmp_path_factory.mktemp("pr-csv") / "repo")
    rows = template.generate(load_task(ROOT / "data" / "tasks" / "clickbait.yaml"), 40, seed=5)
    names = {"clickbait": "spam", "factual": "ham"}
    pd.DataFrame({"text": [r["text"] for r in rows], "label": [names[r["label"]] for r in rows]}) \
        .to_csv(repo / "data" / "raw" / "mine.csv", index=False)
    (repo / "data" / "raw" / "notes.txt").write_text("an unrelated file left there\n")
    for line in steps.strip().splitlines():
        command = line.split("  #")[0].strip()
        if command.startswith("synthbert compare "):  # as the module: the console command runs the installed code
            proc = stage_compare(repo, *shlex.split(command)[2:])
            assert proc.returncode == 0, proc.stderr
            continue
        if command.startswith("dvc "):
            dvc(repo, *shlex.split(command)[1:])
        else:
            if "git commit" in command:  # not yet committed: the check names what a clone would lack
                proc = stage_compare(repo, "--check-lock")
                assert proc.returncode == 2 and "inputs: deps data/raw/notes.txt in no commit" in proc.stderr
            run_cmd(["bash", "-c", command], repo)
    clone = tmp_path_factory.mktemp("pr-csv") / "clone"
    run_cmd(["git", "clone", "-q", "--branch", "my-change", str(repo), str(clone)], repo)
    proc = stage_compare(clone, "--check-lock")
    assert proc.returncode == 0, proc.stderr
    tracked = run_cmd(["git", "ls-files", "reports"], clone).stdout
    assert "clickbait" not in tracked and "f1_label/spam.tsv" in tracked, tracked
    pages = json.loads((clone / "reports" / "explain" / "explanations.json").read_text())
    html = {p.split("/")[-1] for p in tracked.split() if p.startswith("reports/explain/html/")}
    assert html == {ex["html"].split("/")[-1] for ex in pages["examples"] + pages["contrast"]}
