"""Builds frozen dataclasses from parsed TOML, driven by the dataclasses' field types.

This is the only place that knows how a TOML value becomes a typed setting, so a new section is a
new dataclass in `model/` and nothing here changes. Supported field types: `bool`, `int`,
`float` (an integer is accepted), `str`, `Path` (relative paths are taken from the config file's
folder), `Literal[...]`, `Enum` subclasses (matched by value), `tuple[X, ...]`, nested dataclasses
(a missing table is an empty table), `X | None` (None only as a default: TOML has no null), other
unions (the first type that fits), and `Annotated[X, ...]` with the metadata of `rules.py`.

Every problem is collected, none stops the walk: the caller gets them all, each with the key path
where it was found. Line numbers are not this module's business (see `locate.py`).
"""

from __future__ import annotations

import dataclasses
import difflib
import enum
import functools
import json
import math
import os
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Literal, TypeVar, Union, get_args, get_origin

from opensmsc.config.rules import Describe, KeyPath, Parse, Problem, Rule, is_invalid_key

T = TypeVar("T")


class _Invalid:
    """The result of a conversion that failed; its problem is already recorded."""


INVALID = _Invalid()


@dataclass(slots=True)
class _Walk:
    base_dir: Path
    problems: list[Problem] = field(default_factory=list)

    def add(self, key: KeyPath, message: str) -> _Invalid:
        self.problems.append(Problem(key, message))
        return INVALID


def build(
    cls: type[T], table: Mapping[str, object], *, base_dir: Path
) -> tuple[T | None, list[Problem]]:
    """Build `cls` from a parsed TOML table. Returns (value, []) or (None, every problem found).

    Raises TypeError only for a field type this module does not support: a bug in the model.
    """
    walk = _Walk(base_dir=base_dir)
    value = _dataclass(cls, table, (), walk)
    if walk.problems or isinstance(value, _Invalid):
        return None, walk.problems
    return typing.cast(T, value), []


