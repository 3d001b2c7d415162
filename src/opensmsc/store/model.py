"""The stored message record and its lifecycle: what a message is at rest, and which state
changes are allowed.

What this is for: `StoredMessage`, the one value every Store implementation keeps and returns
(an MT from an ESME, an MO from the network or a connector, or a delivery receipt waiting for
its account), and `TRANSITIONS`, the only place that says which message_state may follow which
(SMPP 3.4 §5.2.28, SMPP 5.0 §4.7.15). `check_transition` is called by every store before it
writes a state, so an illegal change is refused the same way whatever the backend.

It also says, once for every backend, what a state change does to a record: `Change` is the
change as a value, `effect` what it writes (the SQLite store turns that into its narrow UPDATEs,
a PostgreSQL store will too) and `apply_change` the record it leaves.

What it is not: storage, or policy. When to retry, which error is permanent and what a receipt
says are the business of routing and the engine; this module only keeps the record honest.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from enum import IntEnum
from typing import Any, Final, TypeVar

from opensmsc.errors import OpensmscError
from opensmsc.smpp import (
    EMPTY_TLVS,
    DeliverSm,
    MessageState,
    SubmitSm,
    Tag,
    Tlvs,
    decode_tlvs,
    encode_tlvs,
)
from opensmsc.store.trail import TrailEvent

_ShortMessageT = TypeVar("_ShortMessageT", SubmitSm, DeliverSm)

__all__ = [
    "FINAL_STATES",
    "INITIAL_STATES",
    "OPEN_STATES",
    "REPLACEABLE_STATES",
    "SUCCESS_STATES",
    "TRANSITIONS",
    "Address",
    "Change",
    "ConcatInfo",
    "Direction",
    "DuplicateMessage",
    "IllegalTransition",
    "MessageNotFound",
    "Replacement",
    "SchemaTooNew",
    "StoreError",
    "StoredMessage",
    "apply_change",
    "check_transition",
    "effect",
    "is_final",
    "outcome_error",
]

_S = MessageState


class Direction(IntEnum):
    """Which way a stored message travels. The values are what the database holds."""

    MT = 1  # from an ESME (or HTTP) towards the network or an upstream connector
    MO = 2  # from the network or a connector towards an ESME of an account
    RECEIPT = 3  # a delivery receipt (deliver_sm, esm_class 0x04) waiting for its account


# SMPP 5.0 §4.7.15 calls SCHEDULED, ENROUTE and UNKNOWN intermediate: each may still change.
# UNKNOWN is where a message waits when an upstream gave no usable outcome; a late receipt can
# still settle it, and validity still ends it. Every other state is final: nothing follows it.
OPEN_STATES: Final = frozenset({_S.SCHEDULED, _S.ENROUTE, _S.UNKNOWN})
FINAL_STATES: Final = frozenset(
    {
        _S.DELIVERED,
        _S.EXPIRED,
        _S.DELETED,
        _S.UNDELIVERABLE,
        _S.ACCEPTED,
        _S.REJECTED,
        _S.SKIPPED,
    }
)
# A message that ends in one of these reached its destination (or an agent read it there):
# whatever an earlier attempt met, this outcome has no error.
SUCCESS_STATES: Final = frozenset({_S.DELIVERED, _S.ACCEPTED})
# A message enters the store either waiting for its schedule_delivery_time or ready to go.
INITIAL_STATES: Final = frozenset({_S.SCHEDULED, _S.ENROUTE})
# replace_sm (SMPP 3.4 §4.10) works on a message still waiting; one in retry qualifies too (the
# voicemail-notification case replace_if_present exists for). Whether it is in flight right now
# is the engine's knowledge, not the store's.
REPLACEABLE_STATES: Final = frozenset({_S.SCHEDULED, _S.ENROUTE})

# The lifecycle, as data: state → the states it may move to. A self-loop is a reschedule
# (SCHEDULED: replace_sm moved the time; ENROUTE: the next retry or a dispatch lease; UNKNOWN:
# a later look). Final states map to nothing.
_ENDINGS = frozenset({_S.DELIVERED, _S.EXPIRED, _S.DELETED, _S.UNDELIVERABLE, _S.REJECTED})
TRANSITIONS: Final[dict[MessageState, frozenset[MessageState]]] = {
    # Due → ENROUTE; cancel_sm → DELETED; validity ran out before the schedule → EXPIRED; no
    # route or a policy refusal at dispatch → UNDELIVERABLE / REJECTED; deliberately not sent
    # (SMPP 5.0 SKIPPED).
    _S.SCHEDULED: _ENDINGS | {_S.SCHEDULED, _S.ENROUTE, _S.SKIPPED},
    # In delivery or in retry. ACCEPTED and UNKNOWN come from an upstream's receipt; replace_sm
    # with a new schedule_delivery_time sends a waiting message back to SCHEDULED.
    _S.ENROUTE: _ENDINGS | {_S.ENROUTE, _S.SCHEDULED, _S.ACCEPTED, _S.UNKNOWN, _S.SKIPPED},
    # Outcome unknown: a late receipt settles it, a retry may be tried, validity ends it.
    _S.UNKNOWN: _ENDINGS | {_S.UNKNOWN, _S.ENROUTE, _S.ACCEPTED},
    **{state: frozenset() for state in FINAL_STATES},
}


def is_final(state: MessageState) -> bool:
    """True for a state no transition leaves (DELIVERED, EXPIRED, DELETED, ...)."""
    return state in FINAL_STATES


def outcome_error(state: MessageState, error: int | None) -> int | None:
    """The error a message in `state` reports (a receipt's err: and network_error_code,
    query_sm's error_code) when `error` is its last attempt's: None after a success
    (SUCCESS_STATES), whatever an earlier attempt met (last_error keeps that), and for 0."""
    return None if state in SUCCESS_STATES or not error else error


# ---- errors ---------------------------------------------------------------------------------


class StoreError(OpensmscError):
    """A store refused an operation on its merits (not an outage: that is StoreUnavailable)."""


class MessageNotFound(StoreError):
    def __init__(self, message_id: str) -> None:
        self.message_id = message_id
        super().__init__(f"message_id={message_id}: no such message")


class DuplicateMessage(StoreError):
    def __init__(self, message_id: str) -> None:
        self.message_id = message_id
        super().__init__(f"message_id={message_id}: already stored")


class IllegalTransition(StoreError):
    """`old` may not become `new` (see TRANSITIONS); nothing was written."""

    def __init__(self, message_id: str, old: MessageState, new: MessageState) -> None:
        self.message_id = message_id
        self.old = old
        self.new = new
        super().__init__(f"message_id={message_id}: {old.name} cannot become {new.name}")


class SchemaTooNew(StoreError):
    """The database was written by a newer opensmsc; refusing to run rather than corrupt it."""

    def __init__(self, found: int, known: int) -> None:
        self.found = found
        self.known = known
        super().__init__(f"database schema version {found} is newer than this build's {known}")


def check_transition(message_id: str, old: MessageState, new: MessageState) -> None:
    """Raises IllegalTransition unless TRANSITIONS allows `old` → `new`."""
    if new not in TRANSITIONS[old]:
        raise IllegalTransition(message_id, old, new)


# ---- values ---------------------------------------------------------------------------------

_ONE_US = timedelta(microseconds=1)
# SMPP 3.4 §5.2.21: sm_length is one octet; longer content travels in message_payload.
SHORT_MESSAGE_MAX: Final = 255


def _check_utc(name: str, value: datetime | None) -> None:
    # STYLE §6: no naive datetimes. Any aware zone is accepted; the store keeps µs since epoch.
    if value is not None and value.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime, got naive {value!r}")


@dataclass(frozen=True, slots=True)
class Address:
    """An SMPP address triple: ton, npi, addr (SMPP 3.4 §5.2.5-§5.2.8)."""

    ton: int = 0
    npi: int = 0
    addr: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class ConcatInfo:
    """One part of a long message (TS 23.040 §9.2.3.24.1): `group_id` is our id of the whole
    message (the same for every part), `reference` the UDH/SAR reference, `seq` counts from 1."""

    group_id: str
    reference: int
    total: int
    seq: int

    def __post_init__(self) -> None:
        if not 1 <= self.seq <= self.total <= 255:
            raise ValueError(f"concat part {self.seq} of {self.total} is out of range")


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredMessage:
    """A message at rest. Contract: times are aware (UTC in, UTC out), an open message always
    has a `next_attempt_at` (when the engine must look at it next), a final one has `done_at`.

    `tlvs` is the TLV stream in its wire form (`smpp.encode_tlvs`): stored as is, so unknown
    and vendor TLVs survive storage byte for byte. `short_message` is left out of repr, so a
    record can be logged without its content (STYLE §6).
    """

    message_id: str
    system_id: str  # the account: who submitted an MT, who receives an MO or a receipt
    direction: Direction = Direction.MT
    source: Address = Address()
    destination: Address = Address()
    service_type: str = ""
    esm_class: int = 0
    protocol_id: int = 0
    priority_flag: int = 0  # 0..3 (SMPP 3.4 §5.2.14); higher is sent first
    registered_delivery: int = 0
    data_coding: int = 0
    sm_default_msg_id: int = 0
    short_message: bytes = field(default=b"", repr=False)
    tlvs: bytes = field(default=b"", repr=False)
    concat: ConcatInfo | None = None
    submitted_at: datetime
    due_at: datetime  # schedule_delivery_time, or submitted_at
    expires_at: datetime  # end of validity
    state: MessageState = MessageState.ENROUTE
    attempts: int = 0
    next_attempt_at: datetime | None = None  # None on input means due_at
    last_error: int | None = None  # MAP error (network) or command_status (upstream SMPP)
    done_at: datetime | None = None
    route: str | None = None  # connector or route name the message went (or goes) to
    upstream_message_id: str | None = None  # the connector's id for it, as it gave it
    # Receipt bookkeeping. On an MT: the id of the receipt record made for it, set in the
    # same transaction as its final state, so a restart neither loses nor repeats a receipt.
    # On a RECEIPT: the message it reports on.
    receipt_id: str | None = None
    receipted_message_id: str | None = None
    # From an HTTP API client (issue 12): its own reference for the message, and the URL its
    # delivery reports go to. SMPP never sets them; they never travel on the wire.
    client_reference: str | None = None
    callback_url: str | None = None
    # How callback_url is called (http/webhooks/styles.py): None for a Standard Webhooks JSON
    # POST; "kannel", "jasmin;level=2;method=POST"... for the drop-in endpoints' callbacks,
    # which must look as the originals' do. The name before the first ";" picks the style, the
    # rest is the style's own parameters.
    callback_style: str | None = None
    # The id that ties the message's log lines, trail and receipts together (trail.py): made
    # at its front door, copied to its receipts. None on records from before issue 16.
    trace_id: str | None = None

    def __post_init__(self) -> None:
        if not self.message_id:
            raise ValueError("message_id is empty")
        if not 0 <= self.priority_flag <= 3:
            raise ValueError(f"priority_flag {self.priority_flag} is not 0..3")
        # STYLE §6: aware datetimes only (checked inline: a record is built per message).
        next_attempt_at, done_at = self.next_attempt_at, self.done_at
        if (
            self.submitted_at.utcoffset() is None
            or self.due_at.utcoffset() is None
            or self.expires_at.utcoffset() is None
            or (next_attempt_at is not None and next_attempt_at.utcoffset() is None)
            or (done_at is not None and done_at.utcoffset() is None)
        ):
            for name in ("submitted_at", "due_at", "expires_at", "next_attempt_at", "done_at"):
                _check_utc(name, getattr(self, name))
        if self.state in OPEN_STATES:
            if next_attempt_at is None:
                # frozen: set once here, so an open record always says when it is next due.
                object.__setattr__(self, "next_attempt_at", self.due_at)
            if done_at is not None:
                raise ValueError(f"message_id={self.message_id}: open, yet done_at is set")
        elif done_at is None:
            raise ValueError(f"message_id={self.message_id}: {self.state.name} needs done_at")

    @property
    def is_final(self) -> bool:
        return self.state in FINAL_STATES

    @property
    def payload(self) -> bytes:
        """The content as `create` took it (with its UDH, if any): short_message, or the
        message_payload TLV when that carries it; b"" when neither does."""
        if self.short_message or not self.tlvs:
            return self.short_message
        carried = self.tlv_values.get(Tag.MESSAGE_PAYLOAD)
        return carried if isinstance(carried, bytes) else b""

    @property
    def tlv_values(self) -> Tlvs:
        """The TLVs, decoded leniently (a value that does not fit its tag stays bytes)."""
        return decode_tlvs(self.tlvs, 0, len(self.tlvs), False)

    @staticmethod
    def encode_tlvs(tlvs: Tlvs) -> bytes:
        """The stored form of `tlvs`; raises LocalProtocolError for an unwritable value."""
        return encode_tlvs(tlvs)

    @classmethod
    def create(
        cls,
        *,
        message_id: str,
        system_id: str,
        direction: Direction,
        source: Address,
        destination: Address,
        submitted_at: datetime,
        expires_at: datetime,
        due_at: datetime | None = None,
        data_coding: int = 0,
        payload: bytes = b"",
        service_type: str = "",
        esm_class: int = 0,
        protocol_id: int = 0,
        priority_flag: int = 0,
        registered_delivery: int = 0,
        sm_default_msg_id: int = 0,
        tlvs: Tlvs = EMPTY_TLVS,
        concat: ConcatInfo | None = None,
        receipted_message_id: str | None = None,
        next_attempt_at: datetime | None = None,
        client_reference: str | None = None,
        callback_url: str | None = None,
        callback_style: str | None = None,
        trace_id: str | None = None,
    ) -> StoredMessage:
        """A new message from plain fields, whatever its front door (SMPP, HTTP, IMPS).

        `payload` is the content in `data_coding` (with its UDH when esm_class has UDHI); it
        goes in short_message, or in the message_payload TLV when it is longer than
        short_message can be (SMPP 3.4 §5.3.2.32). `due_at` is the schedule (None: at once);
        the caller has already capped it and `expires_at` by its policy. The record is
        SCHEDULED when due after `submitted_at`, else ENROUTE; `next_attempt_at` defaults to
        `due_at` (a lease: when a stored-leased message is due again). `tlvs` are kept byte
        for byte. Raises ValueError for a field out of range, LocalProtocolError for a TLV
        value that cannot be written."""
        if due_at is None:
            due_at = submitted_at
        short_message = payload
        if len(payload) > SHORT_MESSAGE_MAX:
            tlvs = tlvs.with_(Tag.MESSAGE_PAYLOAD, payload)
            short_message = b""
        return cls(
            message_id=message_id,
            system_id=system_id,
            direction=direction,
            source=source,
            destination=destination,
            service_type=service_type,
            esm_class=esm_class,
            protocol_id=protocol_id,
            priority_flag=priority_flag,
            registered_delivery=registered_delivery,
            data_coding=data_coding,
            sm_default_msg_id=sm_default_msg_id,
            short_message=short_message,
            tlvs=encode_tlvs(tlvs) if tlvs else b"",
            concat=concat,
            submitted_at=submitted_at,
            due_at=due_at,
            expires_at=expires_at,
            state=_S.SCHEDULED if due_at > submitted_at else _S.ENROUTE,
            next_attempt_at=next_attempt_at,
            receipted_message_id=receipted_message_id,
            client_reference=client_reference,
            callback_url=callback_url,
            callback_style=callback_style,
            trace_id=trace_id,
        )

    @classmethod
    def from_pdu(
        cls,
        pdu: SubmitSm | DeliverSm,
        *,
        message_id: str,
        system_id: str,
        direction: Direction,
        submitted_at: datetime,
        due_at: datetime,
        expires_at: datetime,
        concat: ConcatInfo | None = None,
        receipted_message_id: str | None = None,
        next_attempt_at: datetime | None = None,
        trace_id: str | None = None,
    ) -> StoredMessage:
        """`create` with the fields of a submit_sm or deliver_sm; the engine has already
        parsed and capped its schedule_delivery_time and validity_period."""
        return cls.create(
            message_id=message_id,
            system_id=system_id,
            direction=direction,
            source=Address(pdu.source_addr_ton, pdu.source_addr_npi, pdu.source_addr),
            destination=Address(pdu.dest_addr_ton, pdu.dest_addr_npi, pdu.destination_addr),
            submitted_at=submitted_at,
            expires_at=expires_at,
            due_at=due_at,
            data_coding=pdu.data_coding,
            payload=pdu.short_message,
            service_type=pdu.service_type,
            esm_class=pdu.esm_class,
            protocol_id=pdu.protocol_id,
            priority_flag=pdu.priority_flag,
            registered_delivery=pdu.registered_delivery,
            sm_default_msg_id=pdu.sm_default_msg_id,
            tlvs=pdu.tlvs,
            concat=concat,
            receipted_message_id=receipted_message_id,
            next_attempt_at=next_attempt_at,
            trace_id=trace_id,
        )

    def to_deliver_sm(self) -> DeliverSm:
        """The deliver_sm that carries this MO or receipt to an ESME."""
        return self._as_pdu(DeliverSm)

    def to_submit_sm(self) -> SubmitSm:
        """The submit_sm that carries this MT to an upstream SMSC (times are the engine's)."""
        return self._as_pdu(SubmitSm)

    def _as_pdu(self, cls: type[_ShortMessageT]) -> _ShortMessageT:
        # submit_sm and deliver_sm share their mandatory layout (SMPP 3.4 §4.4.1, §4.6.1).
        return cls(
            service_type=self.service_type,
            source_addr_ton=self.source.ton,
            source_addr_npi=self.source.npi,
            source_addr=self.source.addr,
            dest_addr_ton=self.destination.ton,
            dest_addr_npi=self.destination.npi,
            destination_addr=self.destination.addr,
            esm_class=self.esm_class,
            protocol_id=self.protocol_id,
            priority_flag=self.priority_flag,
            registered_delivery=self.registered_delivery,
            data_coding=self.data_coding,
            sm_default_msg_id=self.sm_default_msg_id,
            short_message=self.short_message,
            tlvs=self.tlv_values,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Replacement:
    """What replace_sm (SMPP 3.4 §4.10.1) changes; None keeps the stored value. The engine
    parses schedule_delivery_time / validity_period into `due_at` / `expires_at` first."""

    short_message: bytes | None = field(default=None, repr=False)
    registered_delivery: int | None = None
    sm_default_msg_id: int | None = None
    data_coding: int | None = None
    tlvs: bytes | None = field(default=None, repr=False)
    due_at: datetime | None = None
    expires_at: datetime | None = None

    def __post_init__(self) -> None:
        _check_utc("due_at", self.due_at)
        _check_utc("expires_at", self.expires_at)


# ---- changes --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Change:
    """One state change of a stored message (Store.apply, Store.transition), as a value.

    `new_state` is checked against TRANSITIONS. A final state sets done_at=`at` and clears
    next_attempt_at; an open state takes `next_attempt_at`, else keeps its own. `error`
    replaces last_error; `attempt` counts one more delivery attempt; `route` and
    `upstream_message_id` are recorded when given. `receipt` is stored with the change (one
    transaction) and its id kept on the message as receipt_id. `trail` is stored with the
    change when it is made, and not at all when it is refused (trail.py)."""

    message_id: str
    new_state: MessageState
    at: datetime
    error: int | None = None
    next_attempt_at: datetime | None = None
    attempt: bool = False
    route: str | None = None
    upstream_message_id: str | None = None
    receipt: StoredMessage | None = None
    trail: tuple[TrailEvent, ...] = ()


# What a change writes besides the state, one bit per assignment. `effect` gives the bits and
# their values in this order; ATTEMPT has no value (attempts + 1).
FINISH: Final = 1  # done_at = the value; next_attempt_at cleared
RESCHEDULE: Final = 2  # next_attempt_at = the value
ERROR: Final = 4  # last_error
ATTEMPT: Final = 8  # attempts + 1
ROUTE: Final = 16  # route
UPSTREAM: Final = 32  # upstream_message_id
RECEIPT: Final = 64  # receipt_id: the receipt's message_id


def effect(change: Change) -> tuple[int, tuple[Any, ...]]:
    """What `change` writes besides its state: (bits, values), the values of the set bits in
    the order of the bits (model times as datetimes). The one statement of the rules of
    Change; `apply_change` and every store's UPDATE follow it."""
    at: datetime | None
    if change.new_state in FINAL_STATES:
        bits, at = FINISH, change.at
    elif change.next_attempt_at is not None:
        bits, at = RESCHEDULE, change.next_attempt_at
    else:
        bits, at = 0, None
    values: list[Any] = [] if at is None else [at]
    if change.error is not None:
        bits |= ERROR
        values.append(change.error)
    if change.attempt:
        bits |= ATTEMPT
    if change.route is not None:
        bits |= ROUTE
        values.append(change.route)
    if change.upstream_message_id:
        bits |= UPSTREAM
        values.append(change.upstream_message_id)
    if change.receipt is not None:
        bits |= RECEIPT
        values.append(change.receipt.message_id)
    return bits, tuple(values)


def apply_change(record: StoredMessage, change: Change) -> StoredMessage:
    """`record` as `change` leaves it. Raises IllegalTransition (see TRANSITIONS)."""
    check_transition(record.message_id, record.state, change.new_state)
    bits, values = effect(change)
    fields: dict[str, Any] = {"state": change.new_state}
    taken = iter(values)
    if bits & FINISH:
        fields["done_at"] = next(taken)
        fields["next_attempt_at"] = None
    elif bits & RESCHEDULE:
        fields["next_attempt_at"] = next(taken)
    if bits & ATTEMPT:
        fields["attempts"] = record.attempts + 1
    for bit, name in _VALUE_FIELDS:
        if bits & bit:
            fields[name] = next(taken)
    return replace(record, **fields)


# The record's fields of the bits that carry a value, after the time (FINISH / RESCHEDULE).
_VALUE_FIELDS: Final = (
    (ERROR, "last_error"),
    (ROUTE, "route"),
    (UPSTREAM, "upstream_message_id"),
    (RECEIPT, "receipt_id"),
)


# Times are kept as integer microseconds since the Unix epoch, UTC: compact, ordered, and the
# same value in every backend (PostgreSQL may map it to timestamptz later; the record is the
# contract, not the column type).
EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


def to_us(value: datetime) -> int:
    """Microseconds since the epoch of an aware datetime."""
    return (value - EPOCH) // _ONE_US


def from_us(value: int) -> datetime:
    """The aware UTC datetime of `to_us`."""
    return EPOCH + timedelta(microseconds=value)
