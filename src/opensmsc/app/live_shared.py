"""Where a cluster keeps the admin API's live changes: one table in PostgreSQL that every node
reads, so accounts, connectors and routes changed through any node are one truth for all.

What this is for (issue 14): with `[cluster] postgres`, a live change is written here (committed,
synchronous_commit on) before the node that took it applies it and answers, exactly as the
single node writes `data_dir/live-config.sqlite3` (app/live_store.py). The other nodes learn of it
from a hint on the bus and read the table again (app/live_config.py, `LiveConfig.sync`); a
periodic read covers a lost hint. The table `live_change` lives in the cluster's schema (`[cluster]
name`) beside the messages; it is the configuration's, not the message store's, so it is made
by app/cluster_table.py when missing, not by the store's migrations.

What it is not: what the changes mean (config/overlay.py) or applying them (app/reload.py).
"""

from __future__ import annotations

import json
from typing import Final

from opensmsc.app.cluster_table import ClusterTable
from opensmsc.config import Change, ChangeOp

__all__ = ["SharedLiveChanges"]

_TABLE: Final = """
CREATE TABLE IF NOT EXISTS live_change (
    kind text NOT NULL,
    name text NOT NULL,
    op text NOT NULL CHECK (op IN ('add', 'set', 'remove')),
    body jsonb NOT NULL,
    changed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (kind, name)
)
"""


class SharedLiveChanges:
    """The live changes of a cluster (module doc). PostgreSQL away is StoreUnavailable (the
    change is then refused)."""

    def __init__(self, dsn: str, schema: str) -> None:
        self._table = ClusterTable(dsn, schema, "live_change", _TABLE, what="live changes")

    @property
    def location(self) -> str:
        return self._table.location

    async def changes(self) -> list[Change]:
        """Every change kept, oldest first."""
        rows = await self._table.run(
            "fetch", "SELECT kind, name, op, body FROM live_change ORDER BY changed_at, kind, name"
        )
        return [
            Change(row["kind"], row["name"], ChangeOp(row["op"]), json.loads(row["body"]))
            for row in rows
        ]

    async def put(self, change: Change) -> None:
        await self._table.run(
            "execute",
            "INSERT INTO live_change (kind, name, op, body) VALUES ($1, $2, $3, $4::jsonb) "
            "ON CONFLICT (kind, name) DO UPDATE SET op = excluded.op, body = excluded.body, "
            "changed_at = now()",
            change.kind,
            change.name,
            change.op.value,
            json.dumps(dict(change.body), sort_keys=True),
        )

    async def forget(self, kind: str, name: str) -> None:
        await self._table.run(
            "execute", "DELETE FROM live_change WHERE kind = $1 AND name = $2", kind, name
        )

    async def close(self) -> None:
        await self._table.close()
