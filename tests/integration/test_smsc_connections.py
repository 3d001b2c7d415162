"""Connections that come and go (issue 10 items 22, 23, 29): what a closed connection leaves
behind, caps on connections that never bind, fairness between sessions."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import gc
import logging
import re
import resource
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import httpx
import pytest

from opensmsc.smpp import EnquireLink, encode
from opensmsc.smpp.connection import Connection, SessionConfig
from opensmsc.smpp.states import Role
from opensmsc.smsc import EsmeSession
from opensmsc.transport.limits import ConnectionLimits, UnboundGate, raise_file_limit
from opensmsc.transport.protocol import FAIR_SHARE, SmppProtocol
from tests.conftest import HOST, SmscFactory, TestSmsc, password_hash

pytestmark = pytest.mark.timeout(120)


# --------------------------------------------------------------------------- item 22


@contextlib.contextmanager
def collector_off() -> Iterator[None]:
    """No cyclic garbage collection in the block: only reference counting frees objects,
    as between the rare full collections of a production node (app.tune_gc)."""
    gc.collect()
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def live_sessions() -> dict[str, int]:
    """Session objects alive, by class; found without collecting anything."""
    kinds = (EsmeSession, SmppProtocol, Connection)
    counts = collections.Counter(type(o).__name__ for o in gc.get_objects() if isinstance(o, kinds))
    return dict(counts)


async def connect_and_close(
    smsc: TestSmsc, count: int, *, tls: bool, keep: int, batch: int = 50
) -> None:
    """`count` connections opened and closed at once, `batch` at a time; returns when the
    server holds `keep` sessions again."""
    context = smsc.client_tls_context(verify=False) if tls else None
    port = smsc.tls_port if tls else smsc.port

    async def one() -> None:
        _, writer = await asyncio.open_connection(HOST, port, ssl=context)
        writer.close()
        with contextlib.suppress(ConnectionError, ssl.SSLError):
            await writer.wait_closed()

    for start in range(0, count, batch):
        await asyncio.gather(*(one() for _ in range(min(batch, count - start))))
    async with asyncio.timeout(10):
        while len(smsc.running.server.sessions) > keep:
            await asyncio.sleep(0.01)


@pytest.mark.parametrize(("tls", "count"), [(False, 3000), (True, 300)], ids=["plain", "tls"])
async def test_closed_connections_are_freed_without_the_collector(
    smsc: TestSmsc, tls: bool, count: int
) -> None:
    """Issue 10 item 22: protocol and session held each other, so 2,473 of 3,000 closed
    sessions stayed alive until a full collection."""
    bound = await smsc.bound("trx", "esme1")  # a session that stays: it must stay alive
    with collector_off():
        before = live_sessions()
        await connect_and_close(smsc, count, tls=tls, keep=1)
        await asyncio.sleep(0.1)  # the last connection_lost callbacks
        after = live_sessions()
    kind = "TLS" if tls else "plain"
    print(f"\n{count} {kind} connect/close: live before {before}, after {after}")
    assert after == before, (before, after)
    assert (await bound.submit()).status == 0


async def test_closed_bound_sessions_are_freed_without_the_collector(smsc: TestSmsc) -> None:
    """Bound sessions that submitted, unbound or just dropped, refused ones too."""
    with collector_off():
        before = live_sessions()
        for round_ in range(50):
            client = await smsc.bound("trx", "esme1")
            assert (await client.submit()).status == 0
            if round_ % 2:
                await client.unbind()
            await client.close()
            refused = await smsc.connect()
            assert (await refused.bind("trx", "esme1", "wrong")).status != 0
            await refused.close()
        async with asyncio.timeout(10):
            while smsc.running.server.sessions:
                await asyncio.sleep(0.01)
        await asyncio.sleep(0.1)
        after = live_sessions()
    assert after == before, (before, after)


# The RSS test runs the node as operators do (`opensmsc run`: uvloop, app.tune_gc), in a
# subprocess of its own, so that its memory is not the test's.

RSS_CYCLES = 20_000
RSS_WARMUP = 2_000
RSS_GROWTH_LIMIT = 4 * 2**20  # bytes; the leak was ~3.1 KB a cycle (62 MB for 20,000)


def rss_of(pid: int) -> int:
    with open(f"/proc/{pid}/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize()


@contextlib.asynccontextmanager
async def node_process(tmp_path: Path) -> AsyncIterator[tuple[int, int]]:
    """`opensmsc run` on ephemeral ports; yields (pid, plain SMPP port)."""
    config = tmp_path / "opensmsc.toml"
    config.write_text(
        f"""
        [node]
        data_dir = "{tmp_path / "data"}"
        [smpp.server]
        bind_address = "{HOST}"
        port = 0
        tls_enabled = false
        [http]
        enabled = false
        [[accounts]]
        system_id = "esme1"
        password_hash = "{password_hash("pw1")}"
        """
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "opensmsc",
        "run",
        "--config",
        str(config),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    assert process.stderr is not None
    try:
        port = None
        async with asyncio.timeout(30):
            while port is None:
                line = (await process.stderr.readline()).decode()
                assert line, "the node exited before it was ready"
                match = re.search(r"opensmsc ready ports=.*'smpp': (\d+)", line)
                if match:
                    port = int(match.group(1))
        drain = asyncio.create_task(process.stderr.read())  # keep its pipe from filling
        yield process.pid, port
        drain.cancel()
    finally:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(process.wait(), 10)
        if process.returncode is None:
            process.kill()
            await process.wait()


@pytest.mark.slow
async def test_twenty_thousand_connections_do_not_grow_the_node(tmp_path: Path) -> None:
    """Issue 10 item 22: 20,000 connect-and-close cycles took RSS 70 → 132 MiB, for good."""

    async def cycles(port: int, count: int, together: int = 500) -> None:
        # Rounds of connections open together, then closed: sessions that live a while, as
        # real ones do, outlive a young-generation collection; closed at once, they would be
        # freed by it whatever their cycles.
        for _ in range(count // together):
            opened = await asyncio.gather(
                *(asyncio.open_connection(HOST, port) for _ in range(together))
            )
            await asyncio.sleep(0.05)
            for _, writer in opened:
                writer.close()
            for _, writer in opened:
                with contextlib.suppress(ConnectionError):
                    await writer.wait_closed()

    async with node_process(tmp_path) as (pid, port):
        await cycles(port, RSS_WARMUP)
        await asyncio.sleep(0.5)
        before = rss_of(pid)
        started = time.monotonic()
        await cycles(port, RSS_CYCLES)
        elapsed = time.monotonic() - started
        await asyncio.sleep(0.5)
        after = rss_of(pid)
    growth = after - before
    print(
        f"\n{RSS_CYCLES} connect/close cycles in {elapsed:.1f} s: node RSS"
        f" {before / 2**20:.1f} -> {after / 2**20:.1f} MiB ({growth / RSS_CYCLES:.0f} B a cycle)"
    )
    assert growth < RSS_GROWTH_LIMIT


# --------------------------------------------------------------------------- item 23


Idle = list[tuple[asyncio.StreamReader, asyncio.StreamWriter]]
OpenIdle = Callable[..., Awaitable[Idle]]


@pytest.fixture
async def open_idle() -> AsyncIterator[OpenIdle]:
    """`await open_idle(port, count, local_host=HOST)`: connections that send nothing, closed
    when the test ends."""
    opened: Idle = []

    async def open_(port: int, count: int, local_host: str = HOST) -> Idle:
        connections = [
            await asyncio.open_connection(HOST, port, local_addr=(local_host, 0))
            for _ in range(count)
        ]
        opened.extend(connections)
        return connections

    yield open_
    for _, writer in opened:
        writer.close()
    for _, writer in opened:
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


async def closed_by_server(connections: Idle, wait: float = 1.0) -> int:
    """How many of `connections` the server closed within `wait` seconds (idle ones it
    keeps)."""

    async def is_closed(reader: asyncio.StreamReader) -> bool:
        try:
            data = await asyncio.wait_for(reader.read(1), wait)
        except TimeoutError:
            return False
        except ConnectionError:
            return True
        return data == b""

    return sum(await asyncio.gather(*(is_closed(reader) for reader, _ in connections)))


async def test_idle_connections_past_the_per_address_cap_are_closed_at_once(
    smsc: TestSmsc, caplog: pytest.LogCaptureFixture, open_idle: OpenIdle
) -> None:
    """Issue 10 item 23: idle sockets took every file descriptor, and every new SMPP and
    admin connection failed. Default caps: 50 unbound connections per address."""
    early = await smsc.bound("trx", "esme1")  # bound before: it does not count
    with caplog.at_level(logging.WARNING, logger="opensmsc.transport"):
        idle = await open_idle(smsc.port, 120)
        assert await closed_by_server(idle) == 70
    refusals = [r.getMessage() for r in caplog.records if "connection refused" in r.getMessage()]
    assert 1 <= len(refusals) <= 2, refusals  # logged, not once per connection
    assert "max_unbound_per_address (50)" in refusals[0]
    assert smsc.running.server.unbound == 50
    # Another address binds and submits; the bound session goes on; the admin API answers.
    honest = await smsc.connect(local_host="127.0.0.2")
    assert (await honest.bind("trx", "esme2")).status == 0
    assert (await honest.submit()).status == 0
    assert (await early.submit()).status == 0
    async with httpx.AsyncClient(base_url=f"http://{HOST}:{smsc.running.ports['http']}") as http:
        assert (await http.get("/v1/health", timeout=5)).status_code == 200
    print(f"\n120 idle connections from one address: 70 closed at once, {refusals[0]}")


async def test_the_global_cap_and_its_release(
    smsc_factory: SmscFactory, open_idle: OpenIdle
) -> None:
    smsc = await smsc_factory(server={"max_unbound_connections": 10})
    idle = await open_idle(smsc.port, 10)
    late = await open_idle(smsc.port, 3, local_host="127.0.0.2")
    assert await closed_by_server(late) == 3  # over the cap in all, whatever the address
    assert await closed_by_server(idle, wait=0.2) == 0
    for _, writer in idle[:2]:
        writer.close()
    async with asyncio.timeout(5):
        while smsc.running.server.unbound > 8:
            await asyncio.sleep(0.01)
    client = await smsc.connect(local_host="127.0.0.2")  # a place was freed
    assert (await client.bind("trx", "esme1")).status == 0
    assert smsc.running.server.unbound == 8


async def test_bound_sessions_free_their_place(
    smsc_factory: SmscFactory, open_idle: OpenIdle
) -> None:
    smsc = await smsc_factory(server={"max_unbound_per_address": 3})
    bound = [await smsc.bound("trx", "esme1") for _ in range(3)]
    bound.append(await smsc.bound("trx", "esme2"))
    idle = await open_idle(smsc.port, 4)
    assert await closed_by_server(idle) == 1  # 3 unbound allowed, the 4 bound ones aside
    for client in bound:
        assert (await client.submit()).status == 0
    assert smsc.running.server.unbound == 3


def test_soft_file_limit_is_raised_to_the_hard_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard <= 256:
        pytest.skip("the hard file limit is too low to lower the soft one")
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))
        raised, _ = raise_file_limit()
        assert raised > 256
        assert resource.getrlimit(resource.RLIMIT_NOFILE)[0] == raised
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_file_budget_refuses_before_the_descriptors_run_out(
    caplog: pytest.LogCaptureFixture,
) -> None:
    gate = UnboundGate(ConnectionLimits(), file_budget=100)
    with caplog.at_level(logging.WARNING, logger="opensmsc.transport"):
        assert gate.admit("192.0.2.1", open_connections=99, now=0.0)
        for second in range(20):
            assert not gate.admit("192.0.2.2", open_connections=100, now=second / 10)
        assert not gate.admit("192.0.2.2", open_connections=100, now=10.0)
    lines = [record.getMessage() for record in caplog.records]
    assert len(lines) == 2, lines  # rate-limited: once per 10 s, with the count
    assert "file limit: 100 connections open of 100" in lines[0]
    assert "(20 refused so since the last such line)" in lines[1]


# --------------------------------------------------------------------------- item 29


async def test_an_enquire_link_flood_does_not_hold_other_sessions(smsc: TestSmsc) -> None:
    """Issue 10 item 29: one client pipelining enquire_link pushed another session's p99 to
    300 ms. Each session now gets at most FAIR_SHARE octets decoded per loop turn."""
    loop = asyncio.get_running_loop()
    honest = await smsc.bound("trx", "esme2")
    flooder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    flooder.setblocking(False)
    await loop.sock_connect(flooder, (HOST, smsc.port))
    batch = b"".join(encode(EnquireLink(), seq) for seq in range(1, 4097))  # 64 KiB
    answered = 0
    stop = asyncio.Event()

    async def flood() -> None:
        while not stop.is_set():
            await loop.sock_sendall(flooder, batch)

    async def drain() -> None:
        nonlocal answered
        while not stop.is_set():
            data = await loop.sock_recv(flooder, 1 << 20)
            if not data:
                return
            answered += len(data) // 16

    tasks = [asyncio.create_task(flood()), asyncio.create_task(drain())]
    latencies: list[float] = []
    try:
        await asyncio.sleep(0.2)
        end = loop.time() + 3.0
        while loop.time() < end:
            started = loop.time()
            assert (await honest.submit()).status == 0
            latencies.append(loop.time() - started)
            await asyncio.sleep(0.005)
    finally:
        stop.set()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, ConnectionError):
                await task
        flooder.close()
    latencies.sort()
    p50 = latencies[len(latencies) // 2]
    p99 = latencies[max(0, int(len(latencies) * 0.99) - 1)]
    print(
        f"\nenquire_link flood: {answered:,} answered in 3 s; the other session:"
        f" {len(latencies)} submits, p50 {p50 * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms"
    )
    assert answered > 10_000  # the flooder is served too, only not first
    # Not held: a session queued behind the flood would wait the whole 3 s. The bound leaves
    # room for a 2-core machine whose one loop also runs the flooder (57-76 ms seen there).
    assert p50 < 0.15, p50


class _FakeTransport(asyncio.Transport):
    """What SmppProtocol uses of a transport, recording what it is told."""

    def __init__(self) -> None:
        super().__init__()
        self.written = bytearray()
        self.paused = False
        self.pauses = 0

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.written += data

    def pause_reading(self) -> None:
        self.paused = True
        self.pauses += 1

    def resume_reading(self) -> None:
        self.paused = False

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        pass

    def get_extra_info(self, name: str, default: object = None) -> object:
        return ("192.0.2.1", 4000) if name == "peername" else default

    def close(self) -> None:
        pass

    def is_closing(self) -> bool:
        return False


async def test_one_read_is_answered_over_several_loop_turns() -> None:
    config = SessionConfig(role=Role.SMSC, enquire_link_interval=None, session_init_timeout=None)
    loop = asyncio.get_running_loop()
    flooder = SmppProtocol(Connection(config, now=loop.time()), session_id="a")
    other = SmppProtocol(Connection(config, now=loop.time()), session_id="b")
    flooder_transport, other_transport = _FakeTransport(), _FakeTransport()
    flooder.connection_made(flooder_transport)
    other.connection_made(other_transport)
    count = 4 * FAIR_SHARE // 16
    flooder.data_received(b"".join(encode(EnquireLink(), seq) for seq in range(1, count + 1)))
    assert len(flooder_transport.written) == FAIR_SHARE  # this turn's share, answered
    assert flooder_transport.paused  # no more reading meanwhile
    other.data_received(encode(EnquireLink(), 7))
    assert len(other_transport.written) == 16  # the other session is not behind it
    for _ in range(10):
        await asyncio.sleep(0)
    assert len(flooder_transport.written) == count * 16  # all answered, in order
    sequence_numbers = [
        int.from_bytes(flooder_transport.written[i + 12 : i + 16])
        for i in range(0, len(flooder_transport.written), 16)
    ]
    assert sequence_numbers == list(range(1, count + 1))
    assert not flooder_transport.paused
