"""The sans-IO SMPP codec: `encode()`, `decode()`, `Decoded`; `FrameBuffer` (from framing.py).

What this is for: PDU dataclass ↔ bytes, for every PDU of SMPP 3.3, 3.4 and 5.0, byte-exact to
the specifications. What it is not: session logic (which PDU is allowed when is connection.py's)
or field validation beyond the wire format (an unknown TON is the services' business).

How it is fast: each PDU class gets, once at import, a straight-line decoder and encoder
generated from its field layout (see `_compile.py`). The generated decoder handles only
well-formed frames; at the first surprise it gives up and the careful interpreter in this module
(`_decode_careful`) parses the frame again, applying strict or lenient rules and naming the
exact command_status. Both paths are checked against each other by the property tests.

Strict and lenient (decode(..., strict=False)), SMPP 3.4 §3.1 and digest §1.3:
- strict rejects C-strings longer than their maximum or without NUL, a body that ends before
  its last mandatory field, trailing octets that are not a TLV, a known TLV whose length does
  not fit its type, and a failed submit_sm_resp with a message_id (§4.4.2: no body on error);
- lenient accepts all of those (a missing final NUL takes the rest of the body; fields after the
  end of a short body keep their defaults; a broken trailing TLV is dropped; an ill-fitting TLV
  stays raw bytes), plus the extra service_type Kannel puts in replace_sm;
- both reject an sm_length that runs past the PDU (ESME_RINVMSGLEN) and octets after the last
  field of a PDU without TLVs (ESME_RINVCMDLEN): nothing says where such a body really ends.
A header-only response with a non-zero command_status decodes to its defaults in both modes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from opensmsc.smpp import _compile
from opensmsc.smpp._frozen import positional_builder
from opensmsc.smpp.constants import CommandStatus
from opensmsc.smpp.errors import FramingError, LocalProtocolError, PduError
from opensmsc.smpp.fields import (
    HEADER,
    HEADER_SIZE,
    U32,
    CString,
    DestAddresses,
    FieldError,
    FieldType,
    Integer,
    ShortMessage,
    StructError,
    TlvList,
    UnsuccessSmes,
    read_cstring,
    read_int,
)
from opensmsc.smpp.framing import DEFAULT_MAX_LENGTH, FrameBuffer
from opensmsc.smpp.pdu import (
    PDU_CLASSES,
    DistributionList,
    Pdu,
    ReplaceSm,
    Response,
    SmeAddress,
    SubmitSmResp,
    UnsuccessSme,
)
from opensmsc.smpp.tlv import decode_tlvs, encode_tlvs

_S = CommandStatus
_RINVCMDLEN = _S.ESME_RINVCMDLEN


@dataclass(frozen=True, slots=True)
class Decoded:
    """One decoded frame: the header values and the PDU. For a response `status` equals
    `pdu.command_status`; for a request it is whatever the peer put there (normally 0)."""

    command_id: int
    status: int
    sequence_number: int
    pdu: Pdu


_decoded: Callable[[int, int, int, Pdu], Decoded] = positional_builder(
    Decoded, ("command_id", "status", "sequence_number", "pdu")
)


# -- the careful interpreter --------------------------------------------------------------------


def _read_c21(buf: bytes, pos: int, end: int, name: str, strict: bool) -> tuple[str, int]:
    value, pos, _ = read_cstring(
        buf, pos, end, CString(21, _S.ESME_RINVDSTADR), name, strict=strict
    )
    return value, pos


def _read_dest_addresses(
    buf: bytes, pos: int, end: int, strict: bool
) -> tuple[tuple[SmeAddress | DistributionList, ...], int]:
    count = read_int(buf, pos, end, 1, "number_of_dests")
    pos += 1
    out: list[SmeAddress | DistributionList] = []
    for _ in range(count):
        flag = read_int(buf, pos, end, 1, "dest_flag")
        pos += 1
        if flag == 1:  # SMPP 3.4 §4.5.1.1: SME address
            ton = read_int(buf, pos, end, 1, "dest_addr_ton")
            npi = read_int(buf, pos + 1, end, 1, "dest_addr_npi")
            addr, pos = _read_c21(buf, pos + 2, end, "destination_addr", strict)
            out.append(SmeAddress(dest_addr_ton=ton, dest_addr_npi=npi, destination_addr=addr))
        elif flag == 2:  # distribution list
            spec = CString(21, _S.ESME_RINVDLNAME)
            name, pos, _ = read_cstring(buf, pos, end, spec, "dl_name", strict=strict)
            out.append(DistributionList(dl_name=name))
        else:
            raise FieldError(_S.ESME_RINVDESTFLAG, f"dest_flag {flag} is neither 1 nor 2")
    return tuple(out), pos


def _read_unsuccess(
    buf: bytes, pos: int, end: int, strict: bool
) -> tuple[tuple[UnsuccessSme, ...], int]:
    count = read_int(buf, pos, end, 1, "no_unsuccess")
    pos += 1
    out: list[UnsuccessSme] = []
    for _ in range(count):
        ton = read_int(buf, pos, end, 1, "dest_addr_ton")
        npi = read_int(buf, pos + 1, end, 1, "dest_addr_npi")
        addr, pos = _read_c21(buf, pos + 2, end, "destination_addr", strict)
        code = read_int(buf, pos, end, 4, "error_status_code")
        pos += 4
        out.append(
            UnsuccessSme(
                dest_addr_ton=ton, dest_addr_npi=npi, destination_addr=addr, error_status_code=code
            )
        )
    return tuple(out), pos


def _parse_fields(
    layout: tuple[tuple[str, FieldType], ...], buf: bytes, pos: int, strict: bool
) -> dict[str, object]:
    """Field values by name, read from buf[pos:]. Raises FieldError only."""
    end = len(buf)
    values: dict[str, object] = {}
    try:
        for name, ftype in layout:
            if pos >= end and not isinstance(ftype, TlvList):
                if strict:
                    raise FieldError(_RINVCMDLEN, f"the PDU ends before {name}")
                break  # lenient: a short body; the remaining fields keep their defaults
            if isinstance(ftype, CString):
                values[name], pos, _ = read_cstring(buf, pos, end, ftype, name, strict=strict)
            elif isinstance(ftype, Integer):
                values[name] = read_int(buf, pos, end, ftype.size, name)
                pos += ftype.size
            elif isinstance(ftype, ShortMessage):
                length = buf[pos]
                pos += 1
                if pos + length > end:  # in both modes: nothing says where the body ends
                    raise FieldError(
                        _S.ESME_RINVMSGLEN,
                        f"sm_length {length} runs past the end of the PDU ({end - pos} left)",
                    )
                values[name] = buf[pos : pos + length]
                pos += length
            elif isinstance(ftype, DestAddresses):
                values[name], pos = _read_dest_addresses(buf, pos, end, strict)
            elif isinstance(ftype, UnsuccessSmes):
                values[name], pos = _read_unsuccess(buf, pos, end, strict)
            else:
                values[name] = decode_tlvs(buf, pos, end, strict)
                pos = end
    except IndexError:  # pragma: no cover - every read above is bounds-checked
        raise FieldError(_RINVCMDLEN, "the PDU ends inside a field") from None
    if pos < end:  # in both modes: a PDU without TLVs has nothing to skip them as
        raise FieldError(_RINVCMDLEN, f"{end - pos} octets after the last field")
    return values


def _decode_careful(cls: type[Pdu], buf: bytes, status: int, strict: bool) -> Pdu:
    """The interpreter: every rule, every status, both modes. Raises FieldError only."""
    layout = _compile.LAYOUTS[cls]
    is_response = issubclass(cls, Response)
    if is_response and len(buf) == HEADER_SIZE and (status or not strict):
        # SMPP 3.4 §4.4.2 and others: a failed response may omit its body.
        values: dict[str, object] = {}
    elif cls is ReplaceSm and not strict:
        values = _replace_sm_lenient(buf)
    else:
        values = _parse_fields(layout, buf, HEADER_SIZE, strict)
    if strict and cls is SubmitSmResp and status and values.get("message_id"):
        raise FieldError(
            _S.ESME_RINVMSGID,
            "a failed submit_sm_resp carries a message_id (SMPP 3.4 §4.4.2: no body on error)",
        )
    if is_response:
        values["command_status"] = status
    factory: Callable[..., Pdu] = cls
    return factory(**values)


_KANNEL_REPLACE_SM = (
    ("service_type", CString(6, _S.ESME_RINVSERTYP)),
    *_compile.layout_of(ReplaceSm),
)


def _replace_sm_lenient(buf: bytes) -> dict[str, object]:
    """replace_sm as the spec has it, else as Kannel sends it (a leading service_type, which
    replace_sm does not have: SMPP 3.4 §4.10.1), else the spec layout read leniently."""
    try:
        return _parse_fields(_compile.layout_of(ReplaceSm), buf, HEADER_SIZE, True)
    except FieldError:
        pass
    try:
        values = _parse_fields(_KANNEL_REPLACE_SM, buf, HEADER_SIZE, True)
    except FieldError:
        return _parse_fields(_compile.layout_of(ReplaceSm), buf, HEADER_SIZE, False)
    del values["service_type"]
    return values


# -- decode -------------------------------------------------------------------------------------

_header_unpack = HEADER.unpack_from
_FAST_FAILURES = (_compile.Slow, IndexError, FieldError, StructError)


def decode(frame: bytes | bytearray | memoryview, *, strict: bool = True) -> Decoded:
    """Decode one whole frame (as FrameBuffer yields them).

    Raises FramingError (ESME_RINVCMDLEN) when command_length does not match the frame, and
    PduError for anything wrong inside a sound frame: ESME_RINVCMDID for an unknown command_id,
    otherwise the status of the first bad field. Nothing else, on any input.
    """
    return _decoded(*decode_fields(frame, strict))


def decode_fields(
    frame: bytes | bytearray | memoryview, strict: bool = True
) -> tuple[int, int, int, Pdu]:
    """`decode()` as a plain tuple (command_id, status, sequence_number, pdu), for the session
    machine's per-frame loop, which unpacks it at once. Raises as `decode()` does."""
    buf = frame if type(frame) is bytes else bytes(frame)
    if len(buf) < HEADER_SIZE:
        raise FramingError(_RINVCMDLEN, f"a frame of {len(buf)} octets is shorter than a header")
    length, command_id, status, sequence_number = _header_unpack(buf)
    if length != len(buf):
        raise FramingError(
            _RINVCMDLEN,
            f"command_length {length} but the frame has {len(buf)} octets",
            command_id=command_id,
            sequence_number=sequence_number,
        )
    entry = _DECODERS.get(command_id)
    if entry is None:
        raise PduError(
            _S.ESME_RINVCMDID,
            "unknown command_id",
            command_id=command_id,
            sequence_number=sequence_number,
        )
    cls, fast = entry
    if fast is not None:
        try:
            return command_id, status, sequence_number, fast(buf, status)
        except _FAST_FAILURES:
            pass  # not perfectly formed: the interpreter decides, with the exact status
    try:
        pdu = _decode_careful(cls, buf, status, strict)
    except FieldError as exc:
        raise PduError(
            exc.status, exc.message, command_id=command_id, sequence_number=sequence_number
        ) from None
    return command_id, status, sequence_number, pdu


