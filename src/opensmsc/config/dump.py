"""A configuration back to TOML: `to_table(section)` as the file would hold it, `dumps(config)`
as text that `load` reads back to the same `Config`.

What this is for: `opensmsc config export` (the live configuration, admin changes included,
written out to fold back into the file) and the admin API's listings, which show each item with
the keys of its TOML table. Values go back to their file form: enums by value, paths as text,
networks in CIDR; a key left at None (TOML has no null) is left out.

What it is not: a general TOML writer. It writes what the configuration model holds (tables,
arrays of tables, strings, numbers, booleans and arrays of those) and nothing else.
"""

from __future__ import annotations

import dataclasses
import enum
import ipaddress
import json
import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["dumps", "to_table", "to_value"]

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def to_value(value: object) -> object | None:
    """`value` as a TOML value (dict for a table, list for an array), None to leave it out."""
    if value is None:
        return None
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return to_table(value)
    if isinstance(value, enum.Enum):
        member: object = value.value
        return member
    if isinstance(value, Path | ipaddress.IPv4Network | ipaddress.IPv6Network):
        return str(value)
    if isinstance(value, tuple | list | frozenset | set):
        items = [to_value(item) for item in value]
        return [item for item in items if item is not None]
    if isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    raise TypeError(f"no TOML form for {type(value).__name__}")


def to_table(section: object, *, defaults: bool = True) -> dict[str, Any]:
    """A configuration dataclass as its TOML table. `defaults=False` leaves out the keys at
    their default (and the sub-tables left empty by that), as a hand-written file would."""
    if not dataclasses.is_dataclass(section) or isinstance(section, type):
        raise TypeError(f"not a configuration section: {section!r}")
    table: dict[str, Any] = {}
    for f in dataclasses.fields(section):
        if not f.init:
            continue
        value = getattr(section, f.name)
        if not defaults and _is_default(f, value):
            continue
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            converted: object = to_table(value, defaults=defaults)
            if not defaults and not converted:
                continue
        elif isinstance(value, tuple) and value and dataclasses.is_dataclass(value[0]):
            converted = [to_table(item, defaults=defaults) for item in value]
        else:
            converted = to_value(value)
        if converted is not None:
            table[f.name] = converted
    return table


def _is_default(f: dataclasses.Field[Any], value: object) -> bool:
    if f.default is not dataclasses.MISSING:
        return bool(value == f.default)
    if f.default_factory is not dataclasses.MISSING:
        return bool(value == f.default_factory())
    return False


def dumps(config: object, *, header: str = "") -> str:
    """The configuration as TOML text, keys at their default left out; `header` becomes
    comment lines at the top."""
    lines = [f"# {line}".rstrip() for line in header.splitlines()]
    _emit(to_table(config, defaults=False), (), lines)
    return "\n".join(lines).strip("\n") + "\n"


def _emit(table: Mapping[str, Any], path: tuple[str, ...], lines: list[str]) -> None:
    nested: list[tuple[str, Any]] = []
    for key, value in table.items():
        if isinstance(value, dict) or _is_array_of_tables(value):
            nested.append((key, value))
        else:
            lines.append(f"{_key(key)} = {_scalar(value)}")
    for key, value in nested:
        sub = (*path, key)
        name = ".".join(_key(part) for part in sub)
        if isinstance(value, dict):
            if any(not _is_nested(v) for v in value.values()) or not value:
                lines.extend(("", f"[{name}]"))  # a table of tables alone needs no header
            _emit(value, sub, lines)
        else:
            for item in value:
                lines.extend(("", f"[[{name}]]"))
                _emit(item, sub, lines)


def _is_nested(value: object) -> bool:
    return isinstance(value, dict) or _is_array_of_tables(value)


def _is_array_of_tables(value: object) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def _key(key: str) -> str:
    return key if _BARE_KEY.fullmatch(key) else json.dumps(key, ensure_ascii=False)


def _scalar(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        # A JSON string is a TOML basic string (the same escapes), but for DEL, which TOML
        # refuses raw; ensure_ascii would write astral characters as surrogates, refused too.
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
    if isinstance(value, list):
        return "[" + ", ".join(_scalar(item) for item in value) + "]"
    if isinstance(value, dict):  # a table inside an array of scalars: an inline table
        return "{" + ", ".join(f"{_key(k)} = {_scalar(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"no TOML form for {type(value).__name__}")
