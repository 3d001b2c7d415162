"""The one place where the engine moves an MT message's state, with the receipt it owes.

What this is for: the Scheduler (attempt outcomes, expiry), operations (cancel_sm) and
engine/upstream.UpstreamReceipts (an upstream's receipt) all end messages here, so the receipt
rules hold whatever ended it: `finish` stores the final state and the receipt the submitter
asked for in one store transaction (registered_delivery; a webhook, the same record with the
URL, when the message has a callback_url or its account a webhook_url; per part or, for an
account with whole-message receipts, one for the long message when its last part ends);
`retry` keeps a message ENROUTE until its next attempt and stores an intermediate notification
when one was asked for; `accepted` records an upstream's id while its receipt is awaited.

What it is not: the store's lifecycle table (store/model.TRANSITIONS refuses illegal changes:
a message cancelled or settled while an attempt was under way makes these return None).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any, NamedTuple

from opensmsc.engine import trail
from opensmsc.engine.ids import MessageIds, part_id
from opensmsc.engine.observer import NO_OBSERVER, MessageObserver
from opensmsc.engine.receipts import build_receipt, wants_intermediate, wants_receipt, worst_state
from opensmsc.engine.trail import NO_FINAL_LISTENER, FinalListener
from opensmsc.routing import AccountPolicies
from opensmsc.smpp import MessageState
from opensmsc.store import (
    SUCCESS_STATES,
    Change,
    Clock,
    Direction,
    Store,
    StoredMessage,
    StoreError,
    TrailEvent,
)

__all__ = ["Finish", "Lifecycle"]

log = logging.getLogger(__name__)


class Finish(NamedTuple):
    """One item of `Lifecycle.finish_many`: the arguments of `finish`."""

    record: StoredMessage
    state: MessageState
    error: int | None = None
    route: str | None = None
    attempt: bool = False
    trail: tuple[TrailEvent, ...] = ()  # stored with it: the attempt (and decision) that ended it


class Lifecycle:
    """State changes of stored MT/MO messages with their receipts. After a receipt was
    stored, `on_receipt_stored(receipt)` is called with it when given (Deliveries.push: no
    store read needed to send it), else `on_receipt(system_id)` (Deliveries.wake). Each final
    state made is told to `observer.ended` (metrics) and, with its "final" trail event, to
    `on_final` (the CDR). Every change is stored with its trail events (engine/trail.py): the
    caller's (the attempt, the routing decision) and this module's (final, receipt, retry)."""

    def __init__(
        self,
        store: Store,
        ids: MessageIds,
        *,
        clock: Clock,
        policies: AccountPolicies,
        on_receipt: Callable[[str], None] = lambda system_id: None,
        on_receipt_stored: Callable[[StoredMessage], None] | None = None,
        observer: MessageObserver = NO_OBSERVER,
        on_final: FinalListener = NO_FINAL_LISTENER,
    ) -> None:
        self._store = store
        self._on_final = on_final
        self._ids = ids
        self._clock = clock
        self._policies = policies
        self._on_receipt = on_receipt
        self._on_receipt_stored = on_receipt_stored
        self._observer = observer
        self._group_locks: dict[str, list[Any]] = {}  # group_id → [lock, users]
        self.finished = 0  # final transitions made (metrics, tests)

    def set_on_receipt(self, on_receipt: Callable[[str], None]) -> None:
        self._on_receipt = on_receipt

    async def finish(
        self,
        record: StoredMessage,
        state: MessageState,
        *,
        at: datetime | None = None,
        error: int | None = None,
        route: str | None = None,
        upstream_message_id: str | None = None,
        attempt: bool = False,
        events: tuple[TrailEvent, ...] = (),
        by: str | None = None,
    ) -> StoredMessage | None:
        """End `record` in the final `state`, with the receipt it owes, in one transaction.
        `attempt` counts a delivery attempt that no claim counted. `events` go on the trail
        before the final event; `by` says what ended it when no attempt did (the final
        event's "by": expiry, cancel_sm, an upstream's receipt). Returns `record` itself
        (as passed, not read back: the store's `apply`) when the change was made, or None
        when the store refused (it ended meanwhile). Raises StoreUnavailable."""
        at = self._clock() if at is None else at
        error = _final_error(record, state, error)
        concat = record.concat
        if (
            concat is not None
            and record.direction is Direction.MT
            and self._policies(record.system_id).whole_message_receipts
        ):
            entry = self._group_locks.get(concat.group_id)
            if entry is None:
                entry = self._group_locks[concat.group_id] = [asyncio.Lock(), 0]
            entry[1] += 1  # users of this lock: it is forgotten when the last one is done
            try:
                async with entry[0]:
                    receipt = await self._whole_receipt(record, state, at, error)
                    return await self._transition(
                        record,
                        state,
                        whole=True,
                        at=at,
                        error=error,
                        route=route,
                        upstream_message_id=upstream_message_id,
                        receipt=receipt,
                        attempt=attempt,
                        events=events,
                        by=by,
                    )
            finally:
                entry[1] -= 1
                if entry[1] == 0:
                    del self._group_locks[concat.group_id]
        receipt = None
        if record.direction is Direction.MT and wants_receipt(record.registered_delivery, state):
            receipt = self._receipt(record, state, at, error)
        return await self._transition(
            record,
            state,
            at=at,
            error=error,
            route=route,
            upstream_message_id=upstream_message_id,
            receipt=receipt,
            attempt=attempt,
            events=events,
            by=by,
        )

    async def finish_many(self, items: Sequence[Finish]) -> list[StoredMessage | None]:
        """`finish` for many messages in one store call (the Scheduler's batch of attempts a
        route answered at once): one `apply` with a change per message, each atomic with its
        receipt and made or refused on its own. A part of a long message whose account wants
        whole-message receipts goes through `finish` (its group's lock). Returns, per item,
        what `finish` would. Raises StoreUnavailable (then none was made)."""
        at = self._clock()
        out: list[StoredMessage | None] = [None] * len(items)
        changes: list[Change] = []
        # (index in items, its receipt, its final event)
        made: list[tuple[int, StoredMessage | None, TrailEvent]] = []
        alone: list[int] = []
        policies = self._policies
        for i, (record, state, given_error, route, attempt, events) in enumerate(items):
            mt = record.direction is Direction.MT
            if (
                mt
                and record.concat is not None
                and policies(record.system_id).whole_message_receipts
            ):
                alone.append(i)
                continue
            receipt = None
            error = _final_error(record, state, given_error)
            if mt and wants_receipt(record.registered_delivery, state):
                receipt = self._receipt(record, state, at, error)
            ending = trail.final(record, state, at, error=error, route=route, attempted=attempt)
            changes.append(
                Change(
                    record.message_id,
                    state,
                    at,
                    error=error,
                    route=route,
                    receipt=receipt,
                    attempt=attempt,
                    trail=_with_final(record, events, ending, receipt, at, state=state),
                )
            )
            made.append((i, receipt, ending))
        if changes:
            refused = await self._store.apply(changes)
            ended = self._observer.ended
            on_final = self._on_final
            for (i, receipt, ending), error_ in zip(made, refused, strict=True):
                item = items[i]
                record = item.record
                if error_ is not None:
                    log.info(
                        "final state not recorded message_id=%s: %s", record.message_id, error_
                    )
                    continue
                self.finished += 1
                ended(record, item.state, item.route, at)
                on_final.final(record, ending)
                out[i] = record
                if receipt is not None:
                    self._receipt_stored(receipt)
        for i in alone:
            record, state, error, route, attempt, events = items[i]
            out[i] = await self.finish(
                record, state, at=at, error=error, route=route, attempt=attempt, events=events
            )
        return out

    async def retry(
        self,
        record: StoredMessage,
        next_attempt_at: datetime,
        *,
        error: int | None = None,
        route: str | None = None,
        attempt: bool = False,
        events: tuple[TrailEvent, ...] = (),
    ) -> StoredMessage | None:
        """Keep `record` ENROUTE until `next_attempt_at` after a failed attempt. The first
        failure of a message that asked for intermediate notifications stores one (esm_class
        0x20, state ENROUTE) in the same transaction. `events` (the attempt) go on the trail
        before the retry event. Returns `record` (as passed) when the change was made, None
        if the store refused."""
        at = self._clock()
        receipt = None
        if (
            record.direction is Direction.MT
            and record.last_error is None
            and wants_intermediate(record.registered_delivery)
        ):
            receipt = self._receipt(record, MessageState.ENROUTE, at, error, intermediate=True)
        events += (trail.retry(record, next_attempt_at, at),)
        if receipt is not None:
            events += (trail.receipt_made(record, receipt, at, MessageState.ENROUTE),)
        change = Change(
            record.message_id,
            MessageState.ENROUTE,
            at,
            error=error,
            next_attempt_at=next_attempt_at,
            route=route,
            receipt=receipt,
            attempt=attempt,
            trail=events,
        )
        return record if await self._record(change, "retry") else None

    async def accepted(
        self,
        record: StoredMessage,
        upstream_id: str,
        *,
        route: str,
        attempt: bool = False,
        events: tuple[TrailEvent, ...] = (),
    ) -> StoredMessage | None:
        """An upstream took `record`: it waits ENROUTE for the upstream's receipt until its
        validity ends. `events` (the attempt) go on its trail. Returns None if the store
        refused (a receipt already settled it)."""
        try:
            return await self._store.transition(
                record.message_id,
                MessageState.ENROUTE,
                at=self._clock(),
                next_attempt_at=record.expires_at,
                route=route,
                upstream_message_id=upstream_id,
                attempt=attempt,
                trail=events,
            )
        except StoreError as exc:
            log.info("upstream id not recorded message_id=%s: %s", record.message_id, exc)
            return None

    # ---- internals ------------------------------------------------------------------------------

    async def _transition(
        self,
        record: StoredMessage,
        state: MessageState,
        *,
        at: datetime,
        error: int | None,
        route: str | None,
        upstream_message_id: str | None,
        receipt: StoredMessage | None,
        attempt: bool,
        events: tuple[TrailEvent, ...],
        by: str | None,
        whole: bool = False,
    ) -> StoredMessage | None:
        ending = trail.final(
            record,
            state,
            at,
            error=error,
            route=route,
            upstream_id=upstream_message_id,
            by=by,
            attempted=attempt,
        )
        change = Change(
            record.message_id,
            state,
            at,
            error=error,
            route=route,
            upstream_message_id=upstream_message_id,
            receipt=receipt,
            attempt=attempt,
            # A whole-message receipt reports the worst state of the parts, not this one's.
            trail=_with_final(record, events, ending, receipt, at, state=None if whole else state),
        )
        if not await self._record(change, "final state"):
            return None
        self.finished += 1
        self._observer.ended(record, state, route, at)
        self._on_final.final(record, ending)
        return record

    async def _record(self, change: Change, what: str) -> bool:
        """Apply one change; on success hand its receipt (if any) to Deliveries."""
        (refused,) = await self._store.apply((change,))
        if refused is not None:
            log.info("%s not recorded message_id=%s: %s", what, change.message_id, refused)
            return False
        if change.receipt is not None:
            self._receipt_stored(change.receipt)
        return True

    def _receipt_stored(self, receipt: StoredMessage) -> None:
        if self._on_receipt_stored is not None:
            self._on_receipt_stored(receipt)
        else:
            self._on_receipt(receipt.system_id)

    def _receipt(
        self,
        record: StoredMessage,
        state: MessageState,
        at: datetime,
        error: int | None,
        *,
        intermediate: bool = False,
    ) -> StoredMessage:
        policy = self._policies(record.system_id)
        receipt = build_receipt(
            record,
            receipt_id=self._ids.next(),
            state=state,
            at=at,
            expires_at=at + policy.default_validity,
            error=error if error is not None else record.last_error,
            intermediate=intermediate,
        )
        return _as_webhook(record, receipt, policy.webhook_url)

    async def _whole_receipt(
        self, record: StoredMessage, state: MessageState, at: datetime, error: int | None
    ) -> StoredMessage | None:
        # Called under the group's lock: every part ends through here, so exactly one part
        # (the last) sees all the others final, and it carries the receipt.
        concat = record.concat
        assert concat is not None
        parts: dict[int, StoredMessage] = {concat.seq: record}
        # Each part's final state and the error it ended with, in part order.
        ended: dict[int, tuple[MessageState, int | None]] = {
            concat.seq: (state, error if error is not None else record.last_error)
        }
        for seq in range(1, concat.total + 1):
            if seq == concat.seq:
                continue
            part = await self._store.get(part_id(concat.group_id, seq))
            if part is None or not part.is_final:
                return None  # not all parts are here and final yet: a later part reports
            parts[seq] = part
            ended[seq] = (part.state, part.last_error)
        states = [s for s, _ in ended.values()]
        worst = worst_state(states)
        if not wants_receipt(record.registered_delivery, worst):
            return None
        first = parts.get(1, record)
        policy = self._policies(record.system_id)
        # The message is as bad as its worst part: it reports that part's error.
        failed_error = next((e for seq, (s, e) in sorted(ended.items()) if s is worst and e), None)
        receipt = build_receipt(
            first,
            receipt_id=self._ids.next(),
            state=worst,
            at=at,
            expires_at=at + policy.default_validity,
            error=failed_error,
            sub=concat.total,
            dlvrd=sum(1 for s in states if s is MessageState.DELIVERED),
            receipted_message_id=first.message_id,
        )
        return _as_webhook(first, receipt, policy.webhook_url)


def _as_webhook(
    record: StoredMessage, receipt: StoredMessage, webhook_url: str | None
) -> StoredMessage:
    """A receipt that goes to a URL (the message's callback_url, else the account's
    webhook_url) rather than to the account's SMPP sessions: a webhook (http/webhooks/ sends
    it), stored like any receipt, with the client's reference."""
    if record.callback_url is not None:
        return replace(
            receipt,
            callback_url=record.callback_url,
            callback_style=record.callback_style,
            client_reference=record.client_reference,
        )
    if webhook_url is None:
        return receipt
    return replace(receipt, callback_url=webhook_url, client_reference=record.client_reference)


def _with_final(
    record: StoredMessage,
    events: tuple[TrailEvent, ...],
    ending: TrailEvent,
    receipt: StoredMessage | None,
    at: datetime,
    *,
    state: MessageState | None,
) -> tuple[TrailEvent, ...]:
    """The trail of a final change: what led to it, the final event, the receipt made (in
    `state`, None: as its TLVs say)."""
    if receipt is None:
        return (*events, ending)
    return (*events, ending, trail.receipt_made(record, receipt, at, state))


def _final_error(record: StoredMessage, state: MessageState, error: int | None) -> int | None:
    """The error to record with `record`'s final `state`: the one it came with; else 0 (none)
    for a message an upstream took, whose last attempt succeeded, so that an error met before
    does not pass for this outcome's (query_sm and the receipt read it); else None (the last
    attempt's error stays). A success keeps it too: it reports none (store.outcome_error)."""
    if error is None and record.upstream_message_id is not None and state not in SUCCESS_STATES:
        return 0
    return error
