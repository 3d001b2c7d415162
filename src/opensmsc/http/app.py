"""The HTTP admin interface: an ASGI application factory.

What this is for: `create_app(network=...)` returns the FastAPI app app.py serves with
http/server.HttpServer (and tests drive with Starlette's TestClient or httpx): the operations
endpoints /health, /ready and /metrics (http/routes/ops.py), the HLR lookup service and the
simulated network's administration (http/routes/network.py), the routing policy's summary and
reload (http/routes/policy.py), the web console under /console (http/routes/console.py, its
files in http/console/), with every error as an RFC 9457 problem document
(http/problems.py). The services it reaches are given to the
factory and kept on `app.state`; routes read them through dependencies, never through globals.

The `/docs` page (Swagger UI) loads its script and style from this node (`/docs/assets/`, the
files of the fastapi-offline package), never from a public CDN: it renders on an offline
management network.

What it is not: a listener (http/server.py) or business logic (it calls the network's API).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from opensmsc import __version__
from opensmsc.network import HlrLookup, SimulatedNetwork

from . import problems
from .admin_auth import AdminAuth, AdminAuthMiddleware
from .docs import install_docs
from .routes import admin_cluster as cluster_routes
from .routes import admin_config as admin_config_routes
from .routes import admin_messages as messages_routes
from .routes import admin_status as status_routes
from .routes import admin_trail as trail_routes
from .routes import console as console_routes
from .routes import imps as imps_routes
from .routes import network as network_routes
from .routes import ops as ops_routes
from .routes import policy as policy_routes
from .routes.admin_cluster import ClusterSource
from .routes.admin_config import ConfigAdmin
from .routes.admin_messages import MessagesAdmin
from .routes.admin_status import PduFeed, SessionAmbiguous, StatusSource
from .routes.admin_trail import TrailSource
from .routes.imps import ImpsAdmin
from .routes.ops import MetricsSource, ReadinessCheck
from .routes.policy import PolicyAdmin

__all__ = [
    "AdminAuth",
    "ClusterSource",
    "ConfigAdmin",
    "ImpsAdmin",
    "MessagesAdmin",
    "MetricsSource",
    "PduFeed",
    "ReadinessCheck",
    "SessionAmbiguous",
    "StatusSource",
    "TrailSource",
    "create_app",
]


def create_app(
    *,
    network: SimulatedNetwork | None,
    lookup: HlrLookup | None = None,
    readiness: ReadinessCheck | None = None,
    metrics: MetricsSource | None = None,
    policy: PolicyAdmin | None = None,
    imps: ImpsAdmin | None = None,
    auth: AdminAuth | None = None,
    config_admin: ConfigAdmin | None = None,
    status: StatusSource | None = None,
    trail: TrailSource | None = None,
    messages: MessagesAdmin | None = None,
    cluster: ClusterSource | None = None,
) -> FastAPI:
    """The admin API over `network`. `lookup` answers GET /v1/hlr (by default the network's,
    which masks the MSIN as public lookup services do, unless configured otherwise). The
    subscriber admin routes always show the whole IMSI. Without a network (a node that does
    not use the simulator) the network routes are not served. /health is always served;
    /ready answers from `readiness` (ready when there is none), /metrics from `metrics` (404
    when there is none). `policy`: the node's routing policy, for GET /v1/policy and
    POST /v1/policy/reload (http/routes/policy.py). `imps`: the IMPS service's users and
    figures (http/routes/imps.py), served only on a node with `[imps]` enabled. `auth`: the
    admin token and whether it is required (http/admin_auth.py); none, open to all (tests),
    and no web console (http/routes/console.py), whose login needs the token.
    `status`: the node's live status, history, events and session tails
    (http/routes/admin_status.py). `config_admin`: the live configuration (accounts,
    connectors, routes, export, reload: http/routes/admin_config.py). `trail`: the messages'
    trails (http/routes/admin_trail.py), on a node with a store. `messages`: the operator's
    messages (http/routes/admin_messages.py): list, show, cancel, retry, expire, send.
    `cluster`: the cluster's nodes (http/routes/admin_cluster.py), on a node with [cluster]."""
    app = FastAPI(
        title="opensmsc admin",
        version=__version__,
        docs_url=None,  # served below, from our own assets
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    problems.install(app)
    if auth is not None:
        app.add_middleware(AdminAuthMiddleware, auth=auth)
    app.state.auth = auth
    app.state.readiness = readiness
    app.state.metrics = metrics
    app.include_router(ops_routes.router)
    if network is not None:
        app.state.network = network
        app.state.lookup = lookup or network.lookup
        app.include_router(network_routes.router)
    if policy is not None:
        app.state.policy = policy
        app.include_router(policy_routes.router)
    if imps is not None:
        app.state.imps = imps
        app.include_router(imps_routes.router)
    if config_admin is not None:
        app.state.config_admin = config_admin
        app.include_router(admin_config_routes.router)
    if status is not None:
        app.state.status = status
        app.include_router(status_routes.router)
    if trail is not None:
        app.state.trail = trail
        app.include_router(trail_routes.router)
    if messages is not None:
        app.state.messages = messages
        app.include_router(messages_routes.router)
    if cluster is not None:
        app.state.cluster = cluster
        app.include_router(cluster_routes.router)

    if auth is not None:
        # The console's login checks the node's token: without one there is nothing to log in to.
        app.include_router(console_routes.router)
    install_docs(app)

    @app.get("/v1/health", tags=["node"])
    async def health() -> dict[str, Any]:
        return {"status": "ok", "version": __version__}

    return app
