"""The one thread the IMPS service runs on, committing the calls that wait together.

The service (service.py) is synchronous and keeps one SQLite connection, which may be used only
from the thread that opened it, one call at a time. `ServiceThread.run(fn, ...)` runs a call on
that thread and awaits its result from the event loop, so that the loop never blocks on an
fsync; calls run in the order they were made. `close(last)` runs `last` (closing the state)
after every call made before it; any call made later raises ServiceClosed, never touching a
closed connection.

Group commit (`group(transaction)`): once the state is open, the thread takes every call that
waits in its queue and runs them inside ONE `transaction()` of the state, each call in a nested
one of its own (a savepoint: ImpsState.transaction), so that a call that raises undoes its own
writes and none of the others'. Every call's future is answered only after the batch's COMMIT
returned: what a caller is told done is durable, exactly as with a commit per call, but one
fsync serves the whole batch. A COMMIT that fails answers every call of the batch with its
error (nothing of them was kept). Measured: the fsync per call was the service's limit.

What it is not: a pool. Every call waits for the ones before it: the service's effects are
serialised by construction, and one writer at a time is what SQLite allows anyway.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections import deque
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import Any, Final, TypeVar

from opensmsc.errors import OpensmscError

__all__ = ["ServiceClosed", "ServiceThread"]

T = TypeVar("T")

_MAX_BATCH: Final = 512  # calls per commit: bounds the time one COMMIT keeps the others waiting


class ServiceClosed(OpensmscError):
    """The service was closed before this call could run."""

    def __init__(self) -> None:
        super().__init__("the IMPS service is stopped")


class _Call:
    __slots__ = ("alone", "args", "fn", "future", "loop")

    def __init__(
        self,
        fn: Callable[..., Any],
        args: tuple[object, ...],
        loop: asyncio.AbstractEventLoop,
        future: asyncio.Future[Any],
        alone: bool,
    ) -> None:
        self.fn = fn
        self.args = args
        self.loop = loop
        self.future = future
        self.alone = alone  # run outside any batch (closing the state)


def _answer(future: asyncio.Future[Any], ok: bool, value: Any) -> None:
    if future.done():  # the caller was cancelled: nobody awaits the answer
        return
    if ok:
        future.set_result(value)
    else:
        future.set_exception(value)


class ServiceThread:
    """A single worker thread (module doc)."""

    def __init__(self, name: str = "imps") -> None:
        self._queue: queue.SimpleQueue[_Call | None] = queue.SimpleQueue()
        self._closed = False  # read and written on the worker thread only
        self._shut = False  # on the event loop: no call is queued any more
        self._transaction: Callable[[], AbstractContextManager[object]] | None = None
        self.batches = 0  # commits made for batches (tests, figures)
        self._thread = threading.Thread(target=self._work, name=name, daemon=True)
        self._thread.start()

    def group(self, transaction: Callable[[], AbstractContextManager[object]]) -> None:
        """From now on, run the waiting calls together inside `transaction()` (module doc).
        `transaction` must nest: a nested block rolls back only its own writes when it raises.
        Call it from the service thread (e.g. through `run`) or before any call is queued."""
        self._transaction = transaction

    async def run(self, fn: Callable[..., T], *args: object) -> T:
        """`fn(*args)` on the service thread; its exception is raised here. Raises
        ServiceClosed once `close` ran."""
        return await self._submit(fn, args, alone=False)

    async def _submit(self, fn: Callable[..., T], args: tuple[object, ...], *, alone: bool) -> T:
        if self._shut:
            raise ServiceClosed
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._queue.put(_Call(fn, args, loop, future, alone))
        return await future

    # ---- on the worker thread ----------------------------------------------------------------

    def _work(self) -> None:
        held: deque[_Call | None] = deque()  # taken from the queue, to run after this batch
        while True:
            first = held.popleft() if held else self._queue.get()
            if first is None:
                return  # close() queued it after every call
            batch = [first]
            while not first.alone and len(batch) < _MAX_BATCH:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None or more.alone:
                    held.append(more)
                    break
                batch.append(more)
            self._run_batch(batch)

    def _run_batch(self, batch: list[_Call]) -> None:
        answers: list[tuple[bool, Any]] = []
        transaction = self._transaction
        if self._closed or transaction is None or batch[0].alone:
            for call in batch:
                answers.append(self._one(call, nullcontext))
        else:
            try:
                with transaction():
                    for call in batch:
                        answers.append(self._one(call, transaction))
                self.batches += 1
            except Exception as exc:  # the COMMIT failed: nothing of the batch was kept
                answers = [(False, exc) if ok else (ok, v) for ok, v in answers]
                answers += [(False, exc)] * (len(batch) - len(answers))
        for call, (ok, value) in zip(batch, answers, strict=True):
            call.loop.call_soon_threadsafe(_answer, call.future, ok, value)

    def _one(
        self, call: _Call, context: Callable[[], AbstractContextManager[object]]
    ) -> tuple[bool, Any]:
        if self._closed:
            return False, ServiceClosed()
        try:
            with context():
                return True, call.fn(*call.args)
        except BaseException as exc:  # the caller's to handle; the thread goes on
            return False, exc

    async def close(self, last: Callable[[], None] | None = None) -> None:
        """Run `last` after every call made so far, then refuse any other; the thread ends."""
        if self._shut:
            return

        def finish() -> None:
            self._closed = True
            if last is not None:
                last()

        try:
            await self._submit(finish, (), alone=True)
        finally:
            self._shut = True
            self._queue.put(None)
