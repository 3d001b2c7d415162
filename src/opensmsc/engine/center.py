"""The message centre: accepts messages from ESMEs, answers query/cancel/replace, delivers, and
sends delivery receipts.

This is the in-memory centre of the sessions milestone (issue 4): messages live in this
process only and a restart loses them, which the README says. The store-and-forward issue puts
a durable store behind the same `MessageCenter` protocol. Delivery here is the loopback route:
a message is delivered as soon as it is due.
"""

from __future__ import annotations

import heapq
import itertools
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Protocol

from opensmsc.errors import MessageRejected, OpensmscError
from opensmsc.smpp.constants import CommandStatus, EsmClass, MessageState, Tag
from opensmsc.smpp.pdu import (
    CancelSm,
    DataSm,
    DeliverSm,
    QuerySm,
    QuerySmResp,
    ReplaceSm,
    SubmitSm,
)
from opensmsc.smpp.receipt import DeliveryReceipt, build_receipt_pdu, stat_for_state
from opensmsc.smpp.times import SmppTimeError, format_absolute, parse_schedule, parse_validity
from opensmsc.sms.dcs import decode_text
from opensmsc.sms.udh import parse_udh

log = logging.getLogger(__name__)

_S = CommandStatus
FINAL_STATES = frozenset(
    {
        MessageState.DELIVERED,
        MessageState.EXPIRED,
        MessageState.DELETED,
        MessageState.UNDELIVERABLE,
        MessageState.REJECTED,
    }
)
DEFAULT_VALIDITY = timedelta(days=2)
_ZERO = timedelta(0)


class Receiver(Protocol):
    """A bound session that can take a deliver_sm; `on_done(status | None)` is called with the
    deliver_sm_resp status, or None when no response came (timeout, session lost)."""

    def deliver(self, pdu: DeliverSm, on_done: Callable[[int | None], None]) -> bool: ...


class ReceiverLookup(Protocol):
    def receiver_for(self, system_id: str) -> Receiver | None: ...


@dataclass(slots=True)
class Message:
    message_id: str
    system_id: str
    submit: SubmitSm
    submitted_at: datetime
    due_at: datetime
    expires_at: datetime
    state: MessageState = MessageState.ENROUTE
    done_at: datetime | None = None
    error_code: int = 0

    @property
    def is_final(self) -> bool:
        return self.state in FINAL_STATES


@dataclass(slots=True)
class _PendingReceipt:
    system_id: str
    pdu: DeliverSm
    expires_at: datetime
    attempts: int = 0


@dataclass(frozen=True, slots=True)
class CenterLimits:
    max_messages: int = 1_000_000  # not yet final, held at once; beyond: ESME_RMSGQFUL
    # Final messages stay answerable by query_sm for a while, then are forgotten.
    final_retention: timedelta = timedelta(hours=1)
    max_final_kept: int = 200_000
    max_receipts: int = 1_000_000  # waiting for a receiver; beyond: the oldest is dropped, logged
    receipt_validity: timedelta = DEFAULT_VALIDITY
    max_validity: timedelta = timedelta(days=7)


@dataclass(slots=True)
class _Schedule:
    heap: list[tuple[datetime, int, str]] = field(default_factory=list)


