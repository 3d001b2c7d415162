"""What the fields of a decoded PDU mean, as rows for `opensmsc decode` (text or JSON).

A `Row` is one line of a protocol analyser's dump: the field name, its value, and what that
value means (`esm_class 0x40: store and forward... UDHI`). short_message and message_payload get
child rows for their UDH, their text decoded per data_coding, and a delivery receipt's fields.
This module reads PDUs; it never builds or sends one, and its meanings are for people: the
codec and the services do not use them.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from opensmsc.errors import OpensmscError
from opensmsc.smpp import (
    CommandId,
    CommandStatus,
    DataCoding,
    EsmClass,
    MessageState,
    Npi,
    RegisteredDelivery,
    SmppError,
    Tag,
    Ton,
    parse_receipt,
    parse_relative,
    parse_time,
)
from opensmsc.sms import (
    Language,
    UdhError,
    UserDataHeader,
    decode_text,
    parse_data_coding,
    parse_udh,
)

JsonValue = int | str | bool | None | list["JsonValue"] | dict[str, "JsonValue"]


@dataclass(frozen=True, slots=True)
class Row:
    """One field: `value` for machines, `shown` for people, `meaning` in words."""

    name: str
    value: JsonValue
    shown: str
    meaning: str = ""
    children: tuple[Row, ...] = ()

    def to_json(self) -> dict[str, JsonValue]:
        out: dict[str, JsonValue] = {"name": self.name, "value": self.value}
        if self.meaning:
            out["meaning"] = self.meaning
        if self.children:
            out["children"] = [child.to_json() for child in self.children]
        return out


def command_name(command_id: int) -> str:
    """`submit_sm`, or `unknown 0x00000099`."""
    try:
        return CommandId(command_id).name.lower()
    except ValueError:
        return f"unknown 0x{command_id:08X}"


def status_name(status: int) -> str:
    """`ESME_RTHROTTLED`, or `0x00000400` for a value the spec does not name."""
    parsed = CommandStatus.parse(status)
    return parsed.name if isinstance(parsed, CommandStatus) else f"0x{status:08X}"


def tag_name(tag: int) -> str:
    try:
        return Tag(tag).name.lower()
    except ValueError:
        return "vendor-specific" if 0x1400 <= tag <= 0x3FFF else "unknown"


def header_rows(length: int, command_id: int, status: int, sequence_number: int) -> list[Row]:
    return [
        Row("command_length", length, str(length)),
        Row("command_id", command_id, f"0x{command_id:08X}", command_name(command_id)),
        Row("command_status", status, f"0x{status:08X}", status_name(status)),
        Row("sequence_number", sequence_number, str(sequence_number)),
    ]


def body_rows(pdu: object) -> list[Row]:
    """Rows for every body field of a PDU, in wire order, then its TLVs."""
    if not dataclasses.is_dataclass(pdu):
        return []
    values = {f.name: getattr(pdu, f.name) for f in dataclasses.fields(pdu)}
    context = _Context(
        esm_class=_int(values.get("esm_class")),
        data_coding=_int(values.get("data_coding")),
    )
    rows: list[Row] = []
    for name, value in values.items():
        if name == "command_status":
            continue  # already in the header
        if name == "tlvs":
            rows.extend(_tlv_rows(value, context))
        elif name == "short_message" and isinstance(value, bytes):
            rows.append(Row("sm_length", len(value), str(len(value)), "derived"))
            rows.append(_message_row(name, value, context))
        else:
            rows.append(_field_row(name, value))
    return rows


@dataclass(frozen=True, slots=True)
class _Context:
    esm_class: int | None
    data_coding: int | None


def _int(value: object) -> int | None:
    return int(value) if isinstance(value, int) else None


# --- plain fields ----------------------------------------------------------------------------


def _enum_name(kind: type[enum.IntEnum], value: int) -> str:
    try:
        return kind(value).name
    except ValueError:
        return "reserved"


_PRIORITY = {
    0: "normal (level 0)",
    1: "high (level 1)",
    2: "urgent (level 2)",
    3: "emergency (level 3)",
}


def _meaning(name: str, value: int) -> str:
    special: dict[str, Callable[[int], str]] = {
        "esm_class": esm_class_meaning,
        "registered_delivery": registered_delivery_meaning,
        "data_coding": data_coding_meaning,
        "interface_version": _version,
        "sc_interface_version": _version,
        "message_state": lambda v: _enum_name(MessageState, v),
        "priority_flag": lambda v: _PRIORITY.get(v, "reserved"),
        "replace_if_present_flag": lambda v: {0: "don't replace", 1: "replace"}.get(v, "reserved"),
        "dest_flag": lambda v: {1: "SME address", 2: "distribution list"}.get(v, "reserved"),
        "error_status_code": status_name,
        "network_type": lambda v: _NETWORK_TYPES.get(v, "reserved"),
    }
    if name in special:
        return special[name](value)
    if name.endswith("_ton"):
        return _enum_name(Ton, value)
    if name.endswith("_npi"):
        return _enum_name(Npi, value)
    return ""


_NETWORK_TYPES = {
    1: "ANSI-136 access denied reason",
    2: "IS-95 access denied reason",
    3: "GSM",
    4: "ANSI-136 cause code",
    5: "IS-95 cause code",
    6: "ANSI-41 error",
    7: "SMPP error",
    8: "message center specific",
}


def _version(value: int) -> str:
    if value <= 0x33:
        return "SMPP 3.3 or earlier"
    return f"SMPP {value >> 4}.{value & 0x0F}"


_TIME_FIELDS = frozenset(
    {"schedule_delivery_time", "validity_period", "final_date", "broadcast_end_time"}
)


def _field_row(name: str, value: object) -> Row:
    if isinstance(value, bool):
        return Row(name, value, str(value).lower())
    if isinstance(value, int):
        shown = f"0x{value:02X}" if name in _HEX_FIELDS else str(value)
        return Row(name, int(value), shown, _meaning(name, int(value)))
    if isinstance(value, str):
        meaning = time_meaning(value) if name in _TIME_FIELDS else ""
        return Row(name, value, _quote(value), meaning)
    if isinstance(value, bytes):
        return Row(name, value.hex(), _hex(value))
    if isinstance(value, tuple):
        children = tuple(_field_row(f"{name}[{i}]", item) for i, item in enumerate(value))
        return Row(name, [c.to_json() for c in children], f"{len(value)} items", "", children)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        children = tuple(
            _field_row(f.name, getattr(value, f.name)) for f in dataclasses.fields(value)
        )
        kind = type(value).__name__
        return Row(name, {c.name: c.value for c in children}, kind, "", children)
    return Row(name, str(value), str(value))


_HEX_FIELDS = frozenset(
    {
        "esm_class",
        "registered_delivery",
        "data_coding",
        "interface_version",
        "sc_interface_version",
        "protocol_id",
        "source_addr_ton",
        "source_addr_npi",
        "dest_addr_ton",
        "dest_addr_npi",
        "addr_ton",
        "addr_npi",
        "esme_addr_ton",
        "esme_addr_npi",
    }
)


def _quote(text: str) -> str:
    """The text in double quotes; quotes, backslashes and unprintable characters escaped."""
    out = []
    for char in text:
        if char in '"\\':
            out.append("\\" + char)
        elif char.isprintable():
            out.append(char)
        else:
            out.append(char.encode("unicode_escape").decode("ascii"))
    return '"' + "".join(out) + '"'


def _hex(data: bytes) -> str:
    """Octets in hex; past 16 octets, one line of 16 per line after an offset."""
    if not data:
        return "(empty)"
    if len(data) <= 16:
        return data.hex(" ")
    return "\n".join(hex_lines(data))


def hex_lines(data: bytes, width: int = 16) -> list[str]:
    """Octets in hex, `width` a line, with the offset in front: `0010: 05 00 03 ...`."""
    return [f"{i:04x}: {data[i : i + width].hex(' ')}" for i in range(0, len(data), width)]


def esm_class_meaning(value: int) -> str:
    """SMPP 3.4 §5.2.12: messaging mode, message type, GSM features."""
    modes = {0: "default mode", 1: "datagram mode", 2: "forward mode", 3: "store and forward mode"}
    types = {
        EsmClass.TYPE_DEFAULT: "normal message",
        EsmClass.DELIVERY_RECEIPT: "SMSC delivery receipt",
        EsmClass.DELIVERY_ACK: "SME delivery acknowledgement",
        EsmClass.MANUAL_ACK: "SME manual/user acknowledgement",
        EsmClass.CONVERSATION_ABORT: "conversation abort",
        EsmClass.INTERMEDIATE_NOTIFICATION: "intermediate delivery notification",
    }
    kind = value & EsmClass.TYPE_MASK
    parts = [modes[value & EsmClass.MODE_MASK], types.get(kind, f"reserved type 0x{kind:02X}")]
    if value & EsmClass.UDHI:
        parts.append("UDHI (short_message starts with a UDH)")
    if value & EsmClass.REPLY_PATH:
        parts.append("reply path")
    return ", ".join(parts)


def registered_delivery_meaning(value: int) -> str:
    """SMPP 3.4 §5.2.17 and 5.0 §4.7.21."""
    receipts = {
        RegisteredDelivery.NO_RECEIPT: "no SMSC receipt",
        RegisteredDelivery.RECEIPT_ON_FINAL: "SMSC receipt on success or failure",
        RegisteredDelivery.RECEIPT_ON_FAILURE: "SMSC receipt on failure",
        RegisteredDelivery.RECEIPT_ON_SUCCESS: "SMSC receipt on success (SMPP 5.0)",
    }
    parts = [receipts[value & RegisteredDelivery.RECEIPT_MASK]]
    if value & RegisteredDelivery.SME_DELIVERY_ACK:
        parts.append("SME delivery ack requested")
    if value & RegisteredDelivery.SME_MANUAL_ACK:
        parts.append("SME manual ack requested")
    if value & RegisteredDelivery.INTERMEDIATE_NOTIFICATION:
        parts.append("intermediate notification requested")
    if value & 0xE0:
        parts.append(f"reserved bits 0x{value & 0xE0:02X}")
    return ", ".join(parts)


_SMPP_CODINGS = {
    0x00: "SMSC default alphabet, GSM 7-bit",
    0x01: "IA5 (CCITT T.50) / ASCII",
    0x02: "octet unspecified, 8-bit binary",
    0x03: "Latin 1 (ISO-8859-1)",
    0x04: "octet unspecified, 8-bit binary",
    0x05: "JIS (X 0208-1990)",
    0x06: "Cyrillic (ISO-8859-5)",
    0x07: "Latin/Hebrew (ISO-8859-8)",
    0x08: "UCS2 (ISO/IEC-10646)",
    0x09: "pictogram encoding",
    0x0A: "ISO-2022-JP (music codes)",
    0x0D: "extended Kanji JIS (X 0212-1990)",
    0x0E: "KS C 5601",
}


def data_coding_meaning(value: int) -> str:
    """SMPP 3.4 §5.2.19 for 0x00-0x0F; what TS 23.038 §4 makes of the other values."""
    if value in _SMPP_CODINGS:
        return _SMPP_CODINGS[value]
    try:
        info = parse_data_coding(value)
    except ValueError:
        return "invalid"
    if getattr(info, "is_reserved", False):
        return "reserved, read as GSM 7-bit"
    parts = [f"TS 23.038: alphabet {info.alphabet.name}"]
    if info.message_class is not None:
        parts.append(f"message class {int(info.message_class)}")
    if info.mwi is not None:
        state = "set" if info.mwi.is_active else "clear"
        parts.append(f"message waiting: {state} {info.mwi.kind.name.lower()}")
    return ", ".join(parts)


def time_meaning(value: str) -> str:
    """An SMPP time (SMPP 3.4 §7.1.1) in words: absolute in UTC, or the relative counts."""
    if not value:
        return "not given"
    if value.endswith("R"):
        try:
            rel = parse_relative(value)
        except ValueError as exc:
            return f"invalid: {exc}"
        counts = ("years", "months", "days", "hours", "minutes", "seconds")
        text = ", ".join(
            f"{count} {unit if count != 1 else unit[:-1]}"
            for unit in counts
            if (count := getattr(rel, unit, 0))
        )
        return f"relative: {text or '0 seconds'}"
    try:
        when = parse_time(value, now=datetime.now(UTC))
    except SmppError as exc:
        return f"invalid: {exc}"
    return f"absolute: {when:%Y-%m-%d %H:%M:%S} UTC" if when else "not given"


# --- message content -------------------------------------------------------------------------


def _message_row(name: str, data: bytes, context: _Context, shown_name: str = "") -> Row:
    return Row(shown_name or name, data.hex(), _hex(data), "", tuple(content_rows(data, context)))


def content_rows(data: bytes, context: _Context) -> Iterable[Row]:
    """The UDH, the text, and a delivery receipt's fields, of short_message or message_payload."""
    esm_class = context.esm_class or 0
    payload = data
    single_shift = locking_shift = 0
    if esm_class & EsmClass.UDHI and data:
        try:
            udh, payload = parse_udh(data)
        except UdhError as exc:
            yield Row("udh", None, "unreadable", str(exc))
            return
        single_shift, locking_shift = udh.single_shift, udh.locking_shift
        yield udh_row(udh)
    if not payload:
        return
    data_coding = context.data_coding or 0
    if data_coding in (DataCoding.OCTET_UNSPECIFIED, DataCoding.OCTET_UNSPECIFIED_2):
        return  # binary: the hex is all there is
    try:
        text = decode_text(data_coding, payload, single_shift, locking_shift)
    except (OpensmscError, ValueError) as exc:  # no codec for it, or a bad payload
        yield Row("text", None, "cannot be decoded", str(exc))
        return
    yield Row("text", text, _quote(text), f"{len(text)} characters")
    if esm_class & EsmClass.TYPE_MASK == EsmClass.DELIVERY_RECEIPT:
        yield from _receipt_rows(text)


