"""The simulated HLR's subscriber table: who exists, where they are served, their state.

What this is for: `SubscriberTable` maps an MSISDN (E.164, see routing/numbering.py) to a
`Subscriber` record (subscriber.py): IMSI, home network, serving MSC, state, ported-to network,
latency and failure probability. It is loaded from a CSV file (subscribers_csv.py) or the
config (`[[network.subscribers]]`) and changed at runtime (`add`, `change`, `remove`) by the CLI
and the HTTP admin interface. Numbers not in the table get a record made from the longest
matching `PrefixDefault` (`resolve`).

What it is not: the record and its fields (subscriber.py), or MAP behaviour: which error a
state produces, message-waiting data and alerts belong to hlr.py; portability data to
routing/portability.py.

Scale (issue 6: a million subscribers load in under 30 s, under 500 MiB, lookups under 50 µs):
a row is not a Python object. The table keeps one dict from the MSISDN (an int) to a row
number, and parallel `array`s per column (IMSI as an int with a leading 1 so that its leading
zeros survive, networks and latency profiles interned to 16-bit ids, the state in one octet):
about 24 octets a row plus about 100 octets of dict entry and int keys. A `Subscriber` is built
only when asked for. CSV numbers in "+digits" or bare-digit form skip `phonenumbers`
(routing/numbering.py explains the fast path); `bench/hlr.py` measures all three bars.
"""

from __future__ import annotations

import functools
from array import array
from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Final, Protocol

from opensmsc.network.subscriber import (
    STATE_CODES,
    STATES,
    DuplicateSubscriber,
    Latency,
    PrefixDefault,
    Subscriber,
    SubscriberNotFound,
    SubscriberState,
    make_imsi,
    with_changes,
)
from opensmsc.network.subscribers_csv import read_csv
from opensmsc.routing import (
    InvalidNumber,
    Numbering,
    country_code,
    parse_mcc_mnc,
)

__all__ = ["SubscriberJournal", "SubscriberTable"]


class SubscriberJournal(Protocol):
    """Where the table reports its changes (network/state.py keeps them across restarts)."""

    def subscriber_saved(
        self, record: Subscriber, *, imsi_given: bool, msc_given: bool
    ) -> None: ...

    def subscriber_removed(self, msisdn: int) -> None: ...


def _placeholder_msc(msisdn: int) -> str:
    try:
        return f"{country_code(msisdn)}9000000"
    except InvalidNumber:
        return "19000000"


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
        # Told of every change made through the methods below, not of CSV loading: the
        # configuration is the base a restart starts from (network/state.py).
        self.journal: SubscriberJournal | None = None
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
            state=STATES[self._state[row]],
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
        record = with_changes(
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
        return self._saved(self._index[key])

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
        record = with_changes(
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
            record = replace(record, ported_to=parse_mcc_mnc(ported_to) if ported_to else None)
        if serving_network is not None:
            record = replace(
                record, serving_network=parse_mcc_mnc(serving_network) if serving_network else None
            )
        self._store(
            record,
            explicit_imsi=imsi is not None or self._imsi[row] != 0,
            explicit_msc=msc_address is not None or self._msc[row] != 0,
        )
        return self._saved(row)

    def set_state(self, msisdn: str | int, state: SubscriberState) -> Subscriber:
        """Change a subscriber's state; an unlisted number is added from its prefix default
        first. (The HLR's `set_state` wraps this and sends alerts.)"""
        key = self.key(msisdn)
        if key not in self._index:
            return self.add(key, state=state)
        row = self._index[key]
        self._state[row] = STATE_CODES[state]
        return self._saved(row)

    def put(
        self, subscriber: Subscriber, *, imsi_given: bool = True, msc_given: bool = True
    ) -> None:
        """Store a whole record (added or replacing), as given; without `imsi_given` (or
        `msc_given`) the table derives the IMSI (the MSC address) as for an unlisted number."""
        self._store(subscriber, explicit_imsi=imsi_given, explicit_msc=msc_given)
        self._saved(self._index[subscriber.msisdn])

    def remove(self, msisdn: str | int) -> bool:
        """Remove a subscriber; False when it was not listed."""
        key = self.key(msisdn)
        row = self._index.pop(key, None)
        if row is None:
            return False
        self._free.append(row)
        if self.journal is not None:
            self.journal.subscriber_removed(key)
        return True

    def clear(self) -> None:
        """Remove every subscriber (the prefix defaults stay)."""
        if self.journal is not None:
            for key in self._index:
                self.journal.subscriber_removed(key)
        self._reset()

    def _saved(self, row: int) -> Subscriber:
        record = self._build(row)
        if self.journal is not None:
            self.journal.subscriber_saved(
                record, imsi_given=self._imsi[row] != 0, msc_given=self._msc[row] != 0
            )
        return record

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
            STATE_CODES[record.state],
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
        """Add (or replace) every row of a CSV file (the format: subscribers_csv.py); returns
        the number of rows. All or nothing: on a bad row the table is left unchanged and
        NumberDataError names the file, the line and the column. A number appearing twice
        in the file is an error too."""
        staging = SubscriberTable(numbering=self._numbering, defaults=self._defaults.values())
        count = read_csv(
            Path(path),
            numbering=self._numbering,
            default_for=staging._default_for_digits,
            known=staging._index,
            network_id=staging._network_id,
            profile_id=staging._profile_id,
            write=functools.partial(staging._write, reuse=False),
        )
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
