"""The convergence rule of explanation/rounds.py on deterministic stand-in models: it stops early on a stable
(linear) model, runs to num_samples on a noisy one (and then equals plain LIME), gives the same result twice,
keeps an example within explain.max_seconds, and exact mode is plain LIME."""

import itertools
import zlib

import numpy as np
import pytest

from stages.core import params
from stages.explanation import fast_lime, lime_runner, rounds

TEXT = "free entry in a weekly competition to win cup final tickets text the word now to claim your prize today"


class Table:
    """A scored-text cache with a CachedClassifier's interface (cache, predict, __call__) over a pure function."""

    def __init__(self, score):
        self.score, self.cache, self.rows, self.predicted = score, {}, [], 0

    def predict(self, texts):
        for t in dict.fromkeys(texts):
            if t not in self.cache:
                self.cache[t] = len(self.rows)
                self.rows.append(self.score(t))
                self.predicted += 1

    def __call__(self, texts):
        self.predict(texts)
        p = np.array([self.rows[self.cache[t]] for t in texts])
        return np.stack([1 - p, p], axis=1)


def linear(text):
    """A stable model: each word adds a fixed amount to the probability (LIME's linear fit recovers it)."""
    return 0.5 + sum(zlib.crc32(w.encode()) % 7 - 3 for w in text.split()) / 200


def noise(text):
    """An unstable one: a probability unrelated to the words kept (weights never settle)."""
    return zlib.crc32(text.encode()) % 1000 / 1000


def cfg(**kw):
    return params.load_dict({"num_samples": 2000, "min_samples": 250, "num_features": 8, **kw}, "explain")


def run(score, c, text=TEXT, seed=3, clock=None):
    job = rounds.Job(text, [0, 1], lime_runner.explainer_for(text, ["a", "b"], c, seed))
    return rounds.explain_all([job], Table(score), c, **({"clock": clock} if clock else {}))[0]


def weights(exp):
    return {label: exp.as_list(label=label) for label in (0, 1)}


def plain(score, c, text=TEXT, seed=3):
    return fast_lime.explainer(["a", "b"], lime_runner.example_seed(seed, text), c.num_features, text).explain_instance(
        text, Table(score), labels=[0, 1], num_features=c.num_features, num_samples=c.num_samples)


def test_round_sizes_double_from_min_samples_to_num_samples():
    assert rounds.sizes(cfg()) == [250, 500, 1000, 2000]
    assert rounds.sizes(cfg(num_samples=5000, min_samples=500)) == [500, 1000, 2000, 4000, 5000]
    assert rounds.sizes(cfg(num_samples=300)) == [250, 300] and rounds.sizes(cfg(num_samples=100)) == [100]
    assert rounds.sizes(cfg(mode="exact")) == [2000]


def test_change_is_the_largest_move_over_the_largest_weight_a_token_leaving_the_top_counting_zero():
    old = {1: [("win", 0.40), ("free", 0.20), ("the", 0.01)]}
    assert rounds.change(old, {1: [("win", 0.50), ("free", 0.20), ("the", 0.01)]}) == pytest.approx(0.10 / 0.50)
    assert rounds.change(old, {1: [("win", 0.40), ("free", 0.20), ("now", 0.02)]}) == pytest.approx(0.02 / 0.40)
    assert rounds.change(old, {1: [("free", 0.20)]}) == pytest.approx(0.40 / 0.20)  # the top token left
    assert rounds.change({1: [("a", 0.0)]}, {1: [("a", 0.0)]}) == 0.0  # a model that ignores the words


def test_a_stable_model_stops_early_near_plain_lime():
    c = cfg()
    out = run(linear, c)
    assert out.stopped == "converged" and out.samples < c.num_samples
    reference, ours = weights(plain(linear, c)), weights(out.exp)
    assert rounds.change(reference, ours) <= c.tolerance  # within the tolerance of LIME at num_samples


def test_an_unstable_model_runs_to_num_samples_and_then_is_plain_lime():
    c = cfg()
    out = run(noise, c)
    assert (out.stopped, out.samples) == ("num_samples", 2000)
    for label, pairs in weights(plain(noise, c)).items():
        ours = dict(out.exp.as_list(label=label))
        assert dict(pairs).keys() == ours.keys() and max(abs(w - ours[t]) for t, w in pairs) < 1e-12


def test_exact_mode_is_one_round_of_plain_lime():
    c = cfg(mode="exact", num_samples=400)
    out = run(linear, c)
    assert (out.stopped, out.samples) == ("exact", 400)
    assert weights(out.exp) == weights(plain(linear, c))


def test_the_same_seed_gives_the_same_rounds_and_weights_another_seed_other_draws():
    c = cfg()
    a, b = run(noise, c, seed=5), run(noise, c, seed=5)
    assert (a.samples, a.stopped, weights(a.exp)) == (b.samples, b.stopped, weights(b.exp))
    assert weights(run(noise, c, seed=6).exp) != weights(a.exp)


def test_an_example_stops_before_a_round_that_would_pass_max_seconds():
    """A fake clock 0.1 s further at each reading: every round costs the example 0.2 s (its scoring pass and its
    fit). After round 1 (0.2 s) the next would reach ~0.4 s <= 0.7: on; after round 2 (0.4 s), ~0.8 s: stop."""
    now = itertools.count(0.0, 0.1)
    out = run(noise, cfg(max_seconds=0.7), clock=lambda: next(now))
    assert (out.stopped, out.samples) == ("budget", 500) and out.seconds == pytest.approx(0.4)
    now = itertools.count(0.0, 0.1)
    out = run(noise, cfg(max_seconds=0.05), clock=lambda: next(now))  # the first round always runs
    assert (out.stopped, out.samples) == ("budget", 250)


def test_examples_sampling_together_are_scored_in_one_pass_per_round():
    c = cfg()
    texts = [TEXT, "call now to claim your free prize", "are we still on for lunch tomorrow"]
    table, passes = Table(noise), []
    predict = table.predict

    def counting(batch):  # a call that scores new texts is a pass; LIME's lookups of cached ones are not
        if any(t not in table.cache for t in batch):
            passes.append(len(batch))
        predict(batch)

    table.predict = counting
    jobs = [rounds.Job(t, [0, 1], lime_runner.explainer_for(t, ["a", "b"], c, 3)) for t in texts]
    outs = rounds.explain_all(jobs, table, c)
    assert len(passes) == len(rounds.sizes(c))  # one pass per round, not one per example
    assert [o.stopped for o in outs] == ["num_samples"] * 3
