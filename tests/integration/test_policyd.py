"""The policy server on a real socket (policyd/server.py, dispatch.py): calls answered by id
with many in flight, batches, every kind of bad input answered or (framing) closed, the bounds
on connections and silence, backpressure, and the server in a node as `opensmsc run` starts it."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import socket
import struct
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from typing import Any

import pytest
import uvloop

from opensmsc.policyd import (
    Dispatcher,
    ErrorCode,
    Frame,
    FrameBuffer,
    PolicyServer,
    ServerLimits,
    encode_frame,
)
from opensmsc.routing import (
    Decision,
    LoopbackRoute,
    Outcome,
    PrefixPolicy,
    RouteQuery,
    Router,
    RouteReport,
)

HOST = "127.0.0.1"


TIMEOUT = 5.0

QUERY: dict[str, Any] = {
    "account": "acme",
    "source": {"addr": "ACME", "ton": 5, "npi": 0},
    "destination": {"addr": "447700900123", "ton": 1, "npi": 1},
}


def call(request_id: object, method: str, params: object = None) -> dict[str, Any]:
    message: dict[str, Any] = {"jsonrpc": "2.0", "id": request_id, "method": method}
    if params is not None:
        message["params"] = params
    return message


class RawClient:
    """JSON-RPC over frames on an asyncio stream; reads answers in arrival order."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.frames = FrameBuffer(max_frame=1 << 24)
        self.pending: list[Any] = []

    async def send(self, *messages: object) -> None:
        self.writer.write(b"".join(encode_frame(m) for m in messages))  # type: ignore[arg-type]
        await self.writer.drain()

    async def send_raw(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def read(self, timeout: float = TIMEOUT) -> Any:
        async with asyncio.timeout(timeout):
            while not self.pending:
                data = await self.reader.read(1 << 16)
                if not data:
                    raise ConnectionError("the server closed the connection")
                for event in self.frames.feed(data):
                    assert isinstance(event, Frame)
                    self.pending.append(json.loads(event.body))
            return self.pending.pop(0)

    async def request(self, method: str, params: object = None, request_id: object = 1) -> Any:
        await self.send(call(request_id, method, params))
        return await self.read()

    async def closed(self, timeout: float = TIMEOUT) -> bool:
        """True once the server closed the connection (answers read meanwhile are kept)."""
        async with asyncio.timeout(timeout):
            while True:
                data = await self.reader.read(1 << 16)
                if not data:
                    return True
                for event in self.frames.feed(data):
                    assert isinstance(event, Frame)
                    self.pending.append(json.loads(event.body))

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError):
            await self.writer.wait_closed()


def router() -> Router:
    routes = {name: LoopbackRoute(name) for name in ("loopback", "uk", "uk-mobile")}
    return Router(routes, default_route="loopback", prefixes=[("44", "uk"), ("447", "uk-mobile")])


Connect = Callable[..., Awaitable["RawClient"]]
Start = Callable[..., Awaitable[tuple[PolicyServer, Connect]]]


@pytest.fixture
async def start_server() -> AsyncIterator[Start]:
    servers: list[PolicyServer] = []
    clients: list[RawClient] = []

    async def start(
        engine: Any = None, *, token: str | None = None, **limits: Any
    ) -> tuple[PolicyServer, Connect]:
        server = PolicyServer(
            Dispatcher(engine or PrefixPolicy(router()), node="test-node", token=token),
            ServerLimits(**limits),
        )
        port = await server.start(HOST, 0)
        servers.append(server)

        async def connect(rcvbuf: int | None = None) -> RawClient:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            if rcvbuf is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
            sock.setblocking(False)
            await asyncio.get_running_loop().sock_connect(sock, (HOST, port))
            client = RawClient(*await asyncio.open_connection(sock=sock))
            clients.append(client)
            return client

        return server, connect

    yield start
    for client in clients:
        await client.close()
    for server in servers:
        await server.stop()


