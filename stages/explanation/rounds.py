"""LIME sampled in rounds until its weights settle (explain.mode: converge), or all at once (exact).

Each example's neighbourhood of explain.num_samples perturbations is drawn ahead from its seeded explainer
(fast_lime.draw_ahead). A round of n samples fits LIME on the first n rows of that draw (i.i.d. draws, so a
prefix is itself a LIME sample), so a round reuses every text already scored, and an example that runs to
num_samples gets exactly the weights of plain LIME. Rounds start at explain.min_samples and double. An example
stops when, between two rounds, no weight of its top explain.num_features moved by more than explain.tolerance
times its largest weight (a token in one round's list but not the other's counts as 0 there): 'converged'; when
the next round would take it past explain.max_seconds of scoring and fitting: 'budget' (the first round always
runs); at num_samples: 'num_samples'. exact: one round of num_samples, no rule ('exact').
All examples still sampling are scored together in each round: one length-sorted pass of full batches.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any, NamedTuple

from stages.core import params
from stages.explanation import fast_lime

STOPS = ("converged", "budget", "num_samples", "exact")


class Job(NamedTuple):
    text: str
    label_ids: list[int]
    explainer: Any  # a fast_lime.explainer seeded for this text


class Outcome(NamedTuple):
    exp: Any  # the lime Explanation of the last round
    samples: int  # perturbations it was fit on
    stopped: str  # one of STOPS
    seconds: float  # scoring (its share of each round's pass) and fitting


def sizes(cfg: params.Explain) -> list[int]:
    """Samples per round: min_samples (at most num_samples), doubled while below num_samples, then num_samples
    (exact: num_samples alone)."""
    if cfg.mode == "exact":
        return [cfg.num_samples]
    out = [min(cfg.min_samples, cfg.num_samples)]
    while out[-1] < cfg.num_samples:
        out.append(min(2 * out[-1], cfg.num_samples))
    return out


def change(old: dict[int, list[tuple[str, float]]], new: dict[int, list[tuple[str, float]]]) -> float:
    """How far the weights moved between two rounds: per label, the largest |new - old| over the tokens of
    either top list (absent: 0), divided by the new round's largest |weight|; the largest over the labels."""
    worst = 0.0
    for label, pairs in new.items():
        a, b = dict(old[label]), dict(pairs)
        moved = max((abs(b.get(t, 0.0) - a.get(t, 0.0)) for t in a.keys() | b.keys()), default=0.0)
        peak = max((abs(w) for w in b.values()), default=0.0)
        worst = max(worst, moved / peak if peak else (math.inf if moved else 0.0))
    return worst


def verdict(cfg: params.Explain, n: int, next_n: int | None, moved: float | None, spent: float) -> str | None:
    """Why an example stops after its round of n samples (None: it goes on to next_n)."""
    if cfg.mode == "exact":
        return "exact"
    if moved is not None and moved <= cfg.tolerance:
        return "converged"
    if next_n is None:
        return "num_samples"
    if spent * next_n / n > cfg.max_seconds:  # the next round, at this round's cost per sample, would pass it
        return "budget"
    return None


def explain_all(jobs: list[Job], fn: Any, cfg: params.Explain, *,
                clock: Callable[[], float] = time.perf_counter, on_done: Callable[[], None] = lambda: None
                ) -> list[Outcome]:
    """Every job explained by the rounds; `fn` is a lime_runner.CachedClassifier (predict, cache, __call__).
    `on_done` is called as each job stops (progress)."""
    drawn = [fast_lime.draw_ahead(job.explainer, job.text, cfg.num_samples) for job in jobs]
    plan = sizes(cfg)
    out: list[Outcome | None] = [None] * len(jobs)
    last: list[dict[int, Any] | None] = [None] * len(jobs)
    spent = [0.0] * len(jobs)
    for r, n in enumerate(plan):
        active = [i for i, o in enumerate(out) if o is None]
        if not active:
            break
        new = {i: [t for t in dict.fromkeys(drawn[i].texts[:n]) if t not in fn.cache] for i in active}
        start = clock()
        fn.predict([t for i in active for t in new[i]])  # one pass for the round; shared texts scored once
        took, chars = clock() - start, {i: sum(map(len, new[i])) for i in active}
        for i in active:
            start, job = clock(), jobs[i]
            exp = job.explainer.explain_instance(job.text, fn, labels=job.label_ids, num_features=cfg.num_features,
                                                 num_samples=n)
            spent[i] += took * chars[i] / (sum(chars.values()) or 1) + clock() - start
            weights = {label: exp.as_list(label=label) for label in job.label_ids}
            moved = None if last[i] is None else change(last[i], weights)
            why = verdict(cfg, n, plan[r + 1] if r + 1 < len(plan) else None, moved, spent[i])
            last[i] = weights
            if why is not None:
                out[i] = Outcome(exp, n, why, spent[i])
                on_done()
    return [o for o in out if o is not None]
