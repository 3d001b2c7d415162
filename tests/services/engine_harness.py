"""The store-and-forward engine wired as app.py wires it, on a real SqliteStore in tmp_path,
with a fake clock, scripted routes and fake receiver sessions (real fakes, no mocks).

`Engine.submit(...)` goes through the Acceptor and returns the message_id once the commit
answered; `engine.run()` runs what is due now through the Scheduler; `engine.advance(minutes=)`
moves the clock. `FakeSession` plays an ESME receiver: it records each deliver_sm and answers
with the statuses it is given (ESME_ROK by default), or holds them for the test to answer.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from opensmsc.engine import (
    Acceptor,
    Decisions,
    Deliveries,
    Lifecycle,
    MessageIds,
    Operations,
    Scheduler,
    StoreAndForward,
)
from opensmsc.routing import PolicyEngine
from opensmsc.routing.policy import AccountPolicies, AccountPolicy
from opensmsc.routing.routes import Attempt, Delivered, LoopbackRoute, Route, Router
from opensmsc.smpp.constants import CommandStatus
from opensmsc.smpp.pdu import DataSm, DeliverSm, SubmitMulti, SubmitSm, UnsuccessSme
from opensmsc.smpp.tlv import Tlvs
from opensmsc.store import DB_FILENAME, Clock, SqliteStore, StoredMessage, system_clock

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
S = CommandStatus


class FakeClock:
    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


class ScriptedRoute:
    """A route whose outcomes are scripted per destination (a list, used in order; the last
    one repeats), Delivered when nothing is scripted. Records every attempt."""

    def __init__(self, name: str = "scripted") -> None:
        self._name = name
        self.script: dict[str, list[Attempt]] = {}
        self.attempted: list[StoredMessage] = []
        self.gate: asyncio.Event | None = None  # when set, attempts wait for it

    @property
    def name(self) -> str:
        return self._name

    async def attempt(self, record: StoredMessage) -> Attempt:
        self.attempted.append(record)
        if self.gate is not None:
            await self.gate.wait()
        outcomes = self.script.get(record.destination.addr)
        if not outcomes:
            return Delivered()
        return outcomes.pop(0) if len(outcomes) > 1 else outcomes[0]


@dataclass(eq=False)
class FakeSession:
    """A bound receiver of one account with a window; answers per `answers` (then ESME_ROK),
    or holds the callbacks when `hold` is set."""

    system_id: str
    window: int = 10
    answers: deque[int | None] = field(default_factory=deque)
    hold: bool = False
    received: list[DeliverSm] = field(default_factory=list)
    held: list[Callable[[int | None], None]] = field(default_factory=list)
    outstanding: int = 0

    @property
    def has_window(self) -> bool:
        return self.outstanding < self.window

    def deliver(self, pdu: DeliverSm, on_done: Callable[[int | None], None]) -> bool:
        if not self.has_window:
            return False
        self.received.append(pdu)
        self.outstanding += 1

        def done(status: int | None) -> None:
            self.outstanding -= 1
            on_done(status)

        if self.hold:
            self.held.append(done)
        else:
            status = self.answers.popleft() if self.answers else S.ESME_ROK
            # As a real session does: the response arrives on a later turn of the loop.
            asyncio.get_running_loop().call_soon(done, status)
        return True

    def answer_held(self, status: int | None = S.ESME_ROK) -> None:
        held, self.held = self.held, []
        for done in held:
            done(status)


class FakeRegistry:
    """SessionRegistry's receiver lookup over FakeSessions."""

    def __init__(self) -> None:
        self.sessions: list[FakeSession] = []
        self.outbinds: list[str] = []

    def bind(self, session: FakeSession) -> FakeSession:
        self.sessions.append(session)
        return session

    def unbind(self, session: FakeSession) -> None:
        self.sessions.remove(session)

    def receiver_for(self, system_id: str) -> FakeSession | None:
        for session in self.sessions:
            if session.system_id == system_id and session.has_window:
                return session
        return None

    def has_receiver(self, system_id: str) -> bool:
        return any(s.system_id == system_id for s in self.sessions)

    def request(self, system_id: str) -> None:  # OutbindRequester
        self.outbinds.append(system_id)


