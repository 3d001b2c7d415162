"""Mobile number portability (3GPP TS 23.066; DIGEST §6.3): which numbers left the network
holding their range, where they went, and what SMPP 5.0 says about it.

What this is for: `PortabilityTable` holds ported MSISDNs → the recipient network (MCC-MNC) and
an optional routing number, loaded from a CSV file or the config and changed at runtime.
`NumberPortability.lookup` answers from it through a bounded LRU cache (a real MNP database, an
SRF or ENUM, is remote and slow; the cache keeps the seam honest). The HLR applies the result
(a ported number answers with the recipient network's IMSI), routing uses `recipient_network`,
and `np_tlvs` fills dest_addr_np_resolution / _information / _country (SMPP 5.0 §4.8.4.21-23).

CSV format (UTF-8, header row; `msisdn` and `recipient_network` required):

| column | example | meaning |
|---|---|---|
| msisdn | +447700900123 | the ported number (numbering.py rules) |
| recipient_network | 23410 | MCC-MNC the number is ported to (5 or 6 digits) |
| routing_number | 4410 | the routing number (prefix) of the recipient network, 1 to 10 digits |

What it is not: the subscriber data (subscribers.py) or routing policy (routing/).
"""

from __future__ import annotations

import contextlib
import csv
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path
from typing import Final

from opensmsc.routing.numbering import (
    InvalidNumber,
    NumberDataError,
    Numbering,
    country_code,
    parse_mcc_mnc,
)
from opensmsc.smpp import Tag, Tlvs

__all__ = [
    "NpResolution",
    "NumberPortability",
    "PortabilityResult",
    "PortabilityTable",
    "PortingRecord",
    "np_tlvs",
    "np_tlvs_for",
]

_NP_INFORMATION_SIZE: Final = 10  # dest_addr_np_information: a 10-octet Octet String


class NpResolution(IntEnum):
    """dest_addr_np_resolution (SMPP 5.0 §4.8.4.21)."""

    NOT_PERFORMED = 0  # no query was made
    NOT_PORTED = 1  # queried: the number is not ported
    PORTED = 2  # queried: the number is ported


@dataclass(frozen=True, slots=True)
class PortingRecord:
    """One ported number: `recipient_network` MCC-MNC, `routing_number` digits ("" if none)."""

    msisdn: int
    recipient_network: str
    routing_number: str = ""

    def __post_init__(self) -> None:
        parse_mcc_mnc(self.recipient_network)
        if self.routing_number and not (
            self.routing_number.isascii()
            and self.routing_number.isdigit()
            and len(self.routing_number) <= _NP_INFORMATION_SIZE
        ):
            raise ValueError(
                f"routing_number: expected 1 to 10 digits, got {self.routing_number!r}"
            )


@dataclass(frozen=True, slots=True)
class PortabilityResult:
    """The answer of a portability query for `msisdn`."""

    msisdn: int
    resolution: NpResolution
    recipient_network: str | None = None
    routing_number: str = ""

    @property
    def ported(self) -> bool:
        return self.resolution is NpResolution.PORTED


class PortabilityTable:
    """Ported MSISDN → (recipient network, routing number), stored compactly (an int key and
    one packed int per number; networks and routing numbers interned) since a porting country
    has millions of ported numbers. `version` changes on every change, for caches."""

    def __init__(self, *, numbering: Numbering | None = None) -> None:
        self._numbering = numbering or Numbering()
        self._ported: dict[int, int] = {}  # msisdn → network_id << 16 | routing_id
        self._values: list[str] = [""]  # interned networks and routing numbers; 0 is ""
        self._value_ids: dict[str, int] = {"": 0}
        self.version = 0

    @property
    def numbering(self) -> Numbering:
        return self._numbering

    def __len__(self) -> int:
        return len(self._ported)

    def __iter__(self) -> Iterator[PortingRecord]:
        for key, packed in list(self._ported.items()):
            yield self._record(key, packed)

    def get(self, msisdn: str | int) -> PortingRecord | None:
        """The porting record of a number, or None when it is not ported. Raises InvalidNumber."""
        key = self._numbering.normalise(msisdn)
        packed = self._ported.get(key)
        return None if packed is None else self._record(key, packed)

    def put(self, msisdn: str | int, recipient_network: str, routing_number: str = "") -> None:
        """Record (or replace) a ported number. Raises InvalidNumber or ValueError."""
        key = self._numbering.normalise(msisdn)
        record = PortingRecord(key, parse_mcc_mnc(recipient_network), routing_number)
        self._ported[key] = self._pack(record)
        self.version += 1

    def remove(self, msisdn: str | int) -> bool:
        """Forget a ported number (ported back home); False when it was not there."""
        found = self._ported.pop(self._numbering.normalise(msisdn), None) is not None
        if found:
            self.version += 1
        return found

    def load_csv(self, path: Path | str) -> int:
        """Add every row of a CSV file (format in the module docstring); all or nothing.
        Raises NumberDataError naming the file, line and column."""
        path = Path(path)
        where = str(path)
        staged: dict[int, PortingRecord] = {}
        try:
            handle = path.open(newline="", encoding="utf-8-sig")
        except OSError as exc:
            raise NumberDataError(f"cannot read: {exc.strerror}", path=where) from exc
        with handle:
            reader = csv.reader(handle)
            header = [name.strip().lower() for name in next(reader, [])]
            known = ("msisdn", "recipient_network", "routing_number")
            for name in header:
                if name not in known:
                    raise NumberDataError(
                        f"unknown column {name!r}; expected some of: {', '.join(known)}",
                        path=where,
                        line=1,
                    )
            if "msisdn" not in header or "recipient_network" not in header:
                raise NumberDataError(
                    "expected a header with msisdn and recipient_network", path=where, line=1
                )
            p_msisdn = header.index("msisdn")
            p_network = header.index("recipient_network")
            p_routing = header.index("routing_number") if "routing_number" in header else None
            column = ""
            try:
                for row in reader:
                    if not row or (len(row) == 1 and not row[0].strip()):
                        continue
                    if len(row) != len(header):
                        column = ""
                        raise ValueError(f"{len(row)} fields, expected {len(header)}")
                    column = "msisdn"
                    key = self._numbering.normalise(row[p_msisdn].strip())
                    if key in staged:
                        raise ValueError(f"+{key} appears twice in the file")
                    column = "recipient_network"
                    network = parse_mcc_mnc(row[p_network])
                    column = "routing_number"
                    routing = row[p_routing].strip() if p_routing is not None else ""
                    staged[key] = PortingRecord(key, network, routing)
            except csv.Error as exc:
                raise NumberDataError(str(exc), path=where, line=reader.line_num) from exc
            except ValueError as exc:
                raise NumberDataError(
                    str(exc), path=where, line=reader.line_num, key=column
                ) from exc
        for key, record in staged.items():
            self._ported[key] = self._pack(record)
        self.version += 1
        return len(staged)

    def _intern(self, value: str) -> int:
        found = self._value_ids.get(value)
        if found is None:
            found = self._value_ids[value] = len(self._values)
            self._values.append(value)
        return found

    def _pack(self, record: PortingRecord) -> int:
        return self._intern(record.recipient_network) << 16 | self._intern(record.routing_number)

    def _record(self, key: int, packed: int) -> PortingRecord:
        return PortingRecord(key, self._values[packed >> 16], self._values[packed & 0xFFFF])


