"""One ESME bound to our SMSC: binds, submits and the other requests, deliveries to it.

The session machine (smpp.Connection) has already enforced the state rules, the window and the
timers; this handler decides what only a service can: credentials and throughput, and hands
messages to the store-and-forward engine (engine/node.py). Acceptance is
asynchronous: a submit_sm is answered when the Acceptor calls back, after the store commit.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from collections import Counter
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from opensmsc.accounts import (
    Authenticator,
    BindDecision,
    PasswordCheck,
    PasswordVerifier,
    TokenBucket,
)
from opensmsc.engine import Origin, StoreAndForward, trail
from opensmsc.smpp import (
    EMPTY_TLVS,
    BindMode,
    BindReceiver,
    BindRequested,
    BindTransmitter,
    BroadcastReceived,
    CancelBroadcastReceived,
    CancelReceived,
    CancelSmResp,
    CommandStatus,
    ConnectionTerminated,
    DataSmReceived,
    DataSmResp,
    DeliverSm,
    Event,
    InterfaceVersion,
    QueryBroadcastReceived,
    QueryReceived,
    ReplaceReceived,
    ReplaceSmResp,
    RequestReceived,
    RequestTimedOut,
    ResponseReceived,
    SessionState,
    SubmitMultiReceived,
    SubmitMultiResp,
    SubmitReceived,
    SubmitSmResp,
    Tag,
    TerminationReason,
    Tlvs,
    UnsuccessSme,
    positional_builder,
)
from opensmsc.smsc.registry import SessionRegistry
from opensmsc.smsc.tap import TAIL_QUEUE, SessionTap, TailReader
from opensmsc.transport import SmppProtocol, peer_identity

log = logging.getLogger(__name__)

_S = CommandStatus


@dataclass(frozen=True, slots=True)
class SmscSettings:
    system_id: str = "opensmsc"
    overload_action: str = "throttle"  # or "queue_full"


class ClusterBinds(Protocol):
    """cluster/limits.BindSlots: max_binds counted across the nodes of a cluster."""

    async def acquire(self, session: object, system_id: str, max_binds: int) -> bool:
        """Take one of the account's `max_binds` slots in the cluster; False when all are held."""
        ...

    def release(self, session: object) -> None: ...


class SmscServices:
    """What every ESME session shares: accounts, the password verifier, bound sessions, the
    engine. `close()` when the sessions are gone."""

    def __init__(
        self,
        *,
        authenticator: Authenticator,
        registry: SessionRegistry,
        engine: StoreAndForward,
        settings: SmscSettings,
        verifier: PasswordVerifier | None = None,  # None: one thread per CPU
        cluster_binds: ClusterBinds | None = None,  # with [cluster]: max_binds cluster-wide
    ) -> None:
        self.authenticator = authenticator
        self.cluster_binds = cluster_binds
        self.registry = registry
        self.engine = engine
        self.settings = settings
        self.verifier = verifier if verifier is not None else PasswordVerifier()
        # Requests answered with an error, by command_status, since the start (status, metrics).
        self.refusals: Counter[int] = Counter()
        # Set when the node drains (SIGTERM): new binds are refused, new submits answered
        # ESME_RTHROTTLED; `stopping` once sessions are being unbound for the stop.
        self.draining = False
        self.stopping = False

    def close(self) -> None:
        self.verifier.close()

    def bucket(self, system_id: str) -> TokenBucket | None:
        # The authenticator keeps each account's bucket, a new one when a reload changes it.
        return self.authenticator.throughput_bucket(system_id)