async def test_hello_keepalive_query_report(start_server: Start) -> None:
    engine = PrefixPolicy(router())
    _, connect = await start_server(engine)
    client = await connect()
    hello = await client.request("hello", {"version": "1.0", "node": "switch-1"})
    assert hello == {
        "jsonrpc": "2.0",
        "id": 1,
        "result": {
            "version": "1.1",
            "node": "test-node",
            "methods": ["hello", "keepalive", "route.query", "route.report"],
        },
    }
    assert await client.request("keepalive", request_id="k") == {
        "jsonrpc": "2.0",
        "id": "k",
        "result": {},
    }
    answer = await client.request("route.query", QUERY, request_id=7)
    assert answer["id"] == 7
    assert answer["result"] == {
        "action": "route",
        "routes": [{"route": "uk-mobile"}],
        "ttl_ms": 60000,
    }
    await client.send(
        {
            "jsonrpc": "2.0",
            "method": "route.report",
            "params": {"route": "uk-mobile", "outcome": "temp", "status": 88, "latency_ms": 3.5},
        }
    )
    # Notifications get no answer: the next answer is the keepalive's.
    assert (await client.request("keepalive", request_id=8))["id"] == 8
    assert engine.reports == {("uk-mobile", Outcome.TEMP): 1}


async def test_many_queries_in_flight_are_answered_by_id(start_server: Start) -> None:
    _, connect = await start_server()
    client = await connect()
    destinations = {i: random.choice(["447700900", "44207", "1202"]) + str(i) for i in range(500)}
    expected = {"447": "uk-mobile", "442": "uk", "120": "loopback"}
    await client.send(
        *(
            call(f"q{i}", "route.query", {**QUERY, "destination": {"addr": d, "ton": 1, "npi": 1}})
            for i, d in destinations.items()
        )
    )
    answers = [await client.read() for _ in destinations]
    assert sorted(a["id"] for a in answers) == sorted(f"q{i}" for i in destinations)
    for answer in answers:
        destination = destinations[int(answer["id"][1:])]
        assert answer["result"]["routes"] == [{"route": expected[destination[:3]]}]


async def test_a_batch_gets_one_array_of_answers(start_server: Start) -> None:
    _, connect = await start_server()
    client = await connect()
    await client.send(
        [
            call(1, "route.query", QUERY),
            {"jsonrpc": "2.0", "method": "route.report", "params": {"route": "a", "outcome": "ok"}},
            call(2, "no.such.method"),
            7,
            call(3, "route.query", {**QUERY, "segments": 0}),
        ]
    )
    answers = {json.dumps(a.get("id")): a for a in await client.read()}
    assert set(answers) == {"1", "2", "null", "3"}
    assert answers["1"]["result"]["action"] == "route"
    assert answers["2"]["error"]["code"] == ErrorCode.METHOD_NOT_FOUND
    assert answers["null"]["error"]["code"] == ErrorCode.INVALID_REQUEST
    assert answers["3"]["error"]["code"] == ErrorCode.INVALID_PARAMS
    assert "segments" in answers["3"]["error"]["message"]
    # A batch of notifications only is not answered at all.
    note = {"jsonrpc": "2.0", "method": "route.report", "params": {"route": "a", "outcome": "ok"}}
    await client.send([note, note])
    assert (await client.request("keepalive", request_id=9))["id"] == 9


@pytest.mark.parametrize(
    ("raw", "code", "answer_id"),
    [
        (b"{not json", ErrorCode.PARSE_ERROR, None),
        (b"\xc3\x28", ErrorCode.PARSE_ERROR, None),
        (b"[" * 50_000, ErrorCode.PARSE_ERROR, None),
        (b"[]", ErrorCode.INVALID_REQUEST, None),
        (b'{"jsonrpc":"2.0","id":4}', ErrorCode.INVALID_REQUEST, 4),
        (b'{"jsonrpc":"2.0","id":5,"method":"route.cancel"}', ErrorCode.METHOD_NOT_FOUND, 5),
        (b'{"jsonrpc":"2.0","id":6,"method":"route.query"}', ErrorCode.INVALID_PARAMS, 6),
        (
            b'{"jsonrpc":"2.0","id":7,"method":"route.query","params":[1]}',
            ErrorCode.INVALID_PARAMS,
            7,
        ),
        (b'{"jsonrpc":"2.0","id":8,"method":"hello","params":{"version":"2.0"}}', -32002, 8),
    ],
)
async def test_bad_input_is_answered_and_the_connection_lives(
    start_server: Start, raw: bytes, code: int, answer_id: object
) -> None:
    _, connect = await start_server()
    client = await connect()
    await client.send_raw(struct.pack(">I", len(raw)) + raw)
    answer = await client.read()
    assert answer["jsonrpc"] == "2.0"
    assert answer["id"] == answer_id
    assert answer["error"]["code"] == code
    assert isinstance(answer["error"]["message"], str) and answer["error"]["message"]
    assert "result" not in answer
    assert (await client.request("route.query", QUERY, request_id=99))["result"][
        "action"
    ] == "route"


