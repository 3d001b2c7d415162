"""Deliveries to ESMEs: stored receipts and mobile-originated messages, sent as deliver_sm to
the receiver and transceiver sessions of their account.

What this is for (issue 5, "Delivery receipts"; engine.md): a receipt is a stored message
(direction RECEIPT) of its account. `Deliveries` sends an account's open receipts oldest first
over its bound receiving sessions, as their windows allow; ESME_ROK in the deliver_sm_resp
acknowledges it in the store (DELIVERED; the acknowledgements of one loop turn in one
`store.apply`). ESME_RX_T_APPN, throttling or
any other transient answer retry it after a growing pause; a timeout or a lost session retries
it at once (on another session if there is one); ESME_RX_P_APPN / ESME_RX_R_APPN end it
UNDELIVERABLE. A receipt past its own validity ends EXPIRED instead of being sent. While no
session of the account can receive, receipts wait in the store, and an outbind is requested
(engine/outbind.OutbindDialer) when the account has an address for it.

MO messages (direction MO) are due messages like MT ones: the Scheduler claims them and, through
the Router, calls `Deliveries.attempt(record)`, the Route protocol. An MO that finds no receiver
is retried on the SHORT schedule, and all of an account's waiting MO are released at once when
one of its sessions binds (`wake`).

At-least-once: a receipt whose deliver_sm_resp was lost (crash, lost session) is sent again
from the same stored record: same text, same TLVs, same ids.

What it is not: the session. `Receiver.deliver` is EsmeSession.deliver; this module never sees
bytes or sequence numbers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Final, Protocol

from opensmsc.engine import trail
from opensmsc.errors import StoreUnavailable
from opensmsc.routing import Attempt, Delivered, ErrorClass, PermanentFailure, TemporaryFailure
from opensmsc.smpp import CommandStatus, DeliverSm, MessageState
from opensmsc.store import Change, Clock, Store, StoredMessage, StoreError

__all__ = ["Deliveries", "OutbindRequester", "Receiver", "ReceiverLookup"]

log = logging.getLogger(__name__)

_S = CommandStatus
# SMPP 3.4 §5.1.3: the ESME refuses for good (permanent / reject) rather than for now.
_PERMANENT: Final = frozenset({_S.ESME_RX_P_APPN, _S.ESME_RX_R_APPN})
# The error kept on a message when the receiver gave no answer (timeout, lost session).
NO_ANSWER: Final = int(_S.ESME_RUNKNOWNERR)
MO_ROUTE: Final = "esme"  # the route name MO deliveries are recorded under


class Receiver(Protocol):
    """A bound session that can take a deliver_sm (EsmeSession). `deliver` returns False when
    it cannot send now (window full, closing); otherwise `on_done` is called exactly once,
    later, with the deliver_sm_resp command_status, or None when no response came (timeout,
    session lost)."""

    def deliver(self, pdu: DeliverSm, on_done: Callable[[int | None], None]) -> bool: ...


class ReceiverLookup(Protocol):
    """The bound sessions (engine/registry.SessionRegistry)."""

    def receiver_for(self, system_id: str) -> Receiver | None:
        """A receiving session of the account with a free window slot, or None."""
        ...

    def has_receiver(self, system_id: str) -> bool:
        """Whether any receiving session of the account is bound, window free or not."""
        ...


class OutbindRequester(Protocol):
    """engine/outbind.OutbindDialer: dial the account's ESME if it has an address."""

    def request(self, system_id: str) -> None: ...


@dataclass(slots=True, eq=False)
class _Account:
    """What Deliveries knows of one account's receipts between two store reads."""

    queue: deque[StoredMessage] = field(default_factory=deque)  # read, not yet sent, in order
    known: set[str] = field(default_factory=set)  # queued, in flight or being acknowledged
    dirty: bool = True  # the store may hold receipts we have not read
    fetching: bool = False
    # Ended while a read was under way: that read may still see them open (it may have
    # started before their commit), so its result must not queue them again.
    ended_during_fetch: set[str] = field(default_factory=set)
    backoff: float = 0.0  # seconds; grows on transient refusals, reset by a success
    timer: asyncio.TimerHandle | None = None
    waiting_mo: dict[str, None] = field(default_factory=dict)  # MO ids that found no receiver
    window_free: asyncio.Event = field(default_factory=asyncio.Event)
    # Receipts sent and not yet answered, plus those answered ESME_ROK whose acknowledgement
    # is not committed yet: what a crash now could make the ESME receive again.
    unrecorded: int = 0


