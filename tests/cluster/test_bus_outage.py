"""NATS away and back, with a nats-server of this test's own (an ephemeral port, its own
store folder; the machine's shared server is never stopped): a node starts without the bus,
keeps working, and joins when it comes; after a restart of NATS it reconnects by itself."""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from opensmsc.cluster.bus import Bus
from opensmsc.cluster.membership import Membership, NodeRecord
from opensmsc.cluster.ownership import ConnectorOwnership

NATS_SERVER = shutil.which("nats-server") or "/usr/sbin/nats-server"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class OwnNats:
    """A nats-server with JetStream on `port`, started and killed by the test."""

    def __init__(self, port: int, store: Path) -> None:
        self.port = port
        self.store = store
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [NATS_SERVER, "-a", "127.0.0.1", "-p", str(self.port), "-js", "-sd", str(self.store)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None


@pytest.fixture
def own_nats(tmp_path: Path) -> Iterator[OwnNats]:
    if not Path(NATS_SERVER).exists():
        pytest.fail(f"{NATS_SERVER} is missing (tests/install-system-deps.sh installs it)")
    server = OwnNats(_free_port(), tmp_path / "jetstream")
    yield server
    server.kill()


def _member(bus: Bus) -> Membership:
    return Membership(bus, lambda: NodeRecord(node_id=bus.node_id), ttl=3.0, interval=0.2)


async def _until(condition: object, timeout: float = 15.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():  # type: ignore[operator]
            await asyncio.sleep(0.05)


async def test_a_node_started_without_nats_joins_when_it_comes(own_nats: OwnNats) -> None:
    a = Bus(own_nats.url, name="outage", node_id="node-a", reconnect_wait=0.1)
    b = Bus(own_nats.url, name="outage", node_id="node-b", reconnect_wait=0.1)
    await a.start()  # NATS is not there yet: returns at once
    await b.start()
    members = [_member(a), _member(b)]
    running: set[str] = set()
    starts: list[str] = []

    async def start(name: str) -> None:
        running.add(name)
        starts.append(name)

    async def stop(name: str) -> None:
        running.discard(name)

    # A TTL longer than the restart may take on a busy machine: the slot must outlive it.
    ownership = ConnectorOwnership(
        a, start_connector=start, stop_connector=stop, ttl=10.0, interval=0.2
    )
    ownership.set_connectors({"carrier-a": 1})
    try:
        for member in members:
            member.start()
        ownership.start()
        await a.publish("outage.wake.due")  # dropped, no error
        await asyncio.sleep(0.5)
        assert not a.connected and running == set()
        assert [n.node_id for n in members[0].nodes()] == []  # nothing read yet

        own_nats.start()
        await _until(lambda: len(members[0].nodes()) == 2)
        await _until(lambda: running == {"carrier-a"})

        # NATS restarts: both reconnect by themselves and write again; the slot, kept in the
        # server's file store, stays with its holder.
        own_nats.kill()
        await _until(lambda: not a.connected)
        own_nats.start()
        await _until(lambda: a.connected and b.connected)
        beats = [member.beats for member in members]
        await _until(lambda: all(m.beats >= n + 3 for m, n in zip(members, beats, strict=True)))
        assert len(members[1].nodes()) == 2
        assert running == {"carrier-a"} and ownership.held() == ("carrier-a",)
        assert starts == ["carrier-a"]  # never stopped and started again
    finally:
        await ownership.stop()
        for member in members:
            await member.stop()
        await a.close()
        await b.close()
