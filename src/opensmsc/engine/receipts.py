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
from datetime import datetime
from typing import Final

from opensmsc.errors import OpensmscError
from opensmsc.smpp.constants import EsmClass, MessageState, RegisteredDelivery, Tag
from opensmsc.smpp.pdu import SubmitSm
from opensmsc.smpp.receipt import DeliveryReceipt, build_receipt_pdu, stat_for_state
from opensmsc.smpp.tlv import NetworkErrorCode
from opensmsc.sms.dcs import decode_text
from opensmsc.sms.udh import parse_udh
from opensmsc.store.model import Direction, StoredMessage

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
    payload = record.short_message
    if not payload:
        carried = record.tlv_values.get(Tag.MESSAGE_PAYLOAD)
        payload = carried if isinstance(carried, bytes) else b""
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
    `error` (last_error) becomes err: (3 digits, 999 when larger) and, for a failed state,
    network_error_code (GSM, the low 16 bits)."""
    receipted = receipted_message_id or record.message_id
    if dlvrd is None:
        dlvrd = 1 if state is MessageState.DELIVERED else 0
    err = "000" if not error else (f"{error:03d}" if 0 < error <= 999 else "999")
    receipt = DeliveryReceipt(
        id=receipted,
        sub=min(sub, 999),
        dlvrd=min(dlvrd, 999),
        submit_date=record.submitted_at,
        done_date=at,
        stat=stat_for_state(state),
        err=err,
        text=receipt_text(record) if text is None else text,
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
    # SMPP 3.4 §5.3.2.17: the ESME's own reference comes back with the receipt.
    reference = record.tlv_values.get(Tag.USER_MESSAGE_REFERENCE) if record.tlvs else None
    if isinstance(reference, int):
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
    )