async def test_an_oversized_frame_closes_only_its_connection(
    start_server: Start, caplog: pytest.LogCaptureFixture
) -> None:
    server, connect = await start_server(max_frame=1000)
    client, other = await connect(), await connect()
    # Answers owed for the frames before the bad length are still written.
    await client.send_raw(encode_frame(call(1, "keepalive")) + struct.pack(">I", 1001) + b"{")
    assert await client.closed()
    assert client.pending == [{"jsonrpc": "2.0", "id": 1, "result": {}}]
    assert "frame length 1001 outside 1..1000" in caplog.text
    assert (await other.request("keepalive"))["result"] == {}
    zero = await connect()
    await zero.send_raw(b"\x00\x00\x00\x00")
    assert await zero.closed()
    assert server.connections == 1


async def test_the_token_is_asked_before_anything_else(start_server: Start) -> None:
    _, connect = await start_server(token="s3cret")
    client = await connect()
    refused = await client.request("route.query", QUERY)
    assert refused["error"]["code"] == ErrorCode.UNAUTHORIZED
    wrong = await client.request("hello", {"token": "guess"})
    assert wrong["error"]["code"] == ErrorCode.UNAUTHORIZED
    assert (await client.request("keepalive"))["error"]["code"] == ErrorCode.UNAUTHORIZED
    assert "result" in await client.request("hello", {"token": "s3cret"})
    assert (await client.request("route.query", QUERY))["result"]["action"] == "route"
    # Each connection says hello for itself.
    second = await connect()
    assert (await second.request("keepalive"))["error"]["code"] == ErrorCode.UNAUTHORIZED


async def test_connections_past_the_maximum_are_closed(start_server: Start) -> None:
    server, connect = await start_server(max_connections=2)
    first, second = await connect(), await connect()
    assert (await first.request("keepalive"))["result"] == {}
    assert (await second.request("keepalive"))["result"] == {}
    third = await connect()
    assert await third.closed()
    assert server.connections == 2
    await first.close()
    await asyncio.sleep(0.05)
    fourth = await connect()
    assert (await fourth.request("keepalive"))["result"] == {}


async def test_a_silent_connection_is_closed(start_server: Start) -> None:
    _, connect = await start_server(idle_timeout=0.2)
    talker, silent = await connect(), await connect()
    for _ in range(4):
        await asyncio.sleep(0.1)
        assert (await talker.request("keepalive"))["result"] == {}
    assert await silent.closed(timeout=1.0)
    assert (await talker.request("keepalive"))["result"] == {}


class Verbose:
    """Answers every query with a kilobyte: a peer that does not read piles up answers fast."""

    def decide(self, query: RouteQuery, now: datetime) -> Decision:
        return Decision.reject(0x45, "x" * 1000)

    def report(self, report: RouteReport, now: datetime) -> None:
        pass


async def test_a_peer_that_does_not_read_is_not_read_either(start_server: Start) -> None:
    high_water = 16 * 1024
    server, connect = await start_server(Verbose(), write_high_water=high_water)
    client = await connect(rcvbuf=4096)  # so that the kernel does not hold the answers for us
    count = 20_000  # 20 MB of answers: far beyond what the kernels' buffers take
    frames = b"".join(encode_frame(call(i, "route.query", QUERY)) for i in range(count))
    writing = asyncio.ensure_future(client.send_raw(frames))
    most = 0
    for _ in range(20):
        await asyncio.sleep(0.02)
        most = max(most, server.buffered)
    # What waits in our memory stays near the high-water mark (plus one chunk of answers).
    assert 0 < most < high_water + 80 * 1024
    other = await connect()
    assert (await other.request("keepalive"))["result"] == {}
    answers = [await client.read() for _ in range(count)]
    await writing
    assert [a["id"] for a in answers] == list(range(count))
    assert server.connections == 2


