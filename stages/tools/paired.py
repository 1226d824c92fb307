"""Paired bootstrap verdicts for `synthbert compare --rev REV`: did the change make the model better, worse, or
neither, on the rows both revisions scored?

Reads reports/eval/predictions.csv (the test split; rows paired by text) and reports/eval/real_predictions.csv
(each real set; rows paired by (set, key), the key a hash of the text) at REV (`git show REV:path`) and in the
workspace. A text that occurs twice is paired occurrence by occurrence. Rows only one revision scored, and paired
rows whose true label differs (relabelled data), are counted and left out. On the rest, `resamples` row resamples
(seeded; the same rows for both revisions, metrics.bootstrap) give the macro-F1 difference (workspace minus REV) and
its percentile interval: "better" when the whole interval is above 0, "worse" when below, "within noise" when it
holds 0 (core/verdicts.py's rule). A file absent from either revision gives no verdict for its sets, in one line.
Multi-label predictions (label-set cells) are scored per label (evaluation/multilabel.py).
"""

from __future__ import annotations

import collections
import dataclasses
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from stages.core.errors import DataError
from stages.core.labelsets import LABEL_SEP, multi_hot, split_labels
from stages.core.predictions import read_predictions, read_real_predictions
from stages.core.verdicts import BETTER, NOISE, WORSE, gain_verdict

PREDICTIONS = "reports/eval/predictions.csv"
REAL_PREDICTIONS = "reports/eval/real_predictions.csv"
TEST = "test"            # the synthetic test split's set name; a real set is "real:<name>"
VERDICTS = {BETTER: "better", NOISE: NOISE, WORSE: "worse"}  # the gain's verdict, said of the newer side


@dataclasses.dataclass(frozen=True)
class Decisions:
    """One revision's decisions on one set: a pairing key per row (unique), its true and predicted cells."""

    keys: tuple
    true: tuple
    predicted: tuple

    @classmethod
    def of(cls, keys: list, true: list[str], predicted: list[str]) -> Decisions:
        seen: collections.Counter = collections.Counter()
        unique = []
        for key in keys:  # the same text twice: its first occurrence pairs with the other side's first
            unique.append((key, seen[key]))
            seen[key] += 1
        return cls(tuple(unique), tuple(true), tuple(predicted))


@dataclasses.dataclass(frozen=True)
class Paired:
    """Rows both sides scored with the same truth, in the first side's order, and what was left out."""

    true: list[str]
    old: list[str]
    new: list[str]
    only_old: int
    only_new: int
    relabelled: int


def read_at(rev: str | None, path: str, cwd: Path) -> str | None:
    """The text of `path` at git revision `rev` (None: the workspace's file); None where it is absent."""
    if rev is None:
        file = cwd / path
        return file.read_text(encoding="utf-8") if file.is_file() else None
    proc = subprocess.run(["git", "show", f"{rev}:{path}"], cwd=cwd, capture_output=True, text=True)
    return proc.stdout if proc.returncode == 0 else None


def parse(text: str, where: str, reader: Callable[[Path], Any]) -> Any:
    """`reader` (a core/predictions.py reader) on `text`; its errors name `where` (e.g. main:reports/...)."""
    with tempfile.TemporaryDirectory(prefix="synthbert-compare-") as tmp:
        path = Path(tmp) / Path(where.rpartition(":")[2]).name
        path.write_text(text, encoding="utf-8")
        try:
            return reader(path)
        except DataError as exc:
            raise DataError(str(exc).replace(str(path), where)) from None


def from_predictions(text: str, where: str) -> Decisions:
    frame, _ = parse(text, where, read_predictions)
    return Decisions.of(frame["text"].tolist(), frame["true"].tolist(), frame["predicted"].tolist())


def from_real_predictions(text: str, where: str) -> dict[str, Decisions]:
    """Each real set's decisions, by set name ("real:<name>"); none for a header without rows (no real set)."""
    if len(text.strip().splitlines()) == 1:
        return {}
    frame, _ = parse(text, where, read_real_predictions)
    return {f"real:{name}": Decisions.of(rows["key"].tolist(), rows["true"].tolist(), rows["predicted"].tolist())
            for name, rows in frame.groupby("set", sort=True)}


def decisions_at(rev: str | None, cwd: Path) -> tuple[dict[str, Decisions], list[str]]:
    """Every set's decisions at `rev` (None: the workspace), and the files absent there."""
    out, absent = {}, []
    where = "workspace" if rev is None else rev
    if (text := read_at(rev, PREDICTIONS, cwd)) is not None:
        out[TEST] = from_predictions(text, f"{where}:{PREDICTIONS}")
    else:
        absent.append(PREDICTIONS)
    if (text := read_at(rev, REAL_PREDICTIONS, cwd)) is not None:
        out |= from_real_predictions(text, f"{where}:{REAL_PREDICTIONS}")
    else:
        absent.append(REAL_PREDICTIONS)
    return out, absent


