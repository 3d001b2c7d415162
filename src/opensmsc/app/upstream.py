"""Upstream connectors: `[[smpp.client]]` → one connector each, and the route of that name;
their receipts settle our messages, their MO is stored for the account it is for (`MoIngress`,
which the simulated network's handsets use too).

Each connector is a route ([routing] names them). What our portability query finds travels
upstream in the SMPP 5.0 dest_addr_np_* TLVs (`np_lookup`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from opensmsc.accounts import TokenBucket
from opensmsc.app.accounts import DEMO_SYSTEM_ID
from opensmsc.app.connector_settings import settings_from_config
from opensmsc.config import Config, SmppClientConfig
from opensmsc.engine import StoreAndForward
from opensmsc.routing import (
    AccountPolicies,
    Numbering,
    NumberPortability,
    PortabilityTable,
    np_tlvs_for,
)
from opensmsc.smpp import ReceiptInfo
from opensmsc.smsc import SessionRegistry
from opensmsc.upstream import (
    ConnectorOptions,
    ConnectorRoute,
    Connectors,
    MoIngress,
    MoObserver,
    NpLookup,
    SmppConnector,
    UpstreamReceipts,
    resolve_password,
)

__all__ = ["UpstreamService", "mo_ingress", "mo_routing", "np_lookup_for"]

log = logging.getLogger(__name__)


def mo_ingress(
    config: Config,
    engine: StoreAndForward,
    registry: SessionRegistry,
    policies: AccountPolicies,
    *,
    observe: MoObserver | None = None,
) -> MoIngress:
    """Where MO goes: the account whose `mo_prefixes` match, else a bound receiver's
    address_range, else the default account (upstream/mo.py): the one with `mo_prefixes =
    [""]`, or the demo account when no account is configured, so that an MO to a short code
    reaches whoever binds as the demo account."""
    prefixes, default = mo_routing(config)
    return MoIngress(
        engine.store,
        prefixes=prefixes,
        sessions=lambda: registry,
        new_id=engine.ids.next,
        wake=engine.wake_due,
        validity=lambda system_id: policies(system_id).default_validity,
        default_account=default,
        observe=observe,
    )


def mo_routing(config: Config) -> tuple[list[tuple[str, str]], str | None]:
    """The (prefix, system_id) pairs of the enabled accounts' `mo_prefixes`, and the default
    account (mo_ingress; a reload gives them to MoIngress.set_routing)."""
    enabled = [a for a in config.accounts if a.enabled]
    default = next((a.system_id for a in enabled if "" in a.mo_prefixes), None)
    if not config.accounts:
        default = DEMO_SYSTEM_ID
    return [(p, a.system_id) for a in enabled for p in a.mo_prefixes if p], default


def np_lookup_for(portability: NumberPortability | None) -> NpLookup | None:
    """The dest_addr_np_* TLVs our portability data gives a destination. Without the simulated
    network's data (no [network] section, no route to it), an empty table: every number
    answers "queried, not ported", as a node with no porting data configured always did."""
    if portability is None:
        portability = NumberPortability(PortabilityTable(numbering=Numbering()))
    return np_tlvs_for(portability)


class UpstreamService:
    """The connectors: built with their routes, bound upstream at start, unbound at stop."""

    name = "upstream connectors"

    def __init__(
        self,
        config: Config,
        *,
        engine: StoreAndForward,
        mo: MoIngress,
        np_lookup: NpLookup | None,
        clustered: bool = False,
        throughput_bucket: Callable[[str, float, float], TokenBucket] | None = None,
    ) -> None:
        self._clients = config.smpp.client
        # In a cluster the connectors are registered but not started here: each runs on the
        # nodes holding one of its `cluster_binds` slots (app/cluster.py, cluster/ownership.py).
        self._clustered = clustered
        self._binds = {c.name: c.cluster_binds for c in config.smpp.client if c.enabled}
        self._engine = engine
        self._np_lookup = np_lookup
        # A bind retries what waits for the connector at once (issue 10 item 4).
        self.connectors = Connectors(
            on_receipt=self._on_receipt,
            on_mo=mo.on_mo,
            on_bound=engine.scheduler.route_up,
            # In a cluster each connector's rate is shared by the nodes that run it.
            options=None
            if throughput_bucket is None
            else ConnectorOptions(throughput_bucket=throughput_bucket),
        )
        for client in self._clients:
            self._add_route(client.name)
        self.receipts = UpstreamReceipts(engine.store, engine.lifecycle, self.connectors)

    def cluster_binds(self) -> dict[str, int]:
        """The enabled connectors and how many nodes of a cluster bind each, as reloads leave
        them."""
        return dict(self._binds)

    def _add_route(self, name: str) -> None:
        engine = self._engine
        engine.router.add(
            ConnectorRoute(self.connectors, name, engine.store, np_lookup=self._np_lookup)
        )

    # ---- reloads: a connector's stored messages wait for it by name, whatever happens to it.

    @staticmethod
    def check_connector(client: SmppClientConfig) -> None:
        """Raise ConfigError when a connector could not be built or bind as configured (its
        password_file unreadable, its password_env unset, a bind its version cannot do): a
        reload checks before it changes anything."""
        settings = settings_from_config(client)
        resolve_password(settings)
        SmppConnector(settings)  # built, not started: its checks run, nothing connects

    async def add_connector(self, client: SmppClientConfig) -> None:
        """Start a connector added while the node runs, and route to it. Raises ConfigError
        when its password or TLS files cannot be loaded (it is then not added)."""
        await self.connectors.add(settings_from_config(client))
        if client.enabled:
            self._binds[client.name] = client.cluster_binds
        self._engine.scheduler.set_route_window(client.name, client.window)
        self._add_route(client.name)

    async def remove_connector(self, name: str) -> None:
        """Stop routing to the connector, then stop it once what it has in flight is answered
        (Connectors.remove: its drain), and forget it."""
        self._engine.router.remove(name)
        self._binds.pop(name, None)
        await self.connectors.remove(name)
        self._engine.scheduler.set_route_window(name, None)

    async def replace_connector(self, client: SmppClientConfig) -> None:
        """Restart a changed connector with its new settings: the old one drains and unbinds,
        the new one binds; messages for it wait meanwhile (the route says it is not bound)."""
        if client.name in self.connectors:
            self._binds.pop(client.name, None)
            await self.connectors.remove(client.name)
        await self.add_connector(client)

    async def _on_receipt(self, connector: str, our_id: str | None, info: ReceiptInfo) -> None:
        await self.receipts.on_receipt(connector, our_id, info)

    async def start(self) -> None:
        try:
            for client in self._clients:
                await self.connectors.add(settings_from_config(client))
            if not self._clustered:
                await self.connectors.start_all()
        except BaseException:
            await self.connectors.stop_all()
            raise

    async def stop(self) -> None:
        await self.connectors.stop_all()
