"""The simulated HLR's subscriber data: who exists, where they are served, what state they are in.

What this is for: `SubscriberTable` maps an MSISDN (E.164, see numbers.py) to a `Subscriber`
record: IMSI, home network, serving MSC, state, ported-to network, latency and failure
probability. It is loaded from a CSV file or the config (`[[network.subscribers]]`) and changed
at runtime (`add`, `change`, `remove`) by the CLI and the HTTP admin interface. Numbers not in
the table get a record made from the longest matching `PrefixDefault` (`resolve`).

What it is not: MAP behaviour. Which error a state produces, message-waiting data and alerts
belong to hlr.py; portability data to mnp.py.

Scale (issue 6: a million subscribers load in under 30 s, under 500 MiB, lookups under 50 µs):
a row is not a Python object. The table keeps one dict from the MSISDN (an int) to a row
number, and parallel `array`s per column (IMSI as an int with a leading 1 so that its leading
zeros survive, networks and latency profiles interned to 16-bit ids, the state in one octet):
about 24 octets a row plus about 100 octets of dict entry and int keys. A `Subscriber` is built
only when asked for. CSV numbers in "+digits" or bare-digit form skip `phonenumbers`
(numbers.py explains the fast path); `bench/hlr.py` measures all three bars.

CSV format (UTF-8, a header row naming the columns, in any order; only `msisdn` is required;
an empty cell or a missing column takes the value of the number's prefix default):

| column | example | meaning |
|---|---|---|
| msisdn | +447700900123 | E.164 ('+', '00' or bare digits), or national with a 0 (numbers.py) |
| imsi | 234150000000123 | 6 to 15 digits; empty: made from the subscription network + MSISDN |
| home_network | 23415 | MCC-MNC (5 or 6 digits: a 2- or 3-digit MNC) owning the number range |
| msc_address | 447700000001 | serving MSC/VLR E.164 global title |
| state | attached | a SubscriberState value |
| ported_to | 23410 | MCC-MNC of the recipient network when the number is ported out |
| serving_network | 20801 | MCC-MNC of a visited network when roaming |
| latency | normal:40:10 | fixed:<ms>, uniform:<low ms>:<high ms> or normal:<mean ms>:<stddev ms> |
| failure_probability | 0.01 | 0..1, chance of a random systemFailure in realistic mode |
| absent_diagnostic | 1 | absentSubscriberDiagnosticSM reported when absent (1: IMSI detached) |
"""

from __future__ import annotations

import csv
import math
import random
import re
from array import array
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from enum import Enum
from pathlib import Path
from typing import Final, Literal

from opensmsc.errors import ConfigError, OpensmscError
from opensmsc.network.map_errors import AbsentDiagnostic
from opensmsc.routing.numbering import InvalidNumber, Numbering, country_code

__all__ = [
    "CSV_COLUMNS",
    "DEFAULT_NETWORK",
    "DuplicateSubscriber",
    "Latency",
    "PrefixDefault",
    "Subscriber",
    "SubscriberDataError",
    "SubscriberNotFound",
    "SubscriberState",
    "SubscriberTable",
    "make_imsi",
    "parse_network",
]

DEFAULT_NETWORK: Final = "00101"  # MCC 001 MNC 01: the ITU-T E.212 test network


