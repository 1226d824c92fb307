import pytest

from stages.core.text import dedup_key, drop_reason, md_escape, normalize


@pytest.mark.parametrize("raw, expected", [
    ("  hello   world  ", "hello world"),
    ("tab\there\nnewline", "tab here newline"),
    ("non\u00a0breaking", "non breaking"),
    ("ﬁne full－width", "fine full-width"),  # NFKC folds ligatures and full-width forms
])
def test_normalize(raw, expected):
    assert normalize(raw) == expected
    assert normalize(normalize(raw)) == normalize(raw)  # idempotent


def test_dedup_key_ignores_case_punctuation_and_spacing():
    assert dedup_key("You WON'T believe this!") == dedup_key("you won t  believe this")
    assert dedup_key("Rates rose 2%") != dedup_key("Rates rose 3%")


@pytest.mark.parametrize("text, reason", [
    ("", "empty"), (None, "empty"), (float("nan"), "empty"), ("nan", "empty"),
    ("123 456", "no_letters"), ("!!!", "no_letters"),
    ("ab", "too_short"), ("x" * 11, "too_long"),
    ("Fine text", None),
])
def test_drop_reason_each_rule(text, reason):
    assert drop_reason(text, min_chars=3, max_chars=10) == reason


def test_md_escape_shows_markup_as_text():
    out = md_escape("<script>alert(1)</script> **bold** [x](http://e) a|b")
    assert "<" not in out and ">" not in out
    assert "&lt;script&gt;" in out
    assert "\\*\\*bold\\*\\*" in out and "\\[x\\]\\(http://e\\)" in out and "a\\|b" in out
