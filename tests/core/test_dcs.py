"""data_coding → alphabet / class / MWI, the SMPP → TP-DCS map, decode_text (digest §1.5, §4.3)."""

from __future__ import annotations

import pytest

from opensmsc.sms.dcs import (
    Alphabet,
    DataCodingInfo,
    MessageClass,
    MessageWaiting,
    MwiKind,
    UnsupportedDataCoding,
    alphabet_of,
    data_coding_for,
    decode_text,
    parse_data_coding,
    smpp_to_tp_dcs,
)


@pytest.mark.parametrize(
    ("data_coding", "alphabet"),
    [
        # SMPP 3.4 §5.2.19 values, digest §1.5
        (0x00, Alphabet.GSM7),
        (0x01, Alphabet.IA5),
        (0x02, Alphabet.BINARY),
        (0x03, Alphabet.LATIN1),
        (0x04, Alphabet.BINARY),
        (0x05, Alphabet.JIS),
        (0x06, Alphabet.CYRILLIC),
        (0x07, Alphabet.HEBREW),
        (0x08, Alphabet.UCS2),
        (0x09, Alphabet.PICTOGRAM),
        (0x0A, Alphabet.MUSIC),
        (0x0D, Alphabet.KANJI_EXT),
        (0x0E, Alphabet.KSC5601),
    ],
)
def test_smpp_values(data_coding: int, alphabet: Alphabet) -> None:
    assert parse_data_coding(data_coding) == DataCodingInfo(
        data_coding=data_coding, alphabet=alphabet
    )
    assert alphabet_of(data_coding) is alphabet


@pytest.mark.parametrize("data_coding", [0x0B, 0x0C, 0x0F, 0x80, 0x9A, 0xBF, 0x1C, 0x2F])
def test_reserved_values_read_as_gsm7(data_coding: int) -> None:
    # TS 23.038 §4: reserved codings are assumed to be the GSM 7-bit default alphabet.
    info = parse_data_coding(data_coding)
    assert info.alphabet is Alphabet.GSM7
    assert info.is_reserved


@pytest.mark.parametrize(
    ("data_coding", "alphabet", "message_class", "compressed", "auto_delete"),
    [
        # TS 23.038 §4 general data coding group 00xx xxxx
        (0x10, Alphabet.GSM7, MessageClass.CLASS_0, False, False),
        (0x11, Alphabet.GSM7, MessageClass.CLASS_1, False, False),
        (0x16, Alphabet.BINARY, MessageClass.CLASS_2, False, False),
        (0x18, Alphabet.UCS2, MessageClass.CLASS_0, False, False),
        (0x1B, Alphabet.UCS2, MessageClass.CLASS_3, False, False),
        (0x20, Alphabet.GSM7, None, True, False),
        (0x38, Alphabet.UCS2, MessageClass.CLASS_0, True, False),
        # 01xx xxxx: marked for automatic deletion
        (0x40, Alphabet.GSM7, None, False, True),
        (0x48, Alphabet.UCS2, None, False, True),
        (0x51, Alphabet.GSM7, MessageClass.CLASS_1, False, True),
        # 1111 xxxx data coding / message class (digest §1.5: 0xF0 flash, 0xF5 8-bit class 1)
        (0xF0, Alphabet.GSM7, MessageClass.CLASS_0, False, False),
        (0xF3, Alphabet.GSM7, MessageClass.CLASS_3, False, False),
        (0xF5, Alphabet.BINARY, MessageClass.CLASS_1, False, False),
        (0xF6, Alphabet.BINARY, MessageClass.CLASS_2, False, False),
    ],
)
def test_tp_dcs_groups(
    data_coding: int,
    alphabet: Alphabet,
    message_class: MessageClass | None,
    compressed: bool,
    auto_delete: bool,
) -> None:
    info = parse_data_coding(data_coding)
    assert info.alphabet is alphabet
    assert info.message_class == message_class
    assert info.is_compressed is compressed
    assert info.is_auto_delete is auto_delete
    assert info.mwi is None
    assert not info.is_reserved


@pytest.mark.parametrize(
    ("data_coding", "alphabet", "kind", "active", "stored"),
    [
        # TS 23.038 §4 message waiting groups 1100 / 1101 / 1110
        (0xC0, Alphabet.GSM7, MwiKind.VOICEMAIL, False, False),
        (0xC8, Alphabet.GSM7, MwiKind.VOICEMAIL, True, False),
        (0xD1, Alphabet.GSM7, MwiKind.FAX, False, True),
        (0xDA, Alphabet.GSM7, MwiKind.EMAIL, True, True),
        (0xEB, Alphabet.UCS2, MwiKind.OTHER, True, True),
    ],
)
def test_mwi_groups(
    data_coding: int, alphabet: Alphabet, kind: MwiKind, active: bool, stored: bool
) -> None:
    info = parse_data_coding(data_coding)
    assert info.alphabet is alphabet
    assert info.mwi == MessageWaiting(kind=kind, is_active=active, is_stored=stored)
    assert info.message_class is None