def udh_row(udh: UserDataHeader) -> Row:
    """The UDH with one child row per information element."""
    encoded = udh.encode()
    children = tuple(_element_row(element.iei, element.data) for element in udh.elements)
    return Row("udh", encoded.hex(), _hex(encoded), udh_summary(udh), children)


def udh_summary(udh: UserDataHeader) -> str:
    """`concat ref=42 part 1/3, ports 2948→9200`, in words."""
    parts: list[str] = []
    if udh.concat is not None:
        c = udh.concat
        parts.append(f"concat {c.reference_bits}-bit ref={c.reference} part {c.sequence}/{c.total}")
    if udh.ports is not None:
        parts.append(f"ports {udh.ports.originator}→{udh.ports.destination}")
    if udh.single_shift:
        parts.append(f"single shift {_language(udh.single_shift)}")
    if udh.locking_shift:
        parts.append(f"locking shift {_language(udh.locking_shift)}")
    return ", ".join(parts)


def _language(language: int) -> str:
    try:
        return Language(language).name.lower()
    except ValueError:
        return f"language {language}"


_IEI_NAMES = {
    0x00: "concatenated SM, 8-bit reference",
    0x01: "special SMS message indication",
    0x04: "application port, 8-bit",
    0x05: "application port, 16-bit",
    0x08: "concatenated SM, 16-bit reference",
    0x24: "national language single shift",
    0x25: "national language locking shift",
}


