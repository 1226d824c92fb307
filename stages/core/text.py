"""Pure text functions: normalisation, cleaning rules and duplicate keys."""

from __future__ import annotations

import re
import unicodedata

_SPACE = re.compile(r"\s+")
_NON_WORD = re.compile(r"[\W_]+")
_LETTER = re.compile(r"[^\W\d_]")


def normalize(text: str) -> str:
    """NFKC, collapse every run of whitespace (newlines, tabs, NBSP) to one space, strip. Idempotent."""
    return _SPACE.sub(" ", unicodedata.normalize("NFKC", text)).strip()


def dedup_key(text: str) -> str:
    """Key under which two texts count as the same: case, punctuation and spacing ignored."""
    return _SPACE.sub(" ", _NON_WORD.sub(" ", normalize(text).casefold())).strip()


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


def md_escape(text: str) -> str:
    """Show untrusted text literally in GitHub markdown: no HTML, links, emphasis or table breaks."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MD_SPECIAL.sub(r"\\\1", normalize(text))
