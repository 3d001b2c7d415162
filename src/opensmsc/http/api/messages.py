"""`/v1/messages`: send a message, durably.

POST /v1/messages answers 201 with the ids only once the message is committed in the store,
as submit_sm_resp does; when the store fails the answer is 503 and no id is given. The
message goes through the engine's Acceptor like an ESME's: the same validity rules, the same
routing and scheduling, the same receipts (stored for the account).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from opensmsc.accounts import Account

from .auth import authenticate, take_tokens
from .context import context_of
from .convert import encoding_name, submission_of
from .models import MessageAccepted, MessageRequest

__all__ = ["router"]

router = APIRouter(prefix="/v1/messages", tags=["messages"])

Caller = Annotated[Account, Depends(authenticate)]


@router.post(
    "",
    status_code=201,
    response_model=MessageAccepted,
    summary="Send one message",
    responses={
        400: {"description": "bad JSON or an invalid number"},
        401: {"description": "no or wrong credentials"},
        403: {"description": "the account may not use the API from here"},
        413: {"description": "the body is too large"},
        415: {"description": "the body is not JSON"},
        422: {"description": "a field is missing, of the wrong type or unusable"},
        429: {"description": "over the account's throughput; see Retry-After"},
        503: {"description": "the store could not take the message: nothing was stored"},
    },
)
async def send_message(
    body: MessageRequest, request: Request, response: Response, account: Caller
) -> MessageAccepted:
    context = context_of(request)
    acceptor = context.engine.acceptor
    prepared = acceptor.prepare(account.system_id, submission_of(body))
    take_tokens(context, account, len(prepared.records))
    await acceptor.store(prepared.records)
    first = prepared.records[0]
    response.headers["Location"] = f"/v1/messages/{first.message_id}"
    return MessageAccepted(
        id=first.message_id,
        ids=prepared.message_ids,
        parts=len(prepared.records),
        encoding=encoding_name(prepared.encoding.alphabet),
        data_coding=first.data_coding,
        submitted_at=first.submitted_at,
        client_reference=body.client_reference,
    )
