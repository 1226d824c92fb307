"""The explain stage's reports as pure functions: token marking, the spurious-pattern aggregate, example pages
and mismatches.md (no model needed)."""

import re
from pathlib import Path

import pytest

from stages.explanation import pages as er
from stages.explanation import patterns as ep


def test_mark_text_bolds_tokens_toward_the_prediction_and_italicises_those_toward_the_truth():
    text = "You won't believe what the mayor found!"
    marked = er.mark_text(text, toward_predicted={"You", "believe"}, toward_true={"mayor", "believe"})
    assert marked == "**You** won't ***believe*** what the *mayor* found\\!"


@pytest.mark.parametrize("text, expected", [
    ("<script>alert(1)</script>", "&lt;**script**&gt;alert\\(1\\)&lt;/**script**&gt;"),
    ("**bold** [link](http://x.y) | `code`", "\\*\\***bold**\\*\\* \\[link\\]\\(http://x.y\\) \\| \\`code\\`"),
    ("# heading\n\n- item", "\\# heading \\- item"),      # no heading, no list, one line
    ("storm", "**storm**"),                              # a single word
    ("  spaced   out  ", "spaced out"),
])
def test_mark_text_shows_untrusted_text_literally(text, expected):
    assert er.mark_text(text, {"script", "bold", "storm"}, set()) == expected


def ex(true, predicted, weights, **kw):
    return {"text": " ".join(t for t, _ in weights), "true": true, "predicted": predicted, "confidence": 0.9,
            "weights": weights, "html": "html/01.html", "samples": 1000, "stopped": "converged", **kw}


def test_spurious_patterns_count_each_mismatch_once_and_average_the_weight():
    examples = [
        ex("factual", "clickbait", [["You", 0.3], ["you", 0.1], ["storm", -0.2]]),   # You+you: one count, 0.4
        ex("factual", "clickbait", [["you", 0.2], ["why", 0.05]]),
        ex("factual", "clickbait", [["why", 0.15], ["rates", -0.1]]),
        ex("clickbait", "factual", [["rates", 0.25]]),
    ]
    patterns = ep.spurious_patterns(examples, top=2)
    assert patterns == [
        {"true": "factual", "predicted": "clickbait", "mismatches": 3, "tokens": [
            {"token": "you", "count": 2, "share": 0.6667, "mean_weight": 0.3},
            {"token": "why", "count": 2, "share": 0.6667, "mean_weight": 0.1}]},
        {"true": "clickbait", "predicted": "factual", "mismatches": 1, "tokens": [
            {"token": "rates", "count": 1, "share": 1.0, "mean_weight": 0.25}]},
    ]
    assert ep.spurious_patterns([], top=5) == []


class FakeExplanation:
    """What LIME's explanation gives a page: class names and as_list(label) per label."""

    def __init__(self, weights: dict[str, list[tuple[str, float]]]):
        self.class_names = list(weights)
        self._weights = weights

    def as_list(self, label: int):
        return self._weights[self.class_names[label]]


def page_sections(page: str) -> dict[str, dict[str, float]]:
    """heading -> {token: weight} of each table on an example page."""
    out = {}
    for heading, body in re.findall(r"<h2>(.*?)</h2>\s*<table>(.*?)</table>", page, re.S):
        out[heading] = {t: float(w) for t, w in re.findall(r'<tr><td>(.*?)</td><td class="w">([-+][\d.]+)</td>', body)}
    return out


def test_binary_page_shows_each_side_from_its_own_labels_weights():
    # Binary LIME: label 0's weights are label 1's negated. "What" pushes toward clickbait (predicted).
    exp = FakeExplanation({"clickbait": [("What", 0.07), ("rates", -0.03)], "factual": [("What", -0.07), ("rates", 0.03)]})
    item = {"text": "What rates <b>", "true": "factual", "predicted": "clickbait", "confidence": 0.8,
            "samples": 2000, "stopped": "budget"}
    page = er.example_page(item, exp)
    sections = page_sections(page)
    assert sections == {"Toward the predicted label: clickbait": {"What": 0.07, "rates": -0.03},
                        "Toward the true label: factual": {"What": -0.07, "rates": 0.03}}
    assert '<mark class="pred">What</mark>' in page and '<mark class="true">rates</mark>' in page
    assert "&lt;b&gt;" in page and "<b>" not in page and "<script" not in page
    assert "on 2,000 copies" in page and "LIME on 2,000 perturbations: its time ran out (explain.max_seconds)." in page
    # The same sides as mismatches.md: bold toward the predicted label, italic toward the true one.
    md = er.mark_text(item["text"], {"What"}, {"rates"})
    assert md.startswith("**What** *rates*")


