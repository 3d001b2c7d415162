"""What a submit must satisfy before it is stored, and what the Acceptor reads from it: the
specific refusals (SMPP 3.4 §4.4.1 fields, content longer than a concatenated message can be),
its delivery and expiry times, and which part of a long message it is.

What it is not: storing or answering (accept.py). Pure functions of the PDU, the time and the
account's policy.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

from opensmsc.errors import MessageRejected, OpensmscError
from opensmsc.routing import AccountPolicy
from opensmsc.smpp import (
    CommandStatus,
    EsmClass,
    SmppTimeError,
    SubmitSm,
    Tag,
    parse_schedule,
    parse_validity,
)
from opensmsc.sms import Alphabet, Encoding, MessageTooLong, alphabet_of, parse_udh, split

__all__ = ["check_submit", "concat_of", "submit_times"]

_S = CommandStatus


def check_submit(pdu: SubmitSm, max_parts: int) -> None:
    """Raises MessageRejected with the specific status for a submit that cannot be stored:
    no destination, a field out of range, short_message with message_payload, content that
    needs more than `max_parts` SMS."""
    if not pdu.destination_addr:
        raise MessageRejected(_S.ESME_RINVDSTADR, "destination_addr is empty")
    if pdu.priority_flag > 3:
        raise MessageRejected(_S.ESME_RINVPRTFLG, f"priority_flag {pdu.priority_flag} > 3")
    if pdu.replace_if_present_flag > 1:
        raise MessageRejected(_S.ESME_RINVREPFLAG, "replace_if_present_flag must be 0 or 1")
    if pdu.short_message and pdu.tlvs and pdu.tlvs.get(Tag.MESSAGE_PAYLOAD) is not None:
        # SMPP 3.4 §5.3.2.32: message_payload only with sm_length 0.
        raise MessageRejected(_S.ESME_RINVMSGLEN, "short_message and message_payload both set")
    if pdu.tlvs:
        payload = pdu.tlvs.get(Tag.MESSAGE_PAYLOAD)
        if isinstance(payload, bytes) and len(payload) > _ONE_SMS_OCTETS:
            _check_parts(pdu, payload, max_parts)


_ONE_SMS_OCTETS: Final = 140  # TS 23.040 §9.2.3.24: what never needs a second part


def _check_parts(pdu: SubmitSm, payload: bytes, max_parts: int) -> None:
    """Refuse a message_payload that needs more than `max_parts` SMS, counted as the SMSC
    segments it for delivery (SMPP 3.4 §5.3.2.32: 8-bit concat UDH, the ESME's own UDH
    ports kept in every part). Content that cannot be counted is left to the route."""
    ports = None
    alphabet = alphabet_of(pdu.data_coding)
    if alphabet not in (Alphabet.GSM7, Alphabet.UCS2):
        alphabet = Alphabet.BINARY  # octets, whatever the 8-bit character set
    try:
        if pdu.esm_class & EsmClass.UDHI:
            header, payload = parse_udh(payload)
            ports = header.ports
        split(payload, encoding=Encoding(alphabet), reference=0, ports=ports, max_parts=max_parts)
    except MessageTooLong as exc:
        raise MessageRejected(
            _S.ESME_RINVMSGLEN,
            f"message_payload needs {exc.size} parts, more than {max_parts}",
        ) from exc
    except (OpensmscError, ValueError):
        return


def submit_times(pdu: SubmitSm, now: datetime, policy: AccountPolicy) -> tuple[datetime, datetime]:
    """(due_at, expires_at) of a submit: schedule_delivery_time (a past one means now) and
    validity_period (the account's default, capped by its maximum from submission). Raises
    MessageRejected for an unreadable time or a validity that ends before delivery."""
    if not pdu.schedule_delivery_time and not pdu.validity_period:
        return now, now + min(policy.default_validity, policy.max_validity)
    try:
        # A schedule in the past means now: the default validity counts from there.
        due_at = max(parse_schedule(pdu.schedule_delivery_time, now=now) or now, now)
        expires_at = parse_validity(pdu.validity_period, now=now) or (
            due_at + policy.default_validity
        )
    except SmppTimeError as exc:
        raise MessageRejected(exc.status, str(exc)) from exc
    # The account's maximum counts from submission (a far schedule does not stretch it).
    expires_at = min(expires_at, now + policy.max_validity)
    if expires_at <= due_at:
        raise MessageRejected(_S.ESME_RINVEXPIRY, "validity_period ends before delivery")
    return due_at, expires_at


def concat_of(pdu: SubmitSm) -> tuple[int, int, int] | None:
    """(reference, total, seq) of a part of a long message: UDH (TS 23.040 §9.2.3.24.1/.8)
    or the SAR TLVs (SMPP 3.4 §5.3.2.22-24); None for a whole message or unusable values."""
    found: tuple[int, int, int] | None = None
    if pdu.esm_class & EsmClass.UDHI and pdu.short_message:
        try:
            header, _ = parse_udh(pdu.short_message)
        except OpensmscError:
            header = None
        concat = None if header is None else header.concat
        if concat is not None:
            found = (concat.reference, concat.total, concat.sequence)
    elif pdu.tlvs:
        tlvs = pdu.tlvs
        reference = tlvs.get(Tag.SAR_MSG_REF_NUM)
        total = tlvs.get(Tag.SAR_TOTAL_SEGMENTS)
        seq = tlvs.get(Tag.SAR_SEGMENT_SEQNUM)
        if isinstance(reference, int) and isinstance(total, int) and isinstance(seq, int):
            found = (reference, total, seq)
    if found is None or not 1 <= found[2] <= found[1] <= 255 or found[1] == 1:
        return None
    return found
