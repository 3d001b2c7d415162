"""The node's policy engine: the rules of `[routing] policy_file` (routing's `RulePolicy`) when
the configuration names one, else today's prefix routing (`PrefixPolicy`); either way over the
same Router the scheduler uses, whose prefix routing also routes what no rule routes.

The node builds one engine (`node_policy`) that its acceptor and scheduler ask for every
message (engine/decisions.py) and that the policy server serves (`served_policy`): one set of
route health, velocity counters and opt-outs, fed by the node's own attempts. Also used by
`opensmsc route explain` (cli/route.py).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from opensmsc.config import Config
from opensmsc.routing import (
    LOOPBACK,
    AccountPolicies,
    Decision,
    LoopbackRoute,
    NumberPortability,
    PolicyEngine,
    PrefixPolicy,
    RouteQuery,
    Router,
    RouteReport,
    RulePolicy,
    rules_loader,
)
from opensmsc.smpp import CommandStatus

__all__ = [
    "KnownAccounts",
    "node_policy",
    "policy_engine",
    "route_names",
    "rule_policy",
    "served_policy",
    "standin_router",
]


def route_names(config: Config) -> set[str]:
    """The routes a policy may name: the loopback, the simulated network, the connectors."""
    return {LOOPBACK, "network", *(client.name for client in config.smpp.client)}


def rule_policy(
    config: Config,
    *,
    router: Router,
    policies: AccountPolicies | None = None,
    portability: NumberPortability | None = None,
) -> RulePolicy:
    """The RulePolicy of `config.routing.policy_file` (which must be set). Raises ConfigError
    (a PolicyFileError with every error) for a bad policy file."""
    path = config.routing.policy_file
    if path is None:
        raise ValueError("no [routing] policy_file")
    return RulePolicy(
        rules_loader(path, routes=route_names(config)),
        portability=portability,
        fallback=PrefixPolicy(router, policies),
    )


def policy_engine(
    config: Config,
    *,
    router: Router,
    policies: AccountPolicies | None = None,
    portability: NumberPortability | None = None,
) -> PolicyEngine:
    if config.routing.policy_file is None:
        return PrefixPolicy(router, policies)
    return rule_policy(config, router=router, policies=policies, portability=portability)


def standin_router(config: Config) -> Router:
    """The Router of `[routing]` with a stand-in for each route, for tools that decide without
    running the node (`route explain`): the names matter, not the routes."""
    return Router(
        {name: LoopbackRoute(name) for name in route_names(config)},
        default_route=config.routing.default_route,
        prefixes=[(route.prefix, route.route) for route in config.routing.routes],
    )


def node_policy(
    config: Config, *, portability: NumberPortability | None = None
) -> Callable[[Router], PolicyEngine]:
    """What makes the node's engine over the engine's Router (StoreAndForward's `policy`). No
    account check: the front doors authenticated the account already, and the simulated
    network's person-to-person MT comes from a pseudo-account. Raises ConfigError for a bad
    policy file when called."""

    def make(router: Router) -> PolicyEngine:
        return policy_engine(config, router=router, portability=portability)

    return make


def served_policy(node: PolicyEngine, router: Router, policies: AccountPolicies) -> PolicyEngine:
    """The engine the policy server answers from: the node's own rule engine (so its answers
    follow the node's route health) refusing accounts the configuration does not name, or
    without a policy file the prefix routing with that check."""
    if isinstance(node, RulePolicy):
        return KnownAccounts(node, policies)
    return PrefixPolicy(router, policies)


class KnownAccounts:
    """A PolicyEngine that answers ESME_RINVSYSID for an account `policies` does not name
    (when it names any) and asks `engine` for the others; reports go to `engine`."""

    def __init__(self, engine: PolicyEngine, policies: AccountPolicies) -> None:
        self.engine = engine
        self._accounts = frozenset(policies.system_ids)

    def decide(self, query: RouteQuery, now: datetime) -> Decision:
        if self._accounts and query.account not in self._accounts:
            return Decision.reject(
                CommandStatus.ESME_RINVSYSID, f'unknown account "{query.account}"'
            )
        return self.engine.decide(query, now)

    def report(self, report: RouteReport, now: datetime) -> None:
        self.engine.report(report, now)
