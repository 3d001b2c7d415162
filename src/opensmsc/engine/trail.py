"""The events of a message's trail (store/trail.py) as the engine writes them, one builder per
kind, so every path (SMPP, HTTP, IMPS, MO; immediate and awaited attempts; receipts and
webhooks) describes the same happening with the same keys.

What this is for: each builder returns a `TrailEvent` that the caller hands to the store with
the state change it describes (`Change.trail`, `submit_many(trail=...)`), never on its own
(no extra sync). `Origin` says where a message came in: the door (smpp, smpps, http, mo,
imps) and the peer's address.

`FinalListener` hears each final state after its commit, with the "final" event: the CDR
writer (app/cdr.py) hangs on it.

What it is not: storage (store/trail.py) or the log lines (which carry the trace id, see
observability/trace.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final, Protocol
from urllib.parse import urlsplit

from opensmsc.routing import (
    Accepted,
    Attempt,
    Decision,
    Delivered,
    PermanentFailure,
    TemporaryFailure,
)
from opensmsc.smpp import MessageState, Tag
from opensmsc.store import Direction, StoredMessage, TrailEvent

__all__ = [
    "NO_FINAL_LISTENER",
    "FinalListener",
    "Origin",
    "accepted",
    "attempt",
    "final",
    "receipt_ended",
    "receipt_made",
    "receipt_taken",
    "retry",
    "routed",
    "trace_of",
    "webhook",
]


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a message came in: `door` (smpp, smpps, http, mo, imps), the peer's `address`
    ("ip:port") when there is one, and the SMPP `session` id (for an MO: the connector, or
    the network, it came from)."""

    door: str
    address: str | None = None
    session: str | None = None


SMPP: Final = Origin("smpp")  # a submit whose session did not say more

_ONE_US: Final = timedelta(microseconds=1)

# The states' names, read once: an enum member's .name is a property lookup on every read.
_NAMES: Final = {state: state.name for state in MessageState}


def trace_of(record: StoredMessage) -> str:
    """The trace id of a record: its own, or (a record from before trace ids) its id."""
    return record.trace_id or record.message_id


def accepted(record: StoredMessage, origin: Origin) -> TrailEvent:
    """Stored, from `origin`. The account and addresses are the record's own (the trail is
    read beside it, and purged with it): not repeated here, where every octet is paid per
    message."""
    detail: dict[str, Any] = {"door": origin.door}
    if origin.address is not None:
        detail["address"] = origin.address
    if origin.session is not None:
        detail["session"] = origin.session
    if record.concat is not None:
        detail["part"] = f"{record.concat.seq}/{record.concat.total}"
    if record.registered_delivery & 0x13:
        detail["receipt_requested"] = True
    if record.due_at > record.submitted_at:
        detail["scheduled_for"] = record.due_at.isoformat().replace("+00:00", "Z")
    return TrailEvent(record.message_id, record.submitted_at, "accepted", detail)


def routed(record: StoredMessage, decision: Decision, at: datetime) -> TrailEvent:
    """The policy's decision for an attempt: its action, routes in order, and why."""
    # Policies hand out the same decision objects again and again (one per route, per
    # ranking): their detail is built once (it is only ever read, to be stored as JSON).
    cached = _routed_details.get(id(decision))
    if cached is not None and cached[0] is decision:
        return TrailEvent(record.message_id, at, "routed", cached[1])
    detail = _routed_detail(decision)
    if len(_routed_details) >= _ROUTED_CACHE:
        _routed_details.clear()
    _routed_details[id(decision)] = (decision, detail)
    return TrailEvent(record.message_id, at, "routed", detail)


_ROUTED_CACHE: Final = 1024
_routed_details: dict[int, tuple[Decision, dict[str, Any]]] = {}


def _routed_detail(decision: Decision) -> dict[str, Any]:
    detail: dict[str, Any] = {
        "action": str(decision.action.value),
        "routes": [choice.route for choice in decision.routes],
    }
    if decision.reason:
        detail["reason"] = decision.reason
    if decision.status:
        detail["status"] = decision.status
    if decision.retry_after_ms is not None:
        detail["retry_after_ms"] = decision.retry_after_ms
    costs = [c.cost for c in decision.routes]
    if any(cost is not None for cost in costs):
        detail["costs"] = costs
    return detail


def attempt(
    record: StoredMessage, route: str, outcome: Attempt, at: datetime, latency_ms: float
) -> TrailEvent:
    """One attempt on `route` and what came of it. `error` is what the route reported: a MAP
    error from the network, a command_status from an upstream SMSC."""
    detail: dict[str, Any] = {"route": route}
    match outcome:
        case Delivered():
            detail["outcome"] = "delivered"
        case Accepted(upstream_id=upstream_id):
            detail["outcome"] = "accepted"
            detail["upstream_id"] = upstream_id
        case PermanentFailure(error=error, state=state, detail=text):
            detail["outcome"] = "failed"
            detail["error"] = error
            detail["state"] = _NAMES[state]
            if text:
                detail["why"] = text
        case TemporaryFailure(error=error, detail=text):
            detail["outcome"] = "temporary_failure"
            detail["error"] = error
            if outcome.route_fault:
                detail["route_fault"] = True
            if text:
                detail["why"] = text
    # To the µs: round(x, 3) would cost more than the rest of the event.
    detail["latency_ms"] = int(latency_ms * 1000 + 0.5) / 1000
    return TrailEvent(record.message_id, at, "attempt", detail)


