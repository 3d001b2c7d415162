"""Choosing an alphabet, splitting a message into SMS parts, and joining parts again.

What this module is for: the structure of long messages. `choose_alphabet` picks the cheapest
encoding for a text (digest §4.4), `split` cuts the encoded text into parts that each fit one
SMS of 140 octets (TS 23.040 §9.2.3.24.1 concatenation) and `Reassembler` puts received parts
back together. It works on text, bytes and ints; SMPP PDUs, esm_class and the sar_* TLVs are the
caller's business (a part says what they should carry).

Payloads are what SMPP carries: GSM 7-bit text as unpacked septets, one per octet, escapes
inline (digest §4.2); UCS2 as UTF-16BE. Part sizes are counted the way the air interface counts
them: the UDH plus the septets (7 bits each, after fill bits) fit in 140 octets.
"""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Literal

from ..errors import OpensmscError
from . import gsm7
from .dcs import Alphabet, MessageClass, UnsupportedDataCoding, data_coding_for
from .errors import EncodingError
from .national import LOCKING_SHIFT_TABLES, SINGLE_SHIFT_TABLES
from .ucs2 import encode_ia5, encode_latin1, encode_octets_from_text, encode_ucs2
from .udh import Concat, PortAddress, UserDataHeader, build_udh

__all__ = [
    "Alphabet",
    "ConcatMethod",
    "Encoding",
    "ExpiryReason",
    "Incomplete",
    "MessageTooLong",
    "Part",
    "Reassembler",
    "Segmented",
    "choose_alphabet",
    "encode_text",
    "split",
]

UD_OCTETS = 140
"""TP-UD holds 140 octets (TS 23.040 §9.2.3.24): 160 septets, 140 octets, 70 UCS2 units."""

PAYLOAD_MAX_OCTETS = 0xFFFF
"""message_payload has a two-octet length (SMPP 3.4 §5.3.2.32)."""

_CONCAT_IE_OCTETS = {8: 5, 16: 6}  # IEI + IEDL + data: `00 03 RR TT SS`, `08 04 RH RL TT SS`


class ConcatMethod(enum.StrEnum):
    """How a long message travels: UDH concat IE (8- or 16-bit reference), SAR TLVs, or one
    message_payload that the SMSC segments itself."""

    UDH8 = "udh8"
    UDH16 = "udh16"
    SAR = "sar"
    PAYLOAD = "payload"


@dataclass(frozen=True, slots=True)
class Encoding:
    """An alphabet plus the national language tables (TS 23.038 §6.2.1.2.4 ids; 0 = none).

    `data_coding` is derived: GSM 7-bit is 0x00 with or without shift tables (they travel in the
    UDH), UCS2 0x08, Latin-1 0x03, IA5 0x01, binary 0x04; a `message_class` gives the TS 23.038
    class codings (0xF0–0xF7, 0x18–0x1B).
    """

    alphabet: Alphabet
    single_shift: int = 0
    locking_shift: int = 0
    message_class: MessageClass | None = None

    def __post_init__(self) -> None:
        if (self.single_shift or self.locking_shift) and self.alphabet is not Alphabet.GSM7:
            raise ValueError(f"national shift tables need GSM7, not {self.alphabet.name}")

    @property
    def data_coding(self) -> int:
        """The SMPP data_coding for this encoding."""
        return data_coding_for(self.alphabet, message_class=self.message_class)


class MessageTooLong(OpensmscError):
    """The message needs more than `limit` parts (or octets, for message_payload).

    Answer it as SMPP ESME_RINVMSGLEN; `size` is what the message would need.
    """

    def __init__(self, *, size: int, limit: int, unit: str) -> None:
        self.size = size
        self.limit = limit
        self.unit = unit
        super().__init__(f"message needs {size} {unit}, limit is {limit}")


@dataclass(frozen=True, slots=True)
class Part:
    """One SMS of a segmented message.

    `udh` is None when the part has no header (esm_class UDHI clear). `sar` is set only for the
    SAR method: the values of sar_msg_ref_num / sar_total_segments / sar_segment_seqnum.
    """

    udh: UserDataHeader | None
    payload: bytes
    sar: Concat | None = None

    @property
    def has_udh(self) -> bool:
        """Whether short_message starts with a UDH (set esm_class UDHI, 0x40)."""
        return self.udh is not None

    @property
    def short_message(self) -> bytes:
        """UDH octets followed by the payload: short_message, or the message_payload value."""
        return self.payload if self.udh is None else self.udh.encode() + self.payload


