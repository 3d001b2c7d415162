"""Accounts and routes changed through one node are live on every node of the cluster (issue 14):
two real nodes (app.start) on one PostgreSQL schema and the real NATS; an account added through
node A's admin API binds on node B within a second, and removed through B it is refused on A;
a node started afterwards starts with the change."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from opensmsc import app
from opensmsc.accounts.passwords import hash_password
from opensmsc.cli.admin_client import AdminClient
from opensmsc.config import Config, loads
from opensmsc.smpp import BindTransceiver, CommandStatus
from tests.cluster.conftest import BusFactory
from tests.conftest import SmppTestClient
from tests.postgres_server import DSN, drop_schemas, ensure_running

_HASH = hash_password("pw1")


def _config(data_dir: Path, node_id: str, name: str) -> Config:
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
        [routing]
        default_route = "loopback"
        [cluster]
        node_id = "{node_id}"
        name = "{name}"
        postgres = "{DSN}"
        node_ttl = 3.0
        """
    )


@pytest.fixture
async def schema(cluster_name: str) -> AsyncIterator[str]:
    await ensure_running()
    yield cluster_name
    await drop_schemas([cluster_name])


async def _bind(node: app.RunningSmsc, system_id: str, password: str) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", node.ports["smpp"])
    esme = SmppTestClient(reader, writer)
    try:
        resp = await esme.request(BindTransceiver(system_id=system_id, password=password))
        return int(resp.status)
    finally:
        await esme.close()


async def _until_bind(node: app.RunningSmsc, status: int, timeout: float = 5.0) -> float:
    """Seconds until binding esme2 on `node` answers `status`."""
    started = time.monotonic()
    async with asyncio.timeout(timeout):
        while await _bind(node, "esme2", "pw2") != status:
            await asyncio.sleep(0.02)
    return time.monotonic() - started


async def test_a_change_through_one_node_is_live_on_the_others_within_a_second(
    make_bus: BusFactory, schema: str, tmp_path: Path
) -> None:
    del make_bus  # requested for its teardown: it deletes this test's NATS names
    a = await app.start(_config(tmp_path / "a", "node-a", schema))
    b = await app.start(_config(tmp_path / "b", "node-b", schema))
    c: app.RunningSmsc | None = None
    try:
        assert a.cluster is not None and b.cluster is not None
        async with asyncio.timeout(10):
            while not (a.cluster.bus.connected and b.cluster.bus.connected):
                await asyncio.sleep(0.05)
        assert await _bind(b, "esme2", "pw2") == CommandStatus.ESME_RINVSYSID

        admin_a = AdminClient(f"http://127.0.0.1:{a.ports['http']}")
        await asyncio.to_thread(
            admin_a.call,
            "POST",
            "/v1/admin/accounts",
            {"system_id": "esme2", "password": "pw2", "allowed_networks": ["127.0.0.0/8"]},
        )
        assert await _bind(a, "esme2", "pw2") == 0  # applied where it was made, before the answer
        took = await _until_bind(b, 0)
        print(f"account added on node-a bound on node-b after {took * 1000:.0f} ms")
        assert took < 1.0

        admin_b = AdminClient(f"http://127.0.0.1:{b.ports['http']}")
        await asyncio.to_thread(admin_b.call, "DELETE", "/v1/admin/accounts/esme2")
        took = await _until_bind(a, CommandStatus.ESME_RINVSYSID)
        print(f"account removed on node-b refused on node-a after {took * 1000:.0f} ms")
        assert took < 1.0

        await asyncio.to_thread(
            admin_b.call,
            "POST",
            "/v1/admin/accounts",
            {"system_id": "esme2", "password": "pw2", "allowed_networks": ["127.0.0.0/8"]},
        )
        c = await app.start(_config(tmp_path / "c", "node-c", schema))
        assert await _bind(c, "esme2", "pw2") == 0  # a node started later starts with it
    finally:
        for node in (a, b, c):
            if node is not None:
                await node.stop()
