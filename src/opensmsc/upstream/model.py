"""The upstream connector's values and pure helpers: results, status, options, back-off.

What this is for: everything about a connector that is data rather than behaviour, so that
routing, the HTTP API and tests can read a connector's answers and status without the asyncio
machinery in `connector.py`. What it is not: I/O, or the settings (settings.py).
`reconnect_delay` takes its randomness in.
"""

from __future__ import annotations

import enum
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from opensmsc.accounts import TokenBucket
from opensmsc.smpp import BindMode, DataSm, DeliverSm, ReceiptInfo, SubmitSm

__all__ = [
    "Connector",
    "ConnectorOptions",
    "ConnectorState",
    "ConnectorStatus",
    "LinkState",
    "MoCallback",
    "ReceiptCallback",
    "SessionStatus",
    "SubmitOutcome",
    "SubmitResult",
    "reconnect_delay",
]

ReceiptCallback = Callable[[str | None, ReceiptInfo], Awaitable[None]]
MoCallback = Callable[[DeliverSm | DataSm], Awaitable[None]]


# -- values -------------------------------------------------------------------------------------


class SubmitOutcome(enum.Enum):
    ACCEPTED = "accepted"  # submit_sm_resp with status 0; message_id is the upstream's
    REJECTED = "rejected"  # a non-zero status other than throttling; see `status`
    TIMED_OUT = "timed_out"  # no response within response_timeout: the upstream may have it
    CONNECTION_LOST = "connection_lost"  # the session ended with it in flight: the same doubt
    NOT_SENT = "not_sent"  # the connector stopped before it went out


@dataclass(frozen=True, slots=True, kw_only=True)
class SubmitResult:
    """How the upstream answered one submit (after any throttling retries)."""

    outcome: SubmitOutcome
    message_id: str | None = None  # as the upstream wrote it; only when ACCEPTED
    status: int = 0  # the upstream's command_status; 0 unless REJECTED
    attempts: int = 0  # submit_sm PDUs sent for it (throttled ones included)
    detail: str = ""

    @property
    def is_accepted(self) -> bool:
        return self.outcome is SubmitOutcome.ACCEPTED


class LinkState(enum.Enum):
    """One session slot of a connector (a pair has two)."""

    IDLE = "idle"
    CONNECTING = "connecting"
    BINDING = "binding"
    BOUND = "bound"
    UNBINDING = "unbinding"
    BACKING_OFF = "backing_off"  # waiting before the next connect; last_error says why
    STOPPED = "stopped"


class ConnectorState(enum.Enum):
    STOPPED = "stopped"
    STARTING = "starting"  # no session bound yet, none failed
    BOUND = "bound"  # every session bound
    DEGRADED = "degraded"  # a pair with one session bound
    RETRYING = "retrying"  # no session bound, backing off after a failure
    STOPPING = "stopping"


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionStatus:
    mode: BindMode
    state: LinkState
    session_id: str | None
    peer_system_id: str | None
    in_flight: int
    connects: int  # connection attempts
    binds: int  # successful binds
    last_error: str | None  # why the last attempt or session failed; None once bound again


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectorStatus:
    name: str
    state: ConnectorState
    sessions: tuple[SessionStatus, ...]
    bound_sessions: int
    in_flight: int  # submit_sm awaiting submit_sm_resp
    queued: int  # submits waiting to go out (retries after throttling included)
    submitted: int  # submit_sm PDUs sent, retries included
    accepted: int
    failed: int  # rejected, timed out, or lost with the connection
    throttled: int  # ESME_RTHROTTLED / ESME_RMSGQFUL answers (each was resubmitted)
    receipts: int
    receipts_matched: int
    receipts_unmatched: int
    receipts_held: int  # waiting now for their submit_sm_resp
    receipts_held_total: int  # ever held (arrived before their submit_sm_resp)
    mo: int
    last_error: str | None
    # Sessions the upstream opened by outbind (binding or bound); not counted in `state`.
    outbind_sessions: tuple[SessionStatus, ...] = ()
    outbind_port: int | None = None  # where the outbind listener listens; None: not listening
    outbinds_refused: int = 0  # outbinds whose system_id or password did not match


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectorOptions:
    """Connector behaviour not in the configuration file (seconds unless named otherwise)."""

    connect_timeout: float = 10.0  # TCP connect plus TLS handshake
    queue_size: int | None = None  # submits waiting for a window slot; None: 2 × window
    throttle_min_delay: float = 0.1  # first pause after ESME_RTHROTTLED; doubles per repeat
    throttle_max_delay: float = 10.0
    drain_timeout: float = 5.0  # on stop: in-flight responses awaited before unbind
    receipt_hold_timeout: float = 10.0  # a receipt ahead of its submit_sm_resp waits this long
    max_held_receipts: int = 1000
    max_message_ids: int = 100_000  # upstream ids remembered for receipt matching
    max_consecutive_timeouts: int | None = 3  # response timeouts in a row that end a session
    outbind_init_timeout: float = 30.0  # outbind listener: from accept until bound, at most
    # Makes a connector's throughput bucket from (name, rate, burst): in a cluster, this
    # node's share of the connector's rate (cluster/limits.py); None: the whole rate here.
    throughput_bucket: Callable[[str, float, float], TokenBucket] | None = None


class Connector(Protocol):
    """The seam routing and dispatch use: anything that can take a submit."""

    @property
    def name(self) -> str: ...

    async def submit(self, pdu: SubmitSm, *, our_id: str | None = None) -> SubmitResult: ...

    def status(self) -> ConnectorStatus: ...


# -- pure helpers -------------------------------------------------------------------------------


def reconnect_delay(failures: int, min_delay: float, max_delay: float, rng: random.Random) -> float:
    """Seconds to wait after `failures` failures in a row (1 or more).

    The ceiling doubles from `min_delay` per failure up to `max_delay`; the delay is drawn
    uniformly from the upper half of it, never below `min_delay`, so that connectors cut off
    together do not come back together.
    """
    ceiling = min(max_delay, min_delay * 2.0 ** min(max(failures - 1, 0), 60))
    return rng.uniform(max(min_delay, ceiling / 2.0), ceiling)
