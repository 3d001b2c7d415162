"""Sessions: login (password, and AIM's 4-way digest), keep-alive, expiry, logout, disconnect.

What this is for: who a request comes from. Login checks the password, or issues a nonce and
checks DB = base64(H(nonce + password)) as AIM's StandardPasswordDigest computes it (MD5, or
SHA-1 for "SHA"); a session is bound to the handset that logged in, lives keepalive + grace
after its last request, and a user has one: a second login ends the first (DI to the other
handset). OnlineStatus changes when a user's first session starts and its last one ends.

What this is not: the session's delivery settings (CP, in imps/service.py) or what waits for it
(imps/outbound.py).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
from collections.abc import Callable

from opensmsc.imps import pts
from opensmsc.imps.codes import Status
from opensmsc.imps.outbound import Outbound
from opensmsc.imps.presence import Presence
from opensmsc.imps.settings import ImpsSettings
from opensmsc.imps.state import ImpsState, SessionRow
from opensmsc.imps.values import COOKIE, MSISDN, USER_ID, Refused, normalise_user_id, strings

__all__ = ["Sessions", "password_digest"]

log = logging.getLogger(__name__)


def password_digest(schema: str, nonce: str, password: str) -> str:
    """AIM StandardPasswordDigest: base64(H(nonce + password)) over ISO-8859-1 (a character
    outside it becomes "?", as Java's String.getBytes does)."""
    algorithm = {"MD5": "md5", "SHA": "sha1", "SHA-1": "sha1"}[schema.upper()]
    data = (nonce + password).encode("latin-1", errors="replace")
    return base64.b64encode(hashlib.new(algorithm, data).digest()).decode("ascii")


class Sessions:
    """Login and session life (module doc)."""

    def __init__(
        self,
        state: ImpsState,
        settings: ImpsSettings,
        outbound: Outbound,
        presence: Presence,
        *,
        token: Callable[[int], str],
    ) -> None:
        self._state = state
        self._settings = settings
        self._out = outbound
        self._presence = presence
        self._token = token

    def session_for(self, msisdn: str, request: pts.Primitive, now: float) -> SessionRow:
        """The live session a request names; it counts as activity. Refused with 604 for a
        missing or unknown SessionID (or one of another handset), 600 for an expired one."""
        session_id = request.session_id
        if session_id is None:
            raise Refused(Status.INVALID_SESSION, "no SessionID")
        session = self._state.session(session_id)
        if session is None or session.msisdn != msisdn:
            raise Refused(Status.INVALID_SESSION)
        if (
            session.ended is None
            and session.last_seen + session.keepalive + (self._settings.keepalive_grace) < now
        ):
            # tick() has not run since it expired: the answer must not depend on when it does
            self.end(session, "expired", now)
            session = self._out.live(session_id)
        if session.ended is not None:
            if session.end_reason == "expired":
                raise Refused(Status.SESSION_EXPIRED)
            raise Refused(Status.INVALID_SESSION)
        self._state.touch_session(session_id, now)
        return session

    def login(self, msisdn: str, request: pts.Primitive, now: float) -> None:
        raw_user = request.text("UI")
        if not raw_user:
            raise Refused(Status.BAD_PARAMETER, "no UserID")
        user_id = normalise_user_id(raw_user)
        cookie = request.text("SC")
        if cookie is not None and not COOKIE.fullmatch(cookie):
            # it must travel in a GSM 7-bit WVCI wake-up and be compared there (cir.py)
            raise Refused(Status.BAD_PARAMETER, "SessionCookie: up to 64 of A-Z a-z 0-9 ._+/=-")
        password = request.text("PW")
        digest = request.text("DB")
        known = self._state.password(user_id)
        if known is None:
            if not (
                self._settings.allow_self_registration
                and password is not None
                and USER_ID.fullmatch(user_id)
                and MSISDN.fullmatch(msisdn)
            ):
                raise Refused(Status.UNKNOWN_USER)
            if self._state.has_user_on(msisdn):
                # one user per handset, as [[imps.users]] has it: else one handset could
                # register user ids without end
                raise Refused(Status.UNKNOWN_USER, "this handset already has a user")
            self._state.put_user(user_id, msisdn, password, now)
            log.info("imps user self-registered user=%s msisdn=%s", user_id, msisdn)
            known = password
        if password is not None:
            if not hmac.compare_digest(password.encode(), known.encode()):
                raise Refused(Status.INVALID_PASSWORD)
        elif digest is not None:
            issued = self._state.take_nonce(msisdn, user_id, now)
            if issued is None:
                self._challenge(msisdn, user_id, request, now)  # no nonce (expired): a new one
                return
            nonce, schema = issued
            if not hmac.compare_digest(
                digest.encode(), password_digest(schema, nonce, known).encode()
            ):
                raise Refused(Status.INVALID_PASSWORD)
        else:
            self._challenge(msisdn, user_id, request, now)
            return
        self._start(msisdn, user_id, request, now)

    def _challenge(self, msisdn: str, user_id: str, request: pts.Primitive, now: float) -> None:
        """The first Login-Response of a 4-way login: 401 with a Nonce and the DigestSchema.
        AIM (ImpsConnection.LoginTransaction) treats 401 with a primitive as "send the second
        Login-Request", and reads the schema from the code DI (PtsCodes.DigestSchema)."""
        offered = [
            s.upper() for name, value in request.params if name == "SH" for s in strings((value,))
        ]
        ours = [s.upper() for s in self._settings.digest_schemas]
        schema = next((s for s in (offered or ours) if s in ours), None)
        if schema is None:
            raise Refused(Status.NO_MATCHING_DIGEST_SCHEME)
        nonce = self._token(16)
        self._state.put_nonce(msisdn, user_id, nonce, schema, now + self._settings.nonce_ttl)
        params = (("ST", "401"), ("NO", nonce), ("DI", schema))
        self._out.send_to(
            msisdn,
            pts.Primitive(
                "RL", request.transaction, params, version=self._out.answer_version(request.version)
            ),
            now,
        )

    def _start(self, msisdn: str, user_id: str, request: pts.Primitive, now: float) -> None:
        old = self._state.live_session_of(user_id)
        if old is not None:
            # One session per user: a second login ends the first. Its handset, if another
            # one, is told (DI); subscribers see no change, the user stays online.
            if old.msisdn != msisdn:
                self.disconnect(old, now)
            self._state.end_session(old.session_id, "replaced", now)
            _log_end(old, "replaced")
        session_id = self._token(12)
        cookie = request.text("SC") or self._token(8)
        version = self._out.answer_version(request.version)
        keepalive = self.keepalive(request.text("TL"))
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
        self._out.send_to(
            msisdn, pts.Primitive("RL", request.transaction, params, version=version), now
        )
        log.info("imps login user=%s msisdn=%s session=%s", user_id, msisdn, session_id)
        session = self._out.live(session_id)
        if old is None:
            self._presence.changed(user_id, (("OS", "T", "T"),), now)
        # What waited while the user was away goes at once: the session pushes until CP says
        # otherwise (AIM's InitialDeliveryMethod is P).
        self._out.flush(session, now)

    def keepalive(self, asked: str | None) -> float:
        """The KeepAliveTime to agree: what the client asked (TL or KA), within ours."""
        ours = self._settings.keepalive
        if asked is None or not asked.isdigit():
            return ours
        return float(min(max(int(asked), 10), int(ours)))

    def end(self, session: SessionRow, reason: str, now: float) -> None:
        """End a live session for `reason` (logout, expired, removed); the user goes offline
        when it was their last."""
        self._state.end_session(session.session_id, reason, now)
        _log_end(session, reason)
        if self._state.live_session_of(session.user_id) is None:
            self._presence.changed(session.user_id, (("OS", "T", "F"),), now)

    def disconnect(self, session: SessionRow, now: float) -> None:
        status = Status.FORCED_LOGOUT
        self._out.push(session, "DI", (("ST", (str(int(status)), status.description)),), now)


def _log_end(session: SessionRow, reason: str) -> None:
    # One line per session's end, whatever ended it, as login has one: an operator follows a
    # user's sessions by grepping session=.
    log.info(
        "imps session ended user=%s msisdn=%s session=%s reason=%s",
        session.user_id,
        session.msisdn,
        session.session_id,
        reason,
    )
