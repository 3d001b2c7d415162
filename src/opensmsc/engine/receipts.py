"""Our delivery receipts, as stored records: which state changes owe one, and what it says.

What this is for: registered_delivery (SMPP 3.4 §5.2.17, 5.0 §4.7.21) asks for a receipt on
success and failure (1), on failure only (2) or on success only (3, SMPP 5.0), and bit 0x10 for
an intermediate notification. A receipt is a deliver_sm (esm_class 0x04, or 0x20 for an
intermediate notification) with the Appendix B text and the receipted_message_id,
message_state and, after a failure, network_error_code TLVs (smpp/receipt.py builds the PDU).
`build_receipt` turns it into a StoredMessage of direction RECEIPT for the submitting account,
which the store keeps with the final transition (one transaction) and engine/deliveries.py
sends.

Long messages: by default each part has its own receipt (sub:001, dlvrd:001 or 000). With the
account's whole-message option one receipt covers the message once all parts are final: its id
is part 1's message_id, its state the worst of the parts (`worst_state`), sub: the number of
parts and dlvrd: how many were delivered, its text the start of part 1.

What it is not: I/O. Pure functions; engine/lifecycle.py decides when to call them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Final

from opensmsc.errors import OpensmscError
from opensmsc.smpp import (
    DeliveryReceipt,
    EsmClass,
    MessageState,
    NetworkErrorCode,
    RegisteredDelivery,
    SubmitSm,
    Tag,
    build_receipt_pdu,
    encode_receipt_text,
    receipt_tlvs,
    stat_for_state,
)
from opensmsc.sms import decode_text, parse_udh
from opensmsc.store import Direction, StoredMessage, outcome_error

__all__ = [
    "INTERMEDIATE_NOTIFICATION",
    "build_receipt",
    "receipt_text",
    "wants_intermediate",
    "wants_receipt",
    "worst_state",
]

INTERMEDIATE_NOTIFICATION: Final = 0x10  # registered_delivery bit 4 (SMPP 3.4 §5.2.17)
_GSM: Final = 3  # network_error_code network_type (SMPP 3.4 §5.3.2.31)

# "Worst" for a whole long message, best first: a message is as good as its worst part.
_RANK: Final = {
    MessageState.DELIVERED: 0,
    MessageState.ACCEPTED: 1,
    MessageState.SKIPPED: 2,
    MessageState.ENROUTE: 3,
    MessageState.SCHEDULED: 3,
    MessageState.UNKNOWN: 4,
    MessageState.DELETED: 5,
    MessageState.EXPIRED: 6,
    MessageState.UNDELIVERABLE: 7,
    MessageState.REJECTED: 8,
}


def wants_receipt(registered_delivery: int, state: MessageState) -> bool:
    """Whether a message that became `state` (final) owes its submitter a receipt."""
    mode = registered_delivery & RegisteredDelivery.RECEIPT_MASK
    if mode == RegisteredDelivery.NO_RECEIPT:
        return False
    if mode == RegisteredDelivery.RECEIPT_ON_FINAL:
        return True
    delivered = state is MessageState.DELIVERED
    return not delivered if mode == RegisteredDelivery.RECEIPT_ON_FAILURE else delivered


def wants_intermediate(registered_delivery: int) -> bool:
    """Whether the submitter asked to hear that its message is in retry (SMPP 3.4 §5.2.17)."""
    return bool(registered_delivery & INTERMEDIATE_NOTIFICATION)


def worst_state(states: Iterable[MessageState]) -> MessageState:
    """The worst of the parts' states (DELIVERED is the best, REJECTED the worst)."""
    return max(states, key=lambda state: _RANK.get(state, 4))


def receipt_text(record: StoredMessage) -> str:
    """SMPP 3.4 Appendix B: the first 20 characters of the message, i.e. its text after any
    UDH, decoded per data_coding (UCS-2 characters, not their octets)."""
    payload = record.payload
    single_shift = locking_shift = 0
    try:
        if record.esm_class & EsmClass.UDHI:
            header, payload = parse_udh(payload)
            single_shift, locking_shift = header.single_shift, header.locking_shift
        text = decode_text(record.data_coding, payload, single_shift, locking_shift)
    except OpensmscError:  # a broken UDH or an alphabet we cannot decode: show the octets
        text = payload.decode("latin-1")
    return text[:20]


