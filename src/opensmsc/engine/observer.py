"""What the engine tells an observer about messages: the seam that metrics hang on.

What this is for: the drivers count and time messages (app/metrics.py: Prometheus counters and
latency histograms) without the engine knowing how. The engine calls a `MessageObserver` at the
two moments a message's life is decided, each after the store committed it:

- `stored(records, at)`: new messages became durable (the Acceptor: submit_sm, submit_multi,
  data_sm, the HTTP API); their answers carry message ids from now on;
- `ended(record, state, route, at)`: a message reached a final state (engine/lifecycle.py,
  whatever ended it: an attempt's outcome, expiry, cancel_sm, an upstream's receipt; and the
  Acceptor for a message superseded by a submit_sm with replace_if_present_flag).

The calls are on the hot path, in the event loop, once per message: an observer does a few
increments and returns; it must not block, await or raise. What it is not: a log, a trail of
events for replay, or a way to change what happens (the outcome is already committed).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Final, Protocol

from opensmsc.smpp import MessageState
from opensmsc.store import StoredMessage

__all__ = ["NO_OBSERVER", "MessageObserver"]


class MessageObserver(Protocol):
    """Hears committed message events (module doc). `at` is the engine's clock when the
    commit returned (`stored`) or the time recorded with the final state (`ended`)."""

    def stored(self, records: Sequence[StoredMessage], at: datetime) -> None: ...

    def ended(
        self, record: StoredMessage, state: MessageState, route: str | None, at: datetime
    ) -> None:
        """`record` as it was before it ended; `route` the one the final state was recorded
        with (None when the change named none: expiry, cancel, a receipt)."""
        ...


class _NoObserver:
    __slots__ = ()

    def stored(self, records: Sequence[StoredMessage], at: datetime) -> None:
        pass

    def ended(
        self, record: StoredMessage, state: MessageState, route: str | None, at: datetime
    ) -> None:
        pass


NO_OBSERVER: Final[MessageObserver] = _NoObserver()
"""The engine's default: nobody listens."""