# -- encode -------------------------------------------------------------------------------------


def _c_octets(value: str) -> bytes:
    return value.encode("latin-1") + b"\0"


def _encode_body_careful(pdu: Pdu) -> bytes:
    """The body of any PDU, field by field; used for the PDUs with lists in them, and by the
    tests as the reference for the generated encoders."""
    parts: list[bytes] = []
    for name, ftype in _compile.layout_of(type(pdu)):
        value = getattr(pdu, name)
        if isinstance(ftype, CString):
            parts.append(_c_octets(value))
        elif isinstance(ftype, Integer):
            parts.append(value.to_bytes(ftype.size, "big"))
        elif isinstance(ftype, ShortMessage):
            if len(value) > 255:
                raise LocalProtocolError(_S.ESME_RINVMSGLEN, f"short_message of {len(value)}")
            parts.append(bytes((len(value),)) + value)
        elif isinstance(ftype, DestAddresses):
            parts.append(bytes((len(value),)))
            for dest in value:
                if isinstance(dest, SmeAddress):
                    parts.append(bytes((1, dest.dest_addr_ton, dest.dest_addr_npi)))
                    parts.append(_c_octets(dest.destination_addr))
                else:
                    parts.append(b"\x02" + _c_octets(dest.dl_name))
        elif isinstance(ftype, UnsuccessSmes):
            parts.append(bytes((len(value),)))
            for sme in value:
                parts.append(bytes((sme.dest_addr_ton, sme.dest_addr_npi)))
                parts.append(_c_octets(sme.destination_addr))
                parts.append(U32.pack(sme.error_status_code))
        elif value:
            parts.append(encode_tlvs(value))
    return b"".join(parts)


