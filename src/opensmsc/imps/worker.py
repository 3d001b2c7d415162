"""The one thread the IMPS service runs on.

The service (service.py) is synchronous and keeps one SQLite connection, which may be used only
from the thread that opened it, one call at a time. `ServiceThread.run(fn, ...)` runs a call on
that thread and awaits its result from the event loop, so that the loop never blocks on an
fsync; calls run in the order they were made. `close(last)` runs `last` (closing the state)
after every call made before it; any call made later raises ServiceClosed, never touching a
closed connection.

What it is not: a pool. Every call waits for the ones before it: the service's effects are
serialised by construction, and one fsync at a time is what SQLite allows anyway.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from opensmsc.errors import OpensmscError

__all__ = ["ServiceClosed", "ServiceThread"]

T = TypeVar("T")


class ServiceClosed(OpensmscError):
    """The service was closed before this call could run."""

    def __init__(self) -> None:
        super().__init__("the IMPS service is stopped")


class ServiceThread:
    """A single worker thread (module doc)."""

    def __init__(self, name: str = "imps") -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
        self._closed = False  # read and written on the worker thread only
        self._shut = False  # on the event loop: no call is queued any more

    async def run(self, fn: Callable[..., T], *args: object) -> T:
        """`fn(*args)` on the service thread; its exception is raised here. Raises
        ServiceClosed once `close` ran."""
        if self._shut:
            raise ServiceClosed
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._call, fn, args)

    def _call(self, fn: Callable[..., T], args: tuple[object, ...]) -> T:
        if self._closed:
            raise ServiceClosed
        return fn(*args)

    async def close(self, last: Callable[[], None] | None = None) -> None:
        """Run `last` after every call made so far, then refuse any other; the thread ends."""
        if self._shut:
            return

        def finish() -> None:
            self._closed = True
            if last is not None:
                last()

        try:
            await self.run(finish)
        finally:
            self._shut = True
            self._executor.shutdown(wait=False)
