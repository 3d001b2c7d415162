"""The GSM 7-bit alphabet of 3GPP TS 23.038: text ↔ septets, and septets ↔ packed octets.

What this is for: the default alphabet (§6.2.1) and its extension table (§6.2.1.1), combined
with the national language shift tables of Annex A (data in `sms.national`), in the unpacked
form SMPP carries for data_coding 0x00: one septet per octet, with the 0x1B escape inline
(digest §4.2). And the packing of septets into octets for the air interface (§6.1.2.1), with
the fill bits that follow a UDH (TS 23.040 §9.2.3.24) and the CR padding of §6.1.2.3.1.

What it is not: the choice of an alphabet or table for a text, or splitting into segments (that
is `sms.segment`); the data_coding byte (`sms.dcs`); the UDH (`sms.udh`).

Policies:
- Encoding is strict: a character the tables in force cannot carry raises `EncodingError` with
  its position. Nothing is transliterated here.
- Decoding never raises: what a peer sends is data. An octet above 0x7F (not a septet) and a
  code with no character in a national locking table become U+FFFD; the escape rules are those
  of §6.2.1.1 (see `decode`). A language id we do not know decodes with the default tables, as
  a receiving entity without that table does (TS 23.038 Annex C.2).
- Encoding with a language id that has no such table is a bug of the caller: `ValueError`.
"""

from __future__ import annotations

import codecs
import functools
from dataclasses import dataclass
from typing import Final

from .errors import EncodingError
from .national import LOCKING_SHIFT_TABLES, NO_CHARACTER, SINGLE_SHIFT_TABLES, Language

__all__ = [
    "BASIC_TABLE",
    "CR",
    "ESC",
    "EXTENSION_TABLE",
    "can_encode",
    "decode",
    "encode",
    "pack",
    "septet_count",
    "udh_fill_bits",
    "unpack",
    "unpack_padded",
]

ESC: Final = 0x1B
"""The escape to the extension (or single shift) table, TS 23.038 §6.2.1 note 1."""

CR: Final = 0x0D
"""Carriage return, also the padding septet of §6.1.2.3.1."""

REPLACEMENT: Final = "\ufffd"

# TS 23.038 §6.2.1, indexed by septet; 0x1B is the escape, not a character. 0x24 is the
# currency sign ¤ (not $, which is 0x02) and 0x5F is § (digest §4.1: not a backtick).
BASIC_TABLE: Final = (
    "@£$¥èéùìòÇ\nØø\rÅå"  # 0x00
    "Δ_ΦΓΛΩΠΨΣΘΞ\x00ÆæßÉ"  # 0x10
    " !\"#¤%&'()*+,-./"  # 0x20
    "0123456789:;<=>?"  # 0x30
    "¡ABCDEFGHIJKLMNO"  # 0x40
    "PQRSTUVWXYZÄÖÑÜ§"  # 0x50
    "¿abcdefghijklmno"  # 0x60
    "pqrstuvwxyzäöñüà"  # 0x70
)

# TS 23.038 §6.2.1.1, the code that follows ESC; a space marks a code with no character of its
# own (the layout of `national.SINGLE_SHIFT_TABLES`). 0x0A is the page break (form feed).
EXTENSION_TABLE: Final = (
    "          \f     "  # 0x00
    "    ^           "  # 0x10
    "        {}     \\"  # 0x20
    "            [~] "  # 0x30
    "|               "  # 0x40
    "                "  # 0x50
    "     €          "  # 0x60
    "                "  # 0x70
)


@dataclass(frozen=True, slots=True)
class _Codec:
    """One locking + single shift table pair, precomputed for C-speed codec calls."""

    detail: str  # for EncodingError: "" or e.g. "Turkish single shift"
    encoding_map: dict[int, int | bytes]  # ord(char) → septet, or ESC + code
    decoding_table: str  # 256 characters for codecs.charmap_decode, unescaped septets
    escaped: str  # 256 characters: what ESC followed by this code shows
    charset: frozenset[str]


def _table_name(lang: int, kind: str) -> str:
    return f"{Language(lang).name.title()} {kind}"


@functools.cache
def _codec(single_shift: int, locking_shift: int) -> _Codec:
    locking = LOCKING_SHIFT_TABLES[locking_shift] if locking_shift else BASIC_TABLE
    single = SINGLE_SHIFT_TABLES[single_shift] if single_shift else EXTENSION_TABLE
    names = []
    if locking_shift:
        names.append(_table_name(locking_shift, "locking shift"))
    if single_shift:
        names.append(_table_name(single_shift, "single shift"))

    encoding_map: dict[int, int | bytes] = {}
    for code, char in enumerate(locking):
        if char != NO_CHARACTER:
            encoding_map[ord(char)] = code
    for code, char in enumerate(single):
        # A character in both tables costs one septet through the locking table.
        if char != " " and ord(char) not in encoding_map:
            encoding_map[ord(char)] = bytes((ESC, code))

    shown = locking.replace(NO_CHARACTER, REPLACEMENT)
    escaped = [
        # §6.2.1.1: a code with no character of its own shows the (locking) table's character.
        char if char != " " else shown[code]
        for code, char in enumerate(single)
    ]
    # §6.2.1.1 note 1: ESC ESC is reserved for another extension table; show a space.
    escaped[ESC] = " "
    return _Codec(
        detail=", ".join(names),
        encoding_map=encoding_map,
        decoding_table=shown + REPLACEMENT * 128,
        escaped="".join(escaped) + REPLACEMENT * 128,
        charset=frozenset(map(chr, encoding_map)),
    )


