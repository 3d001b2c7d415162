"""PasswordVerifier: bounded argon2 in flight, two lanes, a prompt None when saturated."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

import pytest

from opensmsc.accounts.verifier import PasswordVerifier


class Gate:
    """check() callables that block on their thread until released, and say when they ran."""

    def __init__(self) -> None:
        self.started: list[str] = []
        self._events: dict[str, threading.Event] = {}
        self._lock = threading.Lock()

    def check(self, name: str, answer: bool = True) -> Callable[[], bool]:
        event = self._events.setdefault(name, threading.Event())

        def run() -> bool:
            with self._lock:
                self.started.append(name)
            event.wait(5.0)
            return answer

        return run

    def release(self, name: str) -> None:
        self._events[name].set()

    def release_all(self) -> None:
        for event in self._events.values():
            event.set()


async def until(predicate: Callable[[], bool], timeout: float = 2.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.001)


@pytest.fixture
def gate() -> Gate:
    return Gate()


async def test_answers_what_the_check_answers() -> None:
    verifier = PasswordVerifier(workers=2)
    try:
        assert await verifier.verify(lambda: True, suspect=False) is True
        assert await verifier.verify(lambda: False, suspect=True) is False
        assert verifier.stats().verified == 2
    finally:
        verifier.close()


async def test_no_more_than_workers_run_and_a_full_queue_answers_none_at_once(
    gate: Gate,
) -> None:
    verifier = PasswordVerifier(workers=2, first_queue_limit=2)
    try:
        first = [
            asyncio.create_task(verifier.verify(gate.check(f"f{n}"), suspect=False))
            for n in range(4)
        ]
        await until(lambda: len(gate.started) == 2)
        assert verifier.stats().queued_first == 2
        # The lane's queue is full: refused at once, nothing more started.
        assert await asyncio.wait_for(verifier.verify(gate.check("x"), suspect=False), 0.5) is None
        assert verifier.stats().refused_busy == 1
        gate.release_all()
        assert await asyncio.gather(*first) == [True] * 4
        assert sorted(gate.started) == ["f0", "f1", "f2", "f3"]
    finally:
        gate.release_all()
        verifier.close()


async def test_suspects_leave_a_thread_to_first_binds(gate: Gate) -> None:
    verifier = PasswordVerifier(workers=2, suspect_queue_limit=4)
    try:
        suspects = [
            asyncio.create_task(verifier.verify(gate.check(f"s{n}"), suspect=True))
            for n in range(3)
        ]
        await until(lambda: len(gate.started) == 1)
        await asyncio.sleep(0.05)
        assert gate.started == ["s0"]  # one thread stays free
        first = asyncio.create_task(verifier.verify(gate.check("first"), suspect=False))
        await until(lambda: "first" in gate.started)  # at once, on the reserved thread
        gate.release("first")
        assert await first is True
        gate.release_all()
        assert await asyncio.gather(*suspects) == [True] * 3
    finally:
        gate.release_all()
        verifier.close()


async def test_first_lane_is_served_before_waiting_suspects(gate: Gate) -> None:
    verifier = PasswordVerifier(workers=1, first_queue_limit=4, suspect_queue_limit=4)
    try:
        running = asyncio.create_task(verifier.verify(gate.check("busy"), suspect=False))
        await until(lambda: gate.started == ["busy"])
        suspect = asyncio.create_task(verifier.verify(gate.check("suspect"), suspect=True))
        await asyncio.sleep(0.01)
        first = asyncio.create_task(verifier.verify(gate.check("first"), suspect=False))
        await asyncio.sleep(0.01)
        gate.release("busy")
        await until(lambda: len(gate.started) == 2)
        assert gate.started[1] == "first"
        gate.release_all()
        await asyncio.gather(running, suspect, first)
        assert gate.started == ["busy", "first", "suspect"]
    finally:
        gate.release_all()
        verifier.close()


async def test_a_cancelled_waiter_gives_its_place_back(gate: Gate) -> None:
    verifier = PasswordVerifier(workers=1, first_queue_limit=1)
    try:
        running = asyncio.create_task(verifier.verify(gate.check("busy"), suspect=False))
        await until(lambda: gate.started == ["busy"])
        waiting = asyncio.create_task(verifier.verify(gate.check("gone"), suspect=False))
        await until(lambda: verifier.stats().queued_first == 1)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        assert verifier.stats().queued_first == 0
        nxt = asyncio.create_task(verifier.verify(gate.check("next"), suspect=False))
        await asyncio.sleep(0.01)
        gate.release_all()
        assert await asyncio.gather(running, nxt) == [True, True]
        assert "gone" not in gate.started
    finally:
        gate.release_all()
        verifier.close()


async def test_a_cancelled_caller_keeps_its_thread_until_argon2_ends(gate: Gate) -> None:
    verifier = PasswordVerifier(workers=1, first_queue_limit=4, suspect_queue_limit=4)
    try:
        caller = asyncio.create_task(verifier.verify(gate.check("long"), suspect=False))
        await until(lambda: gate.started == ["long"])
        caller.cancel()
        with pytest.raises(asyncio.CancelledError):
            await caller
        assert verifier.stats().running == 1  # still running on its thread
        nxt = asyncio.create_task(verifier.verify(gate.check("next"), suspect=False))
        await asyncio.sleep(0.05)
        assert gate.started == ["long"]
        gate.release("long")
        gate.release("next")
        assert await nxt is True
    finally:
        gate.release_all()
        verifier.close()


async def test_close_refuses_what_waits_and_what_comes(gate: Gate) -> None:
    verifier = PasswordVerifier(workers=1, first_queue_limit=4, suspect_queue_limit=4)
    running = asyncio.create_task(verifier.verify(gate.check("busy"), suspect=False))
    await until(lambda: gate.started == ["busy"])
    waiting = asyncio.create_task(verifier.verify(gate.check("w"), suspect=True))
    await until(lambda: verifier.stats().queued_suspect == 1)
    verifier.close()
    assert await waiting is None
    assert await verifier.verify(gate.check("late"), suspect=False) is None
    gate.release_all()
    assert await running is True


async def test_the_suspect_lane_has_a_short_queue_of_its_own(gate: Gate) -> None:
    verifier = PasswordVerifier(workers=2, first_queue_limit=10, suspect_queue_limit=1)
    try:
        busy = [
            asyncio.create_task(verifier.verify(gate.check(f"b{n}"), suspect=False))
            for n in range(2)
        ]
        await until(lambda: len(gate.started) == 2)
        waiting = asyncio.create_task(verifier.verify(gate.check("s1"), suspect=True))
        await until(lambda: verifier.stats().queued_suspect == 1)
        assert await verifier.verify(gate.check("s2"), suspect=True) is None  # at once
        first = [
            asyncio.create_task(verifier.verify(gate.check(f"f{n}"), suspect=False))
            for n in range(10)
        ]
        await until(lambda: verifier.stats().queued_first == 10)  # the first lane still takes
        gate.release_all()
        assert await asyncio.gather(*busy, waiting, *first) == [True] * 13
    finally:
        gate.release_all()
        verifier.close()