class NumberPortability:
    """Portability queries through a bounded LRU cache in front of a `PortabilityTable`. A change
    to the table (its `version`) empties the cache, so an answer is never stale."""

    def __init__(self, table: PortabilityTable, *, cache_size: int = 10_000) -> None:
        if cache_size < 0:
            raise ValueError("cache_size must not be negative")
        self.table = table
        self._cache_size = cache_size
        self._cache: OrderedDict[int, PortabilityResult] = OrderedDict()
        self._version = table.version
        self.hits = 0
        self.misses = 0

    def lookup(self, msisdn: str | int) -> PortabilityResult:
        """Ported or not (resolution NOT_PORTED / PORTED). Raises InvalidNumber."""
        key = self.table.numbering.normalise(msisdn)
        if self._version != self.table.version:
            self._cache.clear()
            self._version = self.table.version
        cached = self._cache.get(key)
        if cached is not None:
            self.hits += 1
            self._cache.move_to_end(key)
            return cached
        self.misses += 1
        record = self.table.get(key)
        if record is None:
            result = PortabilityResult(key, NpResolution.NOT_PORTED)
        else:
            result = PortabilityResult(
                key, NpResolution.PORTED, record.recipient_network, record.routing_number
            )
        if self._cache_size:
            self._cache[key] = result
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return result

    def clear_cache(self) -> None:
        self._cache.clear()

    @property
    def cached(self) -> int:
        """How many answers the cache holds."""
        return len(self._cache)


def np_tlvs(result: PortabilityResult | None) -> Tlvs:
    """The SMPP 5.0 number portability TLVs for a delivery (SMPP 5.0 §4.8.4.21-23).

    None (no query made) gives dest_addr_np_resolution 0 alone. Otherwise resolution 1 or 2,
    dest_addr_np_country the E.164 country code (an Integer of 5 octets) and, for a ported
    number with a routing number, dest_addr_np_information: the routing number's ASCII digits,
    NUL-padded to the TLV's fixed 10 octets."""
    if result is None:
        return Tlvs(((int(Tag.DEST_ADDR_NP_RESOLUTION), int(NpResolution.NOT_PERFORMED)),))
    items: list[tuple[int, int | bytes]] = [
        (int(Tag.DEST_ADDR_NP_RESOLUTION), int(result.resolution))
    ]
    if result.ported and result.routing_number:
        info = result.routing_number.encode("ascii").ljust(_NP_INFORMATION_SIZE, b"\0")
        items.append((int(Tag.DEST_ADDR_NP_INFORMATION), info))
    with contextlib.suppress(InvalidNumber):  # no country code to give: leave the TLV out
        items.append((int(Tag.DEST_ADDR_NP_COUNTRY), country_code(result.msisdn)))
    return Tlvs(items)


def np_tlvs_for(portability: NumberPortability) -> Callable[[str], Tlvs]:
    """destination_addr → the number portability TLVs of a delivery, for routes that hand a
    message on (an upstream connector). A destination that is not an E.164 number gets no
    query and dest_addr_np_resolution 0."""

    def lookup(destination_addr: str) -> Tlvs:
        try:
            return np_tlvs(portability.lookup(destination_addr))
        except InvalidNumber:
            return np_tlvs(None)

    return lookup
