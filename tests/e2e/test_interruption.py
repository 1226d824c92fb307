"""Interrupted and failing stages never leave a partial file that passes for a finished output.

- SIGKILL: `dvc repro -f -s <stage>` for generate, split and evaluate is killed at random times and while a
  temporary output exists (mid-write), sometimes the whole process group (dvc and the stage), sometimes the
  stage alone (what the OOM killer does). After every kill each output present is complete (equal to the
  uninterrupted run's), and `dvc status` calls the stage changed unless all its outputs are there. Then
  `dvc repro` completes with the uninterrupted run's result.
- A full disk (a tiny tmpfs in a user namespace where the system allows one; a file-size limit always)
  and a read-only output directory: one `error:` line naming the output, previous outputs intact.
"""

from __future__ import annotations

import os
import random
import re
import resource
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from testkit.dvc_repo import dvc, make_repo, subprocess_env
from tests.core.test_io import drop_root_override

pytestmark = pytest.mark.e2e
# A thousand rows per label, so writing an output takes long enough to be caught in the act; a short
# training and a light evaluation (no trained baselines, few bootstrap resamples) keep the test quick.
PARAMS = {"generate": {"n_per_label": 1000}, "train": {"epochs": 0.25},
          "evaluate": {"bootstrap": 100, "baselines": {"models": ["majority"]}}}
STAGES = ("generate", "split", "evaluate")
DVC = str(Path(sys.executable).parent / "dvc")


def outputs(repo: Path, stage: str) -> list[str]:
    spec = yaml.safe_load((repo / "dvc.yaml").read_text())["stages"][stage]
    return [next(iter(o)) if isinstance(o, dict) else o for o in spec.get("outs", []) + spec.get("metrics", [])]


def files(repo: Path, stage: str) -> dict[str, bytes]:
    """Every file of the stage's outputs (temporaries included: they must never be inside one)."""
    found = {}
    for out in outputs(repo, stage):
        path = repo / out
        for f in [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file()):
            found[str(f.relative_to(repo))] = f.read_bytes()
    return found


def comparable(data: bytes) -> bytes:
    """Wall-clock seconds (timings in evaluate's baselines) are the one thing allowed to differ."""
    data = re.sub(rb'("\w*seconds\w*": )[0-9.]+', rb"\1<t>", data)
    return re.sub(rb"\| [0-9.]+ s \|", b"| <t> s |", data)


def partials(repo: Path) -> list[str]:
    found = []
    for root, dirs, names in os.walk(repo):
        dirs[:] = [d for d in dirs if d not in (".git", ".dvc")]
        found += [os.path.relpath(os.path.join(root, n), repo) for n in dirs + names if ".partial-" in n]
    return sorted(found)


def writing(repo: Path, outs: list[str], pid: int) -> bool:
    """Whether process `pid` has a temporary output open now (fast: only the output directories)."""
    dirs = {(repo / out).parent for out in outs} | {repo / out for out in outs}
    for d in dirs:
        try:
            if any(f".partial-{pid}-" in e.name for e in os.scandir(d)):
                return True
        except (NotADirectoryError, FileNotFoundError):
            pass
    return False


def stage_process(proc: subprocess.Popen, stage: str):
    import psutil

    try:
        children = psutil.Process(proc.pid).children(recursive=True)
    except psutil.Error:
        return None
    for child in children:
        try:
            cmd = child.cmdline()
        except psutil.Error:
            continue
        if f"stages.{stage}" in cmd and "python" in Path(cmd[0]).name:
            return child
    return None


def interrupt(repo: Path, stage: str, delay: float | None, whole_group: bool) -> dict:
    """Run `dvc repro -f -s stage`; SIGKILL it `delay` s after the stage starts, or (delay None) as soon as a
    temporary output appears. Returns what happened."""
    import psutil

    proc = subprocess.Popen([DVC, "repro", "-f", "-s", stage], cwd=repo, env=subprocess_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    watched = outputs(repo, stage)
    child, started, deadline = None, 0.0, time.monotonic() + 300
    result = {"killed": False, "mid_write": False, "after": 0.0}
    try:
        while proc.poll() is None and time.monotonic() < deadline:
            if child is None:
                child, started = stage_process(proc, stage), time.monotonic()
                time.sleep(0.002)
                continue
            try:
                alive = child.is_running() and child.status() != psutil.STATUS_ZOMBIE
            except psutil.Error:
                alive = False
            if not alive:
                break  # the stage finished first: let dvc record it
            caught = delay is None and writing(repo, watched, child.pid)
            if caught or (delay is not None and time.monotonic() - started >= delay):
                if whole_group:
                    os.killpg(proc.pid, signal.SIGKILL)
                else:
                    child.send_signal(signal.SIGKILL)
                result.update(killed=True, mid_write=writing(repo, watched, child.pid),
                              after=time.monotonic() - started)
                break
        proc.wait(timeout=300)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=60)
    return result


@pytest.fixture(scope="module")
def repo(tmp_path_factory, tiny_bert):
    path = make_repo(tmp_path_factory.mktemp("interrupt") / "repo", tiny_bert, PARAMS)
    dvc(path, "repro", "evaluate")  # the uninterrupted run
    return path


@pytest.fixture(scope="module")
def reference(repo):
    lock = yaml.safe_load((repo / "dvc.lock").read_text())["stages"]
    return {"lock": lock, "files": {stage: files(repo, stage) for stage in STAGES}}