@dataclass(frozen=True, slots=True)
class Segmented:
    """A message ready to send: its encoding and its parts in sequence order."""

    encoding: Encoding
    parts: tuple[Part, ...]

    @property
    def data_coding(self) -> int:
        """The SMPP data_coding every part carries."""
        return self.encoding.data_coding


# --- choosing an alphabet ------------------------------------------------------------------


def _gsm7_fits(text: str, single_shift: int, locking_shift: int) -> bool:
    return gsm7.can_encode(text, single_shift=single_shift, locking_shift=locking_shift)


def _national_candidates(languages: Sequence[int]) -> list[tuple[int, int]]:
    # TS 23.038 §6.2.1.2.4: single shift alone (one 3-octet IE), then locking + single shift of
    # the same language (two IEs). A language without such a table is skipped (Spanish has no
    # locking shift table, §A.3.2).
    singles = [(lang, 0) for lang in languages if lang in SINGLE_SHIFT_TABLES]
    both = [
        (lang, lang)
        for lang in languages
        if lang in SINGLE_SHIFT_TABLES and lang in LOCKING_SHIFT_TABLES
    ]
    return singles + both


def _parts_needed(units: list[bytes], alphabet: Alphabet, base: UserDataHeader) -> int:
    single_capacity = _capacity(alphabet, base.size if base.elements else 0)
    if sum(len(unit) for unit in units) <= single_capacity:
        return 1
    concat = Concat(0, 2, 1).element()
    header = UserDataHeader((*base.elements, concat))
    return len(_pack(units, _capacity(alphabet, header.size)))


def _cheapest_national(text: str, languages: Sequence[int]) -> Encoding | None:
    # Fewest parts wins; on a tie, the earlier candidate (single shift before locking shift,
    # then the caller's order), since fewer IEs means fewer handsets that may not know them.
    best: tuple[int, int] | None = None
    chosen: Encoding | None = None
    for rank, (single, locking) in enumerate(_national_candidates(languages)):
        if not _gsm7_fits(text, single, locking):
            continue
        encoding = Encoding(Alphabet.GSM7, single, locking)
        units = _units(encode_text(text, encoding), Alphabet.GSM7)
        base = build_udh(single_shift=single, locking_shift=locking)
        cost = (_parts_needed(units, Alphabet.GSM7, base), rank)
        if best is None or cost < best:
            best, chosen = cost, encoding
    return chosen


def choose_alphabet(
    text: str, *, allow_national: Sequence[int] = (), force: Alphabet | None = None
) -> Encoding:
    """The cheapest encoding that represents `text` (digest §4.4).

    In order: the GSM 7-bit default alphabet; then national language tables from
    `allow_national` (TS 23.038 §6.2.1.2.4 ids; none by default): each language's single shift
    table, or its locking + single shift tables, whichever needs the fewest parts, a tie going
    to single shift, then to the order given; then UCS2.
    `force` overrides: GSM7 (default table, else the allowed national tables), LATIN1, IA5,
    UCS2, CYRILLIC, HEBREW, or BINARY (text as its octet view, U+0000–U+00FF).
    Raises `EncodingError` when `text` does not fit the forced alphabet, and
    `UnsupportedDataCoding` for a forced alphabet we cannot encode.
    """
    if force is None or force is Alphabet.GSM7:
        if _gsm7_fits(text, 0, 0):
            return Encoding(Alphabet.GSM7)
        chosen = _cheapest_national(text, allow_national)
        if chosen is not None:
            return chosen
        if force is Alphabet.GSM7:
            gsm7.encode(text)  # raises EncodingError naming the first unencodable character
            raise EncodingError(text=text, position=0, alphabet="GSM7")
        return Encoding(Alphabet.UCS2)
    encoding = Encoding(force)
    encode_text(text, encoding)  # raises EncodingError when the text does not fit
    return encoding


