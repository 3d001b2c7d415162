"""Plain-fields submissions: a message from a front door that does not speak SMPP (the HTTP API
today, IMPS later) becomes the stored records an ESME's submit_sm would have made.

What this is for: `Submission` holds what such a client gives (addresses, text or binary
content, alphabet or "cheapest", flash, application port, schedule, validity, priority,
receipt request, its reference and callback URL, or a user data header of its own).
`prepare` encodes and splits the content as
an ESME would (sms.split: the cheapest alphabet, UDH concatenation with an 8-bit reference, a
port IE in every part), applies the account's validity rules exactly as a submit_sm's are
applied (engine/accept.py) and builds one `StoredMessage.create` record per part; the parts of
a long message share a group so that their ids are `ids.part_id(group, seq)` like SMPP's.
`Acceptor.store` then commits them.

What it is not: parsing a request (the front door validates its own syntax: JSON types, number
formats) or storing (engine/accept.py).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Final

from opensmsc.engine.ids import MessageIds, part_id
from opensmsc.errors import MessageRejected, OpensmscError
from opensmsc.routing import AccountPolicy
from opensmsc.smpp import CommandStatus, EsmClass
from opensmsc.sms import (
    Alphabet,
    Encoding,
    MessageClass,
    MessageTooLong,
    Part,
    PortAddress,
    Segmented,
    UnsupportedDataCoding,
    alphabet_of,
    choose_alphabet,
    encode_text,
    split,
)
from opensmsc.store import Address, ConcatInfo, Direction, StoredMessage

__all__ = ["InvalidSubmission", "Prepared", "ReceiptRequest", "Submission", "prepare"]

_S = CommandStatus
_MAX_PARTS: Final = 255  # the concat IE's total is one octet (TS 23.040 §9.2.3.24.1)
_UD_OCTETS: Final = 140  # user data of one SMS (TS 23.040 §9.2.3.16)


class ReceiptRequest(enum.Enum):
    """Which delivery receipts a client asks for, as SMPP's registered_delivery bits
    (SMPP 3.4 §5.2.17; `all` adds the intermediate notification bit 0x10)."""

    NONE = "none"
    FINAL = "final"  # success or failure
    FAILURE = "failure"  # failure only
    ALL = "all"  # final, and intermediate notifications

    @property
    def registered_delivery(self) -> int:
        return {"none": 0x00, "final": 0x01, "failure": 0x02, "all": 0x11}[self.value]


class InvalidSubmission(MessageRejected):
    """A submission refused on its merits: `field` names the client's field at fault, `status`
    is the command_status SMPP would have answered."""

    def __init__(self, status: int, field_name: str, reason: str) -> None:
        self.field = field_name
        super().__init__(status, reason)


@dataclass(frozen=True, slots=True, kw_only=True)
class Submission:
    """One message in plain fields. Exactly one of `text` and `binary`. `alphabet` None: the
    cheapest for a text, binary for `binary`. `port` adds application port addressing (16-bit,
    IEI 0x05, the same port as originator). `scheduled_at` None: at once; `validity` None: the
    account's default. `udh` (octets, its length octet first) is sent as given before the
    content, in one SMS: the client builds its own header (ports, concatenation, anything),
    so nothing is added to it and the content must fit beside it."""

    source: Address
    destination: Address
    text: str | None = None
    binary: bytes | None = field(default=None, repr=False)
    alphabet: Alphabet | None = None
    flash: bool = False
    message_class: int | None = None  # TS 23.038 class 0..3 (overrides `flash`, class 0)
    udh: bytes | None = field(default=None, repr=False)  # the client's own UDH, see below
    # The data_coding octet to send with, for a client that names it; None: the one of the
    # alphabet chosen. With `text` it must name the alphabet the text is encoded in (e.g. a
    # message waiting indication group, TS 23.038 §4). With `binary` (octets the client encoded
    # itself, e.g. UCS2 octets: 0x08) the octets are split as its alphabet is, or as binary
    # when it names none we read, and sent with it as given.
    data_coding: int | None = None
    port: int | None = None
    scheduled_at: datetime | None = None
    validity: timedelta | None = None
    priority: int = 0
    receipt: ReceiptRequest = ReceiptRequest.NONE
    # SMPP's registered_delivery bits, for a client that asks in those terms (a combination
    # `receipt` does not name, e.g. success only with intermediate notifications): overrides
    # `receipt`.
    registered_delivery: int | None = None
    client_reference: str | None = None
    callback_url: str | None = None
    callback_style: str | None = None  # StoredMessage.callback_style


@dataclass(frozen=True, slots=True)
class Prepared:
    """The records of one submission, in part order, and the encoding chosen."""

    records: tuple[StoredMessage, ...]
    encoding: Encoding

    @property
    def message_ids(self) -> list[str]:
        return [record.message_id for record in self.records]


def prepare(
    submission: Submission,
    *,
    system_id: str,
    policy: AccountPolicy,
    ids: MessageIds,
    now: datetime,
    lease: timedelta | None = None,
    trace_id: str | None = None,
) -> Prepared:
    """The stored records of `submission` for account `system_id`, submitted at `now`. With
    `lease`, a message due at once is stored already leased until `now + lease` (see
    Acceptor.store). Every part carries `trace_id`. Raises InvalidSubmission naming the
    field at fault."""
    if not submission.destination.addr:
        raise InvalidSubmission(_S.ESME_RINVDSTADR, "to", "the destination is empty")
    if not 0 <= submission.priority <= 3:
        raise InvalidSubmission(_S.ESME_RINVPRTFLG, "priority", "expected 0 to 3")
    due_at, expires_at = _times(submission, now, policy)
    registered_delivery = submission.registered_delivery
    if registered_delivery is None:
        registered_delivery = submission.receipt.registered_delivery
    elif not 0 <= registered_delivery <= 0xFF:
        raise InvalidSubmission(_S.ESME_RINVREGDLVFLG, "receipt", "expected an octet")
    segmented = _segment(submission, reference=0)
    data_coding = _data_coding(submission, segmented.encoding)
    lease_until = now + lease if lease is not None and due_at <= now else None
    group_id = None
    reference = 0
    if len(segmented.parts) == 1:
        message_ids = [ids.next()]
    else:
        group_id = ids.next_group()
        # The concat reference from the group's own bits (groups are 256 ids apart), so long
        # messages to one handset in a row do not share a reference (TS 23.040 §9.2.3.24.1).
        reference = (int(group_id, 16) >> 8) & 0xFF
        segmented = _segment(submission, reference=reference)
        message_ids = [part_id(group_id, seq) for seq in range(1, len(segmented.parts) + 1)]
    parts = segmented.parts
    records = []
    for seq, (message_id, part) in enumerate(zip(message_ids, parts, strict=True), start=1):
        concat = None
        if group_id is not None:
            concat = ConcatInfo(group_id=group_id, reference=reference, total=len(parts), seq=seq)
        records.append(
            StoredMessage.create(
                message_id=message_id,
                system_id=system_id,
                direction=Direction.MT,
                source=submission.source,
                destination=submission.destination,
                submitted_at=now,
                due_at=due_at,
                expires_at=expires_at,
                data_coding=data_coding,
                payload=part.short_message,
                esm_class=EsmClass.UDHI if part.has_udh or submission.udh else 0,
                priority_flag=submission.priority,
                registered_delivery=registered_delivery,
                concat=concat,
                next_attempt_at=lease_until,
                client_reference=submission.client_reference,
                callback_url=submission.callback_url,
                callback_style=submission.callback_style,
                trace_id=trace_id,
            )
        )
    return Prepared(tuple(records), segmented.encoding)


def _data_coding(submission: Submission, encoding: Encoding) -> int:
    if submission.data_coding is None:
        return encoding.data_coding
    if submission.binary is not None:
        return submission.data_coding  # the octets were split as its alphabet (or as binary)
    try:
        named = alphabet_of(submission.data_coding)
    except UnsupportedDataCoding:
        named = None
    if named is not encoding.alphabet:
        raise InvalidSubmission(
            _S.ESME_RINVDCS,
            "data_coding",
            f"0x{submission.data_coding:02X} does not name {encoding.alphabet.name}, "
            "the alphabet of the content",
        )
    return submission.data_coding


def _times(
    submission: Submission, now: datetime, policy: AccountPolicy
) -> tuple[datetime, datetime]:
    # The rules of a submit_sm's schedule_delivery_time and validity_period (accept._times):
    # a schedule in the past is now; the account's maximum counts from submission.
    due_at = now if submission.scheduled_at is None else max(submission.scheduled_at, now)
    if submission.validity is None:
        expires_at = due_at + policy.default_validity
    else:
        if submission.validity <= timedelta(0):
            raise InvalidSubmission(_S.ESME_RINVEXPIRY, "validity", "expected a positive time")
        expires_at = now + submission.validity
    expires_at = min(expires_at, now + policy.max_validity)
    if expires_at <= due_at:
        raise InvalidSubmission(
            _S.ESME_RINVEXPIRY,
            "validity" if submission.validity is not None else "scheduled_at",
            "the message would expire before it is due "
            f"(the account keeps a message at most {policy.max_validity.total_seconds():.0f} s)",
        )
    return due_at, expires_at


def _segment(submission: Submission, *, reference: int) -> Segmented:
    return _segment_content(
        submission.text,
        submission.binary,
        alphabet=submission.alphabet,
        port=submission.port,
        flash=submission.flash,
        message_class=submission.message_class,
        udh=submission.udh,
        data_coding=submission.data_coding,
        reference=reference,
    )


# One text to many numbers (a batch, a campaign) is split once: the parts depend on the
# content alone, so every field that shapes them is in the key. Segmented values are
# immutable, so sharing them is safe; a refusal (an exception) is not cached.
@lru_cache(maxsize=512)
def _segment_content(
    text: str | None,
    binary: bytes | None,
    *,
    alphabet: Alphabet | None,
    port: int | None,
    flash: bool,
    message_class: int | None,
    udh: bytes | None,
    data_coding: int | None,
    reference: int,
) -> Segmented:
    ports = None if port is None else PortAddress(port, port)
    klass = MessageClass.CLASS_0 if flash else None
    if message_class is not None:
        if not 0 <= message_class <= 3:
            raise InvalidSubmission(_S.ESME_RINVDCS, "message_class", "expected 0 to 3")
        klass = MessageClass(message_class)
    if udh is not None:
        return _with_udh(text, binary, udh, alphabet=alphabet, klass=klass, data_coding=data_coding)
    try:
        if binary is not None:
            if alphabet not in (None, Alphabet.BINARY):
                raise InvalidSubmission(_S.ESME_RINVDCS, "encoding", "binary content is binary")
            encoding = Encoding(_octets_alphabet(data_coding), message_class=klass)
            return split(
                binary,
                encoding=encoding,
                reference=reference,
                ports=ports,
                max_parts=_MAX_PARTS,
            )
        text = text or ""
        chosen = choose_alphabet(text, force=alphabet)
        encoding = Encoding(chosen.alphabet, chosen.single_shift, chosen.locking_shift, klass)
        encoding.data_coding  # noqa: B018  # raises ValueError: no class coding for it
        return split(
            text, encoding=encoding, reference=reference, ports=ports, max_parts=_MAX_PARTS
        )
    except MessageTooLong as exc:
        where = "binary" if binary is not None else "text"
        raise InvalidSubmission(_S.ESME_RINVMSGLEN, where, str(exc)) from exc
    except ValueError as exc:
        raise InvalidSubmission(
            _S.ESME_RINVDCS,
            "flash" if message_class is None else "message_class",
            f"a message class needs GSM7, UCS2 or binary: {exc}",
        ) from exc
    except OpensmscError as exc:  # EncodingError, UnsupportedDataCoding
        raise InvalidSubmission(_S.ESME_RINVDCS, "encoding", str(exc)) from exc


def _with_udh(
    text: str | None,
    binary: bytes | None,
    udh: bytes,
    *,
    alphabet: Alphabet | None,
    klass: MessageClass | None,
    data_coding: int | None,
) -> Segmented:
    # The client's header is its own: no concat or port IE is added, so one SMS holds it all
    # (TS 23.040 §9.2.3.24: 140 octets of user data, GSM 7-bit septets after the header's
    # fill bits).
    if not udh or udh[0] + 1 != len(udh) or len(udh) > _UD_OCTETS:
        raise InvalidSubmission(
            _S.ESME_RINVPARLEN,
            "udh",
            "a user data header is its length octet and that many octets, at most 140",
        )
    try:
        if binary is not None:
            if alphabet not in (None, Alphabet.BINARY):
                raise InvalidSubmission(_S.ESME_RINVDCS, "encoding", "binary content is binary")
            encoding = Encoding(_octets_alphabet(data_coding), message_class=klass)
            data = binary
        else:
            chosen = choose_alphabet(text or "", force=alphabet)
            encoding = Encoding(chosen.alphabet, message_class=klass)
            data = encode_text(text or "", encoding)
        encoding.data_coding  # noqa: B018  # raises ValueError: no class coding for it
    except ValueError as exc:
        raise InvalidSubmission(
            _S.ESME_RINVDCS, "message_class", f"no message class coding: {exc}"
        ) from exc
    except OpensmscError as exc:  # EncodingError, UnsupportedDataCoding
        raise InvalidSubmission(_S.ESME_RINVDCS, "encoding", str(exc)) from exc
    room = _UD_OCTETS - len(udh)
    if encoding.alphabet is Alphabet.GSM7:
        room = room * 8 // 7
    if len(data) > room:
        raise InvalidSubmission(
            _S.ESME_RINVMSGLEN,
            "binary" if binary is not None else "text",
            f"{len(data)} {'septets' if encoding.alphabet is Alphabet.GSM7 else 'octets'} "
            f"do not fit beside a {len(udh)}-octet user data header (room for {room})",
        )
    return Segmented(encoding, (Part(None, udh + data),))


def _octets_alphabet(data_coding: int | None) -> Alphabet:
    # Octets a client encoded itself are split as their data_coding's alphabet is (160 GSM
    # septets, UCS2 characters kept whole); one we cannot read is split as binary.
    if data_coding is None:
        return Alphabet.BINARY
    try:
        return alphabet_of(data_coding)
    except UnsupportedDataCoding:
        return Alphabet.BINARY
