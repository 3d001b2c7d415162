"""A connector's submit queue, sans-IO: which submit goes out next, and when (issue 9).

What this is for: the order (submits the upstream throttled go again first, then new ones in
the order they came), the window (at most `window` submits await their submit_sm_resp), the
throughput cap (a token bucket) and the pause after ESME_RTHROTTLED / ESME_RMSGQFUL: it grows
while the upstream still throttles after a pause, and starts again from the smallest once a
submit is accepted. Time comes in as `now` (monotonic seconds), randomness as `rng`.

What it is not: the waiting or the sending. The connector (connector.py) keeps the callers'
futures and a bound on how many may queue, sleeps until `ready_at`, puts what `pop_ready` gives
it on a bound session, and reports each answer back here. No asyncio, no clock, no logging: a
new pause comes back as its length, for the caller to log.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Hashable
from typing import Generic, TypeVar

from opensmsc.accounts import TokenBucket
from opensmsc.upstream.model import reconnect_delay

__all__ = ["SubmitQueue"]

T = TypeVar("T", bound=Hashable)


def queue_burst(throughput: float) -> float:
    """The burst of a connector's bucket: a tenth of a second's worth, at least one."""
    return max(1.0, throughput / 10.0)


class SubmitQueue(Generic[T]):
    """Submits (any hashable item, each queued once) waiting to go out and awaiting an answer.

    An item is waiting (`put`, or back after `throttled`), then in flight (`pop_ready`), until
    its answer: `accepted`, `throttled` (waiting again, ahead of new items) or `failed`
    (rejected, timed out, lost with its session). `withdraw` takes a waiting item out.
    Raises ValueError for an item in the wrong place: a bug in the caller.
    """

    def __init__(
        self,
        *,
        window: int,
        throughput: float = 0.0,
        throttle_min_delay: float = 0.1,
        throttle_max_delay: float = 10.0,
        rng: random.Random | None = None,
        bucket: TokenBucket | None = None,
    ) -> None:
        if window < 1:
            raise ValueError(f"window must be at least 1, got {window}")
        if not 0 < throttle_min_delay <= throttle_max_delay:
            raise ValueError("expected 0 < throttle_min_delay <= throttle_max_delay")
        self._window = window
        # A burst of a tenth of a second's worth: smooth, yet no stall on float rounding.
        # `bucket` replaces it (a cluster's shared rate, made with the same burst).
        self._bucket = bucket
        if bucket is None and throughput > 0:
            self._bucket = TokenBucket(throughput, queue_burst(throughput))
        self._min_delay = throttle_min_delay
        self._max_delay = throttle_max_delay
        self._rng = rng if rng is not None else random.Random()
        self._fresh: deque[T] = deque()
        self._retry: deque[T] = deque()  # throttled, sent again before any fresh item
        self._in_flight: set[T] = set()
        self._paused_until = float("-inf")
        self._streak = 0  # throttling answers after a pause, in a row

    # -- reads --------------------------------------------------------------------------------

    @property
    def window(self) -> int:
        return self._window

    @property
    def in_flight(self) -> int:
        """Items sent and not answered yet; never more than `window`."""
        return len(self._in_flight)

    @property
    def waiting(self) -> int:
        """Items waiting to go out, throttled ones included."""
        return len(self._fresh) + len(self._retry)

    @property
    def paused_until(self) -> float:
        """Nothing goes out before this time (a throttling pause); -inf when never paused."""
        return self._paused_until

    def is_waiting(self, item: T) -> bool:
        return item in self._retry or item in self._fresh

    def is_in_flight(self, item: T) -> bool:
        return item in self._in_flight

    def ready_at(self, now: float) -> float | None:
        """When `pop_ready` will give an item (`now` or later), or None: nothing is waiting,
        or the window is full (an answer will free a slot)."""
        if not (self._retry or self._fresh) or len(self._in_flight) >= self._window:
            return None
        at = max(now, self._paused_until)
        if self._bucket is not None:
            at = max(at, now + self._bucket.delay_until_available(now))
        return at

    # -- writes -------------------------------------------------------------------------------

    def put(self, item: T) -> None:
        """A new submit, behind every waiting one."""
        if item in self._in_flight or self.is_waiting(item):
            raise ValueError("item is queued already")
        self._fresh.append(item)

    def withdraw(self, item: T) -> bool:
        """Take a waiting item out (its caller gave up). False when it is not waiting: in
        flight (it is on the wire; its answer still comes) or already answered."""
        for queue in (self._retry, self._fresh):
            try:
                queue.remove(item)
            except ValueError:
                continue
            return True
        return False

    def pop_ready(self, now: float) -> T | None:
        """The next item to send, now in flight (it took a window slot and a token); None
        when `ready_at(now)` is None or later than `now`."""
        at = self.ready_at(now)
        if at is None or at > now:
            return None
        item = (self._retry or self._fresh).popleft()
        if self._bucket is not None:
            self._bucket.try_take(now)
        self._in_flight.add(item)
        return item

    def accepted(self, item: T) -> None:
        """The upstream took it: its slot is free, and throttling is over."""
        self._land(item)
        self._streak = 0

    def throttled(self, item: T, now: float) -> float | None:
        """The upstream said "not now": the item waits again, ahead of fresh ones, and
        nothing goes out until the pause ends. Returns the length of the pause when this
        answer began one; None when a pause that covers it is running already (answers to
        submits sent before that pause say nothing new)."""
        self._land(item)
        self._retry.append(item)
        if now < self._paused_until:
            return None
        self._streak += 1
        delay = reconnect_delay(self._streak, self._min_delay, self._max_delay, self._rng)
        self._paused_until = now + delay
        return delay

    def failed(self, item: T) -> None:
        """It ended without an acceptance (rejected, timed out, lost): its slot is free."""
        self._land(item)

    def clear(self) -> list[T]:
        """Every waiting item, throttled ones first, taken out (the connector stops). Items
        in flight stay until they are answered."""
        items = [*self._retry, *self._fresh]
        self._retry.clear()
        self._fresh.clear()
        return items

    def _land(self, item: T) -> None:
        try:
            self._in_flight.remove(item)
        except KeyError:
            raise ValueError("item is not in flight") from None