class SubscriberState(Enum):
    """What the network knows of a subscriber; hlr.py maps each to its MAP answer.

    The first seven are issue 6's states. The others exist so that every MAP error of DIGEST
    §6.2 can be produced on demand; rarer ones (absentSubscriber 27, messageWaitingListFull,
    other sm-DeliveryFailure causes) come from `SimulatedHlr.inject`.
    """

    ATTACHED = "attached"  # reachable: SRI-SM answers, MT-ForwardSM delivers
    ABSENT = "absent"  # detached / not reachable: absentSubscriberSM (6) with a diagnostic
    MEMORY_FULL = "memory_full"  # SRI-SM answers; MT-ForwardSM: sm-DeliveryFailure cause 0
    BUSY = "busy"  # subscriberBusyForMT-SMS (31)
    BARRED = "barred"  # callBarred (13)
    UNKNOWN = "unknown"  # unknownSubscriber (1)
    NOT_PROVISIONED = "not_provisioned_for_sms"  # teleserviceNotProvisioned (11)
    FACILITY_NOT_SUPPORTED = "facility_not_supported"  # facilityNotSupported (21), at SRI-SM
    SYSTEM_FAILURE = "system_failure"  # systemFailure (34) on every SRI-SM
    DATA_MISSING = "data_missing"  # dataMissing (35), at SRI-SM
    UNEXPECTED_DATA_VALUE = "unexpected_data_value"  # unexpectedDataValue (36), at SRI-SM
    UNIDENTIFIED = "unidentified"  # unidentifiedSubscriber (5), at MT-ForwardSM
    ILLEGAL_SUBSCRIBER = "illegal_subscriber"  # illegalSubscriber (9), at MT-ForwardSM
    ILLEGAL_EQUIPMENT = "illegal_equipment"  # illegalEquipment (12), at MT-ForwardSM
    NOT_SM_EQUIPPED = "not_sm_equipped"  # sm-DeliveryFailure cause 2, at MT-ForwardSM

    @property
    def is_reachable(self) -> bool:
        """The handset can be paged: an alert for a waiting subscriber may follow."""
        return self in _REACHABLE


_REACHABLE: Final = frozenset(
    {SubscriberState.ATTACHED, SubscriberState.BUSY, SubscriberState.MEMORY_FULL}
)
_STATES: Final = tuple(SubscriberState)
_STATE_INDEX: Final = {state: index for index, state in enumerate(_STATES)}
_STATE_BY_VALUE: Final = {state.value: state for state in _STATES}


class SubscriberNotFound(OpensmscError, LookupError):
    """`change` or `remove` of a number that is not in the table."""

    def __init__(self, msisdn: int) -> None:
        self.msisdn = msisdn
        super().__init__(f"+{msisdn} is not in the subscriber table")


class DuplicateSubscriber(OpensmscError, ValueError):
    """`add` of a number already in the table (use `change`, or `replace=True`)."""

    def __init__(self, msisdn: int) -> None:
        self.msisdn = msisdn
        super().__init__(f"+{msisdn} is already in the subscriber table")


class SubscriberDataError(ConfigError):
    """A bad row in a subscriber or portability CSV: the file, the line and the column."""


_LATENCY_RE: Final = re.compile(
    r"(fixed):(\d+(?:\.\d+)?)|(uniform|normal):(\d+(?:\.\d+)?):(\d+(?:\.\d+)?)"
)


@dataclass(frozen=True, slots=True)
class Latency:
    """A response-time distribution, in milliseconds. fixed: `a_ms`; uniform: between `a_ms`
    and `b_ms`; normal: mean `a_ms`, standard deviation `b_ms` (cut at 0)."""

    kind: Literal["fixed", "uniform", "normal"] = "fixed"
    a_ms: float = 0.0
    b_ms: float = 0.0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.a_ms) and math.isfinite(self.b_ms)):
            raise ValueError("latency values must be finite")
        if self.a_ms < 0 or self.b_ms < 0:
            raise ValueError("latency values must not be negative")
        if self.kind == "uniform" and self.b_ms < self.a_ms:
            raise ValueError("uniform latency: high below low")

    @classmethod
    def parse(cls, text: str) -> Latency:
        """ "fixed:20", "uniform:10:50", "normal:40:10" (ms). Raises ValueError."""
        match = _LATENCY_RE.fullmatch(text.strip())
        if match is None:
            raise ValueError(
                f"expected fixed:<ms>, uniform:<low>:<high> or normal:<mean>:<stddev>, got {text!r}"
            )
        if match[1]:
            return cls("fixed", float(match[2]))
        kind: Literal["uniform", "normal"] = "uniform" if match[3] == "uniform" else "normal"
        return cls(kind, float(match[4]), float(match[5]))

    def sample(self, rng: random.Random) -> float:
        """One response time in seconds, never negative."""
        if self.kind == "fixed":
            ms = self.a_ms
        elif self.kind == "uniform":
            ms = rng.uniform(self.a_ms, self.b_ms)
        else:
            ms = max(0.0, rng.gauss(self.a_ms, self.b_ms))
        return ms / 1000.0

    def __str__(self) -> str:
        if self.kind == "fixed":
            return f"fixed:{self.a_ms:g}"
        return f"{self.kind}:{self.a_ms:g}:{self.b_ms:g}"


