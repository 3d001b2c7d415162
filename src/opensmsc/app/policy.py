"""The node's policy engine: the rules of `[routing] policy_file` (routing's `RulePolicy`) when
the configuration names one, else today's prefix routing (`PrefixPolicy`); either way over the
same Router the scheduler uses, whose prefix routing also routes what no rule routes.

Used by the policy server (app/node.py) and `opensmsc route explain` (cli/route.py). Wiring
the engine into the scheduler and the acceptor is for later (issue 11).
"""

from __future__ import annotations

from opensmsc.config import Config
from opensmsc.routing import (
    LOOPBACK,
    AccountPolicies,
    LoopbackRoute,
    NumberPortability,
    PolicyEngine,
    PrefixPolicy,
    Router,
    RulePolicy,
    rules_loader,
)

__all__ = ["policy_engine", "route_names", "rule_policy", "standin_router"]


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