class Broken:
    def decide(self, query: RouteQuery, now: datetime) -> Decision:
        raise RuntimeError("boom")

    def report(self, report: RouteReport, now: datetime) -> None:
        raise RuntimeError("boom")


async def test_an_engine_failure_is_an_internal_error(
    start_server: Start, caplog: pytest.LogCaptureFixture
) -> None:
    _, connect = await start_server(Broken())
    client = await connect()
    with caplog.at_level(logging.ERROR):
        answer = await client.request("route.query", QUERY)
    assert answer["error"]["code"] == ErrorCode.INTERNAL_ERROR
    assert "boom" in caplog.text  # the traceback is logged
    assert (await client.request("keepalive"))["result"] == {}


async def test_random_garbage_never_stops_the_server(start_server: Start) -> None:
    server, connect = await start_server(max_frame=4096)
    rng = random.Random(11)
    for _ in range(30):
        client = await connect()
        chunks = [struct.pack(">I", rng.randint(1, 300)) + rng.randbytes(rng.randint(0, 300))]
        chunks += [rng.randbytes(rng.randint(0, 50)) for _ in range(3)]
        for chunk in chunks:
            try:
                await client.send_raw(chunk)
            except ConnectionError:
                break
        await client.close()
    healthy = await connect()
    assert (await healthy.request("route.query", QUERY))["result"]["action"] == "route"
    await asyncio.sleep(0.05)
    assert server.connections == 1


async def test_the_node_serves_its_routing_on_the_policy_port(smsc: Any) -> None:
    port = smsc.running.ports["policyd"]
    client = RawClient(*await asyncio.open_connection(HOST, port))
    try:
        answer = await client.request("route.query", {**QUERY, "account": "esme1"})
        # The test node routes everything by the simulated network (its default route).
        assert answer["result"]["routes"] == [{"route": "network"}]
        unknown = await client.request("route.query", {**QUERY, "account": "nobody"})
        assert unknown["result"]["action"] == "reject"
        assert unknown["result"]["status"] == 0x0F  # ESME_RINVSYSID
    finally:
        await client.close()


def test_under_uvloop_as_in_production() -> None:
    """uvloop's transports are not asyncio's (no asyncio.Transport subclass, their own
    pause/resume): the same server, answers, closing and backpressure on them."""

    async def scenario() -> None:
        assert isinstance(asyncio.get_running_loop(), uvloop.Loop)
        server = PolicyServer(
            Dispatcher(Verbose()), ServerLimits(max_frame=4096, write_high_water=16 * 1024)
        )
        port = await server.start(HOST, 0)
        clients: list[RawClient] = []
        try:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sock.setblocking(False)
            await asyncio.get_running_loop().sock_connect(sock, (HOST, port))
            slow = RawClient(*await asyncio.open_connection(sock=sock))
            bad = RawClient(*await asyncio.open_connection(HOST, port))
            clients += [slow, bad]
            answer = await bad.request("route.query", QUERY)
            assert answer["result"]["action"] == "reject"
            await bad.send_raw(struct.pack(">I", 4097))
            assert await bad.closed()
            count = 20_000
            frames = b"".join(encode_frame(call(i, "route.query", QUERY)) for i in range(count))
            writing = asyncio.ensure_future(slow.send_raw(frames))
            most = 0
            for _ in range(20):
                await asyncio.sleep(0.02)
                most = max(most, server.buffered)
            assert 0 < most < 16 * 1024 + 80 * 1024
            answers = [await slow.read() for _ in range(count)]
            await writing
            assert [a["id"] for a in answers] == list(range(count))
        finally:
            for client in clients:
                await client.close()
            await server.stop()

    uvloop.run(scenario())
