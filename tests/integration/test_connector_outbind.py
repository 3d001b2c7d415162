"""The ESME side of outbind (SMPP 3.4 §2.2.1, digest §1.10) in our upstream connector.

The carrier's SMSC is either our own SMSC (`app.start`, from the `smsc_factory` fixture), which
outbinds when receipts wait for an account with no receiver bound, or a raw SMPP peer
(`SmppTestClient`) that shows exactly what crosses the wire. Real sockets on 127.0.0.1, ports 0,
every wait bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from opensmsc.errors import ConfigError
from opensmsc.smpp import (
    BindReceiver,
    BindReceiverResp,
    BindTransceiver,
    BindTransceiverResp,
    CommandId,
    DeliverSm,
    Outbind,
    SubmitSm,
    UnbindResp,
)
from opensmsc.smpp.constants import MessageState
from opensmsc.smpp.pdu import DataSm
from opensmsc.smpp.receipt import DeliveryReceipt, ReceiptInfo, build_receipt_pdu
from opensmsc.smpp.states import BindMode
from opensmsc.upstream import (
    SMPP_V34,
    SMPP_V50,
    ConnectorBind,
    ConnectorOptions,
    Connectors,
    ConnectorSettings,
    LinkState,
    SmppConnector,
)
from tests.conftest import HOST, SmppTestClient, SmscFactory, account

SMSC_SYSTEM_ID = "opensmsc"  # what our SMSC puts in its outbind PDU (smpp.server.system_id)
SMSC_PASSWORD = "smscpw"  # what the account tells our SMSC to present, and the connector expects
ESME_SYSTEM_ID = "esme1"
ESME_PASSWORD = "pw1"

OPTIONS = ConnectorOptions(connect_timeout=2.0, drain_timeout=1.0, outbind_init_timeout=10.0)


@dataclass
class Inbox:
    receipts: list[tuple[str | None, ReceiptInfo]] = field(default_factory=list)
    mo: list[DeliverSm | DataSm] = field(default_factory=list)

    async def on_receipt(self, our_id: str | None, info: ReceiptInfo) -> None:
        self.receipts.append((our_id, info))

    async def on_mo(self, pdu: DeliverSm | DataSm) -> None:
        self.mo.append(pdu)


@pytest.fixture
def refused_port() -> Iterator[int]:
    """A port nothing listens on (held bound, so no one else takes it): the connector's own
    link to it is refused. These tests are about the sessions the SMSC opens; the two ports
    (our listener's, the SMSC's) are both ephemeral, so the connector cannot also know the
    SMSC's port when it starts."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind((HOST, 0))
    try:
        yield int(sock.getsockname()[1])
    finally:
        sock.close()


def connector_config(upstream_port: int, **fields: Any) -> ConnectorSettings:
    values: dict[str, Any] = {
        "name": "carrier",
        "host": HOST,
        "port": upstream_port,
        "system_id": ESME_SYSTEM_ID,
        "password": ESME_PASSWORD,
        "bind": ConnectorBind.TRANSMITTER,
        # One refused attempt at start, then quiet for the rest of the test.
        "reconnect_min_delay": 60.0,
        "reconnect_max_delay": 60.0,
        "response_timeout": 5.0,
        "outbind_listen": True,
        "outbind_bind_address": HOST,
        "outbind_port": 0,
        "outbind_system_id": SMSC_SYSTEM_ID,
        "outbind_password": SMSC_PASSWORD,
    }
    values.update(fields)
    return ConnectorSettings(**values)


@contextlib.asynccontextmanager
async def running(
    config: ConnectorSettings, inbox: Inbox, options: ConnectorOptions = OPTIONS
) -> AsyncIterator[SmppConnector]:
    connector = SmppConnector(
        config, options=options, on_receipt=inbox.on_receipt, on_mo=inbox.on_mo
    )
    await connector.start()
    try:
        yield connector
    finally:
        await asyncio.wait_for(connector.stop(), 15)


