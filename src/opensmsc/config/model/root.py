"""`Config`, the whole file, and `[smpp]`, which holds the server and the connectors; the
rules that span sections (names used twice, routes to connectors that do not exist)."""

from __future__ import annotations

from dataclasses import dataclass, field

from opensmsc.config.model.accounts import AccountConfig
from opensmsc.config.model.http import HttpConfig
from opensmsc.config.model.network import NetworkConfig
from opensmsc.config.model.node import LoggingConfig, NodeConfig, StoreConfig
from opensmsc.config.model.policyd import PolicydConfig
from opensmsc.config.model.routing import RoutingConfig
from opensmsc.config.model.smpp_client import SmppClientConfig
from opensmsc.config.model.smpp_server import SmppServerConfig
from opensmsc.config.rules import Problem, duplicates


@dataclass(frozen=True, slots=True, kw_only=True)
class SmppConfig:
    """`[smpp]`: holds `[smpp.server]` and the `[[smpp.client]]` connectors."""

    server: SmppServerConfig = field(default_factory=SmppServerConfig)
    client: tuple[SmppClientConfig, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Config:
    """The whole file. `Config()` is the embedded default: no accounts, no connectors."""

    node: NodeConfig = field(default_factory=NodeConfig)
    logging: LoggingConfig = field(default_factory=LoggingConfig)
    smpp: SmppConfig = field(default_factory=SmppConfig)
    accounts: tuple[AccountConfig, ...] = ()
    store: StoreConfig = field(default_factory=StoreConfig)
    routing: RoutingConfig = field(default_factory=RoutingConfig)
    # None without a `[network]` section: the simulator is then built only if a route uses it.
    network: NetworkConfig | None = None
    http: HttpConfig = field(default_factory=HttpConfig)
    policyd: PolicydConfig = field(default_factory=PolicydConfig)

    def problems(self) -> list[Problem]:
        return [
            *duplicates(self.accounts, "system_id", ("accounts",)),
            *duplicates(self.smpp.client, "name", ("smpp", "client")),
            *self._route_problems(),
        ]

    def _route_problems(self) -> list[Problem]:
        # A route names the loopback or a connector; a typo must not silently drop traffic.
        # "network": the simulated mobile network (issue 6).
        known = {"loopback", "network", *(client.name for client in self.smpp.client)}
        expected = ", ".join(f'"{name}"' for name in sorted(known))
        found: list[Problem] = []
        if self.routing.default_route not in known:
            found.append(
                Problem(
                    ("routing", "default_route"),
                    f'"{self.routing.default_route}" is no route; expected one of: {expected}',
                )
            )
        for index, route in enumerate(self.routing.routes):
            if route.route not in known:
                found.append(
                    Problem(
                        ("routing", "routes", index, "route"),
                        f'"{route.route}" is no route; expected one of: {expected}',
                    )
                )
        return found
