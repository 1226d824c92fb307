"""Temporary git + DVC repositories holding a copy of this project, and the real `dvc` CLI run in them.

Every subprocess here has a timeout: a hung `dvc repro` fails the test with the command's output instead of
hanging CI.
"""

from __future__ import annotations

import collections
import csv
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from testkit import ROOT

# Fast settings for the pipeline in tests: tiny model, few rows, few LIME samples.
TINY_PARAMS = {
    "generate": {"n_per_label": 40},
    "train": {"epochs": 2, "batch_size": 16, "learning_rate": 1e-3, "max_length": 32},
    "explain": {"max_examples": 3, "num_samples": 60, "num_features": 4},
}
# The real sets shipped under data/external/ (listed in the default params) are cut to their first rows of each
# label in a test repository: every pipeline still scores them (roles, gaps, collapse, real_predictions.csv) without
# 2,000 more texts per evaluate run.
TINY_REAL_ROWS_PER_LABEL = 20
DEFAULT_TIMEOUT = 900  # seconds: a whole tiny `dvc repro` takes about a minute on a laptop CPU
# What dvc.yaml's commands (`python -m stages.X`) and DVC itself need from the work tree.
PROJECT_FILES = ("dvc.yaml", "params.yaml", ".gitignore", ".dvcignore", "data/prices.yaml", "data/focus.yaml",
                 "reports/rounds.json")
PROJECT_DIRS = ("stages", "data/tasks", "data/raw", "data/external")


def write_params(path: Path, overrides: dict) -> None:
    """Merge nested `overrides` into the params.yaml at `path`."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    for section, values in overrides.items():
        target = data.setdefault(section, {})
        for key, value in values.items():
            if isinstance(value, dict):
                target.setdefault(key, {}).update(value)
            else:
                target[key] = value
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")


def subprocess_env() -> dict[str, str]:
    """The test interpreter's bin first on PATH, so dvc's `python -m stages.X` runs in this environment. The rest of
    the environment passes on, $SYNTHBERT_LLM_STORE included: the repositories' stages use the tests' own LLM response
    store (tests/conftest.py), never the user's."""
    env = dict(os.environ)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    env.update({"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "DVC_NO_ANALYTICS": "1",
                "PYTHONUNBUFFERED": "1", "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
                "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"})
    return env


def run_cmd(args: list[str], cwd: Path, check: bool = True,
            timeout: float = DEFAULT_TIMEOUT) -> subprocess.CompletedProcess:
    """Run `args` in `cwd`; AssertionError with the output's tail if it fails (check) or outlives `timeout` s."""
    try:
        proc = subprocess.run(args, cwd=cwd, env=subprocess_env(), capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        out, err = (_text(exc.stdout), _text(exc.stderr))
        raise AssertionError(f"{' '.join(args)} timed out after {timeout:g} s:\n{out[-3000:]}\n{err[-3000:]}") from None
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(args)} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc


def _text(output: str | bytes | None) -> str:
    return output.decode(errors="replace") if isinstance(output, bytes) else (output or "")


def dvc(repo: Path, *args: str, check: bool = True, timeout: float = DEFAULT_TIMEOUT) -> subprocess.CompletedProcess:
    return run_cmd([str(Path(sys.executable).parent / "dvc"), *args], repo, check, timeout)


def shrink_real_sets(external: Path, per_label: int = TINY_REAL_ROWS_PER_LABEL) -> None:
    """Keep the first `per_label` rows of each label in every CSV under `external` with a `label` column."""
    for path in sorted(external.rglob("*.csv")):
        with open(path, encoding="utf-8", newline="") as f:
            header, *rows = list(csv.reader(f))
        if "label" not in header:
            continue
        column, seen, kept = header.index("label"), collections.Counter(), []
        for row in rows:
            seen[row[column]] += 1
            if seen[row[column]] <= per_label:
                kept.append(row)
        with open(path, "w", encoding="utf-8", newline="") as f:
            csv.writer(f, lineterminator="\n").writerows([header, *kept])


def make_repo(dest: Path, tiny_model: Path, overrides: dict | None = None,
              real_rows_per_label: int | None = TINY_REAL_ROWS_PER_LABEL) -> Path:
    """A fresh git + DVC repository holding a copy of this project, set up for the tiny model (TINY_PARAMS, and the
    shipped real sets cut to `real_rows_per_label` rows per label; None: whole)."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in PROJECT_FILES:
        (dest / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, dest / name)
    for sub in PROJECT_DIRS:
        shutil.copytree(ROOT / sub, dest / sub, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    if real_rows_per_label is not None:
        shrink_real_sets(dest / "data" / "external", real_rows_per_label)
    params = {section: dict(values) for section, values in TINY_PARAMS.items()}
    params.setdefault("train", {})["model"] = str(tiny_model)
    for section, values in (overrides or {}).items():
        params.setdefault(section, {}).update(values)
    write_params(dest / "params.yaml", params)
    run_cmd(["git", "init", "-q", "-b", "main"], dest)
    dvc(dest, "init", "-q")
    dvc(dest, "config", "core.analytics", "false")
    shutil.copy2(ROOT / ".dvc" / "plots.html", dest / ".dvc" / "plots.html")  # the offline page of `dvc plots`
    dvc(dest, "config", "plots.html_template", "plots.html")
    run_cmd(["git", "add", "-A"], dest)
    run_cmd(["git", "commit", "-qm", "init"], dest)
    return dest


def stages_ran(output: str) -> list[str]:
    """Stage names that `dvc repro` / `dvc exp run` actually executed, from its output."""
    return re.findall(r"Running stage '([\w-]+)'", output)
