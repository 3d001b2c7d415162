"""UCS-2 / UTF-16BE, Latin-1, IA5 and 8-bit octet helpers for SMS user data.

What this module is for: turning text into the octets SMPP carries for data_coding 0x08 (UCS2),
0x03 (Latin-1), 0x01 (IA5) and 0x02/0x04 (octets), and back. It is not the GSM 7-bit alphabet
(that is `sms.gsm7`) and it does not know which data_coding a message has (that is `sms.dcs`).

Policies, fixed here so every caller gets the same answer:

- Encoding is strict. A character the alphabet cannot carry raises `EncodingError` with its
  position, and so does a lone surrogate in a `str` (we never emit malformed UTF-16).
- Decoding never raises. What a peer sends us is data, not a bug of ours: a UTF-16 unit that
  cannot be decoded (a lone high or low surrogate) becomes U+FFFD, as does a trailing odd octet;
  an IA5 octet above 0x7F becomes U+FFFD. Every well-formed part of the input survives.
"""

from __future__ import annotations

from .errors import EncodingError

__all__ = [
    "REPLACEMENT",
    "decode_ia5",
    "decode_latin1",
    "decode_octets_as_text",
    "decode_ucs2",
    "encode_ia5",
    "encode_latin1",
    "encode_octets_from_text",
    "encode_ucs2",
    "is_high_surrogate",
    "is_low_surrogate",
    "utf16_units",
]

REPLACEMENT = "\ufffd"
"""What a malformed unit decodes to (U+FFFD REPLACEMENT CHARACTER)."""

_HIGH_FIRST, _HIGH_LAST = 0xD800, 0xDBFF
_LOW_FIRST, _LOW_LAST = 0xDC00, 0xDFFF


def is_high_surrogate(unit: int) -> bool:
    """True for a UTF-16 code unit 0xD800–0xDBFF: the first half of a surrogate pair."""
    return _HIGH_FIRST <= unit <= _HIGH_LAST


def is_low_surrogate(unit: int) -> bool:
    """True for a UTF-16 code unit 0xDC00–0xDFFF: the second half of a surrogate pair."""
    return _LOW_FIRST <= unit <= _LOW_LAST


def utf16_units(text: str) -> int:
    """How many UTF-16 code units `text` takes: 1 per BMP character, 2 above U+FFFF.

    This is what the 70 / 67 "characters" of digest §4.4 count.
    """
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


def encode_ucs2(text: str) -> bytes:
    """`text` as UTF-16BE (data_coding 0x08), characters above U+FFFF as surrogate pairs.

    Strictly UCS-2 has no surrogate pairs, but handsets and SMSCs carry UTF-16 in DCS 0x08
    (digest §4.2), which is what emoji need. Raises `EncodingError` for a lone surrogate in
    `text`, which no UTF-16 decoder could give back.
    """
    for position, ch in enumerate(text):
        if 0xD800 <= ord(ch) <= 0xDFFF:
            raise EncodingError(
                text=text, position=position, alphabet="UCS2", detail="lone surrogate"
            )
    return text.encode("utf-16-be")


def decode_ucs2(data: bytes) -> str:
    """UTF-16BE octets to text; never raises.

    A valid surrogate pair becomes one character. A lone surrogate unit and a trailing odd octet
    each become U+FFFD (`REPLACEMENT`), one per unit or octet; everything else is kept.
    """
    chars: list[str] = []
    length = len(data)
    i = 0
    while i + 1 < length:
        unit = (data[i] << 8) | data[i + 1]
        if is_high_surrogate(unit) and i + 3 < length:
            low = (data[i + 2] << 8) | data[i + 3]
            if is_low_surrogate(low):
                chars.append(chr(0x10000 + ((unit - _HIGH_FIRST) << 10) + (low - _LOW_FIRST)))
                i += 4
                continue
        chars.append(REPLACEMENT if 0xD800 <= unit <= 0xDFFF else chr(unit))
        i += 2
    if length % 2:
        chars.append(REPLACEMENT)
    return "".join(chars)


def encode_latin1(text: str) -> bytes:
    """`text` as ISO-8859-1 (data_coding 0x03), one octet per character.

    Raises `EncodingError` at the first character above U+00FF.
    """
    for position, ch in enumerate(text):
        if ord(ch) > 0xFF:
            raise EncodingError(text=text, position=position, alphabet="LATIN1")
    return text.encode("latin-1")


def decode_latin1(data: bytes) -> str:
    """ISO-8859-1 octets to text; total (every octet is a character)."""
    return bytes(data).decode("latin-1")


def encode_ia5(text: str) -> bytes:
    """`text` as IA5 / ASCII (data_coding 0x01). Raises `EncodingError` above U+007F."""
    for position, ch in enumerate(text):
        if ord(ch) > 0x7F:
            raise EncodingError(text=text, position=position, alphabet="IA5")
    return text.encode("ascii")


def decode_ia5(data: bytes) -> str:
    """IA5 / ASCII octets to text; never raises: an octet above 0x7F becomes U+FFFD."""
    return "".join(chr(b) if b < 0x80 else REPLACEMENT for b in data)


def decode_octets_as_text(data: bytes) -> str:
    """8-bit binary user data (data_coding 0x02 / 0x04) as a `str`, octet n → U+00nn.

    Binary data has no text; this is a lossless view for APIs that only take `str` (logs,
    JSON). `encode_octets_from_text` is its exact inverse.
    """
    return bytes(data).decode("latin-1")


def encode_octets_from_text(text: str) -> bytes:
    """The inverse of `decode_octets_as_text`. Raises `EncodingError` above U+00FF."""
    for position, ch in enumerate(text):
        if ord(ch) > 0xFF:
            raise EncodingError(text=text, position=position, alphabet="BINARY")
    return text.encode("latin-1")
