"""`TestCarrier`: a small upstream SMSC for connector tests, on our own sans-IO core; and our
node routed to it (`our_node`), with an ESME bound to the node (`bound_esme`).

An `smpp.Connection` in the SMSC role per connection, driven by the transport's SmppServer. It
accepts any bind, answers every submit_sm with the next id `id_for(n)` (n from 1; `%016x` by
default, as some SMSCs number them) and keeps what it was sent in `submitted`. With
`receipts_after` it sends one DELIVRD receipt per submit once it has answered that many, each
quoting the id as `quote(n, message_id)` says, within its window.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from opensmsc import app
from opensmsc.accounts.passwords import hash_password
from opensmsc.config import loads
from opensmsc.smpp import (
    BindRequested,
    BindTransceiver,
    DeliverSm,
    DeliveryReceipt,
    Event,
    ResponseReceived,
    Role,
    SessionConfig,
    SubmitReceived,
    SubmitSm,
    SubmitSmResp,
    build_receipt_pdu,
)
from opensmsc.transport.protocol import SessionHandler, SmppProtocol
from opensmsc.transport.server import Listener, SmppServer
from opensmsc.upstream import ConnectorStatus
from tests.conftest import SmppTestClient

ESME_PASSWORD = "secret"
TIMEOUT = 20.0


def hex16(n: int) -> str:
    return f"{n:016x}"


class TestCarrier:
    __test__ = False  # not a test class, whatever its name says

    def __init__(
        self,
        *,
        id_for: Callable[[int], str] = hex16,
        receipts_after: int | None = None,
        quote: Callable[[int, str], str] = lambda n, message_id: message_id,
    ) -> None:
        self._id_for = id_for
        self._receipts_after = receipts_after
        self._quote = quote
        self._numbers = itertools.count(1)
        self._server = SmppServer(
            SessionConfig(role=Role.SMSC, window=10, peer_window=100), self._session
        )
        self.port = 0
        self.submitted: list[tuple[SubmitSm, str]] = []  # (pdu, the id we answered)
        self.receipts_acked = 0

    async def start(self, port: int = 0) -> None:
        self.port = await self._server.start(Listener(name="carrier", host="127.0.0.1", port=port))

    async def stop(self) -> None:
        await self._server.stop(drain_timeout=1.0)

    def _session(self, protocol: SmppProtocol) -> SessionHandler:
        return _CarrierSession(self, protocol)

    def _submitted(self, session: _CarrierSession, pdu: SubmitSm) -> str:
        message_id = self._id_for(next(self._numbers))
        self.submitted.append((pdu, message_id))
        if len(self.submitted) == self._receipts_after:
            for n, (original, upstream_id) in enumerate(self.submitted, start=1):
                session.queue(
                    build_receipt_pdu(
                        original,
                        DeliveryReceipt(
                            id=self._quote(n, upstream_id),
                            sub=1,
                            dlvrd=1,
                            stat="DELIVRD",
                            err="000",
                        ),
                    )
                )
        return message_id


class _CarrierSession:
    def __init__(self, carrier: TestCarrier, protocol: SmppProtocol) -> None:
        self._carrier = carrier
        self._protocol = protocol
        self._outbox: deque[DeliverSm] = deque()

    def queue(self, pdu: DeliverSm) -> None:
        self._outbox.append(pdu)

    def on_events(self, events: list[Event]) -> None:
        protocol = self._protocol
        for event in events:
            match event:
                case BindRequested(pdu=pdu):
                    protocol.respond(event, pdu.response(system_id="TESTSMSC"))
                case SubmitReceived(pdu=pdu) if isinstance(pdu, SubmitSm):
                    message_id = self._carrier._submitted(self, pdu)
                    protocol.respond(event, SubmitSmResp(message_id=message_id))
                case ResponseReceived(request=DeliverSm(), response=response):
                    if response.command_status == 0:
                        self._carrier.receipts_acked += 1
                case _:
                    pass
        # Within the window: the rest goes as answers free slots.
        while self._outbox and not protocol.is_closed and protocol.connection.can_send:
            protocol.send_request(self._outbox.popleft())

    def on_connection_lost(self, exc: Exception | None) -> None:
        pass


# -- our node, routing 316... to the carrier ------------------------------------------------------


def node_config(data_dir: Path, carrier_port: int) -> Any:
    return loads(
        f"""
        [node]
        data_dir = "{data_dir}"
        [smpp.server]
        bind_address = "127.0.0.1"
        port = 0
        tls_enabled = false
        [[accounts]]
        system_id = "esme1"
        password_hash = "{hash_password(ESME_PASSWORD)}"
        allowed_networks = ["127.0.0.0/8"]
        [[smpp.client]]
        name = "carrier"
        host = "127.0.0.1"
        port = {carrier_port}
        system_id = "gw"
        password = "pw"
        window = 10
        reconnect_min_delay = 0.1
        reconnect_max_delay = 0.5
        response_timeout = 5.0
        [routing]
        default_route = "loopback"
        [[routing.routes]]
        prefix = "316"
        route = "carrier"
        """
    )


@contextlib.asynccontextmanager
async def our_node(tmp_path: Path, carrier_port: int) -> AsyncIterator[app.RunningSmsc]:
    (tmp_path / "node").mkdir(exist_ok=True)
    running = await app.start(node_config(tmp_path / "node", carrier_port))
    try:
        yield running
    finally:
        await running.stop()


@contextlib.asynccontextmanager
async def bound_esme(running: app.RunningSmsc) -> AsyncIterator[SmppTestClient]:
    reader, writer = await asyncio.open_connection("127.0.0.1", running.ports["smpp"])
    esme = SmppTestClient(reader, writer)
    try:
        resp = await esme.request(BindTransceiver(system_id="esme1", password=ESME_PASSWORD))
        assert resp.status == 0, f"bind refused: 0x{resp.status:08X}"
        yield esme
    finally:
        await esme.close()


def connector_status(running: app.RunningSmsc) -> Callable[[], ConnectorStatus]:
    assert running.connectors is not None
    connectors = running.connectors
    return lambda: connectors.status()["carrier"]


async def wait_until(
    condition: Callable[[], bool],
    what: str,
    status: Callable[[], object],
    timeout: float = TIMEOUT,
) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}; status: {status()}")
        await asyncio.sleep(0.02)
