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

import base64
import hashlib
import hmac
import logging
import re
import secrets
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Final

from opensmsc.errors import OpensmscError
from opensmsc.imps import cir, pts
from opensmsc.imps.codes import PRESENCE_ATTRIBUTES, SERVICE_TREE, Status
from opensmsc.imps.state import (
    Channel,
    ImpsState,
    ImpsStats,
    Outgoing,
    PendingMessage,
    SessionRow,
    User,
)

__all__ = ["ImpsService", "ImpsSettings", "InvalidUser"]

log = logging.getLogger(__name__)

_VERSIONS: Final = ("11", "12", "13")
_SUPPORTED_FUNCTIONS: Final = ("FF", "PF", "IF")  # fundamental, presence, IM; no groups (GE)
_MSISDN: Final = re.compile(r"\+?[0-9]{3,20}")
_COOKIE: Final = re.compile(r"[A-Za-z0-9._+/=-]{1,64}")
_USER_ID: Final = re.compile(r"[^\s\"(),=&]{1,100}")
_ENDED_KEPT: Final = 86400.0  # an ended session answers 600/604 (not "unknown") this long


@dataclass(frozen=True, slots=True)
class ImpsSettings:
    keepalive: float = 600.0  # KA offered at login; the most a client may ask for (TL, KA)
    keepalive_grace: float = 60.0  # a session idle for keepalive + this ends (subscribers told)
    allow_self_registration: bool = False  # LR with PW from an unknown user id creates it
    digest_schemas: tuple[str, ...] = ("MD5", "SHA")  # AIM StandardPasswordDigest's schemas
    max_pending_per_user: int = 1000  # unacknowledged messages kept per user (then 507)
    message_ttl: float = 7 * 86400.0  # unacknowledged messages are dropped after this (DR 542)
    reassembly_timeout: float = 120.0
    version: str = "12"  # used where the client's own version is unknown
    nonce_ttl: float = 300.0  # a 4-way login's second request must come within this
    cir_retry: float = 300.0  # a WVCI not followed by a PO is sent again after this
    mo_id_retention: float = 7 * 86400.0  # MO ids remembered for exactly-once this long


class InvalidUser(OpensmscError):
    """add_user with an unusable user id or MSISDN; the message says which."""


class _Refused(Exception):
    """A request answered with a CSP status instead of its response primitive."""

    def __init__(self, status: Status, detail: str = "") -> None:
        self.status = status
        self.detail = detail
        super().__init__(f"{int(status)} {detail or status.description}")


def normalise_user_id(raw: str) -> str:
    """CSP user ids are case-insensitive; AIM may prefix them with "wv:"."""
    user_id = raw.strip()
    if user_id[:3].lower() == "wv:":
        user_id = user_id[3:]
    return user_id.lower()


def _digits(msisdn: str) -> str:
    return msisdn.lstrip("+")


def _digest(schema: str, nonce: str, password: str) -> str:
    """AIM StandardPasswordDigest: base64(H(nonce + password)) over ISO-8859-1 (a character
    outside it becomes "?", as Java's String.getBytes does)."""
    algorithm = {"MD5": "md5", "SHA": "sha1", "SHA-1": "sha1"}[schema.upper()]
    data = (nonce + password).encode("latin-1", errors="replace")
    return base64.b64encode(hashlib.new(algorithm, data).digest()).decode("ascii")


def _strings(values: Iterable[pts.Value]) -> list[str]:
    """The leaves of a PTS value list, in order."""
    found: list[str] = []
    for value in values:
        if isinstance(value, str):
            found.append(value)
        else:
            found.extend(_strings(value))
    return found


def _text_items(primitive: pts.Primitive, name: str) -> list[str]:
    """A list parameter whose elements must be plain strings (user ids, list ids)."""
    items = primitive.items(name) if primitive.get(name) is not None else ()
    if not all(isinstance(item, str) for item in items):
        raise _Refused(Status.BAD_PARAMETER, f"{name} must be a list of names")
    return [str(item) for item in items if str(item)]


def _pairs(primitive: pts.Primitive, name: str) -> list[tuple[str, str]]:
    """A list of (name, value) pairs: capability lists, contact list properties, nick lists.
    A bare string stands for ("", string) (a nick list entry with no nickname)."""
    value = primitive.get(name)
    if value is None:
        return []
    items: tuple[pts.Value, ...] = (value,) if _is_pair(value) else primitive.items(name)
    pairs: list[tuple[str, str]] = []
    for item in items:
        if isinstance(item, str):
            pairs.append(("", item))
        elif _is_pair(item):
            pairs.append((str(item[0]), str(item[1])))
        else:
            raise _Refused(Status.BAD_PARAMETER, f"{name}: expected (name,value) pairs")
    return pairs