class EsmeSession:
    """The SessionHandler of one TCP connection from an ESME."""

    def __init__(self, protocol: SmppProtocol, services: SmscServices) -> None:
        self._protocol = protocol
        self._services = services
        self._loop = asyncio.get_running_loop()
        self.system_id = ""
        self.bind_mode: BindMode | None = None  # once bound
        self._bind_counted = False
        self._cluster_slot = False  # holds one of the account's bind slots of the cluster
        self._registered = False
        self._window = protocol.connection.config.peer_window  # the account's, once bound
        self._version = InterfaceVersion.V34
        self._v50 = False  # the hot path reads this rather than compare the IntEnum each time
        self._acceptor = services.engine.acceptor
        self.address_range = ""  # of the bind: MO routing (upstream/mo.py) reads it
        self._tasks: set[asyncio.Task[None]] = set()
        self._bind_task: asyncio.Task[None] | None = None
        self._deliveries: dict[int, Callable[[int | None], None]] = {}
        self._bucket: TokenBucket | None = None
        self._origin = trail.SMPP  # until bound
        # What `opensmsc status` shows and the end-of-session log line tells.
        self.submitted = 0  # messages accepted (answered with a message_id)
        self.delivered = 0  # deliver_sm answered ESME_ROK
        self.refused = 0  # requests answered with an error
        self.bound_at: datetime | None = None
        self._opened_at = self._loop.time()
        self._end_reason: str | None = None
        self._tap: SessionTap | None = None

    # ---- what operators see -------------------------------------------------------------------

    @property
    def session_id(self) -> str:
        return self._protocol.session_id

    @property
    def peer(self) -> tuple[str, int] | None:
        return self._protocol.peer

    def window_use(self) -> tuple[int, int]:
        """(used, size) of the window that limits this session: the account's submits awaiting
        our answer, or, for a receiver, our deliver_sm awaiting the ESME's."""
        connection = self._protocol.connection
        if self.bind_mode is BindMode.RECEIVER:
            return connection.in_flight, connection.config.window
        return connection.peer_in_flight, self._window

    def tail(self, limit: int = TAIL_QUEUE) -> TailReader:
        """A reader of this session's PDUs from now on, `limit` frames waiting at most
        (smsc/tap.py)."""
        if self._tap is None:
            self._tap = SessionTap(self._protocol.connection)
        return self._tap.add(limit)

    def drain(self) -> None:
        """The node is stopping: whatever arrives from now on is answered ESME_RTHROTTLED (a
        temporary error: the ESME sends it again, to this node once it is back or to another),
        while what was accepted before still gets its answer."""
        self._bucket = _CLOSED

    # ---- DeliveryTarget / Receiver --------------------------------------------------------------

    @property
    def can_receive(self) -> bool:
        return self._protocol.connection.state in (SessionState.BOUND_RX, SessionState.BOUND_TRX)

    @property
    def has_window(self) -> bool:
        return self._protocol.connection.can_send and not self._protocol.is_closed

    def deliver(self, pdu: DeliverSm, on_done: Callable[[int | None], None]) -> bool:
        if not self.has_window:
            return False
        sequence_number = self._protocol.send_request(pdu)
        self._deliveries[sequence_number] = on_done
        return True

    # ---- SessionHandler -------------------------------------------------------------------------

    def on_events(self, events: list[Event]) -> None:
        for event in events:
            if type(event) is SubmitReceived:  # the hot path, before the match
                self._on_submit(event)
                continue
            match event:
                case SubmitReceived():
                    self._on_submit(event)
                case ResponseReceived():
                    self._on_response(event.sequence_number, event.response.command_status)
                case BindRequested():
                    self._bind_task = self._loop.create_task(self._on_bind(event))
                case RequestTimedOut():
                    self._on_response(event.sequence_number, None)
                case SubmitMultiReceived():
                    self._on_submit_multi(event)
                case DataSmReceived():
                    self._on_data_sm(event)
                case QueryReceived():
                    self._spawn(self._on_query(event))
                case CancelReceived():
                    self._spawn(self._on_cancel(event))
                case ReplaceReceived():
                    self._spawn(self._on_replace(event))
                case BroadcastReceived() | QueryBroadcastReceived() | CancelBroadcastReceived():
                    # Cell broadcast needs a cell broadcast centre behind us; we have none.
                    self._refuse(event, _S.ESME_RPROHIBITED)
                case ConnectionTerminated():
                    self._end_reason = _REASONS.get(event.reason, event.reason.value)
                    self._on_terminated()
                case _:
                    pass

    def on_connection_lost(self, exc: Exception | None) -> None:
        if self._end_reason is None:
            if exc is not None:
                self._end_reason = f"error: {exc}"
            elif self._protocol.connection.is_terminated:
                self._end_reason = "error: the peer broke SMPP framing"
            else:
                self._end_reason = "closed by us"
        self._on_terminated()

    # ---- binds ----------------------------------------------------------------------------------

    async def _on_bind(self, event: BindRequested) -> None:
        pdu = event.pdu
        mode = _bind_mode(pdu)
        peer_ip = self._protocol.peer[0] if self._protocol.peer else "0.0.0.0"
        ssl_object = self._protocol.peer_certificate()
        certificate = peer_identity(ssl_object)
        auth = self._services.authenticator
        try:
            ipaddress.ip_address(peer_ip)
        except ValueError:
            peer_ip = "0.0.0.0"
        step = auth.begin_bind(
            pdu.system_id,
            pdu.password,
            mode,
            peer_ip,
            certificate,
            session=self._protocol.session_id,
        )
        decision: BindDecision
        if isinstance(step, PasswordCheck):
            checked = await self._check_password(step)
            if checked is None:
                return  # the peer left: nothing to answer
            decision = checked
        else:
            decision = step
        if decision.delay > 0:
            # A refusal to a failing or crowding source: its answer waits (costing no CPU).
            await asyncio.sleep(decision.delay)
        if self._protocol.is_closed:
            if decision.is_accepted:
                auth.bind_closed(pdu.system_id)
            return
        if not decision.is_accepted:
            # The authenticator logged the refusal: one line per failure.
            self._refuse(event, decision.status)
            return
        if self._services.draining:
            # The node is stopping: an ESME bound now would be unbound at once.
            auth.bind_closed(pdu.system_id)
            log.info("bind refused session=%s: the node is stopping", self._protocol.session_id)
            self._refuse(event, _S.ESME_RBINDFAIL)
            return
        if not await self._take_cluster_slot(pdu.system_id, decision):
            auth.bind_closed(pdu.system_id)
            if not self._protocol.is_closed:
                self._refuse(event, _S.ESME_RBINDFAIL)
            return
        self._bind_counted = True
        self.system_id = pdu.system_id
        self.bind_mode = mode
        self.address_range = getattr(pdu, "address_range", "")
        if decision.account is not None:
            # Each account has its own window; beyond it submits get ESME_RTHROTTLED.
            self._window = decision.account.window
            self._protocol.connection.set_peer_window(decision.account.window)
        self._bucket = self._services.bucket(pdu.system_id)
        self._protocol.respond(event, pdu.response(system_id=self._services.settings.system_id))
        connection = self._protocol.connection
        if connection.state.is_bound:
            # The SMSC role reports no Bound event: answering the bind is what binds.
            self._protocol.mark_bound()
            self._on_bound(mode.value, connection.interface_version)

    async def _take_cluster_slot(self, system_id: str, decision: BindDecision) -> bool:
        # In a cluster max_binds counts the account's sessions on every node: this node's
        # count passed (the authenticator), now the cluster's (a KV slot per bind).
        slots = self._services.cluster_binds
        if slots is None or decision.account is None:
            return True
        if not await slots.acquire(self, system_id, decision.account.max_binds):
            log.info(
                "bind refused session=%s system_id=%s: max_binds %d reached in the cluster",
                self._protocol.session_id,
                system_id,
                decision.account.max_binds,
            )
            return False
        self._cluster_slot = True
        if self._protocol.is_closed:  # the peer left while the slot was taken
            self._release_cluster_slot()
            return False
        return True

    def _release_cluster_slot(self) -> None:
        if self._cluster_slot and self._services.cluster_binds is not None:
            self._cluster_slot = False
            self._services.cluster_binds.release(self)

    async def _check_password(self, step: PasswordCheck) -> BindDecision | None:
        """argon2 for a bind the cache could not decide, on the shared verifier; None when the
        peer left before it ran."""
        auth = self._services.authenticator
        try:
            if step.delay > 0:
                # A source that keeps failing waits here, before argon2 costs anything.
                await asyncio.sleep(step.delay)
            if self._protocol.is_closed:
                auth.abandon(step)
                return None
            password_ok = await self._services.verifier.verify(step.verify, suspect=step.suspect)
        except BaseException:
            auth.abandon(step)
            raise
        return auth.finish_bind(step, password_ok=password_ok)

    def _on_bound(self, mode: str, interface_version: int) -> None:
        self._version = (
            InterfaceVersion(interface_version)
            if interface_version in (0x33, 0x34, 0x50)
            else InterfaceVersion.V34
        )
        self._v50 = self._version >= InterfaceVersion.V50
        self._services.registry.add(self)
        self._registered = True
        # What each message of this session's trail says of where it came in.
        peer = self._protocol.peer
        self._origin = Origin(
            "smpps" if self._protocol.peer_certificate() is not None else "smpp",
            None if peer is None else f"{peer[0]}:{peer[1]}",
            self._protocol.session_id,
        )
        self.bound_at = datetime.now(UTC)
        log.info(
            "bound session=%s system_id=%s mode=%s version=0x%02X peer=%s",
            self._protocol.session_id,
            self.system_id,
            mode,
            interface_version,
            self._protocol.peer,
        )
        if self.can_receive:
            # Receipts and MO that waited for this account go out now.
            self._services.engine.deliveries.wake(self.system_id)

    def _on_terminated(self) -> None:
        if self._registered:
            self._log_end()
        bind_task, self._bind_task = self._bind_task, None
        if bind_task is not None and not bind_task.done():
            # Nobody to answer: stop waiting out a failure delay or a verifier queue.
            bind_task.cancel()
        if self._registered:
            self._services.registry.remove(self)
            self._registered = False
        if self._bind_counted:
            self._services.authenticator.bind_closed(self.system_id)
            self._bind_counted = False
        self._release_cluster_slot()
        deliveries, self._deliveries = self._deliveries, {}
        for on_done in deliveries.values():
            on_done(None)
        if self.system_id:
            # Receipts that were in flight here went back to the queue (on_done(None) above);
            # another session of the account may take them.
            self._services.engine.deliveries.wake(self.system_id)

    def _log_end(self) -> None:
        reason = self._end_reason or "closed"
        if self._services.stopping or (self._services.draining and reason == "unbind"):
            reason = f"server stop ({reason})"
        if self._tap is not None:
            self._tap.end(reason)
            self._tap = None
        mode = "unknown" if self.bind_mode is None else self.bind_mode.value
        log.info(
            "session ended session=%s system_id=%s mode=%s peer=%s reason=%s duration=%.1fs"
            " submitted=%d delivered=%d refused=%d",
            self._protocol.session_id,
            self.system_id,
            mode,
            _address(self._protocol.peer),
            reason,
            self._loop.time() - self._opened_at,
            self.submitted,
            self.delivered,
            self.refused,
        )

    def _refuse(self, to: RequestReceived, status: int) -> None:
        self.refused += 1
        self._services.refusals[status] += 1
        self._protocol.reject(to, status)

    # ---- requests -------------------------------------------------------------------------------

    def _throttled(self, messages: int = 1) -> bool:
        bucket = self._bucket
        return bucket is not None and not bucket.try_take(
            self._loop.time(), messages, allow_debt=True
        )

    def _overload_status(self) -> int:
        if self._services.settings.overload_action == "queue_full":
            return _S.ESME_RMSGQFUL
        return _S.ESME_RTHROTTLED

    def _on_submit(self, event: SubmitReceived) -> None:
        # The hot path: once per submit_sm.
        bucket = self._bucket
        if bucket is not None and not bucket.try_take(self._loop.time()):
            self._refuse(event, _S.ESME_RTHROTTLED)
            return
        # submit_sm_resp carries a message_id only after the store commit: the Acceptor
        # calls back then (or at once with a refusal).
        self._acceptor.submit(self.system_id, event.pdu, _SubmitAnswer(self, event), self._origin)

    def _answer_submit(self, event: SubmitReceived, message_id: str | None, status: int) -> None:
        if status != _S.ESME_ROK or message_id is None:
            if status == _S.ESME_RTHROTTLED:
                # The acceptor is overloaded: the account's overload answer. A full store
                # stays ESME_RMSGQFUL (issue 10 item 29: come back later).
                status = self._overload_status()
            self._refuse(event, status)
            return
        self.submitted += 1
        if self._v50:
            # SMPP 5.0 §4.8.4.7: congestion_state tells the ESME how loaded we are.
            tlvs = EMPTY_TLVS.with_(Tag.CONGESTION_STATE, self._acceptor.load)
            self._protocol.respond(event, _submit_sm_resp(0, message_id, tlvs))
        else:
            self._protocol.respond(event, _submit_sm_resp(0, message_id, EMPTY_TLVS))

    def _on_submit_multi(self, event: SubmitMultiReceived) -> None:
        # The account's cap counts messages: one per destination (issue 10 item 24).
        if self._throttled(self._acceptor.messages_in(self.system_id, event.pdu)):
            self._refuse(event, _S.ESME_RTHROTTLED)
            return

        def answer(message_id: str | None, status: int, failed: tuple[UnsuccessSme, ...]) -> None:
            if status == _S.ESME_ROK and message_id:
                self._protocol.respond(
                    event, SubmitMultiResp(message_id=message_id, unsuccess_sme=failed)
                )
            elif failed:
                # SMPP 3.4 §4.5.2: every destination refused, each with its reason.
                self._protocol.respond(
                    event, SubmitMultiResp(command_status=status, unsuccess_sme=failed)
                )
            else:
                if status == _S.ESME_RTHROTTLED:
                    status = self._overload_status()
                self._refuse(event, status)

        self._acceptor.submit_multi(self.system_id, event.pdu, answer, self._origin)

    def _on_data_sm(self, event: DataSmReceived) -> None:
        if self._throttled():
            self._refuse(event, _S.ESME_RTHROTTLED)
            return

        def answer(message_id: str | None, status: int, tlvs: Tlvs) -> None:
            if status == _S.ESME_ROK and message_id:
                self._protocol.respond(event, DataSmResp(message_id=message_id, tlvs=tlvs))
            elif tlvs:
                # Transaction mode: the failed delivery's network_error_code and reason.
                self._protocol.respond(event, DataSmResp(command_status=status, tlvs=tlvs))
            else:
                if status == _S.ESME_RTHROTTLED:
                    status = self._overload_status()
                self._refuse(event, status)

        self._acceptor.data_sm(self.system_id, event.pdu, answer, self._origin)

    async def _on_query(self, event: QueryReceived) -> None:
        pdu = await self._services.engine.operations.query(self.system_id, event.pdu)
        self._protocol.respond(event, pdu)

    async def _on_cancel(self, event: CancelReceived) -> None:
        status = await self._services.engine.operations.cancel(self.system_id, event.pdu)
        self._protocol.respond(event, CancelSmResp(command_status=status))

    async def _on_replace(self, event: ReplaceReceived) -> None:
        status = await self._services.engine.operations.replace(self.system_id, event.pdu)
        self._protocol.respond(event, ReplaceSmResp(command_status=status))

    def _spawn(self, coro: Coroutine[None, None, None]) -> None:
        task = self._loop.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _on_response(self, sequence_number: int, status: int | None) -> None:
        on_done = self._deliveries.pop(sequence_number, None)
        if on_done is not None:
            if status == _S.ESME_ROK:
                self.delivered += 1
            on_done(status)  # Deliveries sends the next one from there


