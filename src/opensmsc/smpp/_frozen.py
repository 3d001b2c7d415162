"""Fast positional construction of frozen, slotted dataclasses (PDUs, events, `Decoded`).

What this is for: the hot path builds one PDU and one event per message. A frozen dataclass's
`__init__` goes through `object.__setattr__` once per field (about 0.13 µs each), and calling a
slot descriptor's `__set__` is a C wrapper call (about 0.05 µs each). A plain attribute store
into a slot of a class whose `__setattr__` is object's is specialised by the interpreter and
costs under 0.01 µs. So `positional_builder(cls, names)` generates a function that creates the
instance as a private *builder* subclass of `cls` (same slots, no fields of its own, object's
`__setattr__`/`__delattr__`), stores the values with plain assignments, and then sets
`__class__` to `cls`, which CPython allows because the layouts are identical. What comes out is
an ordinary frozen instance of `cls`: `type(o) is cls`, equal to and hashing like one built by
`cls(**fields)`, and immutable from then on.

What it is not: validation or defaults. Every name must be given, positionally, in the order
the builder was made with; `__post_init__` is not run (none of the classes it is used for has
one). Use it only where a profile shows construction matters.
"""

from __future__ import annotations

import dataclasses
import keyword
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

T = TypeVar("T")

_BUILDERS: dict[type, type] = {}


def builder_class(cls: type) -> type:
    """The private mutable twin of the frozen slotted dataclass `cls` (created once)."""
    twin = _BUILDERS.get(cls)
    if twin is None:
        if not dataclasses.is_dataclass(cls) or "__slots__" not in cls.__dict__:
            raise TypeError(f"{cls.__name__} is not a slotted dataclass")
        # Both methods must be object's: then the class's setattr slot is the generic one and
        # attribute stores into slots take the interpreter's specialised path.
        namespace: dict[str, Any] = {
            "__slots__": (),
            "__setattr__": object.__setattr__,
            "__delattr__": object.__delattr__,
            "__module__": cls.__module__,
            "__qualname__": f"{cls.__qualname__}._Builder",
        }
        twin = type(f"_{cls.__name__}Builder", (cls,), namespace)
        _BUILDERS[cls] = twin
    return twin


def positional_builder(
    cls: Callable[..., T], names: Sequence[str], *, name: str | None = None
) -> Callable[..., T]:
    """A function `f(v0, v1, ...)` returning a frozen `cls` with `names[i] = vi`.

    `names` must be every field of `cls` (dataclasses.fields), in any order, and nothing else.
    """
    assert isinstance(cls, type)
    fields = {f.name for f in dataclasses.fields(cls)}
    if set(names) != fields or len(names) != len(fields):
        raise ValueError(f"{cls.__name__}: builder names {names} are not its fields {fields}")
    if any(not n.isidentifier() or keyword.iskeyword(n) for n in names):
        raise ValueError(f"{cls.__name__}: field names must be identifiers")
    args = ", ".join(f"v{i}" for i in range(len(names)))
    lines = [f"def build({args}):", "    o = new(Builder)"]
    lines += [f"    o.{n} = v{i}" for i, n in enumerate(names)]
    lines += ["    o.__class__ = cls", "    return o"]
    namespace: dict[str, Any] = {"new": object.__new__, "Builder": builder_class(cls), "cls": cls}
    source = "\n".join(lines) + "\n"
    exec(compile(source, f"<build {name or cls.__name__}>", "exec"), namespace)
    build: Callable[..., T] = namespace["build"]
    return build


__all__ = ["builder_class", "positional_builder"]
