"""`[cluster]`: this node as one of several behind a load balancer (issue 14).

Absent, the node is the embedded single node on SQLite, unchanged. Present, `node_id` names this
node (leases, membership, connector slots) and `nats` the bus between the nodes; `name` prefixes
every NATS subject, stream and KV bucket (and the PostgreSQL schema), so two clusters (or two
tests) can share one NATS server.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from opensmsc.config.rules import Match, Seconds

# KV bucket names allow only these (nats-py VALID_BUCKET_RE), and a subject token must not
# hold '.', so the name and the node id are kept to letters, digits, '_' and '-'.
ClusterName = Annotated[
    str, Match(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}", "a name of letters, digits, '_', '-'")
]
NatsUrl = Annotated[
    str, Match(r"(nats|tls)://[^\s,]{1,500}(,(nats|tls)://[^\s,]{1,500})*", "a nats:// URL")
]


@dataclass(frozen=True, slots=True, kw_only=True)
class ClusterConfig:
    """`[cluster]`: the bus keys (node_id, nats, name, node_ttl)."""

    node_id: ClusterName
    nats: NatsUrl = "nats://127.0.0.1:4222"  # several servers: comma-separated
    name: ClusterName = "opensmsc"
    # A node whose membership record is this old is dead: its connector slots and bind slots
    # expire with it and other nodes take them. Refreshed every second, so a few seconds.
    node_ttl: Seconds = 5.0
