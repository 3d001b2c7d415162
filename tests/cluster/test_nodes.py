"""Real nodes (app.start) with [cluster] on the real NATS, each on its own SQLite store (what
needs no shared store): they see each other in GET /v1/admin/cluster and `opensmsc cluster
status`, and the upstream connector is bound by one node only, then by the other when its
holder stops."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from opensmsc import app
from opensmsc.accounts.passwords import hash_password
from opensmsc.cli.admin_client import AdminClient
from opensmsc.cli.cluster import cluster_main
from opensmsc.config import Config, loads
from opensmsc.smpp import BindReceiver, BindTransceiver, SubmitSm
from opensmsc.upstream import ConnectorState
from tests.cluster.conftest import BusFactory
from tests.conftest import SmppTestClient
from tests.integration.carrier import ESME_PASSWORD, TestCarrier

_HASH = hash_password(ESME_PASSWORD)


def _config(
    data_dir: Path, carrier_port: int, node_id: str, name: str, max_binds: int = 4
) -> Config:
    data_dir.mkdir(parents=True, exist_ok=True)
    return loads(
        f"""
        [node]
        data_dir = "{data_dir}"
        [smpp.server]
        bind_address = "127.0.0.1"
        port = 0
        tls_enabled = false
        [http]
        bind_address = "127.0.0.1"
        port = 0
        [policyd]
        enabled = false
        [[accounts]]
        system_id = "esme1"
        password_hash = "{_HASH}"
        allowed_networks = ["127.0.0.0/8"]
        max_binds = {max_binds}
        [[smpp.client]]
        name = "carrier"
        host = "127.0.0.1"
        port = {carrier_port}
        system_id = "gw"
        password = "pw"
        reconnect_min_delay = 0.1
        reconnect_max_delay = 0.5
        [[routing.routes]]
        prefix = "316"
        route = "carrier"
        [cluster]
        node_id = "{node_id}"
        name = "{name}"
        node_ttl = 3.0
        """
    )


@contextlib.asynccontextmanager
async def _carrier() -> AsyncIterator[TestCarrier]:
    carrier = TestCarrier()
    await carrier.start()
    try:
        yield carrier
    finally:
        await carrier.stop()


async def _wait(condition: Callable[[], bool], what: str, timeout: float = 15.0) -> None:
    try:
        async with asyncio.timeout(timeout):
            while not condition():
                await asyncio.sleep(0.05)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None


OPEN: list[SmppTestClient] = []  # closed by the autouse fixture below, whatever happens


@pytest.fixture(autouse=True)
async def _close_clients() -> AsyncIterator[None]:
    yield
    while OPEN:
        await OPEN.pop().close()


async def _connect(node: app.RunningSmsc) -> SmppTestClient:
    reader, writer = await asyncio.open_connection("127.0.0.1", node.ports["smpp"])
    OPEN.append(SmppTestClient(reader, writer))
    return OPEN[-1]


def _bound(node: app.RunningSmsc) -> bool:
    return node.connectors.status()["carrier"].state is ConnectorState.BOUND


def _admin(node: app.RunningSmsc) -> AdminClient:
    return AdminClient(f"http://127.0.0.1:{node.ports['http']}")


async def _cluster(node: app.RunningSmsc) -> Any:
    return await asyncio.to_thread(_admin(node).call, "GET", "/v1/admin/cluster")


async def test_nodes_list_each_other_and_bind_the_connector_once(
    make_bus: BusFactory, cluster_name: str, tmp_path: Path
) -> None:
    del make_bus  # requested for its teardown: it deletes this test's buckets
    async with _carrier() as carrier:
        a = await app.start(_config(tmp_path / "a", carrier.port, "node-a", cluster_name))
        b = await app.start(_config(tmp_path / "b", carrier.port, "node-b", cluster_name))
        try:
            await _wait(lambda: _bound(a) or _bound(b), "the connector bound on a node")
            await asyncio.sleep(1.5)  # a few ticks: the other node must not bind it too
            assert [_bound(a), _bound(b)].count(True) == 1

            esme = await _connect(b)
            resp = await esme.request(BindReceiver(system_id="esme1", password=ESME_PASSWORD))
            assert resp.status == 0

            async def seen() -> Any:
                body = await _cluster(a)
                nodes = {n["node_id"]: n for n in body["nodes"]}
                if set(nodes) == {"node-a", "node-b"} and nodes["node-b"]["sessions"]:
                    return body
                return None

            body = None
            async with asyncio.timeout(10):
                while body is None:
                    await asyncio.sleep(0.2)
                    body = await seen()
            nodes = {n["node_id"]: n for n in body["nodes"]}
            assert nodes["node-b"]["sessions"] == {"esme1": {"receivers": 1, "transmitters": 0}}
            holder = "node-a" if _bound(a) else "node-b"
            assert nodes[holder]["connectors"] == ["carrier"]
            assert nodes["node-b"]["addresses"]["smpp"] == f"127.0.0.1:{b.ports['smpp']}"

            out = io.StringIO()
            args = argparse.Namespace(
                cluster_verb="status",
                url=f"http://127.0.0.1:{a.ports['http']}",
                config=None,
                token=None,
                json=False,
            )
            assert await asyncio.to_thread(cluster_main, args, out) == 0
            text = out.getvalue()
            assert "node-a" in text and "node-b" in text and "receivers 1" in text
            await esme.close()

            # The holder stops: the other node takes the slot and binds.
            first, second = (a, b) if holder == "node-a" else (b, a)
            await first.stop()
            await _wait(lambda: _bound(second), "the connector bound on the other node")
        finally:
            await a.stop()
            await b.stop()


async def _bind(node: app.RunningSmsc) -> tuple[SmppTestClient, int]:
    esme = await _connect(node)
    resp = await esme.request(BindReceiver(system_id="esme1", password=ESME_PASSWORD))
    return esme, resp.status


async def test_max_binds_counts_the_sessions_of_every_node(
    make_bus: BusFactory, cluster_name: str, tmp_path: Path
) -> None:
    del make_bus  # requested for its teardown: it deletes this test's buckets
    async with _carrier() as carrier:
        a = await app.start(_config(tmp_path / "a", carrier.port, "node-a", cluster_name, 1))
        b = await app.start(_config(tmp_path / "b", carrier.port, "node-b", cluster_name, 1))
        try:
            await _wait(lambda: a.cluster is not None and a.cluster.bus.connected, "the bus")
            await _wait(lambda: b.cluster is not None and b.cluster.bus.connected, "the bus")
            first, status = await _bind(a)
            assert status == 0
            second, status = await _bind(b)
            assert status == 0x0D  # ESME_RBINDFAIL: the cluster has its one bind of esme1
            await second.close()
            await first.close()  # its slot is given back at once
            third: SmppTestClient | None = None
            async with asyncio.timeout(10):
                while third is None:
                    esme, status = await _bind(b)
                    if status == 0:
                        third = esme
                    else:
                        await esme.close()
                        await asyncio.sleep(0.1)
            await third.close()
        finally:
            await a.stop()
            await b.stop()


async def test_a_message_submitted_on_the_node_without_the_connector_goes_out_through_its_holder(
    make_bus: BusFactory, cluster_name: str, tmp_path: Path
) -> None:
    del make_bus  # requested for its teardown: it deletes this test's buckets
    # Each node has its own SQLite store here, so the holder cannot claim what the other
    # stored: this checks the other leaves the message rather than fail it on a route it
    # does not run, and sends it once it runs the connector itself (its holder stopped).
    async with _carrier() as carrier:
        a = await app.start(_config(tmp_path / "a", carrier.port, "node-a", cluster_name))
        b = await app.start(_config(tmp_path / "b", carrier.port, "node-b", cluster_name))
        try:
            await _wait(lambda: _bound(a) or _bound(b), "the connector bound on a node")
            holder, other = (a, b) if _bound(a) else (b, a)
            assert other.cluster is not None
            await _wait(lambda: other.cluster.wakeups.route_elsewhere("carrier"), "the view")
            esme = await _connect(other)
            resp = await esme.request(BindTransceiver(system_id="esme1", password=ESME_PASSWORD))
            assert resp.status == 0
            resp = await esme.request(SubmitSm(source_addr="1234", destination_addr="31612345678"))
            assert resp.status == 0
            await asyncio.sleep(1.0)
            assert carrier.submitted == []  # left for the holder, not attempted here
            record = await other.engine.store.get(resp.pdu.message_id)
            assert record is not None and record.route is None
            await holder.stop()
            await _wait(lambda: len(carrier.submitted) == 1, "the message sent by the new holder")
            await esme.close()
        finally:
            await a.stop()
            await b.stop()