class InMemoryCenter:
    """Accepts, holds and loopback-delivers messages; queues receipts per account."""

    def __init__(
        self,
        receivers: ReceiverLookup,
        *,
        clock: Callable[[], datetime],
        limits: CenterLimits | None = None,
        id_prefix: int = 0,
        wake: Callable[[], None] = lambda: None,
        on_no_receiver: Callable[[str], None] = lambda system_id: None,
    ) -> None:
        self._receivers = receivers
        self._clock = clock
        self._limits = limits or CenterLimits()
        self._messages: dict[str, Message] = {}
        self._ids = itertools.count(1)
        # A prefix keeps ids unique across restarts of the in-memory centre (e.g. start time).
        self._id_prefix = id_prefix
        self._id_head = f"{id_prefix:08x}"
        # The expiry of a message that gives no validity_period (the common case, computed once).
        self._default_expiry = min(DEFAULT_VALIDITY, self._limits.max_validity)
        self._schedule = _Schedule()
        self._receipts: dict[str, deque[_PendingReceipt]] = {}
        self._receipt_count = 0
        # Messages due now. Delivered on a later turn of the loop, never inside submit(): the
        # submit_sm_resp must reach the ESME before any receipt for that message.
        self._ready: deque[str] = deque()
        self._wake = wake
        self._on_no_receiver = on_no_receiver
        self._wake_pending = False
        self._final: deque[tuple[datetime, str]] = deque()  # in the order they became final

    # ---- what sessions call ---------------------------------------------------------------------

    @property
    def load(self) -> int:
        """0..100, for the SMPP 5.0 congestion_state TLV."""
        return min(100, self.pending * 100 // max(1, self._limits.max_messages))

    @property
    def pending(self) -> int:
        """Messages held that are not final yet."""
        return len(self._messages) - len(self._final)

    def submit(self, system_id: str, pdu: SubmitSm) -> str:
        """Accept a submit_sm; returns its message_id. Raises MessageRejected."""
        # This runs once per submit_sm: the common case (deliver now, default validity, no
        # replace) takes the straight path; anything else goes through the full rules.
        now = self._clock()
        messages = self._messages
        if len(messages) - len(self._final) >= self._limits.max_messages:
            raise MessageRejected(_S.ESME_RMSGQFUL, "message centre full")
        if (
            not pdu.destination_addr
            or pdu.priority_flag > 3
            or pdu.replace_if_present_flag > 1
            or (pdu.short_message and pdu.tlvs)
        ):
            _validate(pdu)
        if pdu.schedule_delivery_time or pdu.validity_period or self._default_expiry <= _ZERO:
            due_at, expires_at = self._times(pdu, now)
        else:
            due_at, expires_at = now, now + self._default_expiry
        if pdu.replace_if_present_flag == 1:
            self._replace_if_present(system_id, pdu)
        message_id = f"{self._id_head}{next(self._ids):08x}"
        scheduled = due_at > now
        # Positional: message_id, system_id, submit, submitted_at, due_at, expires_at, state.
        messages[message_id] = Message(
            message_id,
            system_id,
            pdu,
            now,
            due_at,
            expires_at,
            MessageState.SCHEDULED if scheduled else MessageState.ENROUTE,
        )
        if scheduled:
            heapq.heappush(self._schedule.heap, (due_at, next(self._ids), message_id))
        else:
            self._ready.append(message_id)
            if not self._wake_pending:
                self._wake_pending = True
                self._wake()
        return message_id

    def submit_data(self, system_id: str, pdu: DataSm) -> str:
        """data_sm in store-and-forward mode: carried as a submit_sm with message_payload."""
        submit = SubmitSm(
            service_type=pdu.service_type,
            source_addr_ton=pdu.source_addr_ton,
            source_addr_npi=pdu.source_addr_npi,
            source_addr=pdu.source_addr,
            dest_addr_ton=pdu.dest_addr_ton,
            dest_addr_npi=pdu.dest_addr_npi,
            destination_addr=pdu.destination_addr,
            esm_class=pdu.esm_class,
            registered_delivery=pdu.registered_delivery,
            data_coding=pdu.data_coding,
            tlvs=pdu.tlvs,
        )
        return self.submit(system_id, submit)

    def query(self, system_id: str, pdu: QuerySm) -> QuerySmResp:
        message = self._messages.get(pdu.message_id)
        if (
            message is None
            or message.system_id != system_id
            or (pdu.source_addr and pdu.source_addr != message.submit.source_addr)
        ):
            return QuerySmResp(command_status=_S.ESME_RQUERYFAIL)
        final_date = format_absolute(message.done_at) if message.done_at else ""
        return QuerySmResp(
            message_id=message.message_id,
            final_date=final_date,
            message_state=int(message.state),
            error_code=message.error_code,
        )

    def cancel(self, system_id: str, pdu: CancelSm) -> int:
        """Returns the command_status for cancel_sm_resp."""
        now = self._clock()
        if pdu.message_id:
            message = self._messages.get(pdu.message_id)
            if (
                message is None
                or message.system_id != system_id
                or message.is_final
                or (pdu.source_addr and pdu.source_addr != message.submit.source_addr)
            ):
                return _S.ESME_RCANCELFAIL
            self._finish(message, MessageState.DELETED, now)
            return _S.ESME_ROK
        # SMPP 3.4 §4.9.1: no message_id cancels every pending message of source+destination.
        matches = [
            m
            for m in self._messages.values()
            if m.system_id == system_id
            and not m.is_final
            and m.submit.source_addr == pdu.source_addr
            and m.submit.destination_addr == pdu.destination_addr
            and (not pdu.service_type or m.submit.service_type == pdu.service_type)
        ]
        if not matches:
            return _S.ESME_RCANCELFAIL
        for message in matches:
            self._finish(message, MessageState.DELETED, now)
        return _S.ESME_ROK

    def replace(self, system_id: str, pdu: ReplaceSm) -> int:
        message = self._messages.get(pdu.message_id)
        if (
            message is None
            or message.system_id != system_id
            or message.is_final
            or message.state is not MessageState.SCHEDULED
            or (pdu.source_addr and pdu.source_addr != message.submit.source_addr)
        ):
            return _S.ESME_RREPLACEFAIL
        original = message.submit
        fields = {
            "schedule_delivery_time": pdu.schedule_delivery_time or original.schedule_delivery_time,
            "validity_period": pdu.validity_period or original.validity_period,
            "registered_delivery": pdu.registered_delivery,
            "sm_default_msg_id": pdu.sm_default_msg_id,
            "short_message": pdu.short_message,
        }
        replaced = replace(original, **fields)  # type: ignore[arg-type]
        try:
            due_at, expires_at = self._times(replaced, self._clock())
        except MessageRejected as exc:
            return exc.status
        message.submit = replaced
        message.due_at = due_at
        message.expires_at = expires_at
        heapq.heappush(self._schedule.heap, (due_at, next(self._ids), message.message_id))
        return _S.ESME_ROK

    # ---- driven by the app's clock --------------------------------------------------------------

    def next_due(self) -> datetime | None:
        return self._schedule.heap[0][0] if self._schedule.heap else None

    def run_due(self) -> None:
        """Deliver scheduled messages that are due; expire those past validity."""
        now = self._clock()
        self._wake_pending = False
        ready = self._ready
        get = self._messages.get
        popleft = ready.popleft
        while ready:
            message = get(popleft())
            if message is not None and message.state not in FINAL_STATES:
                self._deliver(message, now)
        heap = self._schedule.heap
        while heap and heap[0][0] <= now:
            due_at, _, message_id = heapq.heappop(heap)
            message = self._messages.get(message_id)
            if message is None or message.is_final or message.due_at != due_at:
                continue  # cancelled, replaced (a newer entry exists) or already delivered
            message.state = MessageState.ENROUTE
            self._deliver(message, now)

    def pump_receipts(self, system_id: str) -> None:
        """Send waiting receipts of an account while it has a receiver with a free window."""
        queue = self._receipts.get(system_id)
        now = self._clock()
        while queue:
            pending = queue[0]
            if pending.expires_at <= now:
                queue.popleft()
                self._receipt_count -= 1
                log.info("receipt expired system_id=%s attempts=%d", system_id, pending.attempts)
                continue
            receiver = self._receivers.receiver_for(system_id)
            if receiver is None:
                self._on_no_receiver(system_id)
                return
            queue.popleft()
            self._receipt_count -= 1
            pending.attempts += 1
            receiver.deliver(pending.pdu, _ReceiptOutcome(self, pending))
        if queue is not None and not queue:
            del self._receipts[system_id]

    # ---- internals ------------------------------------------------------------------------------

    def _new_id(self) -> str:
        return f"{self._id_head}{next(self._ids):08x}"

    def _times(self, pdu: SubmitSm, now: datetime) -> tuple[datetime, datetime]:
        try:
            due_at = parse_schedule(pdu.schedule_delivery_time, now=now) or now
            expires_at = parse_validity(pdu.validity_period, now=now) or (now + DEFAULT_VALIDITY)
        except SmppTimeError as exc:
            raise MessageRejected(exc.status, str(exc)) from exc
        expires_at = min(expires_at, now + self._limits.max_validity)
        if expires_at <= due_at:
            raise MessageRejected(_S.ESME_RINVEXPIRY, "validity_period ends before delivery")
        return due_at, expires_at

    def _replace_if_present(self, system_id: str, pdu: SubmitSm) -> None:
        # SMPP 3.4 §4.4.1: replace a pending message with the same source, destination and
        # service_type.
        for message in self._messages.values():
            if (
                message.system_id == system_id
                and not message.is_final
                and message.submit.source_addr == pdu.source_addr
                and message.submit.destination_addr == pdu.destination_addr
                and message.submit.service_type == pdu.service_type
            ):
                self._finish(message, MessageState.DELETED, self._clock(), receipt=False)

    def _deliver(self, message: Message, now: datetime) -> None:
        # The loopback route: the handset "receives" the message at once.
        self._finish(message, MessageState.DELIVERED, now)

    def _finish(
        self, message: Message, state: MessageState, now: datetime, *, receipt: bool = True
    ) -> None:
        message.state = state
        message.done_at = now
        self._retire(message.message_id, now)
        registered_delivery = message.submit.registered_delivery
        if receipt and registered_delivery & 0x03 and _wants_receipt(registered_delivery, state):
            self._queue_receipt(message, now)

    def _retire(self, message_id: str, now: datetime) -> None:
        final = self._final
        final.append((now, message_id))
        oldest_kept = now - self._limits.final_retention
        limit = self._limits.max_final_kept
        messages = self._messages
        while final and (len(final) > limit or final[0][0] < oldest_kept):
            _, old_id = final.popleft()
            messages.pop(old_id, None)

    def _queue_receipt(self, message: Message, now: datetime) -> None:
        submit = message.submit
        text = _receipt_text(submit)
        receipt = DeliveryReceipt(
            id=message.message_id,
            sub=1,
            dlvrd=1 if message.state is MessageState.DELIVERED else 0,
            submit_date=message.submitted_at,
            done_date=now,
            stat=stat_for_state(message.state),
            err=f"{message.error_code:03d}",
            text=text,
        )
        pdu = build_receipt_pdu(submit, receipt, state=message.state)
        reference = submit.tlvs.get(Tag.USER_MESSAGE_REFERENCE)
        if isinstance(reference, int):
            pdu = replace(pdu, tlvs=pdu.tlvs.with_(Tag.USER_MESSAGE_REFERENCE, reference))
        pending = _PendingReceipt(
            system_id=message.system_id,
            pdu=pdu,
            expires_at=now + self._limits.receipt_validity,
        )
        self._enqueue(pending)
        self.pump_receipts(message.system_id)

    def _enqueue(self, pending: _PendingReceipt, *, front: bool = False) -> None:
        if self._receipt_count >= self._limits.max_receipts:
            victim_queue = max(self._receipts.values(), key=len)
            victim_queue.popleft()
            self._receipt_count -= 1
            log.error("receipt queue full: dropped the oldest receipt of the longest queue")
        queue = self._receipts.setdefault(pending.system_id, deque())
        if front:
            queue.appendleft(pending)
        else:
            queue.append(pending)
        self._receipt_count += 1

    def _receipt_done(self, pending: _PendingReceipt, status: int | None) -> None:
        if status == _S.ESME_ROK:
            return
        if status in (_S.ESME_RX_P_APPN, _S.ESME_RX_R_APPN):
            log.info("receipt refused system_id=%s status=0x%08X", pending.system_id, status or 0)
            return
        # ESME_RX_T_APPN, throttling, a timeout or a lost session: keep it, in order, for later.
        self._enqueue(pending, front=True)


class _ReceiptOutcome:
    __slots__ = ("_center", "_pending")

    def __init__(self, center: InMemoryCenter, pending: _PendingReceipt) -> None:
        self._center = center
        self._pending = pending

    def __call__(self, status: int | None) -> None:
        self._center._receipt_done(self._pending, status)


def _wants_receipt(registered_delivery: int, state: MessageState) -> bool:
    # SMPP 3.4 §5.2.17 bits 1-0; 0b11 is "success only" in SMPP 5.0.
    mode = registered_delivery & 0x03
    if mode == 0:
        return False
    if mode == 1:
        return True
    delivered = state is MessageState.DELIVERED
    return not delivered if mode == 2 else delivered


def _validate(pdu: SubmitSm) -> None:
    if not pdu.destination_addr:
        raise MessageRejected(_S.ESME_RINVDSTADR, "destination_addr is empty")
    if pdu.priority_flag > 3:
        raise MessageRejected(_S.ESME_RINVPRTFLG, f"priority_flag {pdu.priority_flag} > 3")
    if pdu.replace_if_present_flag > 1:
        raise MessageRejected(_S.ESME_RINVREPFLAG, "replace_if_present_flag must be 0 or 1")
    if pdu.short_message and pdu.tlvs.get(Tag.MESSAGE_PAYLOAD) is not None:
        # SMPP 3.4 §5.3.2.32: message_payload only with sm_length 0.
        raise MessageRejected(_S.ESME_RINVMSGLEN, "short_message and message_payload both set")


def _receipt_text(submit: SubmitSm) -> str:
    """SMPP 3.4 Appendix B: the first 20 characters of the message, i.e. its text after any
    UDH, decoded per data_coding (UCS-2 characters, not their octets)."""
    payload = submit.short_message
    if not payload:
        carried = submit.tlvs.get(Tag.MESSAGE_PAYLOAD)
        payload = carried if isinstance(carried, bytes) else b""
    single_shift = locking_shift = 0
    try:
        if submit.esm_class & EsmClass.UDHI:
            header, payload = parse_udh(payload)
            single_shift, locking_shift = header.single_shift, header.locking_shift
        text = decode_text(submit.data_coding, payload, single_shift, locking_shift)
    except OpensmscError:  # a broken UDH or an alphabet we cannot decode: show the octets
        text = payload.decode("latin-1")
    return text[:20]
