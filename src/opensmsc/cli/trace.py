"""`opensmsc trace ID`: a message's trail from the running node, as a timeline (issue 16).

Each line is an event: its time (UTC), the time since the previous event, its kind and its
detail as key=value pairs; `--json` prints the node's answer as it is
(GET /v1/admin/messages/{id}/trail, http/routes/admin_trail.py). ID is our message_id (the
one submit_sm_resp or the HTTP API gave), or a receipt's id. The node is found as every admin
verb finds it (cli/admin_client.py: --url, --config, --token).

    2026-12-07T18:20:01.120Z   +0.000s  accepted       account=test door=smpp ...
    2026-12-07T18:20:01.124Z   +0.004s  routed         action=route routes=network
    2026-12-07T18:20:01.125Z   +0.001s  attempt        route=network outcome=delivered ...

What it is not: a log reader; the trail is kept in the store with the message (and purged with
it after `[store] retention`).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from datetime import datetime
from typing import Any, TextIO

from opensmsc.cli.admin_client import NodeError, add_node_arguments, client_from_args, quote

__all__ = ["add_parser", "timeline", "trace_main"]


def add_parser(sub: Any) -> None:
    """Add `trace` to the `opensmsc` sub-parsers (cli/main.py)."""
    trace = sub.add_parser("trace", help="a message's trail on the running node: every event")
    trace.add_argument("message_id", metavar="ID", help="the message_id (or a receipt's id)")
    add_node_arguments(trace)


def trace_main(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    try:
        client = client_from_args(args)
        body = client.call("GET", f"/v1/admin/messages/{quote(args.message_id)}/trail")
    except NodeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(body, indent=2, ensure_ascii=False), file=out)
    else:
        print(timeline(body), file=out)
    return 0


def timeline(body: Mapping[str, Any]) -> str:
    """The trail document as text: a head line, then one line per event."""
    head = (
        f"message {body.get('id')} trace {body.get('trace_id')}: {body.get('direction', '')} "
        f"of {body.get('account')} from {body.get('source')} to {body.get('destination')}, "
        f"now {body.get('state')}"
    )
    if body.get("receipt_of"):
        head += f" (receipt of {body['receipt_of']})"
    lines = [head]
    previous: datetime | None = None
    events = body.get("events") or []
    for event in events:
        at = str(event.get("at", ""))
        moment = _parse(at)
        delta = 0.0 if previous is None or moment is None else (moment - previous).total_seconds()
        previous = moment or previous
        detail = " ".join(f"{k}={_value(v)}" for k, v in (event.get("detail") or {}).items())
        lines.append(f"{at:<28} {delta:+9.3f}s  {event.get('kind', ''):<14} {detail}".rstrip())
    if not events:
        lines.append("(no events: a message stored before this node kept trails)")
    return "\n".join(lines)


def _parse(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def _value(value: Any) -> str:
    if isinstance(value, list):
        return ",".join(_value(v) for v in value)
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    return json.dumps(text) if (" " in text or not text) else text
