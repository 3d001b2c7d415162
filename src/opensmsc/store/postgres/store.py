"""`PostgresStore`: the Store protocol (api.py) on PostgreSQL, for nodes that share one store of
record (issue 14). One group-committing writer task on its own connection (writer.py), reads
on a small pool of connections.

Readers see every commit that returned before them (PostgreSQL's read committed). A read that
meets a lost connection is tried once more on another (reads change nothing); the pool opens
connections again as the server comes back, as the writer does, so the store recovers by
itself after an outage: meanwhile every call raises StoreUnavailable.

Several nodes may open the same schema: claims take rows with FOR UPDATE SKIP LOCKED and
record the node (`claimed_by`), changes lock the rows they check. What is not shared between
nodes is anything held in memory here.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any, Final, TypeVar

import asyncpg

from opensmsc.errors import StoreUnavailable
from opensmsc.smpp import MessageState
from opensmsc.store.answers import SavedAnswer
from opensmsc.store.api import MessageQuery, QueueDepths, Store, StoreStats
from opensmsc.store.model import (
    Change,
    Direction,
    Replacement,
    SchemaTooNew,
    StoredMessage,
    StoreError,
    to_us,
)
from opensmsc.store.postgres import statements as sql
from opensmsc.store.postgres.rows import SELECT, record, row
from opensmsc.store.postgres.schema import (
    COMMAND_TIMEOUT,
    OPEN,
    connect,
    migrate,
    server_settings,
)
from opensmsc.store.postgres.statements import DUE_WEBHOOKS
from opensmsc.store.postgres.writer import CONNECT_TIMEOUT, Op, Writer
from opensmsc.store.sqlite.statements import trail_texts
from opensmsc.store.trail import TrailEvent

__all__ = ["PostgresStore"]

T = TypeVar("T")

# check_writable trusts a successful commit this recent (seconds) and probes otherwise.
_TRUST_COMMIT: Final = 5.0
# What a lost or refused connection raises (the server restarting, or gone). A pooled
# connection cut mid-operation by a restart fails its release with InternalClientError
# ("cannot switch to state 15; another operation is in progress"), outside asyncpg's
# InterfaceError: unreachable as well, not a bug of ours.
_UNREACHABLE: Final = (
    OSError,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    asyncpg.exceptions.InternalClientError,
    TimeoutError,
)


class PostgresStore:
    """The Store protocol on PostgreSQL. Create with `await PostgresStore.open(dsn, ...)`;
    `close()` it."""

    def __init__(
        self,
        dsn: str,
        schema: str,
        node_id: str,
        writer: Writer,
        pool: asyncpg.Pool,
        *,
        trail: bool,
    ) -> None:
        self.dsn = dsn
        self.schema = schema
        self.node_id = node_id
        self._writer = writer
        self._pool = pool
        self._keep_trail = trail
        self._closed = False

    @classmethod
    async def open(
        cls,
        dsn: str,
        *,
        schema: str = "opensmsc",
        node_id: str = "",
        max_batch_ops: int = 2000,
        max_batch_delay: float = 0.0,
        readers: int = 4,
        trail: bool = True,
    ) -> PostgresStore:
        """Open the store in PostgreSQL schema `schema` of the database at `dsn` (created and
        migrated if needed). `node_id` is recorded on the messages this node claims. The
        batching and `trail` as SqliteStore.open. Raises SchemaTooNew, StoreUnavailable."""
        try:
            conn = await connect(dsn, schema, timeout=CONNECT_TIMEOUT)
        except _UNREACHABLE as exc:
            raise StoreUnavailable(f"cannot reach PostgreSQL: {exc}") from exc
        try:
            await migrate(conn, schema)
            pool = await asyncpg.create_pool(
                dsn,
                min_size=1,
                max_size=readers,
                timeout=CONNECT_TIMEOUT,
                command_timeout=COMMAND_TIMEOUT,
                server_settings=server_settings(schema),
            )
        except SchemaTooNew:
            await conn.close()
            raise
        except _UNREACHABLE as exc:
            conn.terminate()
            raise StoreUnavailable(f"PostgreSQL schema {schema}: {exc}") from exc
        except BaseException:
            conn.terminate()
            raise
        writer = Writer(dsn, schema, max_batch_ops=max_batch_ops, max_batch_delay=max_batch_delay)
        await writer.start(conn)
        return cls(dsn, schema, node_id, writer, pool, trail=trail)

    # ---- plumbing ---------------------------------------------------------------------------

    async def _write(
        self,
        fn: Callable[[asyncpg.Connection], Awaitable[T]] | None = None,
        *,
        rows: Sequence[Any] = (),
        changes: Sequence[sql.Prepared] | None = None,
    ) -> T:
        if self._closed:
            raise StoreUnavailable("store closed")
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._writer.put(Op(future, fn, rows, changes))
        return await future

    async def _read(self, fn: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
        if self._closed:
            raise StoreUnavailable("store closed")
        for attempt in range(2):
            try:
                async with self._pool.acquire(timeout=CONNECT_TIMEOUT) as conn:
                    return await fn(conn)
            except _UNREACHABLE as exc:
                # A connection the server closed (a restart) fails once; the pool opens
                # another for the second try.
                if attempt:
                    raise StoreUnavailable(f"read failed: {exc}") from exc
        raise AssertionError("unreachable")

    async def reserve_id_prefixes(self, count: int, *, at_least: int) -> int:
        """The first of `count` message_id prefixes no other node (nor an earlier run of this
        one) has or will be given: engine/ids.py makes ids from a prefix and a counter of the
        node's own, so nodes sharing this schema must never share a prefix. The block starts at
        `at_least` (the start time in seconds, as a lone node's prefix) or after the last block
        handed out, whichever is higher. Raises StoreUnavailable."""

        async def run(conn: asyncpg.Connection) -> int:
            # One row, updated in place: the row lock orders nodes starting together.
            last: Any = await conn.fetchval(
                """INSERT INTO id_prefix (last) VALUES ($1::bigint + $2::bigint - 1)
                   ON CONFLICT (one) DO UPDATE
                   SET last = greatest(id_prefix.last + $2, EXCLUDED.last)
                   RETURNING last""",
                at_least,
                count,
            )
            return int(last) - count + 1

        return await self._read(run)

    # ---- writes -----------------------------------------------------------------------------

    async def submit_many(
        self,
        records: Sequence[StoredMessage],
        *,
        superseding: Sequence[str] = (),
        answer: SavedAnswer | None = None,
        trail: Sequence[TrailEvent] = (),
    ) -> None:
        if not records and answer is None:
            return
        if not self._keep_trail:
            trail = ()
        ours = set(superseding)
        ended = [e for e in trail if e.message_id in ours] if ours else ()
        new = [e for e in trail if e.message_id not in ours] if ours else trail
        if answer is None and not superseding:
            sql.check_initial(records)
            texts = trail_texts(new) if new else {}
            rows = [row(r, texts.pop(r.message_id, None)) for r in records]
            if not texts:  # the hot path: inserted with the batch's other new messages
                await self._write(rows=rows)
                return
        await self._write(sql.op_submit(records, superseding, answer, new, ended))

    async def transition(
        self,
        message_id: str,
        new_state: MessageState,
        *,
        at: datetime,
        error: int | None = None,
        next_attempt_at: datetime | None = None,
        attempt: bool = False,
        route: str | None = None,
        upstream_message_id: str | None = None,
        receipt: StoredMessage | None = None,
        trail: Sequence[TrailEvent] = (),
    ) -> StoredMessage:
        if not self._keep_trail:
            trail = ()
        change = Change(
            message_id,
            new_state,
            at,
            error,
            next_attempt_at,
            attempt,
            route,
            upstream_message_id,
            receipt,
            tuple(trail),
        )
        return await self._write(sql.op_transition(change))

    async def apply(self, changes: Sequence[Change]) -> list[StoreError | None]:
        if not changes:
            return []
        if not self._keep_trail:
            changes = [c if not c.trail else replace(c, trail=()) for c in changes]
        prepared = [sql.prepare_change(c) for c in changes]
        result: list[StoreError | None] = await self._write(changes=prepared)
        return result

    async def claim_due(
        self,
        now: datetime,
        limit: int,
        *,
        lease_until: datetime,
        skip_mo_of: Collection[str] = (),
    ) -> list[StoredMessage]:
        claim = sql.op_claim(now, limit, lease_until, self.node_id, list(skip_mo_of))
        return await self._write(claim)

    async def replace(
        self, message_id: str, replacement: Replacement, *, at: datetime
    ) -> StoredMessage:
        return await self._write(sql.op_replace(message_id, replacement, at))

    async def enqueue_receipt(self, receipt: StoredMessage) -> None:
        if receipt.direction is not Direction.RECEIPT:
            raise ValueError(f"message_id={receipt.message_id}: not a receipt")
        sql.check_initial((receipt,))
        await self._write(rows=[row(receipt)])

    async def ack_receipt(self, message_id: str, *, at: datetime) -> None:
        (refused,) = await self.apply((Change(message_id, MessageState.DELIVERED, at),))
        if refused is not None:
            raise refused

    async def map_upstream_id(self, connector: str, upstream_id: str, message_id: str) -> None:
        await self._write(sql.op_map_upstream(connector, upstream_id, message_id))

    async def add_trail(self, events: Sequence[TrailEvent]) -> None:
        if events and self._keep_trail:
            await self._write(sql.op_trail(events))

    async def purge_final(self, older_than: datetime) -> int:
        total = 0
        while True:
            n = await self._write(sql.op_purge_chunk(older_than))
            total += n
            if n < sql.PURGE_CHUNK:
                return total

    async def purge_answers(self, older_than: datetime) -> int:
        total = 0
        while True:
            n = await self._write(sql.op_purge_answers(older_than))
            total += n
            if n < sql.PURGE_CHUNK:
                return total

    # ---- reads ------------------------------------------------------------------------------

    async def _records(self, query: str, *args: Any) -> list[StoredMessage]:
        async def run(conn: asyncpg.Connection) -> list[StoredMessage]:
            return [record(r) for r in await conn.fetch(query, *args)]

        return await self._read(run)

    async def get(self, message_id: str) -> StoredMessage | None:
        found = await self._records(f"{SELECT} WHERE message_id = $1", message_id)
        return found[0] if found else None

    async def trail(self, message_id: str) -> list[TrailEvent]:
        return await self._read(lambda conn: sql.read_trail(conn, message_id))

    async def saved_answer(self, system_id: str, key: str) -> SavedAnswer | None:
        return await self._read(lambda conn: sql.read_answer(conn, system_id, key))

    async def find_pending(
        self,
        system_id: str,
        source_addr: str,
        destination_addr: str,
        service_type: str | None = None,
    ) -> list[StoredMessage]:
        query = (
            f"{SELECT} WHERE {OPEN} AND direction = 1 AND dest_addr = $1"
            " AND system_id = $2 AND source_addr = $3"
        )
        args: list[Any] = [destination_addr, system_id, source_addr]
        if service_type is not None:
            query += " AND service_type = $4"
            args.append(service_type)
        return await self._records(query + " ORDER BY seq", *args)

    async def due(self, now: datetime, limit: int) -> list[StoredMessage]:
        return await self._read(lambda conn: sql.due_rows(conn, now, limit))

    async def waiting_for(self, destination_addr: str) -> list[StoredMessage]:
        return await self._records(
            f"{SELECT} WHERE {OPEN} AND direction = 1 AND state = 1 AND dest_addr = $1"
            " ORDER BY seq",
            destination_addr,
        )

    async def waiting_on_route(self, route: str) -> list[StoredMessage]:
        return await self._records(
            f"{SELECT} WHERE state = 1 AND direction = 1 AND upstream_message_id IS NULL"
            " AND route = $1 ORDER BY seq",
            route,
        )

    async def find(self, query: MessageQuery) -> tuple[list[StoredMessage], int | None]:
        return await self._read(lambda conn: sql.find_rows(conn, query))

    async def pending_receipts(self, system_id: str, limit: int) -> list[StoredMessage]:
        # Webhooks (a callback_url) are not for SMPP sessions.
        return await self._records(
            f"{SELECT} WHERE direction = 3 AND {OPEN} AND system_id = $1"
            " AND callback_url IS NULL ORDER BY seq LIMIT $2",
            system_id,
            limit,
        )

    async def due_webhooks(self, now: datetime, limit: int) -> list[StoredMessage]:
        return await self._records(DUE_WEBHOOKS, to_us(now), limit)

    async def lookup_upstream_id(self, connector: str, upstream_id: str) -> str | None:
        async def run(conn: asyncpg.Connection) -> str | None:
            found: Any = await conn.fetchval(
                "SELECT message_id FROM upstream_id WHERE connector = $1 AND upstream_id = $2",
                connector,
                upstream_id,
            )
            return None if found is None else str(found)

        return await self._read(run)

    async def queue_depths(self) -> QueueDepths:
        return await self._read(sql.queue_depths)

    # ---- housekeeping ---------------------------------------------------------------------------

    async def check_writable(self) -> None:
        writer = self._writer
        if writer.failing is None and time.monotonic() - writer.last_commit < _TRUST_COMMIT:
            return
        await self._write(sql.op_probe(self.node_id))

    def stats(self) -> StoreStats:
        w = self._writer
        failing = w.failing
        return StoreStats(
            w.transactions,
            w.operations,
            w.largest_batch,
            failed_commits=w.failed_commits,
            failing=None if failing is None else str(failing),
        )

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            await self._writer.stop()
        finally:
            try:
                await asyncio.wait_for(self._pool.close(), 5.0)
            except (TimeoutError, *_UNREACHABLE):
                self._pool.terminate()


def _conforms(store: PostgresStore) -> Store:
    # mypy proves here that PostgresStore implements the Store protocol; never called.
    return store
