"""An ESME and an SMSC `Connection` joined by an in-memory wire, with a fake clock (STYLE.md §7).

`pair.pump()` carries bytes both ways until both sides are quiet and returns the events each
side reported; `pair.advance(30)` moves the fake clock, running every timer that falls due on
the way, pumping after each. Every PDU that crosses the wire is decoded into `pair.wire`, so a
test can assert on what was actually sent. No sockets, no sleeping.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal, TypeVar

from opensmsc.smpp.codec import FrameBuffer, decode, encode
from opensmsc.smpp.connection import Connection, SessionConfig
from opensmsc.smpp.constants import InterfaceVersion
from opensmsc.smpp.events import BindRequested, Event
from opensmsc.smpp.pdu import (
    BindReceiver,
    BindTransceiver,
    BindTransmitter,
    Pdu,
)
from opensmsc.smpp.states import BindMode, Role, SessionState

Side = Literal["esme", "smsc"]
E = TypeVar("E", bound=Event)

# Timers off unless a test turns them on: a test states the timers it is about.
QUIET = {
    "session_init_timeout": None,
    "enquire_link_interval": None,
    "inactivity_timeout": None,
}


class FakeClock:
    """Monotonic seconds that move only when a test says so."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass(frozen=True, slots=True)
class WirePdu:
    """One PDU seen on the wire, decoded leniently."""

    sender: Side
    sequence_number: int
    command_id: int
    status: int
    pdu: Pdu


@dataclass(slots=True)
class Pumped:
    """The events each side reported during one pump()/advance()."""

    esme: list[Event] = field(default_factory=list)
    smsc: list[Event] = field(default_factory=list)

    def of(self, side: Side) -> list[Event]:
        return self.esme if side == "esme" else self.smsc


def decode_stream(data: bytes) -> list[tuple[int, int, int, Pdu]]:
    """(sequence_number, command_id, status, pdu) for each PDU in `data`."""
    out = []
    for frame in FrameBuffer().feed(data):
        d = decode(frame, strict=False)
        out.append((d.sequence_number, d.command_id, d.status, d.pdu))
    return out


class SmppPair:
    """An ESME and an SMSC connection and the wire between them."""

    def __init__(
        self,
        *,
        esme: SessionConfig | None = None,
        smsc: SessionConfig | None = None,
        clock: FakeClock | None = None,
        **common: object,
    ) -> None:
        self.clock = clock or FakeClock()
        settings: dict[str, object] = {**QUIET, **common}
        esme_config = esme or SessionConfig(role=Role.ESME, **settings)  # type: ignore[arg-type]
        smsc_config = smsc or SessionConfig(role=Role.SMSC, **settings)  # type: ignore[arg-type]
        self.esme = Connection(esme_config, now=self.clock.now)
        self.smsc = Connection(smsc_config, now=self.clock.now)
        self.esme_events: list[Event] = []
        self.smsc_events: list[Event] = []
        self.wire: list[WirePdu] = []

    def states(self) -> tuple[SessionState, SessionState]:
        """(ESME state, SMSC state)."""
        return self.esme.state, self.smsc.state

    def conn(self, side: Side) -> Connection:
        return self.esme if side == "esme" else self.smsc

    def events(self, side: Side) -> list[Event]:
        return self.esme_events if side == "esme" else self.smsc_events

    # -- the wire ---------------------------------------------------------------------------------

    def _carry(self, sender: Side, data: bytes, pumped: Pumped) -> None:
        for seq, cid, status, pdu in decode_stream(data):
            self.wire.append(WirePdu(sender, seq, cid, status, pdu))
        receiver: Side = "smsc" if sender == "esme" else "esme"
        events = self.conn(receiver).receive_data(data, now=self.clock.now)
        pumped.of(receiver).extend(events)
        self.events(receiver).extend(events)

    def pump(self) -> Pumped:
        """Carry bytes both ways until neither side has anything to send."""
        pumped = Pumped()
        for _ in range(10_000):
            to_smsc = self.esme.data_to_send()
            to_esme = self.smsc.data_to_send()
            if not to_smsc and not to_esme:
                return pumped
            if to_smsc:
                self._carry("esme", to_smsc, pumped)
            if to_esme:
                self._carry("smsc", to_esme, pumped)
        raise AssertionError("the pair never went quiet")

    def inject(self, receiver: Side, data: bytes) -> list[Event]:
        """Feed raw bytes to one side, as if the other had sent them; returns its events."""
        events = self.conn(receiver).receive_data(data, now=self.clock.now)
        self.events(receiver).extend(events)
        return events

    def inject_pdu(self, receiver: Side, pdu: Pdu, sequence_number: int) -> list[Event]:
        return self.inject(receiver, encode(pdu, sequence_number))

    def take(self, side: Side) -> list[tuple[int, int, int, Pdu]]:
        """Decode and consume what `side` has queued, without delivering it."""
        return decode_stream(self.conn(side).data_to_send())

    def sent_by(self, sender: Side) -> list[WirePdu]:
        return [w for w in self.wire if w.sender == sender]

    # -- time -------------------------------------------------------------------------------------

    def advance(self, seconds: float) -> Pumped:
        """Move the clock by `seconds`, firing each timer at its own deadline on the way."""
        target = self.clock.now + seconds
        pumped = Pumped()
        for _ in range(10_000):
            due = [
                d
                for c in (self.esme, self.smsc)
                if (d := c.next_deadline()) is not None and d <= target
            ]
            if not due:
                self.clock.now = target
                return pumped
            self.clock.now = max(self.clock.now, min(due))
            for side in ("esme", "smsc"):
                events = self.conn(side).handle_timer(now=self.clock.now)
                pumped.of(side).extend(events)
                self.events(side).extend(events)
            step = self.pump()
            pumped.esme.extend(step.esme)
            pumped.smsc.extend(step.smsc)
        raise AssertionError("timers kept firing without the clock moving")

    # -- common openings ------------------------------------------------------------------------

    def bind(
        self,
        mode: BindMode = BindMode.TRANSCEIVER,
        *,
        interface_version: int = InterfaceVersion.V34,
        system_id: str = "esme",
        smsc_system_id: str = "smsc",
    ) -> Pumped:
        """Bind the ESME in `mode`, the SMSC accepting; returns what both sides reported."""
        bind_cls = {
            BindMode.TRANSMITTER: BindTransmitter,
            BindMode.RECEIVER: BindReceiver,
            BindMode.TRANSCEIVER: BindTransceiver,
        }[mode]
        self.esme.send_request(
            bind_cls(system_id=system_id, password="secret", interface_version=interface_version),
            now=self.clock.now,
        )
        first = self.pump()
        requested = [e for e in first.smsc if isinstance(e, BindRequested)]
        assert requested, first
        self.smsc.respond(requested[-1], requested[-1].pdu.response(system_id=smsc_system_id))
        second = self.pump()
        return Pumped(esme=first.esme + second.esme, smsc=first.smsc + second.smsc)


def config(role: Role, **overrides: object) -> SessionConfig:
    """A SessionConfig with the timers off, then `overrides`."""
    return replace(SessionConfig(role=role, **QUIET), **overrides)  # type: ignore[arg-type]


def of_type(events: list[Event], cls: type[E]) -> list[E]:
    """The events of one type, in order."""
    return [e for e in events if isinstance(e, cls)]