def build_receipt(
    record: StoredMessage,
    *,
    receipt_id: str,
    state: MessageState,
    at: datetime,
    expires_at: datetime,
    error: int | None = None,
    sub: int = 1,
    dlvrd: int | None = None,
    intermediate: bool = False,
    receipted_message_id: str | None = None,
    text: str | None = None,
) -> StoredMessage:
    """The receipt `record`'s submitter gets for `state`, as a stored RECEIPT record with id
    `receipt_id`, valid until `expires_at`.

    `receipted_message_id` defaults to the record's id (a whole-message receipt passes part
    1's); `dlvrd` defaults to 1 if `state` is DELIVERED else 0; `text` to `receipt_text(record)`.
    `error` (the last attempt's) becomes err: (3 digits, 999 when larger) and, for a failed
    state, network_error_code (GSM, the low 16 bits); a success (DELIVERED, ACCEPTED) reports
    none, whatever an earlier attempt met (store.outcome_error).

    Once per final transition, so it builds the record directly: the text as
    smpp.format_receipt writes it and the TLVs as smpp.build_receipt_pdu + encode_tlvs would
    (tests/services/test_engine_receipts.py holds both paths equal); anything out of the
    ordinary (an id with blanks or over 64 characters, a count over 999, a date outside
    2000..2099) takes that general path, which also raises what it raises."""
    receipted = receipted_message_id or record.message_id
    error = outcome_error(state, error)
    if dlvrd is None:
        dlvrd = 1 if state is MessageState.DELIVERED else 0
    if text is None:
        text = receipt_text(record)
    submitted, done = _receipt_date(record.submitted_at), _receipt_date(at)
    reference = _user_message_reference(record)
    if (
        submitted is None
        or done is None
        or not 0 <= sub <= 999
        or not 0 <= dlvrd <= 999
        or not 0 < len(receipted) <= 64
        or not receipted.isascii()
        or not receipted.isprintable()
        or " " in receipted
        or (reference is not None and not 0 <= reference <= 0xFFFF)
    ):
        return _build_receipt_general(
            record,
            receipt_id=receipt_id,
            state=state,
            at=at,
            expires_at=expires_at,
            error=error,
            sub=sub,
            dlvrd=dlvrd,
            intermediate=intermediate,
            receipted=receipted,
            text=text,
        )
    err = "000" if not error else (f"{error:03d}" if 0 < error <= 999 else "999")
    short_message = encode_receipt_text(
        f"id:{receipted} sub:{sub:03d} dlvrd:{dlvrd:03d} submit date:{submitted}"
        f" done date:{done} stat:{stat_for_state(state)} err:{err} text:{text[:20]}"
    )
    tlvs = receipt_tlvs(
        receipted,
        state,
        network_error_code=NetworkErrorCode(_GSM, error & 0xFFFF) if error else None,
        user_message_reference=reference,
    )
    source, destination = record.source, record.destination
    return StoredMessage(
        message_id=receipt_id,
        system_id=record.system_id,
        direction=Direction.RECEIPT,
        source=destination,  # from the original destination, to the original source
        destination=source,
        esm_class=EsmClass.INTERMEDIATE_NOTIFICATION if intermediate else EsmClass.DELIVERY_RECEIPT,
        short_message=short_message,
        tlvs=tlvs,
        submitted_at=at,
        due_at=at,
        expires_at=max(expires_at, at),
        state=MessageState.ENROUTE,
        receipted_message_id=receipted,
        trace_id=record.trace_id,  # the receipt's hops log under the message's trace
    )


def _user_message_reference(record: StoredMessage) -> int | None:
    # SMPP 3.4 §5.3.2.17: the ESME's own reference comes back with the receipt.
    if not record.tlvs:
        return None
    reference = record.tlv_values.get(Tag.USER_MESSAGE_REFERENCE)
    return reference if isinstance(reference, int) else None


_dates: dict[int, str] = {}  # minute since the epoch → YYMMDDhhmm (UTC)


def _receipt_date(when: datetime) -> str | None:
    """`when` as an Appendix B date (YYMMDDhhmm, UTC), or None outside 2000..2099."""
    minute = int(when.timestamp() // 60)
    found = _dates.get(minute)
    if found is None:
        utc = when.astimezone(UTC)
        if not 2000 <= utc.year <= 2099:
            return None
        found = utc.strftime("%y%m%d%H%M")
        if len(_dates) >= 4096:
            _dates.clear()
        _dates[minute] = found
    return found


def _build_receipt_general(
    record: StoredMessage,
    *,
    receipt_id: str,
    state: MessageState,
    at: datetime,
    expires_at: datetime,
    error: int | None,
    sub: int,
    dlvrd: int,
    intermediate: bool,
    receipted: str,
    text: str,
) -> StoredMessage:
    # Through smpp.build_receipt_pdu and the PDU: the reference for the direct path above.
    error = outcome_error(state, error)
    err = "000" if not error else (f"{error:03d}" if 0 < error <= 999 else "999")
    receipt = DeliveryReceipt(
        id=receipted,
        sub=min(sub, 999),
        dlvrd=min(dlvrd, 999),
        submit_date=record.submitted_at,
        done_date=at,
        stat=stat_for_state(state),
        err=err,
        text=text,
    )
    addresses = SubmitSm(
        source_addr_ton=record.source.ton,
        source_addr_npi=record.source.npi,
        source_addr=record.source.addr,
        dest_addr_ton=record.destination.ton,
        dest_addr_npi=record.destination.npi,
        destination_addr=record.destination.addr,
    )
    pdu = build_receipt_pdu(
        addresses,
        receipt,
        state=state,
        network_error_code=NetworkErrorCode(_GSM, error & 0xFFFF) if error else None,
        esm_class=EsmClass.INTERMEDIATE_NOTIFICATION if intermediate else EsmClass.DELIVERY_RECEIPT,
    )
    reference = _user_message_reference(record)
    if reference is not None:
        pdu = replace(pdu, tlvs=pdu.tlvs.with_(Tag.USER_MESSAGE_REFERENCE, reference))
    return StoredMessage.from_pdu(
        pdu,
        message_id=receipt_id,
        system_id=record.system_id,
        direction=Direction.RECEIPT,
        submitted_at=at,
        due_at=at,
        expires_at=max(expires_at, at),
        receipted_message_id=receipted,
        trace_id=record.trace_id,
    )