def render(value: object) -> str:
    """A value as the TOML file would show it, for "got ..." in messages."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array"
    return str(value)


def describe(tp: object) -> str:
    """What a value of type `tp` looks like, in words: "a positive integer", "an array of ..."."""
    base, metadata = _unannotate(tp)
    for item in metadata:
        if isinstance(item, Describe | Parse):
            return item.description
    for item in metadata:
        if _is_rule(item):
            return typing.cast(Rule, item).description
    origin = get_origin(base)
    if origin is Literal:
        return "one of " + ", ".join(render(arg) for arg in get_args(base))
    if origin is tuple:
        return _array_of(get_args(base)[0])
    if origin in (Union, types.UnionType):
        return " or ".join(describe(arg) for arg in get_args(base) if arg is not type(None))
    if isinstance(base, type) and issubclass(base, enum.Enum):
        return "one of " + ", ".join(render(member.value) for member in base)
    if isinstance(base, type) and dataclasses.is_dataclass(base):
        return "a table"
    names: dict[object, str] = {
        bool: "true or false",
        int: "an integer",
        float: "a number",
        str: "a string",
        Path: "a file path",
    }
    return names.get(base, getattr(base, "__name__", str(base)))


def _array_of(item: object) -> str:
    base, _ = _unannotate(item)
    if isinstance(base, type) and dataclasses.is_dataclass(base):
        return "an array of tables"
    return "an array, each item " + describe(item)


def _unannotate(tp: object) -> tuple[object, tuple[object, ...]]:
    if get_origin(tp) is Annotated:
        base, *metadata = get_args(tp)
        return base, tuple(metadata)
    return tp, ()


def _is_rule(item: object) -> bool:
    return callable(getattr(item, "check", None)) and hasattr(item, "description")


@functools.cache
def _hints(cls: type) -> dict[str, object]:
    return typing.get_type_hints(cls, include_extras=True)


def _convert(tp: object, value: object, key: KeyPath, walk: _Walk) -> object:
    base, metadata = _unannotate(tp)
    parse = next((item for item in metadata if isinstance(item, Parse)), None)
    if parse is not None:
        if not isinstance(value, str):
            return walk.add(key, f"expected {describe(tp)}, got {render(value)}")
        try:
            converted = parse.function(value)
        except ValueError:
            got = "a value that is not one (not shown: a secret)" if parse.secret else render(value)
            return walk.add(key, f"expected {describe(tp)}, got {got}")
    else:
        converted = _convert_base(base, tp, value, key, walk)
        if isinstance(converted, _Invalid):
            return converted
    for item in metadata:
        if _is_rule(item):
            message = typing.cast(Rule, item).check(converted)
            if message is not None:
                return walk.add(key, message)
    return converted


def _convert_base(base: object, tp: object, value: object, key: KeyPath, walk: _Walk) -> object:
    origin = get_origin(base)
    if origin in (Union, types.UnionType):
        return _union(base, tp, value, key, walk)
    if origin is Literal:
        if any(value == arg and type(value) is type(arg) for arg in get_args(base)):
            return value
        return walk.add(key, f"expected {describe(tp)}, got {render(value)}")
    if origin is tuple:
        return _tuple(base, tp, value, key, walk)
    if not isinstance(base, type):
        raise TypeError(f"unsupported configuration type {base!r} at {key}")
    if dataclasses.is_dataclass(base):
        return _dataclass(base, value, key, walk)
    if issubclass(base, enum.Enum):
        return _enum(base, tp, value, key, walk)
    if base is bool:
        ok = isinstance(value, bool)
    elif base is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif base is float:
        # inf and nan are valid TOML but no sensible setting, and nan slips past every bound.
        ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
        value = float(value) if ok else value  # type: ignore[arg-type]
    elif base is str:
        ok = isinstance(value, str)
    elif base is Path:
        if isinstance(value, str) and value:
            return _path(value, walk.base_dir)
        ok = False
    else:
        raise TypeError(f"unsupported configuration type {base!r} at {key}")
    if not ok:
        return walk.add(key, f"expected {describe(tp)}, got {render(value)}")
    return value


def _path(text: str, base_dir: Path) -> Path:
    path = Path(text).expanduser()
    return path if path.is_absolute() else Path(os.path.normpath(base_dir / path))


def _union(base: object, tp: object, value: object, key: KeyPath, walk: _Walk) -> object:
    options = [arg for arg in get_args(base) if arg is not type(None)]
    if len(options) == 1:
        return _convert(options[0], value, key, walk)
    for option in options:
        trial = _Walk(base_dir=walk.base_dir)
        converted = _convert(option, value, key, trial)
        if not trial.problems:
            return converted
    return walk.add(key, f"expected {describe(tp)}, got {render(value)}")


def _tuple(base: object, tp: object, value: object, key: KeyPath, walk: _Walk) -> object:
    args = get_args(base)
    if len(args) != 2 or args[1] is not Ellipsis:
        raise TypeError(f"only tuple[X, ...] is supported, not {base!r} at {key}")
    if not isinstance(value, list):
        return walk.add(key, f"expected {describe(tp)}, got {render(value)}")
    items = [_convert(args[0], item, (*key, index), walk) for index, item in enumerate(value)]
    if any(isinstance(item, _Invalid) for item in items):
        return INVALID
    return tuple(items)


def _enum(base: type[enum.Enum], tp: object, value: object, key: KeyPath, walk: _Walk) -> object:
    # A number matches by its decimal text, so `interface_version = 3.4` means "3.4".
    text = value if isinstance(value, str) else None
    if isinstance(value, int | float) and not isinstance(value, bool):
        text = str(value)
    for member in base:
        if text is not None and member.value == text:
            return member
    return walk.add(key, f"expected {describe(tp)}, got {render(value)}")


def _dataclass(cls: type, value: object, key: KeyPath, walk: _Walk) -> object:
    if not isinstance(value, dict):
        return walk.add(key, f"expected a table, got {render(value)}")
    fields = [f for f in dataclasses.fields(cls) if f.init]
    names = [f.name for f in fields]
    refused: Mapping[str, str] = getattr(cls, "refused_keys", {})
    ok = True
    # The keys an unknown key probably stands for (a typo, a refused spelling): their value is
    # not known, so no rule across keys is checked with their default in its place.
    invalid: set[str] = set()
    for name in value:
        if name in names:
            continue
        ok = False
        close = difflib.get_close_matches(name, names, n=1, cutoff=0.7)
        invalid.update(close)
        if name in refused:
            walk.add((*key, name), refused[name])
        elif close:
            walk.add((*key, name), f'unknown key; did you mean "{close[0]}"?')
        else:
            walk.add((*key, name), "unknown key; expected one of: " + ", ".join(names))
    hints = _hints(cls)
    kwargs: dict[str, object] = {}
    for f in fields:
        tp = hints[f.name]
        if f.name in value:
            converted = _convert(tp, value[f.name], (*key, f.name), walk)
        elif _is_table(tp):
            converted = _convert(tp, {}, (*key, f.name), walk)  # a missing table is an empty one
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            converted = walk.add((*key, f.name), f"missing; expected {describe(tp)}")
        elif isinstance(f.default, Path):
            converted = _path(str(f.default), walk.base_dir)
        else:
            continue
        if isinstance(converted, _Invalid):
            ok = False
            invalid.add(f.name)
        elif f.name not in invalid:
            kwargs[f.name] = converted
    # With invalid keys the section is still built, without them, for its rules across keys
    # and its parent's (rules.Checks skips the rules that read a missing key): one pass finds
    # every mistake. Such a section never leaves build(): its problems are recorded.
    built = cls(**kwargs) if ok else _partial(cls, kwargs, invalid)
    check = getattr(built, "problems", None)
    if callable(check):
        try:
            problems = typing.cast(list[Problem], check())
        except AttributeError as exc:
            if not is_invalid_key(exc):
                raise
            problems = []  # a rule not written with Checks read an invalid key
        for problem in problems:
            walk.add((*key, *problem.key), problem.message)
    return built


def _partial(cls: type, kwargs: Mapping[str, object], invalid: set[str]) -> object:
    """An instance of the frozen dataclass `cls` with `kwargs` and the defaults of the keys the
    file left out, but without the `invalid` ones: reading one raises AttributeError
    (rules.is_invalid_key)."""
    instance: object = object.__new__(cls)
    for f in dataclasses.fields(cls):
        if f.name in kwargs:
            value = kwargs[f.name]
        elif f.name in invalid:
            continue
        elif f.default is not dataclasses.MISSING:
            value = f.default
        elif f.default_factory is not dataclasses.MISSING:
            value = f.default_factory()
        else:
            continue
        object.__setattr__(instance, f.name, value)
    return instance


def _is_table(tp: object) -> bool:
    base, _ = _unannotate(tp)
    return isinstance(base, type) and dataclasses.is_dataclass(base)
