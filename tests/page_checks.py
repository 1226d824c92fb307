"""Checks of a markdown page a person reads: no Python reprs (`None`, `['a']`, `{'k': 1}`), and one number format per
table column (as many decimals in every numeric cell of a column: not 0.000 above 7 above 166.9)."""

from __future__ import annotations

import re

NUMBER = re.compile(r"[+\-−]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d+))?")
# A numeric cell: numbers, and only the signs, brackets, dashes, percent signs and units that go with them.
NUMERIC_CELL = re.compile(r"^[\s\d.,+\-−–%\[\]()]*\d[\s\d.,+\-−–%\[\]()]*(?: s| MB)?$")
REPRS = (re.compile(r"\bNone\b"), re.compile(r"\[['\"]"), re.compile(r"\{['\"]"))
PER_ROW = ("", "metric", "measure")  # a table whose rows are different quantities: its format is checked per row


def reprs(page: str) -> list[str]:
    """The lines that show a Python repr: None, a list or a dict of strings."""
    return [line for line in page.splitlines() if any(p.search(line) for p in REPRS)]


def tables(page: str) -> list[tuple[list[str], list[list[str]]]]:
    """(header, rows) of each markdown table of the page; `\\|` inside a cell is text."""
    found, lines = [], page.splitlines()
    i = 0
    while i < len(lines) - 1:
        if lines[i].startswith("|") and re.fullmatch(r"\|(?:\s*:?-{3,}:?\s*\|)+", lines[i + 1].strip()):
            j = i + 2
            while j < len(lines) and lines[j].startswith("|"):
                j += 1
            found.append((cells(lines[i]), [cells(line) for line in lines[i + 2:j]]))
            i = j
        else:
            i += 1
    return found


def cells(line: str) -> list[str]:
    return [c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]


def decimals(cell: str) -> set[int] | None:
    """How many decimals the cell's numbers have ({0} for 1,500; {3} for "0.650 – 0.970"); None: not a number."""
    if not NUMERIC_CELL.match(cell):
        return None
    return {len(m.group(1) or "") for m in NUMBER.finditer(cell)}


def mixed_formats(page: str) -> list[str]:
    """One line per table column (or row, for a table of quantities) whose numbers differ in their decimals."""
    problems = []
    for header, rows in tables(page):
        groups = ([(row[0], row[1:]) for row in rows] if header[0].lower() in PER_ROW
                  else [(name, [row[k] for row in rows if k < len(row)]) for k, name in enumerate(header)])
        for name, values in groups:
            seen = {v: d for v in values if (d := decimals(v)) is not None}
            if len(set().union(*seen.values()) if seen else set()) > 1:
                problems.append(f"table {' | '.join(header)}: {name!r} mixes {', '.join(seen)}")
    return problems


def check_page(page: str) -> None:
    """Assert the page shows no repr and keeps one number format per column."""
    assert not reprs(page), reprs(page)
    assert not mixed_formats(page), mixed_formats(page)
