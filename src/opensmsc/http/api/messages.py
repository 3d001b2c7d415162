"""`/v1/messages`: send a message, durably; read its state; cancel it; list them.

POST /v1/messages answers 201 with the ids only once the message is committed in the store,
as submit_sm_resp does; when the store fails the answer is 503 and no id is given. The
message goes through the engine's Acceptor like an ESME's: the same validity rules, the same
routing and scheduling, the same receipts (stored for the account).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from functools import partial
from typing import Annotated, Final

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response
from pydantic import AwareDatetime, BaseModel

from opensmsc.accounts import Account
from opensmsc.engine import InvalidSubmission, PolicyRefusal, Prepared, Submission
from opensmsc.http.problems import Problem
from opensmsc.smpp import MessageState
from opensmsc.store import MessageQuery

from ..cursors import decode_cursor, encode_cursor
from .auth import authenticate, take_tokens
from .context import ApiContext, context_of
from .convert import destination, encoding_name, source, submission_of
from .idempotency import Save, fingerprint
from .models import (
    BatchAccepted,
    BatchRequest,
    MessageAccepted,
    MessagePage,
    MessageRequest,
    MessageStatus,
    State,
)
from .status import status_of

__all__ = ["accept_batch", "accept_message", "router"]

router = APIRouter(prefix="/v1/messages", tags=["messages"])

Caller = Annotated[Account, Depends(authenticate)]
MessageId = Annotated[str, Path(min_length=1, max_length=65, description="a message's id")]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        pattern=r"^[\x20-\x7e]+$",
        description="makes a retry safe: a request sent again with the same key gets the first "
        "answer and stores nothing (kept at least [api] idempotency_ttl, 24 h by default)",
    ),
]

_ERRORS: Final[dict[int | str, dict[str, str]]] = {
    401: {"description": "no or wrong credentials"},
    403: {"description": "the account may not use the API from here"},
}
_POLICY: Final[dict[int | str, dict[str, str]]] = {
    403: {
        "description": "the account may not use the API from here, or the routing policy "
        "refused the message (`command_status` says why, as SMPP would)"
    },
    429: {
        "description": "over the account's throughput, or held back by the routing policy; "
        "see Retry-After"
    },
}
_NOT_FOUND: Final[dict[int | str, dict[str, str]]] = {
    404: {"description": "no message of this account has this id"}
}


def _unknown(message_id: str) -> Problem:
    return Problem(404, "unknown-message", f"no message {message_id}", field="id")


@router.post(
    "",
    status_code=201,
    response_model=MessageAccepted,
    summary="Send one message",
    responses={
        400: {"description": "bad JSON or an invalid number"},
        **_ERRORS,
        **_POLICY,
        413: {"description": "the body is too large"},
        415: {"description": "the body is not JSON"},
        422: {"description": "a field is missing, of the wrong type or unusable"},
        503: {"description": "the store could not take the message: nothing was stored"},
    },
)
async def send_message(
    body: MessageRequest, request: Request, account: Caller, idempotency_key: IdempotencyKey = None
) -> Response:
    return await accept_message(
        context_of(request), account, body, request.url.path, idempotency_key
    )


async def accept_message(
    context: ApiContext, account: Account, body: MessageRequest, path: str, key: str | None
) -> Response:
    """POST /v1/messages for `account` once its body is read and valid: the route's work,
    shared with the fast lane (fast_lane.py). Raises Problem, InvalidSubmission,
    MessageRejected, StoreUnavailable as the route's handlers answer them."""

    async def send(save: Save | None) -> Response:
        acceptor = context.engine.acceptor
        prepared = acceptor.prepare(account.system_id, submission_of(body))
        take_tokens(context, account, len(prepared.records))
        first = prepared.records[0]
        response = _created(_accepted(prepared))
        response.headers["Location"] = f"/v1/messages/{first.message_id}"
        answer = None if save is None else save(response, first.submitted_at)
        await acceptor.store(prepared.records, answer=answer)
        return response

    return await context.idempotency.run(
        account.system_id, key, _fingerprint(path, key, body), send
    )


