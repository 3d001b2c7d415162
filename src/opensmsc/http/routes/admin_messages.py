"""The operator's view of messages on the admin listener (issue 16, docs/operations.md):

- GET /v1/admin/messages: MT messages of every account (or one), newest first, filtered by
  account, source, destination, state (one or several, comma-separated), since/until (submit
  time, ISO 8601), a page of `limit` (1..1000) at a time; `next_cursor` fetches the next page.
- GET /v1/admin/messages/{id}: one message, with its text (redacted unless
  `[logging] show_short_message`).
- POST /v1/admin/messages/{id}/cancel | retry | expire: the message as the action left it;
  404 message-not-found; 409 message-final (already final; for retry: a final message gets no
  new attempt, send it again), message-in-flight (an attempt is under way: ask again),
  message-upstream (an upstream has it: cancel and retry would race its delivery; expire gives
  up on it), message-scheduled (retry of a message its submitter scheduled). A part of a long
  message takes its other parts with it. What each action does, and why these refusals, is
  engine/operator.py's docstring.
- POST /v1/admin/messages {"account", "source", "destination", "text", "receipt"}: a message
  submitted as that account, through the same acceptance as its SMPP and HTTP traffic
  (validity, routing policy, throughput); 201 {"id", "ids", "parts", ...} once it is stored.
  What `opensmsc send` uses.

What it is not: the engine. The routes reach it through `MessagesAdmin` (app/messages.py).
"""

from __future__ import annotations

import json
import math
from datetime import datetime
from typing import Annotated, Any, Final, Protocol, cast

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from opensmsc.engine import (
    ActionRefused,
    InvalidSubmission,
    PolicyRefusal,
    Prepared,
    ReceiptRequest,
    Submission,
)
from opensmsc.network import MapErrorCode
from opensmsc.observability import MessageText
from opensmsc.routing import Action
from opensmsc.smpp import CommandStatus, MessageState
from opensmsc.store import MessageQuery, StoredMessage, outcome_error

from ..api.convert import destination, source
from ..cursors import decode_cursor, encode_cursor
from ..problems import Problem

__all__ = ["MAX_LIMIT", "MessagesAdmin", "UnknownAccount", "message_json", "router"]

router = APIRouter(prefix="/v1/admin/messages", tags=["messages"])

MAX_LIMIT: Final = 1000
_NETWORK_ROUTE: Final = "network"  # the simulated network's route: its errors are MAP errors
_RECEIPT_MASK: Final = 0x03  # registered_delivery bits 1-0: which final receipt is wanted


# The titles of this module's problem slugs (problems.py has the shared ones).
_TITLES: Final = {
    "message-not-found": "Message not found",
    "message-final": "Message is final",
    "message-in-flight": "Attempt under way",
    "message-upstream": "Held by an upstream",
    "message-scheduled": "Message is scheduled",
    "unknown-account": "Unknown account",
    "invalid-cursor": "Invalid cursor",
    "invalid-state": "Invalid state",
}


def _problem(status: int, slug: str, detail: str, **extensions: Any) -> Problem:
    return Problem(status, slug, detail, title=_TITLES[slug], **extensions)


class UnknownAccount(LookupError):
    """POST /v1/admin/messages named an account the node does not have (or has disabled)."""


class MessagesAdmin(Protocol):
    """The engine as these routes use it (app/messages.py NodeMessages)."""

    @property
    def show_text(self) -> bool:
        """Whether a message's text is shown (`[logging] show_short_message`)."""
        ...

    async def find(self, query: MessageQuery) -> tuple[list[StoredMessage], int | None]: ...

    async def message(self, message_id: str) -> StoredMessage | None: ...

    async def cancel(self, message_id: str) -> StoredMessage | None:
        """None: no such MT message. Raises engine.ActionRefused."""
        ...

    async def retry(self, message_id: str) -> StoredMessage | None: ...

    async def expire(self, message_id: str) -> StoredMessage | None: ...

    async def send(self, account: str, submission: Submission) -> Prepared:
        """Stored when it returns. Raises UnknownAccount, InvalidSubmission, PolicyRefusal,
        MessageRejected (throttled), StoreUnavailable."""
        ...


def _admin(request: Request) -> MessagesAdmin:
    return cast(MessagesAdmin, request.app.state.messages)


Admin = Annotated[MessagesAdmin, Depends(_admin)]
MessageId = Annotated[str, Path(min_length=1, max_length=65, description="a message's id")]


# ---- the JSON of a message -------------------------------------------------------------------


def _address(ton: int, addr: str) -> str:
    return f"+{addr}" if ton == 1 else addr  # TON 1: international, shown as E.164