_NETWORK_RE: Final = re.compile(r"[0-9]{5,6}")
_DIGITS_RE: Final = re.compile(r"[0-9]{1,15}")


def parse_network(text: str) -> str:
    """An MCC-MNC: 5 digits (2-digit MNC) or 6 (3-digit MNC); "234-15" is read as "23415".
    Raises ValueError."""
    compact = text.strip().replace("-", "")
    if _NETWORK_RE.fullmatch(compact) is None:
        raise ValueError(f"expected an MCC-MNC of 5 or 6 digits, got {text!r}")
    return compact


def _digits(text: str, what: str, minimum: int) -> str:
    compact = text.strip().lstrip("+")
    if _DIGITS_RE.fullmatch(compact) is None or len(compact) < minimum:
        raise ValueError(f"expected {what} of {minimum} to 15 digits, got {text!r}")
    return compact


def _probability(value: float) -> float:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"expected a probability from 0 to 1, got {value!r}")
    return value


@dataclass(frozen=True, slots=True)
class PrefixDefault:
    """What a number starting with `prefix` (E.164 digits; "" matches every number) is, when it
    is not in the table; also the value of every column a table row leaves empty. The longest
    matching prefix wins."""

    prefix: str = ""
    state: SubscriberState = SubscriberState.ATTACHED
    home_network: str = DEFAULT_NETWORK
    msc_address: str = ""  # "": the country code followed by 9000000 (a placeholder GT)
    ported_to: str | None = None
    serving_network: str | None = None
    latency: Latency = Latency()
    failure_probability: float = 0.0
    absent_diagnostic: int = int(AbsentDiagnostic.IMSI_DETACHED)

    def __post_init__(self) -> None:
        if self.prefix and _DIGITS_RE.fullmatch(self.prefix) is None:
            raise ValueError(f"prefix: expected up to 15 digits, got {self.prefix!r}")
        parse_network(self.home_network)
        _probability(self.failure_probability)


@dataclass(frozen=True, slots=True)
class Subscriber:
    """One subscriber as the HLR sees it. `msisdn` is the E.164 number as an int; `listed` is
    False for a record made from a prefix default."""

    msisdn: int
    imsi: str
    home_network: str  # MCC-MNC holding the number range (the donor network once ported)
    msc_address: str  # serving MSC/VLR global title, E.164 digits
    state: SubscriberState
    ported_to: str | None = None  # MCC-MNC of the recipient network
    serving_network: str | None = None  # MCC-MNC of the visited network when roaming
    latency: Latency = Latency()
    failure_probability: float = 0.0
    absent_diagnostic: int = int(AbsentDiagnostic.IMSI_DETACHED)
    listed: bool = True

    @property
    def e164(self) -> str:
        """ "+447700900123"."""
        return f"+{self.msisdn}"

    @property
    def subscription_network(self) -> str:
        """The network whose IMSI the subscriber holds: the recipient network when ported."""
        return self.ported_to or self.home_network

    @property
    def visited_network(self) -> str:
        """The network serving the subscriber now: the visited one when roaming."""
        return self.serving_network or self.subscription_network


def make_imsi(network: str, msisdn: int) -> str:
    """A stable made-up IMSI (E.212, 15 digits): the network's MCC-MNC, then the MSISDN's last
    digits as the MSIN, for subscribers whose IMSI nobody gave."""
    width = 15 - len(network)
    return network + str(msisdn)[-width:].rjust(width, "0")


def _placeholder_msc(msisdn: int) -> str:
    try:
        return f"{country_code(msisdn)}9000000"
    except InvalidNumber:
        return "19000000"