def encode_text(text: str, encoding: Encoding) -> bytes:
    """`text` in `encoding`, as SMPP carries it (GSM 7-bit: unpacked septets, escapes inline).

    Raises `EncodingError` when a character does not fit, `UnsupportedDataCoding` for an
    alphabet without an encoder here (JIS, KS C 5601, pictograms, music codes).
    """
    match encoding.alphabet:
        case Alphabet.GSM7:
            return gsm7.encode(
                text, single_shift=encoding.single_shift, locking_shift=encoding.locking_shift
            )
        case Alphabet.UCS2:
            return encode_ucs2(text)
        case Alphabet.LATIN1:
            return encode_latin1(text)
        case Alphabet.IA5:
            return encode_ia5(text)
        case Alphabet.BINARY:
            return encode_octets_from_text(text)
        case Alphabet.CYRILLIC | Alphabet.HEBREW:
            codec = "iso8859_5" if encoding.alphabet is Alphabet.CYRILLIC else "iso8859_8"
            try:
                return text.encode(codec)
            except UnicodeEncodeError as exc:
                raise EncodingError(
                    text=text, position=exc.start, alphabet=encoding.alphabet.name
                ) from exc
        case _:
            raise UnsupportedDataCoding(
                encoding.data_coding, f"no encoder for {encoding.alphabet.name}"
            )


# --- splitting -----------------------------------------------------------------------------


def _units(data: bytes, alphabet: Alphabet) -> list[bytes]:
    """The indivisible pieces of encoded user data, in order.

    GSM 7-bit: one septet, or ESC and the septet it escapes (digest §4.4: never split an
    escape). UCS2: one UTF-16 unit, or a whole surrogate pair (digest §4.2). Otherwise octets.
    """
    units: list[bytes] = []
    i, length = 0, len(data)
    if alphabet is Alphabet.GSM7:
        while i < length:
            step = 2 if data[i] == gsm7.ESC and i + 1 < length else 1
            units.append(data[i : i + step])
            i += step
    elif alphabet is Alphabet.UCS2:
        while i < length:
            step = 2
            if 0xD8 <= data[i] <= 0xDB and i + 3 < length and 0xDC <= data[i + 2] <= 0xDF:
                step = 4
            units.append(data[i : i + step])
            i += step
    else:
        units = [data[i : i + 1] for i in range(length)]
    return units


def _capacity(alphabet: Alphabet, udh_octets: int) -> int:
    """Payload room of one SMS after a UDH of `udh_octets` (UDHL included; 0 = no UDH).

    GSM 7-bit in septets: floor((140 - udh) * 8 / 7), which counts the fill bits of
    TS 23.040 §9.2.3.24 (160, 153 with a 6-octet UDH, 149 with concat + one shift table);
    UCS2 in octets, even (140, 134 = 67 units, ...); other alphabets in octets.
    """
    octets = UD_OCTETS - udh_octets
    if alphabet is Alphabet.GSM7:
        return octets * 8 // 7
    if alphabet is Alphabet.UCS2:
        return octets - octets % 2
    return octets


def _pack(units: list[bytes], capacity: int) -> list[bytes]:
    chunks: list[bytes] = []
    current = bytearray()
    for unit in units:
        if current and len(current) + len(unit) > capacity:
            chunks.append(bytes(current))
            current = bytearray()
        current += unit
    chunks.append(bytes(current))
    return chunks