def _error(record: StoredMessage) -> str | None:
    """The last attempt's error in words, in the code space it came from: a MAP error from the
    simulated network, an SMPP command_status otherwise. An open message shows why it waits."""
    code = outcome_error(record.state, record.last_error)
    if code is None:
        return None
    if record.route == _NETWORK_ROUTE:
        try:
            first, *rest = MapErrorCode(code).name.lower().split("_")
        except ValueError:
            return f"MAP error {code}"
        return f"{first}{''.join(w.capitalize() for w in rest)} (MAP {code})"
    try:
        return f"{CommandStatus(code).name} (0x{code:08X})"
    except ValueError:
        return f"command_status 0x{code:08X}"


def _time(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat().replace("+00:00", "Z")


def message_json(record: StoredMessage) -> dict[str, Any]:
    """A message as the list shows it (the contract's Message)."""
    concat = record.concat
    return {
        "id": record.message_id,
        "account": record.system_id,
        "source": _address(record.source.ton, record.source.addr),
        "destination": _address(record.destination.ton, record.destination.addr),
        "state": record.state.name.lower(),
        "submitted_at": _time(record.submitted_at),
        # The record keeps when it ended, not each attempt's time (the trail has those).
        "updated_at": _time(record.done_at or record.submitted_at),
        "attempts": record.attempts,
        "route": record.route,
        "error": _error(record),
        "parts": 1 if concat is None else concat.total,
        "part": None if concat is None else concat.seq,
        "receipt_requested": bool(record.registered_delivery & _RECEIPT_MASK)
        or record.callback_url is not None,
    }


def _text(record: StoredMessage, show: bool) -> str:
    text = MessageText(record.payload, record.data_coding, record.esm_class)
    if not show:
        return str(text)  # "<n octets redacted>"
    shown = text.shown()  # a JSON string, or 0x... for content that is no text
    return str(json.loads(shown)) if shown.startswith('"') else shown


def _detail_json(record: StoredMessage, show_text: bool) -> dict[str, Any]:
    concat = record.concat
    return {
        **message_json(record),
        "text": _text(record, show_text),
        "text_redacted": not show_text,
        "group": None if concat is None else concat.group_id,
        "scheduled_at": _time(record.due_at),
        "expires_at": _time(record.expires_at),
        "next_attempt_at": _time(record.next_attempt_at),
        "done_at": _time(record.done_at),
        "upstream_message_id": record.upstream_message_id,
        "receipt_id": record.receipt_id,
        "registered_delivery": record.registered_delivery,
        "data_coding": record.data_coding,
        "priority": record.priority_flag,
        "service_type": record.service_type,
        "client_reference": record.client_reference,
        "callback_url": record.callback_url,
    }


# ---- the list ------------------------------------------------------------------------------

_CURSOR_PREFIX: Final = "a1:"  # newest first, by arrival: not interchangeable with /v1/messages'


def _cursor(after: int) -> str:
    return encode_cursor(_CURSOR_PREFIX, after)


def _after(cursor: str | None) -> int | None:
    if not cursor:  # none, or `cursor=` (a form's empty field): the first page
        return None
    after = decode_cursor(_CURSOR_PREFIX, cursor)
    if after is not None:
        return after
    raise _problem(400, "invalid-cursor", "cursor: not a next_cursor this API gave", field="cursor")


def _states(text: str | None) -> frozenset[MessageState] | None:
    if text is None:
        return None
    states = set()
    for name in filter(None, (part.strip() for part in text.split(","))):
        try:
            states.add(MessageState[name.upper()])
        except KeyError:
            known = ", ".join(s.name.lower() for s in MessageState)
            raise _problem(
                400, "invalid-state", f"state: {name!r} is no state; one of {known}", field="state"
            ) from None
    return frozenset(states) or None


def _as_stored(address: str | None) -> str | None:
    """A filter's address as the store keeps it: E.164 digits without "+"."""
    address = (address or "").strip()
    if not address:
        return None
    return address.removeprefix("+") if address[1:].isdigit() else address


@router.get("", summary="Messages of every account, newest first, a page at a time")
async def list_messages(
    admin: Admin,
    *,
    account: Annotated[str | None, Query(max_length=64)] = None,
    source: Annotated[str | None, Query(max_length=32, description="as submitted")] = None,
    destination: Annotated[str | None, Query(max_length=32, description="+E.164, or as sent")] = (
        None
    ),
    state: Annotated[str | None, Query(max_length=200, description="comma-separated")] = None,
    since: Annotated[AwareDatetime | None, Query(description="submitted at or after")] = None,
    until: Annotated[AwareDatetime | None, Query(description="submitted before")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
    cursor: Annotated[str | None, Query(max_length=64, description="a next_cursor")] = None,
) -> dict[str, Any]:
    query = MessageQuery(
        system_id=account or None,
        source=_as_stored(source),
        destination=_as_stored(destination),
        states=_states(state),
        since=since,
        until=until,
        after=_after(cursor),
        limit=limit,
        newest_first=True,
    )
    records, after = await admin.find(query)
    return {
        "messages": [message_json(r) for r in records],
        "next_cursor": None if after is None else _cursor(after),
    }


# ---- one message, and what an operator does to it --------------------------------------------


def _not_found(message_id: str) -> Problem:
    return _problem(404, "message-not-found", f"no message {message_id}", id=message_id)


@router.get("/{message_id}", summary="One message, with its text")
async def get_message(message_id: MessageId, admin: Admin) -> dict[str, Any]:
    record = await admin.message(message_id)
    if record is None:
        raise _not_found(message_id)
    return _detail_json(record, admin.show_text)


async def _act(admin: MessagesAdmin, action: str, message_id: str) -> dict[str, Any]:
    try:
        record = await getattr(admin, action)(message_id)
    except ActionRefused as exc:
        raise _problem(
            409,
            exc.refusal.value,
            exc.detail,
            id=message_id,
            state=exc.record.state.name.lower(),
        ) from exc
    if record is None:
        raise _not_found(message_id)
    return _detail_json(record, admin.show_text)


_ACTION_ERRORS: Final[dict[int | str, dict[str, Any]]] = {
    404: {"description": "message-not-found"},
    409: {"description": "message-final, message-in-flight, message-upstream, message-scheduled"},
}


@router.post("/{message_id}/cancel", summary="Cancel (DELETED)", responses=_ACTION_ERRORS)
async def cancel_message(message_id: MessageId, admin: Admin) -> dict[str, Any]:
    return await _act(admin, "cancel", message_id)


@router.post("/{message_id}/retry", summary="Attempt now", responses=_ACTION_ERRORS)
async def retry_message(message_id: MessageId, admin: Admin) -> dict[str, Any]:
    return await _act(admin, "retry", message_id)


@router.post("/{message_id}/expire", summary="Give up (EXPIRED)", responses=_ACTION_ERRORS)
async def expire_message(message_id: MessageId, admin: Admin) -> dict[str, Any]:
    return await _act(admin, "expire", message_id)


# ---- sending ---------------------------------------------------------------------------------


class NewMessage(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a typo must not silently become a default

    account: str = Field(min_length=1, max_length=64, examples=["esme1"])
    source: str = Field(min_length=1, max_length=21, examples=["+447700900001", "Shop"])
    destination: str = Field(min_length=1, max_length=32, examples=["+447700900123"])
    text: str = Field(min_length=1, max_length=10_000)
    receipt: bool = False


def _renamed(exc: Problem, field: str) -> Problem:
    # http/api's address readers name the public API's fields (from, to)
    detail = exc.detail.split(": ", 1)[-1]
    return Problem(exc.status, exc.slug, f"{field}: {detail}", field=field)


@router.post(
    "",
    status_code=201,
    summary="Send a message as an account",
    responses={
        400: {"description": "invalid-number"},
        403: {"description": "policy-rejected"},
        422: {"description": "validation, unknown-account, invalid-submission"},
        429: {"description": "over the account's throughput (Retry-After)"},
        503: {"description": "store-unavailable: nothing was stored"},
    },
)
async def send_message(body: NewMessage, admin: Admin) -> JSONResponse:
    try:
        from_ = source(body.source)
    except Problem as exc:
        raise _renamed(exc, "source") from exc
    try:
        to = destination(body.destination, "destination")
    except Problem as exc:
        raise _renamed(exc, "destination") from exc
    submission = Submission(
        source=from_,
        destination=to,
        text=body.text,
        receipt=ReceiptRequest.FINAL if body.receipt else ReceiptRequest.NONE,
    )
    try:
        prepared = await admin.send(body.account, submission)
    except UnknownAccount as exc:
        raise _problem(422, "unknown-account", f"account: {exc}", field="account") from exc
    except InvalidSubmission as exc:
        raise Problem(
            422,
            "invalid-submission",
            f"{exc.field}: {exc.reason}",
            field=exc.field,
            command_status=int(exc.status),
        ) from exc
    except PolicyRefusal as exc:
        if exc.action is Action.THROTTLE:
            wait = (exc.retry_after_ms or 1000) / 1000
            raise Problem(
                429,
                "policy-throttled",
                exc.reason,
                headers={"Retry-After": str(max(1, math.ceil(wait)))},
                command_status=int(exc.status),
            ) from exc
        raise Problem(403, "policy-rejected", exc.reason, command_status=int(exc.status)) from exc
    first = prepared.records[0]
    return JSONResponse(
        {
            "id": first.message_id,
            "ids": list(prepared.message_ids),
            "parts": len(prepared.records),
            "account": first.system_id,
            "submitted_at": _time(first.submitted_at),
        },
        status_code=201,
        headers={"Location": f"/v1/admin/messages/{first.message_id}"},
    )