def test_page_of_a_correct_prediction_has_one_side_and_escapes_labels():
    exp = FakeExplanation({"<x>": [("storm", 0.2)], "b": [("storm", -0.2)]})
    page = er.example_page({"text": "storm", "true": "<x>", "predicted": "<x>", "confidence": 0.9, "samples": 10,
                            "stopped": "exact"}, exp)
    assert page_sections(page) == {"Toward the predicted (and true) label: &lt;x&gt;": {"storm": 0.2}}


def summary(**kw):
    base = {"mismatches": 0, "explained": 0, "skipped_no_words": 0, "num_samples": 5000, "num_features": 8,
            "mode": "converge", "min_samples": 500, "tolerance": 0.1, "max_seconds": 3.0, "stopped": {"converged": 2},
            "patterns": [], "examples": [], "contrast": []}
    return {**base, **kw}


def test_markdown_says_so_when_nothing_was_misclassified_or_explainable():
    assert "every test row was classified correctly" in er.render_markdown(summary())
    md = er.render_markdown(summary(mismatches=2, skipped_no_words=2))
    assert "None of the 2 mismatches could be explained" in md
    assert "Skipped 2 mismatches whose text has no word characters" in md and "## Mismatches" not in md


def test_markdown_lists_patterns_mismatches_and_contrast_with_escaped_labels():
    examples = [ex("fac|tual", "click*bait", [["you", 0.3], ["rates", -0.1]], weights_true=[["you", -0.3],
                                                                                         ["rates", 0.1]])]
    contrast = [ex("factual", "factual", [["rates", 0.4]], html="html/correct-01.html")]
    md = er.render_markdown(summary(mismatches=1, explained=1, examples=examples, contrast=contrast,
                                    patterns=ep.spurious_patterns(examples, 5)))
    assert "### true fac\\|tual → predicted click\\*bait (1 explained)" in md
    assert "| you | 1 of 1 | +0.3000 |" in md
    assert "### 1. true fac\\|tual, predicted click\\*bait (confidence 0.900)" in md
    assert "> **you** *rates*" in md
    assert "| token | weight toward predicted click\\*bait | weight toward true fac\\|tual |" in md
    assert "| you | +0.3000 | -0.3000 |" in md
    assert "[LIME page](html/01.html) · LIME on 1,000 perturbations: its weights settled (explain.tolerance)" in md
    assert ("on up to 5,000 perturbations (words removed; sampled in rounds from 500, doubled until the weights move "
            "less than 0.1 of the largest between rounds or 3 s pass; examples stopped: 2 converged)") in md
    exact = er.render_markdown(summary(mismatches=1, explained=1, examples=examples, mode="exact"))
    assert "(words removed; explain.mode exact: every example on all of them)" in exact
    assert "## Correctly classified, for contrast" in md and "> **rates**" in md
    assert "[LIME page](html/correct-01.html)" in md


def test_chart_is_written_with_and_without_patterns(tmp_path):
    ep.chart([], tmp_path / "empty.png")
    ep.chart(ep.spurious_patterns([ex("a", "b", [["you", 0.3]])], 5), tmp_path / "one.png")
    for name in ("empty.png", "one.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    ep.chart(ep.spurious_patterns([ex("a", "b", [["you", 0.3]])], 5), tmp_path / "again.png")
    assert (tmp_path / "again.png").read_bytes() == (tmp_path / "one.png").read_bytes()


def test_chart_shows_one_measure_and_keeps_its_axis_label_inside(monkeypatch):
    from stages.core import plotting
    from tests.figure_checks import capture, inside_figure

    caught = capture(monkeypatch, plotting)
    for n_tokens in (1, 12):
        weights = [[f"token{i}", 0.1 + i / 100] for i in range(n_tokens)]
        ep.chart(ep.spurious_patterns([ex("factual", "clickbait", weights)] * 3, 30), Path("unused.png"))
    for fig in caught:
        ax = fig.axes[0]
        assert inside_figure(fig, ax.xaxis.label) and inside_figure(fig, ax.title)
        assert "weight" not in ax.get_xlabel()
        assert all(re.fullmatch(r" \d+ of \d+", t.get_text()) for t in ax.texts), [t.get_text() for t in ax.texts]
