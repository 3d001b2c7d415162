"""One upstream connector: our ESME session(s) to a carrier's SMSC (issue 4, "connector").

What this is for: the facade the rest of the node uses. `SmppConnector` takes submits from
callers that wait in a bounded queue, sends them when the submit queue allows (submit_queue.py:
order, window, throughput cap, back-off after throttling) on a session its links keep bound
(link.py: bind, reconnect with back-off, outbind), and tells each caller how the upstream
answered. Receipts and MO from the upstream go through `Incoming` (incoming.py, with the id
matching of matching.py) to the `on_receipt` / `on_mo` callbacks. It counts what happened for
`status()`.

Contracts:
- `submit()` returns how the upstream answered. A result of TIMED_OUT or CONNECTION_LOST means
  the upstream may or may not have the message: resubmitting risks a duplicate, so the
  connector does not do it; throttling answers are the only ones it retries by itself.
- Receipts reach `on_receipt(our_id, info)`; `our_id` is None when no submit of ours matched.
  `on_mo(pdu)` gets every other deliver_sm / data_sm. A callback that returns acknowledges
  with status 0; one that raises MessageRejected answers its status; any other exception is
  logged and answered ESME_RX_T_APPN, so the upstream delivers it again later.
- `on_bound(name)` is told each time a session that carries submits binds, the first time and
  after every reconnect: the engine then retries at once what waits for this route.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from typing import Final

from opensmsc.smpp import (
    CommandStatus,
    LocalProtocolError,
    Response,
    SubmitSm,
    SubmitSmResp,
    encode,
)
from opensmsc.upstream.incoming import Incoming
from opensmsc.upstream.link import Links
from opensmsc.upstream.matching import IdReading, ReceiptMatcher
from opensmsc.upstream.model import (
    ConnectorOptions,
    ConnectorState,
    ConnectorStatus,
    MoCallback,
    ReceiptCallback,
    SubmitOutcome,
    SubmitResult,
)
from opensmsc.upstream.session import IncomingEvent, UpstreamSession, status_text
from opensmsc.upstream.settings import ConnectorSettings
from opensmsc.upstream.submit_queue import SubmitQueue, queue_burst

__all__ = ["BoundCallback", "SmppConnector", "loop_time"]

log = logging.getLogger(__name__)

_S = CommandStatus
# Answers that mean "not now", not "no": back off and send the same PDU again (digest §1.9).
_THROTTLING: Final = frozenset({_S.ESME_RTHROTTLED, _S.ESME_RMSGQFUL})

BoundCallback = Callable[[str], None]
"""Told a connector's name when one of its sessions that carry submits binds."""


def loop_time() -> float:
    """The running loop's clock: a connector's default `now`."""
    return asyncio.get_running_loop().time()


class _Job:
    __slots__ = ("attempts", "future", "our_id", "pdu", "queued")

    def __init__(
        self, pdu: SubmitSm, our_id: str | None, future: asyncio.Future[SubmitResult]
    ) -> None:
        self.pdu = pdu
        self.our_id = our_id
        self.future = future
        self.attempts = 0
        self.queued = True  # holds a place in the bounded queue (until it first goes out)

    def resolve(
        self,
        outcome: SubmitOutcome,
        detail: str = "",
        *,
        message_id: str | None = None,
        status: int = 0,
    ) -> None:
        if not self.future.done():  # the caller may have given up (cancelled)
            self.future.set_result(
                SubmitResult(
                    outcome=outcome,
                    message_id=message_id,
                    status=status,
                    attempts=self.attempts,
                    detail=detail,
                )
            )


