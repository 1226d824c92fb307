"""GitHub-flavoured markdown pieces shared by report, compare and the model card: tables, numbers, code
spans, and `public()`, which keeps absolute paths of the machine out of anything published.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from stages.core.text import md_escape, visible

_ABSOLUTE = re.compile(r"^(/|~|[A-Za-z]:[\\/])")


def public(value: Any) -> str:
    """A value safe to publish: an absolute path becomes `<local>/name` (no user, host or tree layout)."""
    text = str(value)
    return f"<local>/{Path(text).name}" if _ABSOLUTE.match(text) else text


def code(value: Any) -> str:
    """`value` as a code span, shown literally (a backtick inside would end the span, so it is replaced)."""
    return "`" + visible(public(value)).replace("`", "'") + "`"


def fmt(value: Any) -> str:
    """Numbers for people: 1,234; scores in [-1, 1] as 0.893; 3 epochs; 15.2 s; None as a dash; text escaped."""
    if isinstance(value, bool) or value is None:
        return "—" if value is None else str(value).lower()
    if isinstance(value, float):
        if abs(value) <= 1:
            return f"{value:.3f}"
        return f"{value:,.0f}" if value.is_integer() else f"{value:,.1f}" if abs(value) >= 100 else f"{value:.4g}"
    return f"{value:,}" if isinstance(value, int) else md_escape(public(value))


def fixed(value: Any, places: int = 3) -> str:
    """A number with exactly `places` decimals (one format for a whole column: scores 3, seconds 1), thousands
    separated; None as a dash."""
    return f"{value:,.{places}f}" if isinstance(value, (int, float)) and not isinstance(value, bool) else "—"


def signed(value: Any) -> str:
    return f"{value:+.3f}" if isinstance(value, (int, float)) and not isinstance(value, bool) else "—"


def table(header: list[str], rows: list[list[Any]], right_from: int = 1) -> list[str]:
    """Markdown table lines; columns from `right_from` on are right-aligned; str cells are used as given."""
    lines = ["| " + " | ".join(header) + " |",
             "|" + "|".join("---" if i < right_from else "---:" for i in range(len(header))) + "|"]
    return lines + ["| " + " | ".join(c if isinstance(c, str) else fmt(c) for c in row) + " |" for row in rows]


def interval(row: dict[str, Any], key: str) -> str:
    """`row[key]`'s interval as "0.650 – 0.970" from its `<key>_ci_low`/`_ci_high` fields; a dash without them."""
    lo, hi = row.get(f"{key}_ci_low"), row.get(f"{key}_ci_high")
    return f"{lo:.3f} – {hi:.3f}" if isinstance(lo, (int, float)) and isinstance(hi, (int, float)) else "—"
