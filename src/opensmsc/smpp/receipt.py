"""Delivery receipts: the Appendix B text, its TLVs, and the deliver_sm that carries them.

What this module is for: writing the receipt text of SMPP 3.4 Appendix B exactly, reading the
many variants real SMSCs send, and getting (message id, state, error) out of a receipt PDU,
preferring the TLVs of SMPP 3.4 §5.3.2.12/.35/.31 over the text as digest §1.7 advises. What it
is not: it does not decide that a deliver_sm is a receipt (see `is_delivery_receipt`), nor match
receipts to stored messages; `normalize_message_id` gives the key to match on.

The text is "informative, vendor specific" (Appendix B). Our reading, lenient on purpose:

- Keys are case-insensitive (`Text:`, `ID:`), may have spaces before the colon, and `submit
  date` may be written `submit_date`. A key counts where it starts the text or follows
  whitespace, and only its first time: after `text:`, keys not yet seen still count (fields out
  of order, cloudhopper-smpp's test), but a key seen before is part of the text.
- Values other than `text` are one token: the first run of non-blank characters after the
  colon; anything else up to the next key is ignored (so `su:002` is skipped, not fatal).
- `text` runs to the next key that counts or to the end; it may hold colons; it is stripped.
- Dates: 10, 12 or 14 digits (times.parse_receipt_date); an unreadable date reads as None.
- A text is a receipt if it has a non-empty `id` and a `stat` key; anything else is None.
- Bytes are read as Latin-1 (any octet string decodes, and the keys are ASCII); a text that
  starts with a NUL octet is read as UCS-2 (UTF-16-BE), which some SMSCs send with
  data_coding 8.

Our own receipts travel with data_coding 0, which is the GSM 7-bit default alphabet here (as
for every message: sms.alphabet_of(0)); `format_receipt` writes the text in it, so é, ñ and €
survive. The keys, digits and hex ids are the same octets in that alphabet and in ASCII.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from struct import Struct
from typing import Final, Literal

from opensmsc.smpp.constants import DataCoding, EsmClass, MessageState, Tag
from opensmsc.smpp.pdu import DataSm, DeliverSm, SubmitSm
from opensmsc.smpp.times import format_receipt_date, parse_receipt_date
from opensmsc.smpp.tlv import EMPTY_TLVS, NetworkErrorCode
from opensmsc.sms import Alphabet, Encoding, EncodingError, encode_text

__all__ = [
    "RECEIPT_TEXT_LENGTH",
    "STAT_BY_STATE",
    "DeliveryReceipt",
    "ReceiptInfo",
    "build_receipt_pdu",
    "encode_receipt_text",
    "format_receipt",
    "is_delivery_receipt",
    "normalize_message_id",
    "parse_receipt",
    "receipt_from_pdu",
    "receipt_tlvs",
    "stat_for_state",
    "state_from_stat",
]

RECEIPT_TEXT_LENGTH = 20  # Appendix B: "the first 20 characters of the short message"

# Digest §1.7 (SMPP 3.4 Appendix B); the two 5.0 states as Melrose Labs documents them
# (melroselabs.scrollhelp.site/ssg/delivery-receipts-dlrs): SCHEDLD and SKIPPED.
STAT_BY_STATE: dict[MessageState, str] = {
    MessageState.SCHEDULED: "SCHEDLD",
    MessageState.ENROUTE: "ENROUTE",
    MessageState.DELIVERED: "DELIVRD",
    MessageState.EXPIRED: "EXPIRED",
    MessageState.DELETED: "DELETED",
    MessageState.UNDELIVERABLE: "UNDELIV",
    MessageState.ACCEPTED: "ACCEPTD",
    MessageState.UNKNOWN: "UNKNOWN",
    MessageState.REJECTED: "REJECTD",
    MessageState.SKIPPED: "SKIPPED",
}
_STATE_BY_STAT = {stat: state for state, stat in STAT_BY_STATE.items()}

# States after which there was no delivery: these receipts carry network_error_code (§5.3.2.31).
_FAILED_STATES = frozenset(
    {
        MessageState.EXPIRED,
        MessageState.DELETED,
        MessageState.UNDELIVERABLE,
        MessageState.UNKNOWN,
        MessageState.REJECTED,
        MessageState.SKIPPED,
    }
)

_KEY = re.compile(
    r"(?:^|(?<=\s))(id|sub|dlvrd|submit[\s_]*date|done[\s_]*date|stat|err|text)\s*:",
    re.IGNORECASE,
)
_BLANKS = re.compile(r"[\s_]+")


@dataclass(frozen=True, slots=True, kw_only=True)
class DeliveryReceipt:
    """The fields of an Appendix B receipt text.

    `id` is kept exactly as written (decimal, hex, UUID...). `sub` and `dlvrd` are None when
    the text lacks them, dates None when missing or unreadable; `stat` is the 7-letter code as
    written (see `state_from_stat`); `err` the error field as written, "" when missing.
    """

    id: str
    sub: int | None = None
    dlvrd: int | None = None
    submit_date: datetime | None = None
    done_date: datetime | None = None
    stat: str = ""
    err: str = ""
    text: str = ""

    @property
    def state(self) -> MessageState | None:
        """The message_state `stat` stands for, or None for an unknown code."""
        return state_from_stat(self.stat)


@dataclass(frozen=True, slots=True, kw_only=True)
class ReceiptInfo:
    """What a receipt PDU says about the receipted message.

    `message_id` comes from receipted_message_id when present, else from the text's `id`; both
    are as written (see `normalize_message_id` for matching). `state` from message_state when
    present, else from `stat` (a plain int when the TLV holds a value we do not know; None when
    neither says). `err` is the text's err field, `network_error_code` the TLV. `source` says
    where message_id and state came from: "tlvs" both, "text" both, "mixed" otherwise.
    `receipt` is the parsed text, when the text is a receipt.
    """

    message_id: str
    state: MessageState | int | None
    err: str | None
    network_error_code: NetworkErrorCode | None
    source: Literal["tlvs", "text", "mixed"]
    receipt: DeliveryReceipt | None


def stat_for_state(state: MessageState) -> str:
    """The 7-character receipt `stat` for a message_state (digest §1.7)."""
    return STAT_BY_STATE[MessageState(state)]


def state_from_stat(stat: str) -> MessageState | None:
    """The message_state for a receipt `stat`, any case; also accepts the full state names.

    `DELIVRD`, `delivrd` and `DELIVERED` all give DELIVERED; an unknown code gives None.
    """
    code = stat.strip().upper()
    if code in _STATE_BY_STAT:
        return _STATE_BY_STAT[code]
    return MessageState.__members__.get(code)


def is_delivery_receipt(esm_class: int) -> bool:
    """True when a deliver_sm / data_sm esm_class marks an SMSC delivery receipt (0x04) or an
    intermediate delivery notification (0x20), both of which carry the receipt text and TLVs.

    SME acknowledgements (0x08, 0x10) are not receipts: they carry the recipient's reply.
    """
    # SMPP 3.4 §5.2.12: bits 5-2 of esm_class give the message type; UDHI etc. are ignored.
    return (esm_class & EsmClass.TYPE_MASK) in (
        EsmClass.DELIVERY_RECEIPT,
        EsmClass.INTERMEDIATE_NOTIFICATION,
    )


def format_receipt(receipt: DeliveryReceipt, *, seconds: bool = False, tz: tzinfo = UTC) -> bytes:
    """The Appendix B text, exactly:

    `id:IIIIIIIIII sub:SSS dlvrd:DDD submit date:YYMMDDhhmm done date:YYMMDDhhmm stat:DDDDDDD
    err:EEE text:TTTTTTTTTTTTTTTTTTTT` (one line, single spaces).

    sub, dlvrd and a numeric err are zero-padded to 3 digits (None and "" write 000); dates are
    written in `tz` with 10 digits, 12 with `seconds=True`, and a missing date as 0000000000
    (as cloudhopper-smpp does); text is cut to its first 20 characters. The octets are
    `encode_receipt_text`'s: the receipt travels with data_coding 0. Raises ValueError for an
    empty id, blanks in id/stat/err, stat longer than 7, err longer than 3, or sub/dlvrd
    outside 0..999.
    """
    _check_token("id", receipt.id, max_length=None)
    _check_token("stat", receipt.stat, max_length=7)
    if receipt.err:
        _check_token("err", receipt.err, max_length=3)
    err = receipt.err.zfill(3) if receipt.err.isdigit() or not receipt.err else receipt.err
    text = (
        f"id:{receipt.id} sub:{_count('sub', receipt.sub)} dlvrd:{_count('dlvrd', receipt.dlvrd)}"
        f" submit date:{_date(receipt.submit_date, seconds=seconds, tz=tz)}"
        f" done date:{_date(receipt.done_date, seconds=seconds, tz=tz)}"
        f" stat:{receipt.stat} err:{err} text:{receipt.text[:RECEIPT_TEXT_LENGTH]}"
    )
    return encode_receipt_text(text)


_GSM7: Final = Encoding(Alphabet.GSM7)
# A character other than the printable ASCII the GSM 7-bit default alphabet codes as ASCII
# does (all but @ $ _ ` [ \ ] ^ { | } ~): text without one is the same octets in both, and
# encodes at C speed.
_NOT_AS_IN_ASCII: Final = re.compile(r"[^ !\"#%&'()*+,\-./0-9:;<=>?A-Za-z]")


def encode_receipt_text(text: str) -> bytes:
    """A receipt's text as its short_message carries it with data_coding 0: the GSM 7-bit
    default alphabet (TS 23.038 §6.2.1) as unpacked septets, one per octet, the way SMPP
    carries data_coding 0 here; a character that alphabet lacks becomes "?"."""
    if _NOT_AS_IN_ASCII.search(text) is None:
        return text.encode("ascii")
    while True:
        try:
            return encode_text(text, _GSM7)
        except EncodingError as exc:
            at = exc.position
            text = f"{text[:at]}?{text[at + 1 :]}"


def _check_token(name: str, value: str, *, max_length: int | None) -> None:
    if not value or any(c.isspace() for c in value):
        raise ValueError(f"receipt {name} must be non-empty and without blanks, got {value!r}")
    if max_length is not None and len(value) > max_length:
        raise ValueError(f"receipt {name} holds at most {max_length} characters, got {value!r}")


def _count(name: str, value: int | None) -> str:
    if value is None:
        return "000"
    if not 0 <= value <= 999:
        raise ValueError(f"receipt {name} must be 0..999, got {value}")
    return f"{value:03d}"


def _date(value: datetime | None, *, seconds: bool, tz: tzinfo) -> str:
    if value is None:
        return "0" * (12 if seconds else 10)
    return format_receipt_date(value, seconds=seconds, tz=tz)


def parse_receipt(data: bytes | str, *, tz: tzinfo = UTC) -> DeliveryReceipt | None:
    """Read a receipt text leniently (rules in the module doc); None if it is not a receipt.

    Dates are taken as local time in `tz` (the peer's zone; UTC by default) and returned in
    UTC. Never raises for any input.
    """
    text = _decode(data) if isinstance(data, bytes) else data
    text = text.rstrip("\x00")
    values: dict[str, str] = {}
    spans: list[tuple[str, int, int]] = []
    for match in _KEY.finditer(text):
        key = _BLANKS.sub(" ", match.group(1).lower())
        if key not in values:
            values[key] = ""
            spans.append((key, match.start(), match.end()))
    for index, (key, _, end) in enumerate(spans):
        stop = spans[index + 1][1] if index + 1 < len(spans) else len(text)
        values[key] = text[end:stop]
    message_id = _token(values.get("id"))
    if not message_id or "stat" not in values:
        return None
    return DeliveryReceipt(
        id=message_id,
        sub=_int(_token(values.get("sub"))),
        dlvrd=_int(_token(values.get("dlvrd"))),
        submit_date=_parse_date(_token(values.get("submit date")), tz),
        done_date=_parse_date(_token(values.get("done date")), tz),
        stat=_token(values["stat"]),
        err=_token(values.get("err")),
        text=values.get("text", "").strip(),
    )


def _decode(data: bytes) -> str:
    if data[:1] == b"\x00" and len(data) % 2 == 0:
        return data.decode("utf-16-be", errors="replace")
    return data.decode("latin-1")


def _token(value: str | None) -> str:
    parts = value.split(None, 1) if value else []
    return parts[0] if parts else ""


def _int(token: str) -> int | None:
    # The length bound keeps int() clear of its 4300-digit limit on hostile input.
    return int(token) if token.isascii() and token.isdigit() and len(token) <= 10 else None


def _parse_date(token: str, tz: tzinfo) -> datetime | None:
    try:
        return parse_receipt_date(token, tz=tz)
    except ValueError:
        return None


def normalize_message_id(message_id: str, *, hex_ids: bool | None = None) -> str:
    """A canonical form of a message id, to match a receipt against a submit_sm_resp.

    SMSCs write the same id in decimal in one place and in hex in another (python-smpplib's
    test receipt: text `id:0489708364`, receipted_message_id `1d305b4c`; Kannel's msg-id-type
    exists for this), with or without leading zeros. Numeric ids become the decimal digits of
    their value without leading zeros: `hex_ids=True` reads the id as hex, `False` as decimal,
    `None` guesses (all decimal digits: decimal; else all hex digits: hex). Configure the base
    per peer when you can: "12345" is a valid decimal and a valid hex id, and the guess says
    decimal. An id that is not a number in the chosen base (a UUID, say) is returned in lower
    case, trimmed of blanks: ids are compared ignoring case.
    """
    text = message_id.strip()
    if not text.isascii() or not text.isalnum():
        return text.lower()
    if hex_ids is None:
        hex_ids = not text.isdigit()
    try:
        return str(int(text, 16 if hex_ids else 10))
    except ValueError:
        return text.lower()


def receipt_from_pdu(pdu: DeliverSm | DataSm, *, tz: tzinfo = UTC) -> ReceiptInfo | None:
    """The receipted message's id, state and errors, from a receipt deliver_sm or data_sm.

    TLVs first (receipted_message_id 0x001E, message_state 0x0427, network_error_code 0x0423,
    digest §1.7), then the text in short_message (or message_payload, as data_sm carries it),
    decoded as UCS-2 when data_coding is 8 and as Latin-1 otherwise. Returns None when neither
    gives a message id. Does not look at esm_class: check `is_delivery_receipt` first.
    """
    tlvs = pdu.tlvs
    tlv_id = _tlv_text(tlvs.get(Tag.RECEIPTED_MESSAGE_ID))
    raw_state = tlvs.get(Tag.MESSAGE_STATE)
    tlv_state = _message_state(raw_state) if isinstance(raw_state, int) else None
    raw_error = tlvs.get(Tag.NETWORK_ERROR_CODE)
    network_error = raw_error if isinstance(raw_error, NetworkErrorCode) else None

    body = pdu.short_message if isinstance(pdu, DeliverSm) else b""
    if not body:
        payload = tlvs.get(Tag.MESSAGE_PAYLOAD)
        body = payload if isinstance(payload, bytes) else b""
    text = (
        body.decode("utf-16-be", errors="replace")
        if pdu.data_coding == DataCoding.UCS2
        else _decode(body)
    )
    receipt = parse_receipt(text, tz=tz)

    message_id = tlv_id or (receipt.id if receipt else "")
    if not message_id:
        return None
    state: MessageState | int | None = tlv_state
    if state is None and receipt is not None:
        state = receipt.state
    from_tlvs = (bool(tlv_id), tlv_state is not None)
    source: Literal["tlvs", "text", "mixed"] = (
        "tlvs" if all(from_tlvs) else "text" if not any(from_tlvs) else "mixed"
    )
    return ReceiptInfo(
        message_id=message_id,
        state=state,
        err=receipt.err if receipt else None,
        network_error_code=network_error,
        source=source,
        receipt=receipt,
    )


def _tlv_text(value: object) -> str:
    # A lenient decode keeps a C-string without its NUL as raw bytes (contracts.md, tlv.py).
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    return value.rstrip("\x00").strip() if isinstance(value, str) else ""


def _message_state(value: int) -> MessageState | int:
    try:
        return MessageState(value)
    except ValueError:
        return value


def build_receipt_pdu(
    original: SubmitSm | DataSm | DeliverSm,
    receipt: DeliveryReceipt,
    *,
    state: MessageState | None = None,
    network_error_code: NetworkErrorCode | None = None,
    esm_class: int = EsmClass.DELIVERY_RECEIPT,
    tz: tzinfo = UTC,
) -> DeliverSm:
    """The deliver_sm an SMSC sends as a delivery receipt for `original` (SMPP 3.4 §5.2.12,
    Appendix B; digest §1.7).

    Addresses are reversed: the receipt comes from the original destination and goes to the
    original source. `original` only lends its addresses; an engine that no longer holds the
    PDU can pass `SubmitSm(source_addr=..., destination_addr=...)`. short_message is
    `format_receipt(receipt)`. TLVs: receipted_message_id (receipt.id), message_state (`state`,
    default `receipt.state`) and, for a state after which nothing was delivered (EXPIRED,
    DELETED, UNDELIVERABLE, UNKNOWN, REJECTED, SKIPPED), network_error_code when given; it is
    left out otherwise. Pass esm_class 0x20 for an intermediate notification. Raises
    ValueError when the state is neither given nor readable from receipt.stat, and for what
    format_receipt refuses.
    """
    final_state = state if state is not None else receipt.state
    if final_state is None:
        raise ValueError(f"no message_state given and stat {receipt.stat!r} is not a known code")
    tlvs = EMPTY_TLVS.with_(Tag.RECEIPTED_MESSAGE_ID, receipt.id).with_(
        Tag.MESSAGE_STATE, int(final_state)
    )
    if network_error_code is not None and final_state in _FAILED_STATES:
        tlvs = tlvs.with_(Tag.NETWORK_ERROR_CODE, network_error_code)
    return DeliverSm(
        source_addr_ton=original.dest_addr_ton,
        source_addr_npi=original.dest_addr_npi,
        source_addr=original.destination_addr,
        dest_addr_ton=original.source_addr_ton,
        dest_addr_npi=original.source_addr_npi,
        destination_addr=original.source_addr,
        esm_class=esm_class,
        short_message=format_receipt(receipt, tz=tz),
        tlvs=tlvs,
    )


_TLV_HEADER: Final = Struct(">HH")
_TLV_STATE: Final = Struct(">HHB")
_TLV_NEC: Final = Struct(">HHBH")
_TLV_REF: Final = Struct(">HHH")


def receipt_tlvs(
    receipted_message_id: str,
    state: MessageState,
    *,
    network_error_code: NetworkErrorCode | None = None,
    user_message_reference: int | None = None,
) -> bytes:
    """A receipt's TLVs in wire form, for a caller that keeps TLVs as octets (a stored
    receipt): receipted_message_id, message_state and, for a state after which nothing was
    delivered, network_error_code, in the order `build_receipt_pdu` gives them; then
    user_message_reference when given (SMPP 3.4 §5.3.2.17: the ESME's reference comes back).
    Raises ValueError for an id that is not ASCII, and struct.error for a value that does
    not fit its field."""
    raw_id = receipted_message_id.encode("ascii") + b"\0"
    tlvs = _TLV_HEADER.pack(Tag.RECEIPTED_MESSAGE_ID, len(raw_id)) + raw_id
    tlvs += _TLV_STATE.pack(Tag.MESSAGE_STATE, 1, int(state))
    if network_error_code is not None and state in _FAILED_STATES:
        nec = network_error_code
        tlvs += _TLV_NEC.pack(Tag.NETWORK_ERROR_CODE, 3, nec.network_type, nec.error_code)
    if user_message_reference is not None:
        tlvs += _TLV_REF.pack(Tag.USER_MESSAGE_REFERENCE, 2, user_message_reference)
    return tlvs
