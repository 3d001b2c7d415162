"""The fast lane: the well-formed sends, served without FastAPI's per-request machinery.

Why: POST /v1/messages is the request applications make thousands of times a second, and
FastAPI's work around a route (its dependency solver, the body read through Starlette's Request,
the response model) costs more than everything the message itself needs: on this project's
2-core machine a minimal FastAPI POST route answers about 2,000 requests/s where the same work
as a plain ASGI callable answers 5,600 (uvicorn with httptools, wrk at 64 connections).

What: an ASGI middleware in front of the API's routes. A `POST /v1/messages` or
`POST /v1/messages/batch` whose body is JSON that validates against the route's model, without
an Idempotency-Key, is served here by the very functions the routes call
(`messages.accept_message`, `messages.accept_batch`), after the same authentication
(`auth.authenticate`); its errors become the same problem documents, through the app's own
exception handlers. Anything else (a body that does not validate, an Idempotency-Key to check,
another path or method) goes on to the FastAPI routes with its body replayed, unchanged: the
routes stay the one definition of the API and of its OpenAPI document, and every refusal is
answered by them, word for word. Nothing here has a side effect before it knows it will answer
(authentication, which may count a failure, comes after validation).

What it is not: the body size and media type checks (limits.py, which sits outside this and
hands on the body it read).
"""

from __future__ import annotations

from typing import Final

from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .auth import authenticate
from .context import context_of
from .messages import accept_batch, accept_message
from .models import BatchRequest, MessageRequest

__all__ = ["FastLane"]

_MESSAGES: Final = "/v1/messages"
_BATCH: Final = "/v1/messages/batch"
_MODELS: Final[dict[str, type[BaseModel]]] = {_MESSAGES: MessageRequest, _BATCH: BatchRequest}


class FastLane:
    """Wraps the API app (see the module doc)."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        model = _MODELS.get(scope["path"]) if scope["type"] == "http" else None
        if model is None or scope["method"] != "POST" or _has_idempotency_key(scope):
            await self._app(scope, receive, send)
            return
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        try:
            parsed = model.model_validate_json(body)
        except ValidationError:
            await self._app(scope, _replay(body, receive), send)
            return
        request = Request(scope, _replay(body, receive))
        try:
            account = await authenticate(request)
            context = context_of(request)
            if isinstance(parsed, MessageRequest):
                response = await accept_message(context, account, parsed, _MESSAGES, None)
            else:
                assert isinstance(parsed, BatchRequest)
                response = await accept_batch(context, account, parsed, _BATCH, None)
        except Exception as exc:
            response = await _handled(request, exc)
        await response(scope, receive, send)


def _has_idempotency_key(scope: Scope) -> bool:
    return any(name.lower() == b"idempotency-key" for name, _ in scope["headers"])


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive that gives `body` once, then what the connection gives (a disconnect)."""
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed


async def _handled(request: Request, exc: Exception) -> Response:
    """`exc` answered as the app's exception handlers answer it for a route (the most specific
    handler by class, as Starlette picks it)."""
    handlers = request.app.exception_handlers
    for cls in type(exc).__mro__:
        handler = handlers.get(cls)
        if handler is not None:
            response: Response = await handler(request, exc)
            return response
    raise exc