def check_invariant(repo: Path, stage: str, reference: dict) -> None:
    now = files(repo, stage)
    ref = reference["files"][stage]
    for name, data in now.items():
        if ".partial-" in name:
            continue  # a temporary inside an output directory: dvc must not accept that directory
        assert name in ref and comparable(data) == comparable(ref[name]), f"{name} is not the finished output"
    complete = {n for n in now if ".partial-" not in n} == set(ref)
    status = subprocess.run([DVC, "status", stage], cwd=repo, env=subprocess_env(), capture_output=True,
                            text=True, timeout=300)
    assert status.returncode == 0, status.stderr  # dvc.lock stays readable
    if not complete:
        assert f"{stage}:" in status.stdout and "changed outs" in status.stdout, status.stdout


@pytest.mark.parametrize("stage", STAGES)
def test_sigkill_mid_run_then_repro_gives_the_uninterrupted_result(repo, reference, stage):
    rng = random.Random(f"synthbert-{stage}")
    caught = None
    for _ in range(3):  # kill as soon as a temporary output appears (retried: the write may be missed)
        caught = interrupt(repo, stage, delay=None, whole_group=True)
        check_invariant(repo, stage, reference)
        if caught["mid_write"]:
            break
    assert caught["killed"] and caught["mid_write"], f"never killed {stage} while it was writing: {caught}"
    for whole_group in (True, False):  # random times up to a little past the first write
        interrupt(repo, stage, delay=rng.uniform(0, 1.2 * caught["after"]), whole_group=whole_group)
        check_invariant(repo, stage, reference)

    dvc(repo, "repro", "evaluate")
    lock = yaml.safe_load((repo / "dvc.lock").read_text())["stages"]
    for done in ("generate", "split"):
        assert lock[done]["outs"] == reference["lock"][done]["outs"], done
    assert {n: comparable(d) for n, d in files(repo, stage).items()} == \
        {n: comparable(d) for n, d in reference["files"][stage].items()}
    assert (repo / "reports" / "metrics.json").read_bytes() == reference["files"]["evaluate"]["reports/metrics.json"]
    assert dvc(repo, "status", "--with-deps", "evaluate").stdout.strip() == "Data and pipelines are up to date."
    # With persist: true a killed run leaves the previous outputs whole, so dvc may skip the stage and a killed
    # run's temporary stays until the next write of that output: git and dvc ignore it meanwhile...
    untracked = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=repo,
                               capture_output=True, text=True, timeout=60).stdout
    assert ".partial-" not in untracked, untracked
    dvc(repo, "repro", "-f", "-s", stage)  # ...and the stage's next run removes it
    assert partials(repo) == []


def stage_command(repo: Path, stage: str) -> list[str]:
    return shlex.split(yaml.safe_load((repo / "dvc.yaml").read_text())["stages"][stage]["cmd"])


def run_stage(repo: Path, args: list[str], preexec=None, prefix: list[str] = ()) -> subprocess.CompletedProcess:
    return subprocess.run([*prefix, *args], cwd=repo, env=subprocess_env(), capture_output=True, text=True,
                          preexec_fn=preexec, timeout=300)


def one_error_line(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, proc.stderr[-2000:]
    return errors[0]


def test_file_size_limit_while_writing_keeps_previous_outputs(repo, reference):
    before = files(repo, "generate")
    limit = len(before["data/generated.csv"]) // 4

    def limited() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    line = one_error_line(run_stage(repo, stage_command(repo, "generate"), limited))
    assert line == "error: cannot write data/generated.csv: File too large (its previous version is kept)"
    assert files(repo, "generate") == before and partials(repo) == []


def test_full_disk_keeps_previous_outputs(repo, tmp_path):
    if subprocess.run(["unshare", "-rm", "true"], capture_output=True, timeout=60).returncode != 0:
        pytest.skip("no unprivileged user+mount namespaces here (the file-size-limit test covers the code path)")
    before = files(repo, "generate")
    disk, copy = tmp_path / "disk", tmp_path / "after"
    disk.mkdir()
    args = stage_command(repo, "generate")
    args[args.index("--out") + 1] = f"{disk}/generated.csv"
    args[args.index("--reports") + 1] = f"{disk}/quality"
    script = f"""set -e
mount -t tmpfs -o size=1m tmpfs {disk}
mkdir {disk}/quality
cp data/generated.csv {disk}/ && cp reports/data/quality.json reports/data/quality.md {disk}/quality/
dd if=/dev/zero of={disk}/filler bs=4k 2>/dev/null || true
set +e
{shlex.join(args)}
rc=$?
rm {disk}/filler && cp -a {disk} {copy}
exit $rc"""
    line = one_error_line(run_stage(repo, ["sh", "-c", script], prefix=["unshare", "-rm"]))
    assert line == f"error: cannot write {disk}/generated.csv: No space left on device (its previous version is kept)"
    assert (copy / "generated.csv").read_bytes() == before["data/generated.csv"]
    assert (copy / "quality" / "quality.json").read_bytes() == before["reports/data/quality.json"]
    assert sorted(p.name for p in copy.rglob("*")) == ["generated.csv", "quality", "quality.json", "quality.md"]


@pytest.mark.parametrize("stage, read_only, expected", [
    ("generate", ["data"], "data/generated.csv"),
    ("split", ["data/split"], "data/split/"),
    ("evaluate", ["reports", "reports/eval"], "reports/"),
])
def test_read_only_output_directory_keeps_previous_outputs(repo, stage, read_only, expected):
    before = files(repo, stage)
    for d in read_only:
        (repo / d).chmod(0o555)
    try:
        proc = run_stage(repo, stage_command(repo, stage), drop_root_override)
    finally:
        for d in read_only:
            (repo / d).chmod(0o755)
    line = one_error_line(proc)
    assert line.startswith(f"error: cannot write {expected}") and "Permission denied" in line, line
    assert "(its previous version is kept)" in line
    assert files(repo, stage) == before and partials(repo) == []
