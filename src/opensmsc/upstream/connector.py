"""One upstream connector: our ESME session(s) to a carrier's SMSC (issue 4, "connector").

What this is for: keeping a bind up (transmitter, receiver, transceiver, or a transmitter plus
a receiver) with jittered exponential back-off between attempts; sending submit_sm within the
peer's window and our throughput cap, from a bounded queue that callers wait on; riding out
ESME_RTHROTTLED / ESME_RMSGQFUL by backing off and resubmitting; and handing delivery receipts
(matched to our message ids) and MO messages to callbacks, acknowledging each deliver_sm only
once its callback has accepted it. With `outbind_listen` it also takes the sessions the upstream
opens by outbind (`connector_outbind` accepts them, `_adopt_outbind` binds on them); their
receipts and MO go through the same matching and callbacks, but submits never use them. What it
is not: the socket (`transport.client`), the session rules and timers (`smpp.Connection`:
enquire_link, windows, unbind drain), the id matching (`receipt_matcher`), or routing: it sends
what it is given.

Contracts:
- `submit()` returns how the upstream answered. A result of TIMED_OUT or CONNECTION_LOST means
  the upstream may or may not have the message: resubmitting risks a duplicate, so the
  connector does not do it; throttling answers are the only ones it retries by itself.
- Receipts reach `on_receipt(our_id, info)`; `our_id` is None when no submit of ours matched.
  `on_mo(pdu)` gets every other deliver_sm / data_sm. A callback that returns acknowledges
  with status 0; one that raises MessageRejected answers its status; any other exception is
  logged and answered ESME_RX_T_APPN, so the upstream delivers it again later.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import logging
import random
import ssl
from collections import deque
from collections.abc import Awaitable, Coroutine
from typing import Any, Final

from opensmsc.accounts.throttle import TokenBucket
from opensmsc.config.model import ClientBind, SmppClientConfig, SmppVersion
from opensmsc.errors import ConfigError, MessageRejected
from opensmsc.logtext import peer_text
from opensmsc.smpp.codec import encode
from opensmsc.smpp.connection import SessionConfig
from opensmsc.smpp.constants import CommandStatus
from opensmsc.smpp.errors import LocalProtocolError
from opensmsc.smpp.events import (
    AlertReceived,
    Bound,
    ConnectionTerminated,
    DataSmReceived,
    DeliverReceived,
    Event,
    ProtocolViolation,
    RequestReceived,
    RequestTimedOut,
    ResponseReceived,
    TerminationReason,
    UnbindRequested,
)
from opensmsc.smpp.pdu import (
    BindReceiver,
    BindTransceiver,
    BindTransmitter,
    Response,
    SubmitSm,
    SubmitSmResp,
)
from opensmsc.smpp.receipt import is_delivery_receipt, receipt_from_pdu
from opensmsc.smpp.states import BindMode, Role
from opensmsc.transport.client import connect
from opensmsc.transport.errors import ConnectionLost
from opensmsc.transport.protocol import SmppProtocol
from opensmsc.transport.tls import client_context
from opensmsc.upstream.matching import Match, ReceiptMatcher
from opensmsc.upstream.model import (
    Connector,
    ConnectorOptions,
    ConnectorState,
    ConnectorStatus,
    LinkState,
    MoCallback,
    ReceiptCallback,
    SessionStatus,
    SubmitOutcome,
    SubmitResult,
    bind_request,
    reconnect_delay,
    resolve_password,
)
from opensmsc.upstream.outbind import OutbindListener

__all__ = [
    "Connector",
    "ConnectorOptions",
    "ConnectorState",
    "ConnectorStatus",
    "LinkState",
    "MoCallback",
    "ReceiptCallback",
    "SessionStatus",
    "SmppConnector",
    "SubmitOutcome",
    "SubmitResult",
    "bind_request",
    "reconnect_delay",
    "resolve_password",
]

log = logging.getLogger(__name__)

_S = CommandStatus
# Answers that mean "not now", not "no": back off and send the same PDU again (digest §1.9).
_THROTTLING: Final = frozenset({_S.ESME_RTHROTTLED, _S.ESME_RMSGQFUL})
_MODES: Final = {
    ClientBind.TRANSMITTER: (BindMode.TRANSMITTER,),
    ClientBind.RECEIVER: (BindMode.RECEIVER,),
    ClientBind.TRANSCEIVER: (BindMode.TRANSCEIVER,),
    ClientBind.PAIR: (BindMode.TRANSMITTER, BindMode.RECEIVER),
}


def _status_text(status: int) -> str:
    parsed = CommandStatus.parse(status)
    name = parsed.name if isinstance(parsed, CommandStatus) else "unknown status"
    return f"{name} (0x{status:08X})"


# -- internals ----------------------------------------------------------------------------------


class _Job:
    __slots__ = ("attempts", "future", "our_id", "pdu", "queued")

    def __init__(
        self, pdu: SubmitSm, our_id: str | None, future: asyncio.Future[SubmitResult]
    ) -> None:
        self.pdu = pdu
        self.our_id = our_id
        self.future = future
        self.attempts = 0
        self.queued = True  # in the bounded queue (holds one of its places)

    def resolve(self, result: SubmitResult) -> None:
        if not self.future.done():  # the caller may have given up (cancelled)
            self.future.set_result(result)


_Incoming = DeliverReceived | DataSmReceived


class _Session:
    """One TCP connection of a connector; the SessionHandler its SmppProtocol reports to."""

    def __init__(self, connector: SmppConnector, link: _Link, session_id: str) -> None:
        loop = asyncio.get_running_loop()
        self.connector = connector
        self.link = link
        self.session_id = session_id
        self.protocol: SmppProtocol | None = None
        self.bind_result: asyncio.Future[str | None] = loop.create_future()  # None: bound
        self.closed: asyncio.Future[None] = loop.create_future()
        self.in_flight: dict[int, _Job] = {}
        self.peer_system_id: str | None = None
        self.termination: TerminationReason | None = None
        # A peer that breaks a rule usually breaks it in bursts: one warning a second, counted.
        self.violations_logged_at = -1.0
        self.violations_suppressed = 0

    def attach(self, protocol: SmppProtocol) -> _Session:
        self.protocol = protocol
        return self

    @property
    def can_send(self) -> bool:
        protocol = self.protocol
        return protocol is not None and not protocol.is_closed and protocol.connection.can_send

    def resolve_bind(self, outcome: str | None) -> None:
        if not self.bind_result.done():
            self.bind_result.set_result(outcome)

    def respond(self, event: _Incoming, status: int = 0) -> None:
        if self.protocol is None:
            return
        if status:
            self.protocol.reject(event, status)
        else:
            self.protocol.respond(event, event.pdu.response())

    # SessionHandler
    def on_events(self, events: list[Event]) -> None:
        self.connector._on_events(self, events)

    def on_connection_lost(self, exc: Exception | None) -> None:
        self.connector._on_session_lost(self, exc)


class _Link:
    """A session slot: what it binds as, and its current session if any. An outbind session
    gets a slot of its own, outside `SmppConnector._links`, so it never carries submits."""

    def __init__(self, mode: BindMode, *, outbind: bool = False) -> None:
        self.mode = mode
        self.outbind = outbind
        self.state = LinkState.IDLE
        self.session: _Session | None = None
        self.task: asyncio.Task[None] | None = None
        self.connects = 0
        self.binds = 0
        self.last_error: str | None = None

    @property
    def sends(self) -> bool:
        return self.mode is not BindMode.RECEIVER


class _OpenFailedError(Exception):
    """A connect or bind attempt failed; the message says why (for status and logs)."""


# -- the connector ------------------------------------------------------------------------------


class SmppConnector:
    """One `[[smpp.client]]`: its sessions, submit queue, receipts and MO.

    `start()` begins connecting (and returns at once); `stop()` unbinds gracefully within a
    bound. Both may be called again later. `on_receipt` and `on_mo` may be set at any time.
    """

    def __init__(
        self,
        config: SmppClientConfig,
        *,
        options: ConnectorOptions | None = None,
        on_receipt: ReceiptCallback | None = None,
        on_mo: MoCallback | None = None,
        rng: random.Random | None = None,
    ) -> None:
        if config.bind is ClientBind.TRANSCEIVER and config.interface_version is SmppVersion.V33:
            raise ConfigError(
                "bind transceiver needs interface_version 3.4 or 5.0",
                path=f"smpp.client[{config.name}]",
                key="bind",
            )
        self.config = config
        self.on_receipt = on_receipt
        self.on_mo = on_mo
        opts = options if options is not None else ConnectorOptions()
        self._options = opts
        self._rng = rng if rng is not None else random.Random()
        self._links = [_Link(mode) for mode in _MODES[config.bind]]
        self._session_config = SessionConfig(
            role=Role.ESME,
            window=config.window,
            peer_window=config.receive_window,
            interface_version=config.interface_version.code,
            # The bind has its own response_timeout; an unbound session ends with it.
            session_init_timeout=None,
            enquire_link_interval=config.enquire_link_interval,
            response_timeout=config.response_timeout,
            drain_timeout=opts.drain_timeout,
            max_consecutive_timeouts=opts.max_consecutive_timeouts,
        )
        self._space = asyncio.Semaphore(opts.queue_size or 2 * config.window)
        self._queue: deque[_Job] = deque()
        self._retry: deque[_Job] = deque()  # throttled jobs, sent before new ones
        self._wakeup = asyncio.Event()
        self._bucket = (
            TokenBucket(config.throughput, max(1.0, config.throughput / 10.0))
            if config.throughput > 0
            else None
        )
        self._matcher: ReceiptMatcher[tuple[_Session, _Incoming]] = ReceiptMatcher(
            config.message_id_format,
            max_ids=opts.max_message_ids,
            max_held=opts.max_held_receipts,
            hold_timeout=opts.receipt_hold_timeout,
        )
        self._matcher_timer: asyncio.TimerHandle | None = None
        self._sessions: set[_Session] = set()
        self._outbind: OutbindListener | None = None
        self._outbinds_refused = 0  # by listeners of earlier runs
        self._tasks: set[asyncio.Task[None]] = set()
        self._dispatcher: asyncio.Task[None] | None = None
        self._stop_task: asyncio.Task[None] | None = None
        self._running = False
        self._stopping = False
        self._password = ""
        self._ssl_context: ssl.SSLContext | None = None
        self._numbers = itertools.count(1)
        self._throttle_until = 0.0
        self._throttle_streak = 0
        self._submitted = 0
        self._accepted = 0
        self._failed = 0
        self._throttled = 0
        self._receipts = 0
        self._matched = 0
        self._unmatched = 0
        self._held_total = 0
        self._mo = 0

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def is_running(self) -> bool:
        return self._running

    @property
    def outbind_port(self) -> int | None:
        """The port the outbind listener listens on; None when it is not listening."""
        return self._outbind.port if self._outbind is not None else None

    # -- life ---------------------------------------------------------------------------------

    async def start(self) -> None:
        """Start connecting and binding every session; returns without waiting for a bind.

        Raises ConfigError when the password or TLS files cannot be loaded.
        """
        if self._running or self._outbind is not None:  # running, or a start awaits its port
            return
        config = self.config
        self._password = resolve_password(config)
        if config.tls:
            self._ssl_context = client_context(
                ca=config.tls_ca_file,
                verify=config.tls_verify,
                client_cert=config.tls_cert_file,
                client_key=config.tls_key_file,
            )
        if config.outbind_listen:
            listener = OutbindListener(
                config,
                session_config=dataclasses.replace(
                    self._session_config, session_init_timeout=self._options.outbind_init_timeout
                ),
                adopt=self._adopt_outbind,
            )
            self._outbind = listener
            try:
                await listener.start()  # raises ConfigError when the port cannot be had
            except BaseException:
                self._outbind = None
                raise
        self._running = True
        self._stopping = False
        loop = asyncio.get_running_loop()
        for link in self._links:
            link.state = LinkState.CONNECTING
            link.task = loop.create_task(
                self._run_link(link), name=f"connector-{self.name}-{link.mode.value}"
            )
        self._dispatcher = loop.create_task(self._dispatch(), name=f"connector-{self.name}-send")
        log.info(
            "connector starting connector=%s host=%s port=%d tls=%s bind=%s",
            self.name,
            config.host,
            config.port,
            config.tls,
            config.bind.value,
        )

    async def stop(self) -> None:
        """Stop gracefully: no new submits go out, in-flight ones are answered (within the
        drain timeout), every session unbinds, then sockets close. Queued submits resolve as
        NOT_SENT; receipts still held are answered ESME_RX_T_APPN so the upstream retries
        them. Bounded by about drain_timeout + 2 × response_timeout."""
        if not self._running:
            return
        if self._stop_task is None:
            self._stop_task = asyncio.get_running_loop().create_task(
                self._stop(), name=f"connector-{self.name}-stop"
            )
        # Shielded: a caller that gives up waiting does not leave the connector half-stopped.
        await asyncio.shield(self._stop_task)

    async def _stop(self) -> None:
        self._stopping = True
        self._wakeup.set()
        if self._dispatcher is not None:
            self._dispatcher.cancel()
            await asyncio.gather(self._dispatcher, return_exceptions=True)
            self._dispatcher = None
        for job in itertools.chain(self._queue, self._retry):
            if job.queued:
                self._space.release()
            job.resolve(
                SubmitResult(
                    outcome=SubmitOutcome.NOT_SENT,
                    attempts=job.attempts,
                    detail="connector stopped",
                )
            )
        self._queue.clear()
        self._retry.clear()
        for match in self._matcher.release_all():
            session, event = match.token
            session.respond(event, _S.ESME_RX_T_APPN)
        if self._matcher_timer is not None:
            self._matcher_timer.cancel()
            self._matcher_timer = None

        for session in list(self._sessions):
            protocol = session.protocol
            if protocol is None or protocol.is_closed:
                continue
            conn = protocol.connection
            if conn.state.is_bound and not conn.is_unbinding and not conn.is_terminated:
                session.link.state = LinkState.UNBINDING
                protocol.unbind()
            elif not conn.is_unbinding:
                protocol.close()
        bound = self._options.drain_timeout + 2 * self.config.response_timeout + 1.0
        waiting = [s.closed for s in self._sessions if not s.closed.done()]
        if waiting:
            await asyncio.wait(waiting, timeout=bound)

        tasks = [link.task for link in self._links if link.task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for session in list(self._sessions):
            if session.protocol is not None:
                session.protocol.abort()
        waiting = [s.closed for s in self._sessions if not s.closed.done()]
        if waiting:
            await asyncio.wait(waiting, timeout=1.0)
        if self._outbind is not None:
            # Only now: its sessions were unbound above with the others, in the same drain.
            # Outbinds arriving meanwhile were refused (`_adopt_outbind` sees _stopping).
            await self._outbind.stop()
            self._outbinds_refused += self._outbind.refused
            self._outbind = None

        if self._tasks:
            # Callbacks in progress get a moment; their answers have nowhere to go anyway.
            await asyncio.wait(list(self._tasks), timeout=1.0)
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
        for link in self._links:
            link.task = None
            link.session = None
            link.state = LinkState.STOPPED
        self._running = False
        self._stopping = False
        self._stop_task = None
        log.info("connector stopped connector=%s", self.name)

    # -- submitting ---------------------------------------------------------------------------

    async def submit(self, pdu: SubmitSm, *, our_id: str | None = None) -> SubmitResult:
        """Send `pdu` upstream and return its answer; `our_id` is our message id, which the
        upstream's receipts for it will be reported with.

        Waits for a place in the bounded queue (callers wait, nothing buffers without bound),
        then for a bound transmitting session with a free window slot and a throughput token.
        Throttling answers are retried with growing pauses, not returned. A PDU that cannot be
        encoded comes back REJECTED with the codec's status at once. Cancelling the call
        withdraws a submit that has not gone out yet.
        """
        try:
            encode(pdu, 1)  # refuse what can never be sent before it takes a window slot
        except LocalProtocolError as exc:
            return SubmitResult(
                outcome=SubmitOutcome.REJECTED, status=exc.status, detail=exc.message
            )
        if not self._running or self._stopping:
            return SubmitResult(outcome=SubmitOutcome.NOT_SENT, detail="connector not running")
        if not any(link.sends for link in self._links):
            return SubmitResult(
                outcome=SubmitOutcome.NOT_SENT, detail="connector binds as receiver only"
            )
        await self._space.acquire()
        if not self._running or self._stopping:
            self._space.release()
            return SubmitResult(outcome=SubmitOutcome.NOT_SENT, detail="connector stopped")
        job = _Job(pdu, our_id, asyncio.get_running_loop().create_future())
        self._queue.append(job)
        self._wakeup.set()
        return await job.future

    async def _dispatch(self) -> None:
        """The one sender: takes the next job when a session, the window and the throughput
        cap all allow, so a job leaves the queue only to go on the wire."""
        loop = asyncio.get_running_loop()
        while True:
            self._wakeup.clear()
            job = self._peek_job()
            if job is None:
                await self._wakeup.wait()
                continue
            now = loop.time()
            delay = self._throttle_until - now
            if self._bucket is not None:
                delay = max(delay, self._bucket.delay_until_available(now))
            if delay > 0:
                await asyncio.sleep(delay)
                continue
            session = self._sending_session()
            if session is None:
                await self._wakeup.wait()
                continue
            self._take(job)
            if self._bucket is not None:
                self._bucket.try_take(now)
            self._send(session, job)

    def _peek_job(self) -> _Job | None:
        while self._retry:
            job = self._retry[0]
            if not job.future.done():
                return job
            self._retry.popleft()
        while self._queue:
            job = self._queue[0]
            if not job.future.done():
                return job
            self._take(job)  # withdrawn by its caller
        return None

    def _take(self, job: _Job) -> None:
        if job.queued:
            self._queue.popleft()
            job.queued = False
            self._space.release()
        else:
            self._retry.popleft()

    def _sending_session(self) -> _Session | None:
        for link in self._links:
            session = link.session
            if link.sends and session is not None and session.can_send:
                return session
        return None

    def _send(self, session: _Session, job: _Job) -> None:
        assert session.protocol is not None  # _sending_session checked it
        try:
            sequence_number = session.protocol.send_request(job.pdu)
        except LocalProtocolError as exc:
            # can_send was true a moment ago, and the PDU encodes: a bug, but one message's.
            log.error(
                "submit not sent connector=%s session=%s: %s", self.name, session.session_id, exc
            )
            self._failed += 1
            job.resolve(
                SubmitResult(
                    outcome=SubmitOutcome.REJECTED,
                    status=exc.status,
                    attempts=job.attempts,
                    detail=exc.message,
                )
            )
            return
        job.attempts += 1
        session.in_flight[sequence_number] = job
        self._submitted += 1
        self._matcher.expect()

    def _on_submit_response(
        self, session: _Session, sequence_number: int, response: Response
    ) -> None:
        job = session.in_flight.pop(sequence_number, None)
        if job is None:
            return
        status = response.command_status
        if status == 0 and isinstance(response, SubmitSmResp):
            self._accepted += 1
            self._throttle_streak = 0
            message_id = response.message_id
            self._deliver(self._matcher.accepted(message_id, job.our_id))
            job.resolve(
                SubmitResult(
                    outcome=SubmitOutcome.ACCEPTED, message_id=message_id, attempts=job.attempts
                )
            )
        elif status in _THROTTLING:
            self._throttled += 1
            self._deliver(self._matcher.settled())
            self._back_off_throttled(status)
            if not job.future.done():
                self._retry.append(job)
        else:
            # A generic_nack with status 0 would be nonsense; count it as the failure it is.
            status = status or _S.ESME_RSYSERR
            self._failed += 1
            self._deliver(self._matcher.settled())
            job.resolve(
                SubmitResult(
                    outcome=SubmitOutcome.REJECTED,
                    status=status,
                    attempts=job.attempts,
                    detail=_status_text(status),
                )
            )
        self._wakeup.set()

    def _back_off_throttled(self, status: int) -> None:
        now = asyncio.get_running_loop().time()
        # Answers to requests sent before the pause began say nothing new: escalate only
        # when the upstream still throttles after the last pause.
        if now >= self._throttle_until:
            self._throttle_streak += 1
            opts = self._options
            delay = reconnect_delay(
                self._throttle_streak, opts.throttle_min_delay, opts.throttle_max_delay, self._rng
            )
            self._throttle_until = now + delay
            log.info(
                "upstream throttling connector=%s status=%s pause=%.3fs",
                self.name,
                _status_text(status),
                delay,
            )

    def _on_submit_timeout(self, session: _Session, sequence_number: int) -> None:
        job = session.in_flight.pop(sequence_number, None)
        if job is None:
            return
        self._failed += 1
        self._deliver(self._matcher.settled())
        job.resolve(
            SubmitResult(
                outcome=SubmitOutcome.TIMED_OUT,
                attempts=job.attempts,
                detail=f"no submit_sm_resp within {self.config.response_timeout:g} s",
            )
        )
        self._wakeup.set()

    # -- sessions -----------------------------------------------------------------------------

    async def _run_link(self, link: _Link) -> None:
        """Keep one session bound: connect, bind, wait for its end, back off, again."""
        failures = 0
        while True:
            link.state = LinkState.CONNECTING
            link.connects += 1
            try:
                session = await self._open(link)
            except _OpenFailedError as exc:
                failures += 1
                link.last_error = str(exc)
                await self._back_off(link, failures)
                continue
            except Exception as exc:
                # The per-task boundary: a bug here must not end the connector's retries.
                log.exception(
                    "connect attempt failed connector=%s mode=%s", self.name, link.mode.value
                )
                failures += 1
                link.last_error = f"internal error: {exc}"
                await self._back_off(link, failures)
                continue
            failures = 0
            link.binds += 1
            link.last_error = None
            link.session = session
            link.state = LinkState.BOUND
            log.info(
                "bound connector=%s session=%s mode=%s peer_system_id=%s",
                self.name,
                session.session_id,
                link.mode.value,
                peer_text(session.peer_system_id),
            )
            self._wakeup.set()
            await asyncio.shield(session.closed)
            link.session = None
            if self._stopping:
                link.state = LinkState.STOPPED
                return
            reason = session.termination.value if session.termination else "closed"
            link.last_error = f"session ended: {reason}"
            await self._back_off(link, 1)

    async def _open(self, link: _Link) -> _Session:
        config = self.config
        session = _Session(self, link, f"{self.name}-{link.mode.value}-{next(self._numbers)}")
        try:
            await connect(
                config.host,
                config.port,
                session_config=self._session_config,
                handler_factory=session.attach,
                session_id=session.session_id,
                ssl_context=self._ssl_context,
                server_hostname=config.tls_server_name,
                connect_timeout=self._options.connect_timeout,
            )
        except ConnectionLost as exc:
            raise _OpenFailedError(f"connect failed: {exc}") from exc
        # Only now: a failed TLS handshake never reports connection_lost to its protocol.
        if not session.closed.done():
            self._sessions.add(session)
        protocol = session.protocol
        assert protocol is not None  # attach ran in connection setup
        link.state = LinkState.BINDING
        try:
            protocol.send_request(bind_request(config, link.mode, self._password))
            # The Connection's response timer answers first; this bound is a backstop.
            async with asyncio.timeout(config.response_timeout + 1.0):
                outcome = await asyncio.shield(session.bind_result)
        except TimeoutError:
            outcome = f"no bind response within {config.response_timeout:g} s"
        except BaseException:
            protocol.abort()
            raise
        if outcome is None:
            return session
        protocol.close()
        # Let the socket go before the back-off starts, so no transport outlives its session.
        await asyncio.wait([session.closed], timeout=1.0)
        if not session.closed.done():
            protocol.abort()
        raise _OpenFailedError(outcome)

    async def _back_off(self, link: _Link, failures: int) -> None:
        config = self.config
        delay = reconnect_delay(
            failures, config.reconnect_min_delay, config.reconnect_max_delay, self._rng
        )
        link.state = LinkState.BACKING_OFF
        log.warning(
            "connector session down connector=%s mode=%s reason=%s retry_in=%.2fs",
            self.name,
            link.mode.value,
            link.last_error,
            delay,
        )
        await asyncio.sleep(delay)

    def _adopt_outbind(self, protocol: SmppProtocol, mode: BindMode) -> _Session | None:
        """The outbind listener accepted an outbind on `protocol`: bind on it as `mode` with our
        own credentials, then treat it like a session we opened (digest §1.10 step 3). None
        while stopping: the listener then closes the connection."""
        if not self._running or self._stopping:
            return None
        link = _Link(mode, outbind=True)
        link.state = LinkState.BINDING
        link.connects = 1
        session = _Session(self, link, protocol.session_id).attach(protocol)
        self._sessions.add(session)
        protocol.send_request(bind_request(self.config, mode, self._password))
        session.bind_result.add_done_callback(
            lambda result: self._on_outbind_bind(session, result.result())
        )
        return session

    def _on_outbind_bind(self, session: _Session, outcome: str | None) -> None:
        link = session.link
        protocol = session.protocol
        if outcome is None and protocol is not None and not protocol.is_closed:
            link.binds = 1
            link.state = LinkState.BOUND
            link.session = session
            log.info(
                "bound by outbind connector=%s session=%s mode=%s peer_system_id=%s",
                self.name,
                session.session_id,
                link.mode.value,
                peer_text(session.peer_system_id),
            )
            return
        link.last_error = outcome
        log.warning(
            "outbind session not bound connector=%s session=%s: %s",
            self.name,
            session.session_id,
            outcome,
        )
        if protocol is not None:
            protocol.close()

    def _on_events(self, session: _Session, events: list[Event]) -> None:
        for event in events:
            match event:
                case ResponseReceived(sequence_number=seq, request=request, response=response):
                    if isinstance(request, BindTransmitter | BindReceiver | BindTransceiver):
                        session.resolve_bind(
                            None
                            if response.command_status == 0
                            else f"bind refused: {_status_text(response.command_status)}"
                        )
                    elif isinstance(request, SubmitSm):
                        self._on_submit_response(session, seq, response)
                case RequestTimedOut(sequence_number=seq, request=request):
                    if isinstance(request, SubmitSm):
                        self._on_submit_timeout(session, seq)
                    else:
                        session.resolve_bind(
                            f"no bind response within {self.config.response_timeout:g} s"
                        )
                case DeliverReceived() | DataSmReceived():
                    self._on_incoming(session, event)
                case RequestReceived():
                    # The Connection refuses what an SMSC may not send; nothing else is left.
                    if session.protocol is not None:
                        session.protocol.reject(event, _S.ESME_RINVCMDID)
                case Bound(peer_system_id=peer):
                    session.peer_system_id = peer
                case UnbindRequested():
                    session.link.state = LinkState.UNBINDING
                    log.info(
                        "upstream unbinds connector=%s session=%s", self.name, session.session_id
                    )
                case ConnectionTerminated(reason=reason):
                    session.termination = reason
                case ProtocolViolation(detail=detail, status=status):
                    now = asyncio.get_running_loop().time()
                    if now - session.violations_logged_at < 1.0:
                        session.violations_suppressed += 1
                        continue
                    log.warning(
                        "upstream protocol violation connector=%s session=%s status=0x%08X: %s"
                        " (%d more in the last second)",
                        self.name,
                        session.session_id,
                        status,
                        detail,
                        session.violations_suppressed,
                    )
                    session.violations_logged_at = now
                    session.violations_suppressed = 0
                case AlertReceived():
                    log.info(
                        "alert_notification connector=%s session=%s", self.name, session.session_id
                    )
                case _:
                    pass

    def _on_session_lost(self, session: _Session, exc: Exception | None) -> None:
        reason = session.termination.value if session.termination else (str(exc) or "closed")
        session.resolve_bind(f"connection closed before the bind response ({reason})")
        self._sessions.discard(session)
        jobs = list(session.in_flight.values())
        session.in_flight.clear()
        for job in jobs:
            self._failed += 1
            self._deliver(self._matcher.settled())
            job.resolve(
                SubmitResult(
                    outcome=SubmitOutcome.CONNECTION_LOST,
                    attempts=job.attempts,
                    detail=f"session ended with the submit in flight ({reason})",
                )
            )
        if not session.closed.done():
            session.closed.set_result(None)
        self._wakeup.set()

    # -- receipts and MO ----------------------------------------------------------------------

    def _on_incoming(self, session: _Session, event: _Incoming) -> None:
        pdu = event.pdu
        if not is_delivery_receipt(pdu.esm_class):
            self._mo += 1
            self._spawn(self._deliver_mo(session, event))
            return
        info = receipt_from_pdu(pdu)
        if info is None:
            log.warning(
                "receipt without a message id connector=%s session=%s; acknowledged",
                self.name,
                session.session_id,
            )
            session.respond(event)
            return
        self._receipts += 1
        before = self._matcher.held
        matches = self._matcher.receipt(
            info, (session, event), now=asyncio.get_running_loop().time()
        )
        if self._matcher.held > before:
            self._held_total += 1
        self._deliver(matches)

    def _deliver(self, matches: list[Match[tuple[_Session, _Incoming]]]) -> None:
        for match in matches:
            if match.our_id is None:
                self._unmatched += 1
            else:
                self._matched += 1
            self._spawn(self._deliver_receipt(match))
        self._arm_matcher_timer()

    def _arm_matcher_timer(self) -> None:
        deadline = self._matcher.next_deadline()
        if self._matcher_timer is not None:
            if deadline is not None and self._matcher_timer.when() == deadline:
                return
            self._matcher_timer.cancel()
            self._matcher_timer = None
        if deadline is not None:
            self._matcher_timer = asyncio.get_running_loop().call_at(
                deadline, self._on_matcher_timer
            )

    def _on_matcher_timer(self) -> None:
        self._matcher_timer = None
        self._deliver(self._matcher.expire(now=asyncio.get_running_loop().time()))

    async def _deliver_receipt(self, match: Match[tuple[_Session, _Incoming]]) -> None:
        session, event = match.token
        callback = self.on_receipt
        await self._answer_after(
            session,
            event,
            callback(match.our_id, match.info) if callback is not None else None,
            "receipt",
        )

    async def _deliver_mo(self, session: _Session, event: _Incoming) -> None:
        callback = self.on_mo
        await self._answer_after(
            session, event, callback(event.pdu) if callback is not None else None, "mo"
        )

    async def _answer_after(
        self,
        session: _Session,
        event: _Incoming,
        work: Awaitable[None] | None,
        kind: str,
    ) -> None:
        # The per-task boundary: a callback's failure is logged and answered, never raised.
        status = 0
        try:
            if work is not None:
                await work
        except MessageRejected as exc:
            status = exc.status
        except Exception:
            log.exception(
                "%s callback failed connector=%s session=%s seq=%d",
                kind,
                self.name,
                session.session_id,
                event.sequence_number,
            )
            status = _S.ESME_RX_T_APPN
        session.respond(event, status)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- status -------------------------------------------------------------------------------

    def status(self) -> ConnectorStatus:
        links = self._links
        bound = sum(1 for link in links if link.state is LinkState.BOUND)
        if not self._running:
            state = ConnectorState.STOPPED
        elif self._stopping:
            state = ConnectorState.STOPPING
        elif bound == len(links):
            state = ConnectorState.BOUND
        elif bound:
            state = ConnectorState.DEGRADED
        elif any(link.last_error is not None for link in links):
            state = ConnectorState.RETRYING
        else:
            state = ConnectorState.STARTING
        sessions = tuple(
            SessionStatus(
                mode=link.mode,
                state=link.state,
                session_id=link.session.session_id if link.session else None,
                peer_system_id=link.session.peer_system_id if link.session else None,
                in_flight=len(link.session.in_flight) if link.session else 0,
                connects=link.connects,
                binds=link.binds,
                last_error=link.last_error,
            )
            for link in links
        )
        errors = [link.last_error for link in links if link.last_error is not None]
        outbind = self._outbind
        return ConnectorStatus(
            name=self.name,
            state=state,
            sessions=sessions,
            bound_sessions=bound,
            in_flight=sum(len(s.in_flight) for s in self._sessions),
            queued=len(self._retry) + sum(1 for job in self._queue if not job.future.done()),
            submitted=self._submitted,
            accepted=self._accepted,
            failed=self._failed,
            throttled=self._throttled,
            receipts=self._receipts,
            receipts_matched=self._matched,
            receipts_unmatched=self._unmatched,
            receipts_held=self._matcher.held,
            receipts_held_total=self._held_total,
            mo=self._mo,
            last_error=errors[0] if errors else None,
            outbind_sessions=tuple(
                SessionStatus(
                    mode=s.link.mode,
                    state=s.link.state,
                    session_id=s.session_id,
                    peer_system_id=s.peer_system_id,
                    in_flight=0,  # submits never go over an outbind session
                    connects=1,
                    binds=s.link.binds,
                    last_error=s.link.last_error,
                )
                for s in sorted(self._sessions, key=lambda s: s.session_id)
                if s.link.outbind
            ),
            outbind_port=outbind.port if outbind is not None else None,
            outbinds_refused=self._outbinds_refused + (outbind.refused if outbind else 0),
        )
