"""SMPP session states and the rules that govern them, as data (digest §1.2, §2; SMPP 5.0 §2.3).

This module holds tables, not behaviour: which requests each role may send in each state
(`ALLOWED_REQUESTS`) and which PDU moves a session from one state to the next (`TRANSITIONS`).
`connection.Connection` consults both tables on every PDU, in both directions, so that the
tables and the code cannot drift apart; the hypothesis state-machine test walks a session
against them.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from opensmsc.smpp.constants import CommandId


class Role(enum.Enum):
    """Which end of the session we are. Never "client/server": with outbind the SMSC connects."""

    ESME = "esme"
    SMSC = "smsc"

    @property
    def peer(self) -> Role:
        return Role.SMSC if self is Role.ESME else Role.ESME


class SessionState(enum.Enum):
    """The session states of SMPP 5.0 §2.3 (3.4 §2.3 has all but OUTBOUND and UNBOUND).

    Two passing conditions are not states of their own, because the spec has none for them and
    the rules do not change: "a bind is in flight" (still OPEN/OUTBOUND) and "unbind is being
    drained" (still BOUND_*); `Connection.is_binding` and `Connection.is_unbinding` report them.
    """

    OPEN = "open"  # TCP connected, not bound
    OUTBOUND = "outbound"  # outbind sent (SMSC) or received (ESME); a bind_receiver is due
    BOUND_TX = "bound_tx"
    BOUND_RX = "bound_rx"
    BOUND_TRX = "bound_trx"
    UNBOUND = "unbound"  # unbind/unbind_resp exchanged; only closing the TCP connection remains
    CLOSED = "closed"

    @property
    def is_bound(self) -> bool:
        return self in _BOUND


_BOUND: Final = frozenset({SessionState.BOUND_TX, SessionState.BOUND_RX, SessionState.BOUND_TRX})
BOUND_STATES: Final[frozenset[SessionState]] = _BOUND


class BindMode(enum.Enum):
    """The three bind operations (SMPP 3.4 §4.1)."""

    TRANSMITTER = "transmitter"
    RECEIVER = "receiver"
    TRANSCEIVER = "transceiver"


BIND_COMMANDS: Final[Mapping[int, BindMode]] = MappingProxyType(
    {
        CommandId.BIND_TRANSMITTER: BindMode.TRANSMITTER,
        CommandId.BIND_RECEIVER: BindMode.RECEIVER,
        CommandId.BIND_TRANSCEIVER: BindMode.TRANSCEIVER,
    }
)

# Requests that have no response PDU at all (SMPP 3.4 §4.1.7 outbind, §4.12.1 alert_notification):
# they take a sequence number but never a window slot.
NO_RESPONSE: Final[frozenset[int]] = frozenset({CommandId.OUTBIND, CommandId.ALERT_NOTIFICATION})

# Session management requests outside the flow-control window in both directions: digest §1.9
# says each side answers enquire_link even with a full window, and an unbind must get through a
# congested session or it could never end gracefully.
WINDOW_EXEMPT: Final[frozenset[int]] = frozenset({CommandId.ENQUIRE_LINK, CommandId.UNBIND})

# Not in SMPP 3.3 (digest §2, "SMPP 3.3 differences"): a 3.3 session answers these with
# generic_nack ESME_RINVCMDID, as for any command_id the version does not know.
NOT_IN_V33: Final[frozenset[int]] = frozenset(
    {
        CommandId.BIND_TRANSCEIVER,
        CommandId.DATA_SM,
        CommandId.BROADCAST_SM,
        CommandId.QUERY_BROADCAST_SM,
        CommandId.CANCEL_BROADCAST_SM,
    }
)

_C = CommandId
_S = SessionState
# Digest §1.2 table, column "Allowed in state". enquire_link in OPEN and OUTBOUND is a 5.0
# addition (5.0 §2.3); we accept it from every peer, as it costs nothing and keeps 5.0 peers happy.
_ESME_TX: Final = frozenset(
    {
        _C.SUBMIT_SM,
        _C.SUBMIT_MULTI,
        _C.DATA_SM,
        _C.QUERY_SM,
        _C.CANCEL_SM,
        _C.REPLACE_SM,
        _C.BROADCAST_SM,
        _C.QUERY_BROADCAST_SM,
        _C.CANCEL_BROADCAST_SM,
        _C.ENQUIRE_LINK,
        _C.UNBIND,
    }
)
_ESME_RX: Final = frozenset({_C.ENQUIRE_LINK, _C.UNBIND})
_SMSC_TX: Final = frozenset({_C.ENQUIRE_LINK, _C.UNBIND})
_SMSC_RX: Final = frozenset(
    {_C.DELIVER_SM, _C.DATA_SM, _C.ALERT_NOTIFICATION, _C.ENQUIRE_LINK, _C.UNBIND}
)
_NOTHING: Final[frozenset[int]] = frozenset()

ALLOWED_REQUESTS: Final[Mapping[tuple[Role, SessionState], frozenset[int]]] = MappingProxyType(
    {
        # What an ESME may send, by session state.
        (Role.ESME, _S.OPEN): frozenset(
            {_C.BIND_TRANSMITTER, _C.BIND_RECEIVER, _C.BIND_TRANSCEIVER, _C.ENQUIRE_LINK}
        ),
        # After outbind: bind_receiver (3.4 §2.2.1), or bind_transceiver (5.0 §2.3, checked
        # against interface_version 0x50 by the connection).
        (Role.ESME, _S.OUTBOUND): frozenset(
            {_C.BIND_RECEIVER, _C.BIND_TRANSCEIVER, _C.ENQUIRE_LINK}
        ),
        (Role.ESME, _S.BOUND_TX): _ESME_TX,
        (Role.ESME, _S.BOUND_RX): _ESME_RX,
        (Role.ESME, _S.BOUND_TRX): _ESME_TX,
        (Role.ESME, _S.UNBOUND): _NOTHING,
        (Role.ESME, _S.CLOSED): _NOTHING,
        # What an SMSC may send, by session state.
        (Role.SMSC, _S.OPEN): frozenset({_C.OUTBIND, _C.ENQUIRE_LINK}),
        (Role.SMSC, _S.OUTBOUND): frozenset({_C.ENQUIRE_LINK}),
        (Role.SMSC, _S.BOUND_TX): _SMSC_TX,
        (Role.SMSC, _S.BOUND_RX): _SMSC_RX,
        (Role.SMSC, _S.BOUND_TRX): _SMSC_RX,
        (Role.SMSC, _S.UNBOUND): _NOTHING,
        (Role.SMSC, _S.CLOSED): _NOTHING,
    }
)
"""Requests the given role may send in the given state. The receiving side answers anything else
with the request's own response carrying ESME_RINVBNDSTS, except a bind on a bound session, which
gets ESME_RALYBND (digest §1.2 "Rules to enforce")."""

TRANSITIONS: Final[Mapping[tuple[SessionState, int], SessionState]] = MappingProxyType(
    {
        # A bind response with command_status 0, sent (SMSC) or received (ESME). An error
        # response changes nothing: the ESME may try again until session_init expires.
        (_S.OPEN, _C.BIND_TRANSMITTER_RESP): _S.BOUND_TX,
        (_S.OPEN, _C.BIND_RECEIVER_RESP): _S.BOUND_RX,
        (_S.OPEN, _C.BIND_TRANSCEIVER_RESP): _S.BOUND_TRX,
        # Outbind, sent (SMSC) or received (ESME): 3.4 §2.2.1, 5.0 §2.3 "OUTBOUND".
        (_S.OPEN, _C.OUTBIND): _S.OUTBOUND,
        (_S.OUTBOUND, _C.BIND_RECEIVER_RESP): _S.BOUND_RX,
        (_S.OUTBOUND, _C.BIND_TRANSCEIVER_RESP): _S.BOUND_TRX,
        # The unbind_resp, sent or received, ends the session (5.0 §2.3 "UNBOUND").
        (_S.BOUND_TX, _C.UNBIND_RESP): _S.UNBOUND,
        (_S.BOUND_RX, _C.UNBIND_RESP): _S.UNBOUND,
        (_S.BOUND_TRX, _C.UNBIND_RESP): _S.UNBOUND,
    }
)
"""(state, command_id of the PDU that completes the step) → next state. Any state goes to CLOSED
when the connection ends (peer closed, a timer, a framing error); that edge is not listed."""

__all__ = [
    "ALLOWED_REQUESTS",
    "BIND_COMMANDS",
    "BOUND_STATES",
    "NOT_IN_V33",
    "NO_RESPONSE",
    "TRANSITIONS",
    "WINDOW_EXEMPT",
    "BindMode",
    "Role",
    "SessionState",
]