def test_every_octet_parses() -> None:
    for value in range(256):
        assert parse_data_coding(value).data_coding == value
    for bad in (-1, 256):
        with pytest.raises(ValueError):
            parse_data_coding(bad)


@pytest.mark.parametrize(
    ("data_coding", "transcode_to", "tp_dcs"),
    [
        # digest §4.3
        (0x00, Alphabet.UCS2, 0x00),
        (0x08, Alphabet.GSM7, 0x08),
        (0x02, Alphabet.UCS2, 0x04),
        (0x04, Alphabet.UCS2, 0x04),
        (0x03, Alphabet.GSM7, 0x00),
        (0x03, Alphabet.UCS2, 0x08),
        (0x01, Alphabet.GSM7, 0x00),
        (0x06, Alphabet.UCS2, 0x08),
        (0x0B, Alphabet.UCS2, 0x00),
        (0x90, Alphabet.UCS2, 0x00),
        (0x18, Alphabet.GSM7, 0x18),
        (0xC0, Alphabet.GSM7, 0xC0),
        (0xE9, Alphabet.GSM7, 0xE9),
        (0xF0, Alphabet.GSM7, 0xF0),
        (0xFF, Alphabet.GSM7, 0xFF),
    ],
)
def test_smpp_to_tp_dcs(data_coding: int, transcode_to: Alphabet, tp_dcs: int) -> None:
    assert smpp_to_tp_dcs(data_coding, transcode_to=transcode_to) == tp_dcs


def test_transcode_target_must_be_an_air_alphabet() -> None:
    with pytest.raises(ValueError):
        smpp_to_tp_dcs(0x03, transcode_to=Alphabet.LATIN1)


@pytest.mark.parametrize(
    ("alphabet", "message_class", "data_coding"),
    [
        (Alphabet.GSM7, None, 0x00),
        (Alphabet.BINARY, None, 0x04),
        (Alphabet.UCS2, None, 0x08),
        (Alphabet.LATIN1, None, 0x03),
        (Alphabet.IA5, None, 0x01),
        (Alphabet.GSM7, MessageClass.CLASS_0, 0xF0),
        (Alphabet.BINARY, MessageClass.CLASS_1, 0xF5),
        (Alphabet.UCS2, MessageClass.CLASS_2, 0x1A),
    ],
)
def test_data_coding_for(
    alphabet: Alphabet, message_class: MessageClass | None, data_coding: int
) -> None:
    assert data_coding_for(alphabet, message_class=message_class) == data_coding
    info = parse_data_coding(data_coding)
    assert info.alphabet is alphabet
    assert info.message_class == message_class


def test_latin1_has_no_class_coding() -> None:
    with pytest.raises(ValueError):
        data_coding_for(Alphabet.LATIN1, message_class=MessageClass.CLASS_0)


@pytest.mark.parametrize(
    ("data_coding", "payload", "text"),
    [
        (0x00, b"\x00\x1b\x14", "@^"),  # python-smpplib test_gsm_encode: '@' → 00, '^' → 1B 14
        (0xF0, b"\x48\x69", "Hi"),
        (0x08, b"\x04\x10\x04\x4f", "Ая"),  # python-smpplib test_make_parts_single
        (0x18, b"\xd8\x3d\xde\x00", "😀"),
        (0x03, b"\xe9", "é"),  # python-smpplib test_make_parts_single (Latin-1)
        (0x01, b"abc\xff", "abc\ufffd"),
        (0x04, b"\x00\xff", "\x00\xff"),
        (0x06, b"\xbf\xe0", "Пр"),
        (0x07, b"\xf9", "ש"),
        (0xE8, b"\x00\x41", "A"),  # MWI store group, UCS2
    ],
)
def test_decode_text(data_coding: int, payload: bytes, text: str) -> None:
    assert decode_text(data_coding, payload) == text


def test_decode_text_with_national_tables() -> None:
    # Turkish locking shift table (TS 23.038 §A.3.1): 0x07 is ı; single shift 0x1B 0x63 is ç.
    assert decode_text(0x00, b"\x07\x1b\x63", single_shift=1, locking_shift=1) == "ıç"


@pytest.mark.parametrize("data_coding", [0x05, 0x09, 0x0A, 0x0D, 0x0E, 0x20, 0x68])
def test_decode_text_unsupported(data_coding: int) -> None:
    with pytest.raises(UnsupportedDataCoding) as info:
        decode_text(data_coding, b"\x21\x21")
    assert info.value.data_coding == data_coding
