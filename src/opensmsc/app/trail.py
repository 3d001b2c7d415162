"""The admin API's view of message trails (http/routes/admin_trail.py TrailSource): a
message's record and its trail events from the node's store, as the route's document.

A receipt's own id is answered with the trail of the message it reports on (where its events
are written, engine/trail.py), so `opensmsc trace` works with either id.

What it is not: the store (store/trail.py) or the events' meaning (engine/trail.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opensmsc.engine import trace_of
from opensmsc.store import Direction, Store, TrailEvent

__all__ = ["NodeTrail", "event_json"]


def event_json(event: TrailEvent) -> dict[str, Any]:
    return {
        "at": event.at.isoformat().replace("+00:00", "Z"),
        "kind": event.kind,
        "detail": dict(event.detail),
    }


class NodeTrail:
    """Message trails from `store`."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def trail(self, message_id: str) -> Mapping[str, Any] | None:
        record = await self._store.get(message_id)
        if record is None:
            return None
        answer: dict[str, Any] = {"id": message_id}
        if record.direction is Direction.RECEIPT and record.receipted_message_id:
            reported = await self._store.get(record.receipted_message_id)
            answer["receipt_of"] = record.receipted_message_id
            if reported is not None:
                record = reported
        events = await self._store.trail(record.message_id)
        answer.update(
            trace_id=trace_of(record),
            account=record.system_id,
            direction=record.direction.name,
            state=record.state.name,
            source=record.source.addr,
            destination=record.destination.addr,
            events=[event_json(event) for event in events],
        )
        return answer
