"""`opensmsc policy show|reload`: the running node's routing policy, through its HTTP admin API
(`GET /v1/policy`, `POST /v1/policy/reload`; http/routes/policy.py).

`reload` has the node read `[routing] policy_file`, its price list and lists again and use them
from the next decision, as SIGHUP does; with an error the node keeps the policy in force and
this prints each error with its file, line and key, exit status 1. The node is found as the
network verbs find it (cli/network.py): `--url`, else `[http]` of `--config FILE`, else
http://127.0.0.1:8775.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from typing import Any, TextIO

from opensmsc.cli.admin_client import NodeError, add_node_arguments
from opensmsc.cli.network import admin_call, admin_url

__all__ = ["add_parser", "policy_main"]


def add_parser(sub: Any) -> None:
    """Add `policy` to the `opensmsc` sub-parsers (cli/main.py)."""
    policy = sub.add_parser("policy", help="the running node's routing policy: show, reload")
    actions = policy.add_subparsers(dest="action", required=True, metavar="ACTION")
    for name, text in (
        ("show", "what the policy in force holds"),
        ("reload", "read the policy file, prices and lists again (as SIGHUP does)"),
    ):
        action = actions.add_parser(name, help=text)
        add_node_arguments(action)


def policy_main(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    try:
        base = admin_url(args)
        if args.action == "reload":
            body = admin_call("POST", base, "/v1/policy/reload")
        else:
            body = admin_call("GET", base, "/v1/policy")
    except NodeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(body, indent=2), file=out)
    else:
        print(_text(body, reloaded=args.action == "reload"), file=out)
    return 0


def _text(body: Mapping[str, Any], *, reloaded: bool) -> str:
    lines = [
        f"{'reloaded' if reloaded else 'policy'} {body.get('source')}: {body.get('rules')} rules, "
        f"{body.get('prices')} prices, {body.get('velocity_rules')} velocity rules, "
        f"{body.get('sender_id_rules')} sender-ID rules",
        f"default routes: {', '.join(body.get('default_routes') or []) or '-'}",
        f"opt-out short codes: {', '.join(body.get('opt_out_short_codes') or []) or '-'}; "
        f"{body.get('opted_out')} handsets opted out",
    ]
    if body.get("reloaded_at"):
        lines.append(f"last reloaded: {body['reloaded_at']}")
    return "\n".join(lines)
