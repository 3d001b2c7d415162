"""A cluster's opt-outs: one table in PostgreSQL for every node, so a handset's STOP taken by one
node stops the messages every node sends it.

What this is for (issue 14, with issue 11's opt-out by MO): one node keeps its opt-outs in
`data_dir/opt_outs.sqlite3` (routing/opt_outs.py); nodes behind one load balancer take a
handset's MO wherever it lands and send its MT from any of them, so the pairs live in the
cluster's schema instead. The node that takes the MO writes the change (committed before the MO
is acknowledged, as the file is), applies it, and tells the others on the bus
(`<name>.policy.opt_out`, the change itself in the hint); each node also reads the whole table
again every `RESYNC` seconds, which covers a hint lost while NATS was away.

The table is the policy's, made by app/cluster_table.py when missing, as the live changes'
(app/live_shared.py) is, not by the message store's migrations.
"""

from __future__ import annotations

from typing import Final

from opensmsc.app.cluster_table import ClusterTable

__all__ = ["RESYNC", "SharedOptOuts"]

RESYNC: Final = 30.0  # seconds between full reads of the table

_TABLE: Final = """
CREATE TABLE IF NOT EXISTS opt_out (
    handset text NOT NULL,
    sender text NOT NULL,
    since timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (handset, sender)
)
"""


class SharedOptOuts:
    """The opted-out (handset digits, sender or "*") pairs of a cluster (module doc). Raises
    StoreUnavailable when PostgreSQL cannot be reached or refuses."""

    def __init__(self, dsn: str, schema: str) -> None:
        self._table = ClusterTable(dsn, schema, "opt_out", _TABLE, what="opt-outs")
        self.path = self._table.location  # where, for log lines

    async def pairs(self) -> list[tuple[str, str]]:
        rows = await self._table.run("fetch", "SELECT handset, sender FROM opt_out")
        return [(row["handset"], row["sender"]) for row in rows]

    async def set(self, pair: tuple[str, str], out: bool) -> None:
        if out:
            await self._table.run(
                "execute",
                "INSERT INTO opt_out (handset, sender) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                *pair,
            )
        else:
            await self._table.run(
                "execute", "DELETE FROM opt_out WHERE handset = $1 AND sender = $2", *pair
            )

    async def close(self) -> None:
        await self._table.close()
