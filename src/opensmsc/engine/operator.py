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
obstacle: the operator sees every account. A part of a long message takes the other parts with
it: each part the action suits goes the same way (one already final, or in an attempt, stays as
it is), each with the receipt it owes (per part, or one for the whole message).

What it is not: an ESME's cancel_sm (engine/operations.py: an account's own messages only).
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable

from opensmsc.engine.ids import part_id
from opensmsc.engine.lifecycle import Lifecycle
from opensmsc.errors import OpensmscError
from opensmsc.smpp import MessageState
from opensmsc.store import Clock, Direction, IllegalTransition, Store, StoredMessage, TrailEvent

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
        return await self._act(message_id, "cancel")

    async def expire(self, message_id: str) -> StoredMessage | None:
        return await self._act(message_id, "expire")

    async def retry(self, message_id: str) -> StoredMessage | None:
        return await self._act(message_id, "retry")

    # ---- internals ------------------------------------------------------------------------------

    async def _act(self, message_id: str, action: str) -> StoredMessage | None:
        record = await self.message(message_id)
        if record is None:
            return None
        refused = self._refusal(record, action)
        if refused is not None:
            raise refused
        if not await self._do(record, action):
            await self._ended_meanwhile(message_id, action)
            return None
        # A long message is one message to its sender and to the operator: its other parts
        # go the same way, those that can (one already final or in an attempt stays as it is).
        for part in await self._other_parts(record):
            if self._refusal(part, action) is None:
                await self._do(part, action)
        return await self._store.get(message_id)

    def _refusal(self, record: StoredMessage, action: str) -> ActionRefused | None:
        if record.is_final:
            again = "; send it again as a new message" if action == "retry" else ""
            detail = f"already final ({record.state.name}): cannot {action}{again}"
            return ActionRefused(Refusal.FINAL, record, detail)
        if self._in_flight(record.message_id):
            detail = f"an attempt is under way: cannot {action} now; ask again in a moment"
            return ActionRefused(Refusal.IN_FLIGHT, record, detail)
        if action == "expire":
            return None
        if record.upstream_message_id is not None:
            # Cancel and retry alike would race a delivery that upstream may still make.
            detail = (
                f"upstream {record.route} has it (its id {record.upstream_message_id}) and may "
                f"still deliver it: cannot {action}; expire it to stop waiting for its receipt"
            )
            return ActionRefused(Refusal.UPSTREAM, record, detail)
        if action == "retry" and record.state is MessageState.SCHEDULED:
            detail = (
                f"scheduled for {record.due_at.isoformat()} by its submitter, never attempted: "
                "nothing to retry"
            )
            return ActionRefused(Refusal.SCHEDULED, record, detail)
        return None

    async def _do(self, record: StoredMessage, action: str) -> bool:
        """Make the action's change; False when the store refused it (it ended meanwhile)."""
        if action == "retry":
            now = self._clock()
            try:
                await self._store.transition(
                    record.message_id,
                    MessageState.ENROUTE,
                    at=now,
                    next_attempt_at=now,
                    trail=(
                        TrailEvent(record.message_id, now, "released", {"by": "operator retry"}),
                    ),
                )
            except IllegalTransition:
                return False
            self._wake()
        else:
            state = MessageState.DELETED if action == "cancel" else MessageState.EXPIRED
            if await self._lifecycle.finish(record, state, by=f"operator {action}") is None:
                return False
        # An operator's hand in a message's fate is worth a line in the log.
        log.info(
            "operator %s message_id=%s account=%s was=%s",
            action,
            record.message_id,
            record.system_id,
            record.state.name,
        )
        return True

    async def _other_parts(self, record: StoredMessage) -> list[StoredMessage]:
        concat = record.concat
        if concat is None:
            return []
        parts = []
        for seq in range(1, concat.total + 1):
            if seq == concat.seq:
                continue
            part = await self.message(part_id(concat.group_id, seq))
            if (
                part is not None
                and part.system_id == record.system_id
                and part.concat is not None
                and part.concat.group_id == concat.group_id
            ):
                parts.append(part)
        return parts

    async def _ended_meanwhile(self, message_id: str, action: str) -> None:
        """Raises ActionRefused(FINAL) naming the state it ended in."""
        record = await self._store.get(message_id)
        if record is None:
            return  # ended and purged since: gone, as an unknown id is
        raise ActionRefused(
            Refusal.FINAL, record, f"ended meanwhile ({record.state.name}): cannot {action}"
        )
