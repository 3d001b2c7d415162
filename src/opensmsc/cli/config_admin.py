"""`opensmsc accounts|connectors|routes list|add|set|remove|enable|disable`, `opensmsc config
export` and `opensmsc reload`: the running node's live configuration, through its HTTP admin
API (http/routes/admin_config.py).

An item is named by its system_id (accounts), name (connectors) or prefix (routes); its other
keys are `KEY=VALUE` arguments, the keys of its TOML table in the configuration file:

    opensmsc accounts add esme9 --password-file pw.txt window=20 bind_modes=transmitter
    opensmsc connectors add c2 host=smsc.example.net port=2775 system_id=gw password=secret
    opensmsc routes add 4477 route=c2
    opensmsc accounts set esme9 throughput=50 allowed_networks=10.0.0.0/8,192.168.0.0/16
    opensmsc accounts set esme9 throughput=   # back to the default

A VALUE is read as its key's type in the file says: text as it is, a number or true/false as
TOML reads it, an array as a TOML array or comma-separated items. The node checks the change
with the file's own rules and answers with the file's messages, naming the key. An account's
password is read from `--password-file` or asked for (never on the command line), hashed here
(argon2, as `opensmsc hash-password` does) and sent as its password_hash; it is never printed.

Changes are kept by the node across restarts, on top of the file; `config export` writes the
configuration in effect as TOML, to fold them back into the file (docs/live-config.md).
"""

from __future__ import annotations

import argparse
import enum
import getpass
import json
import sys
import tomllib
import types
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final, TextIO, Union

from opensmsc.accounts import hash_password
from opensmsc.cli.admin_client import NodeError, add_node_arguments, client_from_args, quote
from opensmsc.config import KINDS, Kind

__all__ = ["add_parsers", "config_main", "parse_assignments"]

_COLUMNS: Final[Mapping[str, tuple[str, ...]]] = {
    "accounts": ("system_id", "enabled", "source", "bind_modes", "max_binds", "throughput"),
    "connectors": ("name", "enabled", "source", "host", "port", "system_id", "bind", "window"),
    "routes": ("prefix", "route", "enabled", "source"),
}
_NAMED_BY: Final = {"accounts": "SYSTEM_ID", "connectors": "NAME", "routes": "PREFIX"}


def add_parsers(sub: Any) -> None:
    """Add `accounts`, `connectors`, `routes`, `config` and `reload` to the `opensmsc`
    sub-parsers (cli/main.py)."""
    for kind in KINDS:
        parser = sub.add_parser(kind, help=f"the running node's {kind}: list, add, set, remove")
        actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        named = _NAMED_BY[kind]
        listing = actions.add_parser("list", help=f"every {kind[:-1]} in effect")
        add_node_arguments(listing)
        add = actions.add_parser("add", help=f"add a {kind[:-1]}: {named} KEY=VALUE...")
        change = actions.add_parser("set", help=f"change keys of a {kind[:-1]}: KEY=VALUE...")
        for action in (add, change):
            action.add_argument("name", metavar=named)
            action.add_argument(
                "keys", nargs="*", metavar="KEY=VALUE", help="keys of its TOML table"
            )
            add_node_arguments(action)
        if kind == "accounts":
            add.add_argument(
                "--password-file", metavar="FILE", help="its password (else asked for)"
            )
            change.add_argument("--password-file", metavar="FILE", help="a new password")
            change.add_argument(
                "--new-password", action="store_true", help="ask for a new password"
            )
        for name, text in (
            ("remove", f"remove a {kind[:-1]}"),
            ("enable", f"enable a {kind[:-1]}"),
            ("disable", f"disable a {kind[:-1]} (kept, but not in use)"),
        ):
            action = actions.add_parser(name, help=text)
            action.add_argument("name", metavar=named)
            add_node_arguments(action)

    config = sub.add_parser("config", help="the running node's configuration: export")
    config_actions = config.add_subparsers(dest="action", required=True, metavar="ACTION")
    export = config_actions.add_parser(
        "export", help="the configuration in effect, live changes included, as TOML"
    )
    export.add_argument("-o", "--output", metavar="FILE", help="write it there (default: stdout)")
    add_node_arguments(export, json_flag=False)

    reload = sub.add_parser(
        "reload", help="have the node read its configuration file again (as SIGHUP does)"
    )
    add_node_arguments(reload)


