"""Property tests for sms.gsm7: round trips for every table pair, packing, and totality."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from opensmsc.sms import gsm7
from opensmsc.sms.errors import EncodingError
from opensmsc.sms.national import LOCKING_SHIFT_TABLES, NO_CHARACTER, SINGLE_SHIFT_TABLES

# Every combination an encoder may use (TS 23.038 §6.2.1.2.4): default or a locking shift
# table, with the default extension table or a single shift table.
PAIRS = [
    (single, locking)
    for locking in [0, *LOCKING_SHIFT_TABLES]
    for single in [0, *SINGLE_SHIFT_TABLES]
]


def _encodable(single: int, locking: int) -> list[str]:
    locking_table = LOCKING_SHIFT_TABLES[locking] if locking else gsm7.BASIC_TABLE
    single_table = SINGLE_SHIFT_TABLES[single] if single else gsm7.EXTENSION_TABLE
    chars = {c for c in locking_table if c != NO_CHARACTER}
    chars |= {c for c in single_table if c != " "}
    return sorted(chars)


def _texts(single: int, locking: int) -> st.SearchStrategy[str]:
    return st.text(alphabet=st.sampled_from(_encodable(single, locking)), max_size=300)


pairs = st.sampled_from(PAIRS)
septet_strings = st.lists(st.integers(0, 0x7F), max_size=400).map(bytes)
fill_bits = st.integers(0, 6)


@given(pair=pairs, data=st.data())
def test_decode_inverts_encode_for_every_table_pair(
    pair: tuple[int, int], data: st.DataObject
) -> None:
    single, locking = pair
    text = data.draw(_texts(single, locking))
    septets = gsm7.encode(text, single_shift=single, locking_shift=locking)
    assert max(septets, default=0) <= 0x7F
    assert gsm7.decode(septets, single_shift=single, locking_shift=locking) == text


@given(pair=pairs, data=st.data())
def test_septet_count_is_the_encoded_length(pair: tuple[int, int], data: st.DataObject) -> None:
    single, locking = pair
    text = data.draw(_texts(single, locking))
    septets = gsm7.encode(text, single_shift=single, locking_shift=locking)
    assert gsm7.septet_count(text, single_shift=single, locking_shift=locking) == len(septets)
    assert len(septets) == len(text) + septets.count(gsm7.ESC)


@given(pair=pairs, data=st.data())
def test_can_encode_agrees_with_encode(pair: tuple[int, int], data: st.DataObject) -> None:
    single, locking = pair
    mixed = st.one_of(st.sampled_from(_encodable(single, locking)), st.characters())
    text = data.draw(st.text(alphabet=mixed, max_size=50))
    try:
        gsm7.encode(text, single_shift=single, locking_shift=locking)
    except EncodingError as exc:
        assert not gsm7.can_encode(text, single_shift=single, locking_shift=locking)
        assert not gsm7.can_encode(text[exc.position], single_shift=single, locking_shift=locking)
        assert gsm7.can_encode(text[: exc.position], single_shift=single, locking_shift=locking)
    else:
        assert gsm7.can_encode(text, single_shift=single, locking_shift=locking)


@given(
    septets=st.binary(max_size=300),
    single=st.integers(-1, 20),
    locking=st.integers(-1, 20),
)
def test_decode_never_raises(septets: bytes, single: int, locking: int) -> None:
    text = gsm7.decode(septets, single_shift=single, locking_shift=locking)
    assert len(text) <= len(septets)


@pytest.mark.parametrize("locking", [0, *LOCKING_SHIFT_TABLES])
@given(data=st.data())
def test_encode_inverts_decode_for_unescaped_septets(locking: int, data: st.DataObject) -> None:
    table = LOCKING_SHIFT_TABLES[locking] if locking else gsm7.BASIC_TABLE
    codes = [code for code, char in enumerate(table) if char != NO_CHARACTER]
    septets = bytes(data.draw(st.lists(st.sampled_from(codes), max_size=200)))
    text = gsm7.decode(septets, locking_shift=locking)
    assert gsm7.encode(text, locking_shift=locking) == septets


@given(septets=septet_strings, fill=fill_bits)
def test_unpack_inverts_pack(septets: bytes, fill: int) -> None:
    packed = gsm7.pack(septets, fill_bits=fill)
    assert len(packed) == (7 * len(septets) + fill + 7) // 8
    assert packed[:1] == b"" or packed[0] & ((1 << fill) - 1) == 0  # fill bits are zero
    assert gsm7.unpack(packed, len(septets), fill_bits=fill) == septets


@given(septets=septet_strings, fill=fill_bits)
def test_pack_matches_the_bit_layout_of_ts_23038(septets: bytes, fill: int) -> None:
    # §6.1.2.1.1 spelled out: septet i is bits fill + 7i .. fill + 7i + 6, LSB first.
    value = sum(septet << (fill + 7 * i) for i, septet in enumerate(septets))
    size = (7 * len(septets) + fill + 7) // 8
    assert gsm7.pack(septets, fill_bits=fill) == value.to_bytes(size, "little")


@given(septets=septet_strings, fill=fill_bits)
def test_unpack_padded_inverts_pack_with_cr_padding(septets: bytes, fill: int) -> None:
    unpacked = gsm7.unpack_padded(
        gsm7.pack(septets, fill_bits=fill, cr_padding=True), fill_bits=fill
    )
    # §6.1.2.3.1: a final CR may come back doubled (CR CR displays as CR), nothing else changes.
    assert unpacked == septets or (septets.endswith(b"\r") and unpacked == septets + b"\r")


@given(text=_texts(0, 0), udh_octets=st.integers(0, 20))
def test_pack_after_udh_round_trips_text(text: str, udh_octets: int) -> None:
    fill = gsm7.udh_fill_bits(udh_octets)
    assert (8 * udh_octets + fill) % 7 == 0
    septets = gsm7.encode(text)
    packed = gsm7.pack(septets, fill_bits=fill)
    assert gsm7.decode(gsm7.unpack(packed, len(septets), fill_bits=fill)) == text
