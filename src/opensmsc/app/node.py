"""`start(config)`: one `Config` in, a running node out, its services in the order they started.

The order, and why:

0. the lock on the data folder (app/data.py): one node per store; then the live changes kept
   there (app/live_config.py), put on top of the file: every service below starts with that;
   with `[cluster]`, the NATS connection (app/cluster.py BusService: it connects in the
   background, the node starts without it);
1. the engine: the store opened (created, migrated) in `node.data_dir`; everything else is
   given the engine; then its policy's reload and opt-outs (app/policy.py NodePolicy, the
   opt-outs restored from data_dir), which sees every MO from then on; with `[policy_client]`
   the remote policy servers (app/policy_client.py), which decide instead of the engine's
   policy from then on (closed after the front doors);
2. the simulated network, when something uses it (app/network.py), as the route "network";
   then IMPS (`[imps]`, app/imps.py), which claims its MO before any can arrive;
3. the upstream connectors, as the routes of their names;
4. the SMPP listeners: ESMEs can bind once every route exists;
5. the HTTP API (`[api]`), the other front door, on the same engine and accounts;
   the webhook sender after it (when the API or an account's webhook_url can owe webhooks);
6. the policy server on 3055 (app/policyd.py), serving the engine's own policy (app/policy.py)
   once every route is in;
6b. with `[cluster]`, the node joins the cluster (app/cluster.py ClusterService: membership,
   wake-ups, connector slots: the connectors start on the nodes that hold a slot);
7. the HTTP admin API, with the node's readiness check (app/readiness.py: the store and the
   listeners above), its metrics (app/metrics.py: the engine counts its messages into them
   from the start) and its live status (app/status.py, its sampler started just before);
8. the engine's work: the scheduler starts sending once everything is there.

Once the services a reload changes exist, the live configuration is given its Reloader
(app/reload.py): SIGHUP, `POST /v1/admin/reload` and the admin API's changes go through it.

`RunningSmsc.stop()` stops them in the reverse order: the scheduler first, then sessions are
unbound, connectors unbind upstream, alerts under way reach the store, the store closes, and
the data folder is let go last.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from opensmsc.accounts import Authenticator
from opensmsc.app.accounts import accounts_from_config, policies_from_config
from opensmsc.app.admin import AdminService
from opensmsc.app.api import ApiService
from opensmsc.app.cluster import BusService, ClusterParts, ClusterService
from opensmsc.app.data import DataFolderLock
from opensmsc.app.engine import EngineService, EngineWork
from opensmsc.app.live_config import LiveConfig
from opensmsc.app.messages import NodeMessages
from opensmsc.app.metrics import MessageMetrics, NodeMetrics
from opensmsc.app.network import NetworkService, uses_network
from opensmsc.app.policy import NodePolicy, RouteNames, node_policy, route_names, served_policy
from opensmsc.app.policy_client import PolicyClientService
from opensmsc.app.policyd import PolicydService
from opensmsc.app.readiness import Readiness
from opensmsc.app.reload import ConfigReader, LiveParts, Reloader
from opensmsc.app.service import Services
from opensmsc.app.simulated_hlr import build_hlr
from opensmsc.app.smsc import OutbindLink, SmscService
from opensmsc.app.status import NodeStatus
from opensmsc.app.trail import NodeTrail
from opensmsc.app.upstream import UpstreamService, mo_ingress, np_lookup_for
from opensmsc.app.webhooks import WebhookService, uses_webhooks
from opensmsc.config import Config, LoggingConfig
from opensmsc.engine import StoreAndForward
from opensmsc.network import SimulatedNetwork
from opensmsc.smsc import SessionRegistry, SmscServices
from opensmsc.transport import SmppServer
from opensmsc.upstream import Connectors

if TYPE_CHECKING:
    # Imported when [imps] is enabled only: a node without IMPS loads none of it.
    from opensmsc.app.imps import ImpsNodeService

__all__ = ["RunningSmsc", "start"]


@dataclass(frozen=True, slots=True, kw_only=True)
class RunningSmsc:
    """What `start()` returns: the started services (`started`, in start order) and the parts
    tools and tests reach into."""

    started: Services
    engine: StoreAndForward
    smsc: SmscService
    upstream: UpstreamService
    network: SimulatedNetwork | None  # None when nothing uses the simulated network
    admin: AdminService | None  # None when [http] is disabled
    api: ApiService | None = None  # None when [api] is disabled
    policyd: PolicydService | None = None  # None when [policyd] is disabled
    policy: NodePolicy | None = None  # the node's policy engine, its reload and opt-outs
    policy_client: PolicyClientService | None = None  # None without [policy_client] enabled
    webhooks: WebhookService | None = None  # None when nothing can owe a webhook
    imps: ImpsNodeService | None = None  # None when [imps] is disabled
    readiness: Readiness | None = None  # what /ready answers
    metrics: NodeMetrics | None = None  # what /metrics answers
    live: LiveConfig | None = None  # the file with the live changes on top, and its reloads
    status: NodeStatus | None = None  # what /v1/admin/status answers; None without [http]
    cluster: ClusterService | None = None  # None without [cluster]

    @property
    def ports(self) -> dict[str, int]:
        """The bound ports by listener: "smpp", "smpps", "http", "api", "policyd",
        "policyd_http"."""
        ports = dict(self.smsc.ports)
        if self.api is not None and self.api.port is not None:
            ports["api"] = self.api.port
        if self.admin is not None and self.admin.port is not None:
            ports["http"] = self.admin.port
        if self.policyd is not None and self.policyd.port is not None:
            ports["policyd"] = self.policyd.port
        if self.policyd is not None and self.policyd.http_port is not None:
            ports["policyd_http"] = self.policyd.http_port
        return ports

    @property
    def tls_fingerprint(self) -> str | None:
        return self.smsc.tls_fingerprint

    @property
    def server(self) -> SmppServer:
        return self.smsc.server

    @property
    def services(self) -> SmscServices:
        """What the ESME sessions share (authenticator, registry, engine)."""
        return self.smsc.services

    @property
    def connectors(self) -> Connectors:
        return self.upstream.connectors

    @property
    def draining(self) -> bool:
        return self.smsc.services.draining

    async def stop(self) -> None:
        await self.started.stop()

    async def drain(self, timeout: float) -> None:
        """Stop within about `timeout` seconds, losing nothing (what SIGTERM does): no new
        connections or binds, new submits answered ESME_RTHROTTLED, every request already
        received answered, then sessions unbound (unbind, unbind_resp awaited for what is
        left of the bound), the connectors unbound and the store closed, as `stop()`."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        self.smsc.begin_drain()
        # Answers first, with most of the bound; the unbind handshakes get the rest (at least
        # a second: an ESME answers an unbind at once, or never).
        await self.smsc.settled(deadline - min(1.0, timeout / 2))
        # Unbound here, before the services stop in turn: the admin API (and `opensmsc
        # status`, which shows the drain) answers until every session is gone.
        await self.smsc.unbind_sessions(max(0.5, deadline - loop.time()))
        await self.stop()