# SubmitSmResp(command_status=, message_id=, tlvs=), built positionally (smpp/_frozen.py):
# the frozen dataclass __init__ costs three times as much, and this runs once per submit_sm.
_submit_sm_resp: Callable[[int, str, Tlvs], SubmitSmResp] = positional_builder(
    SubmitSmResp, ("command_status", "message_id", "tlvs")
)


class _SubmitAnswer:
    """The Acceptor's callback for one submit_sm (a slotted object: cheaper than a closure on
    the hot path)."""

    __slots__ = ("_event", "_session")

    def __init__(self, session: EsmeSession, event: SubmitReceived) -> None:
        self._session = session
        self._event = event

    def __call__(self, message_id: str | None, status: int) -> None:
        self._session._answer_submit(self._event, message_id, status)


# Why a session ended, as the end-of-session log line says it.
_REASONS: dict[TerminationReason, str] = {
    TerminationReason.UNBOUND: "unbind",
    TerminationReason.PEER_CLOSED: "peer disconnect",
    TerminationReason.INACTIVITY: "timeout: inactivity",
    TerminationReason.SESSION_INIT_TIMEOUT: "timeout: not bound in time",
    TerminationReason.LINK_DEAD: "timeout: requests unanswered",
    TerminationReason.UNBIND_TIMEOUT: "timeout: unbind unanswered",
    TerminationReason.BIND_TIMEOUT: "timeout: bind unanswered",
}


class _Closed(TokenBucket):
    """The bucket of a draining session: no submit gets a token."""

    __slots__ = ()

    def try_take(self, now: float, n: int = 1, *, allow_debt: bool = False) -> bool:
        return False


_CLOSED = _Closed(1.0, 1.0)


def _address(peer: tuple[str, int] | None) -> str:
    if peer is None:
        return "-"
    host, port = peer
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _bind_mode(pdu: RequestReceived | object) -> BindMode:
    if isinstance(pdu, BindTransmitter):
        return BindMode.TRANSMITTER
    if isinstance(pdu, BindReceiver):
        return BindMode.RECEIVER
    return BindMode.TRANSCEIVER
