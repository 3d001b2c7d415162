"""Hypothesis strategies for every SMPP PDU, its fields and its TLVs; shared by the core tests.

The strategies build PDUs that a strict decode accepts, so `decode(encode(p, n)).pdu == p` holds
for all of them: C-Octet Strings within their spec maximum and without NUL, known TLVs with
values of their spec type, vendor and unknown TLVs as raw bytes. They are derived from the
dataclass fields of each PDU class (the wire type sits in the field metadata), so a PDU class
added to `smpp.PDU_CLASSES` is covered without touching this file.

    from tests.core.strategies import pdus, pdu_of, frames
    @given(pdus())                      # any PDU of any type
    @given(pdu_of(smpp.SubmitSm))       # one type
    @given(frames())                    # (encoded bytes, sequence_number, pdu)
"""

from __future__ import annotations

import dataclasses
from typing import Any

from hypothesis import strategies as st

from opensmsc import smpp
from opensmsc.smpp import fields as wire
from opensmsc.smpp import tlv

C_CHARS = st.characters(min_codepoint=1, max_codepoint=255)
"""Latin-1 without NUL: what a C-Octet String can carry (SMPP 3.4 §3.1)."""

u8 = st.integers(0, 0xFF)
u16 = st.integers(0, 0xFFFF)
u32 = st.integers(0, 0xFFFF_FFFF)
sequence_numbers = st.integers(1, 0x7FFF_FFFF)
statuses = st.one_of(st.sampled_from(list(smpp.CommandStatus)), u32)
"""Named command_status values and arbitrary ones (vendor codes must survive)."""


def c_octet_string(max_length: int) -> st.SearchStrategy[str]:
    """A C-Octet String value of at most `max_length - 1` characters (the NUL counts)."""
    return st.text(C_CHARS, max_size=max_length - 1)


def _tlv_value(tag: int) -> st.SearchStrategy[Any]:
    kind = tlv.TLV_TYPES.get(tag)
    if kind is None:
        return st.binary(max_size=40)
    code, a, b = kind
    if code == tlv.INT:
        return st.integers(0, (1 << (8 * a)) - 1)
    if code == tlv.CSTR:
        return c_octet_string(a)
    if code == tlv.OCTETS:
        return st.binary(min_size=a, max_size=min(b, 64))
    if code == tlv.NEC:
        return st.builds(tlv.NetworkErrorCode, network_type=u8, error_code=u16)
    if code == tlv.BCT:
        return st.builds(tlv.BroadcastContentType, network_type=u8, content_type=u16)
    if code == tlv.BFI:
        return st.builds(tlv.BroadcastFrequencyInterval, time_unit=u8, number=u16)
    return st.builds(tlv.BroadcastAreaIdentifier, format=u8, details=st.binary(max_size=100))


KNOWN_TAGS = sorted(tlv.TLV_TYPES)
vendor_tags = st.integers(0x1400, 0x3FFF).filter(lambda t: t not in tlv.TLV_TYPES)
unknown_tags = u16.filter(lambda t: t not in tlv.TLV_TYPES)

tlv_items = st.one_of(
    st.sampled_from(KNOWN_TAGS).flatmap(lambda t: st.tuples(st.just(t), _tlv_value(t))),
    st.tuples(st.one_of(vendor_tags, unknown_tags), st.binary(max_size=40)),
)
tlv_lists: st.SearchStrategy[smpp.Tlvs] = st.lists(tlv_items, max_size=6).map(smpp.Tlvs)
"""Known TLVs typed, unknown ones raw, repeats allowed, in any order."""

sme_addresses = st.builds(
    smpp.SmeAddress,
    dest_addr_ton=u8,
    dest_addr_npi=u8,
    destination_addr=c_octet_string(21),
)
distribution_lists = st.builds(smpp.DistributionList, dl_name=c_octet_string(21))
dest_addresses = st.lists(st.one_of(sme_addresses, distribution_lists), max_size=6).map(tuple)
unsuccess_smes = st.lists(
    st.builds(
        smpp.UnsuccessSme,
        dest_addr_ton=u8,
        dest_addr_npi=u8,
        destination_addr=c_octet_string(21),
        error_status_code=u32,
    ),
    max_size=6,
).map(tuple)


def _field_strategy(ftype: wire.FieldType) -> st.SearchStrategy[Any]:
    if isinstance(ftype, wire.CString):
        return c_octet_string(ftype.max_length)
    if isinstance(ftype, wire.Integer):
        return st.integers(0, (1 << (8 * ftype.size)) - 1)
    if isinstance(ftype, wire.ShortMessage):
        return st.binary(max_size=255)
    if isinstance(ftype, wire.DestAddresses):
        return dest_addresses
    if isinstance(ftype, wire.UnsuccessSmes):
        return unsuccess_smes
    return tlv_lists


def _strictly_valid(pdu: smpp.Pdu) -> bool:
    # SMPP 3.4 §4.4.2: a failed submit_sm_resp carries no message_id; strict decode rejects one.
    return not (isinstance(pdu, smpp.SubmitSmResp) and pdu.command_status and pdu.message_id)


def pdu_of(cls: type[smpp.Pdu]) -> st.SearchStrategy[smpp.Pdu]:
    """PDUs of class `cls` that a strict decode accepts."""
    kwargs: dict[str, st.SearchStrategy[Any]] = {
        f.name: _field_strategy(f.metadata[wire.METADATA_KEY])
        for f in dataclasses.fields(cls)
        if wire.METADATA_KEY in f.metadata
    }
    if issubclass(cls, smpp.Response):
        # Mostly ROK: a failed response with default fields is encoded header-only.
        kwargs["command_status"] = st.one_of(st.just(0), st.just(0), statuses)
    return st.builds(cls, **kwargs).filter(_strictly_valid)


PDU_TYPES: list[type[smpp.Pdu]] = sorted(smpp.PDU_CLASSES.values(), key=lambda cls: cls.command_id)


def pdus() -> st.SearchStrategy[smpp.Pdu]:
    """A PDU of any type."""
    return st.sampled_from(PDU_TYPES).flatmap(pdu_of)


def frames() -> st.SearchStrategy[tuple[bytes, int, smpp.Pdu]]:
    """(encoded frame, its sequence_number, the PDU) for a PDU of any type."""
    return st.tuples(pdus(), sequence_numbers).map(lambda t: (smpp.encode(t[0], t[1]), t[1], t[0]))


def mutated(frame: bytes) -> st.SearchStrategy[bytes]:
    """`frame` with some octets flipped, dropped, inserted or the tail cut, command_length kept
    consistent half of the time (so the body parser, not only framing, meets the damage)."""

    def apply(ops: list[tuple[int, int, int]], fix_length: bool) -> bytes:
        data = bytearray(frame)
        for kind, index, value in ops:
            if not data:
                break
            i = index % len(data)
            if kind == 0:
                data[i] = value
            elif kind == 1:
                del data[i]
            elif kind == 2:
                data.insert(i, value)
            else:
                del data[i:]
        if fix_length and len(data) >= 4:
            data[:4] = len(data).to_bytes(4, "big")
        return bytes(data)

    ops = st.lists(
        st.tuples(st.integers(0, 3), st.integers(0, 1 << 16), u8), min_size=1, max_size=4
    )
    return st.builds(apply, ops, st.booleans())


__all__ = [
    "PDU_TYPES",
    "c_octet_string",
    "dest_addresses",
    "frames",
    "mutated",
    "pdu_of",
    "pdus",
    "sequence_numbers",
    "statuses",
    "tlv_items",
    "tlv_lists",
    "unsuccess_smes",
]
