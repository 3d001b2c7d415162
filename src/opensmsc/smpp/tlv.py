"""TLVs ("optional parameters", SMPP 3.4 §5.3; SMPP 5.0 §4.8): typed values and their wire form.

What this is for: `Tlvs`, the ordered (tag, value) pairs a PDU carries, and the table that says
how each known tag's value is typed. Known TLVs decode to their spec type (int, str, bytes, or a
small frozen dataclass for the composite ones); unknown and vendor tags (0x1400-0x3FFF) stay raw
`bytes` and are re-encoded unchanged, so a relay never loses them. What it is not: policy. Which
TLV a PDU may carry, and which are mandatory, is the business of the services.

A `bytes` value is always written as is, whatever the tag: this is how a lenient decode keeps a
known TLV whose length did not fit its type, and re-encodes it byte for byte.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import overload

from opensmsc.smpp.constants import CommandStatus, Tag
from opensmsc.smpp.errors import LocalProtocolError
from opensmsc.smpp.fields import TLV_HEADER, FieldError, StructError

_RINVPARLEN = CommandStatus.ESME_RINVPARLEN
_RINVTLVVAL = CommandStatus.ESME_RINVOPTPARAMVAL
_RINVTLVSTREAM = CommandStatus.ESME_RINVOPTPARSTREAM


@dataclass(frozen=True, slots=True)
class NetworkErrorCode:
    """network_error_code (0x0423, SMPP 3.4 §5.3.2.31): network_type (3 = GSM), error_code."""

    network_type: int
    error_code: int

    def to_bytes(self) -> bytes:
        return bytes((self.network_type,)) + self.error_code.to_bytes(2, "big")


@dataclass(frozen=True, slots=True)
class BroadcastContentType:
    """broadcast_content_type (0x0601, SMPP 5.0 §4.8.4.8): network_type, content_type."""

    network_type: int
    content_type: int

    def to_bytes(self) -> bytes:
        return bytes((self.network_type,)) + self.content_type.to_bytes(2, "big")


@dataclass(frozen=True, slots=True)
class BroadcastFrequencyInterval:
    """broadcast_frequency_interval (0x0605, SMPP 5.0 §4.8.4.10): time_unit, number."""

    time_unit: int
    number: int

    def to_bytes(self) -> bytes:
        return bytes((self.time_unit,)) + self.number.to_bytes(2, "big")


@dataclass(frozen=True, slots=True)
class BroadcastAreaIdentifier:
    """broadcast_area_identifier (0x0606, SMPP 5.0 §4.8.4.4): format, then the area details."""

    format: int
    details: bytes = b""

    def to_bytes(self) -> bytes:
        return bytes((self.format,)) + self.details


TlvValue = (
    int
    | str
    | bytes
    | NetworkErrorCode
    | BroadcastContentType
    | BroadcastFrequencyInterval
    | BroadcastAreaIdentifier
)
_Composite = (
    NetworkErrorCode | BroadcastContentType | BroadcastFrequencyInterval | BroadcastAreaIdentifier
)

# Kinds of TLV value; a table entry is (kind, a, b).
INT = 0  # a = size in octets
CSTR = 1  # a = max length including the NUL
OCTETS = 2  # a = min length, b = max length
NEC = 3  # NetworkErrorCode, 3 octets
BCT = 4  # BroadcastContentType, 3 octets
BFI = 5  # BroadcastFrequencyInterval, 3 octets
BAI = 6  # BroadcastAreaIdentifier, 1..101 octets

_ANY = 0xFFFF
TLV_TYPES: dict[int, tuple[int, int, int]] = {
    # SMPP 3.4 §5.3.2 (and 5.0 §4.8.4 for the same tags).
    Tag.DEST_ADDR_SUBUNIT: (INT, 1, 0),
    Tag.DEST_NETWORK_TYPE: (INT, 1, 0),
    Tag.DEST_BEARER_TYPE: (INT, 1, 0),
    Tag.DEST_TELEMATICS_ID: (INT, 2, 0),
    Tag.SOURCE_ADDR_SUBUNIT: (INT, 1, 0),
    Tag.SOURCE_NETWORK_TYPE: (INT, 1, 0),
    Tag.SOURCE_BEARER_TYPE: (INT, 1, 0),
    # 5.0 §4.8.4.57: telematics_id is 2 octets (protocol id, reserved); KAN's 1 is kept raw
    # in lenient mode.
    Tag.SOURCE_TELEMATICS_ID: (INT, 2, 0),
    Tag.QOS_TIME_TO_LIVE: (INT, 4, 0),
    Tag.PAYLOAD_TYPE: (INT, 1, 0),
    Tag.ADDITIONAL_STATUS_INFO_TEXT: (CSTR, 256, 0),
    Tag.RECEIPTED_MESSAGE_ID: (CSTR, 65, 0),
    Tag.MS_MSG_WAIT_FACILITIES: (INT, 1, 0),
    Tag.PRIVACY_INDICATOR: (INT, 1, 0),
    Tag.SOURCE_SUBADDRESS: (OCTETS, 2, 23),
    Tag.DEST_SUBADDRESS: (OCTETS, 2, 23),
    Tag.USER_MESSAGE_REFERENCE: (INT, 2, 0),
    Tag.USER_RESPONSE_CODE: (INT, 1, 0),
    Tag.SOURCE_PORT: (INT, 2, 0),
    Tag.DESTINATION_PORT: (INT, 2, 0),
    Tag.SAR_MSG_REF_NUM: (INT, 2, 0),
    Tag.LANGUAGE_INDICATOR: (INT, 1, 0),
    Tag.SAR_TOTAL_SEGMENTS: (INT, 1, 0),
    Tag.SAR_SEGMENT_SEQNUM: (INT, 1, 0),
    Tag.SC_INTERFACE_VERSION: (INT, 1, 0),
    Tag.CALLBACK_NUM_PRES_IND: (INT, 1, 0),
    Tag.CALLBACK_NUM_ATAG: (OCTETS, 0, 65),
    Tag.NUMBER_OF_MESSAGES: (INT, 1, 0),
    Tag.CALLBACK_NUM: (OCTETS, 4, 19),
    Tag.DPF_RESULT: (INT, 1, 0),
    Tag.SET_DPF: (INT, 1, 0),
    Tag.MS_AVAILABILITY_STATUS: (INT, 1, 0),
    Tag.NETWORK_ERROR_CODE: (NEC, 3, 0),
    Tag.MESSAGE_PAYLOAD: (OCTETS, 0, _ANY),
    Tag.DELIVERY_FAILURE_REASON: (INT, 1, 0),
    Tag.MORE_MESSAGES_TO_SEND: (INT, 1, 0),
    Tag.MESSAGE_STATE: (INT, 1, 0),
    Tag.USSD_SERVICE_OP: (INT, 1, 0),
    Tag.DISPLAY_TIME: (INT, 1, 0),
    Tag.SMS_SIGNAL: (INT, 2, 0),
    # 5.0 §4.8.4.40 lets ms_validity grow to 4 octets (behaviour, unit, number): raw octets.
    Tag.MS_VALIDITY: (OCTETS, 1, 4),
    # 3.4: zero length, presence is the flag; 5.0 §4.8.4.2 allows one octet. Raw octets.
    Tag.ALERT_ON_MESSAGE_DELIVERY: (OCTETS, 0, 1),
    Tag.ITS_REPLY_TYPE: (INT, 1, 0),
    Tag.ITS_SESSION_INFO: (OCTETS, 2, 2),
    # SMPP 5.0 §4.8.4 additions.
    Tag.CONGESTION_STATE: (INT, 1, 0),
    Tag.BROADCAST_CHANNEL_INDICATOR: (INT, 1, 0),
    Tag.BROADCAST_CONTENT_TYPE: (BCT, 3, 0),
    Tag.BROADCAST_CONTENT_TYPE_INFO: (OCTETS, 0, 255),
    Tag.BROADCAST_MESSAGE_CLASS: (INT, 1, 0),
    Tag.BROADCAST_REP_NUM: (INT, 2, 0),
    Tag.BROADCAST_FREQUENCY_INTERVAL: (BFI, 3, 0),
    Tag.BROADCAST_AREA_IDENTIFIER: (BAI, 1, 101),
    Tag.BROADCAST_ERROR_STATUS: (INT, 4, 0),
    Tag.BROADCAST_AREA_SUCCESS: (INT, 1, 0),
    Tag.BROADCAST_END_TIME: (CSTR, 17, 0),
    Tag.BROADCAST_SERVICE_GROUP: (OCTETS, 0, 255),
    Tag.BILLING_IDENTIFICATION: (OCTETS, 0, 1024),
    Tag.SOURCE_NETWORK_ID: (CSTR, 65, 0),
    Tag.DEST_NETWORK_ID: (CSTR, 65, 0),
    Tag.SOURCE_NODE_ID: (OCTETS, 6, 6),
    Tag.DEST_NODE_ID: (OCTETS, 6, 6),
    Tag.DEST_ADDR_NP_RESOLUTION: (INT, 1, 0),
    Tag.DEST_ADDR_NP_INFORMATION: (OCTETS, 10, 10),
    Tag.DEST_ADDR_NP_COUNTRY: (INT, 5, 0),
}
# Plain-int keys: dict lookups with an int hash the same, but this keeps the table honest.
TLV_TYPES = {int(tag): kind for tag, kind in TLV_TYPES.items()}


class Tlvs(tuple[tuple[int, TlvValue], ...]):
    """Ordered (tag, value) pairs; duplicates allowed (broadcast_area_identifier repeats).

    Compares by content like any tuple: `Tlvs(((0x1E, "abc"),)) == Tlvs(((0x1E, "abc"),))`.
    """

    __slots__ = ()

    @overload
    def get(self, tag: int) -> TlvValue | None: ...
    @overload
    def get(self, tag: int, default: TlvValue) -> TlvValue: ...
    def get(self, tag: int, default: TlvValue | None = None) -> TlvValue | None:
        """The first value with `tag`, else `default`."""
        for t, value in self:
            if t == tag:
                return value
        return default

    def get_all(self, tag: int) -> list[TlvValue]:
        """Every value with `tag`, in wire order."""
        return [value for t, value in self if t == tag]

    def with_(self, tag: int, value: TlvValue) -> Tlvs:
        """A copy where `tag` has the single value `value`, at its first place (else appended)."""
        out: list[tuple[int, TlvValue]] = []
        placed = False
        for t, v in self:
            if t == tag:
                if not placed:
                    out.append((tag, value))
                    placed = True
            else:
                out.append((t, v))
        if not placed:
            out.append((tag, value))
        return Tlvs(out)

    def without(self, tag: int) -> Tlvs:
        """A copy with every `tag` removed."""
        return Tlvs((t, v) for t, v in self if t != tag)

    def has(self, tag: int) -> bool:
        """True when `tag` is present; the same as `tag in tlvs`, which mypy's strict-equality
        check flags (it sees the tuple's item type, a pair, not an int)."""
        return any(t == tag for t, _ in self)

    def __contains__(self, tag: object) -> bool:
        return any(t == tag for t, _ in self)

    def __repr__(self) -> str:
        return f"Tlvs({tuple(self)!r})"


EMPTY_TLVS = Tlvs()


def _bad(status: int, tag: int, message: str) -> FieldError:
    return FieldError(status, f"TLV 0x{tag:04X}: {message}")


def _typed(tag: int, raw: bytes, kind: tuple[int, int, int], strict: bool) -> TlvValue:
    """The typed value of a known TLV, or `raw` (lenient) when it does not fit its type."""
    code, a, b = kind
    n = len(raw)
    if code == INT:
        if n == a:
            return int.from_bytes(raw, "big")
        if strict:
            raise _bad(_RINVPARLEN, tag, f"length {n}, expected {a}")
        return raw
    if code == CSTR:
        if 0 < n <= a and raw.find(b"\0") == n - 1:
            return raw[:-1].decode("latin-1")
        if strict:
            status = _RINVPARLEN if n == 0 or n > a else _RINVTLVVAL
            raise _bad(status, tag, f"not a C-Octet String of at most {a} octets")
        return raw
    if code == OCTETS:
        if strict and not a <= n <= b:
            raise _bad(_RINVPARLEN, tag, f"length {n}, expected {a}..{b}")
        return raw
    if code == BAI:
        if 1 <= n <= b:
            return BroadcastAreaIdentifier(raw[0], raw[1:])
        if strict:
            raise _bad(_RINVPARLEN, tag, f"length {n}, expected 1..{b}")
        return raw
    if n == 3:
        second = (raw[1] << 8) | raw[2]
        if code == NEC:
            return NetworkErrorCode(raw[0], second)
        if code == BCT:
            return BroadcastContentType(raw[0], second)
        return BroadcastFrequencyInterval(raw[0], second)
    if strict:
        raise _bad(_RINVPARLEN, tag, f"length {n}, expected 3")
    return raw


def decode_tlvs(buf: bytes, pos: int, end: int, strict: bool) -> Tlvs:
    """The TLVs in buf[pos:end].

    Strict: a stream that does not end exactly at `end` is ESME_RINVOPTPARSTREAM (§5.3.1), a
    known TLV whose length does not fit its type is ESME_RINVPARLEN, a malformed value
    ESME_RINVOPTPARAMVAL. Lenient: a trailing fragment is dropped, and an ill-fitting value is
    kept as raw bytes. Raises FieldError only.
    """
    items: list[tuple[int, TlvValue]] = []
    append = items.append
    types_get = TLV_TYPES.get
    while pos < end:
        if pos + 4 > end:
            if strict:
                raise FieldError(_RINVTLVSTREAM, f"{end - pos} trailing octets, not a TLV")
            break
        tag = (buf[pos] << 8) | buf[pos + 1]
        nxt = pos + 4 + ((buf[pos + 2] << 8) | buf[pos + 3])
        if nxt > end:
            if strict:
                raise _bad(_RINVTLVSTREAM, tag, "its length runs past the end of the PDU")
            break
        kind = types_get(tag)
        if kind is None:
            append((tag, buf[pos + 4 : nxt]))
        elif kind[0] == INT and nxt - pos == 4 + kind[1]:
            # The common cases, inlined: an integer of the right length, ...
            append((tag, int.from_bytes(buf[pos + 4 : nxt], "big")))
        elif kind[0] == CSTR and 4 < nxt - pos <= 4 + kind[1] and buf.find(0, pos + 4) == nxt - 1:
            # ... and a C-string whose only NUL is its last octet (receipted_message_id).
            append((tag, buf[pos + 4 : nxt - 1].decode("latin-1")))
        else:
            append((tag, _typed(tag, buf[pos + 4 : nxt], kind, strict)))
        pos = nxt
    return Tlvs(items)


def _encode_value(tag: int, value: TlvValue) -> bytes:
    if type(value) is bytes:
        return value
    kind = TLV_TYPES.get(tag)
    if isinstance(value, str):
        if kind is not None and kind[0] == CSTR:
            return value.encode("latin-1") + b"\0"
        raise LocalProtocolError(
            CommandStatus.ESME_RINVOPTPARAMVAL, f"TLV 0x{tag:04X}: a str value for a non-string tag"
        )
    if isinstance(value, int):
        if kind is not None and kind[0] == INT:
            return value.to_bytes(kind[1], "big")
        raise LocalProtocolError(
            CommandStatus.ESME_RINVOPTPARAMVAL, f"TLV 0x{tag:04X}: an int value for a non-int tag"
        )
    if isinstance(value, bytes):  # a bytes subclass
        return bytes(value)
    composite: _Composite = value
    return composite.to_bytes()


def encode_tlvs(tlvs: Tlvs) -> bytes:
    """The wire form of `tlvs`, in order. Raises LocalProtocolError for a value that cannot be
    written (wrong type for its tag, out of range, over 65535 octets)."""
    parts: list[bytes] = []
    pack = TLV_HEADER.pack
    try:
        for tag, value in tlvs:
            raw = _encode_value(tag, value)
            parts.append(pack(tag, len(raw)))
            parts.append(raw)
    except (OverflowError, ValueError, TypeError, StructError) as exc:
        # A negative or too-large int, a non-latin-1 str, a tag or length over 0xFFFF.
        raise LocalProtocolError(CommandStatus.ESME_RINVOPTPARAMVAL, f"TLV: {exc}") from exc
    return b"".join(parts)


__all__ = [
    "EMPTY_TLVS",
    "TLV_TYPES",
    "BroadcastAreaIdentifier",
    "BroadcastContentType",
    "BroadcastFrequencyInterval",
    "NetworkErrorCode",
    "TlvValue",
    "Tlvs",
    "decode_tlvs",
    "encode_tlvs",
]
