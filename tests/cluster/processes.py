"""Real clusters of node processes for the scale-out proof (issue 14): `running_cluster` starts a
`LocalCluster` (what `make cluster` runs: N `opensmsc run` processes on the machine's PostgreSQL
and NATS, HAProxy in front) on free ports, with a `[cluster] name` of its own (the PostgreSQL
schema and the NATS bucket prefix), and drops that schema and those buckets when it is done.

It also restarts the machine's PostgreSQL and NATS for the outage tests, and always leaves them
running: other processes on this machine use them too.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import re
import socket
import subprocess
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

from opensmsc.cli.local_cluster import (
    NATS,
    NATS_START,
    SMPP,
    ClusterLayout,
    LocalCluster,
    ensure_services,
)
from opensmsc.cluster.bus import Bus
from tests import postgres_server
from tests.durability.procs import cheap_hash, free_port

SYSTEM_ID, PASSWORD = "e2e", "e2epw"
BUCKETS = ("nodes", "slots", "binds")


def accounts_toml(*, window: int = 20, throughput: float = 0.0, lease: float = 5.0) -> str:
    """One account, messages delivered by the loopback route (each gets its DELIVRD receipt
    from the node that delivers it), and a short store lease so that the work of a killed node
    is claimed again within the test."""
    return f"""
[logging]
level = "warning"

[store]
lease = {lease}

[routing]
default_route = "loopback"

[[accounts]]
system_id = "{SYSTEM_ID}"
password_hash = "{cheap_hash(PASSWORD)}"
window = {window}
max_binds = 64
throughput = {throughput}
"""


def free_block(count: int) -> int:
    """The first of `count` consecutive free ports (node ports are offsets from one base)."""
    for _ in range(200):
        base = random.randrange(20_000, 60_000 - count, 10)
        if all(_free(port) for port in range(base, base + count)):
            return base
    raise RuntimeError(f"no block of {count} free ports")


def _free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def smpp_port(cluster: LocalCluster, node: int) -> int:
    """Node `node`'s own SMPP port (bypassing HAProxy)."""
    return cluster.layout.port(node, SMPP)


def log_tails(cluster: LocalCluster, chars: int = 1500) -> str:
    out = []
    for path in sorted(cluster.layout.folder.glob("node-*.log")):
        text = path.read_bytes()[-chars:].decode(errors="replace")
        out.append(f"--- {path.name} ---\n{text}")
    return "\n".join(out)


@contextlib.asynccontextmanager
async def running_cluster(
    folder: Path, *, nodes: int = 3, extra_config: str = ""
) -> AsyncIterator[LocalCluster]:
    await postgres_server.ensure_running()  # the database `test` the tests' schemas live in
    name = "e2e_" + uuid.uuid4().hex[:12]
    layout = ClusterLayout(
        folder=folder,
        nodes=nodes,
        postgres=postgres_server.DSN,
        nats=NATS,
        name=name,
        smpp_port=free_port(),
        tls_port=free_port(),
        api_port=free_port(),
        node_base=free_block(10 * (nodes + 1)),
        extra_config=extra_config or accounts_toml(),
    )
    cluster = LocalCluster(layout)
    try:
        await asyncio.to_thread(cluster.start)
        yield cluster
    finally:
        await asyncio.to_thread(cluster.stop, grace=10.0)
        await asyncio.to_thread(ensure_services, layout.postgres, layout.nats)
        await postgres_server.drop_schemas([name])
        janitor = Bus(NATS, name=name, node_id="janitor")
        await janitor.start()
        await janitor.wait_connected(10)
        await janitor.delete_buckets(*BUCKETS)
        await janitor.close()


# ---- the machine's services ------------------------------------------------------------------


def nats_pid() -> int | None:
    """The process listening on NATS's port: the one server the tests use (others, if any,
    are left alone)."""
    done = subprocess.run(
        ["ss", "-ltnpH", "sport = :4222"], capture_output=True, text=True, check=False
    )
    found = re.search(r"pid=(\d+)", done.stdout)
    return int(found.group(1)) if found else None


def stop_nats() -> None:
    pid = nats_pid()
    if pid is None:
        return
    subprocess.run(
        ["start-stop-daemon", "--stop", "--oknodo", "--pid", str(pid), "--retry", "10"],
        check=True,
        capture_output=True,
    )


def start_nats() -> None:
    """As Debian's machine runs it (local_cluster.NATS_START), and wait for its port."""
    subprocess.run(NATS_START, check=True, capture_output=True)
    _wait_open(4222)


def stop_postgres() -> None:
    _pg_ctlcluster("stop")


def start_postgres() -> None:
    _pg_ctlcluster("start")
    _wait_open(5432)


def _pg_ctlcluster(action: str) -> None:
    # Other processes of this machine start the server when they find it down (tests/
    # postgres_server.py): "already running" / "not running" (exit 2) are no failure here;
    # start_postgres checks the port.
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", postgres_server.cluster_version(), "main",
         action],
        check=False, capture_output=True, timeout=120,
    )  # fmt: skip


def _wait_open(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout:.0f} s")
        time.sleep(0.1)
