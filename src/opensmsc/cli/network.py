"""CLI verbs of the simulated network, talking to a running node's HTTP admin API:

- `opensmsc subscribers list|add|set|remove` — the HLR's subscriber table;
- `opensmsc lookup MSISDN` — an HLR lookup (serving network, ported, reachable);
- `opensmsc inbox MSISDN` — what a handset received (`--delete` empties it, freeing memory);
- `opensmsc mo FROM TO TEXT` — a handset sends a message (to a short code of an ESME account,
  or to another handset).

The node is found at `--url`, else at the `[http]` address of `--config FILE`, else at
http://127.0.0.1:8775 (the default `[http]`). Output is text for people, `--json` for scripts.
Exit status: 0 done, 1 the node refused (its RFC 9457 problem is printed) or is unreachable.

What it is not: the API itself (http/routes/network.py). It uses only the standard library's
HTTP client, so the command needs nothing the node does not.
"""

from __future__ import annotations

import argparse
import json
import sys
import typing
import urllib.parse
from typing import Any, Final, TextIO

from opensmsc.cli.admin_client import (
    DEFAULT_URL,
    AdminClient,
    NodeError,
    add_node_arguments,
    client_from_args,
    quote,
)
from opensmsc.config import SubscriberStateName

__all__ = ["DEFAULT_URL", "NodeError", "add_parsers", "admin_call", "admin_url", "network_main"]

VERBS: Final = ("subscribers", "lookup", "inbox", "mo")

_STATES: Final = typing.get_args(SubscriberStateName)  # the configuration's own list


# ---- argument parsing -----------------------------------------------------------------------


def _common(parser: argparse.ArgumentParser) -> None:
    add_node_arguments(parser)


