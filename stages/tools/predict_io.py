"""What `synthbert predict` (predict.py) reads and writes besides the model: the texts, the rows, the progress lines
on stderr, and --out written whole or not at all, also when the run is killed.

Like predict.py it imports nothing else from this repository: the two files copied next to a model run as
`python predict.py`. Progress: a line `predicted done/total texts (pct), rate texts/s, ETA` once PROGRESS_S
seconds (SYNTHBERT_PROGRESS_S, default 10) have passed since the last, checked after every batch, so a long run
is never silent for long whatever its size; the total is always known (the input is read whole first).
--out: the rows go to an unnamed temporary file in --out's directory (tempfile.TemporaryFile: O_TMPFILE on Linux,
unlinked at once elsewhere), so a run killed while predicting, SIGKILL included, leaves no file; at the end they
are copied to a hidden `.NAME.*.partial` beside --out that a rename makes --out. SIGTERM, like SIGINT, unwinds
(`stop_on_sigterm`), so that copy is removed too; only a SIGKILL within the final copy (well under a second for
100,000 rows) can leave it. An existing --out is untouched until the rename.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import logging
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

log = logging.getLogger("stages.tools.predict")
PROGRESS_S = float(os.environ.get("SYNTHBERT_PROGRESS_S", "10"))  # a progress line on stderr this often


class InputError(Exception):
    """Bad input from the user: printed as one `error: ...` line, exit code 2."""


def read_texts(path: str | None, column: str = "text") -> list[str]:
    """Non-blank texts from a file, or from standard input when `path` is None or '-'."""
    name = "standard input" if path in (None, "-") else path
    if path in (None, "-"):
        data = sys.stdin.buffer.read()
    elif not Path(path).is_file():
        raise InputError(f"{path}: input file not found")
    else:
        data = Path(path).read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InputError(f"{name}: not valid UTF-8 (byte 0x{data[exc.start]:02x} on line {line}); "
                         "re-save it as UTF-8") from None
    suffix = Path(path).suffix.lower() if path not in (None, "-") else ""
    if suffix == ".csv":
        reader = csv.DictReader(io.StringIO(text))
        if column not in (reader.fieldnames or []):
            raise InputError(f"{name}: no column {column!r} (found {', '.join(reader.fieldnames or []) or 'none'})")
        texts = [row[column] or "" for row in reader]
    elif suffix == ".jsonl":
        texts = []
        for i, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    texts.append(str(json.loads(line)[column]))
                except (json.JSONDecodeError, KeyError, TypeError):
                    raise InputError(f"{name}: line {i} is not a JSON object with a {column!r} field") from None
    else:
        texts = text.splitlines()
    texts = [t for t in texts if t.strip()]
    if not texts:
        raise InputError(f"{name}: empty input (no texts)")
    return texts


def write_rows(rows: Iterator[dict[str, Any]], fmt: str, f: Any) -> int:
    n = 0
    writer = csv.writer(f, lineterminator="\n")
    for row in rows:
        if fmt == "jsonl":
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
        else:
            ranked = list(row["top_k"].items())
            if n == 0:
                writer.writerow(["text", "label", "score"] + [f"{c}_{r}" for r in range(2, len(ranked) + 1)
                                                              for c in ("label", "score")])
            writer.writerow([row["text"], row["label"], row["score"]] + [v for pair in ranked[1:] for v in pair])
        n += 1
    return n


class Progress:
    """Call it with each batch's row count; logs a line when `every_s` seconds have passed since the last one, and a
    last line at `total` if any was logged (stages.core.progress.Progress does this for the stages; no import)."""

    def __init__(self, total: int, every_s: float | None = None, clock: Callable[[], float] = time.perf_counter):
        self.total, self.done, self.logged, self.clock = total, 0, False, clock
        self.every_s = PROGRESS_S if every_s is None else every_s
        self.start = self.last = clock()

    def __call__(self, n: int) -> None:
        self.done, now = self.done + n, self.clock()
        if now - self.last >= self.every_s or (self.done >= self.total and self.logged):
            rate = self.done / max(now - self.start, 1e-9)
            log.info("predicted %s/%s texts (%.0f%%), %.1f texts/s, ETA %.0f s", f"{self.done:,}", f"{self.total:,}",
                     100 * self.done / max(self.total, 1), rate, max(self.total - self.done, 0) / max(rate, 1e-9))
            self.last, self.logged = now, True


@contextlib.contextmanager
def whole_or_never(out: Path) -> Iterator[Any]:
    """A text file to write --out's rows to; --out replaced by them only when the block ends without an error
    (module docstring). Fails at once, before the model loads, when --out cannot be written."""
    if out.is_dir():
        raise InputError(f"--out {out}: is a directory; expected a file name such as predictions.csv")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        rows = tempfile.TemporaryFile("w+", encoding="utf-8", newline="", dir=out.parent)
    except OSError as exc:
        raise InputError(f"--out {out}: cannot write into {out.parent} ({exc.strerror or exc})") from None
    with rows:
        yield rows
        rows.seek(0)  # flushes the text layer; the bytes are copied as written
        fd, partial = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".partial", dir=out.parent)
        try:
            with open(fd, "wb") as f:
                shutil.copyfileobj(rows.buffer, f)
            os.replace(partial, out)
        finally:
            Path(partial).unlink(missing_ok=True)


@contextlib.contextmanager
def stop_on_sigterm() -> Iterator[None]:
    """SIGTERM raises KeyboardInterrupt(SIGTERM) inside the block, as SIGINT raises KeyboardInterrupt, so the
    `with`/`finally` blocks that remove a partial --out run (the default SIGTERM ends the process without them)."""
    if threading.current_thread() is not threading.main_thread():  # only the main thread may set handlers
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)


def _raise_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(signum)