async def start(
    config: Config,
    *,
    read: ConfigReader | None = None,
    apply_logging: Callable[[LoggingConfig], None] | None = None,
    config_dir: Path | None = None,
) -> RunningSmsc:
    """Start every service the configuration asks for; returns once all listen. When one fails
    to start, the ones already started are stopped and its error is raised. `read` reads the
    configuration file again (reloads; None: there is none), `apply_logging` sets logging up
    again after a reload changed it, `config_dir` is the file's folder (relative paths in live
    changes)."""
    loop = asyncio.get_running_loop()
    registry = SessionRegistry()
    outbind = OutbindLink()
    messages = MessageMetrics()
    services = Services()
    try:
        await services.start(DataFolderLock(config.node.data_dir))
        # The file with the admin API's live changes on top: what every service starts with.
        live = await services.start(LiveConfig(config, read=read, base_dir=config_dir))
        config = live.config
        server_config = config.smpp.server
        # [cluster]: the bus and what the services below share through it (app/cluster.py).
        cluster_parts = None if config.cluster is None else ClusterParts.build(config.cluster)
        if cluster_parts is not None:
            await services.start(BusService(cluster_parts.bus))
        authenticator = Authenticator(
            accounts_from_config(config),
            buckets=None if cluster_parts is None else cluster_parts.account_bucket,
            clock=loop.time,
            failure_base_delay=server_config.bind_failure_delay or 0.0,
            failure_max_delay=server_config.bind_failure_max_delay or 0.0,
        )
        policies = policies_from_config(config)
        # The simulated HLR first: its portability data gives the policy a ported number's
        # network.
        hlr = build_hlr(config.network) if uses_network(config) else None
        portability = None if hlr is None else hlr.portability
        # What a policy file may name; reloads keep it current (a connector added live).
        route_list = RouteNames(route_names(config))
        engine = (
            await services.start(
                EngineService(
                    config,
                    receivers=registry,
                    policies=policies,
                    outbind=outbind,
                    policy=node_policy(config, portability=portability, routes=route_list),
                    observer=messages,
                    # The engine's hints to the other nodes, connected once the cluster starts.
                    cluster=None if cluster_parts is None else cluster_parts.link,
                )
            )
        ).engine
        # The engine's own policy, with its reload and its opt-outs (restored from data_dir).
        policy = await services.start(NodePolicy(config, engine.policy))
        policy_client = None
        if config.policy_client.enabled:
            # Remote policy servers decide from here on (the embedded engine is their
            # fallback, or nothing): up before the front doors, closed after them.
            policy_client = await services.start(
                PolicyClientService(config, decisions=engine.decisions, local=engine.policy)
            )
        mo = mo_ingress(config, engine, registry, policies, observe=policy.on_mo)
        network = None
        if uses_network(config):
            network = (
                await services.start(
                    NetworkService(
                        config.network,
                        data_dir=config.node.data_dir,
                        engine=engine,
                        mo=mo,
                        hlr=hlr,
                    )
                )
            ).network
        imps = None
        if config.imps.enabled:
            from opensmsc.app.imps import ImpsNodeService

            imps = await services.start(
                ImpsNodeService(config, engine=engine, mo=mo, sessions=registry)
            )
        upstream = await services.start(
            UpstreamService(
                config,
                engine=engine,
                mo=mo,
                np_lookup=np_lookup_for(portability),
                clustered=cluster_parts is not None,
                throughput_bucket=None if cluster_parts is None else cluster_parts.connector_bucket,
            )
        )
        smsc = await services.start(
            SmscService(
                config,
                engine=engine,
                authenticator=authenticator,
                registry=registry,
                outbind=outbind,
                cluster_binds=None if cluster_parts is None else cluster_parts.bind_slots,
            )
        )
        api = None
        if config.api.enabled:
            api = await services.start(
                ApiService(
                    config.api,
                    engine=engine,
                    authenticator=authenticator,
                    data_dir=config.node.data_dir,
                )
            )
        webhooks = None
        if uses_webhooks(config):
            webhooks = await services.start(WebhookService(config, engine=engine))
        policyd = None
        if config.policyd.enabled:
            policyd = await services.start(
                PolicydService(
                    config.policyd,
                    engine=served_policy(engine.policy, engine.router, policies),
                    node=config.node.name,
                    data_dir=config.node.data_dir,
                )
            )
        readiness = Readiness(engine.store, _listeners(smsc, api, policyd))
        metrics = NodeMetrics(
            messages,
            engine=engine,
            sessions=registry,
            smpp=smsc.server,
            connectors=upstream.connectors,
            webhooks=None if webhooks is None else webhooks.sender,
            now=loop.time,
            smsc=smsc.services,
        )
        live.attach(
            Reloader(
                config,
                authenticator=authenticator,
                apply_logging=apply_logging,
                reload_policy=policy.reload,
                parts=LiveParts(
                    policies=policies,
                    smsc=smsc,
                    upstream=upstream,
                    router=engine.router,
                    mo=mo,
                    route_names=route_list,
                ),
            )
        )
        admin: AdminService | None = None
        cluster = None
        if cluster_parts is not None:
            # After the listeners and connectors it announces; before the admin API that
            # shows it and the engine's work that sends it hints.
            cluster = await services.start(
                ClusterService(
                    cluster_parts,
                    engine=engine,
                    registry=registry,
                    connectors=upstream.connectors,
                    cluster_binds=upstream.cluster_binds,
                    addresses=lambda: _addresses(config, smsc, api, admin),
                )
            )
        status = None
        if config.http.enabled:
            # Started before the admin API and stopped after it (its sampler), yet the admin
            # API ends its streams first: its own stop waits for its responses.
            status = await services.start(
                NodeStatus(
                    node=config.node.name,
                    metrics=metrics,
                    engine=engine,
                    sessions=registry,
                    connectors=upstream.connectors,
                    webhooks=None if webhooks is None else webhooks.sender,
                    show_short_message=config.logging.show_short_message,
                )
            )
            admin = await services.start(
                AdminService(
                    config.http,
                    network=network,
                    readiness=readiness,
                    metrics=metrics,
                    policy=policy,
                    imps=imps,
                    messages=NodeMessages(
                        engine,
                        authenticator,
                        show_text=config.logging.show_short_message,
                        now=loop.time,
                    ),
                    data_dir=config.node.data_dir,
                    config_admin=live,
                    status=status,
                    close_streams=status.close,
                    trail=NodeTrail(engine.store),
                    cluster=cluster,
                )
            )
        await services.start(
            EngineWork(engine, (a.system_id for a in config.accounts if a.enabled))
        )
    except BaseException:
        await services.stop()
        raise
    return RunningSmsc(
        started=services,
        engine=engine,
        smsc=smsc,
        upstream=upstream,
        network=network,
        admin=admin,
        api=api,
        policyd=policyd,
        policy=policy,
        policy_client=policy_client,
        webhooks=webhooks,
        imps=imps,
        readiness=readiness,
        metrics=metrics,
        live=live,
        status=status,
        cluster=cluster,
    )