def split(
    text: str | bytes,
    *,
    encoding: Encoding | None = None,
    concat: ConcatMethod | Literal["udh8", "udh16", "sar", "payload"] = ConcatMethod.UDH8,
    reference: int,
    ports: PortAddress | None = None,
    max_parts: int = 255,
) -> Segmented:
    """Encode and segment a message (TS 23.040 §9.2.3.24.1; digest §4.4, §4.5).

    `text` is a `str`, or `bytes` already encoded in `encoding` (binary when `encoding` is
    None; GSM 7-bit as unpacked septets). Without `encoding`, `choose_alphabet(text)` decides.
    A message that fits one SMS is one part without a concat IE. Otherwise every part carries
    `Concat(reference, total, sequence)`: in its UDH (udh8: IEI 0x00, 153 septets / 134 octets /
    67 UCS2 units a part; udh16: IEI 0x08, 152 / 133 / 66), or in `Part.sar` with no UDH (sar:
    sized for a 7-octet 16-bit concat UDH, since the SMSC must fit the 16-bit sar_msg_ref_num
    when it builds the header). `payload` gives one part holding everything (message_payload).
    Port addressing (IEI 0x04/0x05) and national shift IEs (0x24/0x25) go in every part's UDH
    and are counted in its size. Escapes and surrogate pairs are never split.

    Raises `MessageTooLong` beyond `max_parts` (or 65535 octets for payload), `EncodingError`
    when the text does not fit `encoding`, and ValueError for a `reference` that does not fit
    the method, or ports / shift tables with SAR (SAR carries no UDH: digest §4.5).
    """
    method = ConcatMethod(concat)
    if not 1 <= max_parts <= 0xFF:
        raise ValueError(f"max_parts {max_parts} outside 1..255 (the total is one octet)")
    bits = 8 if method is ConcatMethod.UDH8 else 16
    if not 0 <= reference < 1 << bits:
        raise ValueError(f"reference {reference} does not fit {method.value} ({bits} bits)")
    if isinstance(text, str):
        encoding = encoding or choose_alphabet(text)
        data = encode_text(text, encoding)
    else:
        encoding = encoding or Encoding(Alphabet.BINARY)
        data = bytes(text)
    single_shift, locking_shift = encoding.single_shift, encoding.locking_shift
    if method is ConcatMethod.SAR and (ports is not None or single_shift or locking_shift):
        raise ValueError("SAR parts carry no UDH: no ports or national shift tables with SAR")
    base = build_udh(ports=ports, single_shift=single_shift, locking_shift=locking_shift)
    base_udh = base if base.elements else None
    units = _units(data, encoding.alphabet)

    if method is ConcatMethod.PAYLOAD:
        part = Part(base_udh, data)
        if len(part.short_message) > PAYLOAD_MAX_OCTETS:
            raise MessageTooLong(
                size=len(part.short_message), limit=PAYLOAD_MAX_OCTETS, unit="octets"
            )
        return Segmented(encoding, (part,))

    single_capacity = _capacity(encoding.alphabet, base.size if base_udh else 0)
    if len(data) <= single_capacity:
        return Segmented(encoding, (Part(base_udh, data),))

    if method is ConcatMethod.SAR:
        header_octets = 1 + _CONCAT_IE_OCTETS[16]
    else:
        header_octets = base.size + _CONCAT_IE_OCTETS[bits]
    chunks = _pack(units, _capacity(encoding.alphabet, header_octets))
    total = len(chunks)
    if total > max_parts:
        raise MessageTooLong(size=total, limit=max_parts, unit="parts")
    parts: list[Part] = []
    for sequence, chunk in enumerate(chunks, start=1):
        info = Concat(reference, total, sequence, bits)
        if method is ConcatMethod.SAR:
            parts.append(Part(None, chunk, info))
        else:
            udh = build_udh(
                concat=info, ports=ports, single_shift=single_shift, locking_shift=locking_shift
            )
            parts.append(Part(udh, chunk))
    return Segmented(encoding, tuple(parts))


# --- reassembly ----------------------------------------------------------------------------


class ExpiryReason(enum.Enum):
    """Why `Reassembler.expire` hands back an incomplete message."""

    TIMEOUT = "timeout"  # `timeout` seconds since its first part
    EVICTED = "evicted"  # `max_pending` reached; the oldest pending message made room
    REPLACED = "replaced"  # a part with the same sequence number but other content arrived


@dataclass(frozen=True, slots=True, kw_only=True)
class Incomplete:
    """A message given up on: the parts it had, in sequence order."""

    key: Hashable
    reference: int
    total: int
    parts: tuple[tuple[int, bytes], ...]  # (sequence, payload)
    first_seen: float
    reason: ExpiryReason

    @property
    def missing(self) -> tuple[int, ...]:
        """The sequence numbers that never arrived."""
        have = {sequence for sequence, _ in self.parts}
        return tuple(n for n in range(1, self.total + 1) if n not in have)


@dataclass(slots=True)
class _Pending:
    first_seen: float
    parts: dict[int, bytes]


_Key = tuple[Hashable, int, int]


