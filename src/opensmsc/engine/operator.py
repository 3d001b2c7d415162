"""What an operator may do to any MT message (the admin API, `opensmsc messages`): cancel it,
retry it now, or expire it.

What this is for: the three actions a support desk needs, each through the same lifecycle as
the engine's own changes (engine/lifecycle.py, the store's TRANSITIONS), so that a message has
exactly one final state and the receipt its submitter asked for:

- cancel: an open message nobody has yet (as cancel_sm: not in an attempt, not taken by an
  upstream) ends DELETED, with its receipt.
- retry: a message waiting for its next attempt (ENROUTE, in retry after a failed attempt, or
  not yet attempted) is attempted now, as an alert would make it. Not a final message: nothing
  follows a final state, and what an operator means by "retry a failed message" is to send it
  again, a new message with a new id (`opensmsc send`). Not a message an upstream has taken,
  ENROUTE or UNKNOWN (a receipt said its outcome is unknown): the scheduler never sends such a
  message again, as that upstream may still deliver it (it waits for the receipt until its
  validity ends); expire it to give up. Nor a SCHEDULED one (its submitter chose when it goes).
- expire: an open message ends EXPIRED with its receipt, as if its validity had run out; this
  is how an operator gives up on a message an upstream took and never reported on (a late
  receipt is then refused by the store: the message is final).

A message whose attempt is under way right now is refused by all three (IN_FLIGHT: ask again in
a moment): its route may deliver it whatever is recorded here. Another account's message is no
obstacle: the operator sees every account.

What it is not: an ESME's cancel_sm (engine/operations.py: an account's own messages only).
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable

from opensmsc.engine.lifecycle import Lifecycle
from opensmsc.errors import OpensmscError
from opensmsc.smpp import MessageState
from opensmsc.store import Clock, Direction, IllegalTransition, Store, StoredMessage

__all__ = ["ActionRefused", "OperatorActions", "Refusal"]

log = logging.getLogger(__name__)


class Refusal(enum.Enum):
    """Why an action was refused. The values are the admin API's problem slugs."""

    FINAL = "message-final"  # already in a final state
    IN_FLIGHT = "message-in-flight"  # an attempt is under way now
    UPSTREAM = "message-upstream"  # an upstream has it and its receipt is awaited
    SCHEDULED = "message-scheduled"  # waits for its schedule_delivery_time


class ActionRefused(OpensmscError):
    """The action cannot be done to this message now; `record` is the message as it is."""

    def __init__(self, refusal: Refusal, record: StoredMessage, detail: str) -> None:
        self.refusal = refusal
        self.record = record
        self.detail = detail
        super().__init__(f"message_id={record.message_id}: {detail}")


class OperatorActions:
    """`in_flight(message_id)` is Scheduler.in_flight; `wake()` tells the scheduler a message
    is due now. Every method returns the message as the action left it (read back), None for
    an id that is no MT message, and raises ActionRefused or StoreUnavailable."""

    def __init__(
        self,
        store: Store,
        lifecycle: Lifecycle,
        *,
        clock: Clock,
        in_flight: Callable[[str], bool],
        wake: Callable[[], None],
    ) -> None:
        self._store = store
        self._lifecycle = lifecycle
        self._clock = clock
        self._in_flight = in_flight
        self._wake = wake

    async def message(self, message_id: str) -> StoredMessage | None:
        """The MT message `message_id` of any account, or None."""
        record = await self._store.get(message_id)
        return record if record is not None and record.direction is Direction.MT else None

    async def cancel(self, message_id: str) -> StoredMessage | None:
        record = await self.message(message_id)
        if record is None:
            return None
        self._check_open(record, "cancel")
        if record.upstream_message_id is not None:
            raise ActionRefused(
                Refusal.UPSTREAM,
                record,
                f"upstream {record.route} has it (its id {record.upstream_message_id}) and may "
                "deliver it: cannot cancel; expire it to stop waiting for its receipt",
            )
        return await self._finish(record, MessageState.DELETED, "cancel")

    async def expire(self, message_id: str) -> StoredMessage | None:
        record = await self.message(message_id)
        if record is None:
            return None
        self._check_open(record, "expire")
        return await self._finish(record, MessageState.EXPIRED, "expire")

    async def retry(self, message_id: str) -> StoredMessage | None:
        record = await self.message(message_id)
        if record is None:
            return None
        self._check_open(record, "retry")
        if record.state is MessageState.SCHEDULED:
            raise ActionRefused(
                Refusal.SCHEDULED,
                record,
                f"scheduled for {record.due_at.isoformat()} by its submitter, never attempted: "
                "nothing to retry",
            )
        if record.upstream_message_id is not None:
            raise ActionRefused(
                Refusal.UPSTREAM,
                record,
                f"upstream {record.route} has it and may still deliver it: it waits for its "
                "receipt, never for another attempt; expire it to give up",
            )
        now = self._clock()
        try:
            await self._store.transition(
                message_id, MessageState.ENROUTE, at=now, next_attempt_at=now
            )
        except IllegalTransition:
            await self._ended_meanwhile(message_id, "retry")
            return None
        self._wake()
        # An operator's hand in a message's fate is worth a line in the log.
        log.info("operator retry message_id=%s account=%s", message_id, record.system_id)
        return await self._store.get(message_id)

    # ---- internals ------------------------------------------------------------------------------

    def _check_open(self, record: StoredMessage, action: str) -> None:
        if record.is_final:
            raise ActionRefused(
                Refusal.FINAL,
                record,
                f"already final ({record.state.name}): cannot {action}"
                + ("; send it again as a new message" if action == "retry" else ""),
            )
        if self._in_flight(record.message_id):
            raise ActionRefused(
                Refusal.IN_FLIGHT,
                record,
                f"an attempt is under way: cannot {action} now; ask again in a moment",
            )

    async def _finish(
        self, record: StoredMessage, state: MessageState, action: str
    ) -> StoredMessage | None:
        # The store refuses a second final state: if an attempt ended it meanwhile, that
        # outcome stands and the operator hears which it was.
        if await self._lifecycle.finish(record, state) is None:
            await self._ended_meanwhile(record.message_id, action)
            return None
        log.info(
            "operator %s message_id=%s account=%s was=%s",
            action,
            record.message_id,
            record.system_id,
            record.state.name,
        )
        return await self._store.get(record.message_id)

    async def _ended_meanwhile(self, message_id: str, action: str) -> None:
        """Raises ActionRefused(FINAL) naming the state it ended in."""
        record = await self._store.get(message_id)
        if record is None:
            return  # ended and purged since: gone, as an unknown id is
        raise ActionRefused(
            Refusal.FINAL, record, f"ended meanwhile ({record.state.name}): cannot {action}"
        )
