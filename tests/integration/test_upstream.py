"""Store and forward through an upstream connector, end to end against a real SMSC: node-smpp's
server from shared/peers as the carrier, our node started with `app.start()` routing a prefix to
it, and an ESME bound to our node with the test client of tests/conftest.py.

What is checked: the ESME's receipt carries OUR message_id (never the carrier's), with the
carrier's verdict (DELIVRD / UNDELIV); ids written in other bases are matched; a receipt that
overtakes its submit_sm_resp is matched; a permanent refusal becomes an UNDELIV receipt; MO from
the carrier reaches the account whose mo_prefixes match, also when its ESME binds later.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from opensmsc import app
from opensmsc.accounts.passwords import hash_password
from opensmsc.config import loads
from opensmsc.smpp import BindReceiver, BindTransceiver, CommandId, DeliverSm, SubmitSmResp
from opensmsc.smpp.constants import MessageState, Tag
from opensmsc.smpp.receipt import parse_receipt
from opensmsc.upstream.model import ConnectorState, ConnectorStatus
from tests.conftest import SmppTestClient
from tests.integration.test_connector import PASSWORD, SYSTEM_ID, NodeServer, node_server

pytestmark = pytest.mark.interop

ESME_PASSWORD = "secret"
MO_NUMBER = "12345"
TIMEOUT = 20.0


def node_config(data_dir: Path, carrier_port: int, *, client: str = "", account: str = "") -> Any:
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
        mo_prefixes = ["{MO_NUMBER}"]
        {account}
        [[smpp.client]]
        name = "carrier"
        host = "127.0.0.1"
        port = {carrier_port}
        system_id = "{SYSTEM_ID}"
        password = "{PASSWORD}"
        reconnect_min_delay = 0.1
        reconnect_max_delay = 0.5
        response_timeout = 5.0
        {client}
        [routing]
        default_route = "loopback"
        [[routing.routes]]
        prefix = "316"
        route = "carrier"
        """
    )


async def wait_until(
    condition: Callable[[], bool], what: str, status: Callable[[], object], timeout: float = TIMEOUT
) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}; status: {status()}")
        await asyncio.sleep(0.02)


class Node:
    """Our SMSC with its connector bound to the carrier."""

    def __init__(self, running: app.RunningSmsc) -> None:
        self.running = running
        self.clients: list[SmppTestClient] = []

    def carrier(self) -> ConnectorStatus:
        assert self.running.connectors is not None
        return self.running.connectors.status()["carrier"]

    async def esme(self, mode: str = "trx", *, address_range: str = "") -> SmppTestClient:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.running.ports["smpp"])
        client = SmppTestClient(reader, writer)
        self.clients.append(client)
        bind = {"trx": BindTransceiver, "rx": BindReceiver}[mode]
        resp = await client.request(
            bind(system_id="esme1", password=ESME_PASSWORD, address_range=address_range)
        )
        assert resp.status == 0, f"bind refused: 0x{resp.status:08X}"
        return client


@contextlib.asynccontextmanager
async def our_node(
    tmp_path: Path, carrier: NodeServer, *, client: str = "", account: str = ""
) -> AsyncIterator[Node]:
    # The same folder each time: a test may stop its node and start it again on the same data.
    config = node_config(tmp_path / "node", carrier.port, client=client, account=account)
    (tmp_path / "node").mkdir(exist_ok=True)
    node = Node(await app.start(config))
    try:
        await wait_until(
            lambda: node.carrier().state is ConnectorState.BOUND, "the connector", node.carrier
        )
        yield node
    finally:
        for esme in node.clients:
            await esme.close()
        await node.running.stop()


async def submit(esme: SmppTestClient, count: int, **fields: Any) -> list[str]:
    ids = []
    for n in range(count):
        fields.setdefault("source_addr", "SENDER")
        fields.setdefault("destination_addr", "31600000001")
        fields.setdefault("registered_delivery", 1)
        resp = await esme.submit(short_message=f"upstream test {n}".encode(), **fields)
        assert resp.status == 0, f"submit refused: 0x{resp.status:08X}"
        assert isinstance(resp.pdu, SubmitSmResp)
        ids.append(resp.pdu.message_id)
    return ids


async def deliveries(esme: SmppTestClient, count: int) -> list[DeliverSm]:
    got = []
    for _ in range(count):
        decoded = await esme.expect(CommandId.DELIVER_SM, timeout=TIMEOUT)
        assert isinstance(decoded.pdu, DeliverSm)
        got.append(decoded.pdu)
    return got