def _encoding_codec(single_shift: int, locking_shift: int) -> _Codec:
    if single_shift and single_shift not in SINGLE_SHIFT_TABLES:
        raise ValueError(f"no national language single shift table {single_shift}")
    if locking_shift and locking_shift not in LOCKING_SHIFT_TABLES:
        raise ValueError(f"no national language locking shift table {locking_shift}")
    return _codec(single_shift, locking_shift)


def _decoding_codec(single_shift: int, locking_shift: int) -> _Codec:
    # TS 23.038 Annex C.2: a receiving entity without the indicated table decodes with the
    # default tables (so Turkish "Türkçe" shows as "Türkce").
    return _codec(
        single_shift if single_shift in SINGLE_SHIFT_TABLES else 0,
        locking_shift if locking_shift in LOCKING_SHIFT_TABLES else 0,
    )


def encode(text: str, *, single_shift: int = 0, locking_shift: int = 0) -> bytes:
    """`text` as unpacked septets, one per octet, extension characters as ESC + code.

    `single_shift` / `locking_shift` are national language ids (TS 23.038 §6.2.1.2.4; 0 = the
    default tables). Raises `EncodingError` at the first character the tables cannot carry,
    `ValueError` for a language id without such a table (e.g. locking_shift=2, Spanish).
    """
    codec = _encoding_codec(single_shift, locking_shift)
    try:
        return codecs.charmap_encode(text, "strict", codec.encoding_map)[0]
    except UnicodeEncodeError as exc:
        raise EncodingError(
            text=text, position=exc.start, alphabet="GSM7", detail=codec.detail
        ) from None


def decode(
    septets: bytes | bytearray | memoryview, *, single_shift: int = 0, locking_shift: int = 0
) -> str:
    """The text of unpacked septets (one per octet, escapes inline). Never raises.

    ESC + code shows the single shift (extension) table's character; a code with none shows
    the locking (basic) table's character, and ESC ESC a space (TS 23.038 §6.2.1.1). An ESC
    at the very end shows as a space, as the basic table's note 1 asks of an entity that does
    not understand the escape. Octets above 0x7F and holes in a national locking table become
    U+FFFD. Unknown language ids fall back to the default tables (Annex C.2).
    """
    codec = _decoding_codec(single_shift, locking_shift)
    data = bytes(septets)
    table = codec.decoding_table
    start = data.find(ESC)
    if start < 0:
        return codecs.charmap_decode(data, "strict", table)[0]
    parts: list[str] = []
    end = len(data)
    position = 0
    while start >= 0:
        parts.append(codecs.charmap_decode(data[position:start], "strict", table)[0])
        if start + 1 == end:
            parts.append(" ")
            return "".join(parts)
        parts.append(codec.escaped[data[start + 1]])
        position = start + 2
        start = data.find(ESC, position)
    parts.append(codecs.charmap_decode(data[position:], "strict", table)[0])
    return "".join(parts)


def can_encode(text: str, *, single_shift: int = 0, locking_shift: int = 0) -> bool:
    """Whether `encode` would succeed with these tables. `ValueError` as for `encode`."""
    return _encoding_codec(single_shift, locking_shift).charset.issuperset(text)


def septet_count(text: str, *, single_shift: int = 0, locking_shift: int = 0) -> int:
    """Septets `text` needs: 1 per character, 2 per single shift (extension) character.

    Equal to `len(encode(...))`, and raises as `encode` does.
    """
    return len(encode(text, single_shift=single_shift, locking_shift=locking_shift))


# --- packing ------------------------------------------------------------------------------
#
# TS 23.038 §6.1.2.1.1: septet i occupies bits 7i .. 7i+6 of the user data, counted LSB first
# within each octet. With a UDH, TS 23.040 §9.2.3.24 puts fill bits between the header and the
# first septet so that it starts on a septet boundary: in the octets after the header, those
# are the lowest `fill_bits` bits of the first one. We move 8 septets ↔ 7 octets at a time with
# big-integer lane arithmetic, so the work is linear in the length and done in C.


def _lanes(pattern: bytes, count: int) -> int:
    return int.from_bytes(pattern * count, "little")


def _check_fill_bits(fill_bits: int) -> None:
    if not 0 <= fill_bits <= 6:
        raise ValueError(f"fill_bits must be 0..6, got {fill_bits}")


