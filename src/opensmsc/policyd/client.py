"""A client of policy servers, with the PSX client's behaviour (docs/policy-protocol.md §7;
digest §7.1): several servers, each active, alternate, standby or out of service; a
transaction timer (default 500 ms) and retries (default 1) per server before the next; a
keep-alive when a link is idle (default 5 s); drain (dry-up: no new transactions, those in
flight finish; force: closed at once, its calls go to the next server); and when every server
fails, the local engine or fail-closed.

The order a query tries the servers that are up: the active ones in the order given, then the
alternates, starting at the next one in turn (round robin: alternates share the load), then
the standby ones in order. Out-of-service and draining servers are never asked.

What this is for: a node that asks remote policy servers instead of (or before) its embedded
engine. `decide()` always returns a Decision: a server's, else the fallback's. What it is not:
the protocol (wire.py, params.py) or a server.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import ssl
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

import orjson

from opensmsc.policyd.convert import (
    decision_from_result,
    params_from_query,
    params_from_report,
)
from opensmsc.policyd.params import HelloParams, InvalidParams, Method, QueryResult
from opensmsc.policyd.wire import (
    Batch,
    ErrorResponse,
    Frame,
    FrameBuffer,
    JsonValue,
    Response,
    RpcError,
    encode_notification,
    encode_request,
    parse,
)
from opensmsc.routing import Decision, PolicyEngine, RouteQuery, RouteReport
from opensmsc.smpp import CommandStatus
from opensmsc.store import Clock, system_clock

__all__ = ["ClientSettings", "PolicyClient", "ServerMode", "ServerSpec"]

log = logging.getLogger(__name__)

_MAX_ANSWER_FRAME: Final = 1 << 24  # a server's batch answers may exceed the request limit
_DECISION_CACHE: Final = 4096  # distinct results read, kept with their decisions


class ServerMode(StrEnum):
    """PSX server modes: active servers are asked first, in order; alternates next, in turn
    (round robin); standby ones when neither answers; out-of-service ones never (kept
    configured, not connected)."""

    ACTIVE = "active"
    ALTERNATE = "alternate"
    STANDBY = "standby"
    OUT_OF_SERVICE = "out_of_service"


_TIERS: Final = (ServerMode.ACTIVE, ServerMode.ALTERNATE, ServerMode.STANDBY)


@dataclass(frozen=True, slots=True)
class ServerSpec:
    host: str
    port: int = 3055
    mode: ServerMode = ServerMode.ACTIVE

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(frozen=True, slots=True, kw_only=True)
class ClientSettings:
    """`transaction_timeout`: seconds a server has to answer one call (PSX transaction
    timer); `retries`: further tries on the same server before the next; `keepalive_interval`:
    a keepalive is sent after this long without hearing from a server; `reconnect_delay`:
    seconds between connection attempts to a server that is down; `window`: calls in flight
    per server; `token`: sent in hello; `fail_closed_status`: the reject when every server
    failed and there is no fallback engine."""

    transaction_timeout: float = 0.5
    retries: int = 1
    keepalive_interval: float = 5.0
    reconnect_delay: float = 1.0
    connect_timeout: float = 2.0
    window: int = 64
    node: str = "opensmsc"
    token: str | None = None
    fail_closed_status: int = CommandStatus.ESME_RSYSERR
    # TLS to every server (a server with `[policyd] tls_enabled`): a client context, e.g.
    # transport.client_context(ca=<the server's certificate or its CA>, client_cert=None,
    # client_key=None), or verify=False for tests only. The certificate must name the
    # server's host as given in its ServerSpec, unless `tls_server_name` says what it names.
    tls: ssl.SSLContext | None = None
    tls_server_name: str | None = None


class _CallFailed(Exception):
    """A server answered a call with an error, or its answer could not be read."""


class _Link:
    """One connection to one server: hello on connect, calls matched by id, a keepalive when
    idle, and reconnection in the background while the client runs."""

    def __init__(self, spec: ServerSpec, settings: ClientSettings) -> None:
        self.spec = spec
        self._settings = settings
        self._ids = itertools.count(1)
        self._pending: dict[int, tuple[float, asyncio.Future[JsonValue]]] = {}
        self._writer: asyncio.StreamWriter | None = None
        self._up = asyncio.Event()
        self._window = asyncio.Semaphore(settings.window)
        self._task: asyncio.Task[None] | None = None
        self._last_heard = 0.0
        self._outbox: list[bytes] = []
        self._loop = asyncio.get_running_loop()
        self.draining = False  # takes no new transaction (PolicyClient.drain)

    @property
    def is_up(self) -> bool:
        return self._up.is_set()

    @property
    def in_flight(self) -> int:
        return len(self._pending)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"policy link {self.spec}")

    async def wait_up(self, timeout: float) -> bool:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self._up.wait()
        return self.is_up

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._drop(ConnectionError("the client is closed"))

    async def call(self, method: str, params: JsonValue, timeout: float) -> JsonValue:
        """The result of one call. Raises TimeoutError (no answer in `timeout`),
        ConnectionError (the link is or went down) or _CallFailed (an error answer)."""
        writer = self._writer
        if writer is None:
            raise ConnectionError(f"policy server {self.spec} is down")
        deadline = self._loop.time() + timeout
        if self._window.locked():
            async with asyncio.timeout_at(deadline):
                await self._window.acquire()
        else:
            await self._window.acquire()
        request_id = next(self._ids)
        try:
            if self._writer is not writer:
                raise ConnectionError(f"policy server {self.spec} went down")
            future: asyncio.Future[JsonValue] = self._loop.create_future()
            # One sweeper per link fails what is late (_sweep): cheaper than a timer per call.
            self._pending[request_id] = (deadline, future)
            self._send(encode_request(request_id, method, params))
            return await future
        finally:
            self._pending.pop(request_id, None)
            self._window.release()

    def notify(self, method: str, params: JsonValue) -> bool:
        """Send a notification now if the link is up; False when it is not."""
        if self._writer is None or not self.is_up:
            return False
        self._send(encode_notification(method, params))
        return True

    def _send(self, frame: bytes) -> None:
        # The calls made in one turn of the loop leave in one write (one system call).
        self._outbox.append(frame)
        if len(self._outbox) == 1:
            self._loop.call_soon(self._flush)

    def _flush(self) -> None:
        frames, self._outbox = self._outbox, []
        if frames and self._writer is not None:
            self._writer.write(b"".join(frames))

    async def _run(self) -> None:
        while True:
            try:
                await self._session()
            except (OSError, TimeoutError, _CallFailed, InvalidParams) as exc:
                reason = str(exc) or type(exc).__name__
                log.warning("policy server down server=%s: %s", self.spec, reason)
            self._drop(ConnectionError(f"policy server {self.spec} went down"))
            await asyncio.sleep(self._settings.reconnect_delay)

    async def _session(self) -> None:
        settings = self._settings
        async with asyncio.timeout(settings.connect_timeout):
            if settings.tls is None:
                reader, writer = await asyncio.open_connection(self.spec.host, self.spec.port)
            else:
                reader, writer = await asyncio.open_connection(
                    self.spec.host,
                    self.spec.port,
                    ssl=settings.tls,
                    server_hostname=settings.tls_server_name or self.spec.host,
                )
        self._writer = writer
        self._last_heard = self._loop.time()
        reading = asyncio.create_task(self._read(reader))
        sweeping = asyncio.create_task(self._sweep())
        try:
            hello = HelloParams(node=settings.node, token=settings.token)
            await self.call(Method.HELLO, hello.to_json(), settings.transaction_timeout)
            self._up.set()  # only now: no query may precede hello
            log.info("policy server up server=%s mode=%s", self.spec, self.spec.mode)
            await self._keep_alive(reading)
        finally:
            self._up.clear()
            self._writer = None
            self._outbox.clear()  # calls for the lost connection: failed by _drop
            for task in (reading, sweeping):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, OSError, ConnectionError):
                    await task
            writer.close()

    async def _keep_alive(self, reading: asyncio.Task[None]) -> None:
        """Until the link breaks: a keepalive after each idle interval (any answer counts as
        hearing from the server); one that is not answered in time ends the link."""
        interval = self._settings.keepalive_interval
        while True:
            idle = self._loop.time() - self._last_heard
            if idle >= interval:
                await self.call(Method.KEEPALIVE, None, self._settings.transaction_timeout)
                continue
            await asyncio.wait({reading}, timeout=interval - idle)
            if reading.done():
                reading.result()  # raises what broke it
                raise ConnectionError("the server closed the connection")

    async def _sweep(self) -> None:
        tick = self._settings.transaction_timeout / 10
        while True:
            await asyncio.sleep(tick)
            now = self._loop.time()
            # The same timer for every call: the oldest calls come first in the dict.
            for deadline, future in list(self._pending.values()):
                if deadline > now:
                    break
                if not future.done():
                    future.set_exception(TimeoutError())

    async def _read(self, reader: asyncio.StreamReader) -> None:
        frames = FrameBuffer(_MAX_ANSWER_FRAME)
        while True:
            data = await reader.read(1 << 16)
            if not data:
                return
            self._last_heard = self._loop.time()
            for event in frames.feed(data):
                if not isinstance(event, Frame):
                    raise ConnectionError(f"unreadable frame: {event.reason}")
                message = parse(event.body)
                answers = message.messages if isinstance(message, Batch) else (message,)
                for answer in answers:
                    self._settle(answer)

    def _settle(self, answer: object) -> None:
        match answer:
            case Response(request_id, result) if isinstance(request_id, int):
                entry = self._pending.get(request_id)
                if entry is not None and not entry[1].done():
                    entry[1].set_result(result)
            case ErrorResponse(request_id, error) if isinstance(request_id, int):
                entry = self._pending.get(request_id)
                if entry is not None and not entry[1].done():
                    entry[1].set_exception(_CallFailed(_describe(error)))
            case _:
                log.info("policy server %s sent what is no answer: %r", self.spec, answer)

    def _drop(self, error: Exception) -> None:
        self._up.clear()
        self._writer = None
        for _, future in self._pending.values():
            if not future.done():
                future.set_exception(error)
        self._pending.clear()


def _describe(error: RpcError) -> str:
    return f"{error.code} {error.message}"


class PolicyClient:
    """Asks policy servers for decisions (module doc). `fallback`: the engine answering when
    every server fails (the embedded engine, PSX's ERE); None: fail closed, a reject with
    `settings.fail_closed_status`."""

    def __init__(
        self,
        servers: Iterable[ServerSpec],
        *,
        settings: ClientSettings | None = None,
        fallback: PolicyEngine | None = None,
        clock: Clock = system_clock,
    ) -> None:
        self._specs = tuple(servers)
        self._modes = [spec.mode for spec in self._specs]  # changed by set_mode and drain
        self._settings = settings or ClientSettings()
        self._fallback = fallback
        self._clock = clock
        self._links: dict[int, _Link] = {}  # by index in _specs: the servers in service
        self._turn = itertools.count()  # the alternates' round robin
        self._started = False
        self.fallbacks = 0  # decisions that no server gave
        # A result's JSON text → its decision (_decision_from).
        self._decisions: dict[bytes, Decision] = {}

    async def start(self, *, wait: float = 0.0) -> None:
        """Connect to every server in service (in the background); wait up to `wait`
        seconds for the first one to be up."""
        self._started = True
        for index, mode in enumerate(self._modes):
            if mode is not ServerMode.OUT_OF_SERVICE:
                self._connect(index)
        if wait > 0 and self._links:
            await self._links[min(self._links)].wait_up(wait)

    def _connect(self, index: int) -> None:
        link = self._links[index] = _Link(self._specs[index], self._settings)
        link.start()

    async def close(self) -> None:
        links, self._links = list(self._links.values()), {}
        for link in links:
            await link.close()

    @property
    def up(self) -> tuple[ServerSpec, ...]:
        return tuple(self._links[i].spec for i in sorted(self._links) if self._links[i].is_up)

    @property
    def modes(self) -> dict[ServerSpec, ServerMode]:
        """Each server's mode now (as configured, or as set_mode and drain left it)."""
        return dict(zip(self._specs, self._modes, strict=True))

    def _index(self, server: ServerSpec | int) -> int:
        if isinstance(server, int):
            if not 0 <= server < len(self._specs):
                raise ValueError(f"no server {server}: {len(self._specs)} are configured")
            return server
        try:
            return self._specs.index(server)
        except ValueError:
            raise ValueError(f"{server} is not a configured policy server") from None

    async def set_mode(self, server: ServerSpec | int, mode: ServerMode) -> None:
        """Change a server's mode. Out of service closes its connection at once (as a forced
        drain: `drain` is the gentle way); back in service connects it again."""
        index = self._index(server)
        if mode is ServerMode.OUT_OF_SERVICE:
            await self.drain(index, force=True)
            return
        self._modes[index] = mode
        link = self._links.get(index)
        if link is None and self._started:
            self._connect(index)
        elif link is not None:
            link.draining = False
        log.info("policy server mode server=%s mode=%s", self._specs[index], mode)

    async def drain(
        self, server: ServerSpec | int, *, force: bool = False, timeout: float | None = None
    ) -> int:
        """Take a server out of service. Dry-up (the default): it gets no new transaction at
        once, and its connection closes when the calls in flight have their answers (or
        after `timeout`, by default the time a call may take with its retries). `force`:
        closed at once; the calls in flight go on to the next server. Returns how many calls
        were still in flight when the connection closed (0 for a dry-up that finished)."""
        index = self._index(server)
        self._modes[index] = ServerMode.OUT_OF_SERVICE
        link = self._links.get(index)
        if link is None:
            return 0
        link.draining = True
        if not force:
            settings = self._settings
            limit = (
                timeout
                if timeout is not None
                else settings.transaction_timeout * (1 + settings.retries)
            )
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(limit):
                    while link.in_flight:
                        await asyncio.sleep(0.005)
        left = link.in_flight
        self._links.pop(index, None)
        await link.close()
        log.info(
            "policy server drained server=%s mode=%s in_flight_closed=%d",
            link.spec,
            "force" if force else "dry-up",
            left,
        )
        return left

    def _candidates(self) -> list[_Link]:
        """The servers to try, in order (module doc)."""
        tiers: dict[ServerMode, list[_Link]] = {mode: [] for mode in _TIERS}
        for index in sorted(self._links):
            link = self._links[index]
            if link.is_up and not link.draining:
                tiers[self._modes[index]].append(link)
        alternates = tiers[ServerMode.ALTERNATE]
        if len(alternates) > 1:
            turn = next(self._turn) % len(alternates)
            alternates = alternates[turn:] + alternates[:turn]
        return tiers[ServerMode.ACTIVE] + alternates + tiers[ServerMode.STANDBY]

    async def decide(self, query: RouteQuery) -> Decision:
        params = params_from_query(query).to_json()
        settings = self._settings
        for link in self._candidates():
            for _ in range(1 + settings.retries):
                if link.draining:
                    break  # drained since: no new transaction there
                try:
                    result = await link.call(
                        Method.ROUTE_QUERY, params, settings.transaction_timeout
                    )
                    return self._decision_from(result)
                except TimeoutError:
                    log.info("policy query timed out server=%s", link.spec)
                except ConnectionError:
                    break  # down: the next server, without waiting
                except (_CallFailed, InvalidParams) as exc:
                    log.warning("policy query failed server=%s: %s", link.spec, exc)
                    break
        return self._fall_back(query)

    def _decision_from(self, result: JsonValue) -> Decision:
        """The decision a result carries. Raises InvalidParams.

        Results repeat (a server answers most queries with a few decisions), and checking one
        and building its Decision costs some 10 µs, a fifth of a call: each distinct result is
        read once, keyed by its text (orjson: 0.2 µs). Equal texts are equal values, except
        that orjson writes NaN and the infinities as null: a text with null is never cached,
        nor one orjson cannot write (an integer beyond 64 bits), so those are checked anew."""
        try:
            key: bytes | None = orjson.dumps(result)
        except orjson.JSONEncodeError:
            key = None
        if key is not None and b"null" not in key:
            found = self._decisions.get(key)
            if found is not None:
                return found
        decision = decision_from_result(QueryResult.from_json(result))
        if key is not None and b"null" not in key:
            if len(self._decisions) >= _DECISION_CACHE:
                self._decisions.clear()
            self._decisions[key] = decision  # frozen: safe to hand to every caller
        return decision

    def _fall_back(self, query: RouteQuery) -> Decision:
        self.fallbacks += 1
        if self._fallback is not None:
            return self._fallback.decide(query, self._clock())
        return Decision.reject(self._settings.fail_closed_status, "no policy server answered")

    def report(self, report: RouteReport) -> None:
        """Tell the first server up how an attempt ended (a notification, never waited for);
        the fallback engine learns it too, so that it is current when it must decide."""
        params = params_from_report(report).to_json()
        for link in self._candidates():
            if link.notify(Method.ROUTE_REPORT, params):
                break
        if self._fallback is not None:
            self._fallback.report(report, self._clock())
