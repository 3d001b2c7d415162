"""`[cluster]`: this node as one of several behind a load balancer, sharing a store of record
(issue 14).

Absent, the node is the embedded single node on SQLite in `[node] data_dir`, unchanged. Present,
`node_id` names this node (the messages it claims carry it; leases, membership, connector slots),
`postgres` the store of record (in the PostgreSQL schema `name`, instead of SQLite in the data
folder) and `nats` the bus between the nodes; `name` prefixes every NATS subject, stream and KV
bucket and names the PostgreSQL schema, so two clusters (or two tests) can share one PostgreSQL
and one NATS server.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from opensmsc.config.rules import Match, Seconds

# KV bucket names allow only these (nats-py VALID_BUCKET_RE), a subject token must not hold '.',
# and a PostgreSQL identifier is at most 63 octets: letters, digits, '_' and '-', 48 at most.
ClusterName = Annotated[
    str, Match(r"[A-Za-z0-9][A-Za-z0-9_-]{0,47}", "a name of 1 to 48 letters, digits, '_', '-'")
]
PostgresDsn = Annotated[
    str,
    Match(
        r"postgres(ql)?://\S*",
        "a PostgreSQL URL (postgresql://[user[:password]@]host[:port]/database)",
    ),
]
NatsUrl = Annotated[
    str, Match(r"(nats|tls)://[^\s,]{1,500}(,(nats|tls)://[^\s,]{1,500})*", "a nats:// URL")
]


@dataclass(frozen=True, slots=True, kw_only=True)
class ClusterConfig:
    """`[cluster]` (module doc)."""

    node_id: ClusterName
    name: ClusterName = "opensmsc"
    postgres: PostgresDsn | None = None
    nats: NatsUrl = "nats://127.0.0.1:4222"  # several servers: comma-separated
    # A node whose membership record is this old is dead: its connector slots and bind slots
    # expire with it and other nodes take them. Refreshed every second, so a few seconds.
    node_ttl: Seconds = 5.0
