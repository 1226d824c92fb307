"""Typed checking against frozen dataclasses, for params.yaml sections and for the hand-off JSON files.

`build(cls, raw, "train")` returns `cls(**raw)` checked (types, unknown keys, defaults, `validate()`); every
failure is one `ParamsError` line naming `section.key`, what was expected and what was found.
`Contract` is the base of the hand-off files in core/contracts.py: `read(path)` fails with one `DataError`
line naming the file and the field.
"""

from __future__ import annotations

import dataclasses
import math
import re
import types
import typing
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from stages.core.errors import DataError, ParamsError
from stages.core.io import read_json, write_json

C = TypeVar("C", bound="Contract")
_EXPONENT = re.compile(r"[-+]?(\d+(\.\d*)?|\.\d+)[eE][-+]?\d+")  # 3e-05, 1.5E+3: floats PyYAML leaves as strings


def fail(key: str, expected: str, found: Any) -> None:
    raise ParamsError(f"params.yaml: {key} must be {expected}, got {found!r}")


def check(ok: bool, key: str, expected: str, found: Any) -> None:
    if not ok:
        fail(key, expected, found)


def _coerce(value: Any, tp: Any, key: str) -> Any:
    """Check `value` against the annotation `tp`; return it (floats written as strings are parsed)."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(tp)
        if value is None and type(None) in options:
            return None
        inner = [o for o in options if o is not type(None)]
        return _coerce(value, inner[0], key)
    if origin is typing.Literal:
        choices = typing.get_args(tp)
        check(value in choices, key, "one of " + ", ".join(map(str, choices)), value)
        return value
    if origin in (list, tuple):
        (item_tp,) = typing.get_args(tp)[:1]
        check(isinstance(value, list), key, "a list", value)
        return tuple(_coerce(v, item_tp, f"{key}[{i}]") for i, v in enumerate(value))
    if origin is dict:
        check(isinstance(value, dict), key, "a mapping", value)
        _, val_tp = typing.get_args(tp)
        return {str(k): _coerce(v, val_tp, f"{key}.{k}") for k, v in value.items()}
    if dataclasses.is_dataclass(tp):
        check(isinstance(value, dict), key, "a mapping", value)
        return build(tp, value, key)
    if tp is bool:
        check(isinstance(value, bool), key, "true or false", value)
        return value
    if tp is int:
        check(isinstance(value, int) and not isinstance(value, bool), key, "an integer", value)
        return value
    if tp is float:
        # YAML 1.1 (PyYAML) reads `3e-05`, which `dvc exp run -S` may write, as a string: only that form (exponent
        # notation) is parsed; any other string, such as a quoted '4', is refused rather than guessed at.
        if isinstance(value, str):
            check(_EXPONENT.fullmatch(value.strip()) is not None, key, "a number (not a quoted string)", value)
            value = float(value)
        check(isinstance(value, (int, float)) and not isinstance(value, bool), key, "a number", value)
        check(math.isfinite(value), key, "a finite number", value)  # .inf or .nan would fail much later
        return float(value)
    if tp is str:
        check(isinstance(value, str) and value.strip() != "", key, "a non-empty string", value)
        return value
    raise TypeError(f"unsupported annotation {tp!r} for {key}")  # a bug in this module, not bad input


def build(cls: type, raw: dict[str, Any] | None, prefix: str) -> Any:
    """Build dataclass `cls` from a mapping, rejecting unknown keys; missing keys take their defaults."""
    raw = {} if raw is None else raw
    check(isinstance(raw, dict), prefix, "a mapping", raw)
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(raw) - names)
    if unknown:
        raise ParamsError(
            f"params.yaml: unknown key {prefix}.{unknown[0]} (known keys: {', '.join(sorted(names))})"
        )
    kwargs = {}
    for f in dataclasses.fields(cls):
        key = f"{prefix}.{f.name}"
        if f.name in raw:
            kwargs[f.name] = _coerce(raw[f.name], hints[f.name], key)
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ParamsError(f"params.yaml: missing key {key}")
    obj = cls(**kwargs)
    validate = getattr(obj, "validate", None)
    if validate:
        validate(prefix)
    return obj


# ---- hand-off files


def _describe(hint: Any) -> str:
    args = typing.get_args(hint)
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return " or ".join(_describe(a) for a in args)
    if hint is type(None):
        return "null"
    if isinstance(hint, type) and issubclass(hint, Contract):
        return "an object"
    origin = typing.get_origin(hint) or hint
    return {int: "an integer", float: "a number", str: "a string", bool: "true/false", dict: "an object",
            list: "a list"}.get(origin, str(hint))


def _matches(value: Any, hint: Any) -> bool:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_matches(value, a) for a in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if hint is Any:
        return True
    if isinstance(hint, type) and issubclass(hint, Contract):
        return isinstance(value, dict)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, origin or hint)


def _convert(value: Any, hint: Any, where: str) -> Any:
    """Nested contracts (possibly optional) become their dataclass."""
    for candidate in typing.get_args(hint) or (hint,):
        if isinstance(candidate, type) and issubclass(candidate, Contract) and isinstance(value, dict):
            return candidate.from_dict(value, where)
    return value


@dataclasses.dataclass(frozen=True)
class Contract:
    """Base of the JSON hand-offs: typed fields, strict reading, exact writing."""

    FILE: ClassVar[str] = "a JSON report"

    @classmethod
    def from_dict(cls: type[C], data: Any, where: str | Path) -> C:
        if not isinstance(data, dict):
            raise DataError(f"{where}: expected a JSON object ({cls.FILE}), found {type(data).__name__}")
        hints = typing.get_type_hints(cls)
        values = {}
        for f in dataclasses.fields(cls):
            hint = hints[f.name]
            if f.name not in data:
                if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                    raise DataError(f"{where}: field {f.name!r} is missing (expected {_describe(hint)}); "
                                    f"rerun the stage that writes {cls.FILE}")
                continue
            value = data[f.name]
            if not _matches(value, hint):
                raise DataError(f"{where}: field {f.name!r} must be {_describe(hint)}, found {value!r:.80}")
            values[f.name] = _convert(value, hint, f"{where}: {f.name}")
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        return {f.name: _plain(getattr(self, f.name)) for f in dataclasses.fields(self)}

    @classmethod
    def read(cls: type[C], path: str | Path) -> C:
        return cls.from_dict(read_json(path), path)

    def write(self, path: str | Path) -> None:
        write_json(path, self.to_dict())


def _plain(value: Any) -> Any:
    return value.to_dict() if isinstance(value, Contract) else value