def _element_row(iei: int, data: bytes) -> Row:
    name = _IEI_NAMES.get(iei, "reserved" if iei < 0x70 else "SIM toolkit / SME to SME / other")
    shown = f"iei 0x{iei:02X} {_hex(data)}"
    return Row(f"ie 0x{iei:02X}", {"iei": iei, "data": data.hex()}, shown, name)


def _receipt_rows(text: str) -> Iterable[Row]:
    receipt = parse_receipt(text)
    if receipt is None:
        return
    children = []
    for f in dataclasses.fields(receipt):
        value = getattr(receipt, f.name)
        if isinstance(value, datetime):
            children.append(Row(f.name, value.isoformat(), f"{value:%Y-%m-%d %H:%M:%S}"))
        elif value is None:
            children.append(Row(f.name, None, "(missing)"))
        else:
            children.append(_field_row(f.name, value))
    state = receipt.state
    meaning = f"delivery receipt, message_state {state.name}" if state else "delivery receipt"
    yield Row("receipt", {c.name: c.value for c in children}, "", meaning, tuple(children))


# --- TLVs ------------------------------------------------------------------------------------


def _tlv_rows(tlvs: object, context: _Context) -> list[Row]:
    if not isinstance(tlvs, tuple) or not tlvs:
        return []
    children: list[Row] = []
    for tag, value in tlvs:
        children.append(_tlv_row(int(tag), value, context))
    return [
        Row(
            "tlvs",
            [child.to_json() for child in children],
            f"{len(children)} TLVs",
            "",
            tuple(children),
        )
    ]


