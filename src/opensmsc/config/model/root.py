"""`Config`, the whole file, and `[smpp]`, which holds the server and the connectors; the
rules that span sections (names used twice, routes to connectors that do not exist)."""

from __future__ import annotations

from dataclasses import dataclass, field

from opensmsc.config.model.accounts import AccountConfig
from opensmsc.config.model.api import ApiConfig
from opensmsc.config.model.cdr import CdrConfig
from opensmsc.config.model.cluster import ClusterConfig
from opensmsc.config.model.http import HttpConfig
from opensmsc.config.model.imps import ImpsConfig
from opensmsc.config.model.network import NetworkConfig
from opensmsc.config.model.node import LoggingConfig, NodeConfig, StoreConfig
from opensmsc.config.model.policy_client import PolicyClientConfig
from opensmsc.config.model.policyd import PolicydConfig
from opensmsc.config.model.routing import RoutingConfig
from opensmsc.config.model.smpp_client import SmppClientConfig
from opensmsc.config.model.smpp_server import SmppServerConfig
from opensmsc.config.rules import Checks, Problem, duplicates


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
    api: ApiConfig = field(default_factory=ApiConfig)
    policyd: PolicydConfig = field(default_factory=PolicydConfig)
    policy_client: PolicyClientConfig = field(default_factory=PolicyClientConfig)
    imps: ImpsConfig = field(default_factory=ImpsConfig)
    cdr: CdrConfig = field(default_factory=CdrConfig)
    # None without a `[cluster]` section: the embedded single node on its own SQLite store.
    cluster: ClusterConfig | None = None

    def problems(self) -> list[Problem]:
        checks = Checks()
        with checks.rule():
            checks.extend(duplicates(self.accounts, "system_id", ("accounts",)))
        with checks.rule():
            checks.extend(duplicates(self.smpp.client, "name", ("smpp", "client")))
        with checks.rule():
            self._check_routes(checks)
        with checks.rule():
            self._check_default_mo_account(checks)
        with checks.rule():
            checks.extend(self._api_key_problems())
        with checks.rule():
            self._check_imps_account(checks)
        return checks.found

    def _check_imps_account(self, checks: Checks) -> None:
        # IMPS stores its messages under the pseudo-account "imps" (imps/binding.py): an ESME
        # account of that name would receive them.
        if not self.imps.enabled:
            return
        for index, account in enumerate(self.accounts):
            with checks.rule():
                if account.system_id == "imps":
                    checks.add(
                        ("accounts", index, "system_id"),
                        '"imps" is the IMPS service\'s own account while [imps] is enabled',
                    )

    def _check_default_mo_account(self, checks: Checks) -> None:
        # `mo_prefixes = [""]` makes an account the default for MO: there can be only one.
        first: int | None = None
        for index, account in enumerate(self.accounts):
            with checks.rule():
                if "" not in account.mo_prefixes:
                    continue
                if first is None:
                    first = index
                    continue
                checks.add(
                    ("accounts", index, "mo_prefixes"),
                    f'"" (the default MO account) is already accounts[{first}]',
                )

    def _api_key_problems(self) -> list[Problem]:
        # A key names its account; one listed under two accounts would name neither.
        owner: dict[str, str] = {}
        found: list[Problem] = []
        for index, account in enumerate(self.accounts):
            for position, digest in enumerate(account.api_keys):
                first = owner.setdefault(digest, account.system_id)
                if first != account.system_id:
                    found.append(
                        Problem(
                            ("accounts", index, "api_keys", position),
                            f'is also an API key of account "{first}"',
                        )
                    )
        return found

    def _check_routes(self, checks: Checks) -> None:
        # A route names the loopback or a connector; a typo must not silently drop traffic.
        # "network": the simulated mobile network (issue 6).
        known = {"loopback", "network", *(client.name for client in self.smpp.client)}
        expected = ", ".join(f'"{name}"' for name in sorted(known))
        with checks.rule():
            if self.routing.default_route not in known:
                checks.add(
                    ("routing", "default_route"),
                    f'"{self.routing.default_route}" is no route; expected one of: {expected}',
                )
        for index, route in enumerate(self.routing.routes):
            with checks.rule():
                if route.route not in known:
                    checks.add(
                        ("routing", "routes", index, "route"),
                        f'"{route.route}" is no route; expected one of: {expected}',
                    )
