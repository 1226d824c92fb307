import pytest

from stages.core.text import dedup_key, distinct, drop_reason, md_escape, normalize


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


# ---- words of scripts written without spaces (Japanese, Chinese, Thai)

import re  # noqa: E402

from stages.core.text import has_unspaced, pieces, tokens, word_count  # noqa: E402


@pytest.mark.parametrize("text, count", [
    ("今日はいい天気です", 9),                 # Japanese: one word per character, not 1
    ("股市今天大涨", 6),                      # Chinese
    ("ราคาน้ำมันขึ้น", 10),                   # Thai: base characters, vowel and tone marks stay on theirs
    ("GPU 価格が上昇 2025", 7),               # mixed: GPU, 5 characters, 2025
    ("You won't believe what the mayor did", 7),
])
def test_word_count_is_sane_for_scripts_without_spaces(text, count):
    assert word_count(text) == count


@pytest.mark.parametrize("text", ["You won't believe it!", "U.S. stocks rise 3% on snake_case news", "  a  b ",
                                  "Ünïcödé wörds, naïve café"])
def test_spaced_scripts_keep_whitespace_word_counts_and_lime_default_tokens(text):
    assert not has_unspaced(text)
    assert word_count(text) == len(text.split())
    assert tokens(text) == [p for p in re.split(r"\W+", text) if p]  # what LIME's default split_expression gives


@pytest.mark.parametrize("text", ["今日はいい天気です。", "GPU 価格が上昇!", "plain, text", "", "ราคาน้ำมัน ขึ้น"])
def test_pieces_round_trip_and_mark_exactly_the_tokens(text):
    parts = pieces(text)
    assert "".join(p for p, _ in parts) == text
    assert [p for p, is_token in parts if is_token] == tokens(text)


def test_dedup_key_equals_normalise_casefold_words_spaces_for_every_character():
    """dedup_key skips normalize's whitespace pass: the same key as normalising first, for each assigned Unicode
    character that is not a letter or digit left alone by NFKC and casefold (alone, between letters, beside
    spaces), and for random mixes."""
    import random
    import re
    import unicodedata

    from stages.core.text import dedup_key, normalize

    def three_passes(t):
        return re.sub(r"\s+", " ", re.sub(r"[\W_]+", " ", normalize(t).casefold())).strip()

    chars = [c for c in map(chr, range(0x110000)) if unicodedata.category(c) not in ("Cn", "Cs", "Co")
             and (not c.isalnum() or c.casefold() != c or unicodedata.normalize("NFKC", c) != c)]  # the rest: letters
    for c in chars:
        for t in (c, f"a{c}b", f" {c} x\t"):
            assert dedup_key(t) == three_passes(t), repr(t)
    rng = random.Random(0)
    pool = [c for c in chars if unicodedata.category(c)[0] in "ZPM"] + list("\t\n\r\x0b\x0c\x85 abİß._!")
    for _ in range(20000):
        t = "".join(rng.choice(pool) for _ in range(rng.randint(0, 12)))
        assert dedup_key(t) == three_passes(t), repr(t)


def test_distinct_lists_each_text_once_and_maps_every_row_back():
    groups = [["b", "a", "b"], [], ["c", "a"]]
    unique, rows = distinct(groups)
    assert unique == ["b", "a", "c"]  # first-seen order
    assert rows == [[0, 1, 0], [], [2, 1]]
    assert [[unique[i] for i in r] for r in rows] == groups
