"""Outbind from the SMSC side (SMPP 3.4 §2.2.1): receipts wait for an ESME that is not bound;
the SMSC connects to the address the account names, sends outbind, the ESME binds as receiver
on that connection and the receipts arrive."""

from __future__ import annotations

import asyncio
from pathlib import Path

from opensmsc import app
from opensmsc.accounts.passwords import hash_password
from opensmsc.config import loads
from opensmsc.smpp.connection import Connection, SessionConfig
from opensmsc.smpp.events import DeliverReceived, Event, OutbindReceived, ResponseReceived
from opensmsc.smpp.pdu import BindReceiver, BindTransmitter, DeliverSmResp, SubmitSm
from opensmsc.smpp.states import Role
from opensmsc.transport.protocol import SmppProtocol


class _Esme:
    """A minimal ESME driven by our own sans-IO Connection: records events, answers what the
    test tells it to."""

    def __init__(
        self, protocol: SmppProtocol, auto_bind_receiver: tuple[str, str] | None = None
    ) -> None:
        self.protocol = protocol
        self.events: list[Event] = []
        self.changed = asyncio.Event()
        self.auto_bind_receiver = auto_bind_receiver

    def on_events(self, events: list[Event]) -> None:
        for event in events:
            self.events.append(event)
            match event:
                case OutbindReceived() if self.auto_bind_receiver is not None:
                    system_id, password = self.auto_bind_receiver
                    self.protocol.send_request(
                        BindReceiver(system_id=system_id, password=password, interface_version=0x34)
                    )
                case DeliverReceived():
                    self.protocol.respond(event, DeliverSmResp())
                case _:
                    pass
        self.changed.set()

    def on_connection_lost(self, exc: Exception | None) -> None:
        self.changed.set()

    async def wait_for(self, predicate: object, timeout: float = 10.0) -> None:
        async def _wait() -> None:
            while not predicate():  # type: ignore[operator]
                self.changed.clear()
                await self.changed.wait()

        await asyncio.wait_for(_wait(), timeout)


def _esme_protocol(
    esmes: list[_Esme], auto_bind_receiver: tuple[str, str] | None = None
) -> SmppProtocol:
    loop = asyncio.get_running_loop()
    config = SessionConfig(role=Role.ESME, enquire_link_interval=None, session_init_timeout=None)
    protocol = SmppProtocol(Connection(config, now=loop.time()), session_id="test-esme")
    esme = _Esme(protocol, auto_bind_receiver)
    protocol.handler = esme
    esmes.append(esme)
    return protocol


async def test_waiting_receipts_trigger_an_outbind_and_arrive_on_the_bound_receiver(
    tmp_path: Path,
) -> None:
    loop = asyncio.get_running_loop()
    listening: list[_Esme] = []
    listener = await loop.create_server(
        lambda: _esme_protocol(listening, ("esme1", "secret")), host="127.0.0.1", port=0
    )
    listen_port = listener.sockets[0].getsockname()[1]
    config = loads(
        f"""
        [node]
        data_dir = "{tmp_path}"
        [smpp.server]
        bind_address = "127.0.0.1"
        port = 0
        tls_enabled = false
        [[accounts]]
        system_id = "esme1"
        password_hash = "{hash_password("secret")}"
        allowed_networks = ["127.0.0.0/8"]
        outbind_host = "127.0.0.1"
        outbind_port = {listen_port}
        outbind_password = "smscpw"
        """
    )
    running = await app.start(config)
    transmitters: list[_Esme] = []
    try:
        _, tx_protocol = await loop.create_connection(
            lambda: _esme_protocol(transmitters), host="127.0.0.1", port=running.ports["smpp"]
        )
        tx = transmitters[0]
        tx_protocol.send_request(BindTransmitter(system_id="esme1", password="secret"))
        await tx.wait_for(lambda: tx_protocol.connection.state.is_bound)
        for n in range(3):
            tx_protocol.send_request(
                SubmitSm(
                    destination_addr=f"3160000000{n}", registered_delivery=1, short_message=b"hi"
                )
            )
        await tx.wait_for(
            lambda: sum(isinstance(e, ResponseReceived) for e in tx.events) >= 4  # bind + 3
        )
        message_ids = {
            e.response.message_id  # type: ignore[attr-defined]
            for e in tx.events
            if isinstance(e, ResponseReceived) and isinstance(e.request, SubmitSm)
        }
        assert len(message_ids) == 3

        # No receiver is bound, so the SMSC dials the ESME's listener and sends outbind.
        await asyncio.wait_for(_until(lambda: bool(listening)), 10)
        rx = listening[0]
        await rx.wait_for(lambda: sum(isinstance(e, DeliverReceived) for e in rx.events) >= 3)
        outbinds = [e for e in rx.events if isinstance(e, OutbindReceived)]
        assert outbinds[0].pdu.system_id == "opensmsc"
        assert outbinds[0].pdu.password == "smscpw"
        receipted = {e.pdu.tlvs.get(0x001E) for e in rx.events if isinstance(e, DeliverReceived)}
        assert receipted == message_ids
    finally:
        await running.stop()
        listener.close()
        await listener.wait_closed()


async def _until(predicate: object) -> None:
    while not predicate():  # type: ignore[operator]
        await asyncio.sleep(0.01)