def config_main(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Run one of the verbs above; 0, or 1 with the node's answer on stderr."""
    out = out or sys.stdout
    try:
        if args.verb == "reload":
            return _reload(args, out)
        if args.verb == "config":
            return _export(args, out)
        return _item_verb(args, out)
    except NodeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except _UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


class _UsageError(Exception):
    pass


def _item_verb(args: argparse.Namespace, out: TextIO) -> int:
    kind = KINDS[args.verb]
    client = client_from_args(args)
    base = f"/v1/admin/{kind.name}"
    action = args.action
    if action == "list":
        items = client.call("GET", base)["items"]
        if args.json:
            print(json.dumps(items, indent=2), file=out)
        else:
            _print_table(kind, items, out)
        return 0
    path = f"{base}/{quote(args.name)}"
    if action in ("remove", "enable", "disable"):
        if action == "remove":
            client.call("DELETE", path)
            print(f"removed {kind.label}[{args.name}]", file=out)
            return 0
        item = client.call("POST", f"{path}/{action}")
        return _done(args, f"{action}d {kind.label}[{args.name}]", item, out)
    body: dict[str, Any] = parse_assignments(kind, args.keys)
    password = _password(args, adding=action == "add")
    if password is not None:
        try:
            body["password_hash"] = hash_password(password)
        except ValueError as exc:
            raise _UsageError(f"password: {exc}") from exc
    if action == "add":
        body[kind.key] = args.name
        item = client.call("POST", base, body)
        return _done(args, f"added {kind.label}[{args.name}]", item, out)
    item = client.call("PATCH", path, body)
    return _done(args, f"changed {kind.label}[{args.name}]", item, out)


def _done(args: argparse.Namespace, text: str, item: Any, out: TextIO) -> int:
    if args.json:
        print(json.dumps(item, indent=2), file=out)
    else:
        print(text, file=out)
    return 0


def _password(args: argparse.Namespace, *, adding: bool) -> str | None:
    """The account password to set: from --password-file, asked for, or None (not changing
    it, or given as a password_hash / password_file / password_env key)."""
    if args.verb != "accounts":
        return None
    file = getattr(args, "password_file", None)
    if file:
        try:
            return Path(file).read_text(encoding="utf-8").strip("\r\n")
        except (OSError, UnicodeDecodeError) as exc:
            raise _UsageError(f"cannot read {file}: {exc}") from exc
    given = any(k.split("=", 1)[0] in KINDS["accounts"].exclusive for k in args.keys)
    if not (adding and not given) and not getattr(args, "new_password", False):
        return None
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    password = getpass.getpass(f"password for {args.name}: ")
    if getpass.getpass("again: ") != password:
        raise _UsageError("the passwords differ")
    return password


def parse_assignments(kind: Kind, assignments: Sequence[str]) -> dict[str, Any]:
    """`KEY=VALUE` arguments as the JSON body of a change: each VALUE read as its key's type
    in the configuration model says (module doc); an empty VALUE is null (the default)."""
    hints = typing.get_type_hints(kind.item, include_extras=True)
    body: dict[str, Any] = {}
    for assignment in assignments:
        key, equals, raw = assignment.partition("=")
        if not equals or not key:
            raise _UsageError(f"{assignment!r}: expected KEY=VALUE")
        body[key] = None if raw == "" else _value(hints.get(key), raw)
    return body


def _value(tp: object, raw: str) -> Any:
    base = _base(tp)
    if typing.get_origin(base) is tuple:
        if raw.startswith("["):
            return _toml(raw)
        item = typing.get_args(base)[0]
        return [_value(item, part.strip()) for part in raw.split(",") if part.strip()]
    if _is_text(base):
        return _toml(raw) if raw.startswith('"') else raw
    return _toml(raw)


def _base(tp: object) -> object:
    if typing.get_origin(tp) is typing.Annotated:
        tp = typing.get_args(tp)[0]
    if typing.get_origin(tp) in (Union, types.UnionType):
        options = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(options) == 1:
            return _base(options[0])
    return tp


def _is_text(tp: object) -> bool:
    if tp in (str, Path):
        return True
    if typing.get_origin(tp) in (Union, types.UnionType):  # a network: IPv4 or IPv6
        return True
    return isinstance(tp, type) and issubclass(tp, enum.Enum)


def _toml(raw: str) -> Any:
    """A TOML value, or the text itself when it is none (the node then says what it wanted)."""
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw


def _print_table(kind: Kind, items: Sequence[Mapping[str, Any]], out: TextIO) -> None:
    columns = _COLUMNS[kind.name]
    rows = [[_cell(item.get(column)) for column in columns] for item in items]
    widths = [max([len(c), *(len(r[i]) for r in rows)]) for i, c in enumerate(columns)]
    print("  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True)), file=out)
    for row in rows:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip(), file=out)
    if not items:
        print(f"(no {kind.name})", file=out)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ",".join(map(str, value)) or "-"
    return str(value)


def _export(args: argparse.Namespace, out: TextIO) -> int:
    text = client_from_args(args).text("/v1/admin/config.toml")
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
        print(f"written to {args.output}", file=sys.stderr)
    else:
        out.write(text)
    return 0


def _reload(args: argparse.Namespace, out: TextIO) -> int:
    report = client_from_args(args).call("POST", "/v1/admin/reload")
    if args.json:
        print(json.dumps(report, indent=2), file=out)
    elif report.get("reloaded"):
        print(f"reloaded; applied: {', '.join(report.get('applied') or []) or '-'}", file=out)
        pending = report.get("restart_needed") or []
        if pending:
            print(f"after a restart only: {', '.join(pending)}", file=out)
    errors = report.get("errors") or []
    for error in errors:
        print(f"error: {error}", file=sys.stderr)
    if not report.get("reloaded"):
        print("not reloaded: the node keeps the configuration it had", file=sys.stderr)
        return 1
    return 1 if errors else 0
