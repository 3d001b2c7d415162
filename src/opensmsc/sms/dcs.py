"""SMPP data_coding and GSM TP-DCS: which alphabet, which message class, what goes on the air.

What this module is for: reading an SMPP `data_coding` octet (digest §1.5) as an `Alphabet`, a
message class and the message-waiting indication of TS 23.038 §4, mapping it to the TP-DCS the
SMSC sends on the air (digest §4.3), and decoding a payload to text in one call
(`decode_text`). It does not choose an alphabet for a text (that is `sms.segment`) and does not
know SMPP PDUs: it works on ints and bytes.

SMPP values 0x00–0x0F have the SMPP meanings (0x01 is IA5, not TP-DCS "GSM 7-bit"). SMPP calls
0x10–0xBF reserved, but ESMEs routinely send TP-DCS values there (0x10 or 0x18 for flash
messages), so 0x10–0x7F are read as the TS 23.038 §4 general data coding groups. The MWI groups
0xC0–0xEF and the data coding / message class group 0xF0–0xFF are TS 23.038 in both.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from ..errors import OpensmscError
from . import gsm7
from .ucs2 import decode_ia5, decode_latin1, decode_octets_as_text, decode_ucs2

__all__ = [
    "Alphabet",
    "DataCodingInfo",
    "MessageClass",
    "MessageWaiting",
    "MwiKind",
    "UnsupportedDataCoding",
    "alphabet_of",
    "data_coding_for",
    "decode_text",
    "parse_data_coding",
    "smpp_to_tp_dcs",
]


class Alphabet(enum.Enum):
    """The character set of a message's user data.

    The first five are what opensmsc encodes and segments; the others are SMPP data_coding
    values (digest §1.5) that we recognise and relay, and decode where Python has the codec.
    """

    GSM7 = "gsm7"  # TS 23.038 §6.2.1 default alphabet (with national shift tables via the UDH)
    LATIN1 = "latin1"  # ISO-8859-1, SMPP 0x03
    IA5 = "ia5"  # IA5 / ASCII, SMPP 0x01
    UCS2 = "ucs2"  # UTF-16BE, SMPP 0x08
    BINARY = "binary"  # 8-bit data, SMPP 0x02 / 0x04
    JIS = "jis"  # JIS X 0208, SMPP 0x05
    CYRILLIC = "cyrillic"  # ISO-8859-5, SMPP 0x06
    HEBREW = "hebrew"  # ISO-8859-8, SMPP 0x07
    PICTOGRAM = "pictogram"  # SMPP 0x09
    MUSIC = "music"  # ISO-2022-JP music codes, SMPP 0x0A
    KANJI_EXT = "kanji_ext"  # extended Kanji JIS X 0212, SMPP 0x0D
    KSC5601 = "ksc5601"  # KS C 5601, SMPP 0x0E


class MessageClass(enum.IntEnum):
    """TS 23.038 §4 message class (bits 1–0 of the DCS when the class is meaningful)."""

    CLASS_0 = 0  # immediate display ("flash"), not necessarily stored
    CLASS_1 = 1  # ME-specific
    CLASS_2 = 2  # (U)SIM-specific
    CLASS_3 = 3  # TE-specific


class MwiKind(enum.IntEnum):
    """TS 23.038 §4 indication type of the message waiting groups (bits 1–0)."""

    VOICEMAIL = 0
    FAX = 1
    EMAIL = 2
    OTHER = 3


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageWaiting:
    """The message waiting indication of DCS 0xC0–0xEF (TS 23.038 §4)."""

    kind: MwiKind
    is_active: bool  # bit 3: set the indication (True) or clear it (False)
    is_stored: bool  # False for group 1100 "discard message", True for 1101 and 1110


@dataclass(frozen=True, slots=True, kw_only=True)
class DataCodingInfo:
    """What one data_coding octet says; see `parse_data_coding`."""

    data_coding: int
    alphabet: Alphabet
    message_class: MessageClass | None = None
    mwi: MessageWaiting | None = None
    is_compressed: bool = False  # TS 23.042 compression; we cannot decode it
    is_auto_delete: bool = False  # group 01xx: "marked for automatic deletion"
    is_reserved: bool = False  # a reserved value, read as the GSM 7-bit default alphabet


class UnsupportedDataCoding(OpensmscError):
    """A data_coding whose text we cannot decode (compressed, or no codec for the alphabet).

    The payload can still be relayed unchanged; only its text is out of reach.
    """

    def __init__(self, data_coding: int, reason: str) -> None:
        self.data_coding = data_coding
        self.reason = reason
        super().__init__(f"data_coding 0x{data_coding:02X}: {reason}")


_SMPP_ALPHABETS: dict[int, Alphabet] = {
    0x00: Alphabet.GSM7,
    0x01: Alphabet.IA5,
    0x02: Alphabet.BINARY,
    0x03: Alphabet.LATIN1,
    0x04: Alphabet.BINARY,
    0x05: Alphabet.JIS,
    0x06: Alphabet.CYRILLIC,
    0x07: Alphabet.HEBREW,
    0x08: Alphabet.UCS2,
    0x09: Alphabet.PICTOGRAM,
    0x0A: Alphabet.MUSIC,
    0x0D: Alphabet.KANJI_EXT,
    0x0E: Alphabet.KSC5601,
}

# TS 23.038 §4, general data coding groups, bits 3–2. 0b11 is reserved.
_GENERAL_ALPHABETS = {0b00: Alphabet.GSM7, 0b01: Alphabet.BINARY, 0b10: Alphabet.UCS2}


def parse_data_coding(data_coding: int) -> DataCodingInfo:
    """Read an SMPP data_coding octet (digest §1.5, TS 23.038 §4). Total on 0x00–0xFF.

    Reserved values (SMPP 0x0B, 0x0C, 0x0F, 0x80–0xBF, the reserved alphabet 0b11 of the
    general groups) come back as GSM 7-bit with `is_reserved`: TS 23.038 §4 says any reserved
    coding shall be assumed to be the default alphabet by a receiving entity.
    Raises ValueError outside 0x00–0xFF (a caller's bug: the field is one octet).
    """
    if not 0 <= data_coding <= 0xFF:
        raise ValueError(f"data_coding {data_coding} is not an octet")
    if data_coding <= 0x0F:
        alphabet = _SMPP_ALPHABETS.get(data_coding)
        if alphabet is None:
            return DataCodingInfo(data_coding=data_coding, alphabet=Alphabet.GSM7, is_reserved=True)
        return DataCodingInfo(data_coding=data_coding, alphabet=alphabet)
    group = data_coding >> 4
    if group <= 0b0111:
        # 00xx xxxx general data coding, 01xx xxxx the same marked for automatic deletion.
        general = _GENERAL_ALPHABETS.get((data_coding >> 2) & 0b11)
        has_class = bool(data_coding & 0x10)
        return DataCodingInfo(
            data_coding=data_coding,
            alphabet=general or Alphabet.GSM7,
            message_class=MessageClass(data_coding & 0b11) if has_class else None,
            is_compressed=bool(data_coding & 0x20),
            is_auto_delete=bool(data_coding & 0x40),
            is_reserved=general is None,
        )
    if group <= 0b1011:
        return DataCodingInfo(data_coding=data_coding, alphabet=Alphabet.GSM7, is_reserved=True)
    if group <= 0b1110:
        # 1100 discard (GSM 7-bit), 1101 store (GSM 7-bit), 1110 store (UCS2).
        mwi = MessageWaiting(
            kind=MwiKind(data_coding & 0b11),
            is_active=bool(data_coding & 0x08),
            is_stored=group != 0b1100,
        )
        alphabet = Alphabet.UCS2 if group == 0b1110 else Alphabet.GSM7
        return DataCodingInfo(data_coding=data_coding, alphabet=alphabet, mwi=mwi)
    # 1111 xxxx: bit 2 selects 8-bit data over GSM 7-bit; bits 1–0 are always the class.
    return DataCodingInfo(
        data_coding=data_coding,
        alphabet=Alphabet.BINARY if data_coding & 0x04 else Alphabet.GSM7,
        message_class=MessageClass(data_coding & 0b11),
    )


def alphabet_of(data_coding: int) -> Alphabet:
    """Shorthand for `parse_data_coding(data_coding).alphabet`."""
    return parse_data_coding(data_coding).alphabet


_SMPP_VALUE: dict[Alphabet, int] = {
    Alphabet.GSM7: 0x00,
    Alphabet.IA5: 0x01,
    Alphabet.LATIN1: 0x03,
    # 0x04 rather than 0x02: it is also the TP-DCS value for 8-bit data (digest §4.3).
    Alphabet.BINARY: 0x04,
    Alphabet.JIS: 0x05,
    Alphabet.CYRILLIC: 0x06,
    Alphabet.HEBREW: 0x07,
    Alphabet.UCS2: 0x08,
    Alphabet.PICTOGRAM: 0x09,
    Alphabet.MUSIC: 0x0A,
    Alphabet.KANJI_EXT: 0x0D,
    Alphabet.KSC5601: 0x0E,
}


def data_coding_for(alphabet: Alphabet, *, message_class: MessageClass | None = None) -> int:
    """The SMPP data_coding for `alphabet`, optionally with a TS 23.038 message class.

    With a class: GSM 7-bit → 0xF0–0xF3 and 8-bit → 0xF4–0xF7 (group 1111), UCS2 → 0x18–0x1B
    (general group with class bits; group 1111 has no UCS2). Other alphabets have no class
    coding: ValueError.
    """
    if message_class is None:
        return _SMPP_VALUE[alphabet]
    match alphabet:
        case Alphabet.GSM7:
            return 0xF0 | message_class
        case Alphabet.BINARY:
            return 0xF4 | message_class
        case Alphabet.UCS2:
            return 0x18 | message_class
        case _:
            raise ValueError(f"{alphabet.name} cannot carry a message class")


_TRANSCODED = frozenset(
    {
        Alphabet.IA5,
        Alphabet.LATIN1,
        Alphabet.JIS,
        Alphabet.CYRILLIC,
        Alphabet.HEBREW,
        Alphabet.PICTOGRAM,
        Alphabet.MUSIC,
        Alphabet.KANJI_EXT,
        Alphabet.KSC5601,
    }
)


def smpp_to_tp_dcs(data_coding: int, *, transcode_to: Alphabet = Alphabet.UCS2) -> int:
    """The TP-DCS (TS 23.038 §4) that carries an SMPP data_coding on the air (digest §4.3).

    0x00 → 0x00, 0x08 → 0x08, 0x02/0x04 → 0x04; TS 23.038 values (0x10–0x7F, 0xC0–0xFF) are
    passed through unchanged; reserved values → 0x00. Alphabets the air interface lacks (IA5,
    Latin-1, the national 8-bit sets) are transcoded by the SMSC: `transcode_to` (GSM7 or UCS2,
    chosen by the caller from the text) gives the TP-DCS, 0x00 or 0x08.
    """
    if transcode_to not in (Alphabet.GSM7, Alphabet.UCS2):
        raise ValueError(f"the air interface carries text as GSM7 or UCS2, not {transcode_to}")
    info = parse_data_coding(data_coding)
    if (info.is_reserved and data_coding <= 0x0F) or 0x80 <= data_coding <= 0xBF:
        return 0x00
    if data_coding >= 0x10:
        return data_coding
    if info.alphabet in _TRANSCODED:
        return 0x08 if transcode_to is Alphabet.UCS2 else 0x00
    return {Alphabet.GSM7: 0x00, Alphabet.UCS2: 0x08, Alphabet.BINARY: 0x04}[info.alphabet]


def decode_text(
    data_coding: int, payload: bytes, single_shift: int = 0, locking_shift: int = 0
) -> str:
    """The text of a payload (without its UDH) under an SMPP data_coding.

    GSM 7-bit payloads are unpacked septets, one per octet, as SMPP carries them (digest §4.2);
    `single_shift` / `locking_shift` are the national language ids from the UDH (0 = none).
    Malformed UCS2, IA5 and 8-bit national text decodes with U+FFFD (see `sms.ucs2`); 8-bit
    binary data comes back as its lossless octet view (`ucs2.decode_octets_as_text`).
    Raises `UnsupportedDataCoding` for compressed data and for alphabets without a codec here
    (JIS X 0208/0212, KS C 5601, pictograms, music codes).
    """
    info = parse_data_coding(data_coding)
    if info.is_compressed:
        raise UnsupportedDataCoding(data_coding, "TS 23.042 compressed text is not supported")
    match info.alphabet:
        case Alphabet.GSM7:
            return gsm7.decode(
                bytes(payload), single_shift=single_shift, locking_shift=locking_shift
            )
        case Alphabet.UCS2:
            return decode_ucs2(payload)
        case Alphabet.LATIN1:
            return decode_latin1(payload)
        case Alphabet.IA5:
            return decode_ia5(payload)
        case Alphabet.BINARY:
            return decode_octets_as_text(payload)
        case Alphabet.CYRILLIC:
            return bytes(payload).decode("iso8859_5", "replace")
        case Alphabet.HEBREW:
            return bytes(payload).decode("iso8859_8", "replace")
        case _:
            raise UnsupportedDataCoding(data_coding, f"no decoder for {info.alphabet.name}")
