"""Group commit on the IMPS service thread (imps/worker.py with imps/state.py): the calls that
wait run in one SQLite transaction, each in a savepoint of its own, and are answered only
after the COMMIT. Real state files, a real thread, and a real process killed with SIGKILL."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from opensmsc.imps import (
    Channel,
    ImpsRoute,
    ImpsService,
    ImpsSettings,
    ImpsState,
    ImpsStateError,
    Outgoing,
    ServiceThread,
)
from tests.services.engine_harness import open_engine


async def _open(path: Path) -> tuple[ServiceThread, ImpsState]:
    thread = ServiceThread("test-imps-group")
    state = await thread.run(ImpsState, path)
    thread.group(state.transaction)
    return thread, state


def _user_ids(path: Path) -> list[str]:
    state = ImpsState(path)
    try:
        return [user.user_id for user in state.users()]
    finally:
        state.close()


async def test_one_failing_call_in_a_batch_does_not_lose_the_others(tmp_path: Path) -> None:
    path = tmp_path / "imps.sqlite3"
    thread, state = await _open(path)
    release = threading.Event()
    # The thread is held by the first call, so that the next ones wait in its queue together
    # and are taken as one batch.
    blocker = asyncio.ensure_future(thread.run(release.wait, 10.0))
    await asyncio.sleep(0.05)

    def add(user_id: str) -> str:
        state.put_user(user_id, "447700900001", "pw", 1.0)
        return user_id

    def add_then_fail(user_id: str) -> None:
        state.put_user(user_id, "447700900002", "pw", 1.0)
        raise ImpsStateError("this call fails after a write")

    calls = [
        thread.run(add, "alice"),
        thread.run(add_then_fail, "mallory"),
        thread.run(add, "bob"),
    ]
    gathered = asyncio.gather(*calls, return_exceptions=True)
    await asyncio.sleep(0.05)
    batches_before = thread.batches
    release.set()
    results = await gathered
    assert await blocker is True
    assert results[0] == "alice" and results[2] == "bob"
    assert isinstance(results[1], ImpsStateError)
    assert thread.batches == batches_before + 2  # the blocker's batch, then the three together
    await thread.close(state.close)
    assert _user_ids(path) == ["alice", "bob"]  # mallory's write undone, nothing else


async def test_calls_that_open_their_own_transaction_nest_in_the_batch(tmp_path: Path) -> None:
    path = tmp_path / "imps.sqlite3"
    thread, state = await _open(path)

    def add(user_id: str, fail: bool) -> None:
        with state.transaction():
            state.put_user(user_id, "447700900001", "pw", 1.0)
            if fail:
                raise ImpsStateError("refused")

    results = await asyncio.gather(
        *(thread.run(add, f"u{i}", i % 3 == 1) for i in range(30)), return_exceptions=True
    )
    assert [isinstance(r, ImpsStateError) for r in results] == [i % 3 == 1 for i in range(30)]
    await thread.close(state.close)
    assert _user_ids(path) == sorted(f"u{i}" for i in range(30) if i % 3 != 1)


_CHILD = """
import asyncio, sys
from pathlib import Path
from opensmsc.imps import ImpsState, ServiceThread

async def main() -> None:
    thread = ServiceThread("child")
    state = await thread.run(ImpsState, Path(sys.argv[1]))
    thread.group(state.transaction)

    async def add(i: int) -> None:
        await thread.run(state.put_user, f"u{i:06d}", "447700900001", "pw", 1.0)
        sys.stdout.write(f"u{i:06d}\\n")  # acknowledged: committed
        sys.stdout.flush()

    i = 0
    while True:  # batches of 50 in flight, until killed
        await asyncio.gather(*(add(i + k) for k in range(50)))
        i += 50

asyncio.run(main())
"""


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
def test_kill_9_mid_batch_loses_nothing_acknowledged(tmp_path: Path) -> None:
    path = tmp_path / "imps.sqlite3"
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(path)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert child.stdout is not None
    acknowledged: list[str] = []
    try:
        for line in child.stdout:
            acknowledged.append(line.strip())
            if len(acknowledged) >= 2000:  # mid-run: batches are being committed
                break
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(10)
    acknowledged.extend(line.strip() for line in child.stdout)  # those written before the kill
    child.stdout.close()
    assert len(acknowledged) >= 2000
    kept = set(_user_ids(path))
    assert set(acknowledged) <= kept


class _CountingService(ImpsService):
    """The real service, counting its outbox reads (how many drains really ran)."""

    reads = 0

    def outbox(self, limit: int = 256) -> list[Outgoing]:
        self.reads += 1
        return super().outbox(limit)


async def test_concurrent_drains_share_one_outbox_read_and_miss_no_row(tmp_path: Path) -> None:
    engine = await open_engine(tmp_path)
    thread, state = await _open(tmp_path / "imps.sqlite3")
    service: _CountingService = await thread.run(_CountingService, state, ImpsSettings())
    route = ImpsRoute(service, thread=thread, acceptor=engine.acceptor, short_code="3590")

    async def answer_then_drain(i: int) -> None:
        # Six callers at each of ten moments: those of one moment always overlap (their
        # commits queue on the one state thread before any drain reads), and the moments 2 ms
        # apart let later ones come while a drain is storing, on a loaded machine or not.
        await asyncio.sleep((i % 10) * 0.002)
        # as an attempt does: the service commits its answer, then the outbox is drained
        await thread.run(state.add_outgoing, f"4477009{i:05d}", Channel.PLAIN, f"m{i}", 1.0)
        await route.drain()
        # what this caller committed before draining is in the SMSC's store now
        left = await thread.run(state.outbox, 1000)
        assert all(row.body != f"m{i}" for row in left)

    await asyncio.gather(*(answer_then_drain(i) for i in range(60)))
    assert route.sent == 60 and await thread.run(state.count_outbox) == 0
    assert service.reads < 60  # drains that waited together read the outbox once
    await route.stop()
    await thread.close(state.close)
    await engine.close()
