"""The operations endpoints of the admin listener: liveness, readiness and metrics.

- GET /health: 200 `{"status": "ok"}` while the node's event loop runs (it answers from it).
- GET /ready: 200 `{"status": "ready"}` when the node can take traffic; 503 with a problem
  document (`not-ready`) naming each part that is not ready and why, in `not_ready`.
- GET /metrics: the Prometheus text format.

The answers come from what the app gives `create_app` (app/readiness.py, app/metrics.py), as
the two protocols below; this module knows neither the store nor prometheus_client.
"""

from __future__ import annotations

from typing import Any, Protocol

from fastapi import APIRouter, Request, Response

from ..problems import problem_response

__all__ = ["MetricsSource", "ReadinessCheck", "router"]

router = APIRouter(tags=["operations"])


class ReadinessCheck(Protocol):
    async def not_ready(self) -> dict[str, str]:
        """What is not ready, by part, with why; empty when ready."""
        ...


class MetricsSource(Protocol):
    async def exposition(self) -> tuple[bytes, str]:
        """The metrics in the Prometheus text format, and its media type."""
        ...


@router.get("/health", summary="Liveness: 200 while the node runs")
async def health() -> dict[str, Any]:
    return {"status": "ok"}


@router.get(
    "/ready",
    summary="Readiness: 200 when the node can take traffic, 503 naming what is not ready",
    responses={503: {"description": "Not ready: a problem document listing `not_ready`"}},
)
async def ready(request: Request) -> Response:
    check: ReadinessCheck | None = getattr(request.app.state, "readiness", None)
    reasons = {} if check is None else await check.not_ready()
    if not reasons:
        return Response(
            content=b'{"status":"ready"}', media_type="application/json", status_code=200
        )
    detail = "; ".join(f"{part}: {why}" for part, why in reasons.items())
    return problem_response(
        503,
        "not-ready",
        detail,
        instance=request.url.path,
        headers={"Retry-After": "5"},
        not_ready=[{"part": part, "reason": why} for part, why in reasons.items()],
    )


@router.get(
    "/metrics",
    summary="Metrics in the Prometheus text format",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}}},
)
async def metrics(request: Request) -> Response:
    source: MetricsSource | None = getattr(request.app.state, "metrics", None)
    if source is None:
        return problem_response(
            404, "not-found", "this node serves no metrics", instance=request.url.path
        )
    body, media_type = await source.exposition()
    return Response(content=body, media_type=media_type)
