"""UCS-2 / UTF-16BE, Latin-1, IA5 and octet helpers: strict encoding, total decoding."""

from __future__ import annotations

import pytest

from opensmsc.sms.errors import EncodingError
from opensmsc.sms.ucs2 import (
    REPLACEMENT,
    decode_ia5,
    decode_latin1,
    decode_octets_as_text,
    decode_ucs2,
    encode_ia5,
    encode_latin1,
    encode_octets_from_text,
    encode_ucs2,
    is_high_surrogate,
    is_low_surrogate,
    utf16_units,
)


@pytest.mark.parametrize(
    ("text", "hex_octets"),
    [
        ("Ая", "04 10 04 4F"),  # python-smpplib smpplib/tests/test_gsm.py test_make_parts_single
        ("€", "20 AC"),
        ("😀", "D8 3D DE 00"),  # U+1F600 as a surrogate pair (digest §4.2)
        ("a😀b", "00 61 D8 3D DE 00 00 62"),
        ("", ""),
    ],
)
def test_ucs2_both_ways(text: str, hex_octets: str) -> None:
    assert encode_ucs2(text) == bytes.fromhex(hex_octets)
    assert decode_ucs2(bytes.fromhex(hex_octets)) == text


def test_utf16_units_counts_surrogate_pairs() -> None:
    assert utf16_units("a😀b") == 4
    assert utf16_units("Привет") == 6


@pytest.mark.parametrize(
    ("hex_octets", "text"),
    [
        ("D8 3D", REPLACEMENT),  # lone high surrogate at the end
        ("D8 3D 00 41", REPLACEMENT + "A"),  # high surrogate followed by a non-surrogate
        ("DE 00 00 41", REPLACEMENT + "A"),  # lone low surrogate
        ("DE 00 D8 3D", REPLACEMENT * 2),  # reversed pair
        ("00 41 00", "A" + REPLACEMENT),  # odd length
        ("00", REPLACEMENT),
    ],
)
def test_malformed_ucs2_decodes_with_replacement(hex_octets: str, text: str) -> None:
    assert decode_ucs2(bytes.fromhex(hex_octets)) == text


def test_lone_surrogate_refused_when_encoding() -> None:
    with pytest.raises(EncodingError) as info:
        encode_ucs2("ab\udc00")
    assert (info.value.position, info.value.alphabet) == (2, "UCS2")


def test_surrogate_predicates() -> None:
    assert is_high_surrogate(0xD800) and is_high_surrogate(0xDBFF)
    assert is_low_surrogate(0xDC00) and is_low_surrogate(0xDFFF)
    assert not is_high_surrogate(0xDC00) and not is_low_surrogate(0xDBFF)


def test_latin1() -> None:
    assert encode_latin1("é") == b"\xe9"  # python-smpplib test_make_parts_single
    assert decode_latin1(bytes(range(256))) == "".join(map(chr, range(256)))
    with pytest.raises(EncodingError) as info:
        encode_latin1("aЯ")
    assert (info.value.position, info.value.alphabet) == (1, "LATIN1")


def test_ia5() -> None:
    assert encode_ia5("Hello") == b"Hello"
    assert decode_ia5(b"Hi\x80") == "Hi" + REPLACEMENT
    with pytest.raises(EncodingError):
        encode_ia5("é")


def test_octet_view_is_lossless() -> None:
    data = bytes(range(256))
    assert encode_octets_from_text(decode_octets_as_text(data)) == data
    with pytest.raises(EncodingError):
        encode_octets_from_text("Ā")