async def wait_until(condition: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


async def smsc_peer(port: int) -> SmppTestClient:
    """A raw SMPP peer in the SMSC's place, connected to the connector's outbind listener."""
    reader, writer = await asyncio.wait_for(asyncio.open_connection(HOST, port), 5)
    return SmppTestClient(reader, writer)


async def refuses_connections(port: int) -> bool:
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(HOST, port), 5)
    except ConnectionRefusedError:
        return True
    writer.close()
    with contextlib.suppress(ConnectionError):
        await writer.wait_closed()
    return False


def receipt(message_id: str) -> DeliverSm:
    return build_receipt_pdu(
        SubmitSm(source_addr="12345", destination_addr="31600000001"),
        DeliveryReceipt(id=message_id, sub=1, dlvrd=1, stat="DELIVRD", err="000"),
    )


# -- against our own SMSC -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("version", "mode"),
    [(SMPP_V34, BindMode.RECEIVER), (SMPP_V50, BindMode.TRANSCEIVER)],
)
async def test_our_smsc_outbinds_and_its_waiting_receipts_reach_on_receipt(
    smsc_factory: SmscFactory, refused_port: int, version: int, mode: BindMode
) -> None:
    inbox = Inbox()
    config = connector_config(refused_port, interface_version=version)
    async with running(config, inbox) as connector:
        listen_port = connector.outbind_port
        assert listen_port is not None and listen_port != 0
        smsc = await smsc_factory(
            accounts=[
                account(
                    ESME_SYSTEM_ID,
                    ESME_PASSWORD,
                    outbind_host=HOST,
                    outbind_port=listen_port,
                    outbind_password=SMSC_PASSWORD,
                )
            ]
        )
        # Receipts for esme1 now wait with no receiver bound: the SMSC dials our listener.
        tx = await smsc.bound("tx", ESME_SYSTEM_ID)
        message_ids = set()
        for n in range(3):
            resp = await tx.submit(destination_addr=f"3160000000{n}", registered_delivery=1)
            assert resp.status == 0
            message_ids.add(resp.pdu.message_id)  # type: ignore[attr-defined]

        await wait_until(lambda: len(inbox.receipts) >= 3, "3 receipts")
        assert {info.message_id for _, info in inbox.receipts} == message_ids
        # This connector never submitted them, so no id of ours matches.
        assert all(our_id is None for our_id, _ in inbox.receipts)
        assert all(info.state is MessageState.DELIVERED for _, info in inbox.receipts)

        status = connector.status()
        (session,) = status.outbind_sessions
        assert session.mode is mode
        assert session.state is LinkState.BOUND
        assert session.peer_system_id == SMSC_SYSTEM_ID
        assert status.receipts == 3
        assert status.receipts_unmatched == 3
        assert status.outbind_port == listen_port
        # The outbind session is no transmitter: the connector's own link still is down.
        assert status.bound_sessions == 0

    status = connector.status()
    assert status.outbind_sessions == ()
    assert status.outbind_port is None
    assert await refuses_connections(listen_port)


async def test_our_smsc_with_the_wrong_outbind_password_gets_no_bind(
    smsc_factory: SmscFactory, refused_port: int
) -> None:
    inbox = Inbox()
    async with running(connector_config(refused_port), inbox) as connector:
        listen_port = connector.outbind_port
        assert listen_port is not None
        smsc = await smsc_factory(
            accounts=[
                account(
                    ESME_SYSTEM_ID,
                    ESME_PASSWORD,
                    outbind_host=HOST,
                    outbind_port=listen_port,
                    outbind_password="nottheone",
                )
            ]
        )
        tx = await smsc.bound("tx", ESME_SYSTEM_ID)
        resp = await tx.submit(registered_delivery=1)
        assert resp.status == 0

        await wait_until(lambda: connector.status().outbinds_refused >= 1, "a refused outbind")
        await asyncio.sleep(0.2)  # room for a bind that must not happen
        status = connector.status()
        assert status.outbind_sessions == ()
        assert inbox.receipts == []
        assert status.receipts == 0


