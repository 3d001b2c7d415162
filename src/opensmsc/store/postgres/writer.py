"""The one task that writes to PostgreSQL, and its group commit.

Callers put operations on a queue; the writer takes everything queued meanwhile (up to
`max_batch_ops`, or after waiting `max_batch_delay` seconds for more when configured) into one
transaction, COMMITs (synchronous_commit on: the WAL is flushed), and only then resolves each
caller's future. While it commits, the next batch gathers. Consecutive submits of new messages
become one COPY, consecutive applies one set of statements (statements.py), so
a batch costs a handful of round trips whatever its size; any other operation runs in a
savepoint of its own, so a refused one (IllegalTransition, DuplicateMessage) is undone alone.

Failure: when the connection is lost, the server refuses, or the COMMIT fails, every operation
of the batch fails with StoreUnavailable (StoreFull when the server is out of room: SQLSTATE
class 53); nothing of it was acknowledged (a COMMIT whose answer was lost may have happened:
the caller was told it did not, which only makes a client retry). The connection is then
dropped and opened again for the next batch, so the store comes back by itself when the
server does. Failures are logged through an OutageLog, not a line per batch.

What it is not: the SQL (statements.py) or the async API (store.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

import asyncpg

from opensmsc.errors import StoreUnavailable
from opensmsc.store.model import DuplicateMessage, StoreError
from opensmsc.store.outage import OutageLog, StoreFull
from opensmsc.store.postgres.rows import Row, insert
from opensmsc.store.postgres.schema import connect
from opensmsc.store.postgres.statements import (
    Prepared,
    apply_changes,
    apply_one_by_one,
    insert_rows,
)

__all__ = ["Op", "Writer"]

log = logging.getLogger(__name__)

Fn = Callable[[asyncpg.Connection], Awaitable[Any]]
OUTAGE_LOG_INTERVAL: Final = 60.0  # seconds between two lines about failing commits
CONNECT_TIMEOUT: Final = 5.0


@dataclass(slots=True)
class Op:
    """One queued operation: `fn` run on the writer's connection; or, with `fn` None, new
    messages' `rows` (a plain submit) or `changes` (an apply), run with their neighbours'."""

    future: asyncio.Future[Any]
    fn: Fn | None = None
    rows: Sequence[Row] = ()
    changes: Sequence[Prepared] | None = None

    @property
    def kind(self) -> int:
        return 0 if self.fn is not None else 1 if self.changes is None else 2


_Outcome = tuple[Op, Any, BaseException | None]


def _failure(exc: BaseException) -> StoreUnavailable:
    if isinstance(exc, StoreUnavailable):
        return exc
    if str(getattr(exc, "sqlstate", "")).startswith("53"):
        return StoreFull(f"commit failed: {exc}")
    return StoreUnavailable(f"commit failed: {type(exc).__name__}: {exc}")


class Writer:
    """The writer task of one store, on the event loop that opened it."""

    def __init__(
        self, dsn: str, schema: str, *, max_batch_ops: int, max_batch_delay: float
    ) -> None:
        self._dsn = dsn
        self._schema = schema
        self._max_ops = max_batch_ops
        self._max_delay = max_batch_delay
        self._queue: asyncio.Queue[Op | None] = asyncio.Queue()
        self._conn: asyncpg.Connection | None = None
        self._task: asyncio.Task[None] | None = None
        self.transactions = 0
        self.operations = 0
        self.largest_batch = 0
        self.failed_commits = 0
        self.failing: StoreUnavailable | None = None  # the last commit's failure, if it failed
        self.last_commit = -float("inf")  # time.monotonic() of the last successful commit
        self._outage = OutageLog(
            log, interval=OUTAGE_LOG_INTERVAL, now=time.monotonic, unit="failed commits"
        )

    async def start(self, conn: asyncpg.Connection) -> None:
        """Run on `conn` (opened and migrated by the store)."""
        self._conn = conn
        self._task = asyncio.get_running_loop().create_task(self._run(), name="pg-writer")

    def put(self, op: Op) -> None:
        self._queue.put_nowait(op)

    async def stop(self) -> None:
        """Finish what is queued, then close the connection."""
        self._queue.put_nowait(None)
        if self._task is not None:
            await self._task
        await self._drop()

    async def _run(self) -> None:
        stopping = False
        while not stopping:
            batch, stopping = await self._gather()
            if batch:
                await self._commit(batch)
        failure = StoreUnavailable("store closed")
        while not self._queue.empty():
            op = self._queue.get_nowait()
            if op is not None:
                _resolve(op.future, None, failure)

    async def _gather(self) -> tuple[list[Op], bool]:
        first = await self._queue.get()
        if first is None:
            return [], True
        batch = [first]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._max_delay
        while len(batch) < self._max_ops:
            if self._queue.empty():
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                try:
                    item = await asyncio.wait_for(self._queue.get(), remaining)
                except TimeoutError:
                    break
            else:
                item = self._queue.get_nowait()
            if item is None:
                return batch, True
            batch.append(item)
        return batch, False

    async def _connection(self) -> asyncpg.Connection:
        conn = self._conn
        if conn is None or conn.is_closed():
            # The server went away and may be back: open again (the schema is migrated).
            try:
                conn = await connect(self._dsn, self._schema, timeout=CONNECT_TIMEOUT)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as exc:
                raise StoreUnavailable(f"cannot reach PostgreSQL: {exc}") from exc
            self._conn = conn
        return conn

    async def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None and not conn.is_closed():
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.close(), 2.0)
            if not conn.is_closed():
                conn.terminate()

    async def _commit(self, batch: list[Op]) -> None:
        outcomes: list[_Outcome] = []
        try:
            conn = await self._connection()
            async with conn.transaction():
                i, n = 0, len(batch)
                while i < n:
                    kind = batch[i].kind
                    j = i + 1
                    if kind == 0:
                        outcomes.append(await self._one(conn, batch[i]))
                    else:
                        while j < n and batch[j].kind == kind:
                            j += 1
                        run = self._submits if kind == 1 else self._applies
                        outcomes.extend(await run(conn, batch[i:j]))
                    i = j
        except Exception as exc:
            self._outage.failed("store commit failed ops=%d: %s", len(batch), exc)
            failure = _failure(exc)
            outcomes = [(op, None, failure) for op in batch]
            self.failed_commits += 1
            self.failing = failure
            # A connection that failed a statement or a COMMIT is not trusted again.
            await self._drop()
        else:
            self._outage.recovered("store commits again")
            self.failing = None
            self.last_commit = time.monotonic()
            self.transactions += 1
            self.operations += len(batch)
            self.largest_batch = max(self.largest_batch, len(batch))
        for op, result, error in outcomes:
            _resolve(op.future, result, error)

    @staticmethod
    async def _one(conn: asyncpg.Connection, op: Op) -> _Outcome:
        assert op.fn is not None
        try:
            async with conn.transaction():  # a savepoint: a refused op is undone alone
                return op, await op.fn(conn), None
        except asyncpg.UniqueViolationError as exc:
            return op, None, StoreUnavailable(f"integrity: {exc}")
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError):
            raise  # the database itself is failing: the whole batch goes
        except Exception as exc:  # refused (a StoreError), or a bug: this op alone
            return op, None, exc

    @staticmethod
    async def _submits(conn: asyncpg.Connection, ops: list[Op]) -> list[_Outcome]:
        rows = [r for op in ops for r in op.rows]
        try:
            async with conn.transaction():
                await insert(conn, rows)
        except asyncpg.UniqueViolationError:
            # Some id is stored already (or given twice): each submit alone, all or nothing.
            out: list[_Outcome] = []
            for op in ops:
                try:
                    await insert_rows(conn, op.rows)
                except DuplicateMessage as exc:
                    out.append((op, None, exc))
                else:
                    out.append((op, None, None))
            return out
        return [(op, None, None) for op in ops]

    @staticmethod
    async def _applies(conn: asyncpg.Connection, ops: list[Op]) -> list[_Outcome]:
        changes = [c for op in ops for c in op.changes or ()]
        results: list[StoreError | None]
        if any(c.receipt_row is not None for c in changes):
            try:
                async with conn.transaction():
                    results = await apply_changes(conn, changes)
            except asyncpg.UniqueViolationError:
                results = await apply_one_by_one(conn, changes)
        else:  # no receipt: nothing can collide, no savepoint needed
            results = await apply_changes(conn, changes)
        out: list[_Outcome] = []
        start = 0
        for op in ops:
            end = start + len(op.changes or ())
            out.append((op, results[start:end], None))
            start = end
        return out


def _resolve(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.done():  # the caller gave up waiting; the write happened anyway
        return
    if error is None:
        future.set_result(result)
    else:
        future.set_exception(error)
