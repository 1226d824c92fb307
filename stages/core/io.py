"""Reading and atomic writing of CSV, JSON, YAML and text; schema checks with one-line errors.

Every writer goes through a temporary file (or directory) next to the destination and `os.replace`, so a
killed stage never leaves a half-written output that could be taken for a finished one, and a full disk
or a read-only directory raises `WriteError` naming the output while its previous version stays intact.
Temporaries are named `.<name>.partial-<pid>-<random>`; one left behind by a killed process is removed
by the next write of the same output.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from stages.core.errors import DataError, SynthbertError


class WriteError(SynthbertError):
    """An output could not be written (disk full, read-only directory...); the destination is unchanged."""

    def __init__(self, path: Path, reason: str):
        self.path, self.reason = path, reason
        kept = "its previous version is kept" if os.path.lexists(path) else "nothing was written"
        super().__init__(f"cannot write {path}: {reason} ({kept})")


def _write_error(path: Path, exc: OSError) -> WriteError:
    return WriteError(path, exc.strerror or str(exc) or type(exc).__name__)


def _ours(exc: OSError, tmp: Path) -> bool:
    """Whether an OSError raised while writing `tmp` concerns it (ENOSPC from write() names no file)."""
    return exc.filename is None or str(tmp) in str(exc.filename)


@functools.cache
def _umask() -> int:
    try:  # Linux >= 4.7 reports it without changing it (os.umask would race with other threads)
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _fsync(path: Path) -> None:
    """Flush a finished temporary to disk before it is renamed, so a power cut cannot leave it empty."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _prefix(path: Path) -> str:
    return f".{path.name}.partial-{os.getpid()}-"


def remove_stale(path: str | Path) -> list[Path]:
    """Delete temporaries of `path` left by processes that no longer run (killed mid-write)."""
    path = Path(path)
    pattern = re.compile(rf"^\.{re.escape(path.name)}\.partial-(\d+)-")
    removed = []
    with contextlib.suppress(OSError):
        for entry in os.scandir(path.parent):
            m = pattern.match(entry.name)
            if not m or (int(m.group(1)) != os.getpid() and _alive(int(m.group(1)))):
                continue
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path, ignore_errors=True)
            else:
                os.unlink(entry.path)
            removed.append(Path(entry.path))
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        pass
    return True


@contextlib.contextmanager
def atomic_path(path: str | Path, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path next to `path`; on success flush it and rename it over `path`, else delete it.

    An OSError about the temporary (disk full, read-only directory) becomes a `WriteError` naming `path`.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        remove_stale(path)
        fd, name = tempfile.mkstemp(prefix=_prefix(path), suffix=suffix or ".tmp", dir=path.parent)
        os.close(fd)
    except OSError as exc:
        raise _write_error(path, exc) from None
    tmp = Path(name)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; outputs get the usual mode
        _fsync(tmp)
        os.replace(tmp, path)
    except OSError as exc:
        if _ours(exc, tmp):
            raise _write_error(path, exc) from None
        raise
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_dir(path: str | Path) -> Iterator[Path]:
    """Yield an empty temporary directory; on success it replaces `path` (the old one is removed).

    An OSError about the temporary directory becomes a `WriteError` naming `path`; `path` is unchanged.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        remove_stale(path)
        tmp = Path(tempfile.mkdtemp(prefix=_prefix(path), dir=path.parent))
    except OSError as exc:
        raise _write_error(path, exc) from None
    try:
        yield tmp
        os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes 0700
        for root, _, files in os.walk(tmp):
            for f in files:
                _fsync(Path(root) / f)
        if path.exists():
            old = Path(tempfile.mkdtemp(prefix=_prefix(path), dir=path.parent))
            os.replace(path, old / "x")  # killed between these two renames: `path` is missing, not mixed
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    except WriteError as exc:  # a file inside the temporary directory: name the output instead
        raise WriteError(path, exc.reason) if str(tmp) in str(exc.path) else exc from None
    except OSError as exc:
        if _ours(exc, tmp):
            raise _write_error(path, exc) from None
        raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def write_text(path: str | Path, text: str) -> None:
    # newline="\n": DVC hashes CRLF and LF differently, so outputs must not depend on the platform.
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)


def write_json(path: str | Path, data: Any) -> None:
    write_text(path, json.dumps(data, indent=2, ensure_ascii=False, sort_keys=False) + "\n")


def write_csv(path: str | Path, frame: Any) -> None:
    """Write a pandas DataFrame as UTF-8 CSV with LF line endings, atomically."""
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False, encoding="utf-8", lineterminator="\n")


def _require_file(path: Path) -> None:
    if not path.exists():
        raise DataError(f"{path}: file not found")
    if not path.is_file():
        raise DataError(f"{path}: expected a file, found a directory")


def read_text(path: str | Path) -> str:
    path = Path(path)
    _require_file(path)
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise DataError(f"{path}: not valid UTF-8 (byte 0x{data[exc.start]:02x} on line {line}); "
                        "re-save the file as UTF-8") from None


@functools.cache
def _strict_loader() -> type:
    """A SafeLoader that rejects a key given twice in one mapping, as DVC does (PyYAML keeps the last one)."""
    import yaml

    class StrictLoader(yaml.SafeLoader):
        def construct_mapping(self, node: Any, deep: bool = False) -> Any:
            seen: set[Any] = set()
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=True)
                if key in seen:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"duplicate key {key!r} (a key may appear once per mapping)", key_node.start_mark)
                if isinstance(key, (str, int, float, bool)) or key is None:
                    seen.add(key)
            return super().construct_mapping(node, deep=deep)

    return StrictLoader


def read_yaml(path: str | Path) -> Any:
    import yaml

    text = read_text(path)
    try:
        return yaml.load(text, Loader=_strict_loader())  # noqa: S506 (a SafeLoader subclass)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise DataError(f"{path}:{where} invalid YAML: {getattr(exc, 'problem', exc)}") from None


def read_json(path: str | Path) -> Any:
    text = read_text(path)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: invalid JSON at line {exc.lineno}: {exc.msg}") from None


def read_csv(path: str | Path, columns: Sequence[str] = (), what: str = "CSV") -> Any:
    """Read a UTF-8 CSV as strings; require `columns` and at least one row."""
    import io

    import pandas as pd

    path = Path(path)
    text = read_text(path)
    if not text.strip():
        raise DataError(f"{path}: empty {what} (no header, no rows)")
    try:
        frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, na_values=[])
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise DataError(f"{path}: cannot parse {what}: {str(exc).strip().splitlines()[-1]}") from None
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        found = ", ".join(map(str, frame.columns)) or "none"
        raise DataError(f"{path}: missing column {missing[0]!r} (expected {', '.join(columns)}; found {found})")
    if frame.empty:
        raise DataError(f"{path}: {what} has a header but no rows")
    return frame
