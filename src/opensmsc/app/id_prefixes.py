"""Message-id prefixes for the nodes of a cluster: taken from PostgreSQL, so no two nodes (or
two runs of one) ever hand out the same message_id.

What this is for (issue 14): a message_id is an 8-digit run prefix and an 8-digit counter
(engine/ids.py). One node makes its prefix unique with a file in its data folder; nodes sharing
one store need one allocator for all. The row `id_prefix.last` in the cluster's schema is raised
atomically (`UPDATE ... RETURNING`: the row lock orders concurrent starts) to at least the
current second, as the file does for one node, so ids stay time-ordered and never repeat, clock
steps back included. Each node holds one spare prefix beside the one in use: when 4 billion ids
use a prefix up (`MessageIds` rolls over, on the event loop, without waiting), the spare is
taken at once and the next spare reserved in the background.

The table is the id allocator's, made here (IF NOT EXISTS, under an advisory lock), beside the
live changes' table (app/live_shared.py), not by the message store's migrations.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Final

import asyncpg

from opensmsc.errors import StartupError, StoreUnavailable

__all__ = ["ClusterPrefixes"]

log = logging.getLogger(__name__)

_TABLE: Final = """
CREATE TABLE IF NOT EXISTS id_prefix (
    only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    last bigint NOT NULL
)
"""
_RESERVE: Final = """
INSERT INTO id_prefix (only_row, last) VALUES (true, $1)
ON CONFLICT (only_row) DO UPDATE SET last = GREATEST(id_prefix.last + 1, $1)
RETURNING last
"""


class ClusterPrefixes:
    """Prefixes reserved in PostgreSQL (module doc). `open` reserves the first and a spare;
    `take` (MessageIds' roll-over) hands out the spare and reserves the next."""

    def __init__(self, dsn: str, schema: str, seconds: Callable[[], int]) -> None:
        self._dsn = dsn
        self._schema = schema
        self._seconds = seconds
        self._spare: int | None = None
        self._refill: asyncio.Task[None] | None = None

    async def open(self) -> int:
        """The first prefix for this run (a spare kept too). Raises StartupError."""
        try:
            first = await self._reserve()
            self._spare = await self._reserve()
        except StoreUnavailable as exc:
            raise StartupError(f"message-id prefix: {exc}") from exc
        return first

    def take(self) -> int:
        """The spare prefix, now in use; the next spare is reserved in the background."""
        spare, self._spare = self._spare, None
        if spare is None:
            # 4 billion ids since the last roll-over and the refill has not come back: refuse
            # rather than risk an id another node holds.
            raise StoreUnavailable("no message-id prefix reserved: PostgreSQL unreachable")
        self._refill = asyncio.get_running_loop().create_task(self._refill_spare())
        return spare

    async def close(self) -> None:
        if self._refill is not None and not self._refill.done():
            self._refill.cancel()

    async def _refill_spare(self) -> None:
        while self._spare is None:
            try:
                self._spare = await self._reserve()
            except StoreUnavailable as exc:
                log.error("message-id prefix not reserved (trying again): %s", exc)
                await asyncio.sleep(1.0)

    async def _reserve(self) -> int:
        schema = '"' + self._schema.replace('"', '""') + '"'
        try:
            conn = await asyncpg.connect(
                self._dsn, timeout=5.0, server_settings={"synchronous_commit": "on"}
            )
        except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
            raise StoreUnavailable(f"PostgreSQL: {exc}") from exc
        try:
            async with conn.transaction():
                await conn.execute(
                    "SELECT pg_advisory_xact_lock(hashtext($1))", f"opensmsc-ids:{schema}"
                )
                await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
                await conn.execute(f"SET LOCAL search_path TO {schema}")
                await conn.execute(_TABLE)
                last = await conn.fetchval(_RESERVE, self._seconds() & 0xFFFFFFFF)
        except (OSError, asyncpg.PostgresError) as exc:
            raise StoreUnavailable(f"PostgreSQL: {exc}") from exc
        finally:
            await conn.close()
        return int(last) & 0xFFFFFFFF
