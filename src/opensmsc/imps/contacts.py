"""Contact lists and block lists: GetList, CreateList, DeleteList, ListManage, BlockEntity.

What this is for: a user's contact lists (an id, a display name, one default list, members
with nicknames in the order added) as AIM's ImpsContactListManager uses them, and the entities
(user ids, or MSISDNs kept as digits) a user blocks. What this is not: presence of the members
(imps/presence.py) or what a block refuses (imps/messaging.py, imps/presence.py ask `blocks`).
"""

from __future__ import annotations

from opensmsc.imps import pts
from opensmsc.imps.codes import Status
from opensmsc.imps.outbound import Outbound
from opensmsc.imps.settings import ImpsSettings
from opensmsc.imps.state import ImpsState, SessionRow
from opensmsc.imps.values import MSISDN, Refused, digits, normalise_user_id, pairs, text_items

__all__ = ["Contacts"]


class Contacts:
    """The contact list and blocking primitives (module doc)."""

    def __init__(self, state: ImpsState, outbound: Outbound, settings: ImpsSettings) -> None:
        self._state = state
        self._out = outbound
        self._settings = settings

    def get_lists(self, session: SessionRow, request: pts.Primitive, now: float) -> None:
        lists = self._state.contact_list_ids(session.user_id)
        params: list[tuple[str, pts.Value]] = []
        if lists:
            params.append(("CL", tuple(list_id for list_id, _ in lists)))
        default = next((list_id for list_id, is_default in lists if is_default), None)
        if default is not None:
            params.append(("DL", default))
        self._out.reply(session, request, "LG", params, now)

    def _list_id(self, request: pts.Primitive) -> str:
        list_id = request.text("CL")
        if not list_id:
            raise Refused(Status.BAD_PARAMETER, "no ContactList")
        return list_id

    def create(self, session: SessionRow, request: pts.Primitive, now: float) -> None:
        list_id = self._list_id(request)
        user_id = session.user_id
        if self._state.contact_list(user_id, list_id) is not None:
            raise Refused(Status.CONTACT_LIST_ALREADY_EXISTS)
        lists = len(self._state.contact_list_ids(user_id))
        if lists >= self._settings.max_contact_lists:
            raise Refused(Status.MAX_CONTACT_LISTS_REACHED)
        self._state.create_contact_list(user_id, list_id)
        for nickname, member in pairs(request, "UN"):
            self._state.add_contact(user_id, list_id, normalise_user_id(member), nickname)
        self._check_size(user_id, list_id)
        self._properties(user_id, list_id, request, default_if_unsaid=lists == 0)
        self._out.reply(session, request, "ST", (("ST", "200"),), now)

    def delete(self, session: SessionRow, request: pts.Primitive, now: float) -> None:
        list_id = self._list_id(request)
        if self._state.contact_list(session.user_id, list_id) is None:
            raise Refused(Status.CONTACT_LIST_DOES_NOT_EXIST)
        self._state.delete_contact_list(session.user_id, list_id)
        self._out.reply(session, request, "ST", (("ST", "200"),), now)

    def manage(self, session: SessionRow, request: pts.Primitive, now: float) -> None:
        list_id = self._list_id(request)
        user_id = session.user_id
        if self._state.contact_list(user_id, list_id) is None:
            raise Refused(Status.CONTACT_LIST_DOES_NOT_EXIST)
        for nickname, member in pairs(request, "AN"):
            self._state.add_contact(user_id, list_id, normalise_user_id(member), nickname)
        for _, member in pairs(request, "RN"):
            self._state.remove_contact(user_id, list_id, normalise_user_id(member))
        self._check_size(user_id, list_id)
        self._properties(user_id, list_id, request, default_if_unsaid=False)
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
        self._out.reply(session, request, "ML", params, now)

    def _check_size(self, user_id: str, list_id: str) -> None:
        # after the changes: the caller's savepoint undoes them when refused
        contact_list = self._state.contact_list(user_id, list_id)
        if contact_list is not None and (
            len(contact_list.members) > self._settings.max_contacts_per_list
        ):
            raise Refused(Status.MAX_CONTACTS_REACHED)

    def _properties(
        self, user_id: str, list_id: str, request: pts.Primitive, *, default_if_unsaid: bool
    ) -> None:
        display_name: str | None = None
        is_default: bool | None = True if default_if_unsaid else None
        for name, value in pairs(request, "CP"):
            match name.upper():
                case "DN":
                    display_name = value
                case "DE":
                    is_default = value.upper() == "T"
                case _:
                    raise Refused(Status.INVALID_CONTACT_LIST_PROPERTY, name)
        self._state.set_contact_list_properties(
            user_id, list_id, display_name=display_name, is_default=is_default
        )

    def block(self, session: SessionRow, request: pts.Primitive, now: float) -> None:
        if request.get("AB") is None and request.get("RB") is None:
            raise Refused(Status.BAD_PARAMETER, "no AB or RB")
        for entity in text_items(request, "AB"):
            self._state.block(session.user_id, self.entity(entity))
        for entity in text_items(request, "RB"):
            self._state.unblock(session.user_id, self.entity(entity))
        if len(self._state.blocked(session.user_id)) > self._settings.max_blocked:
            raise Refused(Status.MAX_CONTACTS_REACHED, "the block list is full")
        self._out.reply(session, request, "ST", (("ST", "200"),), now)

    @staticmethod
    def entity(raw: str) -> str:
        """A user id, or an MSISDN (kept as digits, so "+4477" and "4477" block alike)."""
        return digits(raw) if MSISDN.fullmatch(raw) else normalise_user_id(raw)

    def blocks(self, recipient: str, sender: str) -> bool:
        """Whether `recipient` blocked `sender` (a user id or an MSISDN, any spelling)."""
        return self._state.is_blocked(self.entity(sender), by=recipient)

    def get_blocked(self, session: SessionRow, request: pts.Primitive, now: float) -> None:
        blocked = self._state.blocked(session.user_id)
        self._out.reply(session, request, "BL", (("BL", tuple(blocked)),) if blocked else (), now)