def pack(
    septets: bytes | bytearray | memoryview, *, fill_bits: int = 0, cr_padding: bool = False
) -> bytes:
    """Septets packed LSB first, after `fill_bits` zero bits (TS 23.038 §6.1.2.1).

    The result has ceil((7 * len(septets) + fill_bits) / 8) octets. `fill_bits` is what
    `udh_fill_bits` gives for the UDH in front (1 for the 6-octet concat header).
    `cr_padding=True` applies §6.1.2.3.1 (USSD and CBS, where the receiver counts octets, not
    septets): 7 spare bits at the end get a CR instead of zeros (which would read as '@'), and
    a message ending in CR on an octet boundary gets a second CR; `unpack_padded` undoes it.
    SMS does not need it (TP-UDL counts septets). Raises `ValueError` for an octet above 0x7F
    or `fill_bits` outside 0..6.
    """
    _check_fill_bits(fill_bits)
    data = bytes(septets)
    if data and max(data) > 0x7F:
        raise ValueError("septets must be 0x00..0x7F")
    if cr_padding:
        spare = -(7 * len(data) + fill_bits) % 8
        if spare == 7 or (spare == 0 and data and data[-1] == CR):
            data += bytes((CR,))
    count = len(data)
    size = (7 * count + fill_bits + 7) // 8
    if not count:
        return bytes(size)
    groups = (count + 7) // 8
    x = int.from_bytes(data, "little")  # 8-bit lanes, one septet each
    # Close the gaps: 2 septets → 14 bits in each 16-bit lane, 4 → 28 in 32, 8 → 56 in 64.
    low = _lanes(b"\xff\x00", 4 * groups)
    x = (x & low) | ((x & (low << 8)) >> 1)
    low = _lanes(b"\xff\xff\x00\x00", 2 * groups)
    x = (x & low) | ((x & (low << 16)) >> 2)
    low = _lanes(b"\xff\xff\xff\xff\x00\x00\x00\x00", groups)
    x = (x & low) | ((x & (low << 32)) >> 4)
    octets = bytearray(x.to_bytes(8 * groups, "little"))
    del octets[7::8]  # the empty top octet of each 64-bit lane
    packed = int.from_bytes(octets, "little") << fill_bits
    return packed.to_bytes(size, "little")


def unpack(data: bytes | bytearray | memoryview, count: int, *, fill_bits: int = 0) -> bytes:
    """`count` septets, one per octet, from packed octets that start with `fill_bits` fill bits.

    The inverse of `pack`: `unpack(pack(s, fill_bits=f), len(s), fill_bits=f) == s`. `count`
    is TP-UDL less the septets the UDH and fill bits take. Raises `ValueError` when `data` is
    too short for `count` septets or `fill_bits` is outside 0..6.
    """
    _check_fill_bits(fill_bits)
    if count < 0 or 7 * count + fill_bits > 8 * len(data):
        raise ValueError(
            f"{len(data)} octets cannot hold {count} septets after {fill_bits} fill bits"
        )
    if not count:
        return b""
    groups = (count + 7) // 8
    x = (int.from_bytes(bytes(data), "little") >> fill_bits) & ((1 << (7 * count)) - 1)
    packed = x.to_bytes(7 * groups, "little")
    wide = bytearray(8 * groups)
    for i in range(7):  # give each 7 octets (8 septets) a 64-bit lane
        wide[i::8] = packed[i::7]
    x = int.from_bytes(wide, "little")
    # Open the gaps: 56 bits → 2 x 28 in 32-bit lanes → 14 in 16-bit lanes → 7 in octets.
    low = _lanes(b"\xff\xff\xff\x0f\x00\x00\x00\x00", groups)
    x = (x & low) | ((x & (low << 28)) << 4)
    low = _lanes(b"\xff\x3f\x00\x00", 2 * groups)
    x = (x & low) | ((x & (low << 14)) << 2)
    low = _lanes(b"\x7f\x00", 4 * groups)
    x = (x & low) | ((x & (low << 7)) << 1)
    return x.to_bytes(8 * groups, "little")[:count]


def unpack_padded(data: bytes | bytearray | memoryview, *, fill_bits: int = 0) -> bytes:
    """All the septets in `data`, less the CR padding of TS 23.038 §6.1.2.3.1.

    For USSD and CBS, whose length is known in octets only: the septet count is what fits, and
    a final CR that ends exactly on an octet boundary is padding and is removed (the spec's rule
    for the receiving entity). The inverse of `pack(..., cr_padding=True)`.
    """
    _check_fill_bits(fill_bits)
    count = max(0, (8 * len(data) - fill_bits) // 7)
    septets = unpack(data, count, fill_bits=fill_bits)
    if septets and septets[-1] == CR and (7 * count + fill_bits) % 8 == 0:
        return septets[:-1]
    return septets


def udh_fill_bits(udh_octets: int) -> int:
    """Fill bits between a UDH of `udh_octets` octets (UDHL included) and the first septet.

    TS 23.040 §9.2.3.24: the first character starts on a septet boundary; 1 for the 6-octet
    8-bit-reference concat header, 0 for 7 octets (digest §4.2).
    """
    return -(8 * udh_octets) % 7
