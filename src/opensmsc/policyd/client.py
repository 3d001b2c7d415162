"""A client of policy servers, with the PSX client's behaviour (docs/policy-protocol.md §7;
digest §7.1): several servers, each active, standby or out of service; a transaction timer
(default 500 ms) and retries (default 1) per server before the next; a keep-alive when a link
is idle (default 5 s); and when every server fails, the local engine or fail-closed.

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


class ServerMode(StrEnum):
    """PSX server modes: active servers are asked first, in order; standby ones when no
    active one is up; out-of-service ones never (kept configured, not connected)."""

    ACTIVE = "active"
    STANDBY = "standby"
    OUT_OF_SERVICE = "out_of_service"


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

    @property
    def is_up(self) -> bool:
        return self._up.is_set()

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
        self._settings = settings or ClientSettings()
        self._fallback = fallback
        self._clock = clock
        self._links: list[_Link] = []
        self.fallbacks = 0  # decisions that no server gave

    async def start(self, *, wait: float = 0.0) -> None:
        """Connect to every server in service (in the background); wait up to `wait`
        seconds for the first active one to be up."""
        self._links = [
            _Link(spec, self._settings)
            for spec in self._specs
            if spec.mode is not ServerMode.OUT_OF_SERVICE
        ]
        for link in self._links:
            link.start()
        if wait > 0 and self._links:
            await self._links[0].wait_up(wait)

    async def close(self) -> None:
        for link in self._links:
            await link.close()

    @property
    def up(self) -> tuple[ServerSpec, ...]:
        return tuple(link.spec for link in self._links if link.is_up)

    def _candidates(self) -> list[_Link]:
        active = [k for k in self._links if k.spec.mode is ServerMode.ACTIVE and k.is_up]
        return active or [k for k in self._links if k.is_up]

    async def decide(self, query: RouteQuery) -> Decision:
        params = params_from_query(query).to_json()
        settings = self._settings
        for link in self._candidates():
            for _ in range(1 + settings.retries):
                try:
                    result = await link.call(
                        Method.ROUTE_QUERY, params, settings.transaction_timeout
                    )
                    return decision_from_result(QueryResult.from_json(result))
                except TimeoutError:
                    log.info("policy query timed out server=%s", link.spec)
                except ConnectionError:
                    break  # down: the next server, without waiting
                except (_CallFailed, InvalidParams) as exc:
                    log.warning("policy query failed server=%s: %s", link.spec, exc)
                    break
        return self._fall_back(query)

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
