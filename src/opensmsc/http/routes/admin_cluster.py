"""The cluster on the admin listener (issue 14): `GET /v1/admin/cluster` lists the live nodes,
their bound sessions per account, the connectors each holds and their load, as this node sees
them (its membership view, at most a second old). Served only on a node with `[cluster]`.

What it is not: where the view comes from (app/cluster.py implements `ClusterSource`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, cast

from fastapi import APIRouter, Request

__all__ = ["ClusterSource", "router"]

router = APIRouter(tags=["cluster"])


class ClusterSource(Protocol):
    """The cluster as this node sees it (app/cluster.py ClusterService)."""

    def cluster(self) -> Mapping[str, Any]: ...


@router.get("/v1/admin/cluster", summary="The cluster's nodes, their sessions and load")
async def cluster(request: Request) -> Mapping[str, Any]:
    return cast(ClusterSource, request.app.state.cluster).cluster()
