"""When the store cannot write: `StoreFull`, and `OutageLog` for the lines such a failure logs.

What this is for: a full disk (or database) fails every write until someone makes room, and a
busy node tries hundreds of writes a second meanwhile. The caller answers `StoreFull` with
"come back later" (ESME_RMSGQFUL) rather than a system error, and logs it through an
`OutageLog`: one line at once, then at most one per interval, each saying how many failures it
held back, so that the log says what happened without drowning.

What it is not: a retry policy. Nothing here waits or tries again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from opensmsc.errors import StoreUnavailable

__all__ = ["OutageLog", "StoreFull"]


class StoreFull(StoreUnavailable):
    """Nothing was written because the store has no room (SQLITE_FULL: the disk, its quota or
    the database's size limit) or the disk failed the write (SQLITE_IOERR). It may pass when
    room is made: answer ESME_RMSGQFUL, not ESME_RSYSERR."""


class OutageLog:
    """Logs a failure that repeats: the first at once, then at most one line per `interval`
    seconds (of `now`), with how many `unit` failed since the last line. `recovered(message)`
    logs once (INFO) that the failures stopped, with their count."""

    __slots__ = ("_failures", "_held", "_interval", "_level", "_log", "_next", "_now", "_unit")

    def __init__(
        self,
        log: logging.Logger,
        *,
        interval: float,
        now: Callable[[], float],
        unit: str = "failures",
        level: int = logging.ERROR,
    ) -> None:
        self._log = log
        self._unit = unit
        self._interval = interval
        self._now = now
        self._level = level
        self._next: float | None = None  # no line before this time
        self._held = 0  # failures since the last line
        self._failures = 0  # failures since the last recovery

    def failed(self, message: str, *args: object, count: int = 1) -> None:
        """`count` more failures; `message % args` is logged unless a line went out too
        recently."""
        self._failures += count
        now = self._now()
        if self._next is not None and now < self._next:
            self._held += count
            return
        if self._held:
            message += " (%d more %s since the last line)"
            args = (*args, self._held, self._unit)
        self._log.log(self._level, message, *args)
        self._held = 0
        self._next = now + self._interval

    def recovered(self, message: str) -> None:
        """The failures stopped: log `message` with their count, once. Cheap when none."""
        if self._failures:
            self._log.info("%s after %d %s", message, self._failures, self._unit)
            self._failures = self._held = 0
            self._next = None
