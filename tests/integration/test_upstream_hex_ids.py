"""Receipts from an upstream SMSC that numbers its message ids `%016x` (issue 10 item 7).

The carrier is `HexSmsc`, a small SMSC written here on our own sans-IO core (`smpp.Connection`
in the SMSC role, driven by the transport's SmppServer): it answers every submit_sm with the
next id written `%016x` ("0000000000000001", ..., "000000000000000a", ..., "0000000000000010")
and sends the receipts once it has answered every submit, as a carrier that reports later
does. Some receipts then quote the id exactly as submit_sm_resp gave it, others the same
number in decimal ("10" for "000000000000000a"). Our node runs with `app.start()`, its
connector in the default `message_id_format = "auto"`, window 10; an ESME submits 50 messages
and must get the 50 receipts, each for its own message.
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

import pytest

from opensmsc import app
from opensmsc.accounts.passwords import hash_password
from opensmsc.config import loads
from opensmsc.smpp import (
    BindRequested,
    BindTransceiver,
    CommandId,
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
from opensmsc.smpp.receipt import parse_receipt
from opensmsc.transport.protocol import SessionHandler, SmppProtocol
from opensmsc.transport.server import Listener, SmppServer
from opensmsc.upstream import ConnectorState, ConnectorStatus
from tests.conftest import SmppTestClient

ESME_PASSWORD = "secret"
TIMEOUT = 20.0
COUNT = 50


class HexSmsc:
    """A carrier SMSC: ids `%016x`, receipts held until `release_after` submits are answered,
    each quoting the id as `quote(n, message_id)` says."""

    def __init__(self, *, release_after: int, quote: Callable[[int, str], str]) -> None:
        self._release_after = release_after
        self._quote = quote
        self._numbers = itertools.count(1)
        self._answered: list[tuple[SubmitSm, int, str]] = []
        self._server = SmppServer(
            SessionConfig(role=Role.SMSC, window=10, peer_window=100), self._session
        )
        self._sessions: list[_CarrierSession] = []
        self.port = 0
        self.receipts_acked = 0

    async def start(self) -> None:
        self.port = await self._server.start(Listener(name="carrier", host="127.0.0.1", port=0))

    async def stop(self) -> None:
        await self._server.stop(drain_timeout=1.0)

    def _session(self, protocol: SmppProtocol) -> SessionHandler:
        session = _CarrierSession(self, protocol)
        self._sessions.append(session)
        return session

    def submitted(self, session: _CarrierSession, pdu: SubmitSm) -> str:
        n = next(self._numbers)
        message_id = f"{n:016x}"
        self._answered.append((pdu, n, message_id))
        if len(self._answered) == self._release_after:
            for original, number, upstream_id in self._answered:
                quoted = self._quote(number, upstream_id)
                session.queue(
                    build_receipt_pdu(
                        original,
                        DeliveryReceipt(id=quoted, sub=1, dlvrd=1, stat="DELIVRD", err="000"),
                    )
                )
        return message_id


class _CarrierSession:
    def __init__(self, carrier: HexSmsc, protocol: SmppProtocol) -> None:
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
                    protocol.respond(event, pdu.response(system_id="HEXSMSC"))
                case SubmitReceived(pdu=pdu) if isinstance(pdu, SubmitSm):
                    message_id = self._carrier.submitted(self, pdu)
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


async def wait_until(
    condition: Callable[[], bool], what: str, status: Callable[[], object]
) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}; status: {status()}")
        await asyncio.sleep(0.02)


@contextlib.asynccontextmanager
async def hex_carrier(quote: Callable[[int, str], str]) -> AsyncIterator[HexSmsc]:
    carrier = HexSmsc(release_after=COUNT, quote=quote)
    await carrier.start()
    try:
        yield carrier
    finally:
        await carrier.stop()


@contextlib.asynccontextmanager
async def our_node(tmp_path: Path, carrier: HexSmsc) -> AsyncIterator[app.RunningSmsc]:
    (tmp_path / "node").mkdir(exist_ok=True)
    running = await app.start(node_config(tmp_path / "node", carrier.port))
    try:
        yield running
    finally:
        await running.stop()


def connector(running: app.RunningSmsc) -> Callable[[], ConnectorStatus]:
    assert running.connectors is not None
    connectors = running.connectors
    return lambda: connectors.status()["carrier"]


@pytest.mark.parametrize(
    "quote",
    [
        pytest.param(lambda n, upstream_id: upstream_id, id="receipts-quote-the-hex-id"),
        pytest.param(lambda n, upstream_id: str(n), id="receipts-quote-it-in-decimal"),
    ],
)
async def test_every_receipt_of_a_hex_numbering_carrier_reaches_the_esme(
    tmp_path: Path, quote: Callable[[int, str], str]
) -> None:
    async with hex_carrier(quote) as carrier, our_node(tmp_path, carrier) as running:
        status = connector(running)
        await wait_until(lambda: status().state is ConnectorState.BOUND, "the bind", status)
        reader, writer = await asyncio.open_connection("127.0.0.1", running.ports["smpp"])
        esme = SmppTestClient(reader, writer)
        try:
            resp = await esme.request(BindTransceiver(system_id="esme1", password=ESME_PASSWORD))
            assert resp.status == 0
            ours = []
            for n in range(COUNT):
                submitted = await esme.submit(
                    source_addr="SENDER",
                    destination_addr="31600000001",
                    registered_delivery=1,
                    short_message=f"hex test {n}".encode(),
                )
                assert isinstance(submitted.pdu, SubmitSmResp), submitted
                ours.append(submitted.pdu.message_id)
            receipted: list[str] = []
            with contextlib.suppress(TimeoutError):
                for _ in range(COUNT):
                    decoded = await esme.expect(CommandId.DELIVER_SM, timeout=TIMEOUT)
                    assert isinstance(decoded.pdu, DeliverSm)
                    text = parse_receipt(decoded.pdu.short_message)
                    assert text is not None and text.stat == "DELIVRD"
                    receipted.append(text.id)
            await wait_until(
                lambda: carrier.receipts_acked == COUNT, "the carrier's acknowledgements", status
            )
        finally:
            await esme.close()
    missing = sorted(set(ours) - set(receipted))
    assert not missing, f"{len(missing)} of {COUNT} receipts never reached the ESME"
    assert sorted(receipted) == sorted(ours)  # each message once, no duplicates
    assert status().receipts_unmatched == 0
