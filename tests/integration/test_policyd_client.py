"""The policy client (policyd/client.py) against real servers on ephemeral ports: failover
between two servers with one killed mid-traffic, the transaction timer and retries against a
server that never answers, keep-alive, standby and out-of-service modes, and the fallback
(local rules or fail-closed) when every server fails."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from opensmsc.policyd import (
    ClientSettings,
    Dispatcher,
    Frame,
    FrameBuffer,
    PolicyClient,
    PolicyServer,
    Request,
    RequestId,
    ServerLimits,
    ServerMode,
    ServerSpec,
    encode_response,
    parse,
)
from opensmsc.routing import (
    Action,
    Decision,
    LoopbackRoute,
    Outcome,
    PrefixPolicy,
    RouteChoice,
    RouteQuery,
    Router,
    RouteReport,
)
from opensmsc.smpp import CommandStatus
from opensmsc.store import Address

HOST = "127.0.0.1"
FAST = ClientSettings(
    transaction_timeout=0.2, retries=1, keepalive_interval=0.5, reconnect_delay=0.05
)


def query(destination: str = "447700900123") -> RouteQuery:
    return RouteQuery(
        account="acme", source=Address(5, 0, "ACME"), destination=Address(1, 1, destination)
    )


def policy(default: str) -> PrefixPolicy:
    """An engine whose every answer names `default`: which server answered is visible."""
    return PrefixPolicy(Router({default: LoopbackRoute(default)}, default_route=default))


StartServer = Callable[..., Awaitable[PolicyServer]]


@pytest.fixture
async def start_server() -> AsyncIterator[StartServer]:
    servers: list[PolicyServer] = []

    async def start(engine: PrefixPolicy, port: int = 0, **limits: float) -> PolicyServer:
        server = PolicyServer(Dispatcher(engine), ServerLimits(**limits))  # type: ignore[arg-type]
        await server.start(HOST, port)
        servers.append(server)
        return server

    yield start
    for server in servers:
        await server.stop()


@contextlib.asynccontextmanager
async def client_of(
    *servers: ServerSpec,
    settings: ClientSettings = FAST,
    fallback: PrefixPolicy | None = None,
    wait: float = 2.0,
) -> AsyncIterator[PolicyClient]:
    client = PolicyClient(servers, settings=settings, fallback=fallback)
    await client.start(wait=wait)
    try:
        yield client
    finally:
        await client.close()


def spec(server: PolicyServer, mode: ServerMode = ServerMode.ACTIVE) -> ServerSpec:
    assert server.port is not None
    return ServerSpec(HOST, server.port, mode)


async def wait_until(condition: Callable[[], bool], timeout: float = 3.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)


def route_of(decision: Decision) -> str:
    assert decision.action is Action.ROUTE, decision
    return decision.routes[0].route


async def test_the_first_active_server_answers(start_server: StartServer) -> None:
    a, b = await start_server(policy("via-a")), await start_server(policy("via-b"))
    async with client_of(spec(a), spec(b)) as client:
        await wait_until(lambda: len(client.up) == 2)
        decision = await client.decide(query())
        assert decision.routes == (RouteChoice(route="via-a"),)
        assert decision.ttl_ms == 60_000
        assert client.fallbacks == 0


async def test_one_server_killed_mid_traffic_the_other_keeps_answering(
    start_server: StartServer,
) -> None:
    a, b = await start_server(policy("via-a")), await start_server(policy("via-b"))
    async with client_of(spec(a), spec(b)) as client:
        await wait_until(lambda: len(client.up) == 2)
        answered: list[str] = []
        window = asyncio.Semaphore(64)

        async def one(i: int) -> None:
            async with window:
                answered.append(route_of(await client.decide(query(f"4477009{i:05d}"))))
                if len(answered) == 300:
                    await a.stop(drain_timeout=0)  # killed with queries in flight

        await asyncio.gather(*(one(i) for i in range(2000)))
        assert len(answered) == 2000  # every query answered, by a server: none fell back
        assert client.fallbacks == 0
        assert answered[:300] == ["via-a"] * 300
        assert answered[-1000:] == ["via-b"] * 1000


async def test_a_server_that_never_answers_costs_the_transaction_timer_and_retries(
    start_server: StartServer,
) -> None:
    silent = await asyncio.start_server(_swallow, HOST, 0)
    silent_port = silent.sockets[0].getsockname()[1]
    b = await start_server(policy("via-b"))
    try:
        settings = ClientSettings(transaction_timeout=0.2, retries=1, reconnect_delay=5.0)
        client = PolicyClient([ServerSpec(HOST, silent_port), spec(b)], settings=settings)
        await client.start()
        # The silent server accepts the connection but never answers hello: never up.
        await wait_until(lambda: spec(b) in client.up)
        await asyncio.sleep(0.3)
        assert ServerSpec(HOST, silent_port) not in client.up
        assert route_of(await client.decide(query())) == "via-b"
        await client.close()
    finally:
        silent.close()
        await silent.wait_closed()


async def _swallow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError):
        while await reader.read(1 << 16):
            pass
    writer.close()


class Slow:
    """A server that answers hello and keepalive at once and each query only after 0.5 s:
    later than the client's transaction timer."""

    def __init__(self) -> None:
        self.queries = 0

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        frames = FrameBuffer()
        with contextlib.suppress(ConnectionError):
            while data := await reader.read(1 << 16):
                for event in frames.feed(data):
                    assert isinstance(event, Frame)
                    message = parse(event.body)
                    assert isinstance(message, Request)
                    if message.method == "route.query":
                        self.queries += 1
                        asyncio.get_running_loop().call_later(
                            0.5, writer.write, _late_answer(message.id)
                        )
                    else:
                        writer.write(encode_response(message.id, {"version": "1.0"}))
        writer.close()