def _is_pair(value: pts.Value) -> bool:
    return not isinstance(value, str) and len(value) == 2 and all(isinstance(v, str) for v in value)


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
        self._assembler = pts.Assembler(timeout=settings.reassembly_timeout)
        # Segments of groups still incomplete at the last stop were stored: read them back so
        # the group completes when its last segment comes (the earlier MO ids are processed).
        for sender, text, at in state.segments():
            try:
                self._assembler.feed(sender, text, at)
            except pts.PtsError:
                continue

    # ---- the binding's entry points ---------------------------------------------------------

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
                log.info("imps cir: not a HELO msisdn=%s: %s", msisdn, exc.detail)
                return
            session = self._state.session(session_id)
            if session is None or session.ended is not None or session.msisdn != msisdn:
                log.info("imps cir: HELO for no live session of msisdn=%s", msisdn)
                return
            self._state.update_session(session_id, cir=True, cir_sent=None)
            self._state.touch_session(session_id, now)
            if not session.push and self._has_waiting(session):
                self._wake(self._live(session_id), now)

    def on_plain(self, msisdn: str, text: str, *, mo_id: str) -> None:
        """An ordinary SMS to the IMPS short code: a handset's reply in a bridged conversation,
        delivered to the IMPS user who last wrote to that handset."""
        now = self._clock()
        with self._state.transaction():
            if not self._state.mark_processed(mo_id, now):
                return
            user_id = self._state.bridge(_digits(msisdn))
            if user_id is None:
                log.info("imps bridge: no conversation for msisdn=%s", msisdn)
                return
            blocked = set(self._state.blocked(user_id))
            if msisdn in blocked or _digits(msisdn) in blocked:
                return
            if self._state.count_messages(user_id) >= self._settings.max_pending_per_user:
                log.warning("imps bridge: queue full user=%s msisdn=%s", user_id, msisdn)
                return
            message = PendingMessage(
                message_id=self._token(9),
                recipient=user_id,
                sender=msisdn,
                content=text,
                content_type="text/plain",
                created=now,
                report=False,
                pushed_session=None,
            )
            self._deliver_message(message, now)

    def tick(self) -> None:
        """Session expiry, reassembly timeouts, message expiry, CIR wake-ups due, and the
        bounded tables' clean-up. Call it every few seconds."""
        now = self._clock()
        settings = self._settings
        with self._state.transaction():
            for session in self._state.live_sessions_idle_since(now - settings.keepalive_grace):
                log.info(
                    "imps session expired user=%s session=%s", session.user_id, session.session_id
                )
                self._end_session(session, "expired", now)
            for sender, preamble in self._assembler.expire(now):
                self._state.drop_segments(sender, preamble)
                # the request never completed: 408 for its transaction (pts.missing_segments)
                self._error(sender, pts.missing_segments(preamble), now)
            for message in self._state.take_messages_older_than(now - settings.message_ttl):
                if message.report and not _MSISDN.fullmatch(message.sender):
                    self._report(message, Status.MESSAGE_EXPIRED, now)
            for session in self._state.sessions_awaiting_poll(now - settings.cir_retry):
                self._state.update_session(session.session_id, cir_sent=None)
                if self._has_waiting(session):
                    self._wake(self._live(session.session_id), now)
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
        if not _USER_ID.fullmatch(normalised):
            raise InvalidUser(f'user id {user_id!r}: 1 to 100 characters, no spaces or "(),=&')
        if not _MSISDN.fullmatch(msisdn):
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
                self._disconnect(session, now)
                self._end_session(session, "removed", now)
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

    # ---- one PTS segment in -----------------------------------------------------------------

    def _data(self, msisdn: str, payload: bytes, now: float) -> None:
        try:
            text = payload.decode("utf-8")
        except UnicodeDecodeError:
            self._status(msisdn, Status.BAD_REQUEST, "not UTF-8", now)
            return
        try:
            whole = self._assembler.feed(msisdn, text, now)
        except pts.PtsError as exc:
            self._error(msisdn, exc, now)
            return
        if whole is None:
            self._state.add_segment(msisdn, text, now)
            return
        if whole != text:
            self._state.drop_segments(msisdn, whole.split(" ", 1)[0])
        try:
            primitive = pts.parse(whole)
        except pts.PtsError as exc:
            self._error(msisdn, exc, now)
            return
        self._request(msisdn, primitive, now)

    def _request(self, msisdn: str, request: pts.Primitive, now: float) -> None:
        try:
            if request.code == "LR":
                # no savepoint: a refused digest must still use its nonce up (no guessing
                # twice against one nonce)
                self._login(msisdn, request, now)
                return
            # outside the savepoint: an expiry found here stays done when 600 is answered
            session = self._session_for(msisdn, request, now)
            if request.code == "ST":
                return  # the client's answer to our PN, NM, DR or DI: nothing to say back
            with self._state.savepoint():
                self._dispatch(session, request, now)
        except _Refused as refused:
            if request.code != "ST":  # a Status is never answered: no ping-pong of errors
                self._status(
                    msisdn,
                    refused.status,
                    refused.detail,
                    now,
                    transaction=request.transaction,
                    session_id=_session_id(request),
                    version=request.version,
                )
        except pts.PtsError as exc:
            if request.code != "ST":
                self._error(msisdn, exc, now, version=request.version)

    def _session_for(self, msisdn: str, request: pts.Primitive, now: float) -> SessionRow:
        """The live session a request names; it counts as activity. Refused with 604 for a
        missing or unknown SessionID (or one of another handset), 600 for an expired one."""
        session_id = request.session_id
        if session_id is None:
            raise _Refused(Status.INVALID_SESSION, "no SessionID")
        session = self._state.session(session_id)
        if session is None or session.msisdn != msisdn:
            raise _Refused(Status.INVALID_SESSION)
        if (
            session.ended is None
            and session.last_seen + session.keepalive + (self._settings.keepalive_grace) < now
        ):
            # tick() has not run since it expired: the answer must not depend on when it does
            self._end_session(session, "expired", now)
            session = self._live(session_id)
        if session.ended is not None:
            if session.end_reason == "expired":
                raise _Refused(Status.SESSION_EXPIRED)
            raise _Refused(Status.INVALID_SESSION)
        self._state.touch_session(session_id, now)
        return session

    def _dispatch(self, session: SessionRow, request: pts.Primitive, now: float) -> None:
        match request.code:
            case "CP":
                self._capabilities(session, request, now)
            case "SQ":
                self._services(session, request, now)
            case "OR":
                self._reply(session, request, "ST", (("ST", "200"),), now)
                self._end_session(session, "logout", now)
            case "KA":
                keepalive = self._keepalive(request.text("KA") or request.text("TL"))
                self._state.update_session(session.session_id, keepalive=keepalive)
                self._reply(session, request, "AK", (("KA", str(int(keepalive))),), now)
            case "PO":
                self._poll(session, request, now)
            case "GL":
                self._get_lists(session, request, now)
            case "CL":
                self._create_list(session, request, now)
            case "DL":
                self._delete_list(session, request, now)
            case "LM":
                self._manage_list(session, request, now)
            case "GP":
                self._get_presence(session, request, now)
            case "UP":
                self._update_presence(session, request, now)
            case "SB":
                self._subscribe(session, request, now)
            case "BE":
                self._block(session, request, now)
            case "GB":
                blocked = self._state.blocked(session.user_id)
                self._reply(
                    session, request, "BL", (("BL", tuple(blocked)),) if blocked else (), now
                )
            case "SM":
                self._send_message(session, request, now)
            case "MA":
                self._delivered(session, request, now)
            case "CA":
                raise _Refused(Status.NOT_IMPLEMENTED, "attribute lists are not supported")
            case _:
                raise _Refused(Status.BAD_REQUEST, f"{request.code} is not a client request")

    # ---- login, session life ----------------------------------------------------------------

    def _login(self, msisdn: str, request: pts.Primitive, now: float) -> None:
        raw_user = request.text("UI")
        if not raw_user:
            raise _Refused(Status.BAD_PARAMETER, "no UserID")
        user_id = normalise_user_id(raw_user)
        password = request.text("PW")
        digest = request.text("DB")
        known = self._state.password(user_id)
        if known is None:
            if not (
                self._settings.allow_self_registration
                and password is not None
                and _USER_ID.fullmatch(user_id)
                and _MSISDN.fullmatch(msisdn)
            ):
                raise _Refused(Status.UNKNOWN_USER)
            self._state.put_user(user_id, msisdn, password, now)
            log.info("imps user self-registered user=%s msisdn=%s", user_id, msisdn)
            known = password
        if password is not None:
            if not hmac.compare_digest(password.encode(), known.encode()):
                raise _Refused(Status.INVALID_PASSWORD)
        elif digest is not None:
            issued = self._state.take_nonce(msisdn, user_id, now)
            if issued is None:
                self._challenge(msisdn, user_id, request, now)  # no nonce (expired): a new one
                return
            nonce, schema = issued
            if not hmac.compare_digest(digest.encode(), _digest(schema, nonce, known).encode()):
                raise _Refused(Status.INVALID_PASSWORD)
        else:
            self._challenge(msisdn, user_id, request, now)
            return
        self._start_session(msisdn, user_id, request, now)

    def _challenge(self, msisdn: str, user_id: str, request: pts.Primitive, now: float) -> None:
        """The first Login-Response of a 4-way login: 401 with a Nonce and the DigestSchema.
        AIM (ImpsConnection.LoginTransaction) treats 401 with a primitive as "send the second
        Login-Request", and reads the schema from the code DI (PtsCodes.DigestSchema)."""
        offered = [
            s.upper() for name, value in request.params if name == "SH" for s in _strings((value,))
        ]
        ours = [s.upper() for s in self._settings.digest_schemas]
        schema = next((s for s in (offered or ours) if s in ours), None)
        if schema is None:
            raise _Refused(Status.NO_MATCHING_DIGEST_SCHEME)
        nonce = self._token(16)
        self._state.put_nonce(msisdn, user_id, nonce, schema, now + self._settings.nonce_ttl)
        params = (("ST", "401"), ("NO", nonce), ("DI", schema))
        self._send_to(
            msisdn,
            pts.Primitive(
                "RL", request.transaction, params, version=self._answer_version(request.version)
            ),
            now,
        )

    def _start_session(self, msisdn: str, user_id: str, request: pts.Primitive, now: float) -> None:
        old = self._state.live_session_of(user_id)
        if old is not None:
            # One session per user: a second login ends the first. Its handset, if another
            # one, is told (DI); subscribers see no change, the user stays online.
            if old.msisdn != msisdn:
                self._disconnect(old, now)
            self._state.end_session(old.session_id, "replaced", now)
        session_id = self._token(12)
        cookie = request.text("SC") or self._token(8)
        if not _COOKIE.fullmatch(cookie):
            # it must travel in a GSM 7-bit WVCI wake-up and be compared there (cir.py)
            raise _Refused(Status.BAD_PARAMETER, "SessionCookie: up to 64 of A-Z a-z 0-9 ._+/=-")
        version = self._answer_version(request.version)
        keepalive = self._keepalive(request.text("TL"))
        self._state.add_session(
            session_id=session_id,
            user_id=user_id,
            msisdn=msisdn,
            cookie=cookie,
            version=version,
            keepalive=keepalive,
            now=now,
        )
        params = (("ST", "200"), ("SI", session_id), ("KA", str(int(keepalive))), ("CR", "T"))
        self._send_to(
            msisdn, pts.Primitive("RL", request.transaction, params, version=version), now
        )
        log.info("imps login user=%s msisdn=%s session=%s", user_id, msisdn, session_id)
        session = self._live(session_id)
        if old is None:
            self._presence_changed(user_id, (("OS", "T", "T"),), now)
        # What waited while the user was away goes at once: the session pushes until CP says
        # otherwise (AIM's InitialDeliveryMethod is P).
        self._flush(session, now)

    def _keepalive(self, asked: str | None) -> float:
        """The KeepAliveTime to agree: what the client asked (TL or KA), within ours."""
        ours = self._settings.keepalive
        if asked is None or not asked.isdigit():
            return ours
        return float(min(max(int(asked), 10), int(ours)))

    def _end_session(self, session: SessionRow, reason: str, now: float) -> None:
        self._state.end_session(session.session_id, reason, now)
        if self._state.live_session_of(session.user_id) is None:
            self._presence_changed(session.user_id, (("OS", "T", "F"),), now)

    def _disconnect(self, session: SessionRow, now: float) -> None:
        status = Status.FORCED_LOGOUT
        self._push(session, "DI", (("ST", (str(int(status)), status.description)),), now)

    def _live(self, session_id: str) -> SessionRow:
        session = self._state.session(session_id)
        assert session is not None, session_id  # read back inside the transaction that wrote it
        return session

    # ---- capabilities, services, polling ----------------------------------------------------

    def _capabilities(self, session: SessionRow, request: pts.Primitive, now: float) -> None:
        asked: dict[str, list[str]] = {}
        for name, value in _pairs(request, "CA"):
            if not name:
                raise _Refused(Status.BAD_PARAMETER, "CA: expected (capability,value) pairs")
            asked.setdefault(name.upper(), []).append(value.upper())
        push = asked.get("ID", ["P"])[0] != "N"
        agreed = {"ID": "P" if push else "N"}
        # CIR over standalone SMS is the only CIR method over this binding (digest §5.4)
        if {"SS", "SSMS"} & set(asked.get("SC", ())):
            agreed["SC"] = "SS"
        self._state.update_session(session.session_id, capabilities=agreed, push=push)
        self._reply(session, request, "PC", (("AP", tuple(agreed.items())),), now)
        if push:
            self._flush(self._live(session.session_id), now)

    def _services(self, session: SessionRow, request: pts.Primitive, now: float) -> None:
        asked = [s.upper() for s in _strings((request.get("RF") or (),))]
        missing = tuple(
            s for s in asked if s in SERVICE_TREE and s != "WV" and s not in _SUPPORTED_FUNCTIONS
        )
        params: list[tuple[str, pts.Value]] = [("AF", _SUPPORTED_FUNCTIONS)]
        if missing:
            params.append(("NF", missing))
        self._reply(session, request, "QS", params, now)

    def _poll(self, session: SessionRow, request: pts.Primitive, now: float) -> None:
        self._state.update_session(session.session_id, cir_sent=None)
        if not self._flush(self._live(session.session_id), now):
            self._reply(session, request, "ST", (("ST", "200"),), now)

    def _flush(self, session: SessionRow, now: float) -> int:
        """Send a session what waits for its user: unacknowledged messages not sent in this
        session yet, then queued notifications and reports. Returns how many went."""
        messages = self._state.messages_for(session.user_id, not_in_session=session.session_id)
        for message in messages:
            self._push_message(session, message, now)
        queued = self._state.take_queued(session.user_id)
        for item in queued:
            self._push(session, item.code, item.params, now)
        return len(messages) + len(queued)

    def _has_waiting(self, session: SessionRow) -> bool:
        pending = self._state.messages_for(session.user_id, not_in_session=session.session_id)
        return bool(pending) or self._state.count_queued(session.user_id) > 0

    def _wake(self, session: SessionRow, now: float) -> None:
        """A CIR wake-up for a notify/get session that registered CIR, once until it polls."""
        if not session.cir or session.cir_sent is not None:
            return
        version = f"{session.version[0]}.{session.version[1]}"
        self._state.add_outgoing(
            session.msisdn, Channel.CIR, f"WVCI {version} {session.cookie}", now
        )
        self._state.update_session(session.session_id, cir_sent=now)

    # ---- contact lists ----------------------------------------------------------------------

    def _get_lists(self, session: SessionRow, request: pts.Primitive, now: float) -> None:
        lists = self._state.contact_list_ids(session.user_id)
        params: list[tuple[str, pts.Value]] = []
        if lists:
            params.append(("CL", tuple(list_id for list_id, _ in lists)))
        default = next((list_id for list_id, is_default in lists if is_default), None)
        if default is not None:
            params.append(("DL", default))
        self._reply(session, request, "LG", params, now)

    def _list_id(self, request: pts.Primitive) -> str:
        list_id = request.text("CL")
        if not list_id:
            raise _Refused(Status.BAD_PARAMETER, "no ContactList")
        return list_id

    def _create_list(self, session: SessionRow, request: pts.Primitive, now: float) -> None:
        list_id = self._list_id(request)
        user_id = session.user_id
        if self._state.contact_list(user_id, list_id) is not None:
            raise _Refused(Status.CONTACT_LIST_ALREADY_EXISTS)
        first = not self._state.contact_list_ids(user_id)
        self._state.create_contact_list(user_id, list_id)
        for nickname, member in _pairs(request, "UN"):
            self._state.add_contact(user_id, list_id, normalise_user_id(member), nickname)
        self._list_properties(user_id, list_id, request, default_if_unsaid=first)
        self._reply(session, request, "ST", (("ST", "200"),), now)

    def _delete_list(self, session: SessionRow, request: pts.Primitive, now: float) -> None:
        list_id = self._list_id(request)
        if self._state.contact_list(session.user_id, list_id) is None:
            raise _Refused(Status.CONTACT_LIST_DOES_NOT_EXIST)
        self._state.delete_contact_list(session.user_id, list_id)
        self._reply(session, request, "ST", (("ST", "200"),), now)

    def _manage_list(self, session: SessionRow, request: pts.Primitive, now: float) -> None:
        list_id = self._list_id(request)
        user_id = session.user_id
        if self._state.contact_list(user_id, list_id) is None:
            raise _Refused(Status.CONTACT_LIST_DOES_NOT_EXIST)
        for nickname, member in _pairs(request, "AN"):
            self._state.add_contact(user_id, list_id, normalise_user_id(member), nickname)
        for _, member in _pairs(request, "RN"):
            self._state.remove_contact(user_id, list_id, normalise_user_id(member))
        self._list_properties(user_id, list_id, request, default_if_unsaid=False)
        contact_list = self._state.contact_list(user_id, list_id)
        assert contact_list is not None
        params: list[tuple[str, pts.Value]] = []
        if contact_list.members:
            params.append(("UN", contact_list.members))
        properties: list[tuple[str, str]] = []
        if contact_list.display_name is not None:
            properties.append(("DN", contact_list.display_name))
        properties.append(("DE", "T" if contact_list.is_default else "F"))
        params.append(("CP", tuple(properties)))
        self._reply(session, request, "ML", params, now)

    def _list_properties(
        self, user_id: str, list_id: str, request: pts.Primitive, *, default_if_unsaid: bool
    ) -> None:
        display_name: str | None = None
        is_default: bool | None = True if default_if_unsaid else None
        for name, value in _pairs(request, "CP"):
            match name.upper():
                case "DN":
                    display_name = value
                case "DE":
                    is_default = value.upper() == "T"
                case _:
                    raise _Refused(Status.INVALID_CONTACT_LIST_PROPERTY, name)
        self._state.set_contact_list_properties(
            user_id, list_id, display_name=display_name, is_default=is_default
        )

    # ---- presence ---------------------------------------------------------------------------

    def _targets(self, session: SessionRow, request: pts.Primitive) -> list[str]:
        """The users a GP or SB names: UI users, and the members of CL contact lists."""
        targets = [normalise_user_id(u) for u in _text_items(request, "UI")]
        for list_id in _text_items(request, "CL"):
            contact_list = self._state.contact_list(session.user_id, list_id)
            if contact_list is None:
                raise _Refused(Status.CONTACT_LIST_DOES_NOT_EXIST, list_id)
            targets.extend(member for _, member in contact_list.members)
        if not targets:
            raise _Refused(Status.BAD_PARAMETER, "no UserID or ContactList")
        known = list(dict.fromkeys(t for t in targets if self._state.has_user(t)))
        if not known:
            raise _Refused(Status.UNKNOWN_USER)
        return known

    def _presence_entry(self, target: str, asker: str, wanted: set[str]) -> pts.Value:
        """(user id, attributes) for PR; a user that blocked the asker shows no attributes."""
        if self._state.is_blocked(asker, by=target):
            return (target,)
        attributes = self._state.presence(target)
        online = self._state.live_session_of(target) is not None
        attributes["OS"] = ("OS", "T", "T" if online else "F")
        items = tuple(
            item for name, item in sorted(attributes.items()) if not wanted or name in wanted
        )
        return (target, items) if items else (target,)

    def _get_presence(self, session: SessionRow, request: pts.Primitive, now: float) -> None:
        targets = self._targets(session, request)
        wanted = set()
        for item in request.items("PS") if request.get("PS") is not None else ():
            # an attribute name, or (name,(sub-attributes)) as AIM writes ClientInfo
            name = item if isinstance(item, str) else item[0] if item else ""
            if isinstance(name, str):
                wanted.add(name.upper())
        entries = [self._presence_entry(t, session.user_id, wanted) for t in targets]
        value: pts.Value = entries[0] if len(entries) == 1 else tuple(entries)
        self._reply(session, request, "PG", (("PR", value),), now)

    def _update_presence(self, session: SessionRow, request: pts.Primitive, now: float) -> None:
        name = "UV" if request.get("UV") is not None else "PS"
        if request.get(name) is None:
            raise _Refused(Status.BAD_PARAMETER, "no PresenceSubList (UV)")
        items = request.items(name)
        if all(isinstance(item, str) for item in items):
            items = (tuple(items),)  # UV=(UA,AV): one attribute written without its own list
        changed: list[pts.Value] = []
        for item in items:
            if isinstance(item, str) or len(item) not in (2, 3) or not isinstance(item[0], str):
                raise _Refused(Status.INVALID_PRESENCE_ATTRIBUTE, "expected (attribute,value)")
            attribute = item[0].upper()
            if attribute not in PRESENCE_ATTRIBUTES:
                raise _Refused(Status.INVALID_PRESENCE_ATTRIBUTE, attribute)
            if attribute == "OS":
                continue  # OnlineStatus is the server's: it follows the session
            stored: pts.Value = (attribute, *item[1:])
            self._state.set_presence(session.user_id, attribute, stored)
            changed.append(stored)
        self._reply(session, request, "ST", (("ST", "200"),), now)
        if changed:
            self._presence_changed(session.user_id, tuple(changed), now)

    def _subscribe(self, session: SessionRow, request: pts.Primitive, now: float) -> None:
        targets = self._targets(session, request)
        for target in targets:
            self._state.subscribe(session.user_id, target)
        self._reply(session, request, "ST", (("ST", "200"),), now)
        # CSP: a subscription starts with a notification of the current values
        for target in targets:
            entry = self._presence_entry(target, session.user_id, set())
            self._deliver_to_user(session.user_id, "PN", (("PR", entry),), now)

    def _presence_changed(self, user_id: str, items: tuple[pts.Value, ...], now: float) -> None:
        for watcher in self._state.watchers(user_id):
            if watcher == user_id or self._state.is_blocked(watcher, by=user_id):
                continue
            self._deliver_to_user(watcher, "PN", (("PR", (user_id, items)),), now)

    # ---- blocking ---------------------------------------------------------------------------

    def _block(self, session: SessionRow, request: pts.Primitive, now: float) -> None:
        if request.get("AB") is None and request.get("RB") is None:
            raise _Refused(Status.BAD_PARAMETER, "no AB or RB")
        for entity in _text_items(request, "AB"):
            self._state.block(session.user_id, self._entity(entity))
        for entity in _text_items(request, "RB"):
            self._state.unblock(session.user_id, self._entity(entity))
        self._reply(session, request, "ST", (("ST", "200"),), now)

    @staticmethod
    def _entity(raw: str) -> str:
        """A user id, or an MSISDN (kept as digits, so "+4477" and "4477" block alike)."""
        return _digits(raw) if _MSISDN.fullmatch(raw) else normalise_user_id(raw)

    def _blocks(self, recipient: str, sender: str) -> bool:
        return self._state.is_blocked(self._entity(sender), by=recipient)

    # ---- messaging --------------------------------------------------------------------------

    def _send_message(self, session: SessionRow, request: pts.Primitive, now: float) -> None:
        recipients = _text_items(request, "UI")
        content = request.text("MC")
        if not recipients or content is None:
            raise _Refused(Status.BAD_PARAMETER, "SendMessage needs UI and MC")
        content_type = request.text("CT") or "text/plain"
        report = (request.text("DR") or "F").upper() == "T"
        sender = session.user_id
        users: list[str] = []
        handsets: list[str] = []
        for address in dict.fromkeys(recipients):
            if _MSISDN.fullmatch(address):
                on_handset = self._handset_session(address)
                if on_handset is None:
                    handsets.append(address)
                    continue
                recipient = on_handset.user_id
            else:
                recipient = normalise_user_id(address)
                if not self._state.has_user(recipient):
                    raise _Refused(Status.UNKNOWN_USER, recipient)
            if self._blocks(recipient, sender):
                raise _Refused(Status.RECIPIENT_BLOCKED_SENDER)
            if self._state.count_messages(recipient) >= self._settings.max_pending_per_user:
                raise _Refused(Status.MESSAGE_QUEUE_FULL, recipient)
            users.append(recipient)
        message_id = self._token(9)
        self._check_fits(sender, content, content_type, message_id, now)
        for recipient in dict.fromkeys(users):
            message = PendingMessage(
                message_id, recipient, sender, content, content_type, now, report, None
            )
            self._deliver_message(message, now)
        for handset in handsets:
            self._state.add_outgoing(handset, Channel.PLAIN, f"{sender}: {content}", now)
            self._state.set_bridge(_digits(handset), sender, now)
        self._reply(session, request, "MS", (("ST", "200"), ("MI", message_id)), now)

    def _handset_session(self, msisdn: str) -> SessionRow | None:
        """The live session on a handset, whichever way the client spelt its number."""
        digits = _digits(msisdn)
        for spelling in dict.fromkeys((msisdn, digits, "+" + digits)):
            session = self._state.live_session_on(spelling)
            if session is not None:
                return session
        return None

    def _check_fits(
        self, sender: str, content: str, content_type: str, message_id: str, now: float
    ) -> None:
        """The NewMessage must fit in 26 PTS segments; SM had less to carry than NM will."""
        params = self._new_message_params(message_id, sender, content, content_type, now)
        sample = pts.Primitive("NM", 999, (("SI", "x" * 16), *params), version="12")
        try:
            pts.split(pts.encode(sample))
        except pts.PtsError as exc:
            raise _Refused(Status.BAD_PARAMETER, "message content too long") from exc

    @staticmethod
    def _new_message_params(
        message_id: str, sender: str, content: str, content_type: str, created: float
    ) -> tuple[tuple[str, pts.Value], ...]:
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(created))
        return (
            ("MI", message_id),
            ("SU", sender),
            ("MC", content),
            ("CT", content_type),
            ("DT", stamp),
        )

    def _deliver_message(self, message: PendingMessage, now: float) -> None:
        """Keep a message until its MA; push it now, or wake the client, or wait for a login."""
        self._state.add_message(message)
        session = self._state.live_session_of(message.recipient)
        if session is None:
            return
        if session.push:
            self._push_message(session, message, now)
        else:
            self._wake(session, now)

    def _push_message(self, session: SessionRow, message: PendingMessage, now: float) -> None:
        params = self._new_message_params(
            message.message_id,
            message.sender,
            message.content,
            message.content_type,
            message.created,
        )
        self._push(session, "NM", params, now)
        self._state.mark_pushed(message.message_id, message.recipient, session.session_id)

    def _delivered(self, session: SessionRow, request: pts.Primitive, now: float) -> None:
        message_id = request.text("MI")
        if not message_id:
            raise _Refused(Status.BAD_PARAMETER, "no MessageID")
        message = self._state.take_message(message_id, session.user_id)
        if message is None:
            raise _Refused(Status.INVALID_MESSAGE_ID)
        self._reply(session, request, "ST", (("ST", "200"),), now)
        if message.report and not _MSISDN.fullmatch(message.sender):
            self._report(message, Status.SUCCESSFUL, now)

    def _report(self, message: PendingMessage, status: Status, now: float) -> None:
        result: pts.Value = (
            "200" if status == Status.SUCCESSFUL else (str(int(status)), status.description)
        )
        params = (("MI", message.message_id), ("UI", message.recipient), ("ST", result))
        self._deliver_to_user(message.sender, "DR", params, now)

    # ---- sending ----------------------------------------------------------------------------

    def _deliver_to_user(
        self, user_id: str, code: str, params: Sequence[tuple[str, pts.Value]], now: float
    ) -> None:
        """A server-initiated primitive for a user: pushed to a push session, queued (with a
        CIR wake-up) for a notify/get one. Offline, a report waits for the next login; a
        presence notification is dropped (the user asks with GP after logging in)."""
        session = self._state.live_session_of(user_id)
        if session is not None and session.push:
            self._push(session, code, params, now)
        elif session is not None:
            self._queue(user_id, code, params, now)
            self._wake(session, now)
        elif code != "PN":
            self._queue(user_id, code, params, now)

    def _queue(
        self, user_id: str, code: str, params: Sequence[tuple[str, pts.Value]], now: float
    ) -> None:
        # bounded like the messages: a client that never polls loses the oldest notifications
        self._state.queue(user_id, code, params, now)
        self._state.trim_queued(user_id, self._settings.max_pending_per_user)

    def _push(
        self, session: SessionRow, code: str, params: Sequence[tuple[str, pts.Value]], now: float
    ) -> None:
        transaction = self._state.next_transaction(session.session_id)
        primitive = pts.Primitive(
            code, transaction, (("SI", session.session_id), *params), version=session.version
        )
        self._send_to(session.msisdn, primitive, now)

    def _reply(
        self,
        session: SessionRow,
        request: pts.Primitive,
        code: str,
        params: Sequence[tuple[str, pts.Value]],
        now: float,
    ) -> None:
        primitive = pts.Primitive(
            code,
            request.transaction,
            (("SI", session.session_id), *params),
            version=session.version,
        )
        self._send_to(session.msisdn, primitive, now)

    def _send_to(self, msisdn: str, primitive: pts.Primitive, now: float) -> None:
        self._state.add_outgoing(msisdn, Channel.DATA, pts.encode(primitive), now)

    def _status(
        self,
        msisdn: str,
        status: Status,
        detail: str,
        now: float,
        *,
        transaction: int = 0,
        session_id: str | None = None,
        version: str | None = None,
    ) -> None:
        head: tuple[tuple[str, pts.Value], ...] = (("SI", session_id),) if session_id else ()
        result = (str(int(status)), detail or status.description)
        primitive = pts.Primitive(
            "ST", transaction, (*head, ("ST", result)), version=self._answer_version(version)
        )
        self._send_to(msisdn, primitive, now)

    def _error(
        self, msisdn: str, exc: pts.PtsError, now: float, *, version: str | None = None
    ) -> None:
        """Bad PTS: an ST with its status, naming the transaction and session when readable."""
        status = next((s for s in Status if s == exc.status), Status.BAD_REQUEST)
        self._status(
            msisdn,
            status,
            exc.detail,
            now,
            transaction=exc.transaction or 0,
            session_id=exc.session_id,
            version=version,
        )

    def _answer_version(self, version: str | None) -> str:
        return version if version in _VERSIONS else self._settings.version


def _session_id(request: pts.Primitive) -> str | None:
    """The SI to name in an error answer: none when SI itself is what is wrong."""
    value = request.get("SI")
    return value if isinstance(value, str) else None
