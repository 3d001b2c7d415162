"""`opensmsc cluster status`: the nodes of a cluster, from one node's `GET /v1/admin/cluster`
(http/routes/admin_cluster.py): each live node with its addresses, its bound sessions per
account (receivers / transmitters), the upstream connectors it holds and its load.

`--json` prints the API's answer. The node is found as every admin verb finds it
(cli/admin_client.py: --url, --config, --token); any node of the cluster answers for all.

`opensmsc cluster local` (cli/local_cluster.py, `make cluster`) starts a cluster on this
machine.

What it is not: a health check of NATS or PostgreSQL (each node's /ready says what it needs).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from typing import Any, TextIO

from opensmsc.cli.admin_client import NodeError, add_node_arguments, client_from_args

__all__ = ["add_parser", "cluster_main", "render"]


def add_parser(sub: Any) -> None:
    """Add `cluster` to the `opensmsc` sub-parsers (cli/main.py)."""
    parser = sub.add_parser("cluster", help="the cluster's nodes, their sessions and load")
    verbs = parser.add_subparsers(dest="cluster_verb", required=True, metavar="VERB")
    status = verbs.add_parser("status", help="the live nodes, their sessions, connectors, load")
    add_node_arguments(status)
    from opensmsc.cli.local_cluster import add_arguments as add_local_arguments

    local = verbs.add_parser(
        "local", help="N nodes on this machine behind HAProxy, on the local PostgreSQL and NATS"
    )
    add_local_arguments(local)


def cluster_main(args: argparse.Namespace, out: TextIO | None = None) -> int:
    if args.cluster_verb == "local":
        from opensmsc.cli.local_cluster import local_main

        return local_main(args)
    out = out or sys.stdout
    try:
        body = client_from_args(args).call("GET", "/v1/admin/cluster")
    except NodeError as exc:
        if exc.status == 404:
            print("opensmsc cluster: this node runs alone (no [cluster])", file=sys.stderr)
        else:
            print(f"opensmsc cluster: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(body, indent=2) if args.json else render(body), file=out)
    return 0


def render(body: Mapping[str, Any]) -> str:
    """The cluster as a text table, a line per node and an indented line per account."""
    nodes = body.get("nodes", [])
    lines = [
        f"cluster {body.get('name')}  seen from {body.get('node_id')}  bus {body.get('bus')}"
        f"  nodes {len(nodes)}",
        "",
        f"{'node':<16} {'msg/s':>8} {'queue':>6}  {'connectors':<24} addresses",
    ]
    for node in nodes:
        addresses = " ".join(f"{k}={v}" for k, v in sorted(node.get("addresses", {}).items()))
        connectors = ",".join(node.get("connectors", ())) or "-"
        lines.append(
            f"{node.get('node_id', '?'):<16} {node.get('msg_per_s', 0):>8.1f}"
            f" {node.get('queue', 0):>6}  {connectors:<24} {addresses}"
        )
        for system_id, counts in node.get("sessions", {}).items():
            lines.append(
                f"  {system_id:<14} receivers {counts.get('receivers', 0)}"
                f"  transmitters {counts.get('transmitters', 0)}"
            )
    return "\n".join(lines)
