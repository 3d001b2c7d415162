"""Presence: UpdatePresence, GetPresence, SubscribePresence and the notifications they cause.

What this is for: a user's presence attributes (UserAvailability, StatusText, ClientInfo...) as
the client wrote them in UV, OnlineStatus kept by the server from the session's life, the PR
shapes AIM's PtsPrimitiveParser reads (`(user,(attributes))`, `((u1,...),(u2,...))`), and
PresenceNotification to every watcher when something changes. A user who blocked the asker
shows no attributes and sends it no notifications.

What this is not: sessions (imps/sessions.py), how a notification travels (imps/outbound.py).
"""

from __future__ import annotations

from opensmsc.imps import pts
from opensmsc.imps.codes import PRESENCE_ATTRIBUTES, Status
from opensmsc.imps.outbound import Outbound
from opensmsc.imps.state import ImpsState, SessionRow
from opensmsc.imps.values import Refused, normalise_user_id, text_items

__all__ = ["Presence"]


class Presence:
    """The presence primitives (module doc)."""

    def __init__(self, state: ImpsState, outbound: Outbound) -> None:
        self._state = state
        self._out = outbound

    def _targets(self, session: SessionRow, request: pts.Primitive) -> list[str]:
        """The users a GP or SB names: UI users, and the members of CL contact lists."""
        targets = [normalise_user_id(u) for u in text_items(request, "UI")]
        for list_id in text_items(request, "CL"):
            contact_list = self._state.contact_list(session.user_id, list_id)
            if contact_list is None:
                raise Refused(Status.CONTACT_LIST_DOES_NOT_EXIST, list_id)
            targets.extend(member for _, member in contact_list.members)
        if not targets:
            raise Refused(Status.BAD_PARAMETER, "no UserID or ContactList")
        known = list(dict.fromkeys(t for t in targets if self._state.has_user(t)))
        if not known:
            raise Refused(Status.UNKNOWN_USER)
        return known

    def entry(self, target: str, asker: str, wanted: set[str]) -> pts.Value:
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

    def get(self, session: SessionRow, request: pts.Primitive, now: float) -> None:
        targets = self._targets(session, request)
        wanted = set()
        for item in request.items("PS") if request.get("PS") is not None else ():
            # an attribute name, or (name,(sub-attributes)) as AIM writes ClientInfo
            name = item if isinstance(item, str) else item[0] if item else ""
            if isinstance(name, str):
                wanted.add(name.upper())
        entries = [self.entry(t, session.user_id, wanted) for t in targets]
        value: pts.Value = entries[0] if len(entries) == 1 else tuple(entries)
        self._out.reply(session, request, "PG", (("PR", value),), now)

    def update(self, session: SessionRow, request: pts.Primitive, now: float) -> None:
        name = "UV" if request.get("UV") is not None else "PS"
        if request.get(name) is None:
            raise Refused(Status.BAD_PARAMETER, "no PresenceSubList (UV)")
        items = request.items(name)
        if all(isinstance(item, str) for item in items):
            items = (tuple(items),)  # UV=(UA,AV): one attribute written without its own list
        changed: list[pts.Value] = []
        for item in items:
            if isinstance(item, str) or len(item) not in (2, 3) or not isinstance(item[0], str):
                raise Refused(Status.INVALID_PRESENCE_ATTRIBUTE, "expected (attribute,value)")
            attribute = item[0].upper()
            if attribute not in PRESENCE_ATTRIBUTES:
                raise Refused(Status.INVALID_PRESENCE_ATTRIBUTE, attribute)
            if attribute == "OS":
                continue  # OnlineStatus is the server's: it follows the session
            stored: pts.Value = (attribute, *item[1:])
            self._state.set_presence(session.user_id, attribute, stored)
            changed.append(stored)
        self._out.reply(session, request, "ST", (("ST", "200"),), now)
        if changed:
            self.changed(session.user_id, tuple(changed), now)

    def subscribe(self, session: SessionRow, request: pts.Primitive, now: float) -> None:
        targets = self._targets(session, request)
        for target in targets:
            self._state.subscribe(session.user_id, target)
        self._out.reply(session, request, "ST", (("ST", "200"),), now)
        # CSP: a subscription starts with a notification of the current values
        for target in targets:
            entry = self.entry(target, session.user_id, set())
            self._out.deliver_to_user(session.user_id, "PN", (("PR", entry),), now)

    def changed(self, user_id: str, items: tuple[pts.Value, ...], now: float) -> None:
        for watcher in self._state.watchers(user_id):
            if watcher == user_id or self._state.is_blocked(watcher, by=user_id):
                continue
            self._out.deliver_to_user(watcher, "PN", (("PR", (user_id, items)),), now)
