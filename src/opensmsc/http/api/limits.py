"""What a request body may be, checked before any route sees it: at most `max_body_size`
octets (413), and JSON when it is a POST, PUT or PATCH with a body (415), except on the paths
given as `any_type_paths` (the drop-in endpoints of http/compat/, which read their own forms
and bodies).

An ASGI middleware rather than a route dependency, because the limit must hold while the body
is read: a client that announces a small Content-Length (or none, chunked) and sends more is
cut off at the limit, never buffered whole (the rest is read and dropped, so that the client
gets its 413 rather than a reset connection). The body read here is handed on to the app
unchanged.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from typing import Final

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from opensmsc.http.problems import MEDIA_TYPE, problem_title, problem_type

__all__ = ["BodyLimits"]

_WITH_BODY: Final = frozenset({"POST", "PUT", "PATCH"})
_DRAIN_LIMIT: Final = 64 * 1024 * 1024  # octets of a refused body read and dropped, at most


class BodyLimits:
    """Wraps `app`: bodies over `max_body_size` octets get 413, non-JSON bodies 415 (except
    on `any_type_paths`: drop-in endpoints that read forms and answer as their originals)."""

    def __init__(
        self, app: ASGIApp, *, max_body_size: int, any_type_paths: Collection[str] = ()
    ) -> None:
        self._app = app
        self._max = max_body_size
        self._any_type = frozenset(any_type_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _WITH_BODY:
            await self._app(scope, receive, send)
            return
        headers = {k.lower(): v for k, v in scope["headers"]}
        path = scope["path"]
        length_header = headers.get(b"content-length")
        if length_header is not None:
            try:
                announced = int(length_header)
            except ValueError:
                announced = -1
            if announced < 0:
                await _problem(
                    send, 400, "invalid-request", "Content-Length is not a number", path, close=True
                )
                return
            if announced > self._max:
                await _too_large(send, self._max, path, drained=await _drain(receive))
                return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self._max:
                more = bool(message.get("more_body", False))
                drained = not more or await _drain(receive)
                await _too_large(send, self._max, path, drained=drained)
                return
            chunks.append(chunk)
            more = bool(message.get("more_body", False))
        body = b"".join(chunks)
        content_type = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
        if (
            body
            and content_type != b"application/json"
            and not content_type.endswith(b"+json")
            and path not in self._any_type
        ):
            shown = content_type.decode("latin-1") or "none"
            await _problem(
                send,
                415,
                "unsupported-media-type",
                f"the body must be application/json, not {shown}",
                path,
            )
            return
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self._app(scope, replay, send)


async def _drain(receive: Receive) -> bool:
    """Read and drop the rest of a refused body, up to _DRAIN_LIMIT octets; True when it all
    came. Closing with the body unread would make the kernel reset the connection, and the
    client would see a broken connection instead of the 413 (most clients send the whole body
    before they read the answer)."""
    dropped = 0
    while dropped <= _DRAIN_LIMIT:
        message = await receive()
        if message["type"] == "http.disconnect":
            return False
        dropped += len(message.get("body", b""))
        if not message.get("more_body", False):
            return True
    return False


async def _too_large(send: Send, limit: int, path: str, *, drained: bool) -> None:
    await _problem(
        send,
        413,
        "payload-too-large",
        f"the body exceeds {limit} octets",
        path,
        close=not drained,
        limit=limit,
    )


async def _problem(
    send: Send,
    status: int,
    slug: str,
    detail: str,
    path: str,
    *,
    close: bool = False,
    **extensions: object,
) -> None:
    body = json.dumps(
        {
            "type": problem_type(slug),
            "title": problem_title(slug),
            "status": status,
            "detail": detail,
            "instance": path,
            **extensions,
        }
    ).encode()
    headers = [
        (b"content-type", MEDIA_TYPE.encode()),
        (b"content-length", str(len(body)).encode()),
    ]
    if close:
        # The rest of the body was not read: the connection cannot carry another request.
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
