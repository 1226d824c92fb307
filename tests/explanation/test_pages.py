"""The explain stage's reports as pure functions: token marking, the spurious-pattern aggregate, LIME pages
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
            "weights": weights, "html": "html/01.html", **kw}


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


BUNDLE = "var lime = {};</script-like>"


def lime_like_page(labels):
    return (f'<html><head><script>{BUNDLE} </script></head><body><div id="top_divX"></div>\n<script>\n'
            f"var exp = new lime.Explanation({labels});\nexp.show([[\"storm\", 0.1]], 1, d);\n</script>\n"
            "</body></html>")


def test_lime_page_links_the_shared_script_and_cannot_be_escaped_by_a_label():
    page = er.lime_page(lime_like_page('["</script><script>alert(1)//", "<!--x"]'), BUNDLE,
                        "true: a<b>, predicted: c")
    assert BUNDLE not in page and '<head><script src="lime.js"></script></head>' in page
    assert page.count("</script>") == 2 and "<\\/script><script>alert(1)//" in page and "<\\!--x" in page
    assert "<body><h3>true: a&lt;b&gt;, predicted: c</h3>" in page
    with pytest.raises(RuntimeError, match="lime version changed"):
        er.lime_page("<html><body></body></html>", BUNDLE, "x")


def summary(**kw):
    base = {"mismatches": 0, "explained": 0, "skipped_no_words": 0, "num_samples": 5000, "num_features": 8,
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
    assert "| you | +0.3000 | -0.3000 |" in md and "[LIME page](html/01.html)" in md
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
