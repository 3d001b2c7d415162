"""The IMPS service: WV/OMA IMPS CSP 1.2 primitives over SMS, answered from durable state.

What this is for: the binding hands it every SMS to port 3590 (one PTS segment), to port 3716
(a CIR HELO) and every plain SMS to the IMPS short code; it answers by writing SMS to the durable
outbox (imps/state.py), which the binding drains into the SMSC's store. Every `on_*` call commits
all of its effects (state, outbox rows, the MO id) in one SQLite transaction before it returns,
and an MO id seen before is ignored, so an SMSC redelivering after a crash changes nothing twice.

Behaviour follows CSP 1.2 as Android's AIM client speaks it (LoginTransaction in
ImpsConnection.java, ImpsSession.java, PtsPrimitiveParser.java): password and 4-way digest
login, capability and service negotiation, keep-alive, polling, presence, contact lists,
blocking, and instant messages with opensmsc's own NON-STANDARD codes (imps/codes.py, SM MS NM MA
DR BE GB BL). A message to an MSISDN with no IMPS session is bridged to a plain SMS; the
handset's reply comes back as a NewMessage.

What this is not: the PTS wire format (imps/pts.py), the SMS ports and UDH (the binding), or a
clock: wall time comes from the injected `clock`.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable, Sequence
from typing import Final

from opensmsc.errors import OpensmscError
from opensmsc.imps import cir, pts
from opensmsc.imps.codes import SERVICE_TREE, Status
from opensmsc.imps.contacts import Contacts
from opensmsc.imps.messaging import Messaging
from opensmsc.imps.outbound import Outbound
from opensmsc.imps.presence import Presence
from opensmsc.imps.sessions import Sessions
from opensmsc.imps.settings import ImpsSettings
from opensmsc.imps.state import ImpsState, ImpsStats, Outgoing, SessionRow, User
from opensmsc.imps.values import (
    MSISDN,
    USER_ID,
    Refused,
    normalise_user_id,
    pairs,
    session_id_of,
    strings,
)
from opensmsc.logtext import peer_text

__all__ = ["ImpsService", "ImpsSettings", "InvalidUser"]

log = logging.getLogger(__name__)

_SUPPORTED_FUNCTIONS: Final = ("FF", "PF", "IF")  # fundamental, presence, IM; no groups (GE)
_ENDED_KEPT: Final = 86400.0  # an ended session answers 600/604 (not "unknown") this long


class InvalidUser(OpensmscError):
    """add_user with an unusable user id or MSISDN; the message says which."""


class ImpsService:
    """The IMPS service (module doc). Synchronous; called from one thread at a time.

    `on_data`, `on_cir` and `on_plain` never raise for anything a handset sent: bad PTS is
    answered with an ST primitive carrying its CSP status. They raise ImpsStateError when the
    state cannot be written (then nothing of the call was kept and the SMSC should redeliver);
    any other exception is a bug."""

    def __init__(
        self,
        state: ImpsState,
        settings: ImpsSettings,
        *,
        clock: Callable[[], float] = time.time,
        token: Callable[[int], str] = secrets.token_urlsafe,
    ) -> None:
        self._state = state
        self._settings = settings
        self._clock = clock
        self._token = token
        self._out = Outbound(state, settings)
        self._presence = Presence(state, self._out)
        self._contacts = Contacts(state, self._out, settings)
        self._messaging = Messaging(state, settings, self._out, self._contacts, token=token)
        self._sessions = Sessions(state, settings, self._out, self._presence, token=token)
        self._assembler = pts.Assembler(timeout=settings.reassembly_timeout)
        # Segments of groups still incomplete at the last stop were stored: read them back so
        # the group completes when its last segment comes (the earlier MO ids are processed).
        for sender, text, at in state.segments():
            try:
                self._assembler.feed(sender, text, at)
            except pts.PtsError:
                continue

    def on_data(self, msisdn: str, payload: bytes, *, mo_id: str) -> None:
        """One SMS to port 3590: one PTS segment, UTF-8."""
        now = self._clock()
        with self._state.transaction():
            if not self._state.mark_processed(mo_id, now):
                return
            self._data(msisdn, payload, now)

    def on_cir(self, msisdn: str, payload: bytes, *, mo_id: str) -> None:
        """One SMS to port 3716: `HELO <session>` registers the session for CIR wake-ups."""
        now = self._clock()
        with self._state.transaction():
            if not self._state.mark_processed(mo_id, now):
                return
            try:
                session_id = cir.decode_helo(payload)
            except pts.PtsError as exc:
                log.info("imps cir: not a HELO msisdn=%s: %s", msisdn, peer_text(exc.detail))
                return
            session = self._state.session(session_id)
            if session is None or session.ended is not None or session.msisdn != msisdn:
                log.info("imps cir: HELO for no live session of msisdn=%s", msisdn)
                return
            self._state.update_session(session_id, cir=True, cir_sent=None)
            self._state.touch_session(session_id, now)
            if not session.push and self._out.has_waiting(session):
                self._out.wake(self._out.live(session_id), now)

    def on_plain(self, msisdn: str, text: str, *, mo_id: str) -> None:
        """An ordinary SMS to the IMPS short code: a handset's reply in a bridged conversation,
        delivered to the IMPS user who last wrote to that handset."""
        now = self._clock()
        with self._state.transaction():
            if not self._state.mark_processed(mo_id, now):
                return
            self._messaging.bridge_reply(msisdn, text, now)

    def tick(self) -> None:
        """Session expiry, reassembly timeouts, message expiry, CIR wake-ups due, and the
        bounded tables' clean-up. Call it every few seconds."""
        now = self._clock()
        settings = self._settings
        with self._state.transaction():
            for session in self._state.live_sessions_idle_since(now - settings.keepalive_grace):
                self._sessions.end(session, "expired", now)  # logged there
            for sender, preamble in self._assembler.expire(now):
                self._state.drop_segments(sender, preamble)
                # the request never completed: 408 for its transaction (pts.missing_segments)
                self._out.error(sender, pts.missing_segments(preamble), now)
            self._messaging.expire(now)
            for session in self._state.sessions_awaiting_poll(now - settings.cir_retry):
                self._state.update_session(session.session_id, cir_sent=None)
                if self._out.has_waiting(session):
                    self._out.wake(self._out.live(session.session_id), now)
            self._state.forget_processed(now - settings.mo_id_retention)
            self._state.forget_nonces(now)
            self._state.forget_ended_sessions(now - _ENDED_KEPT)
            self._state.forget_queued_older_than(now - settings.message_ttl)
            self._state.forget_segments(now - 2 * settings.reassembly_timeout)

    def outbox(self, limit: int = 256) -> list[Outgoing]:
        """SMS to send, oldest first; they stay until `sent()` names them."""
        return self._state.outbox(limit)

    def sent(self, ids: Sequence[int]) -> None:
        """These outbox rows are in the SMSC's store now."""
        with self._state.transaction():
            self._state.sent(ids)

    def add_user(self, user_id: str, msisdn: str, password: str) -> None:
        """Provision a user (or change its MSISDN and password). Raises InvalidUser."""
        normalised = normalise_user_id(user_id)
        if not USER_ID.fullmatch(normalised):
            raise InvalidUser(
                f'user id {user_id!r}: 1 to 100 characters, no spaces, control characters or "(),=&'
            )
        if not MSISDN.fullmatch(msisdn):
            raise InvalidUser(f"user {normalised}: msisdn {msisdn!r} is not 3 to 20 digits")
        with self._state.transaction():
            self._state.put_user(normalised, msisdn, password, self._clock())

    def remove_user(self, user_id: str) -> bool:
        """Delete a user and everything of it; its live session is disconnected. False if
        there is no such user."""
        normalised = normalise_user_id(user_id)
        now = self._clock()
        with self._state.transaction():
            session = self._state.live_session_of(normalised)
            if session is not None:
                self._sessions.disconnect(session, now)
                self._sessions.end(session, "removed", now)
            return self._state.delete_user(normalised)

    def users(self) -> list[User]:
        return self._state.users()

    def stats(self) -> ImpsStats:
        return ImpsStats(
            sessions=self._state.count_live_sessions(),
            pending_messages=self._state.count_messages(),
            queued=self._state.count_queued(),
            outbox=self._state.count_outbox(),
        )

    def _data(self, msisdn: str, payload: bytes, now: float) -> None:
        try:
            text = payload.decode("utf-8")
        except UnicodeDecodeError:
            self._out.status(msisdn, Status.BAD_REQUEST, "not UTF-8", now)
            return
        try:
            whole = self._assembler.feed(msisdn, text, now)
        except pts.PtsError as exc:
            self._out.error(msisdn, exc, now)
            return
        if whole is None:
            self._state.add_segment(msisdn, text, now)
            return
        if whole != text:
            self._state.drop_segments(msisdn, whole.split(" ", 1)[0])
        try:
            primitive = pts.parse(whole)
        except pts.PtsError as exc:
            self._out.error(msisdn, exc, now)
            return
        self._request(msisdn, primitive, now)

    def _request(self, msisdn: str, request: pts.Primitive, now: float) -> None:
        try:
            if request.code == "LR":
                # no savepoint: a refused digest must still use its nonce up (no guessing
                # twice against one nonce)
                self._sessions.login(msisdn, request, now)
                return
            # outside the savepoint: an expiry found here stays done when 600 is answered
            session = self._sessions.session_for(msisdn, request, now)
            if request.code == "ST":
                return  # the client's answer to our PN, NM, DR or DI: nothing to say back
            with self._state.savepoint():
                self._dispatch(session, request, now)
        except Refused as refused:
            if request.code != "ST":  # a Status is never answered: no ping-pong of errors
                self._out.status(
                    msisdn,
                    refused.status,
                    refused.detail,
                    now,
                    transaction=request.transaction,
                    session_id=session_id_of(request),
                    version=request.version,
                )
        except pts.PtsError as exc:
            if request.code != "ST":
                self._out.error(msisdn, exc, now, version=request.version)

    def _dispatch(self, session: SessionRow, request: pts.Primitive, now: float) -> None:
        match request.code:
            case "CP":
                self._capabilities(session, request, now)
            case "SQ":
                self._services(session, request, now)
            case "OR":
                self._out.reply(session, request, "ST", (("ST", "200"),), now)
                self._sessions.end(session, "logout", now)
            case "KA":
                keepalive = self._sessions.keepalive(request.text("KA") or request.text("TL"))
                self._state.update_session(session.session_id, keepalive=keepalive)
                self._out.reply(session, request, "AK", (("KA", str(int(keepalive))),), now)
            case "PO":
                self._poll(session, request, now)
            case "GL":
                self._contacts.get_lists(session, request, now)
            case "CL":
                self._contacts.create(session, request, now)
            case "DL":
                self._contacts.delete(session, request, now)
            case "LM":
                self._contacts.manage(session, request, now)
            case "GP":
                self._presence.get(session, request, now)
            case "UP":
                self._presence.update(session, request, now)
            case "SB":
                self._presence.subscribe(session, request, now)
            case "BE":
                self._contacts.block(session, request, now)
            case "GB":
                self._contacts.get_blocked(session, request, now)
            case "SM":
                self._messaging.send(session, request, now)
            case "MA":
                self._messaging.delivered(session, request, now)
            case "CA":
                raise Refused(Status.NOT_IMPLEMENTED, "attribute lists are not supported")
            case _:
                raise Refused(Status.BAD_REQUEST, f"{request.code} is not a client request")

    def _capabilities(self, session: SessionRow, request: pts.Primitive, now: float) -> None:
        asked: dict[str, list[str]] = {}
        for name, value in pairs(request, "CA"):
            if not name:
                raise Refused(Status.BAD_PARAMETER, "CA: expected (capability,value) pairs")
            asked.setdefault(name.upper(), []).append(value.upper())
        push = asked.get("ID", ["P"])[0] != "N"
        agreed = {"ID": "P" if push else "N"}
        # CIR over standalone SMS is the only CIR method over this binding (digest §5.4)
        if {"SS", "SSMS"} & set(asked.get("SC", ())):
            agreed["SC"] = "SS"
        self._state.update_session(session.session_id, capabilities=agreed, push=push)
        self._out.reply(session, request, "PC", (("AP", tuple(agreed.items())),), now)
        if push:
            self._out.flush(self._out.live(session.session_id), now)

    def _services(self, session: SessionRow, request: pts.Primitive, now: float) -> None:
        asked = [s.upper() for s in strings((request.get("RF") or (),))]
        missing = tuple(
            s for s in asked if s in SERVICE_TREE and s != "WV" and s not in _SUPPORTED_FUNCTIONS
        )
        params: list[tuple[str, pts.Value]] = [("AF", _SUPPORTED_FUNCTIONS)]
        if missing:
            params.append(("NF", missing))
        self._out.reply(session, request, "QS", params, now)

    def _poll(self, session: SessionRow, request: pts.Primitive, now: float) -> None:
        self._state.update_session(session.session_id, cir_sent=None)
        if not self._out.flush(self._out.live(session.session_id), now):
            self._out.reply(session, request, "ST", (("ST", "200"),), now)
