"""Progress lines for long loops (training steps, scoring, LIME, generation): done/total, rate and ETA.

A line every `EVERY_S` seconds (and a last one, if any was logged), on the module logger of the caller, so
a short loop stays quiet and a long one is never silent for long. `SYNTHBERT_PROGRESS_S` sets the interval.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable

EVERY_S = float(os.environ.get("SYNTHBERT_PROGRESS_S", "10"))


def duration(seconds: float) -> str:
    """`42 s`, `3m05s`, `2h07m`."""
    s = max(0, round(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


class Progress:
    """Count `update(n)` calls towards `total` units; log `what: done/total unit (pct), rate, ETA` now and then.

    `rate_unit` and `per_unit` express the rate in another unit (training: steps counted, rows/s shown).
    `first=True` also logs the first update (training: how long one step takes, before minutes pass).
    `clock`: seconds now (tests pass a fake one to check the throttle without waiting).
    """

    def __init__(self, what: str, total: int, unit: str, *, log: logging.Logger, rate_unit: str | None = None,
                 per_unit: float = 1.0, first: bool = False, every_s: float | None = None,
                 clock: Callable[[], float] = time.perf_counter):
        self.what, self.total, self.unit, self.log = what, max(0, total), unit, log
        self.rate_unit, self.per_unit = rate_unit or unit, per_unit
        self.every_s = EVERY_S if every_s is None else every_s
        self.done, self.logged, self.first, self.clock = 0, 0, first, clock
        self.start = self.last = clock()

    def line(self, note: str = "") -> str:
        elapsed = max(self.clock() - self.start, 1e-9)
        rate = self.done * self.per_unit / elapsed
        pct = f" ({100 * self.done / self.total:.0f}%)" if self.total else ""
        left = (self.total - self.done) * elapsed / self.done if self.done else 0.0
        eta = f", ETA {duration(left)}" if self.done < self.total else f", {duration(elapsed)} in all"
        return (f"{self.what}: {self.done:,}/{self.total:,} {self.unit}{pct}, {rate:,.1f} {self.rate_unit}/s"
                f"{eta}{note}")

    def update(self, n: int = 1, note: str = "") -> None:
        self.done += n
        now = self.clock()
        due = now - self.last >= self.every_s or (self.first and self.logged == 0)
        if due or (self.done >= self.total and self.logged):
            self.log.info("%s", self.line(note))
            self.last, self.logged = now, self.logged + 1
