"""What the IMPS service sends: answers, server-initiated primitives, CIR wake-ups.

What this is for: every SMS the service writes goes through `Outbound`: an answer to a request
(same transaction, the session's SI), a server-initiated primitive (the session's next server
transaction id), a Status for a refused or unreadable request, and the choice between pushing a
primitive now, queueing it with a CIR wake-up (notify/get), or keeping it for the next login.
All of it lands in the durable outbox (imps/state.py) inside the caller's transaction.

What this is not: deciding what to answer (the handlers), or SMS ports and UDH (the binding).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

from opensmsc.imps import pts
from opensmsc.imps.codes import Status
from opensmsc.imps.settings import ImpsSettings
from opensmsc.imps.state import Channel, ImpsState, PendingMessage, SessionRow
from opensmsc.imps.values import Refused
from opensmsc.logtext import peer_text

__all__ = ["VERSIONS", "Outbound"]

log = logging.getLogger(__name__)

VERSIONS = ("11", "12", "13")  # what we answer in; "XX" (version discovery) gets ours


class Outbound:
    """Writes the service's SMS to the outbox (module doc)."""

    def __init__(self, state: ImpsState, settings: ImpsSettings) -> None:
        self._state = state
        self._settings = settings

    def flush(self, session: SessionRow, now: float) -> int:
        """Send a session what waits for its user: unacknowledged messages not sent in this
        session yet, then queued notifications and reports. Returns how many went."""
        messages = self._state.messages_for(session.user_id, not_in_session=session.session_id)
        for message in messages:
            self.push_message(session, message, now)
        queued = self._state.take_queued(session.user_id)
        for item in queued:
            self.push(session, item.code, item.params, now)
        return len(messages) + len(queued)

    def has_waiting(self, session: SessionRow) -> bool:
        pending = self._state.messages_for(session.user_id, not_in_session=session.session_id)
        return bool(pending) or self._state.count_queued(session.user_id) > 0

    def wake(self, session: SessionRow, now: float) -> None:
        """A CIR wake-up for a notify/get session that registered CIR, once until it polls."""
        if not session.cir or session.cir_sent is not None:
            return
        version = f"{session.version[0]}.{session.version[1]}"
        self._state.add_outgoing(
            session.msisdn, Channel.CIR, f"WVCI {version} {session.cookie}", now
        )
        self._state.update_session(session.session_id, cir_sent=now)

    def push_message(self, session: SessionRow, message: PendingMessage, now: float) -> None:
        params = self.new_message_params(
            message.message_id,
            message.sender,
            message.content,
            message.content_type,
            message.created,
        )
        self.push(session, "NM", params, now)
        self._state.mark_pushed(message.message_id, message.recipient, session.session_id)

    @staticmethod
    def new_message_params(
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

    def deliver_to_user(
        self, user_id: str, code: str, params: Sequence[tuple[str, pts.Value]], now: float
    ) -> None:
        """A server-initiated primitive for a user: pushed to a push session, queued (with a
        CIR wake-up) for a notify/get one. Offline, a report waits for the next login; a
        presence notification is dropped (the user asks with GP after logging in)."""
        session = self._state.live_session_of(user_id)
        if session is not None and session.push:
            self.push(session, code, params, now)
        elif session is not None:
            self._queue(user_id, code, params, now)
            self.wake(session, now)
        elif code != "PN":
            self._queue(user_id, code, params, now)

    def _queue(
        self, user_id: str, code: str, params: Sequence[tuple[str, pts.Value]], now: float
    ) -> None:
        # bounded like the messages: a client that never polls loses the oldest notifications
        self._state.queue(user_id, code, params, now)
        self._state.trim_queued(user_id, self._settings.max_pending_per_user)

    def push(
        self, session: SessionRow, code: str, params: Sequence[tuple[str, pts.Value]], now: float
    ) -> None:
        transaction = self._state.next_transaction(session.session_id)
        primitive = pts.Primitive(
            code, transaction, (("SI", session.session_id), *params), version=session.version
        )
        self.send_to(session.msisdn, primitive, now)

    def reply(
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
        text = pts.encode(primitive)
        try:
            pts.split(text)
        except pts.PtsError as exc:
            # More than 26 SMS: the binding could never send it and the client would wait in
            # vain. Refused, the request's changes are rolled back (service.py's savepoint).
            raise Refused(Status.RESPONSE_TOO_LARGE, f"{code} needs more than 26 SMS") from exc
        self._state.add_outgoing(session.msisdn, Channel.DATA, text, now)

    def send_to(self, msisdn: str, primitive: pts.Primitive, now: float) -> None:
        self._state.add_outgoing(msisdn, Channel.DATA, pts.encode(primitive), now)

    def status(
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
        # Every refused or unreadable request passes here: one line an operator can match to
        # the handset's complaint (the detail quotes what the handset sent: escaped).
        log.info(
            "imps request refused msisdn=%s transaction=%d status=%d: %s",
            peer_text(msisdn),
            transaction,
            int(status),
            peer_text(result[1]),
        )
        primitive = pts.Primitive(
            "ST", transaction, (*head, ("ST", result)), version=self.answer_version(version)
        )
        self.send_to(msisdn, primitive, now)

    def error(
        self, msisdn: str, exc: pts.PtsError, now: float, *, version: str | None = None
    ) -> None:
        """Bad PTS: an ST with its status, naming the transaction and session when readable."""
        status = next((s for s in Status if s == exc.status), Status.BAD_REQUEST)
        self.status(
            msisdn,
            status,
            exc.detail,
            now,
            transaction=exc.transaction or 0,
            session_id=exc.session_id,
            version=version,
        )

    def answer_version(self, version: str | None) -> str:
        return version if version in VERSIONS else self._settings.version

    def live(self, session_id: str) -> SessionRow:
        session = self._state.session(session_id)
        assert session is not None, session_id  # read back inside the transaction that wrote it
        return session
