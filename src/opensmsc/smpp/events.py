"""What a `Connection` reports: one frozen value per thing that happened (STYLE.md §2).

Events are facts for the service above; they never ask the connection anything. A
`RequestReceived` is the one exception that wants an answer: the service gives it later with
`Connection.respond()` or `Connection.reject()`. Everything the spec obliges the connection to
answer by itself (enquire_link_resp, ESME_RINVBNDSTS, generic_nack, throttling) is already queued
when the event that reports it is returned.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import final

from opensmsc.smpp.pdu import (
    AlertNotification,
    BindReceiver,
    BindTransceiver,
    BindTransmitter,
    BroadcastSm,
    CancelBroadcastSm,
    CancelSm,
    DataSm,
    DeliverSm,
    Outbind,
    QueryBroadcastSm,
    QuerySm,
    ReplaceSm,
    Request,
    Response,
    SubmitMulti,
    SubmitSm,
)
from opensmsc.smpp.states import BindMode


class TerminationReason(enum.Enum):
    """Why a session ended (`ConnectionTerminated.reason`)."""

    UNBOUND = "unbound"  # unbind/unbind_resp exchanged, started by either side
    INACTIVITY = "inactivity"  # we unbound because inactivity_timeout passed (SMPP 3.4 §7.2)
    PEER_CLOSED = "peer_closed"  # the TCP connection ended before an unbind handshake
    SESSION_INIT_TIMEOUT = "session_init_timeout"  # not bound within session_init_timeout
    LINK_DEAD = "link_dead"  # max_consecutive_timeouts responses in a row never came
    UNBIND_TIMEOUT = "unbind_timeout"  # our unbind got no unbind_resp within response_timeout
    BIND_TIMEOUT = "bind_timeout"  # our bind got no response within response_timeout


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """Base of every event."""


# --- requests from the peer: answer each with respond() or reject() ------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class RequestReceived(Event):
    """A request the service must answer with `respond()` or `reject()` (its window slot in
    `peer_window` stays taken until then)."""

    sequence_number: int
    pdu: Request


@final
@dataclass(frozen=True, slots=True, kw_only=True)
class BindRequested(RequestReceived):
    """SMSC role: an ESME asks to bind. The service checks credentials and answers; only a
    successful response moves the session to BOUND_* (`Connection.interface_version` already
    holds the version that would be negotiated)."""

    pdu: BindTransmitter | BindReceiver | BindTransceiver


@final
@dataclass(frozen=True, slots=True, kw_only=True)
class SubmitReceived(RequestReceived):
    pdu: SubmitSm


@final
@dataclass(frozen=True, slots=True, kw_only=True)
class SubmitMultiReceived(RequestReceived):
    pdu: SubmitMulti


@final
@dataclass(frozen=True, slots=True, kw_only=True)
class DataSmReceived(RequestReceived):
    pdu: DataSm


@final
@dataclass(frozen=True, slots=True, kw_only=True)
class DeliverReceived(RequestReceived):
    pdu: DeliverSm


@final
@dataclass(frozen=True, slots=True, kw_only=True)
class QueryReceived(RequestReceived):
    pdu: QuerySm


@final
@dataclass(frozen=True, slots=True, kw_only=True)
class ReplaceReceived(RequestReceived):
    pdu: ReplaceSm


@final
@dataclass(frozen=True, slots=True, kw_only=True)
class CancelReceived(RequestReceived):
    pdu: CancelSm


@final
@dataclass(frozen=True, slots=True, kw_only=True)
class BroadcastReceived(RequestReceived):
    pdu: BroadcastSm


@final
@dataclass(frozen=True, slots=True, kw_only=True)
class QueryBroadcastReceived(RequestReceived):
    pdu: QueryBroadcastSm


@final
@dataclass(frozen=True, slots=True, kw_only=True)
class CancelBroadcastReceived(RequestReceived):
    pdu: CancelBroadcastSm


# --- requests that have no response PDU ---------------------------------------------------------


@final
@dataclass(frozen=True, slots=True, kw_only=True)
class OutbindReceived(Event):
    """ESME role: the SMSC connected and sent outbind (SMPP 3.4 §4.1.7). The state is now
    OUTBOUND; check the credentials, then `send_request(BindReceiver(...))` (or BindTransceiver
    with interface_version 0x50, SMPP 5.0 §2.3)."""

    pdu: Outbind


@final
@dataclass(frozen=True, slots=True, kw_only=True)
class AlertReceived(Event):
    """ESME role: alert_notification (SMPP 3.4 §4.12): the MS is reachable again."""

    pdu: AlertNotification


# --- session life ---------------------------------------------------------------------------------


@final
@dataclass(frozen=True, slots=True, kw_only=True)
class Bound(Event):
    """ESME role: the bind was accepted; `interface_version` is the negotiated one."""

    mode: BindMode
    peer_system_id: str
    interface_version: int


@final
@dataclass(frozen=True, slots=True, kw_only=True)
class UnbindRequested(Event):
    """The peer sent unbind. No new requests may be sent; the connection answers unbind_resp by
    itself once our outstanding requests are answered or `drain_timeout` passes."""

    sequence_number: int


@final
@dataclass(frozen=True, slots=True, kw_only=True)
class Unbound(Event):
    """unbind/unbind_resp have been exchanged (state UNBOUND); ConnectionTerminated follows."""


# --- our requests ---------------------------------------------------------------------------------


@final
@dataclass(frozen=True, slots=True, kw_only=True)
class ResponseReceived(Event):
    """The answer to one of our `send_request()` calls (paired by sequence_number); it may be a
    GenericNack. Check `response.command_status`."""

    sequence_number: int
    request: Request
    response: Response


@final
@dataclass(frozen=True, slots=True, kw_only=True)
class RequestTimedOut(Event):
    """No response within `response_timeout`; the window slot is free again. A late response
    for it is reported as a ProtocolViolation."""

    sequence_number: int
    request: Request


# --- for logs and metrics ------------------------------------------------------------------------


@final
@dataclass(frozen=True, slots=True, kw_only=True)
class ProtocolViolation(Event):
    """The peer broke a rule; the connection already answered it with `status` (0 when the
    spec allows no answer, e.g. a response to a request we never sent)."""

    sequence_number: int | None
    command_id: int
    status: int
    detail: str


@final
@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectionTerminated(Event):
    """The session is over: flush `data_to_send()`, then close the transport. Reported once.
    Requests still unanswered at this point will get no answer."""

    reason: TerminationReason
    status: int = 0


__all__ = [
    "AlertReceived",
    "BindRequested",
    "Bound",
    "BroadcastReceived",
    "CancelBroadcastReceived",
    "CancelReceived",
    "ConnectionTerminated",
    "DataSmReceived",
    "DeliverReceived",
    "Event",
    "OutbindReceived",
    "ProtocolViolation",
    "QueryBroadcastReceived",
    "QueryReceived",
    "ReplaceReceived",
    "RequestReceived",
    "RequestTimedOut",
    "ResponseReceived",
    "SubmitMultiReceived",
    "SubmitReceived",
    "TerminationReason",
    "UnbindRequested",
    "Unbound",
]