def _created(document: BaseModel) -> Response:
    # The body is made here, before the commit: with an Idempotency-Key it is stored with the
    # messages, and a retry gets these very bytes.
    return Response(
        content=document.model_dump_json(by_alias=True),
        status_code=201,
        media_type="application/json",
    )


def _fingerprint(path: str, key: str | None, body: BaseModel) -> str:
    if key is None:
        return ""
    return fingerprint(path, body.model_dump(mode="json", by_alias=True))


def _accepted(prepared: Prepared) -> MessageAccepted:
    first = prepared.records[0]
    return MessageAccepted(
        id=first.message_id,
        ids=prepared.message_ids,
        parts=len(prepared.records),
        encoding=encoding_name(prepared.encoding.alphabet),
        data_coding=first.data_coding,
        submitted_at=first.submitted_at,
        client_reference=first.client_reference,
    )


@router.post(
    "/batch",
    status_code=201,
    response_model=BatchAccepted,
    summary="Send many messages in one request, stored in one transaction",
    responses={
        400: {"description": "bad JSON or an invalid number (`field` says which message)"},
        **_ERRORS,
        **_POLICY,
        413: {"description": "the body is too large"},
        422: {"description": "a message is invalid (`field` says which), or too many"},
        503: {"description": "the store could not take the batch: nothing was stored"},
    },
)
async def send_batch(
    body: BatchRequest, request: Request, account: Caller, idempotency_key: IdempotencyKey = None
) -> Response:
    """All or nothing: one invalid message refuses the batch, naming it (`messages[3].to`);
    the answer lists the ids in the order of the messages, once all are committed."""
    return await accept_batch(context_of(request), account, body, request.url.path, idempotency_key)


async def accept_batch(
    context: ApiContext, account: Account, body: BatchRequest, path: str, key: str | None
) -> Response:
    """POST /v1/messages/batch once its body is read and valid (shared with fast_lane.py)."""

    async def send(save: Save | None) -> Response:
        return await _send_batch(context, account, body, save)

    return await context.idempotency.run(
        account.system_id, key, _fingerprint(path, key, body), send
    )


async def _send_batch(
    context: ApiContext, account: Account, body: BatchRequest, save: Save | None
) -> Response:
    acceptor = context.engine.acceptor
    count = len(body.messages or body.to or ())
    if count > context.settings.max_batch:
        raise Problem(
            422,
            "validation",
            f"messages: {count} messages, at most {context.settings.max_batch}",
            field="messages",
        )
    shape = "messages" if body.messages is not None else "to"
    prepared: list[Prepared] = []
    for index, submission in enumerate(_submissions(body)):
        try:
            prepared.append(acceptor.prepare(account.system_id, submission()))
        except InvalidSubmission as exc:
            where = f"{shape}[{index}]" if shape == "to" else f"messages[{index}].{exc.field}"
            raise InvalidSubmission(exc.status, where, exc.reason) from exc
        except PolicyRefusal as exc:
            where = f"{shape}[{index}]" if shape == "to" else f"messages[{index}]"
            raise PolicyRefusal(
                exc.action, exc.status, f"{where}: {exc.reason}", exc.retry_after_ms
            ) from exc
        except Problem as exc:
            field = exc.extensions.get("field", "")
            where = f"{shape}[{index}]" if shape == "to" else f"messages[{index}].{field}"
            raise Problem(exc.status, exc.slug, f"{where}: {exc.detail}", field=where) from exc
    records = [record for item in prepared for record in item.records]
    take_tokens(context, account, len(records), whole=True)
    response = _created(
        BatchAccepted(count=len(prepared), messages=[_accepted(p) for p in prepared])
    )
    answer = None if save is None else save(response, records[0].submitted_at)
    await acceptor.store(records, answer=answer)
    return response


