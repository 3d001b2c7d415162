"""A cluster's opt-outs: one table in PostgreSQL for every node, so a handset's STOP taken by one
node stops the messages every node sends it.

What this is for (issue 14, with issue 11's opt-out by MO): one node keeps its opt-outs in
`data_dir/opt_outs.sqlite3` (routing/opt_outs.py); nodes behind one load balancer take a
handset's MO wherever it lands and send its MT from any of them, so the pairs live in the
cluster's schema instead. The node that takes the MO writes the change (committed before the MO
is acknowledged, as the file is), applies it, and tells the others on the bus
(`<name>.policy.opt_out`, the change itself in the hint); each node also reads the whole table
again every `RESYNC` seconds, which covers a hint lost while NATS was away.

The table is the policy's, made here (IF NOT EXISTS, under an advisory lock), beside the live
changes' (app/live_shared.py), not by the message store's migrations.
"""

from __future__ import annotations

import asyncio
from typing import Any, Final

import asyncpg

from opensmsc.app.engine import safe_dsn
from opensmsc.errors import StoreUnavailable

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
        self._dsn = dsn
        self._schema = schema
        self._conn: asyncpg.Connection | None = None
        self._lock = asyncio.Lock()
        self.path = f"PostgreSQL schema {schema}, table opt_out"  # where, for log lines

    async def pairs(self) -> list[tuple[str, str]]:
        rows = await self._run("fetch", "SELECT handset, sender FROM opt_out")
        return [(row["handset"], row["sender"]) for row in rows]

    async def set(self, pair: tuple[str, str], out: bool) -> None:
        if out:
            await self._run(
                "execute",
                "INSERT INTO opt_out (handset, sender) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                *pair,
            )
        else:
            await self._run(
                "execute", "DELETE FROM opt_out WHERE handset = $1 AND sender = $2", *pair
            )

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            await conn.close()

    async def _run(self, method: str, query: str, *args: Any) -> Any:
        async with self._lock:
            for attempt in (1, 2):  # a connection lost since the last call: once more, anew
                try:
                    conn = await self._connection()
                    return await getattr(conn, method)(query, *args)
                except (OSError, asyncpg.PostgresConnectionError, asyncpg.InterfaceError) as exc:
                    conn, self._conn = self._conn, None
                    if conn is not None:
                        conn.terminate()
                    if attempt == 2:
                        raise StoreUnavailable(
                            f"opt-outs in PostgreSQL {safe_dsn(self._dsn)} (schema "
                            f"{self._schema}) cannot be reached: {exc}"
                        ) from exc
                except asyncpg.PostgresError as exc:
                    raise StoreUnavailable(
                        f"opt-outs in PostgreSQL {safe_dsn(self._dsn)} (schema "
                        f"{self._schema}) cannot be reached: {exc}"
                    ) from exc
        raise AssertionError("unreachable")

    async def _connection(self) -> asyncpg.Connection:
        if self._conn is None or self._conn.is_closed():
            conn = await asyncpg.connect(
                self._dsn, timeout=5.0, server_settings={"synchronous_commit": "on"}
            )
            try:
                schema = '"' + self._schema.replace('"', '""') + '"'
                async with conn.transaction():
                    await conn.execute(
                        "SELECT pg_advisory_xact_lock(hashtext($1))", f"opensmsc-opt:{schema}"
                    )
                    await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
                    await conn.execute(f"SET LOCAL search_path TO {schema}")
                    await conn.execute(_TABLE)
                await conn.execute(f"SET search_path TO {schema}")
            except BaseException:
                await conn.close()
                raise
            self._conn = conn
        return self._conn