# -- against a raw peer: what crosses the wire --------------------------------------------------


@pytest.mark.parametrize(
    ("version", "bind_class", "resp_class", "code"),
    [
        (SMPP_V34, BindReceiver, BindReceiverResp, 0x34),
        (SMPP_V50, BindTransceiver, BindTransceiverResp, 0x50),
    ],
)
async def test_outbind_is_answered_with_a_bind_and_the_session_feeds_the_callbacks(
    refused_port: int,
    version: int,
    bind_class: type[BindReceiver | BindTransceiver],
    resp_class: type[BindReceiverResp | BindTransceiverResp],
    code: int,
) -> None:
    inbox = Inbox()
    async with running(connector_config(refused_port, interface_version=version), inbox) as c:
        assert c.outbind_port is not None
        peer = await smsc_peer(c.outbind_port)
        try:
            await peer.send(Outbind(system_id=SMSC_SYSTEM_ID, password=SMSC_PASSWORD))
            bind = await peer.expect(bind_class.command_id)
            assert bind.pdu == bind_class(
                system_id=ESME_SYSTEM_ID, password=ESME_PASSWORD, interface_version=code
            )
            await peer.send(resp_class(system_id="upstream"), bind.sequence_number)
            await wait_until(
                lambda: [s.state for s in c.status().outbind_sessions] == [LinkState.BOUND],
                "the outbind session bound",
            )

            # A receipt goes to on_receipt, anything else to on_mo; both acknowledged.
            dlr = await peer.request(receipt("1A2B"))
            mo = await peer.request(
                DeliverSm(source_addr="31600000001", destination_addr="1234", short_message=b"hi")
            )
            assert (dlr.status, mo.status) == (0, 0)
            assert [(our_id, info.message_id) for our_id, info in inbox.receipts] == [
                (None, "1A2B")
            ]
            assert [pdu.short_message for pdu in inbox.mo if isinstance(pdu, DeliverSm)] == [b"hi"]
            assert c.status().outbind_sessions[0].peer_system_id == "upstream"

            # Stopping the connector unbinds the session like one of its own.
            stopping = asyncio.get_running_loop().create_task(c.stop())
            unbind = await peer.expect(CommandId.UNBIND)
            await peer.send(UnbindResp(), unbind.sequence_number)
            await peer.wait_closed()
            await asyncio.wait_for(stopping, 10)
        finally:
            await peer.close()


@pytest.mark.parametrize(
    ("system_id", "password"),
    [(SMSC_SYSTEM_ID, "wrong"), ("impostor", SMSC_PASSWORD), (SMSC_SYSTEM_ID, "")],
)
async def test_outbind_with_wrong_credentials_is_closed_without_a_bind(
    refused_port: int, system_id: str, password: str
) -> None:
    inbox = Inbox()
    async with running(connector_config(refused_port), inbox) as connector:
        assert connector.outbind_port is not None
        peer = await smsc_peer(connector.outbind_port)
        try:
            await peer.send(Outbind(system_id=system_id, password=password))
            assert await peer.wait_closed() == []  # closed, and nothing sent: no bind
        finally:
            await peer.close()
        status = connector.status()
        assert status.outbinds_refused == 1
        assert status.outbind_sessions == ()


async def test_empty_expected_credentials_accept_any_outbind(refused_port: int) -> None:
    config = connector_config(refused_port, outbind_system_id="", outbind_password="")
    async with running(config, Inbox()) as connector:
        assert connector.outbind_port is not None
        peer = await smsc_peer(connector.outbind_port)
        try:
            await peer.send(Outbind(system_id="anyone", password="anything"))
            await peer.expect(CommandId.BIND_RECEIVER)
        finally:
            await peer.close()


