"""Which ESME sessions are bound, per account, and which can receive.

Deliveries to an account (receipts, mobile-originated messages) go to one of its receiver or
transceiver sessions, in turn, skipping sessions whose window is full.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Protocol

from opensmsc.smpp import BindMode, DeliverSm


class DeliveryTarget(Protocol):
    """A bound session we can send deliver_sm on."""

    @property
    def system_id(self) -> str: ...

    @property
    def bind_mode(self) -> BindMode | None: ...

    @property
    def can_receive(self) -> bool: ...

    @property
    def has_window(self) -> bool: ...

    def deliver(self, pdu: DeliverSm, on_done: Callable[[int | None], None]) -> bool:
        """Send `pdu`; False when it cannot go now. `on_done(status | None)` follows once."""
        ...


class SessionRegistry:
    """Bound sessions by system_id. Not thread-safe: used from the event loop only."""

    def __init__(self) -> None:
        self._sessions: dict[str, list[DeliveryTarget]] = {}
        self._turn: dict[str, int] = {}

    def add(self, session: DeliveryTarget) -> None:
        self._sessions.setdefault(session.system_id, []).append(session)

    def remove(self, session: DeliveryTarget) -> None:
        sessions = self._sessions.get(session.system_id)
        if sessions and session in sessions:
            sessions.remove(session)
            if not sessions:
                del self._sessions[session.system_id]
                self._turn.pop(session.system_id, None)

    def bound(self, system_id: str) -> list[DeliveryTarget]:
        return list(self._sessions.get(system_id, ()))

    def __iter__(self) -> Iterator[DeliveryTarget]:
        for sessions in self._sessions.values():
            yield from sessions

    def __len__(self) -> int:
        return sum(len(s) for s in self._sessions.values())

    def receiver_for(self, system_id: str) -> DeliveryTarget | None:
        """A receiving session of the account with a free window slot, round robin."""
        sessions = self._sessions.get(system_id)
        if not sessions:
            return None
        start = self._turn.get(system_id, 0)
        count = len(sessions)
        for offset in range(count):
            session = sessions[(start + offset) % count]
            if session.can_receive and session.has_window:
                self._turn[system_id] = (start + offset + 1) % count
                return session
        return None

    def has_receiver(self, system_id: str) -> bool:
        return any(s.can_receive for s in self._sessions.get(system_id, ()))

    def counts(self) -> dict[tuple[str, BindMode | None], int]:
        """Bound sessions by (system_id, bind mode): what the metrics show."""
        counts: dict[tuple[str, BindMode | None], int] = {}
        for system_id, sessions in self._sessions.items():
            for session in sessions:
                key = (system_id, session.bind_mode)
                counts[key] = counts.get(key, 0) + 1
        return counts
