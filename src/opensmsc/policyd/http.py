"""The policy protocol over HTTP: `POST /jsonrpc` with the JSON of one frame's body, answered
with the JSON the TCP listener would frame (docs/policy-protocol.md §8).

What this is for: systems that prefer HTTP to a long-lived socket. The same Dispatcher answers
(the same methods, errors and limits); a bare ASGI application, served by the node's HTTP
listener (app/policyd.py). HTTP has no session, so `hello` is not needed: the token, when the
server has one, travels on every request as `Authorization: Bearer <token>`.
What it is not: a web framework; it answers one path.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, Final

from opensmsc.policyd.dispatch import Dispatcher
from opensmsc.policyd.wire import DEFAULT_MAX_FRAME, ErrorCode, RpcError, error_object

__all__ = ["JsonRpcHttp"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

PATH: Final = "/jsonrpc"


class JsonRpcHttp:
    """An ASGI application: POST /jsonrpc → the Dispatcher's answer (200 application/json),
    or 204 when nothing is owed (notifications); 401 without the token the server asks for;
    404 elsewhere, 405 for another method, 413 for a body over `max_frame`."""

    def __init__(
        self, dispatcher: Dispatcher, *, token: str | None, max_frame: int = DEFAULT_MAX_FRAME
    ) -> None:
        self._dispatcher = dispatcher
        self._expected = f"Bearer {token}".encode() if token is not None else None
        self._max_frame = max_frame

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        if scope["path"] != PATH:
            await _reply(send, 404, b"not found: POST JSON-RPC to /jsonrpc", "text/plain")
            return
        if scope["method"] != "POST":
            await _reply(send, 405, b"POST only", "text/plain", (b"allow", b"POST"))
            return
        headers = dict(scope["headers"])
        if self._expected is not None and not hmac.compare_digest(
            headers.get(b"authorization", b""), self._expected
        ):
            error = RpcError(ErrorCode.UNAUTHORIZED, "Unauthorized: wrong or missing token")
            await _reply(send, 401, _json(error_object(None, error)), "application/json")
            return
        body = await _body(receive, self._max_frame)
        if body is None:
            message = f"body over {self._max_frame} octets".encode()
            await _reply(send, 413, message, "text/plain")
            return
        client = scope.get("client") or ("?", 0)
        peer = self._dispatcher.new_peer(f"http@{client[0]}:{client[1]}")
        peer.authorized = True  # checked above, per request
        answer = self._dispatcher.answer(body, peer)
        if answer is None:
            await _reply(send, 204, b"", None)
        else:
            await _reply(send, 200, answer.encode(), "application/json")


async def _body(receive: Receive, limit: int) -> bytes | None:
    """The request body, or None once it passes `limit` octets."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return b"".join(chunks)
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _reply(
    send: Send,
    status: int,
    body: bytes,
    content_type: str | None,
    *extra: tuple[bytes, bytes],
) -> None:
    headers = [(b"content-length", str(len(body)).encode()), *extra]
    if content_type is not None:
        headers.append((b"content-type", content_type.encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


def _json(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()