def _encode_careful(pdu: Pdu, sequence_number: int) -> bytes:
    status = pdu.command_status if isinstance(pdu, Response) else 0
    # SMPP 3.4 §4.4.2: a failed response may be header-only; one that was stays so.
    body = b"" if status and _compile.is_default(pdu) else _encode_body_careful(pdu)
    return HEADER.pack(HEADER_SIZE + len(body), pdu.command_id, status, sequence_number) + body


_compile.install(_encode_careful)
_DECODERS: dict[int, tuple[type[Pdu], Callable[[bytes, int], Pdu] | None]] = {
    command_id: (cls, _compile.FAST_DECODERS.get(cls)) for command_id, cls in PDU_CLASSES.items()
}
_ENCODERS: dict[type[Pdu], Callable[[Pdu, int], bytes]] = {
    cls: _compile.FAST_ENCODERS.get(cls, _encode_careful) for cls in PDU_CLASSES.values()
}
_ENCODE_FAILURES = (OverflowError, ValueError, TypeError, StructError, AttributeError)


def encode(pdu: Pdu, sequence_number: int) -> bytes:
    """The wire form of `pdu` with this sequence_number; a response's command_status is its own.

    C-Octet Strings are written as given, even past their spec maximum, so that a PDU a
    lenient decode accepted (a 65-octet cancel_sm destination_addr) is relayed unchanged;
    keeping our own values within the limits is the services' job. Raises LocalProtocolError
    when the PDU cannot be written at all (a short_message over 255 octets, an integer out of
    range, a character outside Latin-1): that is a bug in the caller.
    """
    try:
        return _ENCODERS[type(pdu)](pdu, sequence_number)
    except LocalProtocolError:
        raise
    except _ENCODE_FAILURES as exc:  # includes UnicodeEncodeError, a ValueError
        raise LocalProtocolError(
            _S.ESME_RSYSERR, f"{type(pdu).__name__} cannot be encoded: {exc}"
        ) from exc
    except KeyError:
        raise LocalProtocolError(
            _S.ESME_RINVCMDID, f"{type(pdu).__name__} is not a PDU class"
        ) from None


# FrameBuffer lives in framing.py; contracts.md places it here, so it is re-exported.
__all__ = ["DEFAULT_MAX_LENGTH", "Decoded", "FrameBuffer", "decode", "encode"]
