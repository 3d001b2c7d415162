"""The SMPP session machine, sans-IO, for both roles (STYLE.md §2; digest §1.2, §1.9, §1.10, §2).

What this is for: one `Connection` per TCP connection keeps the session state, the sequence
numbers, both windows and the timers of SMPP 3.4 §7.2, and answers by itself whatever the spec
obliges it to answer. Bytes go in through `receive_data()`, events come out; requests go in
through `send_request()`, answers through `respond()`/`reject()`, bytes come out of
`data_to_send()`. Time is passed in as `now` (monotonic seconds); `next_deadline()` says when to
call `handle_timer()`. The rules are data in states.py, the windows in window.py, the timers
(and their exact semantics) in timers.py.

What it is not: a transport or a policy. It never reads a clock, touches a socket or logs, and
never decides credentials, routes or quotas: an SMSC-role connection reports `BindRequested` and
waits for the service's answer.

Unbind, exactly:
- `unbind(now=)` (ours): new requests are refused at once (InvalidStateError). The unbind PDU
  goes out as soon as none of our requests awaits a response *and* the service has answered
  every request it received, or when `drain_timeout` has passed, whichever comes first. The
  peer's requests that arrive meanwhile are still delivered (they may have crossed ours). Then
  unbind_resp is awaited for `response_timeout`: it moves the session to UNBOUND and reports
  `Unbound`, `ConnectionTerminated(UNBOUND)`; without it, `ConnectionTerminated(UNBIND_TIMEOUT)`.
- unbind received: `UnbindRequested` is reported; no new request may be sent, and further
  requests from the peer get ESME_RINVBNDSTS (it has promised to send none). unbind_resp goes
  out as soon as none of *our* requests awaits a response (each answered or timed out), or when
  `drain_timeout` passes; then `Unbound`, `ConnectionTerminated(UNBOUND)`. The service may still
  answer the peer's earlier requests until that moment; afterwards `respond()` does nothing.
  (The connection cannot wait for those answers: `respond()` returns no events, so it could not
  report the end of the session it would cause.)
- Unbinds that cross on the wire: the one received is answered at once and the session ends.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final, Protocol, cast

from opensmsc.smpp._frozen import positional_builder
from opensmsc.smpp.codec import FrameBuffer, decode_fields, encode
from opensmsc.smpp.constants import CommandId, CommandStatus, InterfaceVersion, Tag
from opensmsc.smpp.errors import (
    FramingError,
    InvalidStateError,
    LocalProtocolError,
    PduError,
    WindowFull,
)
from opensmsc.smpp.events import (
    AlertReceived,
    BindRequested,
    Bound,
    BroadcastReceived,
    CancelBroadcastReceived,
    CancelReceived,
    ConnectionTerminated,
    DataSmReceived,
    DeliverReceived,
    Event,
    OutbindReceived,
    ProtocolViolation,
    QueryBroadcastReceived,
    QueryReceived,
    ReplaceReceived,
    RequestReceived,
    RequestTimedOut,
    ResponseReceived,
    SubmitMultiReceived,
    SubmitReceived,
    TerminationReason,
    UnbindRequested,
    Unbound,
)
from opensmsc.smpp.pdu import (
    PDU_CLASSES,
    AlertNotification,
    BindReceiver,
    BindTransceiver,
    BindTransmitter,
    EnquireLink,
    EnquireLinkResp,
    GenericNack,
    Outbind,
    Pdu,
    Request,
    Response,
    Unbind,
    UnbindResp,
)
from opensmsc.smpp.states import (
    ALLOWED_REQUESTS,
    BIND_COMMANDS,
    NO_RESPONSE,
    NOT_IN_V33,
    TRANSITIONS,
    Role,
    SessionState,
)
from opensmsc.smpp.timers import SessionTimers
from opensmsc.smpp.tlv import EMPTY_TLVS, Tlvs
from opensmsc.smpp.window import MAX_SEQUENCE_NUMBER, PeerWindow, Pending, RequestWindow

_RESP: Final = 0x80000000  # digest §1.1: a response is its request's command_id | bit 31
_V33: Final = InterfaceVersion.V33.value
_V34: Final = InterfaceVersion.V34.value
_V50: Final = InterfaceVersion.V50.value

_C = CommandId
_S = CommandStatus
_NOTHING: Final[frozenset[int]] = frozenset()
_BINDS: Final[frozenset[int]] = frozenset(BIND_COMMANDS)
# One bind at a time, and no outbind crossing a bind: there would be no sane state to be in.
_BIND_OR_OUTBIND: Final[frozenset[int]] = _BINDS | {_C.OUTBIND}
# Requests that need more than window bookkeeping when we send them.
_SPECIAL_SEND: Final[frozenset[int]] = _BINDS | NO_RESPONSE | {_C.UNBIND}
# Responses to these are session business, not only a ResponseReceived.
_SPECIAL_RESPONSE: Final[frozenset[int]] = _BINDS | {_C.ENQUIRE_LINK, _C.UNBIND}

# Events are built positionally (sequence_number, pdu): once per message (_frozen.py).
# Typed loosely (`...`): the fast path hands them the decoded Pdu without a cast() call.
_REQUEST_EVENTS: Final[dict[int, Callable[..., RequestReceived]]] = {
    cid: positional_builder(cls, ("sequence_number", "pdu"))
    for cid, cls in (
        (_C.SUBMIT_SM, SubmitReceived),
        (_C.DELIVER_SM, DeliverReceived),
        (_C.DATA_SM, DataSmReceived),
        (_C.SUBMIT_MULTI, SubmitMultiReceived),
        (_C.QUERY_SM, QueryReceived),
        (_C.REPLACE_SM, ReplaceReceived),
        (_C.CANCEL_SM, CancelReceived),
        (_C.BROADCAST_SM, BroadcastReceived),
        (_C.QUERY_BROADCAST_SM, QueryBroadcastReceived),
        (_C.CANCEL_BROADCAST_SM, CancelBroadcastReceived),
    )
}
_response_received: Final[Callable[..., ResponseReceived]] = positional_builder(
    ResponseReceived, ("sequence_number", "request", "response")
)


def negotiate_version(offered: int, ours: int) -> int:
    """The interface_version a session runs at (digest §1.2, last rule; §2).

    Up to 0x33 is 3.3, 0x34..0x4F is 3.4, 0x50 and above is 5.0; never above `ours`.
    """
    version = _V33 if offered <= _V33 else _V34 if offered < _V50 else _V50
    return min(version, ours)


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionConfig:
    """How one session behaves. Durations are seconds on the caller's clock; None turns a
    timer off (timers.py gives their exact meaning). Built by app/smsc.py from the configuration
    file (STYLE.md §5)."""

    role: Role
    window: int = 10  # our requests awaiting a response, at most (digest §1.9; KAN's default)
    peer_window: int = 10  # the peer's requests awaiting our answer before we throttle
    throttle_status: int = _S.ESME_RTHROTTLED  # or ESME_RMSGQFUL (digest §1.9)
    interface_version: int = _V50  # the highest version we speak; negotiated down per session
    strict: bool = False  # decode strictly (digest §1.3 notes); lenient accepts known quirks
    max_command_length: int = 65_536 + 1024
    session_init_timeout: float | None = 60.0
    enquire_link_interval: float | None = 30.0  # KAN's default
    inactivity_timeout: float | None = None
    response_timeout: float = 30.0
    drain_timeout: float = 10.0  # bound on the unbind drain
    max_consecutive_timeouts: int | None = 3  # response timeouts in a row that mean a dead link

    def __post_init__(self) -> None:
        if self.window < 1 or self.peer_window < 1:
            raise ValueError("window and peer_window must be at least 1")
        if self.interface_version not in (_V33, _V34, _V50):
            raise ValueError(
                f"interface_version must be 0x33, 0x34 or 0x50, not {self.interface_version:#x}"
            )
        if self.response_timeout <= 0 or self.drain_timeout < 0:
            raise ValueError("response_timeout must be positive and drain_timeout not negative")
        if self.max_consecutive_timeouts is not None and self.max_consecutive_timeouts < 1:
            raise ValueError("max_consecutive_timeouts must be at least 1 (or None)")


def _with_tlvs(pdu: Pdu, tlvs: Tlvs) -> Pdu:
    changes: dict[str, object] = {"tlvs": tlvs}
    return dataclasses.replace(pdu, **changes)


def _without_tlvs(pdu: Pdu) -> Pdu:
    # SMPP 3.3 has no TLVs (digest §2): a 3.3 peer would take them for garbage after the body.
    tlvs: Tlvs | None = getattr(pdu, "tlvs", None)
    return _with_tlvs(pdu, EMPTY_TLVS) if tlvs else pdu


class FrameTap(Protocol):
    """Sees the frames of a session as they pass (each one whole PDU, as on the wire). It is
    called on the session's path, so it must only take a copy and return: no decoding, no
    blocking, no raising."""

    def received(self, frames: Sequence[bytes]) -> None: ...

    def sent(self, frames: Sequence[bytes]) -> None: ...


class Connection:
    """One SMPP session, in the ESME or the SMSC role.

    Raises RemoteProtocolError (from `receive_data`) when the peer breaks framing, after queuing
    the generic_nack the spec asks for; LocalProtocolError (InvalidStateError, WindowFull) when
    the caller breaks the session rules. Any other exception is a bug in opensmsc.
    """

    __slots__ = (
        "_binding",
        "_config",
        "_consecutive_timeouts",
        "_drain_deadline",
        "_frames",
        "_local_unbind_sent",
        "_local_unbind_seq",
        "_now",
        "_out",
        "_peer",
        "_peer_may_send",
        "_peer_role",
        "_peer_unbind_seq",
        "_response_timeout",
        "_role",
        "_state",
        "_strict",
        "_strip_tlvs",
        "_terminated",
        "_throttle",
        "_timers",
        "_unbind_reason",
        "_version",
        "_we_may_send",
        "_window",
        "tap",
    )

    def __init__(self, config: SessionConfig, *, now: float) -> None:
        self._config = config
        self._role = config.role
        self._peer_role = config.role.peer
        self._state = SessionState.OPEN
        self._frames = FrameBuffer(config.max_command_length)
        self._strict = config.strict
        self._out: list[bytes] = []
        self._window = RequestWindow(config.window)
        self._peer = PeerWindow(config.peer_window)
        self._response_timeout = config.response_timeout
        self._throttle = config.throttle_status
        self._timers = SessionTimers(
            now=now,
            session_init_timeout=config.session_init_timeout,
            enquire_link_interval=config.enquire_link_interval,
            inactivity_timeout=config.inactivity_timeout,
        )
        self._now = now  # the latest `now` seen, for respond(), which is given none
        self._version = config.interface_version
        self._strip_tlvs = False
        self._binding: int | None = None  # sequence_number of the bind in flight
        self._consecutive_timeouts = 0
        self._local_unbind_seq: int | None = None
        self._local_unbind_sent = False
        self._peer_unbind_seq: int | None = None
        self._unbind_reason = TerminationReason.UNBOUND
        self._drain_deadline: float | None = None
        self._terminated = False
        self._we_may_send: frozenset[int] = _NOTHING
        self._peer_may_send: frozenset[int] = _NOTHING
        # Who sees every frame, both ways (`opensmsc tail`); None, the common case, costs one
        # check per read and per write.
        self.tap: FrameTap | None = None
        self._refresh_allowed()

    # -- cheap reads ------------------------------------------------------------------------------

    @property
    def config(self) -> SessionConfig:
        return self._config

    @property
    def role(self) -> Role:
        return self._role

    @property
    def state(self) -> SessionState:
        return self._state

    @property
    def interface_version(self) -> int:
        """The negotiated version once bound (the SMSC role knows it from the bind request);
        before that, the highest we speak."""
        return self._version

    @property
    def in_flight(self) -> int:
        """Our requests still waiting for a response."""
        return len(self._window)

    @property
    def peer_in_flight(self) -> int:
        """The peer's requests still waiting for our answer (counted against peer_window)."""
        return self._peer.count

    def set_peer_window(self, size: int) -> None:
        """Change how many unanswered peer requests we take before throttling, e.g. to the
        bound account's own window once the bind is accepted. Requests already owed stay."""
        if size < 1:
            raise ValueError("peer_window must be at least 1")
        self._peer.size = size

    @property
    def can_send(self) -> bool:
        """Whether a request now would be taken: bound, not unbinding, a window slot free."""
        return self._window.has_room and self._state.is_bound and bool(self._we_may_send)

    @property
    def is_binding(self) -> bool:
        """A bind is in flight (ESME: sent; SMSC: received and not yet answered)."""
        return self._binding is not None

    @property
    def is_unbinding(self) -> bool:
        """unbind() was called or an unbind was received; the session is draining."""
        return self._local_unbind_seq is not None or self._peer_unbind_seq is not None

    @property
    def is_terminated(self) -> bool:
        """ConnectionTerminated was reported (or RemoteProtocolError raised)."""
        return self._terminated

    # -- bytes in ---------------------------------------------------------------------------------

    def receive_data(self, data: bytes, *, now: float) -> list[Event]:
        """Feed bytes from the peer; b"" means the peer closed the connection.

        Raises RemoteProtocolError (a FramingError) when a command_length is unusable: the
        generic_nack is queued and the state is CLOSED; flush data_to_send() and close.
        """
        events: list[Event] = []
        if self._terminated:
            if not data:
                self._state = SessionState.CLOSED
            return events
        self._now = now
        if not data:
            self._terminate(TerminationReason.PEER_CLOSED, events)
            return events
        try:
            frames = self._frames.feed(data)
        except FramingError as exc:
            # Digest §1.2: generic_nack ESME_RINVCMDLEN, echoing the sequence_number if readable.
            nack = GenericNack(command_status=exc.status)
            self._out.append(encode(nack, exc.sequence_number or 0))
            self._end(events, None, SessionState.CLOSED)
            raise
        if not frames:
            return events
        if self.tap is not None:
            self.tap.received(frames)
        timers = self._timers
        timers.last_rx = now
        strict = self._strict
        peer = self._peer
        owed = peer.owed_map
        window = self._window
        pending = window.pending_map
        append = events.append
        for frame in frames:
            try:
                cid, _, seq, pdu = decode_fields(frame, strict)
            except PduError as exc:
                self._answer_error(
                    exc.sequence_number,
                    exc.command_id,
                    exc.status,
                    events,
                    detail=exc.message or str(exc),
                )
                continue
            if cid & _RESP:
                # The common response: to a plain counted request of ours (not a bind, unbind
                # or enquire_link), while not unbinding. Anything else takes the full path.
                entry = pending.get(seq)
                if (
                    entry is not None
                    and cid == (rcid := entry[1].command_id) | _RESP
                    and rcid not in _SPECIAL_RESPONSE
                    and self._peer_unbind_seq is None
                    and self._local_unbind_seq is None
                ):
                    window.remove(entry)
                    self._consecutive_timeouts = 0
                    timers.last_activity = now
                    append(_response_received(seq, entry[1], pdu))
                    continue
                self._on_response(seq, cid, cast(Response, pdu), now, events)
            else:
                # The common request: one that becomes an event, allowed now, within the
                # peer's window, its sequence_number not already owed. Else the full path.
                build = _REQUEST_EVENTS.get(cid)
                if (
                    build is not None
                    and cid in self._peer_may_send
                    and peer.count < peer.size
                    and seq not in owed
                ):
                    peer.count += 1
                    owed[seq] = cid
                    timers.last_activity = now
                    append(build(seq, pdu))
                    continue
                self._on_request(seq, cid, cast(Request, pdu), now, events)
            if self._terminated:
                break  # the session ended mid-batch (e.g. unbind_resp); the rest is moot
        return events

    def _on_request(
        self, seq: int, cid: int, pdu: Request, now: float, events: list[Event]
    ) -> None:
        if cid not in self._peer_may_send:
            self._refuse(seq, cid, pdu, events)
            return
        if cid == _C.ENQUIRE_LINK:
            # Answered at once, whatever the window (digest §1.9); not traffic for inactivity.
            self._out.append(encode(EnquireLinkResp(), seq))
            return
        self._timers.last_activity = now
        event_cls = _REQUEST_EVENTS.get(cid)
        if event_cls is not None:
            peer = self._peer
            if peer.count >= peer.size:
                # Over capacity: answer rather than stall TCP (STYLE.md §2, digest §1.9).
                self._send(pdu.response(command_status=self._throttle), seq)
                events.append(
                    ProtocolViolation(
                        sequence_number=seq,
                        command_id=cid,
                        status=self._throttle,
                        detail=f"peer_window of {peer.size} exceeded",
                    )
                )
                return
            if not peer.owe(seq, cid):
                self._report_reused(seq, cid, events)
            events.append(event_cls(seq, pdu))
            return
        match pdu:
            case BindTransmitter() | BindReceiver() | BindTransceiver():
                self._on_bind(seq, cid, pdu, events)
            case Unbind():
                self._on_unbind(seq, now, events)
            case Outbind():
                self._set_state(TRANSITIONS[(self._state, cid)])
                events.append(OutbindReceived(pdu=pdu))
            case AlertNotification():
                events.append(AlertReceived(pdu=pdu))
            case _:  # pragma: no cover - every request command_id is handled above
                raise LocalProtocolError(_S.ESME_RSYSERR, f"unhandled request {pdu!r}")

    def _report_reused(self, seq: int, cid: int, events: list[Event]) -> None:
        # The peer reused a sequence_number before we answered it; both get an answer.
        events.append(
            ProtocolViolation(
                sequence_number=seq,
                command_id=cid,
                status=0,
                detail="sequence_number reused while a request with it is unanswered",
            )
        )

    def _refuse(self, seq: int, cid: int, pdu: Request, events: list[Event]) -> None:
        """Answer a request the session rules do not allow now (digest §1.2, rules)."""
        if cid in _BINDS and (self._state.is_bound or self._binding is not None):
            status, detail = _S.ESME_RALYBND, "bind on a bound session"
        elif self._version == _V33 and self._state.is_bound and cid in NOT_IN_V33:
            status, detail = _S.ESME_RINVCMDID, "not an SMPP 3.3 command"
        elif self._peer_unbind_seq is not None:
            status, detail = _S.ESME_RINVBNDSTS, "request after unbind"
        else:
            status = _S.ESME_RINVBNDSTS
            detail = f"not allowed from the {self._peer_role.value} in state {self._state.name}"
        self._answer_error(seq, cid, status, events, detail=detail, pdu=pdu)

    def _answer_error(
        self,
        seq: int,
        cid: int,
        status: int,
        events: list[Event],
        *,
        detail: str,
        pdu: Request | None = None,
    ) -> None:
        # The request's own response when it has one and its command_id is understood;
        # generic_nack otherwise (SMPP 3.4 §4.3.1).
        response: Response = GenericNack(command_status=status)
        if status != _S.ESME_RINVCMDID and not cid & _RESP and cid not in NO_RESPONSE:
            if pdu is not None:
                response = pdu.response(command_status=status)
            else:
                cls = PDU_CLASSES.get(cid | _RESP)
                if cls is not None and issubclass(cls, Response):
                    response = cls(command_status=status)
        self._send(response, seq)
        events.append(
            ProtocolViolation(sequence_number=seq, command_id=cid, status=status, detail=detail)
        )

    def _on_bind(
        self,
        seq: int,
        cid: int,
        pdu: BindTransmitter | BindReceiver | BindTransceiver,
        events: list[Event],
    ) -> None:
        offered = pdu.interface_version
        version = negotiate_version(offered, self._config.interface_version)
        if version == _V33 and cid == _C.BIND_TRANSCEIVER:
            self._answer_error(
                seq, cid, _S.ESME_RINVCMDID, events, detail="bind_transceiver at SMPP 3.3"
            )
            return
        if self._state is SessionState.OUTBOUND and cid == _C.BIND_TRANSCEIVER and offered < _V50:
            # SMPP 5.0 §2.3: bind_transceiver answers an outbind only in 5.0.
            detail = "bind_transceiver after outbind below SMPP 5.0"
            self._answer_error(seq, cid, _S.ESME_RINVBNDSTS, events, detail=detail, pdu=pdu)
            return
        self._version = version  # so the service can read it before it answers
        self._binding = seq
        if not self._peer.owe(seq, cid):
            self._report_reused(seq, cid, events)
        self._refresh_allowed()
        events.append(BindRequested(sequence_number=seq, pdu=pdu))

    def _on_unbind(self, seq: int, now: float, events: list[Event]) -> None:
        events.append(UnbindRequested(sequence_number=seq))
        if self._local_unbind_sent:
            # Crossed unbinds: both sides want out; answer and end (SMPP 3.4 §4.2).
            self._out.append(encode(UnbindResp(), seq))
            self._finish_unbind(events)
            return
        self._local_unbind_seq = None  # ours, not sent yet, is superseded by the peer's
        self._peer_unbind_seq = seq
        deadline = now + self._config.drain_timeout
        if self._drain_deadline is None or deadline < self._drain_deadline:
            self._drain_deadline = deadline
        self._refresh_allowed()
        self._check_drain(now, events)

    def _on_response(
        self, seq: int, cid: int, pdu: Response, now: float, events: list[Event]
    ) -> None:
        window = self._window
        entry = window.get(seq)
        if entry is None:
            detail = "response to no outstanding request (late, or never sent)"
            events.append(
                ProtocolViolation(sequence_number=seq, command_id=cid, status=0, detail=detail)
            )
            return
        request = entry[1]
        rcid = request.command_id
        if cid != rcid | _RESP and cid != _C.GENERIC_NACK:
            detail = f"response does not match the request's command_id 0x{rcid:08X}"
            events.append(
                ProtocolViolation(sequence_number=seq, command_id=cid, status=0, detail=detail)
            )
            return
        window.remove(entry)
        self._consecutive_timeouts = 0
        if rcid in _SPECIAL_RESPONSE:
            self._on_special_response(seq, rcid, request, pdu, events)
            if self._terminated:
                return
        else:
            self._timers.last_activity = now
            events.append(_response_received(seq, request, pdu))
        if self._peer_unbind_seq is not None or self._local_unbind_seq is not None:
            self._check_drain(now, events)

    def _on_special_response(
        self, seq: int, rcid: int, request: Request, pdu: Response, events: list[Event]
    ) -> None:
        if rcid == _C.ENQUIRE_LINK:
            if seq == self._timers.enquire_seq:
                self._timers.enquire_seq = None  # our keep-alive: no event
            else:
                events.append(ResponseReceived(sequence_number=seq, request=request, response=pdu))
            return
        if rcid == _C.UNBIND:
            if seq == self._local_unbind_seq:
                self._finish_unbind(events)
            return
        # A bind response (ESME role): ResponseReceived always, then Bound on success.
        self._binding = None
        self._timers.last_activity = self._now
        events.append(ResponseReceived(sequence_number=seq, request=request, response=pdu))
        if pdu.command_status != 0 or pdu.command_id == _C.GENERIC_NACK:
            self._refresh_allowed()
            return
        bind = cast(BindTransmitter | BindReceiver | BindTransceiver, request)
        offered = bind.interface_version
        # SMPP 3.4 §5.3.2.25: sc_interface_version is the SMSC's version. Without it we keep the
        # version we asked for: many 3.4 SMSCs omit it yet take TLVs, and mistaking them for 3.3
        # would strip message_payload from every submit.
        tlvs: Tlvs = getattr(pdu, "tlvs", EMPTY_TLVS)
        sc_version = tlvs.get(Tag.SC_INTERFACE_VERSION)
        if isinstance(sc_version, int):
            offered = min(offered, sc_version)
        self._version = negotiate_version(offered, self._config.interface_version)
        self._strip_tlvs = self._version == _V33
        self._set_state(TRANSITIONS[(self._state, pdu.command_id)])
        system_id = getattr(pdu, "system_id", "")
        events.append(
            Bound(
                mode=BIND_COMMANDS[rcid],
                peer_system_id=system_id if isinstance(system_id, str) else "",
                interface_version=self._version,
            )
        )

    # -- requests and answers out ----------------------------------------------------------------

    def send_request(self, pdu: Request, *, now: float) -> int:
        """Queue a request; returns its sequence_number. Its answer comes as ResponseReceived
        or RequestTimedOut (outbind and alert_notification have none).

        Raises InvalidStateError when the state does not allow this request (digest §1.2), or
        the session is unbinding or over; WindowFull when `window` requests are outstanding.
        enquire_link and unbind are outside the window; `send_request(Unbind())` is `unbind()`.
        """
        cid = pdu.command_id
        if cid not in self._we_may_send:
            raise InvalidStateError(
                _S.ESME_RINVBNDSTS,
                f"{type(pdu).__name__} may not be sent by the {self._role.value} in state "
                f"{self._state.name}" + (" while unbinding" if self.is_unbinding else ""),
            )
        self._now = now
        window = self._window
        if cid in _SPECIAL_SEND:
            if cid == _C.UNBIND:
                # The same graceful unbind as unbind(): a bare unbind would skip the drain.
                return self._start_unbind(now, TerminationReason.UNBOUND)
            if cid in NO_RESPONSE:
                seq = window.next_sequence_number()
                self._send(pdu, seq)
                self._timers.last_activity = now
                if cid == _C.OUTBIND:
                    self._set_state(TRANSITIONS[(self._state, cid)])
                return seq
            self._check_bind(pdu)
        if cid != _C.ENQUIRE_LINK:
            if not window.has_room:
                raise WindowFull(_S.ESME_RTHROTTLED, f"all {window.size} window slots are taken")
            self._timers.last_activity = now
        seq = window.next_sequence_number()
        # Encoded before it takes a window slot: a PDU that cannot be encoded raises here and
        # leaves no phantom request waiting for a response that will never come.
        frame = encode(_without_tlvs(pdu) if self._strip_tlvs else pdu, seq)
        window.add(seq, pdu, now + self._response_timeout)
        if cid in _BINDS:
            self._binding = seq
            self._refresh_allowed()
        self._out.append(frame)
        return seq

    def _check_bind(self, pdu: Request) -> None:
        if pdu.command_id != _C.BIND_TRANSCEIVER:
            return
        version = cast(BindTransceiver, pdu).interface_version
        if version <= _V33 or self._config.interface_version == _V33:
            raise InvalidStateError(_S.ESME_RINVCMDID, "SMPP 3.3 has no bind_transceiver")
        if self._state is SessionState.OUTBOUND and version < _V50:
            raise InvalidStateError(
                _S.ESME_RINVBNDSTS,
                "bind_transceiver answers an outbind only with interface_version 0x50",
            )

    def respond(self, to: RequestReceived, pdu: Response) -> None:
        """Answer a request the peer sent (`to`), e.g. `to.pdu.response(message_id=mid)`.

        Once the session has ended this does nothing: the answer has nowhere to go. Raises
        LocalProtocolError when `to` was already answered or `pdu` does not answer it.
        """
        seq = to.sequence_number
        peer = self._peer
        cid = peer.owed_map.get(seq)
        if cid is None:
            if self._terminated:
                return
            raise LocalProtocolError(_S.ESME_RSYSERR, f"seq={seq}: no request awaits an answer")
        rid = pdu.command_id
        if rid != cid | _RESP and rid != _C.GENERIC_NACK:
            raise LocalProtocolError(
                _S.ESME_RSYSERR, f"seq={seq}: {type(pdu).__name__} does not answer 0x{cid:08X}"
            )
        peer.settle(seq)
        if seq == self._binding and cid in _BINDS:
            pdu = self._answer_bind(cid, pdu)
        if self._strip_tlvs:
            pdu = cast(Response, _without_tlvs(pdu))
        self._out.append(encode(pdu, seq))  # _send(), inlined: once per message
        if self._local_unbind_seq is not None and not self._local_unbind_sent:
            self._maybe_send_unbind(force=False)

    def reject(self, to: RequestReceived, status: CommandStatus | int) -> None:
        """Answer a request with an error status and an empty body (SMPP 3.4 §4.4.2)."""
        self.respond(to, to.pdu.response(command_status=status))

    def _answer_bind(self, cid: int, pdu: Response) -> Response:
        # SMSC role, answering the bind in progress; only a success changes the state.
        self._binding = None
        ok = pdu.command_status == 0 and pdu.command_id == cid | _RESP
        if self._version == _V33:
            # No TLVs to a 3.3 peer, not even sc_interface_version (digest §2).
            pdu = cast(Response, _without_tlvs(pdu))
        elif ok:
            tlvs: Tlvs = getattr(pdu, "tlvs", EMPTY_TLVS)
            if tlvs.get(Tag.SC_INTERFACE_VERSION) is None:
                # SMPP 3.4 §4.1.2, §5.3.2.25: the SMSC reports its own interface_version.
                tlvs = tlvs.with_(Tag.SC_INTERFACE_VERSION, self._config.interface_version)
                pdu = cast(Response, _with_tlvs(pdu, tlvs))
        if ok:
            self._strip_tlvs = self._version == _V33
            self._set_state(TRANSITIONS[(self._state, cid | _RESP)])
        else:
            self._version = self._config.interface_version
            self._refresh_allowed()
        return pdu

    def unbind(self, *, now: float) -> int:
        """Start a graceful unbind (the drain is in the module docstring); returns the
        sequence_number the unbind PDU gets. Raises InvalidStateError unless bound and not
        already unbinding."""
        if not self._state.is_bound or self.is_unbinding or self._terminated:
            raise InvalidStateError(
                _S.ESME_RINVBNDSTS, f"cannot unbind in state {self._state.name}"
            )
        self._now = now
        return self._start_unbind(now, TerminationReason.UNBOUND)

    def _start_unbind(self, now: float, reason: TerminationReason) -> int:
        seq = self._window.next_sequence_number()  # reserved now, used when the drain ends
        self._local_unbind_seq = seq
        self._local_unbind_sent = False
        self._unbind_reason = reason
        self._drain_deadline = now + self._config.drain_timeout
        self._refresh_allowed()
        self._maybe_send_unbind(force=False)
        return seq

    def _maybe_send_unbind(self, *, force: bool) -> None:
        seq = self._local_unbind_seq
        if seq is None or self._local_unbind_sent:
            return
        if not force and (self._window or self._peer.count):
            return
        unbind = Unbind()
        self._window.add(seq, unbind, self._now + self._response_timeout)
        self._local_unbind_sent = True
        self._drain_deadline = None
        self._send(unbind, seq)

    def _check_drain(self, now: float, events: list[Event]) -> None:
        """Finish whichever unbind is waiting, if its condition holds or its bound passed."""
        expired = self._drain_deadline is not None and now >= self._drain_deadline
        if self._peer_unbind_seq is not None:
            if not self._window or expired:
                self._out.append(encode(UnbindResp(), self._peer_unbind_seq))
                self._finish_unbind(events)
        elif self._local_unbind_seq is not None and not self._local_unbind_sent:
            self._maybe_send_unbind(force=expired)

    def _finish_unbind(self, events: list[Event]) -> None:
        self._set_state(TRANSITIONS[(self._state, _C.UNBIND_RESP)])
        events.append(Unbound())
        # Requests that crossed our unbind on the wire (sent before the peer saw it, read in
        # the batch that ends with its unbind_resp) may still be answered: the answers go out
        # with the last write, before the close.
        self._end(events, self._unbind_reason, SessionState.UNBOUND, keep_owed=True)

    def data_to_send(self) -> bytes:
        """Everything queued for the peer since the last call."""
        out = self._out
        if not out:
            return b""
        if self.tap is not None:
            self.tap.sent(tuple(out))
        data = out[0] if len(out) == 1 else b"".join(out)
        out.clear()
        return data

    # -- timers -----------------------------------------------------------------------------------

    def next_deadline(self) -> float | None:
        """When handle_timer() must next be called (the same clock as `now`), or None."""
        if self._terminated:
            return None
        best = self._window.next_deadline()
        if self.is_unbinding:
            drain = self._drain_deadline
            if drain is not None and (best is None or drain < best):
                best = drain
            return best
        when = self._timers.next_deadline(bound=self._state.is_bound)
        if when is not None and (best is None or when < best):
            best = when
        return best

    def handle_timer(self, *, now: float) -> list[Event]:
        """Run every timer due at `now` (timers.py). Calling it early or twice is harmless."""
        events: list[Event] = []
        if self._terminated:
            return events
        self._now = now
        window = self._window
        while (entry := window.pop_expired(now)) is not None:
            self._on_timeout(entry, events)
            if self._terminated:
                return events
        if self.is_unbinding:
            self._check_drain(now, events)
            return events
        timers = self._timers
        if not self._state.is_bound:
            if timers.session_init_expired(now):
                self._terminate(TerminationReason.SESSION_INIT_TIMEOUT, events)
            return events
        if timers.enquire_link_due(now):
            seq = window.next_sequence_number()
            enquire_link = EnquireLink()
            window.add(seq, enquire_link, now + self._response_timeout)
            timers.enquire_seq = seq
            self._send(enquire_link, seq)
        if timers.inactivity_expired(now):
            self._start_unbind(now, TerminationReason.INACTIVITY)
        return events

    def _on_timeout(self, entry: Pending, events: list[Event]) -> None:
        seq, request, _ = entry
        if seq == self._local_unbind_seq:
            self._terminate(TerminationReason.UNBIND_TIMEOUT, events)
            return
        self._consecutive_timeouts += 1
        if seq == self._timers.enquire_seq:
            self._timers.enquire_seq = None
        else:
            events.append(RequestTimedOut(sequence_number=seq, request=request))
        if request.command_id in _BINDS:
            # Whether the SMSC bound us is now unknowable: a late bind_resp would leave the two
            # sides in different states. Start again on a new connection (as KAN does).
            self._terminate(TerminationReason.BIND_TIMEOUT, events)
            return
        limit = self._config.max_consecutive_timeouts
        if limit is not None and self._consecutive_timeouts >= limit:
            self._terminate(TerminationReason.LINK_DEAD, events)

    # -- plumbing ---------------------------------------------------------------------------------

    def _send(self, pdu: Pdu, seq: int) -> None:
        self._out.append(self._encode(pdu, seq))

    def _encode(self, pdu: Pdu, seq: int) -> bytes:
        if self._strip_tlvs:
            pdu = _without_tlvs(pdu)
        return encode(pdu, seq)

    def _set_state(self, state: SessionState) -> None:
        self._state = state
        self._refresh_allowed()

    def _refresh_allowed(self) -> None:
        """Cache which requests each side may send now, so the per-PDU check is one lookup."""
        state = self._state
        ours = ALLOWED_REQUESTS[(self._role, state)]
        theirs = ALLOWED_REQUESTS[(self._peer_role, state)]
        if self._version == _V33 and state.is_bound:
            ours = ours - NOT_IN_V33
            theirs = theirs - NOT_IN_V33
        if self._binding is not None:
            ours = ours - _BIND_OR_OUTBIND
            theirs = theirs - _BIND_OR_OUTBIND
        if self._local_unbind_seq is not None:
            ours = _NOTHING
        if self._peer_unbind_seq is not None or self._terminated:
            ours = theirs = _NOTHING
        self._we_may_send = ours
        self._peer_may_send = theirs

    def _terminate(self, reason: TerminationReason, events: list[Event]) -> None:
        self._end(events, reason, SessionState.CLOSED)

    def _end(
        self,
        events: list[Event],
        reason: TerminationReason | None,
        state: SessionState,
        *,
        keep_owed: bool = False,
    ) -> None:
        self._state = state
        self._terminated = True
        self._window.clear()
        if not keep_owed:
            self._peer.clear()
        self._drain_deadline = None
        self._refresh_allowed()
        if reason is not None:
            events.append(ConnectionTerminated(reason=reason))


__all__ = [
    "MAX_SEQUENCE_NUMBER",
    "Connection",
    "FrameTap",
    "Role",
    "SessionConfig",
    "negotiate_version",
]
