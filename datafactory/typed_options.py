"""NAME=VALUE options read by the types their dataclass declares: one parser for `--rule-option`,
`--math-option` and recipe values alike.

Why one parser: three hand-written ones disagreed, and one read an unrecognised boolean (`require_boxed=ture`) as
False. Here a value is accepted only when it is a valid value of the declared type (or one of the declared
choices), and an error names the option, the value and what is allowed.
"""

from __future__ import annotations

import math
import types
import typing
from dataclasses import fields

from datafactory.errors import UsageError

TRUE, FALSE = ("true", "yes", "on", "1"), ("false", "no", "off", "0")
NONE = ("none", "null")


def split(assignments: list[str] | dict, flag: str) -> dict:
    """NAME=VALUE strings (or a dict from a recipe) as {name: value}; names may use - for _."""
    if isinstance(assignments, dict):
        return {str(k).replace("-", "_"): v for k, v in assignments.items()}
    out = {}
    for item in assignments:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise UsageError(f"{flag} {item!r}: expected NAME=VALUE")
        out[name.strip().replace("-", "_")] = value.strip()
    return out


def parse(cls, assignments: list[str] | dict, flag: str, choices: dict[str, tuple] | None = None) -> dict:
    """{field: typed value} for the assignments, each checked against `cls`'s declared field types (and `choices`)."""
    declared = {f.name: f for f in fields(cls)}
    hints = typing.get_type_hints(cls)
    out = {}
    for name, value in split(assignments, flag).items():
        if name not in declared:
            raise UsageError(f"{flag} {name}: unknown; choose from {', '.join(declared)}")
        out[name] = typed(name, value, hints[name], flag, (choices or {}).get(name))
    return out


def build(cls, assignments: list[str] | dict, flag: str):
    """An options object of `cls` from NAME=VALUE assignments: each value by its declared type (and the class's
    `CHOICES`, or the choices its fields declare: options.py), then the class's own `validate()` for what types
    cannot say (a range, say)."""
    declared = {f.name: f.metadata["choices"] for f in fields(cls) if f.metadata.get("choices")}
    options = cls(**parse(cls, assignments, flag, {**getattr(cls, "CHOICES", {}), **declared}))
    if hasattr(options, "validate"):
        options.validate()
    return options


def typed(name: str, value, hint, flag: str, allowed: tuple | None = None):
    """`value` (text from the command line, or a YAML scalar) as the declared type `hint`."""
    options = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
    optional = type(None) in options
    kind = next(t for t in options if t is not type(None))
    text = str(value).strip()
    if optional and (value is None or text.lower() in NONE):
        return None
    try:
        if kind is bool:
            if isinstance(value, bool):
                return value
            if text.lower() in TRUE + FALSE:
                return text.lower() in TRUE
            raise ValueError
        if kind is int:
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError
            parsed = int(value) if not isinstance(value, str) else int(text)
        elif kind is float:
            if isinstance(value, bool):
                raise ValueError
            parsed = float(text)
            if not math.isfinite(parsed):  # nan disables every comparison it meets; inf any limit
                raise ValueError
        else:
            parsed = text
    except ValueError:
        expected = {bool: "true or false", int: "a whole number", float: "a finite number"}.get(kind, "text")
        expected += " (or none)" if optional else ""
        raise UsageError(f"{flag} {name}={value}: not a valid value; expected {expected}") from None
    if allowed is not None and parsed not in allowed:
        raise UsageError(f"{flag} {name}={value}: choose one of {', '.join(map(str, allowed))}")
    return parsed
