"""The tap of one ESME session: its PDUs, both ways, for whoever tails it (`opensmsc tail`).

A session has no tap until someone tails it (the connection's `tap` is None: one check per read
and per write). While tailed, each frame is copied with the time it passed into the queue of
every reader, and nothing else happens on the session's path: decoding is the reader's work,
when it takes the frames. A reader that does not keep up cannot slow the session down or make
it hold memory: its queue is bounded, frames beyond it are dropped and counted (`dropped`),
and the reader is told how many it missed.

What it is not: a capture to a file, or a log (the frames are never written anywhere).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final, Literal

from opensmsc.smpp import Connection

__all__ = ["TAIL_QUEUE", "SessionTap", "TailReader", "TappedFrame"]

TAIL_QUEUE: Final = 1000  # frames a reader may have waiting before new ones are dropped


@dataclass(frozen=True, slots=True)
class TappedFrame:
    at: datetime
    direction: Literal["in", "out"]
    frame: bytes


class TailReader:
    """One reader of a tapped session. `frames()` waits for what came since; empty once the
    session ended (`ended` says why) or the reader was closed."""

    def __init__(self, tap: SessionTap, limit: int) -> None:
        self._tap = tap
        self._queue: deque[TappedFrame] = deque()
        self._limit = limit
        self._ready = asyncio.Event()
        self.dropped = 0  # frames that did not fit, since the reader started
        self.ended: str | None = None  # why the session ended, once it has
        self.closed = False

    def put(self, at: datetime, direction: Literal["in", "out"], frames: Sequence[bytes]) -> None:
        queue = self._queue
        room = self._limit - len(queue)
        if room < len(frames):
            self.dropped += len(frames) - max(room, 0)
            frames = frames[: max(room, 0)]
        for frame in frames:
            queue.append(TappedFrame(at, direction, bytes(frame)))
        self._ready.set()

    def end(self, reason: str) -> None:
        self.ended = reason
        self._ready.set()

    async def frames(self, timeout: float | None = None) -> list[TappedFrame]:
        """What is waiting, or, when nothing is, what comes within `timeout` seconds (None:
        until something does or the session ends)."""
        if not self._queue and self.ended is None and not self.closed:
            self._ready.clear()
            try:
                async with asyncio.timeout(timeout):
                    await self._ready.wait()
            except TimeoutError:
                return []
        out = list(self._queue)
        self._queue.clear()
        return out

    def close(self) -> None:
        """Stop reading: the session forgets this reader (and its tap, when it was the last)."""
        if not self.closed:
            self.closed = True
            self._ready.set()
            self._tap.remove(self)


class SessionTap:
    """The connection's FrameTap while at least one reader is attached; detached again with
    the last reader."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self._readers: list[TailReader] = []

    def add(self, limit: int = TAIL_QUEUE) -> TailReader:
        reader = TailReader(self, limit)
        self._readers.append(reader)
        self._connection.tap = self
        return reader

    def remove(self, reader: TailReader) -> None:
        if reader in self._readers:
            self._readers.remove(reader)
        if not self._readers and self._connection.tap is self:
            self._connection.tap = None

    def end(self, reason: str) -> None:
        """The session ended: every reader is told why."""
        for reader in self._readers:
            reader.end(reason)
        self._readers.clear()
        if self._connection.tap is self:
            self._connection.tap = None

    # ---- FrameTap: on the session's path ------------------------------------------------------

    def received(self, frames: Sequence[bytes]) -> None:
        at = datetime.now(UTC)
        for reader in self._readers:
            reader.put(at, "in", frames)

    def sent(self, frames: Sequence[bytes]) -> None:
        at = datetime.now(UTC)
        for reader in self._readers:
            reader.put(at, "out", frames)