class Engine:
    """Every engine part on one store; see the module doc."""

    def __init__(
        self,
        store: SqliteStore,
        *,
        clock: FakeClock,
        policies: AccountPolicies,
        routes: dict[str, Route],
        prefixes: tuple[tuple[str, str], ...] = (),
        default_route: str = "loopback",
        batch: int = 500,
        prefix: int = 1,
        route_windows: dict[str, int] | None = None,
        max_parts: int = 255,
        policy: Callable[[Router], PolicyEngine] | None = None,
    ) -> None:
        self.store = store
        self.clock = clock
        self.registry = FakeRegistry()
        self.ids = MessageIds(prefix)
        self.deliveries = Deliveries(
            store,
            self.registry,
            clock=clock,
            outbind=self.registry,
            release=lambda ids: self.scheduler.release(ids),  # noqa: PLW0108 (built below)
            retry_delay=0.01,
        )
        self.router = Router(
            routes, default_route=default_route, prefixes=prefixes, mo_route=self.deliveries
        )
        # With `policy`, the node's path: decided at submit and before attempts.
        self.policy = None if policy is None else policy(self.router)
        self.decisions = (
            None if self.policy is None else Decisions(self.policy, self.router, share_content=True)
        )
        self.lifecycle = Lifecycle(
            store,
            self.ids,
            clock=clock,
            policies=policies,
            on_receipt=self.deliveries.wake,
            on_receipt_stored=self.deliveries.push,
        )
        self.scheduler = Scheduler(
            store,
            self.router,
            self.lifecycle,
            clock=clock,
            batch=batch,
            route_windows=route_windows,
            decisions=self.decisions,
        )
        self.acceptor = Acceptor(
            store,
            self.ids,
            clock=clock,
            policies=policies,
            router=self.router,
            decisions=self.decisions,
            max_parts=max_parts,
        )
        self.operations = Operations(
            store,
            self.lifecycle,
            clock=clock,
            policies=policies,
            in_flight=self.scheduler.in_flight,
            wake=self.scheduler.wake,
        )

    async def submit(self, system_id: str = "esme1", **fields: Any) -> tuple[str | None, int]:
        fields.setdefault("source_addr", "1234")
        fields.setdefault("destination_addr", "31600000001")
        fields.setdefault("short_message", b"hello")
        answer: asyncio.Future[tuple[str | None, int]] = asyncio.Future()
        self.acceptor.submit(
            system_id, SubmitSm(**fields), lambda mid, status: answer.set_result((mid, status))
        )
        return await asyncio.wait_for(answer, 5)

    async def submit_ok(self, system_id: str = "esme1", **fields: Any) -> str:
        message_id, status = await self.submit(system_id, **fields)
        assert status == 0 and message_id, f"submit refused: 0x{status:08X}"
        return message_id

    async def submit_multi(
        self, pdu: SubmitMulti, system_id: str = "esme1"
    ) -> tuple[str | None, int, tuple[UnsuccessSme, ...]]:
        answer: asyncio.Future[tuple[str | None, int, tuple[UnsuccessSme, ...]]] = asyncio.Future()
        self.acceptor.submit_multi(
            system_id, pdu, lambda mid, status, failed: answer.set_result((mid, status, failed))
        )
        return await asyncio.wait_for(answer, 5)

    async def data_sm(self, pdu: DataSm, system_id: str = "esme1") -> tuple[str | None, int, Tlvs]:
        answer: asyncio.Future[tuple[str | None, int, Tlvs]] = asyncio.Future()
        self.acceptor.data_sm(
            system_id, pdu, lambda mid, status, tlvs: answer.set_result((mid, status, tlvs))
        )
        return await asyncio.wait_for(answer, 5)

    async def run(self) -> int:
        """Run what is due now through the scheduler, then let deliveries settle."""
        claimed = await self.scheduler.run_due()
        await self.settle()
        return claimed

    async def settle(self) -> None:
        """Let receipts and acknowledgements in flight finish (a few loop turns and commits)."""
        for _ in range(20):
            await asyncio.sleep(0.005)
            await self.scheduler.drain()

    async def state(self, message_id: str) -> StoredMessage:
        record = await self.store.get(message_id)
        assert record is not None, f"{message_id} not stored"
        return record

    async def close(self) -> None:
        await self.acceptor.close()
        await self.scheduler.stop()
        await self.deliveries.close()


def policies(**fields: Any) -> AccountPolicies:
    return AccountPolicies(default=AccountPolicy(**fields))


async def open_engine(
    folder: Path,
    *,
    clock: FakeClock | None = None,
    account: AccountPolicy | None = None,
    routes: dict[str, Route] | None = None,
    **kwargs: Any,
) -> Engine:
    store = await SqliteStore.open(folder / "messages.sqlite3")
    return Engine(
        store,
        clock=clock or FakeClock(),
        policies=AccountPolicies(default=account or AccountPolicy()),
        routes=routes if routes is not None else {"loopback": LoopbackRoute()},
        **kwargs,
    )


async def open_node(
    data_dir: Path, *, clock: Clock = system_clock, **kwargs: Any
) -> StoreAndForward:
    """The assembled engine on a SqliteStore in `data_dir`, opened as the wiring opens it."""
    data_dir.mkdir(parents=True, exist_ok=True)
    ids = MessageIds.open(data_dir, clock=clock)
    store = await SqliteStore.open(data_dir / DB_FILENAME)
    return StoreAndForward(store, ids, clock=clock, **kwargs)
