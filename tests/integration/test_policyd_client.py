"""The policy client (policyd/client.py) against real servers on ephemeral ports: failover
between two servers with one killed mid-traffic, the transaction timer and retries against a
server that never answers, keep-alive, active / alternate (round robin) / standby /
out-of-service modes and changing them, drain (dry-up and force) with calls in flight, and the
fallback (local rules or fail-closed) when every server fails."""

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
    """A server that answers hello and keepalive at once and each query only after `delay`
    (0.5 s: later than the client's transaction timer), naming the route "late"."""

    def __init__(self, delay: float = 0.5) -> None:
        self.queries = 0
        self.delay = delay

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
                            self.delay, _write_if_open, writer, _late_answer(message.id)
                        )
                    else:
                        writer.write(encode_response(message.id, {"version": "1.0"}))
        writer.close()


def _write_if_open(writer: asyncio.StreamWriter, data: bytes) -> None:
    if not writer.is_closing():
        writer.write(data)


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


async def test_alternates_share_the_load_in_turn(start_server: StartServer) -> None:
    servers = [await start_server(policy(f"via-{name}")) for name in "abc"]
    specs = [spec(server, ServerMode.ALTERNATE) for server in servers]
    async with client_of(*specs) as client:
        await wait_until(lambda: len(client.up) == 3)
        answered = [route_of(await client.decide(query())) for _ in range(300)]
        assert {name: answered.count(f"via-{name}") for name in "abc"} == dict.fromkeys("abc", 100)
        # One alternate killed mid-traffic: the other two share everything, none falls back.
        await servers[1].stop(drain_timeout=0)
        await wait_until(lambda: len(client.up) == 2)
        answered = [route_of(await client.decide(query())) for _ in range(100)]
        assert (answered.count("via-a"), answered.count("via-c")) == (50, 50)
        assert client.fallbacks == 0


async def test_active_first_then_the_alternates_then_standby(start_server: StartServer) -> None:
    a, b, c, d = [await start_server(policy(f"via-{name}")) for name in "abcd"]
    async with client_of(
        spec(d, ServerMode.STANDBY),
        spec(b, ServerMode.ALTERNATE),
        spec(a),
        spec(c, ServerMode.ALTERNATE),
    ) as client:
        await wait_until(lambda: len(client.up) == 4)
        assert {route_of(await client.decide(query())) for _ in range(10)} == {"via-a"}
        await a.stop(drain_timeout=0)
        await wait_until(lambda: len(client.up) == 3)
        assert {route_of(await client.decide(query())) for _ in range(10)} == {"via-b", "via-c"}
        await b.stop(drain_timeout=0)
        await c.stop(drain_timeout=0)
        await wait_until(lambda: len(client.up) == 1)
        assert route_of(await client.decide(query())) == "via-d"


async def test_a_dry_up_drain_finishes_calls_in_flight_and_sends_new_ones_on(
    start_server: StartServer,
) -> None:
    slow = Slow(delay=0.3)
    listener = await asyncio.start_server(slow.serve, HOST, 0)
    b = await start_server(policy("via-b"))
    slow_spec = ServerSpec(HOST, listener.sockets[0].getsockname()[1])
    settings = ClientSettings(transaction_timeout=2.0, retries=1, reconnect_delay=0.05)
    try:
        async with client_of(slow_spec, spec(b), settings=settings) as client:
            await wait_until(lambda: len(client.up) == 2)
            in_flight = [asyncio.create_task(client.decide(query())) for _ in range(20)]
            await wait_until(lambda: slow.queries == 20)
            draining = asyncio.create_task(client.drain(slow_spec))
            await asyncio.sleep(0)
            # New transactions go to the next server at once, while the slow one dries up.
            assert route_of(await client.decide(query())) == "via-b"
            assert not draining.done()
            assert await draining == 0  # nothing was cut off
            assert [route_of(await task) for task in in_flight] == ["late"] * 20
            assert slow.queries == 20 and client.fallbacks == 0
            assert client.modes[slow_spec] is ServerMode.OUT_OF_SERVICE
            assert client.up == (spec(b),)
            # Back in service: connected again, and asked first again (it is active).
            await client.set_mode(slow_spec, ServerMode.ACTIVE)
            await wait_until(lambda: len(client.up) == 2)
            assert route_of(await client.decide(query())) == "late"
    finally:
        listener.close()
        await listener.wait_closed()


async def test_a_forced_drain_sends_calls_in_flight_to_the_next_server_now(
    start_server: StartServer,
) -> None:
    slow = Slow(delay=5.0)
    listener = await asyncio.start_server(slow.serve, HOST, 0)
    b = await start_server(policy("via-b"))
    slow_spec = ServerSpec(HOST, listener.sockets[0].getsockname()[1])
    settings = ClientSettings(transaction_timeout=10.0, retries=1, reconnect_delay=0.05)
    try:
        async with client_of(slow_spec, spec(b), settings=settings) as client:
            await wait_until(lambda: len(client.up) == 2)
            in_flight = [asyncio.create_task(client.decide(query())) for _ in range(20)]
            await wait_until(lambda: slow.queries == 20)
            started = asyncio.get_running_loop().time()
            assert await client.drain(slow_spec, force=True) == 20
            answers = [route_of(await task) for task in in_flight]
            assert asyncio.get_running_loop().time() - started < 1.0  # not the 5 s answers
            assert answers == ["via-b"] * 20 and client.fallbacks == 0
            assert client.up == (spec(b),)
    finally:
        listener.close()
        await listener.wait_closed()
