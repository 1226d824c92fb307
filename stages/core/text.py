"""Pure text functions: normalisation, cleaning rules, duplicate keys, and words for every script (word counts
and LIME tokens that treat scripts written without spaces, such as Japanese, Chinese and Thai, sanely)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

# Scripts written without spaces between words: Thai, Lao, Myanmar, Khmer, kana and CJK ideographs. Each of their
# characters counts as a word (close to a morpheme for CJK, an over-count for Thai), so a Japanese sentence is
# not "2 words"; every other script keeps its whitespace/punctuation words.
UNSPACED = "\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u3040-\u30ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_UNSPACED = re.compile(f"[{UNSPACED}]")
_MARKS = "\u0e31\u0e34-\u0e3a\u0e47-\u0e4e\u0eb1\u0eb4-\u0ebc\u0ec8-\u0ecd\u102b-\u103e\u17b4-\u17d3"  # vowel/tone marks
# one unspaced character with the marks written on it, or a run of other word characters
_TOKEN = re.compile(rf"[{UNSPACED}][{_MARKS}]*|[^\W{UNSPACED}]+")
_SPACE = re.compile(r"\s+")
_NON_WORD = re.compile(r"[\W_]+")
_LETTER = re.compile(r"[^\W\d_]")


def normalize(text: str) -> str:
    """NFKC, collapse every run of whitespace (newlines, tabs, NBSP) to one space, strip. Idempotent."""
    return _SPACE.sub(" ", unicodedata.normalize("NFKC", text)).strip()


def dedup_key(text: str) -> str:
    """Key under which two texts count as the same: case, punctuation and spacing ignored. The words of the
    NFKC, casefolded text joined by single spaces: every whitespace run lies inside a run of non-word characters,
    so collapsing whitespace first (normalize) would change nothing."""
    return _NON_WORD.sub(" ", unicodedata.normalize("NFKC", text).casefold()).strip()


def key_hash(text: str) -> str:
    """A short stable id of `text`'s dedup_key (16 hex digits of its SHA-1): equal for texts counted as the same."""
    import hashlib

    return hashlib.sha1(dedup_key(text).encode("utf-8")).hexdigest()[:16]


def has_unspaced(text: str) -> bool:
    """Whether `text` holds characters of a script written without spaces (see UNSPACED)."""
    return _UNSPACED.search(text) is not None


def word_count(text: str) -> int:
    """Whitespace-separated words, where a word in an unspaced script counts each of its characters."""
    if not has_unspaced(text):
        return len(text.split())
    return sum(len(_TOKEN.findall(w)) or 1 if has_unspaced(w) else 1 for w in text.split())


def tokens(text: str) -> list[str]:
    """LIME's words for any script: runs of word characters as LIME's default `\\W+` split gives them, except
    that each character of an unspaced script is a word of its own."""
    return _TOKEN.findall(text)


def pieces(text: str) -> list[tuple[str, bool]]:
    """`text` cut into its tokens() and what lies between them, in order: (piece, is_token)."""
    out, pos = [], 0
    for m in _TOKEN.finditer(text):
        if m.start() > pos:
            out.append((text[pos:m.start()], False))
        out.append((m.group(), True))
        pos = m.end()
    if pos < len(text):
        out.append((text[pos:], False))
    return out


def has_letter(text: str) -> bool:
    return _LETTER.search(text) is not None


def drop_reason(text: object, min_chars: int, max_chars: int) -> str | None:
    """Why a raw value cannot be a training text, or None if it can (`text` already normalised)."""
    if not isinstance(text, str) or text == "" or text.lower() in {"nan", "none", "null"}:
        return "empty"
    if not has_letter(text):
        return "no_letters"
    if len(text) < min_chars:
        return "too_short"
    if len(text) > max_chars:
        return "too_long"
    return None


_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-!|~])")
# C0/C1 controls (whitespace aside: normalize collapses it), bidi marks, embeddings, overrides and isolates
_HIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def visible(text: str) -> str:
    """`text` with each control character and bidirectional override/isolate (U+202E would show a page's
    text reversed, Trojan-Source style) written as [U+XXXX]: what a page shows is what the data holds."""
    return _HIDDEN.sub(lambda m: f"[U+{ord(m.group()):04X}]", text)


def md_escape(text: str) -> str:
    """Show untrusted text literally in GitHub markdown: no HTML, links, emphasis or table breaks, no hidden
    control or bidi characters (visible)."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MD_SPECIAL.sub(r"\\\1", visible(normalize(text)))


def distinct(groups: Sequence[Sequence[str]]) -> tuple[list[str], list[list[int]]]:
    """Every distinct text of `groups` once (first-seen order) and, per group, each row's index into that list:
    score the distinct texts once, then `scores[index]` gives a group's rows (duplicates and texts shared by
    several sets cost nothing more)."""
    position: dict[str, int] = {}
    index = [[position.setdefault(t, len(position)) for t in group] for group in groups]
    return list(position), index
