"""The cluster tests run against the machine's real NATS JetStream (127.0.0.1:4222), started
here if it is down. Each test gets its own `name`, so its buckets and subjects are its own, and
deletes its buckets at the end."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import pytest

from opensmsc.cluster.bus import Bus

NATS_URL = "nats://127.0.0.1:4222"
_BUCKETS = ("nodes", "slots", "binds")


def _nats_is_up() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 4222), timeout=0.5):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def nats_server() -> Iterator[str]:
    if not _nats_is_up():
        daemon = shutil.which("start-stop-daemon") or "/usr/sbin/start-stop-daemon"
        subprocess.run(
            [
                daemon, "--start", "--oknodo", "--background",
                "--exec", "/usr/sbin/nats-server", "--",
                "-a", "127.0.0.1", "-p", "4222", "-js", "-sd", "/var/lib/nats-server",
            ],
            check=True,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while not _nats_is_up():
            if time.monotonic() > deadline:
                pytest.fail("nats-server did not start on 127.0.0.1:4222")
            time.sleep(0.1)
    yield NATS_URL


@pytest.fixture
def cluster_name() -> str:
    return "t" + uuid.uuid4().hex[:12]


BusFactory = Callable[[str], Awaitable[Bus]]


@pytest.fixture
async def make_bus(nats_server: str, cluster_name: str) -> AsyncIterator[BusFactory]:
    """`await make_bus("node-a")`: a connected Bus of this test's cluster name."""
    made: list[Bus] = []

    async def make(node_id: str) -> Bus:
        bus = Bus(nats_server, name=cluster_name, node_id=node_id)
        await bus.start()
        await bus.wait_connected(10)
        made.append(bus)
        return bus

    yield make
    for bus in made:
        await bus.close()
    # A bus of its own: a test may have closed its nodes' buses (NATS away for a node).
    janitor = Bus(nats_server, name=cluster_name, node_id="janitor")
    await janitor.start()
    await janitor.wait_connected(10)
    await janitor.delete_buckets(*_BUCKETS)
    await janitor.close()
