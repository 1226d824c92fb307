"""Experiments that differ only in `base.seed`, grouped (`synthbert compare --seed-groups`): the seed spread of
each configuration, and each configuration's verdict against the baseline's with that spread included.

Reads `dvc exp show --json` (the baseline commit, its experiments and the workspace): a run is the commit or an
experiment that finished with reports/metrics.json (queued, running and failed ones are counted and skipped). Runs
share a group when every param but base.seed is equal and so is every source file (each dependency that no stage
writes: code, task files, real sets), so an experiment of uncommitted code never joins its seeds' group. One run
per seed is kept. Per group: the seeds, and mean +- sd (sample standard deviation) of test macro-F1 and of each real
set's macro-F1 from metrics.json. The baseline group holds the baseline commit (HEAD), or, when that commit has no
metrics, has the workspace's params and sources.

Verdict of a group G against the baseline group B, per set (test split, each real set): a two-level bootstrap
over the decisions each run committed (reports/eval/predictions.csv and real_predictions.csv, read with
`git show <experiment commit>:<path>`; reports/ are `cache: false` outputs, so every experiment commit holds them).
Level 1, rows: runs that scored the same rows with the same truth (every run on a real set; on the test split,
runs of the same seed when the change leaves generate and split alone) share `resamples` row resamples, so the
rows' difficulty cancels between them; other runs are resampled on their own rows. Level 2, seeds: in each
resample every group's seeds are drawn with replacement, independently per group, and each drawn run contributes
its macro-F1 on that resample's rows. The difference of the two groups' means over the resamples gives the
percentile interval (evaluate.confidence); its verdict follows core/verdicts.py's rule (better: the whole
interval above 0; worse: below 0; within noise: it holds 0). With one seed per group this is the paired row
bootstrap of `compare --rev`; with few seeds the seed level is crude (5 or more per group make it meaningful).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from typing import Any

from stages.tools.paired import TEST, Decisions, macro_f1_replicates, verdict

SEED = "base.seed"
METRICS = "reports/metrics.json"
PARAMS = "params.yaml"


@dataclasses.dataclass(frozen=True)
class Run:
    name: str                 # the experiment's name, or the commit's branch (else its short sha)
    rev: str                  # the git commit holding its reports
    seed: Any
    key: tuple                # what its group shares: every param but base.seed, every source file's hash
    scores: dict              # set ("test", "real:<name>") -> macro-F1 from metrics.json


@dataclasses.dataclass(frozen=True)
class Group:
    key: tuple
    runs: tuple               # Run, in `dvc exp show` order, one per seed


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if not isinstance(value, dict):
        return {prefix: value}
    return {k: v for key, sub in value.items() for k, v in flatten(sub, f"{prefix}{key}.").items()} or {prefix: {}}


def group_key(data: dict[str, Any]) -> tuple[Any, tuple]:
    """(base.seed, the key): params flattened (`file:key` for files other than params.yaml) without base.seed,
    and the hash of every dependency that is no stage's output."""
    params = {}
    for file, found in (data.get("params") or {}).items():
        for key, value in flatten((found or {}).get("data") or {}).items():
            params[key.rstrip(".") if file == PARAMS else f"{file}:{key.rstrip('.')}"] = value
    seed = params.pop(SEED, None)
    outs = list(data.get("outs") or {})
    sources = {f"source {path}": (dep or {}).get("hash") for path, dep in (data.get("deps") or {}).items()
               if not any(path == out or path.startswith(out.rstrip("/") + "/") for out in outs)}
    return seed, tuple(sorted((k, json.dumps(v, sort_keys=True)) for k, v in (params | sources).items()))


def scores_of(data: dict[str, Any]) -> dict[str, float] | None:
    """{test: macro-F1, real:<name>: macro-F1} from metrics.json; None when the run has none."""
    found = (((data.get("metrics") or {}).get(METRICS) or {}).get("data") or {})
    if not isinstance((found.get("test") or {}).get("f1_macro"), (int, float)):
        return None
    real = {f"real:{name}": row["f1_macro"] for name, row in sorted((found.get("external") or {}).items())
            if isinstance((row or {}).get("f1_macro"), (int, float))}
    return {TEST: found["test"]["f1_macro"], **real}


def read_runs(shown: list[dict[str, Any]]) -> tuple[list[Run], tuple | None, str | None, int]:
    """(finished runs, the workspace's key, the baseline commit's sha, runs skipped: queued, running or failed)."""
    runs, workspace, head, skipped = [], None, None, 0
    for entry in shown:
        data = entry.get("data") or {}
        if entry.get("rev") == "workspace":
            workspace = group_key(data)[1] if data else None
            continue
        head = head or entry.get("rev")
        states = [(entry.get("name") or str(entry.get("rev"))[:7], entry, "success")]
        states += [(r.get("name") or str(r.get("rev"))[:7], r, (exp.get("executor") or {}).get("state", "success"))
                   for exp in entry.get("experiments") or [] for r in (exp.get("revs") or [])[:1]]
        for name, state, status in states:
            done = status == "success" and not state.get("error")
            scores = scores_of(state.get("data") or {}) if done else None
            if scores is None:  # a commit never run is no experiment that failed: not counted
                skipped += state is not entry
                continue
            seed, key = group_key(state["data"])
            runs.append(Run(name, state["rev"], seed, key, scores))
    return runs, workspace, head, skipped