def _submissions(body: BatchRequest) -> Iterator[Callable[[], Submission]]:
    """Each message of a batch as the engine's Submission, made when called (so that an error
    names its message). One text to many numbers is read once; only the number differs."""
    if body.messages is not None:
        for item in body.messages:
            yield partial(submission_of, item)
        return
    assert body.to is not None and body.message is not None
    first = MessageRequest.model_construct(
        **{name: getattr(body.message, name) for name in body.message.model_fields_set},
        to=body.to[0],
    )
    template: Submission | None = None
    for to in body.to:

        def one(to: str = to) -> Submission:
            nonlocal template
            if template is None:
                template = submission_of(first)
            return replace(template, destination=destination(to))

        yield one


@router.get(
    "/{message_id}",
    response_model=MessageStatus,
    response_model_by_alias=True,
    summary="A message's state",
    responses={**_ERRORS, **_NOT_FOUND},
)
async def get_message(message_id: MessageId, request: Request, account: Caller) -> MessageStatus:
    context = context_of(request)
    record = await context.engine.operations.message(account.system_id, message_id)
    if record is None:
        raise _unknown(message_id)
    await context.final_reads.read(record)  # its trail: the client took the outcome
    return status_of(record)


@router.delete(
    "/{message_id}",
    response_model=MessageStatus,
    response_model_by_alias=True,
    summary="Cancel a pending message",
    responses={
        **_ERRORS,
        **_NOT_FOUND,
        409: {"description": "no longer pending: final, in an attempt or taken upstream"},
    },
)
async def cancel_message(message_id: MessageId, request: Request, account: Caller) -> MessageStatus:
    operations = context_of(request).engine.operations
    record = await operations.cancel_message(account.system_id, message_id)
    if record is None:
        raise _unknown(message_id)
    if record.state is not MessageState.DELETED:
        raise Problem(
            409,
            "conflict",
            f"message {message_id} is no longer pending (state {record.state.name.lower()})",
            state=record.state.name.lower(),
        )
    return status_of(record)


_CURSOR_PREFIX: Final = "c1:"


def _cursor(after: int) -> str:
    return encode_cursor(_CURSOR_PREFIX, after)


def _after(cursor: str | None) -> int | None:
    if cursor is None:
        return None
    after = decode_cursor(_CURSOR_PREFIX, cursor)
    if after is not None:
        return after
    raise Problem(400, "invalid-request", "cursor: not a cursor this API gave", field="cursor")


@router.get(
    "",
    response_model=MessagePage,
    response_model_by_alias=True,
    summary="The account's messages, oldest first, a page at a time",
    responses={400: {"description": "an invalid number or cursor"}, **_ERRORS},
)
async def list_messages(
    request: Request,
    account: Caller,
    *,
    to: Annotated[str | None, Query(max_length=32, description="E.164 destination")] = None,
    from_: Annotated[str | None, Query(alias="from", max_length=21)] = None,
    state: Annotated[State | None, Query()] = None,
    since: Annotated[AwareDatetime | None, Query(description="submitted at or after")] = None,
    until: Annotated[AwareDatetime | None, Query(description="submitted before")] = None,
    limit: Annotated[int, Query(ge=1, description="at most [api] max_page")] = 100,
    cursor: Annotated[str | None, Query(max_length=64, description="`next` of a page")] = None,
) -> MessagePage:
    context = context_of(request)
    query = MessageQuery(
        system_id=account.system_id,
        destination=None if to is None else destination(to).addr,
        source=None if from_ is None else source(from_).addr,
        states=None if state is None else frozenset({MessageState[state.upper()]}),
        since=since,
        until=until,
        after=_after(cursor),
        limit=min(limit, context.settings.max_page),
    )
    records, after = await context.engine.store.find(query)
    return MessagePage(
        messages=[status_of(r) for r in records],
        next=None if after is None else _cursor(after),
    )
