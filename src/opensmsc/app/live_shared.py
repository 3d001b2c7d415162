"""Where a cluster keeps the admin API's live changes: one table in PostgreSQL that every node
reads, so accounts, connectors and routes changed through any node are one truth for all.

What this is for (issue 14): with `[cluster] postgres`, a live change is written here (committed,
synchronous_commit on) before the node that took it applies it and answers, exactly as the
single node writes `data_dir/live-config.sqlite3` (app/live_store.py). The other nodes learn of it
from a hint on the bus and read the table again (app/live_config.py, `LiveConfig.sync`); a
periodic read covers a lost hint. The table `live_change` lives in the cluster's schema (`[cluster]
name`) beside the messages; it is the configuration's, not the message store's, so it is made
here (IF NOT EXISTS), not by the store's migrations.

What it is not: what the changes mean (config/overlay.py) or applying them (app/reload.py).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any, Final

import asyncpg

from opensmsc.app.engine import safe_dsn
from opensmsc.config import Change, ChangeOp
from opensmsc.errors import StoreUnavailable

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
    """The live changes of a cluster (module doc). Every call opens its connection again if the
    last one was lost; PostgreSQL away is StoreUnavailable (the change is then refused)."""

    def __init__(self, dsn: str, schema: str) -> None:
        self._dsn = dsn
        self._schema = schema
        self._conn: asyncpg.Connection | None = None
        self._lock = asyncio.Lock()  # one statement at a time on the connection

    @property
    def location(self) -> str:
        return f"PostgreSQL schema {self._schema}, table live_change"

    async def changes(self) -> list[Change]:
        """Every change kept, oldest first."""
        rows = await self._run(
            "fetch", "SELECT kind, name, op, body FROM live_change ORDER BY changed_at, kind, name"
        )
        return [
            Change(row["kind"], row["name"], ChangeOp(row["op"]), json.loads(row["body"]))
            for row in rows
        ]

    async def put(self, change: Change) -> None:
        await self._run(
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
        await self._run(
            "execute", "DELETE FROM live_change WHERE kind = $1 AND name = $2", kind, name
        )

    async def close(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            await conn.close()

    async def _run(self, method: str, query: str, *args: Any) -> Any:
        async with self._lock:
            for attempt in (1, 2):  # a connection lost since the last call: once more, anew
                try:
                    conn = await self._connection()
                    return await getattr(conn, method)(query, *args)
                except (OSError, asyncpg.PostgresConnectionError, asyncpg.InterfaceError) as exc:
                    await self._drop()
                    if attempt == 2:
                        raise StoreUnavailable(
                            f"live changes in PostgreSQL {safe_dsn(self._dsn)} (schema "
                            f"{self._schema}) cannot be reached: {exc}"
                        ) from exc
                except asyncpg.PostgresError as exc:
                    raise StoreUnavailable(
                        f"live changes in PostgreSQL {safe_dsn(self._dsn)} (schema "
                        f"{self._schema}) cannot be reached: {exc}"
                    ) from exc
        raise AssertionError("unreachable")

    async def _connection(self) -> asyncpg.Connection:
        if self._conn is None or self._conn.is_closed():
            conn = await asyncpg.connect(
                self._dsn,
                timeout=5.0,
                server_settings={"synchronous_commit": "on"},
            )
            try:
                schema = '"' + self._schema.replace('"', '""') + '"'
                # Nodes starting together: IF NOT EXISTS alone can still collide in the catalog.
                async with conn.transaction():
                    await conn.execute(
                        "SELECT pg_advisory_xact_lock(hashtext($1))", f"opensmsc-live:{schema}"
                    )
                    await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
                    await conn.execute(f"SET search_path TO {schema}")
                    await conn.execute(_TABLE)
                await conn.execute(f"SET search_path TO {schema}")
            except BaseException:
                await conn.close()
                raise
            self._conn = conn
        return self._conn

    async def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.terminate()