CSV_COLUMNS: Final = (
    "msisdn",
    "imsi",
    "home_network",
    "msc_address",
    "state",
    "ported_to",
    "serving_network",
    "latency",
    "failure_probability",
    "absent_diagnostic",
)
_NONE: Final = 0  # id 0 of the interned networks: no network


class SubscriberTable:
    """MSISDN → Subscriber, compact enough for millions of rows (see the module docstring).

    Every method taking a number accepts any form `Numbering.normalise` reads, or the E.164 int,
    and raises InvalidNumber for anything else. Not thread-safe: one event loop owns it.
    """

    def __init__(
        self, *, numbering: Numbering | None = None, defaults: Iterable[PrefixDefault] = ()
    ) -> None:
        self._numbering = numbering or Numbering()
        self._reset()
        self._defaults: dict[str, PrefixDefault] = {}
        self._default_lengths: tuple[int, ...] = ()
        self.set_defaults(defaults)

    def _reset(self) -> None:
        self._index: dict[int, int] = {}  # msisdn → row
        self._free: list[int] = []  # rows of removed subscribers, reused by add
        # Parallel columns, one item per row.
        self._msisdn = array("Q")
        self._imsi = array("Q")  # int("1" + imsi): keeps leading zeros (MCC 001); 0: derived
        self._msc = array("Q")  # int("1" + address); 0: derived from the country code
        self._home = array("H")  # interned network ids
        self._ported = array("H")
        self._serving = array("H")
        self._state = array("B")
        self._diagnostic = array("B")
        self._profile = array("H")  # interned (latency, failure_probability)
        self._networks: list[str | None] = [None]
        self._network_ids: dict[str, int] = {}
        self._profiles: list[tuple[Latency, float]] = []
        self._profile_ids: dict[tuple[Latency, float], int] = {}

    # -- numbers and defaults ------------------------------------------------------------------

    @property
    def numbering(self) -> Numbering:
        return self._numbering

    def key(self, msisdn: str | int) -> int:
        """The table key of a number: its E.164 digits as an int. Raises InvalidNumber."""
        return self._numbering.normalise(msisdn)

    @property
    def defaults(self) -> tuple[PrefixDefault, ...]:
        """The prefix defaults, longest prefix first."""
        return tuple(self._defaults[p] for p in sorted(self._defaults, key=len, reverse=True))

    def set_defaults(self, defaults: Iterable[PrefixDefault]) -> None:
        """Replace the prefix defaults. Without one for the empty prefix, the built-in
        `PrefixDefault()` (attached, test network 001-01) catches every number."""
        table = {"": PrefixDefault()}
        for default in defaults:
            table[default.prefix] = default
        self._defaults = table
        self._default_lengths = tuple(sorted({len(p) for p in table}, reverse=True))

    def default_for(self, msisdn: str | int) -> PrefixDefault:
        """The longest prefix default matching the number."""
        digits = str(self.key(msisdn))
        return self._default_for_digits(digits)

    def _default_for_digits(self, digits: str) -> PrefixDefault:
        for size in self._default_lengths:
            found = self._defaults.get(digits[:size])
            if found is not None and len(digits) >= size:
                return found
        return self._defaults[""]

    # -- reading -------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._index)

    def __contains__(self, msisdn: object) -> bool:
        if not isinstance(msisdn, str | int):
            return False
        try:
            return self.key(msisdn) in self._index
        except InvalidNumber:
            return False

    def __iter__(self) -> Iterator[Subscriber]:
        """Every listed subscriber, in insertion order."""
        for row in list(self._index.values()):
            yield self._build(row)

    def get(self, msisdn: str | int) -> Subscriber | None:
        """The listed subscriber, or None when the number is not in the table."""
        row = self._index.get(self.key(msisdn))
        return None if row is None else self._build(row)

    def resolve(self, msisdn: str | int) -> Subscriber:
        """The listed subscriber, else one made from the longest matching prefix default
        (`listed=False`). This is what the HLR answers from."""
        key = self.key(msisdn)
        row = self._index.get(key)
        if row is not None:
            return self._build(row)
        return self._from_default(key, self._default_for_digits(str(key)))

    def _from_default(self, key: int, default: PrefixDefault) -> Subscriber:
        network = default.ported_to or default.home_network
        return Subscriber(
            msisdn=key,
            imsi=make_imsi(network, key),
            home_network=default.home_network,
            msc_address=default.msc_address or _placeholder_msc(key),
            state=default.state,
            ported_to=default.ported_to,
            serving_network=default.serving_network,
            latency=default.latency,
            failure_probability=default.failure_probability,
            absent_diagnostic=int(default.absent_diagnostic),
            listed=False,
        )

    def _build(self, row: int) -> Subscriber:
        key = self._msisdn[row]
        networks = self._networks
        home = networks[self._home[row]]
        assert home is not None  # every row has a home network
        ported = networks[self._ported[row]]
        imsi = self._imsi[row]
        msc = self._msc[row]
        latency, failure = self._profiles[self._profile[row]]
        return Subscriber(
            msisdn=key,
            imsi=str(imsi)[1:] if imsi else make_imsi(ported or home, key),
            home_network=home,
            msc_address=str(msc)[1:] if msc else _placeholder_msc(key),
            state=_STATES[self._state[row]],
            ported_to=ported,
            serving_network=networks[self._serving[row]],
            latency=latency,
            failure_probability=failure,
            absent_diagnostic=self._diagnostic[row],
            listed=True,
        )

    # -- changing ------------------------------------------------------------------------------

    def add(
        self,
        msisdn: str | int,
        *,
        imsi: str | None = None,
        home_network: str | None = None,
        msc_address: str | None = None,
        state: SubscriberState | str | None = None,
        ported_to: str | None = None,
        serving_network: str | None = None,
        latency: Latency | str | None = None,
        failure_probability: float | None = None,
        absent_diagnostic: int | None = None,
        replace: bool = False,
    ) -> Subscriber:
        """Add a subscriber; a field left None takes its prefix default's value. Raises
        DuplicateSubscriber when listed already (unless `replace`), InvalidNumber, ValueError
        for a bad field."""
        key = self.key(msisdn)
        if key in self._index and not replace:
            raise DuplicateSubscriber(key)
        base = self._from_default(key, self._default_for_digits(str(key)))
        record = _with_changes(
            base,
            imsi=imsi,
            home_network=home_network,
            msc_address=msc_address,
            state=state,
            ported_to=ported_to,
            serving_network=serving_network,
            latency=latency,
            failure_probability=failure_probability,
            absent_diagnostic=absent_diagnostic,
        )
        # A made-up IMSI follows the network; only an explicit one is stored.
        self._store(record, explicit_imsi=imsi is not None, explicit_msc=msc_address is not None)
        return self._build(self._index[key])

    def change(
        self,
        msisdn: str | int,
        *,
        imsi: str | None = None,
        home_network: str | None = None,
        msc_address: str | None = None,
        state: SubscriberState | str | None = None,
        ported_to: str | None = None,
        serving_network: str | None = None,
        latency: Latency | str | None = None,
        failure_probability: float | None = None,
        absent_diagnostic: int | None = None,
    ) -> Subscriber:
        """Change some fields of a listed subscriber (None: unchanged; for `ported_to` and
        `serving_network`, "" clears them). Raises SubscriberNotFound, ValueError for a bad
        field."""
        key = self.key(msisdn)
        row = self._index.get(key)
        if row is None:
            raise SubscriberNotFound(key)
        current = self._build(row)
        record = _with_changes(
            current,
            imsi=imsi,
            home_network=home_network,
            msc_address=msc_address,
            state=state,
            latency=latency,
            failure_probability=failure_probability,
            absent_diagnostic=absent_diagnostic,
        )
        # "" clears: the subscriber is no longer ported, or no longer roaming.
        if ported_to is not None:
            record = replace(record, ported_to=parse_network(ported_to) if ported_to else None)
        if serving_network is not None:
            record = replace(
                record, serving_network=parse_network(serving_network) if serving_network else None
            )
        self._store(
            record,
            explicit_imsi=imsi is not None or self._imsi[row] != 0,
            explicit_msc=msc_address is not None or self._msc[row] != 0,
        )
        return self._build(row)

    def set_state(self, msisdn: str | int, state: SubscriberState) -> Subscriber:
        """Change a subscriber's state; an unlisted number is added from its prefix default
        first. (The HLR's `set_state` wraps this and sends alerts.)"""
        key = self.key(msisdn)
        if key not in self._index:
            return self.add(key, state=state)
        row = self._index[key]
        self._state[row] = _STATE_INDEX[state]
        return self._build(row)

    def put(self, subscriber: Subscriber) -> None:
        """Store a whole record (added or replacing), as given."""
        self._store(subscriber, explicit_imsi=True, explicit_msc=True)

    def remove(self, msisdn: str | int) -> bool:
        """Remove a subscriber; False when it was not listed."""
        row = self._index.pop(self.key(msisdn), None)
        if row is None:
            return False
        self._free.append(row)
        return True

    def clear(self) -> None:
        """Remove every subscriber (the prefix defaults stay)."""
        self._reset()

    def _network_id(self, network: str | None) -> int:
        if network is None:
            return _NONE
        found = self._network_ids.get(network)
        if found is None:
            if len(self._networks) >= 0xFFFF:
                raise ValueError("more than 65535 distinct networks")
            found = self._network_ids[network] = len(self._networks)
            self._networks.append(network)
        return found

    def _profile_id(self, latency: Latency, failure: float) -> int:
        profile = (latency, failure)
        found = self._profile_ids.get(profile)
        if found is None:
            if len(self._profiles) >= 0xFFFF:
                raise ValueError("more than 65535 distinct latency/failure profiles")
            found = self._profile_ids[profile] = len(self._profiles)
            self._profiles.append(profile)
        return found

    def _store(self, record: Subscriber, *, explicit_imsi: bool, explicit_msc: bool) -> None:
        self._write(
            record.msisdn,
            int("1" + record.imsi) if explicit_imsi else 0,
            int("1" + record.msc_address) if explicit_msc and record.msc_address else 0,
            self._network_id(record.home_network),
            self._network_id(record.ported_to),
            self._network_id(record.serving_network),
            _STATE_INDEX[record.state],
            record.absent_diagnostic,
            self._profile_id(record.latency, record.failure_probability),
            reuse=True,
        )

    def _write(  # noqa: PLR0917 - the loader's hot path: positional calls are cheaper
        self,
        key: int,
        imsi: int,
        msc: int,
        home: int,
        ported: int,
        serving: int,
        state: int,
        diagnostic: int,
        profile: int,
        *,
        reuse: bool,
    ) -> None:
        row = self._index.get(key)
        if row is None and reuse and self._free:
            row = self._free.pop()
        if row is None:
            self._index[key] = len(self._msisdn)
            self._msisdn.append(key)
            self._imsi.append(imsi)
            self._msc.append(msc)
            self._home.append(home)
            self._ported.append(ported)
            self._serving.append(serving)
            self._state.append(state)
            self._diagnostic.append(diagnostic)
            self._profile.append(profile)
            return
        self._index[key] = row
        self._msisdn[row] = key
        self._imsi[row] = imsi
        self._msc[row] = msc
        self._home[row] = home
        self._ported[row] = ported
        self._serving[row] = serving
        self._state[row] = state
        self._diagnostic[row] = diagnostic
        self._profile[row] = profile

    # -- loading -------------------------------------------------------------------------------

    def load_csv(self, path: Path | str) -> int:
        """Add (or replace) every row of a CSV file (format in the module docstring); returns
        the number of rows. All or nothing: on a bad row the table is left unchanged and
        SubscriberDataError names the file, the line and the column. A number appearing twice
        in the file is an error too."""
        path = Path(path)
        staging = SubscriberTable(numbering=self._numbering, defaults=self._defaults.values())
        count = staging._read_csv(path)
        if not self._index:
            self._adopt(staging)
        else:
            for row in staging._index.values():
                self._write(
                    staging._msisdn[row],
                    staging._imsi[row],
                    staging._msc[row],
                    self._network_id(staging._networks[staging._home[row]]),
                    self._network_id(staging._networks[staging._ported[row]]),
                    self._network_id(staging._networks[staging._serving[row]]),
                    staging._state[row],
                    staging._diagnostic[row],
                    self._profile_id(*staging._profiles[staging._profile[row]]),
                    reuse=True,
                )
        return count

    def load_rows(self, rows: Iterable[Subscriber]) -> int:
        """`put` each record (the config's `[[network.subscribers]]`); returns how many."""
        count = 0
        for record in rows:
            self.put(record)
            count += 1
        return count

    def _adopt(self, other: SubscriberTable) -> None:
        for name in (
            "_index",
            "_free",
            "_msisdn",
            "_imsi",
            "_msc",
            "_home",
            "_ported",
            "_serving",
            "_state",
            "_diagnostic",
            "_profile",
            "_networks",
            "_network_ids",
            "_profiles",
            "_profile_ids",
        ):
            setattr(self, name, getattr(other, name))

    def _read_csv(self, path: Path) -> int:
        """The loader's hot loop: one pass, no Subscriber objects, caches for the repeated
        values (states, networks, profiles). Only for an empty (staging) table."""
        where = str(path)
        try:
            handle = path.open(newline="", encoding="utf-8-sig")
        except OSError as exc:
            raise SubscriberDataError(f"cannot read: {exc.strerror}", path=where) from exc
        with handle:
            reader = csv.reader(handle)
            try:
                header = next(reader)
            except StopIteration:
                raise SubscriberDataError("empty file; expected a header row", path=where) from None
            except csv.Error as exc:
                raise SubscriberDataError(str(exc), path=where, line=1) from exc
            columns = [name.strip().lower() for name in header]
            for name in columns:
                if name not in CSV_COLUMNS:
                    raise SubscriberDataError(
                        f"unknown column {name!r}; expected some of: {', '.join(CSV_COLUMNS)}",
                        path=where,
                        line=1,
                    )
            if "msisdn" not in columns:
                raise SubscriberDataError("no msisdn column", path=where, line=1)
            if len(set(columns)) != len(columns):
                raise SubscriberDataError("a column appears twice", path=where, line=1)
            position = {name: columns.index(name) for name in columns}
            return self._read_rows(reader, position, where, lambda: reader.line_num)

    def _read_rows(
        self,
        reader: Iterator[list[str]],
        position: dict[str, int],
        where: str,
        line_num: Callable[[], int],
    ) -> int:
        normalise = self._numbering.normalise
        index = self._index
        width = len(position)
        at = position.get
        p_msisdn = position["msisdn"]
        p_imsi, p_home, p_msc = at("imsi"), at("home_network"), at("msc_address")
        p_state, p_ported, p_serving = at("state"), at("ported_to"), at("serving_network")
        p_latency, p_failure = at("latency"), at("failure_probability")
        p_diagnostic = at("absent_diagnostic")

        def cell(row: list[str], position: int | None) -> str:
            return row[position].strip() if position is not None else ""

        # Caches of parsed cell text: a million rows share a handful of distinct values.
        networks: dict[str, int] = {}
        profiles: dict[tuple[str, str], int] = {}
        count = 0
        column = ""
        line = 1
        try:
            for row in reader:
                line = line_num()
                if not row or (len(row) == 1 and not row[0].strip()):
                    continue  # a blank line
                if len(row) != width:
                    column = ""
                    raise ValueError(f"{len(row)} fields, expected {width}")
                column = "msisdn"
                key = normalise(row[p_msisdn])
                if key in index:
                    raise ValueError(f"+{key} appears twice in the file")
                # The prefix default fills empty cells (a few dict lookups, ~1 µs).
                default = self._default_for_digits(str(key))
                column = "imsi"
                text = cell(row, p_imsi)
                imsi = int("1" + _digits(text, "an IMSI", 6)) if text else 0
                column = "home_network"
                text = cell(row, p_home) or default.home_network
                home = networks.get(text)
                if home is None:
                    home = networks[text] = self._network_id(parse_network(text))
                column = "msc_address"
                text = cell(row, p_msc) or default.msc_address
                msc = int("1" + _digits(text, "an MSC address", 1)) if text else 0
                column = "state"
                text = cell(row, p_state)
                if text:
                    found_state = _STATE_BY_VALUE.get(text)
                    if found_state is None:
                        raise ValueError(
                            f"unknown state {text!r}; expected one of: "
                            + ", ".join(s.value for s in _STATES)
                        )
                    state = _STATE_INDEX[found_state]
                else:
                    state = _STATE_INDEX[default.state]
                column = "ported_to"
                ported = self._cell_network(cell(row, p_ported), default.ported_to, networks)
                column = "serving_network"
                serving = self._cell_network(
                    cell(row, p_serving), default.serving_network, networks
                )
                column = "latency"
                latency_text, failure_text = cell(row, p_latency), cell(row, p_failure)
                profile = profiles.get((latency_text, failure_text))
                if profile is None or not (latency_text and failure_text):
                    latency = Latency.parse(latency_text) if latency_text else default.latency
                    column = "failure_probability"
                    failure = (
                        _probability(float(failure_text))
                        if failure_text
                        else default.failure_probability
                    )
                    profile = self._profile_id(latency, failure)
                    if latency_text and failure_text:
                        profiles[(latency_text, failure_text)] = profile
                column = "absent_diagnostic"
                text = cell(row, p_diagnostic)
                diagnostic = int(text) if text else default.absent_diagnostic
                if not 0 <= diagnostic <= 255:
                    raise ValueError(f"expected 0 to 255, got {diagnostic}")
                self._write(
                    key, imsi, msc, home, ported, serving, state, diagnostic, profile, reuse=False
                )
                count += 1
        except csv.Error as exc:
            raise SubscriberDataError(str(exc), path=where, line=line) from exc
        except ValueError as exc:  # InvalidNumber is a ValueError too
            raise SubscriberDataError(str(exc), path=where, line=line, key=column) from exc
        return count

    def _cell_network(self, text: str, fallback: str | None, cache: dict[str, int]) -> int:
        if not text:
            return self._network_id(fallback)
        found = cache.get(text)
        if found is None:
            found = cache[text] = self._network_id(parse_network(text))
        return found


