"""stages.core.io writers: atomic replacement, usual file modes, stale temporaries, and one-line write errors.

Failures are real: a file-size limit (RLIMIT_FSIZE, what a full disk or quota does to write()) and a
read-only directory, each in a subprocess; as root the subprocess drops CAP_DAC_OVERRIDE so that
directory permissions apply to it.
"""

from __future__ import annotations

import ctypes
import os
import resource
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from stages.core import io
from stages.core.errors import SynthbertError
from testkit import ROOT

PR_CAPBSET_DROP, CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH = 24, 1, 2


def drop_root_override() -> None:
    """preexec_fn: as root, drop the capabilities that ignore file permissions (no-op for other users)."""
    if os.geteuid() != 0:
        return
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH):
        if libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP) failed")


def file_size_limit(limit: int):
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return apply


def run_python(code: str, cwd: Path, preexec) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True,
                          preexec_fn=preexec, timeout=120)


WRITE_ONE = """
import sys
from stages.core import cli, io
sys.exit(cli.main("t", lambda p: None, lambda a: io.write_text("out/x.txt", "new " * 2000), []))
"""


def current_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def partials(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.rglob("*") if ".partial-" in p.name)


def test_write_replaces_whole_file_with_lf_and_usual_mode(tmp_path):
    target = tmp_path / "sub" / "a.json"
    io.write_json(target, {"b": "é", "a": [1, 2]})
    io.write_text(tmp_path / "t.txt", "x\ny\r\n")
    assert target.read_bytes() == b'{\n  "b": "\xc3\xa9",\n  "a": [\n    1,\n    2\n  ]\n}\n'
    assert (tmp_path / "t.txt").read_bytes() == b"x\ny\r\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~current_umask()  # not mkstemp's 0600
    assert partials(tmp_path) == []


def test_failure_inside_the_block_keeps_the_previous_version(tmp_path):
    target = tmp_path / "a.txt"
    io.write_text(target, "old\n")
    with pytest.raises(ZeroDivisionError):
        with io.atomic_path(target) as tmp:
            tmp.write_text("half")
            1 / 0
    assert target.read_text() == "old\n" and partials(tmp_path) == []


def test_atomic_dir_replaces_the_directory_and_keeps_the_usual_mode(tmp_path):
    target = tmp_path / "model"
    with io.atomic_dir(target) as tmp:
        (tmp / "old.bin").write_bytes(b"1")
    with io.atomic_dir(target) as tmp:
        (tmp / "new.bin").write_bytes(b"2")
    assert sorted(p.name for p in target.iterdir()) == ["new.bin"]
    assert stat.S_IMODE(target.stat().st_mode) == 0o777 & ~current_umask()  # not mkdtemp's 0700
    assert [p.name for p in tmp_path.iterdir()] == ["model"]


def test_temporaries_of_killed_processes_are_removed_live_ones_kept(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, timeout=60).stdout.strip()
    stale_file = tmp_path / f".a.csv.partial-{dead}-abc123.tmp"
    stale_dir = tmp_path / f".a.csv.partial-{dead}-dirxyz"
    live = tmp_path / f".a.csv.partial-{os.getppid()}-live99.tmp"  # the parent process is alive
    other = tmp_path / f".b.csv.partial-{dead}-zzz.tmp"             # another output's: not ours to touch
    stale_file.write_text("half")
    (stale_dir / "x").parent.mkdir()
    (stale_dir / "x").write_text("half")
    live.write_text("in progress")
    other.write_text("half")
    io.write_text(tmp_path / "a.csv", "ok\n")
    assert not stale_file.exists() and not stale_dir.exists()
    assert live.exists() and other.exists()
    assert (tmp_path / "a.csv").read_text() == "ok\n"


def test_file_size_limit_gives_one_line_naming_the_output_and_keeps_it(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "x.txt").write_text("previous\n")
    proc = run_python(WRITE_ONE, tmp_path, file_size_limit(1000))
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().splitlines() == [
        "error: cannot write out/x.txt: File too large (its previous version is kept)"]
    assert (tmp_path / "out" / "x.txt").read_text() == "previous\n"
    assert partials(tmp_path) == []


def test_a_full_disk_inside_a_directory_output_names_the_directory(tmp_path):
    (tmp_path / "out" / "model").mkdir(parents=True)
    (tmp_path / "out" / "model" / "w.bin").write_text("previous\n")
    code = WRITE_ONE.replace('io.write_text("out/x.txt", "new " * 2000)', "write_model()").replace(
        "sys.exit(", 'def write_model():\n    with io.atomic_dir("out/model") as d:\n'
                     '        io.write_text(d / "w.bin", "new " * 2000)\nsys.exit(')
    proc = run_python(code, tmp_path, file_size_limit(1000))
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().splitlines() == [
        "error: cannot write out/model: File too large (its previous version is kept)"]
    assert (tmp_path / "out" / "model" / "w.bin").read_text() == "previous\n"
    assert partials(tmp_path) == []


def test_read_only_directory_gives_one_line_naming_the_output(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    out.chmod(0o555)
    try:
        proc = run_python(WRITE_ONE, tmp_path, drop_root_override)
    finally:
        out.chmod(0o755)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().splitlines() == [
        "error: cannot write out/x.txt: Permission denied (nothing was written)"]
    assert list(out.iterdir()) == []


def test_write_error_is_a_known_error_and_other_os_errors_pass_through(tmp_path):
    assert issubclass(io.WriteError, SynthbertError)
    with pytest.raises(FileNotFoundError):  # an OSError about another file is not a write error
        with io.atomic_path(tmp_path / "a.txt"):
            (tmp_path / "missing").read_text()
