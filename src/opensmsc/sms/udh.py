"""The TP User Data Header (TS 23.040 §9.2.3.24): parse and build.

What this module is for: the octets at the start of short_message when esm_class has UDHI
(0x40) set: UDHL, then information elements `IEI, IEDL, data`. It understands concatenation
(IEI 0x00 and 0x08), application port addressing (0x04 and 0x05, e.g. WAP push on 2948 and
WV/IMPS on 3590) and the national language shift IEs (0x24, 0x25); every other IE is kept raw
and re-encoded unchanged. It does not split or join messages (that is `sms.segment`).

Parsing is strict about structure and lenient about content. A header that does not fit its
octets (UDHL beyond the data, an IE overrunning the UDHL) raises `UdhError`, the only exception
`parse_udh` raises; TS 23.040 §9.2.3.24 has the receiver ignore such a header, and the caller
decides what that means for the message. An IE whose content is unusable (a known IE with the
wrong IEDL, a concat IE with total or sequence 0 or a sequence beyond the total, which
§9.2.3.24.1 says to ignore) is kept as a raw element and ignored by the `concat`, `ports` and
shift properties.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

from ..errors import OpensmscError

__all__ = [
    "Concat",
    "Iei",
    "InformationElement",
    "PortAddress",
    "UdhError",
    "UserDataHeader",
    "build_udh",
    "parse_udh",
]


class Iei(enum.IntEnum):
    """Information element identifiers of TS 23.040 §9.2.3.24 that opensmsc interprets."""

    CONCAT_8BIT = 0x00  # concatenated short messages, 8-bit reference
    SPECIAL_SMS_INDICATION = 0x01
    PORT_8BIT = 0x04  # application port addressing, 8-bit addresses
    PORT_16BIT = 0x05  # application port addressing, 16-bit addresses
    CONCAT_16BIT = 0x08  # concatenated short messages, 16-bit reference
    NATIONAL_SINGLE_SHIFT = 0x24  # TS 23.040 §9.2.3.24.15
    NATIONAL_LOCKING_SHIFT = 0x25  # TS 23.040 §9.2.3.24.16


class UdhError(OpensmscError):
    """A User Data Header whose structure does not fit its octets.

    `data` is the input as given, `offset` where the problem was found.
    """

    def __init__(self, message: str, *, data: bytes, offset: int) -> None:
        self.data = data
        self.offset = offset
        super().__init__(f"UDH {data[:16].hex(' ')}: {message} (offset {offset})")


@dataclass(frozen=True, slots=True)
class InformationElement:
    """One IE: identifier and data (the IEDL octet is derived from the data)."""

    iei: int
    data: bytes

    def __post_init__(self) -> None:
        if not 0 <= self.iei <= 0xFF:
            raise ValueError(f"IEI {self.iei} is not an octet")
        if len(self.data) > 0xFF:
            raise ValueError(f"IE 0x{self.iei:02X}: {len(self.data)} data octets, IEDL max 255")

    def encode(self) -> bytes:
        """`IEI, IEDL, data`."""
        return bytes((self.iei, len(self.data))) + self.data


@dataclass(frozen=True, slots=True)
class Concat:
    """Concatenation info (TS 23.040 §9.2.3.24.1 / .8), also what the sar_* TLVs carry.

    `sequence` is 1-based. Raises ValueError unless 1 <= sequence <= total <= 255 and the
    reference fits `reference_bits` (8 or 16).
    """

    reference: int
    total: int
    sequence: int
    reference_bits: int = 8

    def __post_init__(self) -> None:
        if self.reference_bits not in (8, 16):
            raise ValueError(f"reference_bits must be 8 or 16, not {self.reference_bits}")
        if not 0 <= self.reference < 1 << self.reference_bits:
            raise ValueError(f"reference {self.reference} does not fit {self.reference_bits} bits")
        if not 1 <= self.sequence <= self.total <= 0xFF:
            raise ValueError(f"need 1 <= sequence ({self.sequence}) <= total ({self.total}) <= 255")

    def element(self) -> InformationElement:
        """IEI 0x00 `ref, total, seq` or IEI 0x08 `ref(BE16), total, seq`."""
        if self.reference_bits == 8:
            return InformationElement(
                Iei.CONCAT_8BIT, bytes((self.reference, self.total, self.sequence))
            )
        return InformationElement(
            Iei.CONCAT_16BIT,
            self.reference.to_bytes(2, "big") + bytes((self.total, self.sequence)),
        )


@dataclass(frozen=True, slots=True)
class PortAddress:
    """Application port addressing (TS 23.040 §9.2.3.24.3 / .4).

    `bits=16` gives IEI 0x05 (e.g. WAP push 2948, WV/IMPS 3590), `bits=8` IEI 0x04.
    Raises ValueError if a port does not fit.
    """

    destination: int
    originator: int
    bits: int = 16

    def __post_init__(self) -> None:
        if self.bits not in (8, 16):
            raise ValueError(f"port bits must be 8 or 16, not {self.bits}")
        for port in (self.destination, self.originator):
            if not 0 <= port < 1 << self.bits:
                raise ValueError(f"port {port} does not fit {self.bits} bits")

    def element(self) -> InformationElement:
        """IEI 0x04 `dest, orig` or IEI 0x05 `dest(BE16), orig(BE16)`."""
        if self.bits == 8:
            return InformationElement(Iei.PORT_8BIT, bytes((self.destination, self.originator)))
        return InformationElement(
            Iei.PORT_16BIT,
            self.destination.to_bytes(2, "big") + self.originator.to_bytes(2, "big"),
        )


def _concat_from(element: InformationElement) -> Concat | None:
    data = element.data
    if element.iei == Iei.CONCAT_8BIT and len(data) == 3:
        reference, total, sequence, bits = data[0], data[1], data[2], 8
    elif element.iei == Iei.CONCAT_16BIT and len(data) == 4:
        reference, total, sequence, bits = (data[0] << 8) | data[1], data[2], data[3], 16
    else:
        return None
    # TS 23.040 §9.2.3.24.1: total 0, sequence 0 or sequence > total: ignore the whole IE.
    if not 1 <= sequence <= total:
        return None
    return Concat(reference, total, sequence, bits)


def _ports_from(element: InformationElement) -> PortAddress | None:
    data = element.data
    if element.iei == Iei.PORT_8BIT and len(data) == 2:
        return PortAddress(data[0], data[1], 8)
    if element.iei == Iei.PORT_16BIT and len(data) == 4:
        return PortAddress((data[0] << 8) | data[1], (data[2] << 8) | data[3], 16)
    return None


@dataclass(frozen=True, slots=True)
class UserDataHeader:
    """A parsed or built UDH: its IEs in wire order, duplicates kept.

    The properties read the interpreted IEs. Where an IE occurs more than once the last usable
    occurrence wins (TS 23.040 §9.2.3.24: the receiving entity uses the last occurrence).
    """

    elements: tuple[InformationElement, ...] = ()

    @property
    def concat(self) -> Concat | None:
        """Concatenation info from IEI 0x00 or 0x08, or None."""
        found = None
        for element in self.elements:
            found = _concat_from(element) or found
        return found

    @property
    def ports(self) -> PortAddress | None:
        """Application ports from IEI 0x04 or 0x05, or None."""
        found = None
        for element in self.elements:
            found = _ports_from(element) or found
        return found

    @property
    def single_shift(self) -> int:
        """National language id of the single shift table (IEI 0x24); 0 when absent."""
        return self._language(Iei.NATIONAL_SINGLE_SHIFT)

    @property
    def locking_shift(self) -> int:
        """National language id of the locking shift table (IEI 0x25); 0 when absent."""
        return self._language(Iei.NATIONAL_LOCKING_SHIFT)

    def _language(self, iei: Iei) -> int:
        found = 0
        for element in self.elements:
            if element.iei == iei and len(element.data) == 1:
                found = element.data[0]
        return found

    @property
    def size(self) -> int:
        """Octets on the wire, the UDHL octet included (UDHL + 1)."""
        return 1 + sum(2 + len(element.data) for element in self.elements)

    def encode(self) -> bytes:
        """UDHL followed by the IEs. Raises ValueError if the IEs exceed 255 octets."""
        body = b"".join(element.encode() for element in self.elements)
        if len(body) > 0xFF:
            raise ValueError(f"UDH of {len(body)} octets does not fit the one-octet UDHL")
        return bytes((len(body),)) + body


def parse_udh(data: bytes) -> tuple[UserDataHeader, bytes]:
    """Split user data that starts with a UDH into (header, the rest).

    Raises `UdhError` when there is no UDHL octet, the UDHL runs past the data, or an IE runs
    past the UDHL; nothing else, on any input.
    """
    data = bytes(data)
    if not data:
        raise UdhError("no UDHL octet", data=data, offset=0)
    end = 1 + data[0]
    if end > len(data):
        raise UdhError(f"UDHL {data[0]} runs past {len(data)} octets", data=data, offset=0)
    elements: list[InformationElement] = []
    offset = 1
    while offset < end:
        if offset + 2 > end:
            raise UdhError("IE header cut off by the UDHL", data=data, offset=offset)
        iei, iedl = data[offset], data[offset + 1]
        if offset + 2 + iedl > end:
            raise UdhError(
                f"IE 0x{iei:02X} with IEDL {iedl} runs past the UDHL", data=data, offset=offset
            )
        elements.append(InformationElement(iei, data[offset + 2 : offset + 2 + iedl]))
        offset += 2 + iedl
    return UserDataHeader(tuple(elements)), data[end:]


def build_udh(
    *,
    concat: Concat | None = None,
    ports: PortAddress | None = None,
    single_shift: int = 0,
    locking_shift: int = 0,
    extra: Iterable[InformationElement] = (),
) -> UserDataHeader:
    """A UDH with the given IEs, in the order ports, concat, shifts, `extra`.

    Ports come first as in the usual WAP push header `0B 05 04 0B 84 23 F0 00 03 ...`; the order
    has no meaning to a receiver. A shift of 0 (the default table) adds no IE.
    """
    elements: list[InformationElement] = []
    if ports is not None:
        elements.append(ports.element())
    if concat is not None:
        elements.append(concat.element())
    if single_shift:
        elements.append(InformationElement(Iei.NATIONAL_SINGLE_SHIFT, bytes((single_shift,))))
    if locking_shift:
        elements.append(InformationElement(Iei.NATIONAL_LOCKING_SHIFT, bytes((locking_shift,))))
    elements.extend(extra)
    return UserDataHeader(tuple(elements))
