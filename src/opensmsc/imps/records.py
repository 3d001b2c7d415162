"""The values the IMPS state hands out: outbox rows, users, sessions, contact lists, messages
waiting for an acknowledgement, queued server-initiated primitives. Frozen; read from rows by
imps/state.py, which alone writes them."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from opensmsc.imps.pts import Value

__all__ = [
    "Channel",
    "ContactList",
    "ImpsStats",
    "Outgoing",
    "PendingMessage",
    "Queued",
    "SessionRow",
    "User",
]


class Channel(enum.Enum):
    """How an outgoing SMS travels: the SMS application port, or a plain text SMS."""

    DATA = 3590
    CIR = 3716
    PLAIN = 0


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One row of the durable outbox. DATA: one whole encoded PTS primitive (the binding splits
    it with pts.split); CIR: "WVCI 1.2 <cookie>"; PLAIN: the text of an ordinary SMS."""

    id: int
    msisdn: str
    channel: Channel
    body: str


@dataclass(frozen=True, slots=True)
class User:
    user_id: str
    msisdn: str
    online: bool


@dataclass(frozen=True, slots=True)
class ImpsStats:
    sessions: int  # sessions online
    pending_messages: int  # instant messages not yet acknowledged
    queued: int  # server-initiated primitives waiting (presence notifications, reports)
    outbox: int  # SMS not yet handed to the SMSC


@dataclass(frozen=True, slots=True)
class SessionRow:
    session_id: str
    user_id: str
    msisdn: str
    cookie: str
    version: str
    keepalive: float
    last_seen: float
    capabilities: dict[str, str]
    push: bool
    cir: bool
    cir_sent: float | None
    ended: float | None
    end_reason: str | None


@dataclass(frozen=True, slots=True)
class ContactList:
    list_id: str
    display_name: str | None
    is_default: bool
    members: tuple[tuple[str, str], ...]  # (nickname, user id), nickname "" when none


@dataclass(frozen=True, slots=True)
class PendingMessage:
    message_id: str
    recipient: str
    sender: str
    content: str
    content_type: str
    created: float
    report: bool
    pushed_session: str | None


@dataclass(frozen=True, slots=True)
class Queued:
    seq: int
    code: str
    params: tuple[tuple[str, Value], ...]
