"""`opensmsc tail SESSION`: the PDUs of one bound ESME session as they pass, both ways, each
decoded field by field as `opensmsc decode` shows it (cli/decode.py), from the node's
`GET /v1/admin/sessions/{id}/tail` (server-sent events, http/routes/admin_status.py).

SESSION is a session id from `opensmsc status` (smpp-12), or a system_id with one bound
session. The node never slows a session for a slow reader: when this one falls behind, frames
are dropped and the count is printed. It ends when the session ends (exit 0), with Ctrl-C
(exit 0), or when the node cannot be reached or has no such session (exit 1). `--json`
prints each PDU as a JSON line (the API's event data).

What it is not: a capture to a file (the node keeps no copy of what it shows).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator, Mapping
from typing import Any, TextIO

from opensmsc.cli.admin_client import NodeError, add_node_arguments, client_from_args, quote
from opensmsc.cli.decode import decode_frame, render_text
from opensmsc.cli.describe import status_name

__all__ = ["add_parser", "events", "render_pdu", "tail_main"]


def add_parser(sub: Any) -> None:
    """Add `tail` to the `opensmsc` sub-parsers (cli/main.py)."""
    parser = sub.add_parser("tail", help="live PDUs of one bound ESME session, decoded")
    parser.add_argument(
        "session", metavar="SESSION", help="a session id (opensmsc status), or a system_id"
    )
    add_node_arguments(parser)


def tail_main(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    try:
        client = client_from_args(args)
        lines = client.lines(f"/v1/admin/sessions/{quote(args.session)}/tail")
        for name, data in events(lines):
            if name == "pdu":
                text = json.dumps(data, ensure_ascii=False) if args.json else render_pdu(data)
                print(text, file=out, flush=True)
            elif name == "dropped":
                print(f"# {data.get('dropped')} PDUs dropped so far: too slow", file=out)
            elif name == "end":
                print(f"# session ended: {data.get('reason')}", file=out, flush=True)
                return 0
    except NodeError as exc:
        print(f"opensmsc tail: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    except BrokenPipeError:
        raise  # `| head`: main() treats it as no error
    except OSError as exc:  # the connection broke while streaming
        print(f"opensmsc tail: the stream broke: {exc}", file=sys.stderr)
        return 1
    print("opensmsc tail: the node closed the stream", file=sys.stderr)
    return 1


def events(lines: Iterator[str]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """(event name, its JSON data) of a server-sent event stream; comments are skipped."""
    name, data = "message", ""
    for line in lines:
        if not line:
            if data:
                yield name, json.loads(data)
            name, data = "message", ""
        elif line.startswith(":"):
            continue
        elif line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("data:"):
            data += line[5:].strip()


def render_pdu(pdu: Mapping[str, Any]) -> str:
    """A title line (time, direction, command, sequence, status), then the fields as
    `opensmsc decode` shows them."""
    arrow = "<-" if pdu.get("direction") == "in" else "->"
    status = int(pdu.get("status", 0))
    title = (
        f"{pdu.get('at')} {arrow} {pdu.get('direction')} {pdu.get('command')}"
        f" seq={pdu.get('sequence')}" + (f" {status_name(status)}" if status else "")
    )
    try:
        frame = bytes.fromhex(str(pdu.get("hex", "")))
    except ValueError:
        return f"{title}\n  (no frame)"
    dump = decode_frame(frame, index=1, offset=0, strict=False)
    # Without decode's own title: ours says where the PDU went and when.
    lines = [title, *render_text(dump).split("\n")[1:]]
    if pdu.get("redacted"):
        lines.append("  (message content redacted: [logging] show_short_message = false)")
    return "\n".join(lines)
