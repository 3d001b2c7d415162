"""`[cluster]`: this node as one of several sharing a store of record (issue 14). Absent: the
embedded single node on SQLite in `[node] data_dir`, as ever."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from opensmsc.config.rules import Match

# Part of every name the cluster makes (PostgreSQL schema, NATS streams and subjects): letters,
# digits, "_" and "-" only, which each of those takes as it is.
ClusterName = Annotated[
    str, Match(r"[A-Za-z0-9_-]{1,48}", 'a name of 1 to 48 letters, digits, "_" or "-"')
]
PostgresDsn = Annotated[
    str,
    Match(
        r"postgres(ql)?://\S*",
        "a PostgreSQL URL (postgresql://[user[:password]@]host[:port]/database)",
    ),
]


@dataclass(frozen=True, slots=True, kw_only=True)
class ClusterConfig:
    """`[cluster]`. `node_id` names this node (unique in the cluster: the messages it claims
    carry it). `postgres`: the store of record, in the PostgreSQL schema `name`, instead of
    SQLite in the data folder."""

    node_id: ClusterName
    name: ClusterName = "opensmsc"
    postgres: PostgresDsn | None = None
