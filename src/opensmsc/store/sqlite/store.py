"""`SqliteStore`: the Store protocol (api.py) on SQLite in WAL mode in the data folder, one
group-committing writer thread (writer.py), reader threads on their own connections.

Readers use separate connections in autocommit mode (each SELECT is a short read transaction,
so none pins the WAL against checkpoints); they see every commit that returned before them.

What this is not: a second writer. One process owns a database file.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import Callable, Collection, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any, Final, TypeVar

from opensmsc.errors import StoreUnavailable
from opensmsc.smpp import MessageState
from opensmsc.store.answers import SavedAnswer
from opensmsc.store.api import MessageQuery, QueueDepths, Store, StoreStats
from opensmsc.store.model import (
    Change,
    Direction,
    Replacement,
    StoredMessage,
    StoreError,
    to_us,
)
from opensmsc.store.sqlite.answers import PURGE_CHUNK as ANSWERS_PURGE_CHUNK
from opensmsc.store.sqlite.answers import op_purge_answers, read_answer
from opensmsc.store.sqlite.health import probe, queue_depths
from opensmsc.store.sqlite.rows import OPEN, SELECT, record
from opensmsc.store.sqlite.schema import connect
from opensmsc.store.sqlite.statements import (
    PURGE_CHUNK,
    Transition,
    due_rows,
    find_rows,
    op_claim,
    op_map_upstream,
    op_purge_chunk,
    op_replace,
    op_submit,
    op_trail,
    prepare_change,
    read_trail,
)
from opensmsc.store.sqlite.writer import STOP, Op, Turn, Writer
from opensmsc.store.trail import TrailEvent

__all__ = ["SqliteStore"]

T = TypeVar("T")

# check_writable trusts a successful commit this recent (seconds) and probes otherwise.
_TRUST_COMMIT: Final = 5.0


class SqliteStore:
    """The Store protocol on SQLite. Create with `await SqliteStore.open(path)`; `close()` it."""

    def __init__(self, path: Path, writer: Writer, *, readers: int, trail: bool = True) -> None:
        self.path = path
        self._keep_trail = trail
        self._writer = writer
        self._closed = False
        self._turn: Turn | None = None
        self._local = threading.local()
        self._reader_conns: list[sqlite3.Connection] = []
        self._reader_lock = threading.Lock()
        self._readers = ThreadPoolExecutor(
            max_workers=readers,
            thread_name_prefix="opensmsc-store-reader",
            initializer=self._open_reader,
        )

    @classmethod
    async def open(
        cls,
        path: Path,
        *,
        max_batch_ops: int = 2000,
        max_batch_delay: float = 0.0,
        readers: int = 2,
        trail: bool = True,
    ) -> SqliteStore:
        """Open (or create, and migrate) the database at `path`; its folder must exist.

        `max_batch_ops` bounds one transaction; `max_batch_delay` (seconds) lets the writer
        wait for more work before committing a batch that is not full. The default 0 batches
        only what queued during the previous commit: no added latency when idle, large batches
        under load. `trail` False: trail events are dropped here, unwritten (`[store] trail`).
        Raises SchemaTooNew, StoreUnavailable."""
        writer = Writer(path, max_batch_ops=max_batch_ops, max_batch_delay=max_batch_delay)
        try:
            await asyncio.wrap_future(writer.ready)
        except sqlite3.Error as exc:
            await asyncio.to_thread(writer.join)
            raise StoreUnavailable(f"{path}: {exc}") from exc
        except BaseException:
            # Cancelled while the writer may already be running: tell it to stop, or the join
            # (and the interpreter's exit after it) would wait forever.
            writer.put(STOP)
            await asyncio.to_thread(writer.join)
            raise
        return cls(path, writer, readers=readers, trail=trail)

    # ---- plumbing ---------------------------------------------------------------------------

    async def _write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        if self._closed:
            raise StoreUnavailable("store closed")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._writer.put(Op(fn, future, loop))
        try:
            return await future
        except sqlite3.IntegrityError as exc:
            raise StoreUnavailable(f"integrity: {exc}") from exc

    def _open_reader(self) -> None:
        conn = connect(self.path)
        conn.execute("PRAGMA query_only = ON")
        self._local.conn = conn
        with self._reader_lock:
            self._reader_conns.append(conn)

    def _run_read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        conn: sqlite3.Connection = self._local.conn
        try:
            return fn(conn)
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"read failed: {exc}") from exc

    async def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        if self._closed:
            raise StoreUnavailable("store closed")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._readers, self._run_read, fn)

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
        await self._write(op_submit(tuple(records), tuple(superseding), answer, new, ended))

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
        return await self._write(Transition(change))

    async def apply(self, changes: Sequence[Change]) -> list[StoreError | None]:
        if not changes:
            return []
        if self._closed:
            raise StoreUnavailable("store closed")
        if not self._keep_trail:
            changes = [c if not c.trail else replace(c, trail=()) for c in changes]
        prepared = [prepare_change(c) for c in changes]
        # Every apply of this turn of the loop goes to the writer as one op (one queue put,
        # one set of statements), queued when the turn ends. Only the turn's first apply asks
        # for the running loop (asyncio.get_running_loop costs a getpid() system call).
        turn = self._turn
        if turn is None or turn.loop.is_closed():
            loop = asyncio.get_running_loop()
            turn = self._turn = Turn(loop, [], [])
            loop.call_soon(self._queue_turn, turn)
        future: asyncio.Future[list[StoreError | None]] = turn.loop.create_future()
        start = len(turn.changes)
        turn.changes.extend(prepared)
        turn.waiters.append((future, start, len(turn.changes)))
        return await future

    def _queue_turn(self, turn: Turn) -> None:
        if self._turn is turn:
            self._turn = None
        if turn.queued:  # close() queued it already
            return
        turn.queued = True
        self._writer.put(Op(None, None, turn.loop, turn.changes, turn.waiters))

    async def claim_due(
        self,
        now: datetime,
        limit: int,
        *,
        lease_until: datetime,
        skip_mo_of: Collection[str] = (),
    ) -> list[StoredMessage]:
        return await self._write(op_claim(now, limit, lease_until, tuple(skip_mo_of)))

    async def replace(
        self, message_id: str, replacement: Replacement, *, at: datetime
    ) -> StoredMessage:
        return await self._write(op_replace(message_id, replacement, at))

    async def enqueue_receipt(self, receipt: StoredMessage) -> None:
        if receipt.direction is not Direction.RECEIPT:
            raise ValueError(f"message_id={receipt.message_id}: not a receipt")
        await self._write(op_submit((receipt,), ()))

    async def ack_receipt(self, message_id: str, *, at: datetime) -> None:
        (refused,) = await self.apply((Change(message_id, MessageState.DELIVERED, at),))
        if refused is not None:
            raise refused

    async def map_upstream_id(self, connector: str, upstream_id: str, message_id: str) -> None:
        await self._write(op_map_upstream(connector, upstream_id, message_id))

    async def purge_final(self, older_than: datetime) -> int:
        total = 0
        while True:
            n = await self._write(op_purge_chunk(older_than))
            total += n
            if n < PURGE_CHUNK:
                return total

    async def add_trail(self, events: Sequence[TrailEvent]) -> None:
        if events and self._keep_trail:
            await self._write(op_trail(events))

    async def purge_answers(self, older_than: datetime) -> int:
        total = 0
        while True:
            n = await self._write(op_purge_answers(older_than))
            total += n
            if n < ANSWERS_PURGE_CHUNK:
                return total

    # ---- reads ------------------------------------------------------------------------------

    async def trail(self, message_id: str) -> list[TrailEvent]:
        return await self._read(lambda conn: read_trail(conn, message_id))

    async def saved_answer(self, system_id: str, key: str) -> SavedAnswer | None:
        return await self._read(lambda conn: read_answer(conn, system_id, key))

    async def get(self, message_id: str) -> StoredMessage | None:
        def run(conn: sqlite3.Connection) -> StoredMessage | None:
            row = conn.execute(f"{SELECT} WHERE message_id = ?", (message_id,)).fetchone()
            return None if row is None else record(row)

        return await self._read(run)

    async def find_pending(
        self,
        system_id: str,
        source_addr: str,
        destination_addr: str,
        service_type: str | None = None,
    ) -> list[StoredMessage]:
        # The open-MT index, named: message_mt_dest (every MT to the number, the admin API's)
        # also serves ORDER BY seq, and the planner would take it, final messages and all.
        sql = (
            f"{SELECT} INDEXED BY message_dest_mt WHERE {OPEN} AND dest_addr = ?"
            " AND direction = 1 AND system_id = ? AND source_addr = ?"
        )
        args: tuple[Any, ...] = (destination_addr, system_id, source_addr)
        if service_type is not None:
            sql += " AND service_type = ?"
            args += (service_type,)
        sql += " ORDER BY seq"
        return await self._read(lambda conn: [record(r) for r in conn.execute(sql, args)])

    async def due(self, now: datetime, limit: int) -> list[StoredMessage]:
        return await self._read(lambda conn: due_rows(conn, now, limit))

    async def waiting_for(self, destination_addr: str) -> list[StoredMessage]:
        sql = f"{SELECT} INDEXED BY message_dest_mt WHERE {OPEN} AND dest_addr = ?"
        sql += " AND direction = 1 AND state = 1 ORDER BY seq"  # the index: see find_pending
        return await self._read(
            lambda conn: [record(r) for r in conn.execute(sql, (destination_addr,))]
        )

    async def waiting_on_route(self, route: str) -> list[StoredMessage]:
        # Through the open-MT partial index: without it SQLite scans every row, final ones too.
        sql = f"{SELECT} INDEXED BY message_dest_mt WHERE {OPEN}"
        sql += " AND direction = 1 AND state = 1 AND route = ? AND upstream_message_id IS NULL"
        sql += " ORDER BY seq"
        return await self._read(lambda conn: [record(r) for r in conn.execute(sql, (route,))])

    async def find(self, query: MessageQuery) -> tuple[list[StoredMessage], int | None]:
        return await self._read(lambda conn: find_rows(conn, query))

    async def pending_receipts(self, system_id: str, limit: int) -> list[StoredMessage]:
        sql = f"{SELECT} WHERE direction = 3 AND {OPEN} AND system_id = ?"
        sql += " AND callback_url IS NULL ORDER BY seq LIMIT ?"  # webhooks are not for SMPP
        return await self._read(
            lambda conn: [record(r) for r in conn.execute(sql, (system_id, limit))]
        )

    async def due_webhooks(self, now: datetime, limit: int) -> list[StoredMessage]:
        # The first open webhook of each message only: a message's webhooks go in order.
        sql = f"{SELECT} INDEXED BY message_webhooks_due WHERE direction = 3 AND {OPEN}"
        sql += " AND callback_url IS NOT NULL AND next_attempt_at <= ?"
        sql += " AND NOT EXISTS (SELECT 1 FROM message AS earlier INDEXED BY message_webhooks_of"
        sql += " WHERE earlier.direction = 3 AND (earlier.state = 0 OR earlier.state = 1"
        sql += " OR earlier.state = 7) AND earlier.callback_url IS NOT NULL"
        sql += " AND earlier.receipted_message_id = message.receipted_message_id"
        sql += " AND earlier.seq < message.seq)"
        sql += " ORDER BY next_attempt_at, seq LIMIT ?"
        args = (to_us(now), limit)
        return await self._read(lambda conn: [record(r) for r in conn.execute(sql, args)])

    async def lookup_upstream_id(self, connector: str, upstream_id: str) -> str | None:
        def run(conn: sqlite3.Connection) -> str | None:
            row = conn.execute(
                "SELECT message_id FROM upstream_id WHERE connector = ? AND upstream_id = ?",
                (connector, upstream_id),
            ).fetchone()
            return None if row is None else str(row[0])

        return await self._read(run)

    async def queue_depths(self) -> QueueDepths:
        return await self._read(queue_depths)

    # ---- housekeeping ---------------------------------------------------------------------------

    async def check_writable(self) -> None:
        writer = self._writer
        if writer.failing is None and time.monotonic() - writer.last_commit < _TRUST_COMMIT:
            return
        await self._write(probe)

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
        if self._turn is not None:  # applies called before close are made
            self._queue_turn(self._turn)
        self._writer.put(STOP)
        await asyncio.to_thread(self._writer.join)
        await asyncio.to_thread(self._readers.shutdown, wait=True)
        with self._reader_lock:
            for conn in self._reader_conns:
                conn.close()
            self._reader_conns.clear()


def _conforms(store: SqliteStore) -> Store:
    # mypy proves here that SqliteStore implements the Store protocol; never called.
    return store
