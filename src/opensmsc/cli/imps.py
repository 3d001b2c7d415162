"""`opensmsc imps ...`: a demo IMPS client that drives a simulated handset as a phone would
(the phone itself: cli/imps_phone.py), through a node's admin API.

Verbs: `login HANDSET USER [--password P] [--digest] [--cir]`, `logout HANDSET`,
`send HANDSET TO TEXT`, `presence HANDSET [--set available|away|busy] [--text T] [USER...]`,
`contacts HANDSET [add|remove USER]`, `subscribe HANDSET USER...`,
`block HANDSET [add|remove USER]`, `poll HANDSET`, and
`raw HANDSET TEXT` (PTS text sent as it is: for trying what the service answers to bad input).
Each prints what was sent (`> ...`) and every primitive that arrived on the handset (`< ...`,
one line each, decoded).

The client's own state (the session id, the last transaction id, segments of a primitive not
yet complete) is a small JSON file per handset in `--state-dir` (default: `imps-client` in the
data folder of `--config`, else ./data/imps-client). The node is found as the network verbs find
it (`--url`, `--config`, else http://127.0.0.1:8775). Exit status: 0 the answer came and said
success, 1 an error answer, no answer within `--wait` seconds, or the node refused.

This module only parses and dispatches: nothing of IMPS is imported until a verb runs.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, TextIO

from opensmsc.cli.admin_client import NodeError, add_node_arguments
from opensmsc.cli.network import admin_call, admin_url
from opensmsc.config import ConfigError, load

if TYPE_CHECKING:
    from opensmsc.cli.imps_phone import DemoPhone
    from opensmsc.imps import Primitive, Value

__all__ = ["add_parser", "imps_main", "run_verb"]

DEFAULT_SHORT_CODE: Final = "3590"
DEFAULT_LIST: Final = "friends"  # the contact list the demo client keeps its contacts in


def add_parser(sub: Any) -> None:
    """Add `opensmsc imps ...` to the `opensmsc` sub-parsers (cli/main.py)."""
    imps = sub.add_parser("imps", help="a demo IMPS client on a simulated handset (PTS over SMS)")
    verbs = imps.add_subparsers(dest="imps_verb", required=True, metavar="ACTION")

    def verb(name: str, help_text: str) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = verbs.add_parser(name, help=help_text)
        parser.add_argument("handset", metavar="HANDSET", help="the handset's number")
        add_node_arguments(parser, json_flag=False)
        parser.add_argument("--state-dir", metavar="DIR", help="where the client keeps its state")
        parser.add_argument(
            "--short-code", default=None, help=f"the IMPS short code (default {DEFAULT_SHORT_CODE})"
        )
        parser.add_argument(
            "--wait", type=float, default=15.0, help="seconds to wait for an answer (default 15)"
        )
        return parser

    login = verb("login", "log in as USER (password login)")
    login.add_argument("user", metavar="USER")
    login.add_argument("--password", default=None, help="default: the user id")
    login.add_argument("--digest", action="store_true", help="4-way digest login (nonce)")
    login.add_argument(
        "--cir", action="store_true", help="be woken by CIR (port 3716) rather than pushed to"
    )
    verb("logout", "log out")
    send = verb("send", "send an instant message to a user id or an MSISDN")
    send.add_argument("to", metavar="TO")
    send.add_argument("text", nargs="+", metavar="TEXT")
    presence = verb("presence", "set your presence and/or get other users'")
    presence.add_argument("--set", choices=("available", "away", "busy"), dest="availability")
    presence.add_argument("--text", help="a status text")
    presence.add_argument("users", nargs="*", metavar="USER")
    contacts = verb("contacts", "show the contact list, or add / remove a contact")
    contacts.add_argument("action", nargs="?", choices=("add", "remove"))
    contacts.add_argument("user", nargs="?", metavar="USER")
    subscribe = verb("subscribe", "subscribe to users' presence (notifications pushed)")
    subscribe.add_argument("users", nargs="+", metavar="USER")
    block = verb("block", "show the blocked list, or block / unblock a user")
    block.add_argument("action", nargs="?", choices=("add", "remove"))
    block.add_argument("user", nargs="?", metavar="USER")
    verb("poll", "ask for what waits (Polling-Request) and show what arrived")
    raw = verb("raw", "send PTS text as it is and show the answer")
    raw.add_argument("text", nargs="+", metavar="TEXT")


# ---- running ------------------------------------------------------------------------------


def _state_dir(args: argparse.Namespace) -> Path:
    if args.state_dir:
        return Path(args.state_dir)
    if args.config:
        try:
            return load(args.config).node.data_dir / "imps-client"
        except ConfigError as exc:
            raise NodeError(str(exc)) from exc
    return Path("data") / "imps-client"


def _short_code(args: argparse.Namespace) -> str:
    if args.short_code:
        return str(args.short_code)
    if args.config:
        try:
            return load(args.config).imps.short_code
        except ConfigError as exc:
            raise NodeError(str(exc)) from exc
    return DEFAULT_SHORT_CODE


def phone_for(args: argparse.Namespace, out: TextIO) -> DemoPhone:
    from opensmsc.cli.imps_phone import DemoPhone

    base = admin_url(args)
    digits = "".join(ch for ch in args.handset if ch.isdigit())
    if not digits:
        raise NodeError(f"{args.handset!r} is not a number")

    def call(method: str, path: str, body: dict[str, Any] | None) -> Any:
        return admin_call(method, base, path, body)

    return DemoPhone(
        args.handset,
        call=call,
        state_path=_state_dir(args) / f"{digits}.json",
        short_code=_short_code(args),
        out=out,
        wait=args.wait,
    )


def imps_main(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Run one `opensmsc imps` verb; returns the exit status."""
    out = out or sys.stdout
    from opensmsc.cli.imps_phone import PhoneError

    try:
        phone = phone_for(args, out)
        return 0 if run_verb(phone, args) else 1
    except (NodeError, PhoneError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


def _needs_session(phone: DemoPhone) -> None:
    if phone.state.session is None:
        raise NodeError(
            f"{phone.handset} is not logged in: opensmsc imps login {phone.handset} USER"
        )


def run_verb(phone: DemoPhone, args: argparse.Namespace) -> bool:
    """Run the verb of `args` on `phone`: True when its answer said success."""
    from opensmsc.cli.imps_phone import AVAILABILITY

    verb = args.imps_verb
    if verb == "login":
        return phone.login(args.user, args.password or args.user, digest=args.digest, cir=args.cir)
    if verb == "raw":
        text = " ".join(args.text)
        phone._print(f"> {text}")
        phone.send_text(text)
        # exit 1 for an error answer, as every verb (docs/imps.md): scripts probing bad input
        # can tell a refusal from a success
        return phone.succeeded(phone.read_until(lambda p: True))
    if verb == "poll":
        if phone.state.session is None:
            phone.read()
            return True
        return phone.succeeded(phone.exchange(phone.request("PO")))
    _needs_session(phone)
    match verb:
        case "logout":
            answer = phone.exchange(phone.request("OR"))
            phone.state.session = None
            return phone.succeeded(answer)
        case "send":
            answer = phone.exchange(
                phone.request(
                    "SM",
                    ("UI", args.to),
                    ("MC", " ".join(args.text)),
                    ("CT", "text/plain"),
                    ("DR", "F"),
                )
            )
            return phone.succeeded(answer)
        case "presence":
            ok = True
            if args.availability or args.text is not None:
                attributes: list[Value] = [("OS", "T")]
                if args.availability:
                    attributes.append(("UA", AVAILABILITY[args.availability]))
                if args.text is not None:
                    attributes.append(("ST", args.text))
                ok = phone.succeeded(phone.exchange(phone.request("UP", ("UV", tuple(attributes)))))
            if args.users:
                ok = phone.succeeded(phone.exchange(phone.request("GP", ("UI", _list(args.users)))))
            elif not (args.availability or args.text is not None):
                user = phone.state.user or ""
                ok = phone.succeeded(phone.exchange(phone.request("GP", ("UI", user))))
            return ok
        case "contacts":
            # ListManage answers with the list's members (ML UN=...), so it also shows them.
            if args.action is None:
                return phone.succeeded(phone.exchange(phone.request("LM", ("CL", DEFAULT_LIST))))
            if not args.user:
                raise NodeError(f"contacts {args.action}: name the USER")
            nick: Value = (("", args.user),)  # (<nickname>,<user>), no nickname
            change = ("AN", nick) if args.action == "add" else ("RN", nick)
            answer = phone.exchange(phone.request("LM", ("CL", DEFAULT_LIST), change))
            if args.action == "add" and answer is not None and _status_of(answer) == 700:
                # No contact list yet (700): create it with the contact in it (CreateList).
                answer = phone.exchange(phone.request("CL", ("CL", DEFAULT_LIST), ("UN", nick)))
            return phone.succeeded(answer)
        case "subscribe":
            return phone.succeeded(phone.exchange(phone.request("SB", ("UI", _list(args.users)))))
        case "block":
            if args.action is None:
                return phone.succeeded(phone.exchange(phone.request("GB")))
            if not args.user:
                raise NodeError(f"block {args.action}: name the USER")
            name = "AB" if args.action == "add" else "RB"
            return phone.succeeded(phone.exchange(phone.request("BE", (name, (args.user,)))))
    raise AssertionError(f"not an imps verb: {verb}")


def _status_of(primitive: Primitive) -> int | None:
    value = primitive.get("ST")
    if isinstance(value, tuple):
        value = value[0] if value else None
    return int(value) if isinstance(value, str) and value.isdigit() else None


def _list(users: Sequence[str]) -> Value:
    return users[0] if len(users) == 1 else tuple(users)