def _fields(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--state", choices=_STATES)
    parser.add_argument("--imsi")
    parser.add_argument("--home-network", metavar="MCCMNC")
    parser.add_argument("--msc-address", metavar="GT")
    parser.add_argument("--ported-to", metavar="MCCMNC", help="'' (empty) clears it with set")
    parser.add_argument("--serving-network", metavar="MCCMNC", help="roaming: the visited network")
    parser.add_argument("--latency", metavar="SPEC", help="fixed:MS, uniform:LO:HI, normal:MEAN:SD")
    parser.add_argument("--failure-probability", type=float, metavar="P")
    parser.add_argument("--absent-diagnostic", type=int, metavar="N")


def add_parsers(sub: Any) -> None:
    """Add the network verbs to the `opensmsc` sub-parsers (cli/main.py)."""
    subscribers = sub.add_parser("subscribers", help="list, add, change or remove subscribers")
    actions = subscribers.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = actions.add_parser("list", help="list the subscriber table")
    listing.add_argument("--offset", type=int, default=0)
    listing.add_argument("--limit", type=int, default=100)
    _common(listing)
    add = actions.add_parser("add", help="add a subscriber (other fields: its prefix default)")
    add.add_argument("msisdn", metavar="MSISDN")
    _fields(add)
    _common(add)
    change = actions.add_parser(
        "set", help="change a listed subscriber (e.g. --state absent); add creates one"
    )
    change.add_argument("msisdn", metavar="MSISDN")
    _fields(change)
    _common(change)
    remove = actions.add_parser("remove", help="remove a subscriber")
    remove.add_argument("msisdn", metavar="MSISDN")
    _common(remove)

    lookup = sub.add_parser("lookup", help="HLR lookup of a number")
    lookup.add_argument("msisdn", metavar="MSISDN")
    _common(lookup)

    inbox = sub.add_parser("inbox", help="show a handset's inbox")
    inbox.add_argument("msisdn", metavar="MSISDN")
    inbox.add_argument(
        "--delete", action="store_true", help="delete its messages (frees memory: alerts)"
    )
    _common(inbox)

    mo = sub.add_parser("mo", help="send a message from a handset (MO)")
    mo.add_argument("originator", metavar="FROM", help="the sending handset's number")
    mo.add_argument("destination", metavar="TO", help="a short code or another handset")
    mo.add_argument("text", nargs="+", metavar="TEXT")
    mo.add_argument("--port", type=int, help="application port (16-bit port addressing)")
    mo.add_argument("--flash", action="store_true", help="class 0")
    mo.add_argument("--alphabet", choices=("gsm7", "ucs2", "latin1", "ia5", "binary"))
    _common(mo)


# ---- running --------------------------------------------------------------------------------


def network_main(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Run one network verb; returns the exit status."""
    out = out or sys.stdout
    try:
        base = _base_url(args)
        match args.verb:
            case "subscribers":
                return _subscribers(args, base, out)
            case "lookup":
                body = _call("GET", base, f"/v1/hlr/{quote(args.msisdn)}")
                _print(args, body, out, _lookup_text)
            case "inbox":
                path = f"/v1/network/handsets/{quote(args.msisdn)}/inbox"
                if args.delete:
                    body = _call("DELETE", base, path)
                    _print(args, body, out, lambda b: f"deleted {b['deleted']} message(s)")
                else:
                    _print(args, _call("GET", base, path), out, _inbox_text)
            case "mo":
                request: dict[str, Any] = {"to": args.destination, "text": " ".join(args.text)}
                if args.port is not None:
                    request["port"] = args.port
                    request["originator_port"] = args.port
                if args.flash:
                    request["flash"] = True
                if args.alphabet:
                    request["alphabet"] = args.alphabet
                path = f"/v1/network/handsets/{quote(args.originator)}/mo"
                body = _call("POST", base, path, request)
                _print(args, body, out, lambda b: f"sent {b['parts']} part(s) to {b['to']}")
            case _:
                raise AssertionError(f"not a network verb: {args.verb}")
    except NodeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def _subscribers(args: argparse.Namespace, base: AdminClient, out: TextIO) -> int:
    match args.action:
        case "list":
            query = urllib.parse.urlencode({"offset": args.offset, "limit": args.limit})
            body = _call("GET", base, f"/v1/network/subscribers?{query}")
            _print(args, body, out, _list_text)
        case "add":
            fields = _field_values(args)
            body = _call("POST", base, "/v1/network/subscribers", {"msisdn": args.msisdn, **fields})
            _print(args, body, out, _subscriber_text)
        case "set":
            fields = _field_values(args)
            if not fields:
                raise NodeError("nothing to change: give at least one option (e.g. --state)")
            path = f"/v1/network/subscribers/{quote(args.msisdn)}"
            try:
                body = _call("PATCH", base, path, fields)
            except NodeError as exc:
                if exc.status == 404 and "not in the subscriber table" in str(exc):
                    raise NodeError(
                        f"Unknown subscriber: {args.msisdn} is not in the subscriber table; "
                        f"create it with: opensmsc subscribers add {args.msisdn}",
                        404,
                    ) from exc
                raise
            _print(args, body, out, _subscriber_text)
        case "remove":
            _call("DELETE", base, f"/v1/network/subscribers/{quote(args.msisdn)}")
            if not args.json:
                print(f"removed {args.msisdn}", file=out)
    return 0


def _field_values(args: argparse.Namespace) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for name in (
        "state",
        "imsi",
        "home_network",
        "msc_address",
        "ported_to",
        "serving_network",
        "latency",
        "failure_probability",
        "absent_diagnostic",
    ):
        value = getattr(args, name)
        if value is None:
            continue
        if name in ("ported_to", "serving_network") and value == "":
            value = None  # clears it
        fields[name] = value
    return fields


def _base_url(args: argparse.Namespace) -> AdminClient:
    return client_from_args(args)


def _call(method: str, node: AdminClient, path: str, body: dict[str, Any] | None = None) -> Any:
    return node.call(method, path, body)


# ---- text output ----------------------------------------------------------------------------


def _print(args: argparse.Namespace, body: Any, out: TextIO, text: Any) -> None:
    if args.json:
        print(json.dumps(body, indent=2, ensure_ascii=False), file=out)
    else:
        print(text(body), file=out)


def _subscriber_text(s: dict[str, Any]) -> str:
    extra = []
    if s.get("ported_to"):
        extra.append(f"ported to {s['ported_to']}")
    if s.get("serving_network"):
        extra.append(f"roaming in {s['serving_network']}")
    tail = f" ({', '.join(extra)})" if extra else ""
    return (
        f"{s['msisdn']:<17} {s['state']:<24} imsi {s['imsi']:<15} "
        f"home {s['home_network']:<6} msc {s['msc_address']}{tail}"
    )


def _list_text(body: dict[str, Any]) -> str:
    lines = [_subscriber_text(s) for s in body["subscribers"]]
    shown = len(lines)
    lines.append(f"{shown} shown of {body['total']} listed")
    return "\n".join(lines)


def _text(value: Any) -> str:
    """A field for people: "-" when the node gave none."""
    return "-" if value is None or value == "" else str(value)


def _lookup_text(r: dict[str, Any]) -> str:
    if not r["valid"] and r.get("state") is None:
        return f"{r['msisdn']}: invalid ({_text(r.get('error'))})"
    ported = f"yes, to {_text(r.get('ported_to'))}" if r["ported"] else "no"
    if r["ported"] and r.get("routing_number"):
        ported += f" (routing number {r['routing_number']})"
    lines = [
        f"{r['msisdn']}: {'reachable' if r['reachable'] else 'not reachable'}"
        + (f" ({r['error']}, MAP {r['error_code']})" if r.get("error") else ""),
        f"  network      {_text(r.get('mcc_mnc'))} (home {_text(r.get('home_mcc_mnc'))})",
        f"  ported       {ported}",
        f"  roaming      {'yes, in ' + _text(r.get('serving_mcc_mnc')) if r['roaming'] else 'no'}",
        f"  state        {_text(r.get('state'))}",
        f"  imsi         {_text(r.get('imsi'))}",
        f"  msc          {_text(r.get('msc_address'))}",
    ]
    return "\n".join(lines)


def _inbox_text(body: dict[str, Any]) -> str:
    memory = "full" if body["memory_full"] else "ok"
    lines = [
        f"{body['msisdn']}: {len(body['messages'])}/{body['capacity']} stored, memory {memory}"
    ]
    for kind, messages in (("", body["messages"]), ("flash ", body["flash"])):
        for m in messages:
            content = m["text"] if m["text"] is not None else f"<{m['data_hex']}>"
            parts = f" [{m['parts']} parts]" if m["parts"] > 1 else ""
            port = f" [port {m['port']['destination']}]" if m.get("port") else ""
            lines.append(
                f"  {kind}from {m['originator']} via {m['network']}{parts}{port}: {content}"
            )
    return "\n".join(lines)


# The other admin verbs (cli/policy.py) reach the node the same way.
admin_url = _base_url
admin_call = _call
