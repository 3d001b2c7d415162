"""A harness for the IMPS service tests: a real ImpsService on a real SQLite file in tmp_path, a
clock the test moves, deterministic tokens, and handsets that speak PTS through the real codec
(opensmsc.imps.pts) and read what the service put in its outbox."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path

from opensmsc.imps import Channel, ImpsService, ImpsSettings, ImpsState, Outgoing
from opensmsc.imps.pts import Primitive, Value, encode, parse

START = 1_800_000_000.0  # 2027-01-15T08:00:00Z


@dataclass
class Clock:
    now: float = START

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class World:
    """The service, its state file and what it sent, by handset."""

    path: Path
    settings: ImpsSettings = field(default_factory=ImpsSettings)
    clock: Clock = field(default_factory=Clock)
    state: ImpsState = field(init=False)
    service: ImpsService = field(init=False)
    _mo_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _tokens: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _unread: list[Outgoing] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.open()

    def open(self) -> None:
        self.state = ImpsState(self.path)
        self.service = ImpsService(self.state, self.settings, clock=self.clock, token=self.token)

    def restart(self) -> None:
        """Close the state and open it again with a new service (what a restart keeps)."""
        self.state.close()
        self.open()

    def token(self, n: int) -> str:
        return f"t{next(self._tokens)}x{n}"

    def mo_id(self) -> str:
        return f"mo{next(self._mo_ids)}"

    def drain(self, msisdn: str | None = None) -> list[Outgoing]:
        """The SMS the service sent (to one handset), each returned once, oldest first."""
        rows = self.service.outbox(10_000)
        self.service.sent([row.id for row in rows])
        self._unread.extend(rows)
        taken = [row for row in self._unread if msisdn is None or row.msisdn == msisdn]
        self._unread = [row for row in self._unread if row not in taken]
        return taken

    def data(self, msisdn: str | None = None) -> list[Primitive]:
        """The PTS primitives sent (to one handset) since last read."""
        rows = self.drain(msisdn)
        assert all(row.channel is Channel.DATA for row in rows), rows
        return [parse(row.body) for row in rows]

    def send(self, msisdn: str, text: str, *, mo_id: str | None = None) -> list[Primitive]:
        """A handset sends one PTS text; what the service sent to that handset comes back."""
        self.service.on_data(msisdn, text.encode("utf-8"), mo_id=mo_id or self.mo_id())
        return self.data(msisdn)

    def request(
        self, msisdn: str, code: str, *params: tuple[str, Value], transaction: int = 7
    ) -> list[Primitive]:
        return self.send(msisdn, encode(Primitive(code, transaction, tuple(params))))

    def answer(self, msisdn: str, code: str, *params: tuple[str, Value]) -> Primitive:
        """A request whose answer is exactly one primitive to the sender."""
        out = self.request(msisdn, code, *params)
        assert len(out) == 1, out
        return out[0]

    def login(self, user: str, msisdn: str, password: str = "secret") -> str:
        rl = self.answer(msisdn, "LR", ("UI", user), ("PW", password), ("CI", msisdn))
        assert rl.code == "RL" and rl.text("ST") == "200", rl
        session = rl.text("SI")
        assert session
        return session


def status(primitive: Primitive) -> int:
    """The ST code of a primitive: ST=200 or ST=(604,description)."""
    value = primitive.get("ST")
    assert value is not None, primitive
    return int(value if isinstance(value, str) else str(value[0]))
