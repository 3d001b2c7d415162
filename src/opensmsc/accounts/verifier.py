"""PasswordVerifier: where argon2 runs, and how much of it may run at once.

A wrong-password bind costs the server one argon2 verification (64 MiB, ~100 ms of CPU) and
the peer nothing, so verifications are a resource a flood of binds must not be able to take
over (issue 10 item 21). The verifier runs them on a few dedicated threads (by default one per
CPU: more would only share the same cores and memory) behind two bounded queues:

- the *first* lane: binds from a (source, system_id) that has not failed recently and has no
  other bind being checked, the way an honest ESME's first bind after a restart comes;
- the *suspect* lane: the others. It may use all threads but one, so a first-lane bind never
  waits for more than the first-lane verifications ahead of it (and, on a single CPU, for the
  one running); it is served only when the first lane is empty.

When a lane's queue is full, `verify` answers None at once: the caller refuses the bind
(ESME_RBINDFAIL) instead of holding it, and the peer may try again. What was refused or
queued costs no CPU. The first lane's queue is long (`FIRST_QUEUE_LIMIT`): after a restart
every ESME's first bind comes at once, one per (address, system_id) since the authenticator
sends a pair's second bind to the other lane, and each must get through. The suspect lane's
is short: what waits there is mostly a guesser's.

Used from the event loop's thread only; `close()` when done.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import os
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["FIRST_QUEUE_LIMIT", "PasswordVerifier", "VerifierStats", "default_workers"]

# About 13 s of argon2 (~100 ms each) on two CPUs: well within session_init_timeout.
FIRST_QUEUE_LIMIT = 256


def default_workers() -> int:
    """The CPUs this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


@dataclass(frozen=True, slots=True, kw_only=True)
class VerifierStats:
    """Counters since start, for logs, metrics and tests."""

    verified: int  # verifications run to the end
    refused_busy: int  # calls answered None: their lane's queue was full
    running: int  # verifications on a thread now
    queued_first: int
    queued_suspect: int


class PasswordVerifier:
    """Runs `check()` callables (argon2) on `workers` threads, at most `first_queue_limit`
    and `suspect_queue_limit` (default: 4 per worker) waiting in each lane; see the module
    doc."""

    def __init__(
        self,
        *,
        workers: int | None = None,
        first_queue_limit: int = FIRST_QUEUE_LIMIT,
        suspect_queue_limit: int | None = None,
    ) -> None:
        self._workers = workers if workers is not None else default_workers()
        if self._workers < 1:
            raise ValueError(f"workers must be at least 1, got {self._workers}")
        # A full suspect queue drains in a few verification times (~0.4 s by default).
        suspect_limit = 4 * self._workers if suspect_queue_limit is None else suspect_queue_limit
        if first_queue_limit < 0 or suspect_limit < 0:
            raise ValueError("queue limits must be at least 0")
        self._limits = {False: first_queue_limit, True: suspect_limit}
        # One thread stays free for the first lane whenever there are two or more.
        self._suspect_slots = max(1, self._workers - 1)
        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=self._workers, thread_name_prefix="argon2"
        )
        self._running = 0
        self._running_suspect = 0
        self._first: deque[asyncio.Future[bool]] = deque()
        self._suspect: deque[asyncio.Future[bool]] = deque()
        self._verified = 0
        self._refused_busy = 0
        self._closed = False

    @property
    def workers(self) -> int:
        return self._workers

    def stats(self) -> VerifierStats:
        return VerifierStats(
            verified=self._verified,
            refused_busy=self._refused_busy,
            running=self._running,
            queued_first=len(self._first),
            queued_suspect=len(self._suspect),
        )

    async def verify(self, check: Callable[[], bool], *, suspect: bool) -> bool | None:
        """`check()`'s answer, run on a verifier thread once one is free for this lane; None
        at once when the lane's queue is full (or the verifier is closed).

        Cancelling the caller gives its place in the queue back; a verification already
        running finishes on its thread (argon2 cannot be interrupted) and holds its thread
        until then.
        """
        if self._closed:
            return None
        if not self._may_start(suspect):
            queue = self._suspect if suspect else self._first
            if len(queue) >= self._limits[suspect]:
                self._refused_busy += 1
                return None
            # True once _dispatch has counted us as running; False when closed meanwhile.
            turn: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
            queue.append(turn)
            try:
                granted = await turn
            except asyncio.CancelledError:
                if turn.done() and not turn.cancelled() and turn.result():
                    self._finished(suspect)  # granted, but we will not use it: pass it on
                elif turn in queue:
                    queue.remove(turn)
                raise
            if not granted:
                return None
        else:
            self._start(suspect)
        return await self._run(check, suspect)

    def close(self) -> None:
        """Refuse what waits and what comes; verifications already running finish."""
        self._closed = True
        for queue in (self._first, self._suspect):
            while queue:
                queue.popleft().set_result(False)
        self._executor.shutdown(wait=False, cancel_futures=True)

    # ---- internals ----------------------------------------------------------------------------

    def _may_start(self, suspect: bool) -> bool:
        if self._running >= self._workers:
            return False
        if suspect:
            # Behind any first-lane bind, and never on the last free thread.
            return not self._first and self._running_suspect < self._suspect_slots
        return True

    def _start(self, suspect: bool) -> None:
        self._running += 1
        if suspect:
            self._running_suspect += 1

    def _finished(self, suspect: bool) -> None:
        self._running -= 1
        if suspect:
            self._running_suspect -= 1
        self._dispatch()

    def _dispatch(self) -> None:
        """Hand free threads to the waiting, first lane first."""
        while self._first and self._may_start(False):
            self._start(False)
            self._first.popleft().set_result(True)
        while self._suspect and self._may_start(True):
            self._start(True)
            self._suspect.popleft().set_result(True)

    async def _run(self, check: Callable[[], bool], suspect: bool) -> bool | None:
        loop = asyncio.get_running_loop()
        try:
            job = self._executor.submit(check)
        except RuntimeError:  # shut down meanwhile
            self._finished(suspect)
            return None

        def done(finished: concurrent.futures.Future[bool]) -> None:
            # On the worker thread. The thread is free only now: a cancelled caller must not
            # give it away while argon2 still runs on it. A closed loop has nobody waiting.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self._job_done, suspect, not finished.cancelled())

        job.add_done_callback(done)
        try:
            return await asyncio.wrap_future(job)
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if job.cancelled() and (task is None or not task.cancelling()):
                return None  # close() cancelled the job before it ran, not our caller
            raise

    def _job_done(self, suspect: bool, ran: bool) -> None:
        self._verified += ran
        self._finished(suspect)
