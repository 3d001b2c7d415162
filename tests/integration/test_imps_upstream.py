"""IMPS reached from an upstream connector (issue 13, "The binding"): a carrier's deliver_sm (an
MO from its subscriber) whose UDH addresses port 3590 is stored for IMPS, not for an ESME
account, however the accounts' mo_prefixes read; IMPS's answer goes back to that subscriber
through the same carrier, as a binary submit_sm with port addressing 3590 both ways, one SMS
per PTS segment.

The carrier is tests/integration/carrier.py's TestCarrier (our sans-IO core in the SMSC role).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from opensmsc import app
from opensmsc.accounts.passwords import hash_password
from opensmsc.config import loads
from opensmsc.imps import parse
from opensmsc.smpp import DeliverSm, EsmClass, SubmitSm
from opensmsc.sms import PortAddress, build_udh, parse_udh
from opensmsc.transport.protocol import SessionHandler, SmppProtocol
from tests.integration.carrier import ESME_PASSWORD, TestCarrier, wait_until

pytestmark = pytest.mark.slow

SUBSCRIBER = "31611111111"  # the carrier's subscriber, routed back to the carrier (316...)


class MoCarrier(TestCarrier):
    """A TestCarrier that can send an MO on the session our connector bound."""

    def __init__(self) -> None:
        super().__init__()
        self.protocols: list[SmppProtocol] = []

    def _session(self, protocol: SmppProtocol) -> SessionHandler:
        self.protocols.append(protocol)
        return super()._session(protocol)

    def send_mo(self, pdu: DeliverSm) -> None:
        self.protocols[-1].send_request(pdu)


def config(data_dir: Path, carrier_port: int) -> object:
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
        mo_prefixes = [""]                # the default MO account: IMPS must come first
        [[smpp.client]]
        name = "carrier"
        host = "127.0.0.1"
        port = {carrier_port}
        system_id = "gw"
        password = "pw"
        reconnect_min_delay = 0.1
        reconnect_max_delay = 0.5
        [routing]
        default_route = "loopback"
        [[routing.routes]]
        prefix = "316"
        route = "carrier"
        [imps]
        enabled = true
        short_code = "3590"
        [[imps.users]]
        user_id = "carol"
        msisdn = "+{SUBSCRIBER}"
        password = "carol-pw"
        """
    )


@contextlib.asynccontextmanager
async def node(tmp_path: Path, carrier_port: int) -> AsyncIterator[app.RunningSmsc]:
    (tmp_path / "node").mkdir(exist_ok=True)
    running = await app.start(config(tmp_path / "node", carrier_port))  # type: ignore[arg-type]
    try:
        yield running
    finally:
        await running.stop()


async def test_a_carriers_mo_to_port_3590_reaches_imps_and_the_answer_goes_back(
    tmp_path: Path,
) -> None:
    carrier = MoCarrier()
    await carrier.start()
    try:
        async with node(tmp_path, carrier.port) as running:
            await wait_until(lambda: bool(carrier.protocols), "the connector's bind", lambda: "")
            await asyncio.sleep(0.2)  # the bind's answer reached the connector
            login = b"WV12LR5 UI=carol PW=carol-pw"
            carrier.send_mo(
                DeliverSm(
                    source_addr_ton=1,
                    source_addr_npi=1,
                    source_addr=SUBSCRIBER,
                    destination_addr="3590",
                    esm_class=EsmClass.UDHI,
                    data_coding=0x04,
                    short_message=build_udh(ports=PortAddress(3590, 3590)).encode() + login,
                )
            )

            def answered() -> list[SubmitSm]:
                return [pdu for pdu, _ in carrier.submitted if pdu.destination_addr == SUBSCRIBER]

            await wait_until(lambda: bool(answered()), "IMPS's answer at the carrier", lambda: "")
            [answer] = answered()
            assert answer.source_addr == "3590" and answer.esm_class & EsmClass.UDHI
            header, payload = parse_udh(answer.short_message)
            assert header.ports == PortAddress(3590, 3590)
            reply = parse(payload.decode("utf-8"))
            assert (reply.code, reply.transaction, reply.text("ST")) == ("RL", 5, "200")
            imps = running.imps
            assert imps is not None and imps.route is not None and imps.route.received == 1
    finally:
        await carrier.stop()
