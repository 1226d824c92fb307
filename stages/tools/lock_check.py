"""`synthbert compare --check-lock`: whether dvc.lock matches the code, params and inputs, and if not, why.

Uses `dvc status --json`. Data that is simply not there and that git never holds (DVC-cached outputs, git-ignored
files; a fresh clone without `dvc pull`) does not count. A dependency that differs is named with its cause where
one can be told: a file in a dependency directory that no commit holds (the clone CI checks out will lack it), a
DVC-tracked file not pulled, a directory that held another number of files when dvc.lock was written.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from stages.core.errors import DataError
from stages.core.io import read_yaml

DATA_MISSING = ("deleted", "not in cache")


def capture(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True)


def dvc_json(cwd: Path, *args: str) -> Any:
    """Run `dvc <args> --json` with the dvc next to this interpreter (else the one on PATH)."""
    exe = Path(sys.executable).with_name("dvc")
    proc = capture([str(exe) if exe.exists() else "dvc", *args, "--json"], cwd)
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or [f"exit code {proc.returncode}"])[-1]
        raise DataError(f"dvc {' '.join(args)}: {last.removeprefix('ERROR: ')}")
    return json.loads(proc.stdout or "{}")


def cached_outs(cwd: Path) -> list[str]:
    """Outputs that DVC caches (git-ignored data and models), from dvc.yaml."""
    stages = (read_yaml(cwd / "dvc.yaml") or {}).get("stages") or {}
    out = []
    for stage in stages.values():
        for item in stage.get("outs") or []:
            path, opts = (item, {}) if isinstance(item, str) else next(iter(item.items()))
            if (opts or {}).get("cache", True):
                out.append(path.rstrip("/"))
    return out


def locked_stages(cwd: Path) -> dict[str, Any]:
    path = cwd / "dvc.lock"
    return ((read_yaml(path) or {}).get("stages") or {}) if path.is_file() else {}


def _flatten(value: Any, prefix: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        return {prefix: value}
    return {k: v for key, sub in value.items() for k, v in _flatten(sub, f"{prefix}.{key}").items()}


def changed_keys(cwd: Path, stage: str, file: str, key: str) -> list[str]:
    """The keys under params `key` (a whole section, e.g. `train`) that differ from the stage's dvc.lock entry."""
    locked = (locked_stages(cwd).get(stage) or {}).get("params") or {}
    now, old = _flatten(read_yaml(cwd / file) or {}, ""), _flatten(locked.get(file) or {}, "")
    return sorted(k[1:] for k in set(now) | set(old) if k[1:].startswith(f"{key}.") and now.get(k) != old.get(k))


def git_ignored(cwd: Path, path: str) -> bool:
    # A pattern like `/models/checkpoints/` matches directories only, and an absent path is no directory.
    return any(capture(["git", "check-ignore", "-q", "--no-index", p], cwd).returncode == 0 for p in (path, path + "/"))


def uncommitted(cwd: Path, paths: list[str]) -> list[str]:
    """Files under `paths` that git neither holds nor ignores: a clone of the last commit lacks them."""
    if not paths:
        return []
    proc = capture(["git", "ls-files", "--others", "--exclude-standard", "--", *paths], cwd)
    return sorted(proc.stdout.split("\n")[:-1]) if proc.returncode == 0 else []


def not_pulled(cwd: Path, folder: str) -> list[str]:
    """Files under `folder` that a .dvc file tracks (`dvc add`) and that are not here."""
    missing = []
    for dvcfile in sorted((cwd / folder).rglob("*.dvc")):
        for out in (read_yaml(dvcfile) or {}).get("outs") or []:
            target = dvcfile.parent / str(out.get("path", ""))
            if not target.exists():
                missing.append(target.relative_to(cwd).as_posix())
    return missing


def file_count(cwd: Path, folder: str) -> int:
    """Files under `folder` as DVC counts them: those .dvcignore (gitignore syntax) leaves in."""
    import pathspec  # a dependency of dvc

    ignore = cwd / ".dvcignore"
    spec = pathspec.GitIgnoreSpec.from_lines(ignore.read_text(encoding="utf-8").splitlines() if ignore.is_file() else [])
    return sum(not spec.match_file(Path(root, f).relative_to(cwd).as_posix())
               for root, _, files in os.walk(cwd / folder) for f in files)


def directory_cause(cwd: Path, stage: str, path: str) -> str:
    """Why the dependency directory `path` of `stage` differs from dvc.lock, as far as can be told."""
    if absent := not_pulled(cwd, path):
        return f"{', '.join(absent)} (DVC-tracked) not here: run `dvc pull`"
    if loose := uncommitted(cwd, [path]):
        return f"{', '.join(loose)} in no commit: `git add` (or `dvc add`) it, or move it out of {path}"
    locked = next((d for d in (locked_stages(cwd).get(stage) or {}).get("deps") or [] if d.get("path") == path), {})
    here = file_count(cwd, path)
    if locked.get("nfiles") not in (None, here):
        return (f"dvc.lock's {path} held {locked['nfiles']} files, this checkout {here}: a file the run read was "
                "never committed (`git add` or `dvc add` it where the run was made)")
    return f"a file in {path} changed since dvc.lock was written: run `dvc repro`"


def stale_stages(cwd: Path) -> list[str]:
    """`stage: reason` for every stage that `dvc repro` would rerun for a reason other than absent data, and for
    every dependency file that no commit holds (the check passes here but fails in a clone, CI's)."""
    cached = cached_outs(cwd)

    def absent_data(path: str, state: Any) -> bool:
        """Missing, but never in git: DVC-cached data, or an ignored output such as a checkpoint directory."""
        return state in DATA_MISSING and (any(path == c or path.startswith(c + "/") for c in cached)
                                          or git_ignored(cwd, path))

    problems = []
    for stage, changes in dvc_json(cwd, "status").items():
        for change in changes:
            if isinstance(change, str):
                problems.append(f"{stage}: {change}")
                continue
            for kind, entries in change.items():
                for path, state in (entries or {}).items() if isinstance(entries, dict) else []:
                    if isinstance(state, dict):  # a params file: {key: modified | new | deleted}
                        problems += [f"{stage}: param {k} {s}" for key, s in state.items()
                                     for k in (changed_keys(cwd, stage, path, key) if s == "modified" else [])
                                     or [key]]
                    elif not absent_data(path, state):
                        why = (f" ({directory_cause(cwd, stage, path)})"
                               if kind == "changed deps" and state == "modified" and (cwd / path).is_dir() else "")
                        problems.append(f"{stage}: {kind.removeprefix('changed ')} {path} {state}{why}")
    return problems + uncommitted_inputs(cwd, {p.split(": ", 1)[0] for p in problems})


def uncommitted_inputs(cwd: Path, named: set[str]) -> list[str]:
    """`stage: deps FILE in no commit` for the dependencies of stages not already named (their cause says so)."""
    problems = []
    for stage, entry in locked_stages(cwd).items():
        if stage not in named:
            paths = [d["path"] for d in entry.get("deps") or [] if d.get("path")]
            problems += [f"{stage}: deps {f} in no commit (`git add` or `dvc add` it)" for f in uncommitted(cwd, paths)]
    return problems