class SmppConnector:
    """One connector: its sessions, submit queue, receipts and MO (module doc).

    `start()` begins connecting (and returns at once); `stop()` unbinds gracefully within a
    bound. Both may be called again later. `on_receipt`, `on_mo` and `on_bound` may be set at
    any time. `now` is the monotonic clock of its deadlines (default: the running loop's).
    Raises ConfigError for a bind its interface_version cannot do.
    """

    def __init__(
        self,
        settings: ConnectorSettings,
        *,
        options: ConnectorOptions | None = None,
        on_receipt: ReceiptCallback | None = None,
        on_mo: MoCallback | None = None,
        on_bound: BoundCallback | None = None,
        rng: random.Random | None = None,
        now: Callable[[], float] = loop_time,
    ) -> None:
        opts = options if options is not None else ConnectorOptions()
        rng = rng if rng is not None else random.Random()
        self.settings = settings
        self.on_bound = on_bound
        self._options = opts
        self._now = now
        self._links = Links(settings, opts, self, rng=rng, now=now)
        self._space = asyncio.Semaphore(opts.queue_size or 2 * settings.window)
        bucket = None
        if opts.throughput_bucket is not None and settings.throughput > 0:
            rate = settings.throughput
            bucket = opts.throughput_bucket(settings.name, rate, queue_burst(rate))
        self._queue: SubmitQueue[_Job] = SubmitQueue(
            window=settings.window,
            throughput=settings.throughput,
            throttle_min_delay=opts.throttle_min_delay,
            throttle_max_delay=opts.throttle_max_delay,
            rng=rng,
            bucket=bucket,
        )
        self._in_flight: dict[UpstreamSession, dict[int, _Job]] = {}
        self._wakeup = asyncio.Event()
        matcher: ReceiptMatcher[tuple[UpstreamSession, IncomingEvent]] = ReceiptMatcher(
            settings.message_id_format,
            max_ids=opts.max_message_ids,
            max_held=opts.max_held_receipts,
            hold_timeout=opts.receipt_hold_timeout,
        )
        self._incoming = Incoming(
            settings.name, matcher, now=now, on_receipt=on_receipt, on_mo=on_mo
        )
        self._dispatcher: asyncio.Task[None] | None = None
        self._stop_task: asyncio.Task[None] | None = None
        self._running = False
        self._stopping = False
        self._submitted = 0
        self._accepted = 0
        self._failed = 0
        self._throttled = 0

    @property
    def name(self) -> str:
        return self.settings.name

    @property
    def is_running(self) -> bool:
        return self._running

    @property
    def outbind_port(self) -> int | None:
        """The port the outbind listener listens on; None when it is not listening."""
        return self._links.outbind_port

    @property
    def id_reading(self) -> IdReading:
        """How this connector reads its upstream's message ids (what AUTO has settled)."""
        return self._incoming.matcher.reading

    @property
    def on_receipt(self) -> ReceiptCallback | None:
        return self._incoming.on_receipt

    @on_receipt.setter
    def on_receipt(self, callback: ReceiptCallback | None) -> None:
        self._incoming.on_receipt = callback

    @property
    def on_mo(self) -> MoCallback | None:
        return self._incoming.on_mo

    @on_mo.setter
    def on_mo(self, callback: MoCallback | None) -> None:
        self._incoming.on_mo = callback

    # -- life ---------------------------------------------------------------------------------

    async def start(self) -> None:
        """Start connecting and binding every session; returns without waiting for a bind.

        Raises ConfigError when the password or TLS files cannot be loaded.
        """
        if self._running or self._links.starting:  # running, or a start awaits its port
            return
        await self._links.start()
        self._running = True
        self._stopping = False
        self._dispatcher = asyncio.get_running_loop().create_task(
            self._dispatch(), name=f"connector-{self.name}-send"
        )
        settings = self.settings
        log.info(
            "connector starting connector=%s host=%s port=%d tls=%s bind=%s",
            self.name,
            settings.host,
            settings.port,
            settings.tls,
            settings.bind.value,
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
        self._links.begin_stop()
        self._wakeup.set()
        if self._dispatcher is not None:
            self._dispatcher.cancel()
            await asyncio.gather(self._dispatcher, return_exceptions=True)
            self._dispatcher = None
        for job in self._queue.clear():
            self._leave_queue(job)
            job.resolve(SubmitOutcome.NOT_SENT, "connector stopped")
        self._incoming.release_held()
        await self._links.stop()
        await self._incoming.finish()
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
        if not self._links.sends:
            return SubmitResult(
                outcome=SubmitOutcome.NOT_SENT, detail="connector binds as receiver only"
            )
        await self._space.acquire()
        if not self._running or self._stopping:
            self._space.release()
            return SubmitResult(outcome=SubmitOutcome.NOT_SENT, detail="connector stopped")
        job = _Job(pdu, our_id, asyncio.get_running_loop().create_future())
        self._queue.put(job)
        self._wakeup.set()
        try:
            return await job.future
        except asyncio.CancelledError:
            if self._queue.withdraw(job):
                self._leave_queue(job)
            raise

    def _leave_queue(self, job: _Job) -> None:
        if job.queued:
            job.queued = False
            self._space.release()

    async def _dispatch(self) -> None:
        """The one sender: takes the next job when a session, the window, the throughput cap
        and any throttling pause all allow, so a job leaves the queue only to go on the wire."""
        while True:
            self._wakeup.clear()
            session = self._links.sending_session()
            now = self._now()
            at = self._queue.ready_at(now)
            if session is None or at is None:
                await self._wakeup.wait()
                continue
            if at > now:
                await asyncio.sleep(at - now)
                continue
            job = self._queue.pop_ready(now)
            assert job is not None  # ready_at said now
            self._leave_queue(job)
            self._send(session, job)

    def _send(self, session: UpstreamSession, job: _Job) -> None:
        assert session.protocol is not None  # sending_session checked it
        try:
            sequence_number = session.protocol.send_request(job.pdu)
        except LocalProtocolError as exc:
            # can_send was true a moment ago, and the PDU encodes: a bug, but one message's.
            log.error(
                "submit not sent connector=%s session=%s: %s", self.name, session.session_id, exc
            )
            self._queue.failed(job)
            self._failed += 1
            job.resolve(SubmitOutcome.REJECTED, exc.message, status=exc.status)
            return
        job.attempts += 1
        self._in_flight.setdefault(session, {})[sequence_number] = job
        self._submitted += 1
        self._incoming.expect()

    # -- SessionEvents --------------------------------------------------------------------------

    def on_submit_response(
        self, session: UpstreamSession, sequence_number: int, response: Response
    ) -> None:
        job = self._in_flight.get(session, {}).pop(sequence_number, None)
        if job is None:
            return
        status = response.command_status
        if status == 0 and isinstance(response, SubmitSmResp):
            self._queue.accepted(job)
            self._accepted += 1
            self._incoming.accepted(response.message_id, job.our_id)
            job.resolve(SubmitOutcome.ACCEPTED, message_id=response.message_id)
        elif status in _THROTTLING:
            self._throttled += 1
            self._incoming.settled()
            pause = self._queue.throttled(job, self._now())
            if pause is not None:
                log.info(
                    "upstream throttling connector=%s status=%s pause=%.3fs",
                    self.name,
                    status_text(status),
                    pause,
                )
            if job.future.done():  # its caller gave up meanwhile: do not send it again
                self._queue.withdraw(job)
        else:
            # A generic_nack with status 0 would be nonsense; count it as the failure it is.
            status = status or _S.ESME_RSYSERR
            self._queue.failed(job)
            self._failed += 1
            self._incoming.settled()
            job.resolve(SubmitOutcome.REJECTED, status_text(status), status=status)
        self._wakeup.set()

    def on_submit_timeout(self, session: UpstreamSession, sequence_number: int) -> None:
        job = self._in_flight.get(session, {}).pop(sequence_number, None)
        if job is None:
            return
        self._queue.failed(job)
        self._failed += 1
        self._incoming.settled()
        job.resolve(
            SubmitOutcome.TIMED_OUT,
            f"no submit_sm_resp within {self.settings.response_timeout:g} s",
        )
        self._wakeup.set()

    def on_incoming(self, session: UpstreamSession, event: IncomingEvent) -> None:
        self._incoming.receive(session, event)

    def on_session_bound(self, session: UpstreamSession) -> None:
        self._wakeup.set()
        if self.on_bound is not None and session.link.sends:
            try:
                self.on_bound(self.name)
            except Exception:
                log.exception("on_bound callback failed connector=%s", self.name)

    def on_session_lost(self, session: UpstreamSession, reason: str) -> None:
        jobs = self._in_flight.pop(session, {})
        for job in jobs.values():
            self._queue.failed(job)
            self._failed += 1
            self._incoming.settled()
            job.resolve(
                SubmitOutcome.CONNECTION_LOST,
                f"session ended with the submit in flight ({reason})",
            )
        self._wakeup.set()

    # -- status -------------------------------------------------------------------------------

    def status(self) -> ConnectorStatus:
        links = self._links
        bound = links.bound
        if not self._running:
            state = ConnectorState.STOPPED
        elif self._stopping:
            state = ConnectorState.STOPPING
        elif bound == len(links.links):
            state = ConnectorState.BOUND
        elif bound:
            state = ConnectorState.DEGRADED
        elif any(link.last_error is not None for link in links.links):
            state = ConnectorState.RETRYING
        else:
            state = ConnectorState.STARTING
        errors = [link.last_error for link in links.links if link.last_error is not None]
        incoming = self._incoming
        return ConnectorStatus(
            name=self.name,
            state=state,
            sessions=links.statuses(lambda s: len(self._in_flight.get(s, ()))),
            bound_sessions=bound,
            in_flight=self._queue.in_flight,
            queued=self._queue.waiting,
            submitted=self._submitted,
            accepted=self._accepted,
            failed=self._failed,
            throttled=self._throttled,
            receipts=incoming.receipts,
            receipts_matched=incoming.matched,
            receipts_unmatched=incoming.unmatched,
            receipts_held=incoming.held,
            receipts_held_total=incoming.held_total,
            mo=incoming.mo,
            last_error=errors[0] if errors else None,
            outbind_sessions=links.outbind_statuses(),
            outbind_port=links.outbind_port,
            outbinds_refused=links.outbinds_refused,
        )
