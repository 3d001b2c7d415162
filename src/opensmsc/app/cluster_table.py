"""One small table of a cluster's own in PostgreSQL, beside the messages: a connection on the
cluster's schema that makes the table when missing and opens again when it was lost.

What this is for (issue 14): the live configuration (app/live_shared.py) and the opt-outs
(app/opt_outs_shared.py) each keep one table that every node reads. Both need the same things:
synchronous_commit on (a change is on disk before it is answered), the schema and the table made
once even when nodes start together (under an advisory lock: IF NOT EXISTS alone can still
collide in the catalog), one statement at a time on the connection, one more try on a
connection lost since the last call, and PostgreSQL away reported as StoreUnavailable naming
where it looked. They are not the message store's tables, so the store's migrations do not
make them.
"""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg

from opensmsc.app.engine import safe_dsn
from opensmsc.errors import StoreUnavailable

__all__ = ["ClusterTable"]


class ClusterTable:
    """The table `name` made by `create` (its CREATE TABLE IF NOT EXISTS) in `schema`; `what`
    names its content in errors ("live changes", "opt-outs")."""

    def __init__(self, dsn: str, schema: str, name: str, create: str, *, what: str) -> None:
        self._dsn = dsn
        self._schema = schema
        self._create = create
        self._what = what
        self._conn: asyncpg.Connection | None = None
        self._lock = asyncio.Lock()  # one statement at a time on the connection
        self.location = f"PostgreSQL schema {schema}, table {name}"

    async def run(self, method: str, query: str, *args: Any) -> Any:
        """`connection.<method>(query, *args)` ("fetch", "execute"). Raises StoreUnavailable."""
        async with self._lock:
            for attempt in (1, 2):  # a connection lost since the last call: once more, anew
                try:
                    conn = await self._connection()
                    return await getattr(conn, method)(query, *args)
                except (OSError, asyncpg.PostgresConnectionError, asyncpg.InterfaceError) as exc:
                    self._drop()
                    if attempt == 2:
                        raise self._unavailable(exc) from exc
                except asyncpg.PostgresError as exc:
                    raise self._unavailable(exc) from exc
        raise AssertionError("unreachable")

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            await conn.close()

    def _unavailable(self, exc: Exception) -> StoreUnavailable:
        return StoreUnavailable(
            f"{self._what} in PostgreSQL {safe_dsn(self._dsn)} (schema {self._schema}) "
            f"cannot be reached: {exc}"
        )

    async def _connection(self) -> asyncpg.Connection:
        if self._conn is None or self._conn.is_closed():
            conn = await asyncpg.connect(
                self._dsn, timeout=5.0, server_settings={"synchronous_commit": "on"}
            )
            try:
                schema = '"' + self._schema.replace('"', '""') + '"'
                async with conn.transaction():
                    await conn.execute(
                        "SELECT pg_advisory_xact_lock(hashtext($1))", f"opensmsc-tables:{schema}"
                    )
                    await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
                    await conn.execute(f"SET LOCAL search_path TO {schema}")
                    await conn.execute(self._create)
                await conn.execute(f"SET search_path TO {schema}")
            except BaseException:
                await conn.close()
                raise
            self._conn = conn
        return self._conn

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.terminate()