def pair(old: Decisions, new: Decisions) -> Paired:
    at = {key: i for i, key in enumerate(new.keys)}
    true, a, b, relabelled = [], [], [], 0
    for i, key in enumerate(old.keys):
        j = at.get(key)
        if j is None:
            continue
        if old.true[i] != new.true[j]:
            relabelled += 1
            continue
        true.append(old.true[i])
        a.append(old.predicted[i])
        b.append(new.predicted[j])
    both = len(true) + relabelled
    return Paired(true, a, b, len(old.keys) - both, len(new.keys) - both, relabelled)


def is_multi_label(*columns: list[str]) -> bool:
    """Label-set cells (an empty cell or one holding LABEL_SEP) anywhere: score per label."""
    return any(cell == "" or LABEL_SEP in cell for column in columns for cell in column)


def macro_f1_replicates(true: list[str], predicted: dict[str, list[str]], resamples: int,
                        seed: int) -> tuple[dict[str, float], dict[str, Any]]:
    """Every predictor's macro-F1 on the rows and on `resamples` row resamples, the same resamples for all
    (seeded): ({name: macro-F1}, {name: (resamples,) array})."""
    import numpy as np

    from stages.evaluation import metrics, multilabel

    if is_multi_label(true, *predicted.values()):
        cells = {cell for column in (true, *predicted.values()) for cell in column}
        labels = sorted({lab for cell in cells for lab in split_labels(cell)})
        Y = multi_hot(true, labels)
        D = {name: multi_hot(p, labels) for name, p in predicted.items()}
        point = {name: multilabel.classification_metrics(Y, d, labels)["f1_macro"] for name, d in D.items()}
        boot = multilabel.bootstrap(Y, D, resamples, seed)
        return point, {name: b["f1_macro"] for name, b in boot.items()}
    labels = sorted(set(true).union(*predicted.values()))
    index = {lab: i for i, lab in enumerate(labels)}
    y = np.array([index[t] for t in true])
    ids = {name: np.array([index[p] for p in column]) for name, column in predicted.items()}
    mask = np.isin(np.arange(len(labels)), y)  # macro over the labels in the truth, as evaluate does
    point = {name: float(metrics.macro_f1_counts(y[None], p[None], len(labels), mask)[0]) for name, p in ids.items()}
    boot = metrics.bootstrap(y, ids, len(labels), mask, resamples, seed)
    return point, {name: b["f1_macro"] for name, b in boot.items()}


def verdict(low: float, high: float) -> str:
    """"better" / "within noise" / "worse" for a difference interval (newer minus older)."""
    return VERDICTS[gain_verdict({"gain_ci_low": low, "gain_ci_high": high})]


def set_verdict(old: Decisions, new: Decisions, resamples: int, confidence: float, seed: int) -> dict[str, Any]:
    """{rows, only_old, only_new, relabelled, old, new, diff, low, high, verdict} of one set (no numbers, only
    the counts, when no row was scored by both)."""
    from stages.evaluation import metrics

    p = pair(old, new)
    out: dict[str, Any] = {"rows": len(p.true), "only_old": p.only_old, "only_new": p.only_new,
                           "relabelled": p.relabelled}
    if not p.true:
        return out
    point, boot = macro_f1_replicates(p.true, {"old": p.old, "new": p.new}, resamples, seed)
    low, high = metrics.interval(boot["new"] - boot["old"], confidence)
    return out | {"old": point["old"], "new": point["new"], "diff": point["new"] - point["old"], "low": low,
                  "high": high, "verdict": verdict(low, high)}


def revision_verdicts(rev: str, cwd: Path, resamples: int, confidence: float, seed: int) -> list[dict[str, Any]]:
    """One entry per set ({set, ...set_verdict} or {set, note}): the test split first, then the real sets."""
    old, old_absent = decisions_at(rev, cwd)
    new, new_absent = decisions_at(None, cwd)
    out: list[dict[str, Any]] = []
    for path in dict.fromkeys(old_absent + new_absent):
        sides = [side for side, absent in ((rev, old_absent), ("the workspace", new_absent)) if path in absent]
        what = "the test split" if path == PREDICTIONS else "the real sets"
        out.append({"set": TEST if path == PREDICTIONS else "real", "note": f"no verdict on {what}: no {path} in "
                    f"{' nor in '.join(sides)}"})
    for name in sorted(set(old) | set(new), key=lambda s: (s != TEST, s)):
        if name in old and name in new:
            out.append({"set": name, **set_verdict(old[name], new[name], resamples, confidence, seed)})
        elif name.startswith("real:") and REAL_PREDICTIONS not in old_absent + new_absent:
            side = "the workspace" if name in new else rev
            out.append({"set": name, "note": f"no verdict on {name}: only {side} scored it"})
    return out
