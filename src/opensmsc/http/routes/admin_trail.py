"""GET /v1/admin/messages/{id}/trail: a message's trail on the admin listener (issue 16).

The answer is `{"id", "trace_id", "state", "account", "events": [{"at", "kind", "detail"}]}`,
the events in the order they happened (store/trail.py; what each kind's detail holds is in
engine/trail.py). An unknown message, or one purged after its retention, is a 404
`message-not-found` problem.

What it is not: the store. The routes reach it through `TrailSource` (app/trail.py NodeTrail),
so http/ imports nothing of the node's wiring.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Protocol, cast

from fastapi import APIRouter, Depends, Request

from ..problems import Problem

__all__ = ["TrailSource", "router"]

router = APIRouter(tags=["messages"])


class TrailSource(Protocol):
    """A node's message trails (app/trail.py NodeTrail)."""

    async def trail(self, message_id: str) -> Mapping[str, Any] | None:
        """The answer document of the route, or None for a message the store does not hold."""
        ...


def _source(request: Request) -> TrailSource:
    return cast(TrailSource, request.app.state.trail)


Source = Annotated[TrailSource, Depends(_source)]


@router.get(
    "/v1/admin/messages/{message_id}/trail",
    responses={
        404: {"description": "message-not-found"},
        503: {"description": "store-unavailable"},
    },
)
async def message_trail(message_id: str, source: Source) -> Mapping[str, Any]:
    found = await source.trail(message_id)  # StoreUnavailable: 503 (problems.py)
    if found is None:
        raise Problem(
            404,
            "message-not-found",
            f"no message {message_id!r} (never stored here, or purged after its retention)",
            title="Message not found",
            message_id=message_id,
        )
    return found
