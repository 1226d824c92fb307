"""Write docs/params.md, the reference of every params.yaml key, from the params models and params.yaml's comments.

    python scripts/params_doc.py            # (re)write docs/params.md
    python scripts/params_doc.py --check    # exit 1 when docs/params.md is stale

Keys, types and defaults come from the frozen dataclasses of stages/core/params.py (SECTIONS, nested sections
included); each key's meaning is its params.yaml comment (the comment on its line, else the comment lines just
above it), else the comment beside the field in the dataclass. A value params.yaml sets to something other than
the code's default is shown beside it. tests/test_docs.py fails when the file differs from what this writes.
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import re
import sys
import types
import typing
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as `python scripts/params_doc.py`: the package lives beside scripts/
    sys.path.insert(0, str(ROOT))

from stages.core import params  # noqa: E402

OUT = ROOT / "docs" / "params.md"
KEY = re.compile(r"^(\s*)([A-Za-z_]\w*):(.*)$")


def yaml_comments(text: str) -> dict[str, str]:
    """{dotted key: its comment} from params.yaml's text: the comment on the key's line, else the block of comment
    lines right above it at the same indentation. Keys inside list items (external_test's entries) are skipped."""
    out: dict[str, str] = {}
    stack: list[tuple[int, str]] = []
    block: list[str] = []
    list_indent: int | None = None
    for line in text.splitlines():
        stripped = line.strip()
        indent = len(line) - len(line.lstrip())
        if stripped.startswith("#"):
            block.append(stripped.lstrip("#").strip())
            continue
        if list_indent is not None and (not stripped or indent > list_indent or stripped.startswith("- ")):
            block = []
            continue
        list_indent = None
        if stripped.startswith("- "):
            list_indent, block = indent, []
            continue
        m = KEY.match(line)
        if not m:
            block = []
            continue
        stack = [(i, k) for i, k in stack if i < indent] + [(indent, m.group(2))]
        comment = re.search(r"\s#\s?(.*)$", m.group(3))
        out[".".join(k for _, k in stack)] = comment.group(1).strip() if comment else " ".join(block)
        block = []
    return out


def source_comments(cls: type) -> dict[str, str]:
    """{field: the comment beside it} in the dataclass's source."""
    found = re.findall(r"^\s+(\w+): [^\n#]*#\s*(.*)$", inspect.getsource(cls), re.M)
    return dict(found)


def type_name(tp: Any) -> str:
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(type_name(a) for a in args if a is not type(None)) + " or null"
    if origin is typing.Literal:
        return "one of " + ", ".join(f"`{a}`" for a in args)
    if origin in (list, tuple):
        return "list of entries (below)" if dataclasses.is_dataclass(args[0]) else "list of " + type_name(args[0])
    if origin is dict:
        return f"mapping of {type_name(args[0])} to {type_name(args[1])}"
    names = {bool: "true or false", int: "integer", float: "number", str: "string"}
    return names.get(tp, getattr(tp, "__name__", str(tp)))


def fmt(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if dataclasses.is_dataclass(value):
        return getattr(value, "name", type(value).__name__)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(fmt(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {fmt(v)}" for k, v in value.items()) + "}"
    return str(value)


def cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def default_of(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return dataclasses.MISSING


def section(cls: type, key: str, actual: Any, comments: dict[str, str]) -> list[str]:
    """The markdown of one section: a table of its plain keys, then its nested sections."""
    hints, beside = typing.get_type_hints(cls), source_comments(cls)
    rows, nested = [], []
    for f in dataclasses.fields(cls):
        tp, dotted = hints[f.name], f"{key}.{f.name}"
        default, value = default_of(f), getattr(actual, f.name) if actual is not None else None
        if dataclasses.is_dataclass(tp):
            nested += section(tp, dotted, value, comments)
            continue
        item = (typing.get_args(tp) or (None,))[0]
        meaning = comments.get(dotted) or beside.get(f.name, "")
        if dataclasses.is_dataclass(item):  # a list of entries (evaluate.external_test): described in its own section
            nested += section(item, dotted + "[]", None, comments)
            meaning = f"entries: see {dotted}[] below"
        shown = "required" if default is dataclasses.MISSING else f"`{fmt(default)}`"
        if actual is not None and default is not dataclasses.MISSING and value != default:
            shown += f" (params.yaml: `{fmt(value)}`)"
        rows.append(f"| `{f.name}` | {cell(type_name(tp))} | {cell(shown)} | {cell(meaning)} |")
    intro = comments.get(key.removesuffix("[]"), "")
    head = [f"## {key}", ""] + ([cell(intro), ""] if intro else [])
    return head + ["| key | type | default | meaning |", "|---|---|---|---|", *rows, ""] + nested


def render(params_file: Path = ROOT / "params.yaml") -> str:
    comments = yaml_comments(params_file.read_text(encoding="utf-8"))
    raw = params.read_params(params_file)
    lines = ["# params.yaml reference", "",
             "<!-- Generated by `python scripts/params_doc.py` from stages/core/params.py, params_model.py and",
             "     params.yaml's comments. Do not edit by hand: tests/test_docs.py fails when it is stale. -->", "",
             "Every hyperparameter lives in `params.yaml`, one section per stage, each loaded into a frozen dataclass",
             "that rejects unknown keys, wrong types and out-of-range values before any work, in one line naming the",
             "key. Override one for an experiment with `dvc exp run -S section.key=value`.", ""]
    for name, cls in params.SECTIONS.items():
        actual = params.build(cls, raw.get(name) or {}, name)
        lines += section(cls, name, actual, comments)
    return "\n".join(lines).rstrip("\n") + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python scripts/params_doc.py", description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="exit 1 when docs/params.md is stale, write nothing")
    ap.add_argument("--out", type=Path, default=OUT, help="file to write (default: docs/params.md)")
    args = ap.parse_args(argv)
    text = render()
    if args.check:
        stale = not args.out.exists() or args.out.read_text(encoding="utf-8") != text
        print(f"{args.out} is stale: run python scripts/params_doc.py" if stale else f"{args.out} is up to date")
        return 1 if stale else 0
    from stages.core.io import write_text

    write_text(args.out, text)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
