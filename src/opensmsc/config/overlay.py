"""Live changes on top of the configuration file: accounts, connectors and routes added, changed
or removed through the admin API, and what they make of a `Config`.

Three kinds of item, each an array of tables of the file, named by one of its keys:

| kind       | file               | named by  |
|------------|--------------------|-----------|
| accounts   | `[[accounts]]`     | system_id |
| connectors | `[[smpp.client]]`  | name      |
| routes     | `[[routing.routes]]` | prefix  |

A `Change` is one of: ADD (the item's whole table: it replaces a file item of that name), SET
(the keys to change of an item, None to put a key back to its default: only those keys win
over the file, so a file edit to another key of the item still takes effect) or REMOVE.

`apply(config, changes)` builds each changed item from its table with the file's own rules
(schema.build: the same messages, naming the same keys) and checks the rules across items
(names used twice, a route to a connector that does not exist), so a change the file could not
hold is refused with the file's words. Problems come back with their full key path; `relative`
shortens those of the changed item to the item's own keys.

What it is not: storage (app/live_store.py keeps the changes) or applying a configuration to
the running node (app/reload.py).
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from opensmsc.config.dump import to_table
from opensmsc.config.load import key_text
from opensmsc.config.model import AccountConfig, Config, RouteConfig, SmppClientConfig
from opensmsc.config.rules import KeyPath, Problem
from opensmsc.config.schema import build, describe

__all__ = [
    "KINDS",
    "Change",
    "ChangeOp",
    "Kind",
    "apply_changes",
    "conflicts",
    "find_item",
    "item_problems",
    "items_of",
    "redundant",
    "relative_key",
    "set_body",
]


@dataclass(frozen=True, slots=True)
class Kind:
    """One kind of item: where its array sits in the file and which key names an item."""

    name: str
    key: str
    path: tuple[str, ...]
    item: type[Any]
    # Keys of which an item gives at most one (its secret): setting one drops the others.
    exclusive: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        """`accounts`, `smpp.client`, `routing.routes`: the key path of the array."""
        return ".".join(self.path)


KINDS: Final[Mapping[str, Kind]] = {
    "accounts": Kind(
        "accounts",
        "system_id",
        ("accounts",),
        AccountConfig,
        ("password_hash", "password_file", "password_env"),
    ),
    "connectors": Kind(
        "connectors",
        "name",
        ("smpp", "client"),
        SmppClientConfig,
        ("password", "password_file", "password_env"),
    ),
    "routes": Kind("routes", "prefix", ("routing", "routes"), RouteConfig),
}


class ChangeOp(enum.Enum):
    ADD = "add"
    SET = "set"
    REMOVE = "remove"


@dataclass(frozen=True, slots=True)
class Change:
    """One live change of one item (module doc)."""

    kind: str
    name: str
    op: ChangeOp
    body: Mapping[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """`accounts[esme1]`, `smpp.client[c1]`, `routing.routes[44]`."""
        return f"{KINDS[self.kind].label}[{self.name}]"


def items_of(config: Config, kind: Kind) -> tuple[Any, ...]:
    """The items of `kind` in `config`, in file order."""
    value: Any = config
    for part in kind.path:
        value = getattr(value, part)
    return tuple(value)


def _with_items(config: Config, kind: Kind, items: Sequence[Any]) -> Config:
    if kind.name == "accounts":
        return dataclasses.replace(config, accounts=tuple(items))
    if kind.name == "connectors":
        return dataclasses.replace(
            config, smpp=dataclasses.replace(config.smpp, client=tuple(items))
        )
    return dataclasses.replace(
        config, routing=dataclasses.replace(config.routing, routes=tuple(items))
    )


def find_item(config: Config, kind: Kind, name: str) -> tuple[int, Any] | None:
    """(index, item) of the item called `name`, or None."""
    for index, item in enumerate(items_of(config, kind)):
        if getattr(item, kind.key) == name:
            return index, item
    return None


def _merged(base: Mapping[str, Any], keys: Mapping[str, Any]) -> dict[str, Any]:
    table = dict(base)
    for key, value in keys.items():
        if value is None:
            table.pop(key, None)
        else:
            table[key] = value
    return table


def _build_item(
    kind: Kind, table: Mapping[str, Any], base_dir: Path
) -> tuple[Any | None, list[Problem]]:
    return build(kind.item, table, base_dir=base_dir)


def apply_changes(
    config: Config, changes: Iterable[Change], *, base_dir: Path
) -> tuple[Config, list[Problem]]:
    """`config` with `changes` made (module doc): (the new configuration, []) or (`config`,
    every problem, keys as full paths). A SET of an item that is not there changes nothing."""
    problems: list[Problem] = []
    current = config
    for change in changes:
        kind = KINDS[change.kind]
        items = list(items_of(current, kind))
        found = find_item(current, kind, change.name)
        index = len(items) if found is None else found[0]
        if change.op is ChangeOp.REMOVE:
            if found is not None:
                del items[index]
            current = _with_items(current, kind, items)
            continue
        if change.op is ChangeOp.ADD:
            table = dict(change.body)
        elif found is None:
            continue  # the file no longer has it: the change waits for an item of that name
        else:
            table = _merged(to_table(found[1]), change.body)
        item, item_problems_ = _build_item(kind, table, base_dir)
        if item is None:
            problems.extend(Problem((*kind.path, index, *p.key), p.message) for p in item_problems_)
            continue
        if found is None:
            items.append(item)
        else:
            items[index] = item
        current = _with_items(current, kind, items)
    if problems:
        return config, problems
    across = [*current.problems()]
    across.extend(Problem(("routing", *p.key), p.message) for p in current.routing.problems())
    if across:
        return config, across
    return current, []


def item_problems(kind: Kind, body: Mapping[str, Any], name: str | None) -> list[Problem]:
    """What is wrong with a change's body before it is built: the naming key's type, and a
    SET (`name` given) that would rename its item."""
    value = body.get(kind.key)
    if name is None:
        if not isinstance(value, str):
            got = "nothing" if value is None else repr(value)
            return [Problem((kind.key,), f"expected {describe(str)} naming the item, got {got}")]
        return []
    if kind.key in body and value != name:
        return [Problem((kind.key,), "names the item and cannot change: remove it and add another")]
    return []


def set_body(kind: Kind, body: Mapping[str, Any]) -> dict[str, Any]:
    """A SET's keys as stored: a new secret (password_hash...) drops the item's other ones."""
    keys = dict(body)
    given = [key for key in kind.exclusive if keys.get(key) is not None]
    if given:
        for key in kind.exclusive:
            keys.setdefault(key, None)
    return keys


def relative_key(problem: Problem, kind: Kind, index: int | None) -> str:
    """The problem's key as the item's own key (`window`) when it is one of the item at
    `index` of `kind`, else the full key path (`routing.routes[0].route`)."""
    key: KeyPath = problem.key
    prefix = (*kind.path, index)
    if index is not None and key[: len(prefix)] == prefix and len(key) > len(prefix):
        return key_text(key[len(prefix) :])
    return key_text(key)


def redundant(file_config: Config, change: Change, *, base_dir: Path) -> bool:
    """Whether the file already says what `change` says (the operator folded it back): the
    change can be forgotten."""
    kind = KINDS[change.kind]
    found = find_item(file_config, kind, change.name)
    if change.op is ChangeOp.REMOVE:
        return found is None
    if found is None:
        return False
    table = (
        dict(change.body) if change.op is ChangeOp.ADD else _merged(to_table(found[1]), change.body)
    )
    item, _ = _build_item(kind, table, base_dir)
    return bool(item == found[1])


def conflicts(old_file: Config, new_file: Config, changes: Iterable[Change]) -> list[str]:
    """Where a new file changed what a live change also changes: one sentence each; the live
    change wins (docs/live-config.md)."""
    found: list[str] = []
    for change in changes:
        kind = KINDS[change.kind]
        before = find_item(old_file, kind, change.name)
        after = find_item(new_file, kind, change.name)
        old_item = None if before is None else before[1]
        new_item = None if after is None else after[1]
        if old_item == new_item:
            continue
        if change.op is not ChangeOp.SET:
            verb = "added" if change.op is ChangeOp.ADD else "removed"
            found.append(f"{change.label}: changed in the file, but it was {verb} live: live wins")
            continue
        if new_item is None:
            found.append(
                f"{change.label}: removed from the file, but changed live: the live change "
                "waits for an item of that name"
            )
            continue
        old_table = {} if old_item is None else to_table(old_item)
        new_table = to_table(new_item)
        for key in sorted(change.body):
            if old_table.get(key) != new_table.get(key):
                found.append(f"{change.label}.{key}: changed in the file and live: live wins")
    return found
