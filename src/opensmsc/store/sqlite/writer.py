"""The one thread that writes, and its group commit.

Callers put operations on a queue; the writer takes everything queued (up to `max_batch_ops`,
or after waiting `max_batch_delay` seconds for more when configured) into one transaction,
COMMITs, and only then resolves each caller's future. While it fsyncs, the next batch gathers,
so under load one fsync carries hundreds of messages. Each operation runs inside a SAVEPOINT: a
refused one (IllegalTransition, DuplicateMessage) is rolled back alone, and the rest of the
batch commits. `apply` calls (the hot path: final states with their receipts, receipt
acknowledgements) are gathered per event-loop turn into one operation, and consecutive ones run
as set statements (statements.apply_changes). A failed COMMIT fails every operation of that
batch with StoreUnavailable (StoreFull when the disk or the database is full, or the disk
failed the write); nothing of it was acknowledged. Such failures are logged through an
OutageLog: not a line per commit while a full disk fails them all.

What it is not: the SQL (statements.py) or the async API (store.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future as ThreadFuture
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from opensmsc.errors import StoreUnavailable
from opensmsc.store.outage import OutageLog, StoreFull
from opensmsc.store.sqlite.schema import open_for_writing
from opensmsc.store.sqlite.statements import Prepared, apply_changes, apply_one_by_one

__all__ = ["STOP", "Op", "Turn", "Writer"]

log = logging.getLogger(__name__)

_Fn = Callable[[sqlite3.Connection], Any]
_Outcome = tuple["Op", Any, BaseException | None]


@dataclass(slots=True)
class Op:
    """One queued operation: `fn` run on the writer's connection, its result to `future`."""

    fn: _Fn | None  # None: applies, run together with the applies next to them
    future: asyncio.Future[Any] | None  # None: `waiters` take the result
    loop: asyncio.AbstractEventLoop
    changes: Sequence[Prepared] = ()
    # The `apply` calls of one loop turn, one op: (future, start, end) of each in `changes`.
    waiters: list[tuple[asyncio.Future[Any], int, int]] | None = None


@dataclass(slots=True)
class Turn:
    """The `apply` calls made in one turn of an event loop: one writer op for all of them."""

    loop: asyncio.AbstractEventLoop
    changes: list[Prepared]
    waiters: list[tuple[asyncio.Future[Any], int, int]]
    queued: bool = False


STOP: Final = object()  # put after the last op: the writer finishes the queue and stops

# sqlite3 result codes (the low byte of an extended code): no room, or the disk failed a write.
_SQLITE_IOERR: Final = 10
_SQLITE_FULL: Final = 13
OUTAGE_LOG_INTERVAL: Final = 60.0  # seconds between two lines about failing commits


def _failure(exc: sqlite3.Error) -> StoreUnavailable:
    code = getattr(exc, "sqlite_errorcode", 0) & 0xFF
    if code in (_SQLITE_FULL, _SQLITE_IOERR):
        return StoreFull(f"commit failed: {exc}")
    return StoreUnavailable(f"commit failed: {exc}")


def _settle(outcomes: list[_Outcome]) -> None:
    for op, result, error in outcomes:
        if op.waiters is None:
            assert op.future is not None
            _resolve(op.future, result, error)
        else:
            for future, start, end in op.waiters:
                _resolve(future, None if error is not None else result[start:end], error)


