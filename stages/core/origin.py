"""Where a row came from: the `origin` column of generated.csv and the split files, one string per row.

    clickbait-3                                      a template row: its template's id in the task file
    llm:3f2a9c1b0d4e/clickbait-p1/audience=2,topic=7 an LLM row: the request key (12 hex digits), the prompt id,
                                                     the attribute values drawn (1-based positions in the task file)
    data/raw/headlines.csv:17                        a csv-provider or real row: the file as given in params.yaml
                                                     and its 1-based data row (the header is not counted)

A template's id is `<label>-<n>`, its 1-based position under that label; a template text listed under several
labels has the id of its first listing, so its fills share one origin whatever label they carry. Prompt ids are
`<label>-p<n>` (model_as_label mode: the task's prompt `p<n>`; the focus file's contrastive prompts
`<label>-focus<n>`). Split keeps the rows of one origin in one split (split.group_by); evaluate slices the test
rows by `slice_of(origin)`: the template id, the LLM prompt id, the file.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

LLM_PREFIX = "llm:"
KEY_CHARS = 12  # of the request key's sha256 hex: unique among the requests of any realistic run
_FILE_ROW = re.compile(r"(.+):(\d+)")


def template_id(label: str, position: int) -> str:
    """The id of the template at 1-based `position` under `label`."""
    return f"{label}-{position}"


def prompt_id(label: str, position: int) -> str:
    """The id of the prompt at 1-based `position` under `label` ("" for the task's own prompts: `p<n>`)."""
    return f"{label}-p{position}" if label else f"p{position}"


def focus_prompt_id(label: str, position: int) -> str:
    """The id of the focus file's contrastive prompt at 1-based `position` for `label`."""
    return f"{label}-focus{position}"


def llm(key: str, prompt: str, attributes: Mapping[str, int]) -> str:
    """An LLM row's origin: the request key, the prompt id and each attribute's value id, by attribute name."""
    values = ",".join(f"{name}={attributes[name]}" for name in sorted(attributes))
    return f"{LLM_PREFIX}{key[:KEY_CHARS]}/{prompt}" + (f"/{values}" if values else "")


def file_row(path: str, row: int) -> str:
    """A csv-provider or real row's origin: the file as given in params.yaml and its 1-based data row."""
    return f"{path}:{row}"


def file_rows(path: str, n: int) -> list[str]:
    """The origins of the first `n` data rows of `path`, in file order."""
    return [file_row(path, i) for i in range(1, n + 1)]


def slice_of(origin: str) -> str:
    """What evaluate slices by: a template row's template id, an LLM row's prompt id, a file row's file."""
    if origin.startswith(LLM_PREFIX):
        rest = origin[len(LLM_PREFIX) + KEY_CHARS + 1:]
        head, _, tail = rest.rpartition("/")
        return head if head and "=" in tail else rest
    match = _FILE_ROW.fullmatch(origin)
    return match.group(1) if match else origin or "(none)"


def slice_order(slices: Sequence[str]) -> list[str]:
    """The distinct slice names in reading order: numbers within names compared as numbers (clickbait-2 before
    clickbait-10)."""
    def key(name: str) -> list[tuple[int, int | str]]:
        return [(0, int(part)) if part.isdigit() else (1, part) for part in re.split(r"(\d+)", name)]

    return sorted(set(slices), key=key)


def join_groups(groups: Mapping[str, Sequence[int]], origins: Sequence[str]) -> dict[str, list[int]]:
    """`groups` (key -> rows) joined wherever two groups hold rows of one origin: rows sharing an origin, and
    everything grouped with them, end up in one group (an empty origin joins nothing). Keyed by the key of its
    first group (in `groups`' order), rows in ascending order; groups are in order of their first key."""
    parent = {key: key for key in groups}

    def root(key: str) -> str:
        while parent[key] != key:
            parent[key] = parent[parent[key]]
            key = parent[key]
        return key

    order = {key: k for k, key in enumerate(groups)}
    owner: dict[str, str] = {}
    for key, rows in groups.items():
        for i in (i for i in rows if origins[i]):
            other = owner.setdefault(origins[i], key)
            a, b = root(key), root(other)
            if a != b:  # the earlier group's key names the union
                parent[max(a, b, key=order.__getitem__)] = min(a, b, key=order.__getitem__)
    out: dict[str, list[int]] = {}
    for key, rows in groups.items():
        out.setdefault(root(key), []).extend(rows)
    return {key: sorted(rows) for key, rows in out.items()}
