"""stages.core.provenance: versions, git revision and device, with no absolute paths."""

from __future__ import annotations

import json
import os
import platform
import sys
from importlib import metadata
from pathlib import Path

import pytest

from stages.core import provenance
from testkit.dvc_repo import run_cmd


@pytest.fixture()
def git_repo(tmp_path):
    repo = tmp_path / "repo"
    (repo / "reports").mkdir(parents=True)
    for name, text in {"params.yaml": "a: 1\n", "dvc.lock": "x\n", "reports/m.json": "{}\n"}.items():
        (repo / name).write_text(text)
    run_cmd(["git", "init", "-q", "-b", "main"], repo)
    run_cmd(["git", "add", "-A"], repo)
    run_cmd(["git", "commit", "-qm", "init"], repo)
    return repo


def test_collect_names_versions_revision_and_device(git_repo):
    info = provenance.collect(git_repo, device="cpu")
    head = run_cmd(["git", "rev-parse", "HEAD"], git_repo).stdout.strip()
    assert info["python"] == platform.python_version()
    for dist in ("torch", "transformers", "dvc", "dvclive", "scikit-learn", "pandas", "lime"):
        assert info[dist] == metadata.version(dist)
    assert info["git_rev"] == head and len(head) == 40 and info["git_dirty"] is False
    assert info["device"] == "cpu" and info["cuda"] is None and info["device_name"]
    assert isinstance(info["torch_threads"], int) and info["torch_threads"] >= 1
    assert json.loads(json.dumps(info)) == info


def test_no_absolute_paths_or_user_names(git_repo):
    info = provenance.collect(git_repo)  # device detected: cpu here, cuda where a GPU is visible
    text = json.dumps(info)
    for secret in (str(git_repo), str(Path.home()), sys.prefix, os.getcwd()):
        assert secret not in text
    for key, value in info.items():
        assert not (isinstance(value, str) and value.startswith(("/", "~", "\\"))), key
        assert not (isinstance(value, str) and ":\\" in value), key


def test_dirty_means_changed_code_or_params_not_rewritten_outputs(git_repo):
    (git_repo / "dvc.lock").write_text("y\n")
    (git_repo / "reports" / "m.json").write_text('{"f1": 1}\n')
    (git_repo / "untracked.txt").write_text("scratch\n")
    assert provenance.git_state(git_repo)["git_dirty"] is False
    (git_repo / "params.yaml").write_text("a: 2\n")
    assert provenance.git_state(git_repo)["git_dirty"] is True


def test_outside_git_the_revision_is_unknown(tmp_path):
    assert provenance.git_state(tmp_path) == {"git_rev": None, "git_dirty": None}


def test_missing_package_is_none():
    assert provenance.package_versions(("torch", "surely-not-installed-pkg")) == {
        "torch": metadata.version("torch"), "surely-not-installed-pkg": None}