def receipts_by_id(pdus: list[DeliverSm]) -> dict[str, str]:
    """receipted id → stat, checking that the TLVs and the text agree."""
    out: dict[str, str] = {}
    for pdu in pdus:
        assert pdu.esm_class & 0x04, pdu
        text = parse_receipt(pdu.short_message)
        assert text is not None, pdu.short_message
        assert pdu.tlvs.get(Tag.RECEIPTED_MESSAGE_ID) == text.id
        state = pdu.tlvs.get(Tag.MESSAGE_STATE)
        assert isinstance(state, int) and MessageState(state).name[:5] == text.stat[:5]
        out[text.id] = text.stat
    return out


async def test_carrier_receipts_reach_the_esme_with_our_message_id(tmp_path: Path) -> None:
    count = 6
    args = ("--dlr", "--dlr-delay", "50", "--dlr-stat", "DELIVRD,UNDELIV")
    async with node_server(*args) as carrier:
        async with our_node(tmp_path, carrier) as node:
            esme = await node.esme()
            ours = await submit(esme, count)
            receipts = receipts_by_id(await deliveries(esme, count))
            status = node.carrier()
        summary = await carrier.stop()
    assert set(receipts) == set(ours)
    assert sorted(receipts.values()) == ["DELIVRD"] * 3 + ["UNDELIV"] * 3
    # Not the carrier's ids: node-smpp's are 8 hex digits, ours 16.
    assert not set(receipts) & set(summary["message_ids_sample"])
    assert summary["registered_delivery"] == count
    assert summary["receipts_acked"] == count
    assert (status.accepted, status.receipts_matched) == (count, count)
    assert status.receipts_unmatched == 0


async def test_a_receipt_quoting_the_id_in_another_base_is_matched(tmp_path: Path) -> None:
    # submit_sm_resp ids in hex, receipts quoting them in decimal: message_id_format "auto"
    # (the default) reads both; the store's map is keyed the same way as the connector's.
    count = 4
    args = ("--dlr", "--dlr-delay", "50", "--id-format", "hex", "--receipt-id-format", "dec")
    async with node_server(*args) as carrier, our_node(tmp_path, carrier) as node:
        esme = await node.esme()
        ours = await submit(esme, count)
        receipts = receipts_by_id(await deliveries(esme, count))
        status = node.carrier()
    assert receipts == dict.fromkeys(ours, "DELIVRD")
    assert status.receipts_unmatched == 0


@pytest.mark.parametrize(
    ("delay", "all_early"),
    [
        # The receipt leaves with the resp; a transmitter + receiver pair carries them on two
        # sockets, so either may arrive first.
        ("--dlr-delay=0", False),
        # 150 ms ahead of the submit_sm_resp on the wire: every receipt is held, then matched.
        ("--dlr-delay=-150", True),
    ],
)
async def test_a_receipt_before_its_submit_sm_resp_is_held_and_matched(
    tmp_path: Path, delay: str, all_early: bool
) -> None:
    count = 6
    args = (
        "--dlr",
        delay,
        "--resp-delay",
        "200",
        "--id-format",
        "hex",
        "--receipt-id-format",
        "dec",
    )
    pair = 'bind = "pair"'
    async with node_server(*args) as carrier, our_node(tmp_path, carrier, client=pair) as node:
        esme = await node.esme()
        ours = await submit(esme, count)
        receipts = receipts_by_id(await deliveries(esme, count))
        status = node.carrier()
    assert receipts == dict.fromkeys(ours, "DELIVRD")
    assert status.receipts_unmatched == 0
    if all_early:
        assert status.receipts_held_total == count


async def test_a_permanent_refusal_upstream_is_an_undeliv_receipt(tmp_path: Path) -> None:
    count = 4
    args = ("--dlr", "--dlr-delay", "50", "--error-every", "2", "--error-status", "0x0B")
    async with node_server(*args) as carrier:
        async with our_node(tmp_path, carrier) as node:
            esme = await node.esme()
            ours = await submit(esme, count)
            pdus = await deliveries(esme, count)
            receipts = receipts_by_id(pdus)
        summary = await carrier.stop()
    assert set(receipts) == set(ours)
    assert sorted(receipts.values()) == ["DELIVRD"] * 2 + ["UNDELIV"] * 2
    assert summary["submit_sm"] == count  # a permanent refusal is not retried
    for pdu in pdus:
        text = parse_receipt(pdu.short_message)
        assert text is not None
        if text.stat == "UNDELIV":
            assert text.err == "011"  # ESME_RINVDSTADR, the carrier's answer