def _resolve(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.done():  # the caller gave up waiting; the write happened anyway
        return
    if error is None:
        future.set_result(result)
    else:
        future.set_exception(error)


class Writer:
    """The writer thread. Everything here runs in that thread, except `put` and `join`."""

    def __init__(self, path: Path, *, max_batch_ops: int, max_batch_delay: float) -> None:
        self._path = path
        self._max_ops = max_batch_ops
        self._max_delay = max_batch_delay
        self._queue: queue.SimpleQueue[Op | object] = queue.SimpleQueue()
        self.ready: ThreadFuture[None] = ThreadFuture()
        self.transactions = 0
        self.operations = 0
        self.largest_batch = 0
        self.failed_commits = 0
        # Read by the event loop (Store.check_writable, stats): plain attributes, each written
        # whole by this thread, so a reader sees the old value or the new one.
        self.failing: StoreUnavailable | None = None  # the last commit's failure, if it failed
        self.last_commit = -float("inf")  # time.monotonic() of the last successful commit
        self._outage = OutageLog(
            log, interval=OUTAGE_LOG_INTERVAL, now=time.monotonic, unit="failed commits"
        )
        # A daemon: a process that exits without close() must not hang on this thread. Dying
        # mid-transaction is the kill -9 case: nothing uncommitted was acknowledged.
        self._thread = threading.Thread(target=self._run, name="opensmsc-store-writer", daemon=True)
        self._thread.start()

    def put(self, op: Op | object) -> None:
        self._queue.put(op)

    def join(self) -> None:
        self._thread.join()

    def _run(self) -> None:
        try:
            conn = open_for_writing(self._path)
        except BaseException as exc:
            self.ready.set_exception(exc)
            return
        self.ready.set_result(None)
        try:
            stopping = False
            while not stopping:
                batch, stopping = self._gather()
                if batch:
                    self._commit(conn, batch)
            with contextlib.suppress(sqlite3.Error):
                # A clean stop leaves a self-contained database file.
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            conn.close()
            self._fail_rest()

    def _gather(self) -> tuple[list[Op], bool]:
        first = self._queue.get()
        if first is STOP:
            return [], True
        assert isinstance(first, Op)
        batch = [first]
        deadline = time.monotonic() + self._max_delay
        while len(batch) < self._max_ops:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                try:
                    item = self._queue.get(timeout=remaining)
                except queue.Empty:
                    break
            if item is STOP:
                return batch, True
            assert isinstance(item, Op)
            batch.append(item)
        return batch, False

    def _commit(self, conn: sqlite3.Connection, batch: list[Op]) -> None:
        outcomes: list[_Outcome] = []
        try:
            conn.execute("BEGIN IMMEDIATE")
            i, n = 0, len(batch)
            while i < n:
                op = batch[i]
                if op.fn is None:
                    # Consecutive applies run as one set of statements (their order kept).
                    j = i + 1
                    while j < n and batch[j].fn is None:
                        j += 1
                    outcomes.extend(self._apply(conn, batch[i:j]))
                    i = j
                    continue
                i += 1
                conn.execute("SAVEPOINT op")
                try:
                    result = op.fn(conn)
                except sqlite3.Error as exc:
                    if isinstance(exc, sqlite3.IntegrityError):
                        conn.execute("ROLLBACK TO op")
                        conn.execute("RELEASE op")
                        outcomes.append((op, None, exc))
                        continue
                    raise  # the database itself is failing: the whole batch goes
                except Exception as exc:
                    # This operation was refused (or is a bug): undo it alone.
                    conn.execute("ROLLBACK TO op")
                    conn.execute("RELEASE op")
                    outcomes.append((op, None, exc))
                    continue
                conn.execute("RELEASE op")
                outcomes.append((op, result, None))
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            self._outage.failed("store commit failed ops=%d: %s", len(batch), exc)
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            failure = _failure(exc)
            outcomes = [(op, None, failure) for op in batch]
            self.failed_commits += 1
            self.failing = failure
        else:
            self._outage.recovered("store commits again")
            self.failing = None
            self.last_commit = time.monotonic()
            self.transactions += 1
            self.operations += len(batch)
            self.largest_batch = max(self.largest_batch, len(batch))
        self._deliver(outcomes)

    @staticmethod
    def _apply(conn: sqlite3.Connection, ops: list[Op]) -> list[_Outcome]:
        changes = [c for op in ops for c in op.changes]
        conn.execute("SAVEPOINT op")
        try:
            try:
                results = apply_changes(conn, changes)
            except sqlite3.IntegrityError:
                conn.execute("ROLLBACK TO op")
                results = apply_one_by_one(conn, changes)
        except sqlite3.Error:
            raise  # the database itself is failing: the whole batch goes
        except Exception as exc:  # a bug: undo these applies alone
            conn.execute("ROLLBACK TO op")
            conn.execute("RELEASE op")
            return [(op, None, exc) for op in ops]
        conn.execute("RELEASE op")
        out: list[_Outcome] = []
        start = 0
        for op in ops:
            end = start + len(op.changes)
            out.append((op, results[start:end], None))
            start = end
        return out

    @staticmethod
    def _deliver(outcomes: list[_Outcome]) -> None:
        # One wake-up per event loop per batch, not one per operation.
        by_loop: dict[asyncio.AbstractEventLoop, list[_Outcome]] = {}
        for outcome in outcomes:
            by_loop.setdefault(outcome[0].loop, []).append(outcome)
        for loop, items in by_loop.items():
            with contextlib.suppress(RuntimeError):  # that loop is closed: nobody waits
                loop.call_soon_threadsafe(_settle, items)

    def _fail_rest(self) -> None:
        failure = StoreUnavailable("store closed")
        rest: list[_Outcome] = []
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if isinstance(item, Op):
                rest.append((item, None, failure))
        self._deliver(rest)