def _tlv_row(tag: int, value: object, context: _Context) -> Row:
    name = tag_name(tag)
    if tag == Tag.MESSAGE_PAYLOAD and isinstance(value, bytes):
        row = _message_row("message_payload", value, context, name)
    elif tag == Tag.MESSAGE_STATE and isinstance(value, int):
        row = Row(name, value, str(value), _enum_name(MessageState, value))
    elif isinstance(value, bytes):
        row = Row(name, value.hex(), _hex(value))
    else:
        row = _field_row(name, value)
        if isinstance(value, int):
            row = dataclasses.replace(row, meaning=_tlv_meaning(tag, value))
    shown = f"[0x{tag:04X}] {row.shown}".replace("\n", "\n" + " " * 9)
    return dataclasses.replace(row, value={"tag": tag, "value": row.value}, shown=shown)


def _tlv_meaning(tag: int, value: int) -> str:
    meanings: dict[int, Callable[[int], str]] = {
        Tag.SOURCE_ADDR_SUBUNIT: _subunit,
        Tag.DEST_ADDR_SUBUNIT: _subunit,
        Tag.SC_INTERFACE_VERSION: _version,
        Tag.PAYLOAD_TYPE: lambda v: {0: "default (WDP)", 1: "WCMP"}.get(v, "reserved"),
        Tag.MS_AVAILABILITY_STATUS: lambda v: {0: "available", 1: "denied", 2: "unavailable"}.get(
            v, "reserved"
        ),
        Tag.DELIVERY_FAILURE_REASON: lambda v: {
            0: "destination unavailable",
            1: "destination address invalid",
            2: "permanent network error",
            3: "temporary network error",
        }.get(v, "reserved"),
    }
    function = meanings.get(tag)
    return function(value) if function else ""


def _subunit(value: int) -> str:
    names = {0: "unknown", 1: "MS display", 2: "mobile equipment", 3: "smart card 1", 4: "external"}
    return names.get(value, "reserved")
