"""`[routing]`: where MT messages go."""

from __future__ import annotations

from dataclasses import dataclass

from opensmsc.config.rules import DigitPrefix, ExistingFile, Name, Problem, duplicates


@dataclass(frozen=True, slots=True, kw_only=True)
class RouteConfig:
    """`[[routing.routes]]`: MT to destinations starting with `prefix` go by `route`."""

    prefix: DigitPrefix
    route: Name  # "loopback" or a [[smpp.client]] name
    enabled: bool = True  # false: kept in the file (or the live changes), routing nothing


@dataclass(frozen=True, slots=True, kw_only=True)
class RoutingConfig:
    """`[routing]`: where MT messages go, until the routing issue replaces it."""

    default_route: Name = "network"
    routes: tuple[RouteConfig, ...] = ()
    # The rules of issue 11 (docs/policy.md); relative to this file's folder.
    policy_file: ExistingFile | None = None

    def problems(self) -> list[Problem]:
        return [
            Problem(p.key, p.message.replace("by routes[", "by routing.routes["))
            for p in duplicates(self.routes, "prefix", ("routes",))
        ]