class Deliveries:
    """Sends stored receipts and MO of each account to its bound receivers.

    `wake(system_id)` after anything that may let deliveries progress: a receipt stored, a
    session of the account bound, a deliver_sm_resp received. `release` (normally
    Scheduler.release) makes waiting MO due now. `sends_receipts(system_id)`, in a cluster,
    says whether this node is the one that sends the account's receipts now. Call `close()`
    before the store closes.
    """

    def __init__(
        self,
        store: Store,
        receivers: ReceiverLookup,
        *,
        clock: Clock,
        outbind: OutbindRequester | None = None,
        release: Callable[[Sequence[str]], None] | None = None,
        batch: int = 256,
        retry_delay: float = 1.0,
        max_retry_delay: float = 60.0,
        window_wait: float = 5.0,
        max_queue: int = 10_000,
        window: int = 10,
        sends_receipts: Callable[[str], bool] | None = None,
    ) -> None:
        self._store = store
        # In a cluster one node sends an account's receipts (the others read the same open
        # receipts from the shared store and would send them again): cluster/wakeups.py.
        self._sends_receipts = sends_receipts
        self._receivers = receivers
        self._clock = clock
        self._outbind = outbind
        self._batch = batch
        self._retry_delay = retry_delay
        self._max_retry_delay = max_retry_delay
        self._window_wait = window_wait
        self._max_queue = max_queue
        # Bounds account.unrecorded, so a crash duplicates at most this many receipts per
        # account (at-least-once, bounded by the in-flight window), however far the store's
        # acknowledgements lag behind the ESME's answers.
        self._window = window
        self._accounts: dict[str, _Account] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._release = release
        # Receipts answered ESME_ROK in this turn of the loop: acknowledged in one store call.
        self._acks: list[tuple[str, StoredMessage]] = []
        self._acks_scheduled = False
        self._closed = False
        self.sent = 0  # deliver_sm sent for receipts (metrics, tests)
        self.acknowledged = 0

    # ---- wiring ---------------------------------------------------------------------------------

    # ---- the Route protocol, for MO ------------------------------------------------------------

    @property
    def name(self) -> str:
        return MO_ROUTE

    async def attempt(self, record: StoredMessage) -> Attempt:
        """Deliver an MO to a receiving session of `record.system_id`: Delivered on ESME_ROK,
        PermanentFailure on ESME_RX_P_APPN / ESME_RX_R_APPN, TemporaryFailure (SHORT schedule)
        otherwise, or at once when no session of the account can receive."""
        system_id = record.system_id
        account = self._account(system_id)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._window_wait
        while True:
            receiver = self._receivers.receiver_for(system_id)
            if receiver is not None:
                done: asyncio.Future[int | None] = loop.create_future()
                if receiver.deliver(record.to_deliver_sm(), _settle_once(done)):
                    break
            if not self._receivers.has_receiver(system_id):
                account.waiting_mo[record.message_id] = None
                self._request_outbind(system_id)
                return TemporaryFailure(
                    int(_S.ESME_RX_T_APPN), ErrorClass.SHORT, "no receiver bound"
                )
            # Bound, but every window is full: wait for a slot rather than back off for long.
            remaining = deadline - loop.time()
            if remaining <= 0:
                return TemporaryFailure(int(_S.ESME_RTHROTTLED), ErrorClass.SHORT, "windows full")
            account.window_free.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(remaining):
                    await account.window_free.wait()
        status = await done
        self._window_freed(system_id)
        if status == _S.ESME_ROK:
            return Delivered()
        if status in _PERMANENT:
            return PermanentFailure(status, MessageState.UNDELIVERABLE, "refused by the ESME")
        return TemporaryFailure(
            NO_ANSWER if status is None else status, ErrorClass.SHORT, "not acknowledged"
        )

    # ---- receipts -------------------------------------------------------------------------------

    def wake(self, system_id: str) -> None:
        """Something may have changed for `system_id`: a receipt was stored, a session bound or
        a window slot freed. Sends what can be sent; never blocks."""
        if self._closed:
            return
        account = self._account(system_id)
        account.dirty = True
        if (
            account.waiting_mo
            and self._release is not None
            and self._receivers.has_receiver(system_id)
        ):
            waiting = list(account.waiting_mo)
            account.waiting_mo.clear()
            self._release(waiting)
        self._window_freed(system_id)
        self._pump(system_id)

    def hand_over(self, system_id: str) -> bool:
        """A receiver of `system_id` is bound on another node of the cluster (none here): make
        the account's MO that found no receiver here due now, for that node to claim. Returns
        whether there were any."""
        account = self._accounts.get(system_id)
        if self._closed or account is None or not account.waiting_mo or self._release is None:
            return False
        waiting = list(account.waiting_mo)
        account.waiting_mo.clear()
        self._release(waiting)
        return True

    def push(self, receipt: StoredMessage) -> None:
        """A receipt was just stored (Lifecycle): send it without reading it back, after
        those already queued. Beyond `max_queue` waiting it is left to a later store read."""
        if self._closed:
            return
        account = self._account(receipt.system_id)
        if self._sends_receipts is not None and not self._sends_receipts(receipt.system_id):
            account.dirty = True  # another node of the cluster sends them
            return
        if len(account.queue) < self._max_queue and receipt.message_id not in account.known:
            account.known.add(receipt.message_id)
            account.queue.append(receipt)
        else:
            account.dirty = True
        self._pump(receipt.system_id)

    def wake_all(self, system_ids: Iterable[str]) -> None:
        """`wake` each account: at start, so receipts stored before a restart go out (or an
        outbind is requested for them)."""
        for system_id in system_ids:
            self.wake(system_id)

    async def expire_receipts(self, system_ids: Iterable[str], *, limit: int = 1000) -> int:
        """End EXPIRED the open receipts past their validity that wait for accounts with no
        receiver (the pump expires the others as it meets them). Returns how many ended."""
        now = self._clock()
        ended = 0
        for system_id in system_ids:
            account = self._account(system_id)
            for record in await self._store.pending_receipts(system_id, limit):
                if record.expires_at > now:
                    continue
                message_id = record.message_id
                if message_id in account.known:
                    queued = [r for r in account.queue if r.message_id == message_id]
                    if not queued:
                        continue  # in flight: its answer decides
                    account.queue.remove(queued[0])
                    account.known.discard(message_id)
                ended += await self._expire(record)
        return ended

    async def close(self) -> None:
        """Stop sending; wait for the acknowledgements already under way."""
        self._closed = True
        self._flush_acks()  # the acknowledgements already received are recorded
        for account in self._accounts.values():
            if account.timer is not None:
                account.timer.cancel()
                account.timer = None
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def pending(self, system_id: str) -> int:
        """Receipts of the account read from the store and not yet acknowledged (tests)."""
        account = self._accounts.get(system_id)
        return 0 if account is None else len(account.known)

    # ---- internals ------------------------------------------------------------------------------

    def _account(self, system_id: str) -> _Account:
        account = self._accounts.get(system_id)
        if account is None:
            account = self._accounts[system_id] = _Account()
        return account

    def _window_freed(self, system_id: str) -> None:
        account = self._accounts.get(system_id)
        if account is not None:
            account.window_free.set()

    def _request_outbind(self, system_id: str) -> None:
        if self._outbind is not None:
            self._outbind.request(system_id)

    def _spawn(self, coro: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _pump(self, system_id: str) -> None:
        account = self._account(system_id)
        if self._closed or account.timer is not None:
            return  # backing off after a transient refusal; the timer pumps again
        if self._sends_receipts is not None and not self._sends_receipts(system_id):
            # Another node sends them: what was read here is dropped (that node reads it from
            # the store), and read afresh if this node becomes the one that sends them.
            for record in account.queue:
                account.known.discard(record.message_id)
            account.queue.clear()
            account.dirty = True
            return
        queue = account.queue
        now = self._clock() if queue else None
        while queue and account.unrecorded < self._window:
            receiver = self._receivers.receiver_for(system_id)
            if receiver is None:
                if not self._receivers.has_receiver(system_id):
                    self._request_outbind(system_id)
                break
            record = queue[0]
            assert now is not None
            if record.expires_at <= now:
                queue.popleft()
                self._spawn(self._expire_known(system_id, record))
                continue
            on_done = self._on_receipt_done(system_id, record)
            if not receiver.deliver(record.to_deliver_sm(), on_done):
                break
            queue.popleft()
            account.unrecorded += 1
            self.sent += 1
        if not queue and account.dirty and not account.fetching:
            account.fetching = True
            account.dirty = False
            self._spawn(self._fetch(system_id))

    async def _fetch(self, system_id: str) -> None:
        account = self._account(system_id)
        limit = len(account.known) + self._batch
        try:
            records = await self._store.pending_receipts(system_id, limit)
        except StoreUnavailable as exc:
            log.error("reading receipts failed system_id=%s: %s", system_id, exc)
            records = []
            self._retry_later(system_id)
        finally:
            account.fetching = False
        ended, account.ended_during_fetch = account.ended_during_fetch, set()
        for record in records:
            message_id = record.message_id
            if message_id not in account.known and message_id not in ended:
                account.known.add(message_id)
                account.queue.append(record)
        if len(records) >= limit:
            account.dirty = True  # there may be more than one read's worth
        if account.queue and not self._receivers.has_receiver(system_id):
            self._request_outbind(system_id)
        self._pump(system_id)

    def _on_receipt_done(
        self, system_id: str, record: StoredMessage
    ) -> Callable[[int | None], None]:
        def on_done(status: int | None) -> None:
            account = self._account(system_id)
            if status == _S.ESME_ROK:
                account.backoff = 0.0
                # Still unrecorded: its place in the window comes back when the
                # acknowledgement has committed (_ack).
                self._acks.append((system_id, record))
                if not self._acks_scheduled:
                    self._acks_scheduled = True
                    asyncio.get_running_loop().call_soon(self._flush_acks)
            else:
                account.unrecorded -= 1
                if status in _PERMANENT:
                    log.info(
                        "receipt refused message_id=%s system_id=%s status=0x%08X trace=%s",
                        record.message_id,
                        system_id,
                        status,
                        trail.trace_of(record),
                    )
                    self._spawn(self._end(system_id, record, MessageState.UNDELIVERABLE, status))
                else:
                    self._requeue(system_id, record, transient=status is not None)
            self._window_freed(system_id)
            self._pump(system_id)

        return on_done

    def _requeue(self, system_id: str, record: StoredMessage, *, transient: bool) -> None:
        # In order: forget what was read after it, so the next read starts with it again.
        account = self._account(system_id)
        account.known.discard(record.message_id)
        for queued in account.queue:
            account.known.discard(queued.message_id)
        account.queue.clear()
        account.dirty = True
        if transient:
            self._retry_later(system_id)

    def _retry_later(self, system_id: str) -> None:
        account = self._account(system_id)
        account.backoff = min(self._max_retry_delay, max(self._retry_delay, account.backoff * 2))
        if account.timer is None and not self._closed:
            loop = asyncio.get_running_loop()
            account.timer = loop.call_later(account.backoff, self._timer_fired, system_id)

    def _timer_fired(self, system_id: str) -> None:
        account = self._account(system_id)
        account.timer = None
        account.dirty = True
        self._pump(system_id)

    def _flush_acks(self) -> None:
        self._acks_scheduled = False
        acks, self._acks = self._acks, []
        if acks:
            self._spawn(self._ack(acks))

    async def _ack(self, acks: list[tuple[str, StoredMessage]]) -> None:
        # One store call for the turn's acknowledgements (DELIVERED), each made or refused
        # on its own; a refused or failed one stays open and is sent again later
        # (at-least-once, the same content).
        at = self._clock()
        refused: Sequence[BaseException | None]
        try:
            # No trail event: the receipt's own record (DELIVERED at `at`) is its taking, and
            # Store.trail reads it from there (one row less per message on the hot path).
            refused = await self._store.apply(
                [Change(record.message_id, MessageState.DELIVERED, at) for _, record in acks]
            )
        except StoreUnavailable as exc:
            refused = [exc] * len(acks)
        to_pump: dict[str, None] = {}
        for (system_id, record), error in zip(acks, refused, strict=True):
            account = self._account(system_id)
            account.unrecorded -= 1
            to_pump[system_id] = None  # room in the window again
            if error is None:
                self.acknowledged += 1
                self._ended(account, record.message_id)
                if account.dirty and not account.queue:
                    to_pump[system_id] = None  # the next read was waiting for room
                continue
            log.error("receipt ack failed message_id=%s: %s", record.message_id, error)
            account.dirty = True
            account.known.discard(record.message_id)
            to_pump[system_id] = None
        for system_id in to_pump:
            self._pump(system_id)

    async def _end(
        self, system_id: str, record: StoredMessage, state: MessageState, error: int | None
    ) -> None:
        account = self._account(system_id)
        at = self._clock()
        try:
            await self._store.transition(
                record.message_id,
                state,
                at=at,
                error=error,
                trail=(trail.receipt_ended(record, state, at, error),),
            )
        except (StoreUnavailable, StoreError) as exc:
            log.error("receipt end failed message_id=%s: %s", record.message_id, exc)
            account.known.discard(record.message_id)
        else:
            self._ended(account, record.message_id)
        self._pump(system_id)

    @staticmethod
    def _ended(account: _Account, message_id: str) -> None:
        account.known.discard(message_id)
        if account.fetching:
            account.ended_during_fetch.add(message_id)

    async def _expire_known(self, system_id: str, record: StoredMessage) -> None:
        log.info(
            "receipt expired message_id=%s system_id=%s trace=%s",
            record.message_id,
            system_id,
            trail.trace_of(record),
        )
        await self._end(system_id, record, MessageState.EXPIRED, None)

    async def _expire(self, record: StoredMessage) -> int:
        at = self._clock()
        try:
            await self._store.transition(
                record.message_id,
                MessageState.EXPIRED,
                at=at,
                trail=(trail.receipt_ended(record, MessageState.EXPIRED, at, None),),
            )
        except StoreError:
            return 0  # acknowledged or ended meanwhile
        log.info("receipt expired message_id=%s system_id=%s", record.message_id, record.system_id)
        return 1


def _settle_once(future: asyncio.Future[int | None]) -> Callable[[int | None], None]:
    def on_done(status: int | None) -> None:
        if not future.done():
            future.set_result(status)

    return on_done