def retry(record: StoredMessage, next_attempt_at: datetime, at: datetime) -> TrailEvent:
    detail = {"next_attempt_at": next_attempt_at.isoformat().replace("+00:00", "Z")}
    return TrailEvent(record.message_id, at, "retry", detail)


def final(
    record: StoredMessage,
    state: MessageState,
    at: datetime,
    *,
    error: int | None,
    route: str | None,
    upstream_id: str | None = None,
    by: str | None = None,
    attempted: bool = False,
) -> TrailEvent:
    """The final state. `by` says what ended it when not an attempt: expiry, cancel_sm,
    an upstream's receipt, a replacing submit. `attempted`: the change counts an attempt
    the record does not count yet (one stored leased, Acceptor)."""
    detail: dict[str, Any] = {"state": _NAMES[state]}
    if error is not None:
        detail["error"] = error
    route = route or record.route
    if route is not None:
        detail["route"] = route
    upstream_id = upstream_id or record.upstream_message_id
    if upstream_id is not None:
        detail["upstream_id"] = upstream_id
    if by is not None:
        detail["by"] = by
    detail["attempts"] = record.attempts + attempted
    detail["latency_ms"] = ((at - record.submitted_at) // _ONE_US) / 1000  # times are to the µs
    return TrailEvent(record.message_id, at, "final", detail)


def receipt_made(
    record: StoredMessage, receipt: StoredMessage, at: datetime, state: MessageState | None
) -> TrailEvent:
    """The receipt (or intermediate notification) made for `record`, reporting `state` (None:
    read from its TLVs): where it goes."""
    detail: dict[str, Any] = {
        "receipt_id": receipt.message_id,
        "state": _receipt_state(receipt) if state is None else _NAMES[state],
    }
    if receipt.callback_url is not None:
        detail["to"] = "webhook"
        detail["host"] = urlsplit(receipt.callback_url).hostname or ""
    else:
        detail["to"] = "smpp"
    if receipt.esm_class & 0x20:
        detail["intermediate"] = True
    return TrailEvent(record.message_id, at, "receipt", detail)


def receipt_taken(receipt: StoredMessage, at: datetime, by: str) -> TrailEvent:
    """The client took the receipt `by` http_poll (then `receipt` is the message itself,
    whose final state the client read). A receipt taken by deliver_sm_resp or a webhook
    needs no event: Store.trail reads it from the receipt's DELIVERED."""
    if receipt.direction is not Direction.RECEIPT:
        return TrailEvent(receipt.message_id, at, "receipt_taken", {"by": by})
    return TrailEvent(
        _reported(receipt), at, "receipt_taken", {"receipt_id": receipt.message_id, "by": by}
    )


def receipt_ended(
    receipt: StoredMessage, state: MessageState, at: datetime, error: int | None
) -> TrailEvent:
    """The receipt ended without reaching its client (refused, expired, given up)."""
    detail: dict[str, Any] = {"receipt_id": receipt.message_id, "state": _NAMES[state]}
    if error is not None:
        detail["error"] = error
    return TrailEvent(_reported(receipt), at, "receipt_failed", detail)


def webhook(receipt: StoredMessage, at: datetime, status: int, *, attempt: int) -> TrailEvent:
    """One webhook call for the receipt: the URL's host (not its path or query, which may
    carry the client's secrets) and the HTTP status (0: no answer)."""
    host = urlsplit(receipt.callback_url or "").hostname or ""
    return TrailEvent(
        _reported(receipt),
        at,
        "webhook",
        {"receipt_id": receipt.message_id, "host": host, "status": status, "attempt": attempt},
    )


def _reported(receipt: StoredMessage) -> str:
    # A receipt's events go on the trail of the message it reports on.
    return receipt.receipted_message_id or receipt.message_id


def _receipt_state(receipt: StoredMessage) -> str:
    # The state a receipt reports is in its TLVs (message_state); its text says it too.
    value = receipt.tlv_values.get(Tag.MESSAGE_STATE)
    if isinstance(value, int):
        try:
            return MessageState(value).name
        except ValueError:
            return str(value)
    return "unknown"


class FinalListener(Protocol):
    """Hears each final state after its commit (the CDR writer): `record` as it was before
    it ended, `event` the "final" event stored with it. On the event loop, once per message:
    it must not block, await or raise."""

    def final(self, record: StoredMessage, event: TrailEvent) -> None: ...


class _Nobody:
    __slots__ = ()

    def final(self, record: StoredMessage, event: TrailEvent) -> None:
        pass


NO_FINAL_LISTENER: Final[FinalListener] = _Nobody()
