"""Checking a params.yaml section against a frozen dataclass: types, unknown keys, defaults, `validate()`.

`build(cls, raw, "train")` returns `cls(**raw)` checked; every failure is one `ParamsError` line naming
`section.key`, what was expected and what was found.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from typing import Any

from stages.core.errors import ParamsError


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
        # YAML 1.1 (PyYAML) reads `3e-05`, which `dvc exp run -S` may write, as a string.
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                fail(key, "a number", value)
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
