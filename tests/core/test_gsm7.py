"""GSM 7-bit alphabet vectors (sms.gsm7, sms.national), each from a cited public source.

Sources:
- OSMO: osmocom/libosmocore tests/sms/sms_test.c (simple_text, escape_text, enhanced_text,
  enhancedV2_text, the concatenated message and test_enc_large_msg).
- PSL: python-smpplib/python-smpplib smpplib/tests/test_gsm.py (test_gsm_encode,
  test_gsm_encode_unicode_error).
- TS: 3GPP TS 23.038 (tables §6.2.1, §6.2.1.1, Annex A; the single shift example of Annex C.2;
  CR padding §6.1.2.3.1) and TS 23.040 §9.2.3.24 (fill bits); digest §4.
"""

from __future__ import annotations

import pytest

from opensmsc.errors import OpensmscError
from opensmsc.sms import gsm7
from opensmsc.sms.errors import EncodingError
from opensmsc.sms.national import (
    LOCKING_SHIFT_TABLES,
    NO_CHARACTER,
    SINGLE_SHIFT_TABLES,
    Language,
)

# --- OSMO: text → septets → packed octets, both ways ---------------------------------------

OSMO_PACKED = [
    # (text, septet count, packed hex): sms_test.c test_encode / test_decode
    ("test text", 9, "f4f29c0ea297f174"),
    (
        "!$ a more#^- complicated test@@?_%! case",
        41,  # "the ^ counts as two, because it is a extension character"
        "2101280c6abfe5e5d186d2028ddf6d383b3d0ed3cb6410bd3ca70300bf4829041a87e765",
    ),
    (
        "enhanced ^ {][} test |+~ ^ test",
        39,  # "{ } [ ] ^ | ~ count as two (each of them)"
        "65373aec1e97c9a00d05b4416d7c1bde2605a297e774d006b8daf4401b0a885e9ed301",
    ),
    (
        "enhanced ^ {][} test |+~ ^ tests",
        40,  # "number of octets are equal to the enhanced_text!"
        "65373aec1e97c9a00d05b4416d7c1bde2605a297e774d006b8daf4401b0a885e9ed3e7",
    ),
]


@pytest.mark.parametrize(("text", "septets", "packed"), OSMO_PACKED)
def test_osmocom_text_packs_to_the_published_octets(text: str, septets: int, packed: str) -> None:
    encoded = gsm7.encode(text)
    assert len(encoded) == septets == gsm7.septet_count(text)
    assert gsm7.pack(encoded).hex() == packed


@pytest.mark.parametrize(("text", "septets", "packed"), OSMO_PACKED)
def test_osmocom_octets_unpack_to_the_published_text(text: str, septets: int, packed: str) -> None:
    assert gsm7.decode(gsm7.unpack(bytes.fromhex(packed), septets)) == text


OSMO_CONCAT_TEXT = (
    "this is a testmessage. this is a testmessage. this is a testmessage. this is a testmessage. "
    "this is a testmessage. this is a testmessage. cut here .....: this is a second testmessage."
    " end here."
)
OSMO_PART1 = bytes.fromhex(
    "05 00 03 6f 02 01"  # UDH: concat, 8-bit reference 0x6f, part 1 of 2
    "e8 e8 f4 1c 94 9e 83 c2  20 7a 79 4e 6f 97 e7 f3  f0 b9 ec 02 d1 d1 e9 39"
    "28 3d 07 85 41 f4 f2 9c  de 2e cf e7 e1 73 d9 05  a2 a3 d3 73 50 7a 0e 0a"
    "83 e8 e5 39 bd 5d 9e cf  c3 e7 b2 0b 44 47 a7 e7  a0 f4 1c 14 06 d1 cb 73"
    "7a bb 3c 9f 87 cf 65 17  88 8e 4e cf 41 e9 39 28  0c a2 97 e7 f4 76 79 3e"
    "0f 9f cb 2e 10 1d 9d 9e  83 d2 73 50 18 44 2f cf  e9 ed f2 7c 1e 3e 97 5d"
    "a0 71 9d 0e 42 97 e5 65  90 cb e5 72 b9 74"
)
OSMO_PART2 = bytes.fromhex(
    "05 00 03 6f 02 02"  # part 2 of 2
    "40 74 74 7a 0e 4a cf 41  61 d0 bc 3c 7e bb c9 20  7a 79 4e 6f 97 e7 f3 f0"
    "b9 ec 02 95 dd 64 10 ba  2c 2f bb 00"
)


