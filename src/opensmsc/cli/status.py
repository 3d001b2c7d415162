"""`opensmsc status`: the running node in a terminal, from `GET /v1/admin/status`
(http/routes/admin_status.py): uptime, messages per second in and out, the queue by state,
the bound ESME sessions (mode, address, window use, throughput), the connectors (state, last
error, window use), receipts and webhooks waiting, and the errors answered, by status.

`--json` prints the API's answer; `--watch` redraws every second until Ctrl-C. The node is
found as every admin verb finds it (cli/admin_client.py: --url, --config, --token).

What it is not: a metrics collector (Prometheus scrapes /metrics) or the web console.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Mapping, Sequence
from typing import Any, TextIO

from opensmsc.cli.admin_client import NodeError, add_node_arguments, client_from_args

__all__ = ["add_parser", "render", "status_main"]

_CLEAR = "\x1b[H\x1b[2J"  # cursor home, clear screen


def add_parser(sub: Any) -> None:
    """Add `status` to the `opensmsc` sub-parsers (cli/main.py)."""
    parser = sub.add_parser("status", help="the running node: rates, queue, sessions, connectors")
    add_node_arguments(parser)
    parser.add_argument("--watch", action="store_true", help="redraw every second (Ctrl-C ends)")


def status_main(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    try:
        client = client_from_args(args)
        while True:
            body = client.call("GET", "/v1/admin/status")
            text = json.dumps(body, indent=2) if args.json else render(body)
            if args.watch:
                out.write(_CLEAR if out.isatty() else "\n")
            print(text, file=out, flush=True)
            if not args.watch:
                return 0
            time.sleep(1.0)
    except NodeError as exc:
        print(f"opensmsc status: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0


def render(body: Mapping[str, Any]) -> str:
    """The status as text tables."""
    rates = body.get("rates", {})
    lines = [
        f"node {body.get('node')} (opensmsc {body.get('version')})  up {_duration(body)}"
        f"  since {body.get('started_at')}" + ("  DRAINING" if body.get("draining") else ""),
        f"messages/s  in {rates.get('in_per_s', 0):.1f}  out {rates.get('out_per_s', 0):.1f}"
        "  (last 10 s)",
    ]
    queue = body.get("queue", {})
    lines.append(
        "queue       " + ("  ".join(f"{state} {count}" for state, count in queue.items()) or "-")
    )
    lines.append(
        f"waiting     receipts {body.get('receipts_waiting', 0)}"
        f"  webhooks {body.get('webhooks_waiting', 0)}"
    )
    errors = body.get("errors", {})
    lines.append(
        "errors      " + ("  ".join(f"{name} {count}" for name, count in errors.items()) or "none")
    )
    sessions = body.get("sessions", [])
    lines.append("")
    lines.append(f"ESME sessions ({len(sessions)})")
    if sessions:
        lines.extend(
            _table(
                (
                    "ID",
                    "SYSTEM_ID",
                    "MODE",
                    "ADDRESS",
                    "DOOR",
                    "WINDOW",
                    "MSG/S",
                    "SUBMITTED",
                    "DELIVERED",
                    "BOUND_AT",
                ),
                [
                    (
                        s["id"],
                        s["system_id"],
                        s["mode"],
                        s["address"],
                        s["door"],
                        f"{s['window_used']}/{s['window']}",
                        f"{s['throughput_per_s']:.1f}",
                        str(s["submitted"]),
                        str(s["delivered"]),
                        s.get("bound_at") or "",
                    )
                    for s in sessions
                ],
            )
        )
    connectors = body.get("connectors", [])
    lines.append("")
    lines.append(f"connectors ({len(connectors)})")
    if connectors:
        lines.extend(
            _table(
                ("NAME", "STATE", "WINDOW", "SENT", "FAILED", "LAST_ERROR"),
                [
                    (
                        c["name"],
                        c["state"],
                        f"{c['window_used']}/{c['window']}",
                        str(c["sent"]),
                        str(c["failed"]),
                        c.get("last_error") or "",
                    )
                    for c in connectors
                ],
            )
        )
    return "\n".join(lines)


def _duration(body: Mapping[str, Any]) -> str:
    seconds = int(body.get("uptime_s", 0))
    days, seconds = divmod(seconds, 86_400)
    hours, seconds = divmod(seconds, 3600)
    minutes, seconds = divmod(seconds, 60)
    text = f"{hours:02d}:{minutes:02d}:{seconds:02d}"
    return f"{days}d {text}" if days else text


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows, strict=True)]
    return [
        "  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in (header, *rows)
    ]
