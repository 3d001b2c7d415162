"""`opensmsc messages list|show|cancel|retry|expire`: the running node's messages, through its
admin API (http/routes/admin_messages.py).

- `list` prints the newest messages first as a table (id, submit time, account, from, to,
  state, attempts, route, error), filtered by --account, --source, --destination, --state
  (names, comma-separated), --since/--until (submit time: ISO 8601, UTC when no zone is
  given, or an age such as 30m, 2h, 1d); --limit rows (fetched a page at a time).
- `show ID` prints one message field by field (its text redacted unless the node's
  `[logging] show_short_message`).
- `cancel|retry|expire ID...` acts on each message and prints its state after; a refusal (a
  final message, an attempt under way, an upstream holding it) is printed on stderr.

The node is found as every admin verb finds it (cli/admin_client.py). Exit status: 0 done, 1
the node refused (its problem printed on stderr) or is unreachable, 2 a usage error.

What it is not: the API, or the engine's rules for each action (engine/operator.py).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Final, TextIO

from opensmsc.cli.admin_client import (
    AdminClient,
    NodeError,
    add_node_arguments,
    client_from_args,
    quote,
)

__all__ = ["add_parser", "messages_main", "parse_time"]

_PAGE: Final = 1000  # the API's largest page
_AGE: Final = re.compile(r"(\d+)([smhd])")
_UNITS: Final = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
ACTIONS: Final = ("cancel", "retry", "expire")


def add_parser(sub: Any) -> None:
    """Add `messages` to the `opensmsc` sub-parsers (cli/main.py)."""
    messages = sub.add_parser("messages", help="the node's messages: list, show, cancel, ...")
    verbs = messages.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = verbs.add_parser("list", help="the newest messages first, filtered")
    listing.add_argument("--account", help="of this account (system_id)")
    listing.add_argument("--source", help="from this sender, as submitted (+E.164, short code)")
    listing.add_argument("--destination", help="to this number (+E.164, or as submitted)")
    listing.add_argument("--state", help="in these states, comma-separated (e.g. enroute,unknown)")
    listing.add_argument("--since", help="submitted at or after: ISO 8601 (UTC if no zone) or 2h")
    listing.add_argument("--until", help="submitted before: ISO 8601 (UTC if no zone) or 30m")
    listing.add_argument("--limit", type=int, default=50, help="at most this many (default 50)")
    add_node_arguments(listing)
    show = verbs.add_parser("show", help="one message, field by field")
    show.add_argument("id", metavar="ID")
    add_node_arguments(show)
    for name, text in (
        ("cancel", "end open messages as DELETED (with their receipts), as cancel_sm does"),
        ("retry", "attempt messages waiting for a retry now"),
        ("expire", "end open messages as EXPIRED (with their receipts): give up on them"),
    ):
        action = verbs.add_parser(name, help=text)
        action.add_argument("ids", nargs="+", metavar="ID")
        add_node_arguments(action)


def parse_time(text: str, *, now: datetime | None = None) -> str:
    """An ISO 8601 time with its zone, from ISO 8601 (UTC when it has none) or an age ("2h":
    two hours ago). Raises ValueError."""
    match = _AGE.fullmatch(text.strip())
    if match:
        ago = timedelta(**{_UNITS[match[2]]: int(match[1])})
        return ((now or datetime.now(UTC)) - ago).isoformat()
    value = datetime.fromisoformat(text.strip())
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.isoformat()


def messages_main(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    try:
        client = client_from_args(args)
        if args.action == "list":
            return _list(client, args, out)
        if args.action == "show":
            message = client.call("GET", f"/v1/admin/messages/{quote(args.id)}")
            print(json.dumps(message, indent=2) if args.json else _details(message), file=out)
            return 0
    except NodeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return _act(client, args.action, args.ids, as_json=args.json, out=out)


def _list(client: AdminClient, args: argparse.Namespace, out: TextIO) -> int:
    if args.limit < 1:
        print("error: --limit must be at least 1", file=sys.stderr)
        return 2
    params: dict[str, Any] = {
        "account": args.account,
        "source": args.source,
        "destination": args.destination,
        "state": args.state,
    }
    for name in ("since", "until"):
        text = getattr(args, name)
        if text is not None:
            try:
                params[name] = parse_time(text)
            except ValueError:
                print(
                    f"error: --{name} {text!r}: not an ISO 8601 time nor an age (30m, 2h, 1d)",
                    file=sys.stderr,
                )
                return 2
    found: list[Mapping[str, Any]] = []
    cursor = None
    while len(found) < args.limit:
        page = client.call(
            "GET",
            "/v1/admin/messages",
            params={**params, "limit": min(_PAGE, args.limit - len(found)), "cursor": cursor},
        )
        found.extend(page["messages"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    if args.json:
        print(json.dumps({"messages": found, "next_cursor": cursor}, indent=2), file=out)
        return 0
    print(table(found), file=out)
    more = "; more with a larger --limit" if cursor is not None else ""
    print(f"{len(found)} message{'s' * (len(found) != 1)}{more}", file=out)
    return 0


_COLUMNS: Final = (
    ("ID", "id"),
    ("SUBMITTED (UTC)", "submitted_at"),
    ("ACCOUNT", "account"),
    ("FROM", "source"),
    ("TO", "destination"),
    ("STATE", "state"),
    ("TRIES", "attempts"),
    ("ROUTE", "route"),
    ("ERROR", "error"),
)


def _cell(key: str, message: Mapping[str, Any]) -> str:
    value = message.get(key)
    if value is None:
        return "-"
    if key == "submitted_at":
        return str(value)[:19].replace("T", " ")  # to the second: the table is for people
    if key == "id" and message.get("parts", 1) > 1:
        return f"{value} ({message.get('part')}/{message['parts']})"
    return str(value)


def table(messages: Sequence[Mapping[str, Any]]) -> str:
    """Messages as aligned columns under a header; the last column (the error) unpadded."""
    rows = [[title for title, _ in _COLUMNS]]
    rows += [[_cell(key, m) for _, key in _COLUMNS] for m in messages]
    widths = [max(len(row[i]) for row in rows) for i in range(len(_COLUMNS) - 1)]
    return "\n".join(
        "  ".join([*(cell.ljust(w) for cell, w in zip(row, widths, strict=False)), row[-1]])
        for row in rows
    )


_DETAIL_ORDER: Final = (
    "id",
    "account",
    "source",
    "destination",
    "state",
    "error",
    "attempts",
    "route",
    "upstream_message_id",
    "submitted_at",
    "scheduled_at",
    "next_attempt_at",
    "done_at",
    "expires_at",
    "parts",
    "part",
    "group",
    "receipt_requested",
    "receipt_id",
    "registered_delivery",
    "data_coding",
    "priority",
    "service_type",
    "client_reference",
    "callback_url",
    "text",
)


def _details(message: Mapping[str, Any]) -> str:
    keys = [k for k in _DETAIL_ORDER if k in message]
    keys += [k for k in message if k not in keys and k not in ("updated_at", "text_redacted")]
    width = max(len(k) for k in keys)
    lines = []
    for key in keys:
        value = message[key]
        if value is None or value == "":
            continue
        if isinstance(value, bool):
            value = "yes" if value else "no"
        lines.append(f"{key.replace('_', ' ').ljust(width)}  {value}")
    return "\n".join(lines)


def _act(
    client: AdminClient, action: str, ids: Sequence[str], *, as_json: bool, out: TextIO
) -> int:
    status = 0
    results = []
    for message_id in ids:
        try:
            message = client.call("POST", f"/v1/admin/messages/{quote(message_id)}/{action}")
        except NodeError as exc:
            print(f"error: {message_id}: {exc}", file=sys.stderr)
            status = 1
            continue
        results.append(message)
        if not as_json:
            print(f"{message['id']}  {message['state']}", file=out)
    if as_json:
        print(json.dumps(results, indent=2), file=out)
    return status
