"""The `opensmsc` command line: parses the verb and its options, then hands over.

Verbs: `version` (or `--version`), `check-config FILE`, `run [--config FILE]`, `decode HEX...`,
`encode TEXT`, `hash-password`, `api-key create ACCOUNT`, `route explain` (route.py), `policy
show|reload` (policy.py: the running node's policy), and the simulated network's
`subscribers`, `lookup`, `inbox`, `mo` (network.py), and `imps` (imps.py: a demo IMPS client on a
simulated handset), `probe HOST:PORT` (probe.py: what answers on a port), `status` (status.py:
the running node at a glance), `cluster status` (cluster.py: the nodes of a cluster), `tail
SESSION` (tail.py: one ESME session's PDUs), the running node's live configuration:
`accounts`, `connectors`, `routes`, `config export` and `reload` (config_admin.py), `trace ID`
(trace.py: a message's trail), and its messages: `messages list|show|cancel|retry|expire`
(messages.py) and `send` (send.py). Each verb lives in its own
module and returns the exit status; this module only knows their names and options. Exit
statuses: 0 ok, 1 the verb failed, 2 a configuration error (STYLE §4) or a usage error
(argparse's own convention).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Sequence

from opensmsc import __version__


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="opensmsc", description="An SMSC and SMS gateway speaking SMPP 3.3, 3.4 and 5.0."
    )
    parser.add_argument("--version", action="version", version=f"opensmsc {__version__}")
    sub = parser.add_subparsers(dest="verb", required=True, metavar="VERB")
    sub.add_parser("version", help="print the version")

    check = sub.add_parser("check-config", help="check a configuration file: every error, or ok")
    check.add_argument("file", metavar="FILE")

    run = sub.add_parser("run", help="run the SMSC")
    run.add_argument(
        "--config", metavar="FILE", help="the TOML configuration (default: the embedded defaults)"
    )

    decode = sub.add_parser("decode", help="decode SMPP PDUs given in hex, field by field")
    decode.add_argument(
        "hex",
        nargs="*",
        metavar="HEX",
        help="PDU octets in hex; spaces and colons allowed; several PDUs may follow each other "
        "(default or '-': read stdin)",
    )
    decode.add_argument("--json", action="store_true", help="print JSON")
    decode.add_argument(
        "--lenient", action="store_true", help="accept what lenient peers send (codec lenient mode)"
    )

    encode = sub.add_parser("encode", help="show how a text is encoded and split into SMS parts")
    encode.add_argument("text", nargs="+", metavar="TEXT", help="the message ('-': read stdin)")
    encode.add_argument(
        "--alphabet",
        choices=("gsm7", "latin1", "ia5", "ucs2", "binary"),
        help="force an alphabet (binary: TEXT is hex); default: the cheapest that fits",
    )
    encode.add_argument(
        "--concat",
        choices=("udh8", "udh16", "sar", "payload"),
        default="udh8",
        help="how a long message is split (default udh8)",
    )
    encode.add_argument(
        "--port", metavar="DEST[:ORIG]", help="application port addressing (16-bit, IEI 0x05)"
    )
    encode.add_argument(
        "--national",
        metavar="LANG[,LANG]",
        default="",
        help="allowed national language tables: turkish, spanish, portuguese, ... or ids",
    )
    encode.add_argument("--reference", type=int, default=1, help="concat reference (default 1)")
    encode.add_argument("--max-parts", type=int, default=255, help="at most this many parts")
    encode.add_argument("--json", action="store_true", help="print JSON")

    sub.add_parser(
        "hash-password",
        help="print the argon2 hash of a password (read from stdin) for password_hash",
    )
    api_key = sub.add_parser("api-key", help="manage the HTTP API's keys")
    api_key_verbs = api_key.add_subparsers(dest="api_key_verb", required=True, metavar="ACTION")
    create = api_key_verbs.add_parser(
        "create", help="print a new API key for ACCOUNT, once, and the hash to configure"
    )
    create.add_argument("account", metavar="ACCOUNT", help="the account's system_id")
    create.add_argument("--config", metavar="FILE", help="check that the account exists there")

    route = sub.add_parser("route", help="routing policy tools")
    route_sub = route.add_subparsers(dest="route_verb", required=True, metavar="VERB")
    explain = route_sub.add_parser(
        "explain", help="the decision for a message and every rule that matched or did not"
    )
    explain.add_argument("--config", required=True, metavar="FILE", help="the configuration")
    explain.add_argument("--account", required=True, help="the submitting account (system_id)")
    explain.add_argument("--from", dest="source", required=True, metavar="F", help="source addr")
    explain.add_argument("--to", dest="destination", required=True, metavar="T", help="destination")
    explain.add_argument("--text", help="the message text (content rules)")
    explain.add_argument("--service-type", default="", help="the service_type")
    explain.add_argument("--priority", type=int, default=0, help="priority_flag (default 0)")
    explain.add_argument("--at", metavar="TIME", help="ISO 8601 time of the decision (default now)")

    from opensmsc.cli.policy import add_parser as add_policy_parser

    add_policy_parser(sub)  # the running node's policy, through its HTTP admin API

    from opensmsc.cli.network import add_parsers as add_network_parsers

    add_network_parsers(sub)  # subscribers, lookup, inbox, mo: the node's HTTP admin API

    from opensmsc.cli.config_admin import add_parsers as add_config_parsers

    add_config_parsers(sub)  # accounts, connectors, routes, config export, reload: live config

    from opensmsc.cli.trace import add_parser as add_trace_parser

    add_trace_parser(sub)  # a message's trail, through the node's HTTP admin API
    from opensmsc.cli.messages import add_parser as add_messages_parser

    add_messages_parser(sub)  # list, show, cancel, retry, expire: through the admin API

    from opensmsc.cli.send import add_parser as add_send_parser

    add_send_parser(sub)  # messages sent as an account, through the admin API

    from opensmsc.cli.imps import add_parser as add_imps_parser

    add_imps_parser(sub)  # the demo IMPS client on a simulated handset, through the admin API

    from opensmsc.cli.status import add_parser as add_status_parser
    from opensmsc.cli.tail import add_parser as add_tail_parser

    add_status_parser(sub)  # the running node at a glance, through its HTTP admin API
    from opensmsc.cli.cluster import add_parser as add_cluster_parser

    add_cluster_parser(sub)  # the nodes of a cluster, through one node's admin API
    add_tail_parser(sub)  # one ESME session's PDUs, live

    probe = sub.add_parser(
        "probe", help="what answers on HOST:PORT: TCP, TLS, an SMPP peer, a policy server"
    )
    probe.add_argument("target", metavar="HOST:PORT", help="e.g. smsc.example.net:2775")
    probe.add_argument(
        "--tls",
        choices=("auto", "on", "off"),
        default="auto",
        help="try a TLS handshake first (auto, the default), insist on it (on), or not (off)",
    )
    probe.add_argument("--system-id", help="bind_transceiver as this account (then unbind)")
    probe.add_argument("--password", default="", help="the password for --system-id")
    probe.add_argument(
        "--timeout", type=float, default=5.0, metavar="S", help="seconds per step (default 5)"
    )
    probe.add_argument("--json", action="store_true", help="print JSON")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one verb; returns the process exit status."""
    parser = build_parser()
    args, rest = parser.parse_known_args(argv)
    if rest and getattr(args, "keys", None) is not None and all("=" in r for r in rest):
        # `accounts add NAME --password-file F KEY=VALUE...`: KEY=VALUE after an option.
        args.keys = [*args.keys, *rest]
    elif rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    try:
        return _verb(args)
    except BrokenPipeError:
        # `opensmsc decode ... | head`: the reader has gone, which is no error of ours. Python
        # would complain again flushing stdout at exit: point it at /dev/null first.
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def _verb(args: argparse.Namespace) -> int:
    match args.verb:
        case "version":
            print(f"opensmsc {__version__}")
            return 0
        case "check-config":
            from opensmsc.cli.runner import check_config

            return check_config(args.file)
        case "run":
            from opensmsc.cli.runner import run

            return run(args.config)
        case "decode":
            from opensmsc.cli.decode import decode_command

            return decode_command(args.hex, as_json=args.json, lenient=args.lenient)
        case "encode":
            from opensmsc.cli.encode import encode_main

            return encode_main(
                args.text,
                alphabet=args.alphabet,
                concat=args.concat,
                port=args.port,
                national=args.national,
                reference=args.reference,
                max_parts=args.max_parts,
                as_json=args.json,
            )
        case "hash-password":
            from opensmsc.cli.password import hash_password

            return hash_password()
        case "api-key":
            from opensmsc.cli.api_key import create_api_key

            return create_api_key(args.account, args.config)
        case "route":
            from opensmsc.cli.route import explain_command

            return explain_command(
                args.config,
                account=args.account,
                source=args.source,
                destination=args.destination,
                text=args.text,
                service_type=args.service_type,
                priority=args.priority,
                at=args.at,
            )
        case "policy":
            from opensmsc.cli.policy import policy_main

            return policy_main(args)
        case "trace":
            from opensmsc.cli.trace import trace_main

            return trace_main(args)
        case "imps":
            from opensmsc.cli.imps import imps_main

            return imps_main(args)
        case "status":
            from opensmsc.cli.status import status_main

            return status_main(args)
        case "cluster":
            from opensmsc.cli.cluster import cluster_main

            return cluster_main(args)
        case "tail":
            from opensmsc.cli.tail import tail_main

            return tail_main(args)
        case "probe":
            from opensmsc.cli.probe import probe_main

            return probe_main(
                args.target,
                tls=args.tls,
                system_id=args.system_id,
                password=args.password,
                timeout=args.timeout,
                as_json=args.json,
            )
        case "messages":
            from opensmsc.cli.messages import messages_main

            return messages_main(args)
        case "send":
            from opensmsc.cli.send import send_main

            return send_main(args)
        case "accounts" | "connectors" | "routes" | "config" | "reload":
            from opensmsc.cli.config_admin import config_main

            return config_main(args)
        case "subscribers" | "lookup" | "inbox" | "mo":
            from opensmsc.cli.network import network_main

            return network_main(args)
    raise AssertionError(f"unhandled verb {args.verb}")  # argparse allows only the verbs above