def group_runs(runs: list[Run]) -> list[Group]:
    """Groups in order of first appearance; within one, the first run of each seed."""
    groups: dict[tuple, dict[Any, Run]] = {}
    for run in runs:
        groups.setdefault(run.key, {}).setdefault(json.dumps(run.seed), run)
    return [Group(key, tuple(by_seed.values())) for key, by_seed in groups.items()]


def baseline_group(groups: list[Group], workspace: tuple | None, head: str | None) -> int | None:
    """The group holding the baseline commit, else the one with the workspace's key; None if neither."""
    for i, g in enumerate(groups):
        if any(r.rev == head for r in g.runs):
            return i
    return next((i for i, g in enumerate(groups) if g.key == workspace), None)


def differences(group: Group, base: Group) -> list[str]:
    """`key=value` of every param or source that differs from the baseline group (sources by name only)."""
    mine, theirs = dict(group.key), dict(base.key)
    out = []
    for key in sorted(set(mine) | set(theirs)):
        if mine.get(key) != theirs.get(key):
            out.append(key if key.startswith("source ") else f"{key}={json.loads(mine.get(key, 'null'))}")
    return out


def spread(group: Group) -> dict[str, tuple[float, float | None, int]]:
    """Set -> (mean, sample sd or None for one seed, seeds) of macro-F1 over the group's runs."""
    import statistics

    out = {}
    for name in sorted({s for r in group.runs for s in r.scores}, key=lambda s: (s != TEST, s)):
        values = [r.scores[name] for r in group.runs if name in r.scores]
        out[name] = (statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else None, len(values))
    return out


def two_level(base: list[Decisions], other: list[Decisions], resamples: int, confidence: float,
              seed: int) -> dict[str, Any]:
    """{diff, low, high, verdict}: mean macro-F1 of `other`'s runs minus `base`'s (see the module docstring)."""
    import numpy as np

    from stages.evaluation import metrics

    runs = [*base, *other]
    universes: dict[tuple, list[int]] = {}  # runs that scored the same rows with the same truth
    for i, d in enumerate(runs):
        universes.setdefault(tuple(sorted(zip(d.keys, d.true))), []).append(i)
    point, reps = np.zeros(len(runs)), np.zeros((len(runs), resamples))
    for u, (rows, members) in enumerate(universes.items()):
        where = {key: j for j, (key, _) in enumerate(rows)}
        preds = {}
        for i in members:
            column = [""] * len(rows)
            for key, p in zip(runs[i].keys, runs[i].predicted):
                column[where[key]] = p
            preds[i] = column
        pt, boot = macro_f1_replicates([t for _, t in rows], preds, resamples, seed + u)
        for i in members:
            point[i], reps[i] = pt[i], boot[i]
    rng = np.random.default_rng(seed)

    def mean_over_drawn_seeds(members: list[int]) -> Any:
        draw = rng.integers(0, len(members), size=(resamples, len(members)))
        return reps[np.asarray(members)[draw], np.arange(resamples)[:, None]].mean(1)

    n = len(base)
    diff = mean_over_drawn_seeds(list(range(n, len(runs)))) - mean_over_drawn_seeds(list(range(n)))
    low, high = metrics.interval(diff, confidence)
    return {"diff": float(point[n:].mean() - point[:n].mean()), "low": low, "high": high,
            "verdict": verdict(low, high)}


def group_verdicts(group: Group, base: Group, decisions: Callable[[Run], dict[str, Decisions]], resamples: int,
                   confidence: float, seed: int) -> list[dict[str, Any]]:
    """Per set that any run of the two groups scored: {set, ...two_level} or {set, note}."""
    found = [(r, decisions(r)) for r in (*base.runs, *group.runs)]
    sets = sorted({s for r, d in found for s in (*d, *r.scores)}, key=lambda s: (s != TEST, s))
    out = []
    for name in sets:
        missing = [r.name for r, d in found if name not in d]
        if missing:
            out.append({"set": name, "note": f"no verdict on {name}: no decisions of {', '.join(missing)} "
                        "(reports/eval/predictions.csv or real_predictions.csv in its commit)"})
            continue
        side = [d[name] for _, d in found]
        out.append({"set": name, **two_level(side[:len(base.runs)], side[len(base.runs):], resamples, confidence,
                                             seed)})
    return out
