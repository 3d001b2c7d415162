"""Instant messages: SendMessage, NewMessage, MessageDelivered, DeliveryReport, and the bridge
to plain SMS. These primitives have no public PTS codes: ours are NON-STANDARD (imps/codes.py).

What this is for: a message to a user is kept (durably) until the recipient acknowledges it
with MA: pushed at once to a push session, announced by a CIR wake-up to a notify/get one,
pushed at the next login to an offline one. A sender that asked (DR=T) gets a DeliveryReport
on MA, or 542 when the message expires unacknowledged. A message to an MSISDN with no IMPS
session goes out as a plain SMS "<sender>: <text>", and the handset's reply comes back to the
user who wrote to it last.

What this is not: how a primitive travels (imps/outbound.py).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from opensmsc.imps import pts
from opensmsc.imps.codes import Status
from opensmsc.imps.contacts import Contacts
from opensmsc.imps.outbound import Outbound
from opensmsc.imps.settings import ImpsSettings
from opensmsc.imps.state import Channel, ImpsState, PendingMessage, SessionRow
from opensmsc.imps.values import MSISDN, Refused, digits, normalise_user_id, text_items

__all__ = ["Messaging"]

log = logging.getLogger(__name__)


class Messaging:
    """The messaging primitives and the plain SMS bridge (module doc)."""

    def __init__(
        self,
        state: ImpsState,
        settings: ImpsSettings,
        outbound: Outbound,
        contacts: Contacts,
        *,
        token: Callable[[int], str],
    ) -> None:
        self._state = state
        self._settings = settings
        self._out = outbound
        self._contacts = contacts
        self._token = token

    def send(self, session: SessionRow, request: pts.Primitive, now: float) -> None:
        recipients = text_items(request, "UI")
        content = request.text("MC")
        if not recipients or content is None:
            raise Refused(Status.BAD_PARAMETER, "SendMessage needs UI and MC")
        content_type = request.text("CT") or "text/plain"
        report = (request.text("DR") or "F").upper() == "T"
        sender = session.user_id
        users: list[str] = []
        handsets: list[str] = []
        for address in dict.fromkeys(recipients):
            if MSISDN.fullmatch(address):
                on_handset = self._handset_session(address)
                if on_handset is None:
                    handsets.append(address)
                    continue
                recipient = on_handset.user_id
            else:
                recipient = normalise_user_id(address)
                if not self._state.has_user(recipient):
                    raise Refused(Status.UNKNOWN_USER, recipient)
            if self._contacts.blocks(recipient, sender):
                raise Refused(Status.RECIPIENT_BLOCKED_SENDER)
            if self._state.count_messages(recipient) >= self._settings.max_pending_per_user:
                raise Refused(Status.MESSAGE_QUEUE_FULL, recipient)
            users.append(recipient)
        message_id = self._token(9)
        self._check_fits(sender, content, content_type, message_id, now)
        for recipient in dict.fromkeys(users):
            message = PendingMessage(
                message_id, recipient, sender, content, content_type, now, report, None
            )
            self.deliver(message, now)
        for handset in handsets:
            self._state.add_outgoing(handset, Channel.PLAIN, f"{sender}: {content}", now)
            self._state.set_bridge(digits(handset), sender, now)
        self._out.reply(session, request, "MS", (("ST", "200"), ("MI", message_id)), now)

    def _handset_session(self, msisdn: str) -> SessionRow | None:
        """The live session on a handset, whichever way the client spelt its number."""
        number = digits(msisdn)
        for spelling in dict.fromkeys((msisdn, number, "+" + number)):
            session = self._state.live_session_on(spelling)
            if session is not None:
                return session
        return None

    def _check_fits(
        self, sender: str, content: str, content_type: str, message_id: str, now: float
    ) -> None:
        """The NewMessage must fit in 26 PTS segments; SM had less to carry than NM will."""
        params = self._out.new_message_params(message_id, sender, content, content_type, now)
        sample = pts.Primitive("NM", 999, (("SI", "x" * 16), *params), version="12")
        try:
            pts.split(pts.encode(sample))
        except pts.PtsError as exc:
            raise Refused(Status.BAD_PARAMETER, "message content too long") from exc

    def deliver(self, message: PendingMessage, now: float) -> None:
        """Keep a message until its MA; push it now, or wake the client, or wait for a login."""
        self._state.add_message(message)
        session = self._state.live_session_of(message.recipient)
        if session is None:
            return
        if session.push:
            self._out.push_message(session, message, now)
        else:
            self._out.wake(session, now)

    def delivered(self, session: SessionRow, request: pts.Primitive, now: float) -> None:
        message_id = request.text("MI")
        if not message_id:
            raise Refused(Status.BAD_PARAMETER, "no MessageID")
        message = self._state.take_message(message_id, session.user_id)
        if message is None:
            raise Refused(Status.INVALID_MESSAGE_ID)
        self._out.reply(session, request, "ST", (("ST", "200"),), now)
        if message.report and self._state.has_user(message.sender):  # not a bridged handset
            self.report(message, Status.SUCCESSFUL, now)

    def report(self, message: PendingMessage, status: Status, now: float) -> None:
        result: pts.Value = (
            "200" if status == Status.SUCCESSFUL else (str(int(status)), status.description)
        )
        params = (("MI", message.message_id), ("UI", message.recipient), ("ST", result))
        self._out.deliver_to_user(message.sender, "DR", params, now)

    def bridge_reply(self, msisdn: str, text: str, now: float) -> None:
        """A plain SMS from a handset: a NewMessage to the user who last wrote to it."""
        user_id = self._state.bridge(digits(msisdn))
        if user_id is None:
            log.info("imps bridge: no conversation for msisdn=%s", msisdn)
            return
        if self._contacts.blocks(user_id, msisdn):
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
        self.deliver(message, now)

    def expire(self, now: float) -> None:
        """Drop messages unacknowledged for message_ttl; a sender that asked learns it (542)."""
        for message in self._state.take_messages_older_than(now - self._settings.message_ttl):
            if message.report and self._state.has_user(message.sender):  # not a bridged handset
                self.report(message, Status.MESSAGE_EXPIRED, now)