async def test_mo_from_the_carrier_reaches_the_account_by_its_mo_prefixes(tmp_path: Path) -> None:
    count = 3
    args = ("--mo", str(count), "--mo-dst", MO_NUMBER, "--mo-interval", "20")
    async with node_server(*args) as carrier:
        async with our_node(tmp_path, carrier) as node:
            esme = await node.esme()
            mo = await deliveries(esme, count)
        summary = await carrier.stop()
    assert [p.destination_addr for p in mo] == [MO_NUMBER] * count
    assert sorted(p.short_message for p in mo) == sorted(
        f"opensmsc MO {n}/{count} from node-smpp".encode() for n in range(1, count + 1)
    )
    assert all(p.esm_class == 0 for p in mo)
    assert summary["mo_acked"] == count


async def test_mo_is_stored_until_the_esme_binds(tmp_path: Path) -> None:
    count = 3
    args = ("--mo", str(count), "--mo-dst", MO_NUMBER, "--mo-interval", "20")
    async with node_server(*args) as carrier:
        async with our_node(tmp_path, carrier) as node:
            # The carrier sends its MO as soon as our connector binds; nobody is bound to us.
            await wait_until(lambda: node.carrier().mo >= count, "the MO", node.carrier)
            await asyncio.sleep(0.3)
            esme = await node.esme("rx")
            mo = await deliveries(esme, count)
        summary = await carrier.stop()
    assert summary["mo_acked"] == count  # acknowledged to the carrier: they were stored
    assert sorted(p.short_message for p in mo) == sorted(
        f"opensmsc MO {n}/{count} from node-smpp".encode() for n in range(1, count + 1)
    )


async def test_mo_for_no_account_stays_with_the_carrier(tmp_path: Path) -> None:
    args = ("--mo", "2", "--mo-dst", "999", "--mo-interval", "20")
    async with node_server(*args) as carrier:
        async with our_node(tmp_path, carrier) as node:
            await wait_until(lambda: node.carrier().mo >= 2, "the MO", node.carrier)
            await asyncio.sleep(0.2)
        summary = await carrier.stop()
    assert summary["mo_acked"] == 0
    assert summary["deliver_sm_resp_error"] == 2


async def test_mo_reaches_a_session_whose_bind_address_range_matches(tmp_path: Path) -> None:
    count = 2
    args = ("--mo", str(count), "--mo-dst", "7771234", "--mo-interval", "20")
    async with node_server(*args) as carrier, our_node(tmp_path, carrier) as node:
        # The MO waits at the carrier (ESME_RX_T_APPN) until a session whose address_range
        # matches is bound: then the carrier's next try, or its next bind's MO, gets through.
        esme = await node.esme("rx", address_range="^777[0-9]+$")
        assert node.running.connectors is not None
        await node.running.connectors.stop("carrier")
        await node.running.connectors.start("carrier")  # node-smpp sends its MO per bind
        mo = await deliveries(esme, count)
    assert [p.destination_addr for p in mo] == ["7771234"] * count


async def test_receipts_after_a_restart_are_matched_from_the_store(tmp_path: Path) -> None:
    # Our node stops after the carrier took the messages and before its receipts come; the
    # carrier keeps them until our connector binds again. The new connector's matcher knows
    # nothing: the ids mapped in the store match them.
    count = 4
    args = ("--dlr", "--dlr-delay", "1500", "--id-format", "hex", "--receipt-id-format", "dec")
    async with node_server(*args) as carrier:
        async with our_node(tmp_path, carrier) as node:
            ours = await submit(await node.esme(), count)
            await wait_until(lambda: node.carrier().accepted >= count, "accepted", node.carrier)
        await asyncio.sleep(2.0)  # the receipts fall due while nobody is bound
        async with our_node(tmp_path, carrier) as node:
            esme = await node.esme()
            receipts = receipts_by_id(await deliveries(esme, count))
            status = node.carrier()
        summary = await carrier.stop()
    assert receipts == dict.fromkeys(ours, "DELIVRD")
    assert status.receipts_unmatched == count  # unknown to the fresh connector's matcher
    assert summary["receipts_acked"] == count
