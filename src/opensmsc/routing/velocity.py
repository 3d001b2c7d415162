"""Sliding-window counters for velocity rules against SMS pumping (issue 11): at most `limit`
events per key in any `window` seconds, exactly, in bounded memory.

Each key keeps its last `limit` event times in a deque of that length: the window is full when
the oldest of them is younger than `window`. So memory is at most `limit` floats per key, and
at most `max_keys` keys are kept; the key used least recently is forgotten first (it then counts
from zero again: the price of the bound). Time comes in as `now` (seconds, any epoch).
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Hashable

__all__ = ["SlidingWindow"]


class SlidingWindow:
    def __init__(self, *, limit: int, window: float, max_keys: int) -> None:
        if limit < 1 or window <= 0 or max_keys < 1:
            raise ValueError("limit and max_keys must be positive, window above 0")
        self.limit = limit
        self.window = window
        self.max_keys = max_keys
        self._events: OrderedDict[Hashable, deque[float]] = OrderedDict()

    def __len__(self) -> int:
        """How many keys are remembered."""
        return len(self._events)

    def allows(self, key: Hashable, now: float) -> bool:
        """Whether one more event for `key` at `now` stays within the limit (nothing recorded)."""
        events = self._events.get(key)
        return events is None or len(events) < self.limit or now - events[0] >= self.window

    def retry_after(self, key: Hashable, now: float) -> float:
        """Seconds until `key` may have an event again (0 when it may now)."""
        if self.allows(key, now):
            return 0.0
        return self._events[key][0] + self.window - now

    def hit(self, key: Hashable, now: float) -> bool:
        """Record an event for `key` at `now` if the limit allows it; whether it did."""
        events = self._events.get(key)
        if events is None:
            events = self._events[key] = deque(maxlen=self.limit)
            if len(self._events) > self.max_keys:
                self._events.popitem(last=False)
        elif len(events) == self.limit and now - events[0] < self.window:
            return False
        else:
            self._events.move_to_end(key)
        events.append(now)
        return True