def test_osmocom_concat_parts_pack_after_udh_with_one_fill_bit() -> None:
    septets = gsm7.encode(OSMO_CONCAT_TEXT)
    # TS 23.040 §9.2.3.24: a 6-octet UDH (48 bits) needs 1 fill bit to reach 49 = 7 x 7.
    fill = gsm7.udh_fill_bits(6)
    assert fill == 1
    assert OSMO_PART1[:6] + gsm7.pack(septets[:153], fill_bits=fill) == OSMO_PART1
    assert OSMO_PART2[:6] + gsm7.pack(septets[153:], fill_bits=fill) == OSMO_PART2
    assert len(septets) - 153 == 40


def test_osmocom_concat_parts_unpack_to_their_text() -> None:
    part1 = gsm7.decode(gsm7.unpack(OSMO_PART1[6:], 153, fill_bits=1))
    part2 = gsm7.decode(gsm7.unpack(OSMO_PART2[6:], 40, fill_bits=1))
    assert part1 == OSMO_CONCAT_TEXT[:153]
    assert part1.endswith("cut here .....:")
    assert part2 == " this is a second testmessage. end here."


@pytest.mark.parametrize("length", [2048, 1024, 555, 512, 260, 255, 250])
def test_osmocom_run_of_a_packs_to_repeating_chunk(length: int) -> None:
    # test_enc_large_msg: 'A' (0x41) repeated gives c1 60 30 18 0c 06 83 again and again.
    packed = gsm7.pack(gsm7.encode("A" * length))
    assert len(packed) == -(-length * 7 // 8)
    whole = len(packed) if length % 8 == 0 else len(packed) - 1  # the last octet is partial
    assert packed[:whole] == (bytes.fromhex("c16030180c0683") * (whole // 7 + 1))[:whole]
    assert gsm7.unpack(packed, length) == b"A" * length


# --- PSL, the digest and the default tables ---------------------------------------------------


@pytest.mark.parametrize(
    ("text", "septets"),
    [
        ("@", b"\x00"),  # PSL test_gsm_encode
        ("^", b"\x1b\x14"),  # PSL test_gsm_encode
        ("§", b"\x5f"),  # digest §4.1: 0x5F is §, not a backtick
        ("¤", b"\x24"),  # digest §4.1: 0x24 is the currency sign
        ("$", b"\x02"),
        ("£$¥èéùìòÇ", bytes(range(1, 10))),
        ("ΔΦΓΛΩΠΨΣΘΞ", bytes([0x10, *range(0x12, 0x1B)])),
        ("¡ÄÖÑÜ¿äöñüà", bytes([0x40, 0x5B, 0x5C, 0x5D, 0x5E, 0x60, 0x7B, 0x7C, 0x7D, 0x7E, 0x7F])),
        ("\n\r", b"\x0a\x0d"),
        # TS 23.038 §6.2.1.1, every extension character: ESC + code.
        ("\f^{}\\[~]|€", bytes.fromhex("1b0a 1b14 1b28 1b29 1b2f 1b3c 1b3d 1b3e 1b40 1b65")),
    ],
)
def test_default_alphabet_vectors(text: str, septets: bytes) -> None:
    assert gsm7.encode(text) == septets
    assert gsm7.decode(septets) == text


@pytest.mark.parametrize("text", ["Ая", "`", "ç", "\x1b", "😀", "\t"])
def test_characters_outside_the_default_alphabet_raise(text: str) -> None:
    # PSL test_gsm_encode_unicode_error ("Ая"); the backtick, ç (0x09 is Ç), ESC and tab.
    assert not gsm7.can_encode(text)
    with pytest.raises(EncodingError):
        gsm7.encode(text)
    with pytest.raises(EncodingError):
        gsm7.septet_count(text)


def test_encoding_error_names_character_position_and_tables() -> None:
    with pytest.raises(EncodingError) as caught:
        gsm7.encode("abcж", single_shift=Language.TURKISH)
    error = caught.value
    assert isinstance(error, OpensmscError)
    assert (error.text, error.position, error.alphabet) == ("abcж", 3, "GSM7")
    assert str(error) == (
        "character 'ж' (U+0436) at position 3 is not in the GSM 7-bit alphabet"
        " (Turkish single shift)"
    )


def test_encoding_error_for_the_default_tables_has_no_detail() -> None:
    with pytest.raises(
        EncodingError,
        match=r"^character '`' \(U\+0060\) at position 1 is not in "
        r"the GSM 7-bit alphabet$",
    ):
        gsm7.encode("a`")


def test_encoding_error_names_both_tables() -> None:
    with pytest.raises(EncodingError, match=r"\(Portuguese locking shift, Spanish single shift\)"):
        gsm7.encode("Ж", single_shift=2, locking_shift=3)


# --- decoding rules (TS 23.038 §6.2.1, §6.2.1.1, Annex C.2) ----------------------------------


@pytest.mark.parametrize(
    ("septets", "text"),
    [
        (b"\x1b\x41", "A"),  # no extension character at 0x41: the basic table's (§6.2.1.1)
        (b"\x1b\x0d", "\r"),  # CR2 is reserved: shows the basic table's CR
        (b"a\x1b\x1bb", "a b"),  # ESC ESC (SS2) is reserved: a space (§6.2.1.1 note 1)
        (b"ab\x1b", "ab "),  # dangling ESC: a space, as for an entity without the extension
        (b"\x1b", " "),
        (b"a\x80b\xff", "a\ufffdb\ufffd"),  # not septets: U+FFFD, never an exception
        (b"\x1b\x9b", "\ufffd"),
        (b"", ""),
    ],
)
def test_decode_edge_cases(septets: bytes, text: str) -> None:
    assert gsm7.decode(septets) == text


def test_decode_accepts_bytearray_and_memoryview() -> None:
    assert gsm7.decode(bytearray(b"\x1b\x65")) == "€"
    assert gsm7.decode(memoryview(b"Hi")) == "Hi"


def test_annex_c2_turkish_single_shift_example() -> None:
    # TS 23.038 Annex C.2: with the Turkish single shift table "Türkçe" is encoded with ç as
    # ESC + 0x63; a receiving entity without the table shows "Türkce".
    septets = gsm7.encode("Türkçe", single_shift=Language.TURKISH)
    assert septets == b"T\x7erk\x1b\x63e"
    assert gsm7.septet_count("Türkçe", single_shift=1) == 7
    assert gsm7.decode(septets, single_shift=1) == "Türkçe"
    assert gsm7.decode(septets) == "Türkce"


@pytest.mark.parametrize(("single", "locking"), [(14, 0), (0, 14), (0, 2), (127, 99)])
def test_decode_with_an_unknown_table_uses_the_default_tables(single: int, locking: int) -> None:
    # Annex C.2: a receiving entity without the indicated table decodes with the default ones.
    assert gsm7.decode(b"\x04\x1b\x65", single_shift=single, locking_shift=locking) == "è€"


@pytest.mark.parametrize(("single", "locking"), [(14, 0), (0, 14), (0, 2), (-1, 0)])
def test_encode_with_a_missing_table_is_a_caller_bug(single: int, locking: int) -> None:
    # §A.3.2 is void: Spanish has no locking shift table.
    with pytest.raises(ValueError, match="no national language"):
        gsm7.encode("a", single_shift=single, locking_shift=locking)
    with pytest.raises(ValueError, match="no national language"):
        gsm7.can_encode("a", single_shift=single, locking_shift=locking)


def test_locking_table_hole_decodes_as_replacement_character() -> None:
    # Bengali locking shift table (§A.3.4) has no character at 0x0C.
    assert LOCKING_SHIFT_TABLES[Language.BENGALI][0x0C] == NO_CHARACTER
    assert gsm7.decode(b"\x0c", locking_shift=Language.BENGALI) == "\ufffd"


# --- national language tables: cells checked against TS 23.038 Annex A ----------------------

NATIONAL_CELLS = [
    # (locking id, single id, character, septets)
    # §A.3.1 Turkish locking shift
    (1, 0, "ğ", b"\x0c"),
    (1, 0, "Ğ", b"\x0b"),
    (1, 0, "ı", b"\x07"),
    (1, 0, "İ", b"\x40"),
    (1, 0, "ç", b"\x60"),
    (1, 0, "Şş", b"\x1c\x1d"),
    (1, 0, "€", b"\x04"),
    # §A.2.1 Turkish single shift
    (0, 1, "Ş", b"\x1b\x53"),
    (0, 1, "ş", b"\x1b\x73"),
    (0, 1, "€", b"\x1b\x65"),
    (0, 1, "Ğğİı", b"\x1b\x47\x1b\x67\x1b\x49\x1b\x69"),
    # §A.2.2 Spanish single shift
    (0, 2, "á", b"\x1b\x61"),
    (0, 2, "ç", b"\x1b\x09"),
    (0, 2, "ÁÍÓÚ", b"\x1b\x41\x1b\x49\x1b\x4f\x1b\x55"),
    (0, 2, "íóú", b"\x1b\x69\x1b\x6f\x1b\x75"),
    # §A.3.3 Portuguese locking shift
    (3, 0, "ê", b"\x04"),
    (3, 0, "õ", b"\x7c"),
    (3, 0, "ãÃÕ", b"\x7b\x5b\x5c"),
    (3, 0, "ª∞º", b"\x12\x15\x24"),
    (3, 0, "`~^\\|€", b"\x7d\x60\x16\x17\x1a\x18"),
    # §A.2.3 Portuguese single shift
    (3, 3, "Φ", b"\x1b\x12"),  # Φ is in the default table (0x12), not in Portuguese's
    (0, 3, "â", b"\x1b\x7f"),
    (0, 3, "Ê", b"\x1b\x1f"),
    # the Portuguese pair: characters of the locking table cost one septet, Φ two
    (3, 3, "ê€Φ", b"\x04\x18\x1b\x12"),
    # §A.3.6 Hindi locking shift, §A.2.6 Hindi single shift
    (6, 0, "\u0915", b"\x15"),  # DEVANAGARI LETTER KA
    (6, 0, "\u0905", b"\x03"),  # DEVANAGARI LETTER A
    (0, 6, "\u0964\u0966", b"\x1b\x19\x1b\x1c"),  # DANDA, DIGIT ZERO
    # §A.3.4 Bengali, §A.3.13 Urdu locking shift
    (4, 0, "\u0985", b"\x03"),  # BENGALI LETTER A
    (13, 0, "\u0627", b"\x00"),  # ARABIC LETTER ALEF
    # §A.3.7 Kannada 0x24: DDA (U+0CA1), the spec's typo U+0CAA corrected as AOSP does
    (7, 0, "\u0ca1\u0caa", b"\x24\x3d"),
    # §A.2.11 Tamil single shift 0x24 (U+0BEE), §A.2.12 Telugu single shift € at 0x65
    (0, 11, "\u0bee", b"\x1b\x24"),
    (0, 12, "€", b"\x1b\x65"),
]


@pytest.mark.parametrize(("locking", "single", "text", "septets"), NATIONAL_CELLS)
def test_national_table_cells(locking: int, single: int, text: str, septets: bytes) -> None:
    assert gsm7.encode(text, single_shift=single, locking_shift=locking) == septets
    assert gsm7.decode(septets, single_shift=single, locking_shift=locking) == text


def test_national_language_ids_follow_ts_23038() -> None:
    # §6.2.1.2.4: 1 Turkish, 2 Spanish, 3 Portuguese, 4 Bengali ... 13 Urdu.
    assert [language.name for language in Language] == [
        "DEFAULT", "TURKISH", "SPANISH", "PORTUGUESE", "BENGALI", "GUJARATI", "HINDI",
        "KANNADA", "MALAYALAM", "ORIYA", "PUNJABI", "TAMIL", "TELUGU", "URDU",
    ]  # fmt: skip
    assert sorted(SINGLE_SHIFT_TABLES) == list(range(1, 14))
    assert sorted(LOCKING_SHIFT_TABLES) == [1, *range(3, 14)]  # §A.3.2 (Spanish) is void


def test_every_table_has_128_codes_and_locking_tables_no_duplicates() -> None:
    for table in [gsm7.EXTENSION_TABLE, *SINGLE_SHIFT_TABLES.values()]:
        assert len(table) == 128
    for table in [gsm7.BASIC_TABLE, *LOCKING_SHIFT_TABLES.values()]:
        assert len(table) == 128
        chars = [c for c in table if c != NO_CHARACTER]
        assert len(chars) == len(set(chars))
        assert table[gsm7.ESC] == NO_CHARACTER
        assert table[0x0A] == "\n"
        assert table[0x0D] == "\r"
        assert table[0x20] == " "


def test_duplicates_in_indian_single_shift_tables_encode_to_the_lower_code() -> None:
    # Annex A.2.4-A.2.13 print ¡ at 0x13 and 0x15 and * at 0x0B and 0x18; both decode.
    for language in range(Language.BENGALI, Language.URDU + 1):
        table = SINGLE_SHIFT_TABLES[language]
        chars = [c for c in table if c != " "]
        assert sorted(c for c in set(chars) if chars.count(c) > 1) == ["*", "¡"]
        assert gsm7.encode("¡", single_shift=language, locking_shift=language) == b"\x1b\x13"
        assert gsm7.encode("*", single_shift=language, locking_shift=language) == b"\x1b\x0b"
        assert gsm7.decode(b"\x1b\x15\x1b\x18", single_shift=language) == "¡*"


def test_every_single_shift_table_keeps_the_default_extension_characters() -> None:
    # Annex A: each single shift table repeats the §6.2.1.1 characters at their codes.
    for table in SINGLE_SHIFT_TABLES.values():
        for code, char in enumerate(gsm7.EXTENSION_TABLE):
            if char != " ":
                assert table[code] == char


def test_indian_locking_tables_keep_latin_small_letters_and_digits() -> None:
    for language in range(Language.BENGALI, Language.URDU + 1):
        table = LOCKING_SHIFT_TABLES[language]
        assert table[0x61:0x7B] == "abcdefghijklmnopqrstuvwxyz"
        assert table[0x30:0x3A] == "0123456789"


# --- packing: fill bits and CR padding ------------------------------------------------------


@pytest.mark.parametrize(("udh_octets", "fill_bits"), [(6, 1), (7, 0), (3, 4), (4, 3), (12, 2)])
def test_udh_fill_bits(udh_octets: int, fill_bits: int) -> None:
    # TS 23.040 §9.2.3.24; digest §4.2: (7 - (UDHL+1)*8 % 7) % 7.
    assert gsm7.udh_fill_bits(udh_octets) == fill_bits


def test_pack_puts_fill_bits_below_the_first_septet() -> None:
    # 't' = 0x74; after 1 fill bit the first octet is 0x74 << 1 = 0xe8 (OSMO part 1).
    assert gsm7.pack(b"\x74", fill_bits=1) == b"\xe8"
    assert gsm7.pack(b"\x7f", fill_bits=6) == b"\xc0\x1f"
    assert gsm7.pack(b"", fill_bits=3) == b"\x00"
    assert gsm7.pack(b"") == b""


def test_cr_padding_fills_seven_spare_bits_with_cr() -> None:
    # TS 23.038 §6.1.2.3.1: 8n-1 characters leave 7 spare bits; pad with CR, not '@'.
    septets = gsm7.encode("enhanced ^ {][} test |+~ ^ test")  # 39 septets (OSMO)
    plain = gsm7.pack(septets)
    padded = gsm7.pack(septets, cr_padding=True)
    assert len(padded) == len(plain) == 35
    assert plain[-1] == 0x01
    assert padded[-1] == 0x01 | (gsm7.CR << 1)
    assert gsm7.unpack(plain, 40)[-1] == 0x00  # what a receiver counting octets would see: '@'
    assert gsm7.unpack_padded(padded) == septets


def test_cr_padding_doubles_a_final_cr_on_an_octet_boundary() -> None:
    septets = b"1234567\r"  # 8 septets = 7 octets exactly, ending in CR
    padded = gsm7.pack(septets, cr_padding=True)
    assert len(padded) == 8
    assert gsm7.unpack(padded, 9) == septets + b"\r"
    # The receiver keeps both (CR CR means CR, §6.1.2.3.1); only a CR on a boundary is padding.
    assert gsm7.unpack_padded(padded) == septets + b"\r"
    assert gsm7.pack(septets) == gsm7.pack(septets, cr_padding=False)
    assert gsm7.unpack_padded(gsm7.pack(b"1234567", cr_padding=True)) == b"1234567"


def test_pack_rejects_non_septets_and_bad_fill_bits() -> None:
    with pytest.raises(ValueError, match=r"0x00\.\.0x7F"):
        gsm7.pack(b"\x80")
    with pytest.raises(ValueError, match="fill_bits"):
        gsm7.pack(b"a", fill_bits=7)
    with pytest.raises(ValueError, match="fill_bits"):
        gsm7.unpack(b"a", 1, fill_bits=-1)


def test_unpack_rejects_a_count_the_data_cannot_hold() -> None:
    assert gsm7.unpack(b"\x00" * 7, 8) == b"\x00" * 8
    with pytest.raises(ValueError, match="cannot hold 9 septets"):
        gsm7.unpack(b"\x00" * 7, 9)
    with pytest.raises(ValueError, match="cannot hold 8 septets after 1 fill bits"):
        gsm7.unpack(b"\x00" * 7, 8, fill_bits=1)
