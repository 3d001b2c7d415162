"""The node's live status on the admin listener (issue 16, docs/design contract "Status"):

- GET /v1/admin/status: the node at a glance (rates, queue, sessions, connectors, errors);
- GET /v1/admin/history?minutes=60: messages per second in and out, 10 s steps, kept in memory;
- GET /v1/admin/events: server-sent events, an `event: status` with the status every second;
- GET /v1/admin/sessions/{id}/tail: server-sent events, an `event: pdu` per PDU of one bound
  ESME session, both ways, decoded; `event: dropped` when the reader fell behind and frames
  were dropped (the session is never slowed for a reader); `event: end` when it ends.

Streams end when the node stops (`StatusSource.closed`), so that the listener's graceful stop
never waits on a reader. Errors are problem documents: 404 `session-not-found`, 409
`session-ambiguous` (a system_id with several bound sessions: their ids are listed).

What it is not: where the numbers come from (app/status.py implements `StatusSource`).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Mapping
from typing import Annotated, Any, Final, Protocol, cast

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import StreamingResponse

from ..problems import problem_response

__all__ = ["PduFeed", "SessionAmbiguous", "StatusSource", "router"]

router = APIRouter(tags=["status"])

EVENT_INTERVAL: Final = 1.0  # seconds between two `event: status`
_KEEPALIVE: Final = 15.0  # seconds of silence on a tail before a comment line


class SessionAmbiguous(LookupError):
    """A system_id names several bound sessions: `ids` lists them."""

    def __init__(self, ids: list[str]) -> None:
        super().__init__(f"several sessions are bound: {', '.join(ids)}")
        self.ids = ids


class PduFeed(Protocol):
    """The PDUs of one session from the moment it was opened."""

    @property
    def session_id(self) -> str: ...

    @property
    def dropped(self) -> int:
        """Frames dropped so far because this reader was behind."""
        ...

    @property
    def ended(self) -> str | None:
        """Why the session ended, once it has."""
        ...

    async def next(self, timeout: float) -> list[Mapping[str, Any]]:
        """The PDUs since the last call, decoded; waits up to `timeout` seconds for one."""
        ...

    def close(self) -> None: ...


class StatusSource(Protocol):
    """The node as these routes see it (app/status.py NodeStatus)."""

    @property
    def closed(self) -> bool:
        """True once the node stops: streams end."""
        ...

    async def status(self) -> Mapping[str, Any]: ...

    def history(self, minutes: int) -> Mapping[str, Any]: ...

    def tail(self, session: str) -> PduFeed:
        """A feed of the session named by its id, or by a system_id with one bound session.
        Raises SessionAmbiguous, or LookupError when no such session is bound."""
        ...


def _source(request: Request) -> StatusSource:
    return cast(StatusSource, request.app.state.status)


def _event(name: str, data: Mapping[str, Any]) -> bytes:
    return f"event: {name}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


@router.get("/v1/admin/status", summary="The node at a glance")
async def status(request: Request) -> Mapping[str, Any]:
    return await _source(request).status()


@router.get("/v1/admin/history", summary="Messages per second in and out, in 10 s steps")
async def history(
    request: Request, minutes: Annotated[int, Query(ge=1, le=60)] = 60
) -> Mapping[str, Any]:
    return _source(request).history(minutes)


@router.get(
    "/v1/admin/events",
    summary="Server-sent events: the status every second",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def events(request: Request) -> Response:
    source = _source(request)

    async def stream() -> AsyncIterator[bytes]:
        while not source.closed:
            yield _event("status", await source.status())
            await asyncio.sleep(EVENT_INTERVAL)

    return StreamingResponse(stream(), media_type="text/event-stream", headers=_NO_BUFFERING)


@router.get(
    "/v1/admin/sessions/{session}/tail",
    summary="Server-sent events: the PDUs of one bound ESME session, decoded",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"text/event-stream": {}}},
        404: {"description": "session-not-found"},
        409: {"description": "session-ambiguous"},
    },
)
async def tail(session: str, request: Request) -> Response:
    source = _source(request)
    try:
        feed = source.tail(session)
    except SessionAmbiguous as exc:
        return problem_response(
            409,
            "session-ambiguous",
            f'"{session}" has {len(exc.ids)} bound sessions; name one: {", ".join(exc.ids)}',
            instance=request.url.path,
            sessions=exc.ids,
        )
    except LookupError:
        return problem_response(
            404,
            "session-not-found",
            f'no bound ESME session "{session}" (a session id from `opensmsc status`, or a'
            " system_id with one bound session)",
            instance=request.url.path,
        )

    async def stream() -> AsyncIterator[bytes]:
        dropped = 0
        quiet = 0.0
        try:
            yield f": tailing session {feed.session_id}\n\n".encode()
            while True:
                pdus = await feed.next(1.0)
                for pdu in pdus:
                    yield _event("pdu", pdu)
                if feed.dropped != dropped:
                    dropped = feed.dropped
                    yield _event("dropped", {"dropped": dropped})
                if feed.ended is not None or source.closed:
                    reason = feed.ended or "the node is stopping"
                    yield _event("end", {"reason": reason, "dropped": dropped})
                    return
                quiet = 0.0 if pdus else quiet + 1.0
                if quiet >= _KEEPALIVE:
                    quiet = 0.0
                    yield b": keep-alive\n\n"
        finally:
            feed.close()

    return StreamingResponse(stream(), media_type="text/event-stream", headers=_NO_BUFFERING)


# A proxy in front must pass events on as they come.
_NO_BUFFERING: Final = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