def _addresses(
    config: Config, smsc: SmscService, api: ApiService | None, admin: AdminService | None
) -> dict[str, str]:
    """Where this node listens, for the other nodes and `opensmsc cluster status`."""
    host = config.http.bind_address
    found = {name: f"{config.smpp.server.bind_address}:{port}" for name, port in smsc.ports.items()}
    if api is not None and api.port is not None:
        found["api"] = f"{config.api.bind_address}:{api.port}"
    if admin is not None and admin.port is not None:
        found["http"] = f"{host}:{admin.port}"
    return found


def _serving(smsc: SmscService, name: str) -> bool:
    # A listener a reload closed is no failure: the configuration no longer asks for it.
    return name not in smsc.ports or smsc.server.serving(name)


def _listeners(
    smsc: SmscService, api: ApiService | None, policyd: PolicydService | None
) -> dict[str, Callable[[], bool]]:
    """Whether each listener the node started accepts connections, by the names of
    `RunningSmsc.ports`."""
    listeners: dict[str, Callable[[], bool]] = {
        name: partial(_serving, smsc, name) for name in smsc.ports
    }
    if api is not None:
        listeners["api"] = lambda: api.serving
    if policyd is not None:
        listeners["policyd"] = lambda: policyd.serving
        if policyd.http_serving is not None:
            listeners["policyd_http"] = lambda: bool(policyd.http_serving)
    return listeners
