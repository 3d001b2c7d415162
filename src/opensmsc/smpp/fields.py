"""SMPP field types: Integer, C-Octet String, Octet String (SMPP 3.4 §3.1), and the struct code.

What this is for: the description of each mandatory field (its wire type, its maximum length,
and the command_status a bad value earns), the precompiled `struct.Struct` objects every other
module uses, and the slow, careful readers the codec falls back on when a frame is not
perfectly formed. What it is not: the hot path. `codec.py` generates straight-line code per PDU
class from these descriptions at import time.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from opensmsc.smpp.constants import CommandStatus

HEADER = struct.Struct(">IIII")
"""command_length, command_id, command_status, sequence_number (SMPP 3.4 §3.2)."""
HEADER_SIZE = 16
U16 = struct.Struct(">H")
U32 = struct.Struct(">I")
TLV_HEADER = struct.Struct(">HH")
U8_U16 = struct.Struct(">BH")
StructError = struct.error


class FieldError(Exception):
    """Internal: a field did not parse. The codec turns it into a PduError with the header."""

    def __init__(self, status: int, message: str) -> None:
        self.status = status
        self.message = message
        super().__init__(message)


@dataclass(frozen=True, slots=True)
class CString:
    """C-Octet String; `max_length` counts the NUL, as the spec tables do (§3.1)."""

    max_length: int
    status: int = CommandStatus.ESME_RINVCMDLEN  # the answer when the value is malformed


@dataclass(frozen=True, slots=True)
class Integer:
    """Unsigned big-endian integer of `size` octets (§3.1)."""

    size: int = 1


@dataclass(frozen=True, slots=True)
class ShortMessage:
    """sm_length (Integer 1) followed by short_message (Octet String of sm_length)."""


@dataclass(frozen=True, slots=True)
class DestAddresses:
    """submit_multi: number_of_dests (Integer 1), then that many dest_address (§4.5.1.1)."""


@dataclass(frozen=True, slots=True)
class UnsuccessSmes:
    """submit_multi_resp: no_unsuccess (Integer 1), then that many unsuccess_sme (§4.5.2)."""


@dataclass(frozen=True, slots=True)
class TlvList:
    """The TLVs after the mandatory fields (§3.2.4, §5.3)."""


FieldType = CString | Integer | ShortMessage | DestAddresses | UnsuccessSmes | TlvList

METADATA_KEY = "smpp"
"""dataclasses.field(metadata=...) key under which a PDU field stores its FieldType."""


def read_cstring(
    buf: bytes, pos: int, end: int, spec: CString, name: str, *, strict: bool
) -> tuple[str, int, bool]:
    """Read one C-Octet String at `pos`; return (value, next position, hit_end).

    Strict: a value longer than `max_length - 1` octets, or without its NUL before `end`, is a
    FieldError with the field's own status. Lenient: any length is accepted, and a value whose
    NUL is missing takes the rest of the body (`hit_end` is then True).
    """
    nul = buf.find(b"\0", pos, end)
    if nul < 0:
        if strict:
            raise FieldError(spec.status, f"{name}: no terminating NUL before the end of the PDU")
        return buf[pos:end].decode("latin-1"), end, True
    if strict and nul - pos >= spec.max_length:
        raise FieldError(
            spec.status,
            f"{name}: {nul - pos} octets, longer than the {spec.max_length - 1} allowed",
        )
    return buf[pos:nul].decode("latin-1"), nul + 1, False


def read_int(buf: bytes, pos: int, end: int, size: int, name: str) -> int:
    """Read an Integer of `size` octets; a FieldError (ESME_RINVCMDLEN) past `end`."""
    if pos + size > end:
        raise FieldError(CommandStatus.ESME_RINVCMDLEN, f"{name}: the PDU ends inside this field")
    return int.from_bytes(buf[pos : pos + size], "big")


__all__ = [
    "HEADER",
    "HEADER_SIZE",
    "METADATA_KEY",
    "TLV_HEADER",
    "U8_U16",
    "U16",
    "U32",
    "CString",
    "DestAddresses",
    "FieldError",
    "FieldType",
    "Integer",
    "ShortMessage",
    "StructError",
    "TlvList",
    "UnsuccessSmes",
    "read_cstring",
    "read_int",
]