async def test_several_outbind_sessions_at_once_all_close_on_stop(refused_port: int) -> None:
    inbox = Inbox()
    async with running(connector_config(refused_port), inbox) as connector:
        port = connector.outbind_port
        assert port is not None
        peers = [await smsc_peer(port) for _ in range(3)]
        try:
            for n, peer in enumerate(peers):
                await peer.send(Outbind(system_id=SMSC_SYSTEM_ID, password=SMSC_PASSWORD))
                bind = await peer.expect(CommandId.BIND_RECEIVER)
                await peer.send(BindReceiverResp(system_id=f"smsc{n}"), bind.sequence_number)
            await wait_until(
                lambda: (
                    [s.state for s in connector.status().outbind_sessions] == [LinkState.BOUND] * 3
                ),
                "three bound outbind sessions",
            )
            for n, peer in enumerate(peers):
                assert (await peer.request(receipt(f"{n + 100}"))).status == 0
            assert sorted(info.message_id for _, info in inbox.receipts) == ["100", "101", "102"]

            stopping = asyncio.get_running_loop().create_task(connector.stop())
            for peer in peers:
                unbind = await peer.expect(CommandId.UNBIND)
                await peer.send(UnbindResp(), unbind.sequence_number)
            for peer in peers:
                await peer.wait_closed()
            await asyncio.wait_for(stopping, 10)
            assert connector.status().outbind_sessions == ()
        finally:
            for peer in peers:
                await peer.close()


async def test_a_refused_bind_closes_the_outbind_session(refused_port: int) -> None:
    async with running(connector_config(refused_port), Inbox()) as connector:
        assert connector.outbind_port is not None
        peer = await smsc_peer(connector.outbind_port)
        try:
            await peer.send(Outbind(system_id=SMSC_SYSTEM_ID, password=SMSC_PASSWORD))
            bind = await peer.expect(CommandId.BIND_RECEIVER)
            # ESME_RBINDFAIL: the SMSC that outbound to us will not have us after all.
            await peer.send(BindReceiverResp(command_status=0x0D), bind.sequence_number)
            await peer.wait_closed()
        finally:
            await peer.close()
        await wait_until(lambda: connector.status().outbind_sessions == (), "the session gone")


async def test_a_connection_that_never_outbinds_is_closed(refused_port: int) -> None:
    options = ConnectorOptions(connect_timeout=2.0, drain_timeout=1.0, outbind_init_timeout=0.3)
    async with running(connector_config(refused_port), Inbox(), options) as connector:
        assert connector.outbind_port is not None
        peer = await smsc_peer(connector.outbind_port)
        try:
            assert await peer.wait_closed(timeout=5) == []
        finally:
            await peer.close()


# -- life ---------------------------------------------------------------------------------------


async def test_the_listener_follows_connectors_add_start_stop_and_remove(
    refused_port: int,
) -> None:
    connectors = Connectors(options=OPTIONS)
    await connectors.start_all()
    try:
        connector = await connectors.add(connector_config(refused_port))
        port = connector.outbind_port
        assert port is not None
        assert not await refuses_connections(port)

        await connectors.stop("carrier")
        assert connector.outbind_port is None
        assert await refuses_connections(port)

        await connectors.start("carrier")
        port = connector.outbind_port
        assert port is not None
        assert not await refuses_connections(port)

        await connectors.remove("carrier")
        assert connector.outbind_port is None
        assert await refuses_connections(port)
    finally:
        await connectors.stop_all()


async def test_a_connector_without_outbind_listen_has_no_listener(refused_port: int) -> None:
    config = connector_config(
        refused_port, outbind_listen=False, outbind_system_id="", outbind_password=""
    )
    async with running(config, Inbox()) as connector:
        assert connector.outbind_port is None
        assert connector.status().outbind_port is None


async def test_an_outbind_port_in_use_is_a_config_error(refused_port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as busy:
        busy.bind((HOST, 0))
        busy.listen()
        config = connector_config(refused_port, outbind_port=busy.getsockname()[1])
        connector = SmppConnector(config, options=OPTIONS)
        with pytest.raises(ConfigError, match="outbind_port"):
            await connector.start()
        assert not connector.is_running
