"""A message's trail: what happened to it, event by event, kept in the store beside it.

What this is for (issue 16, "A trail for every message"): an operator asking why a message was
not delivered gets its whole story from one place: who gave it to us and through which door,
how it was routed and why, each delivery attempt with its outcome and latency, the final state,
the receipt made and when the client took it, each webhook call. `TrailEvent` is one line of
that story; a Store writes events in the transaction of the state change they describe
(`Change.trail`, `submit_many(trail=...)`), so the trail costs no sync of its own and is never
ahead of, or behind, the record. They are purged with their message.

`new_trace_id` makes the id that ties a message's log lines, trail and receipts together
(StoredMessage.trace_id): the W3C Trace Context form (32 lowercase hex digits), so a tracing
system can take it as it is.

What it is not: a log (log lines are for operators watching; the trail is for the one message
asked about), or metrics.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

__all__ = ["KINDS", "TrailEvent", "new_trace_id"]

# The kinds the engine writes; a store keeps any string, so a later kind needs no migration.
KINDS: Final = (
    "accepted",  # stored: door (smpp, smpps, http, mo, imps), address, session
    "routed",  # the routing decision: action, routes, the rule that matched, why
    "attempt",  # one delivery attempt: route, outcome, upstream id, status or MAP error, ms
    "retry",  # waiting for the next attempt: when
    "released",  # due at once, before its retry time: an alert, a route back, a receiver bound
    "final",  # the final state: state, error, route, upstream id, latency from submission
    "receipt",  # the receipt made for it: receipt id, state, where it goes
    # The client took the receipt: by deliver_sm_resp or webhook (read from the receipt's own
    # record, DELIVERED at its done_at: nothing written), or by http_poll (written).
    "receipt_taken",
    "receipt_failed",  # the receipt ended without reaching the client (refused, expired)
    "webhook",  # one webhook call: URL host, HTTP status
)


def new_trace_id() -> str:
    """A new trace id: 128 random bits as 32 hex digits (W3C Trace Context trace-id)."""
    return os.urandom(16).hex()


@dataclass(frozen=True, slots=True)
class TrailEvent:
    """One event of message `message_id` at `at` (aware). `detail` holds JSON values only
    (str, int, float, bool, None, lists and objects of them): it is stored as JSON."""

    message_id: str
    at: datetime
    kind: str
    detail: Mapping[str, Any] = field(default_factory=dict)