class Reassembler:
    """Joins concatenated parts back into whole payloads. Sans-IO: time comes in as `now`.

    A message is identified by the caller's `key` (e.g. source and destination address) plus
    the concat reference and total (digest §4.5). Parts may arrive in any order. Policies:

    - A duplicate part with the same content is ignored, also for `timeout` seconds after its
      message completed (an SMSC retransmitting a deliver_sm whose response was lost).
    - A part with a known sequence number but different content means the reference was
      reused: the pending message is handed back by `expire()` as REPLACED and a new one
      starts with this part.
    - After `timeout` seconds from its first part, `expire()` hands back a pending message
      with the parts it has (TIMEOUT); delivering them or reporting failure is the caller's
      policy.
    - At most `max_pending` messages are held; a new one evicts the oldest (EVICTED).
      Given-up messages wait for `expire()`, at most `max_pending` of them; `dropped` counts
      any beyond that.
    """

    def __init__(self, *, timeout: float = 180.0, max_pending: int = 10_000) -> None:
        if timeout <= 0 or max_pending < 1:
            raise ValueError("timeout must be positive and max_pending at least 1")
        self.timeout = timeout
        self.max_pending = max_pending
        self.dropped = 0
        self._pending: dict[_Key, _Pending] = {}
        self._completed: dict[_Key, tuple[float, dict[int, bytes]]] = {}
        self._given_up: deque[Incomplete] = deque()

    @property
    def pending(self) -> int:
        """Messages waiting for parts."""
        return len(self._pending)

    def add(self, key: Hashable, concat: Concat, payload: bytes, *, now: float) -> bytes | None:
        """Add one part; returns the whole payload (parts joined in order) once complete."""
        payload = bytes(payload)
        if concat.total == 1:
            return payload
        full_key: _Key = (key, concat.reference, concat.total)
        done = self._completed.get(full_key)
        if done is not None:
            if done[1].get(concat.sequence) == payload:
                return None  # a retransmitted part of a message already delivered
            del self._completed[full_key]
        entry = self._pending.get(full_key)
        if entry is not None:
            known = entry.parts.get(concat.sequence)
            if known == payload:
                return None
            if known is not None:
                del self._pending[full_key]
                self._give_up(full_key, entry, ExpiryReason.REPLACED)
                entry = None
        if entry is None:
            if len(self._pending) >= self.max_pending:
                oldest = next(iter(self._pending))
                self._give_up(oldest, self._pending.pop(oldest), ExpiryReason.EVICTED)
            entry = self._pending[full_key] = _Pending(now, {})
        entry.parts[concat.sequence] = payload
        if len(entry.parts) < concat.total:
            return None
        del self._pending[full_key]
        if len(self._completed) >= self.max_pending:
            del self._completed[next(iter(self._completed))]
        self._completed[full_key] = (now, entry.parts)
        return b"".join(entry.parts[n] for n in range(1, concat.total + 1))

    def expire(self, *, now: float) -> list[Incomplete]:
        """Messages given up on since the last call: timed out, evicted or replaced."""
        deadline = now - self.timeout
        for full_key in [k for k, e in self._pending.items() if e.first_seen <= deadline]:
            self._give_up(full_key, self._pending.pop(full_key), ExpiryReason.TIMEOUT)
        for full_key in [k for k, (t, _) in self._completed.items() if t <= deadline]:
            del self._completed[full_key]
        given_up = list(self._given_up)
        self._given_up.clear()
        return given_up

    def next_deadline(self) -> float | None:
        """When `expire()` next has something to hand back (same clock as `now`), or None."""
        if self._given_up:
            return self._given_up[0].first_seen
        if not self._pending:
            return None
        return min(entry.first_seen for entry in self._pending.values()) + self.timeout

    def _give_up(self, full_key: _Key, entry: _Pending, reason: ExpiryReason) -> None:
        if len(self._given_up) >= self.max_pending:
            self._given_up.popleft()
            self.dropped += 1
        key, reference, total = full_key
        self._given_up.append(
            Incomplete(
                key=key,
                reference=reference,
                total=total,
                parts=tuple(sorted(entry.parts.items())),
                first_seen=entry.first_seen,
                reason=reason,
            )
        )