def _with_changes(
    base: Subscriber,
    *,
    imsi: str | None = None,
    home_network: str | None = None,
    msc_address: str | None = None,
    state: SubscriberState | str | None = None,
    ported_to: str | None = None,
    serving_network: str | None = None,
    latency: Latency | str | None = None,
    failure_probability: float | None = None,
    absent_diagnostic: int | None = None,
) -> Subscriber:
    changes: dict[str, object] = {}
    if imsi is not None:
        changes["imsi"] = _digits(imsi, "an IMSI", 6)
    if home_network is not None:
        changes["home_network"] = parse_network(home_network)
    if msc_address is not None:
        changes["msc_address"] = _digits(msc_address, "an MSC address", 1)
    if state is not None:
        if isinstance(state, str):
            found = _STATE_BY_VALUE.get(state)
            if found is None:
                raise ValueError(f"unknown state {state!r}")
            state = found
        changes["state"] = state
    if ported_to is not None:
        changes["ported_to"] = parse_network(ported_to)
    if serving_network is not None:
        changes["serving_network"] = parse_network(serving_network)
    if latency is not None:
        changes["latency"] = Latency.parse(latency) if isinstance(latency, str) else latency
    if failure_probability is not None:
        changes["failure_probability"] = _probability(float(failure_probability))
    if absent_diagnostic is not None:
        if not 0 <= absent_diagnostic <= 255:
            raise ValueError(f"absent_diagnostic: expected 0 to 255, got {absent_diagnostic}")
        changes["absent_diagnostic"] = absent_diagnostic
    return replace(base, **changes) if changes else base  # type: ignore[arg-type]