def _late_answer(request_id: RequestId) -> bytes:
    return encode_response(request_id, {"action": "route", "routes": [{"route": "late"}]})


async def test_a_slow_server_is_tried_once_more_then_the_next(start_server: StartServer) -> None:
    slow = Slow()
    listener = await asyncio.start_server(slow.serve, HOST, 0)
    b = await start_server(policy("via-b"))
    try:
        slow_spec = ServerSpec(HOST, listener.sockets[0].getsockname()[1])
        async with client_of(slow_spec, spec(b)) as client:
            await wait_until(lambda: len(client.up) == 2)
            started = asyncio.get_running_loop().time()
            decision = await client.decide(query())
            took = asyncio.get_running_loop().time() - started
            assert route_of(decision) == "via-b"
            assert slow.queries == 2  # the first try and one retry (retries=1)
            assert 0.4 <= took < 1.0  # two transaction timers of 0.2 s, then an answer
            # Late answers to calls given up are dropped, not mistaken for later ones.
            await asyncio.sleep(0.6)
            assert client.up == (slow_spec, spec(b))
    finally:
        listener.close()
        await listener.wait_closed()


async def test_standby_answers_only_when_no_active_is_up(start_server: StartServer) -> None:
    a = await start_server(policy("via-a"))
    standby = await start_server(policy("via-standby"))
    async with client_of(spec(standby, ServerMode.STANDBY), spec(a)) as client:
        await wait_until(lambda: len(client.up) == 2)
        assert route_of(await client.decide(query())) == "via-a"
        port = a.port
        await a.stop(drain_timeout=0)
        await wait_until(lambda: len(client.up) == 1)
        assert route_of(await client.decide(query())) == "via-standby"
        # The active server comes back on its port: the client reconnects and prefers it.
        await start_server(policy("via-a"), port=port)  # type: ignore[arg-type]
        await wait_until(lambda: len(client.up) == 2)
        assert route_of(await client.decide(query())) == "via-a"


async def test_out_of_service_servers_are_not_asked(start_server: StartServer) -> None:
    a = await start_server(policy("via-a"))
    b = await start_server(policy("via-b"))
    async with client_of(spec(a, ServerMode.OUT_OF_SERVICE), spec(b)) as client:
        assert route_of(await client.decide(query())) == "via-b"
        assert client.up == (spec(b),)
        assert a.connections == 0


async def test_every_server_down_falls_back_to_local_rules(start_server: StartServer) -> None:
    a = await start_server(policy("via-a"))
    async with client_of(spec(a), fallback=policy("local")) as client:
        assert route_of(await client.decide(query())) == "via-a"
        await a.stop(drain_timeout=0)
        await wait_until(lambda: not client.up)
        assert route_of(await client.decide(query())) == "local"
        assert client.fallbacks == 1


async def test_every_server_down_fails_closed_without_local_rules() -> None:
    nobody = ServerSpec(HOST, _free_port())
    async with client_of(nobody, wait=0.1) as client:
        decision = await client.decide(query())
        assert decision.action is Action.REJECT
        assert decision.status == CommandStatus.ESME_RSYSERR
        assert decision.reason == "no policy server answered"


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


async def test_an_idle_link_is_kept_alive(start_server: StartServer) -> None:
    # The server closes connections silent for 0.4 s; the client's keep-alive every 0.1 s
    # keeps its link open without a query.
    a = await start_server(policy("via-a"), idle_timeout=0.4)
    settings = ClientSettings(transaction_timeout=0.2, keepalive_interval=0.1)
    async with client_of(spec(a), settings=settings) as client:
        await asyncio.sleep(1.0)
        assert client.up == (spec(a),)
        assert a.connections == 1
        assert route_of(await client.decide(query())) == "via-a"


async def test_reports_reach_the_server_and_the_fallback(start_server: StartServer) -> None:
    remote, local = policy("via-a"), policy("local")
    a = await start_server(remote)
    async with client_of(spec(a), fallback=local) as client:
        client.report(RouteReport(route="via-a", outcome=Outcome.PERM, status=0x45))
        await wait_until(lambda: bool(remote.reports))
        assert remote.reports == {("via-a", Outcome.PERM): 1}
        assert local.reports == {("via-a", Outcome.PERM): 1}


async def test_the_token_is_sent_in_hello(start_server: StartServer) -> None:
    server = PolicyServer(Dispatcher(policy("via-a"), token="s3cret"))
    port = await server.start(HOST, 0)
    try:
        wrong = ClientSettings(transaction_timeout=0.2, reconnect_delay=5.0, token="guess")
        async with client_of(ServerSpec(HOST, port), settings=wrong, wait=0.3) as client:
            assert client.up == ()
            assert (await client.decide(query())).action is Action.REJECT
        right = ClientSettings(transaction_timeout=0.2, token="s3cret")
        async with client_of(ServerSpec(HOST, port), settings=right) as client:
            assert route_of(await client.decide(query())) == "via-a"
    finally:
        await server.stop()
