"""Where a stored message goes next: the `Route` seam, the outcome of one delivery attempt, the
loopback route, and the `Router` that picks a route per message.

What this is for: the Scheduler (engine/scheduler.py) claims a due message from the store, asks
the Router for its route and awaits `route.attempt(record)`. The route answers with one of the
`Attempt` values below and the Scheduler turns that into a store transition (and a receipt when
one is owed). Routes never touch the store's lifecycle themselves: one place moves states.

What it is not: routing policy. Until the routing issue replaces it, the Router picks by the
longest destination_addr prefix from `[routing]` (config.RoutingConfig); mobile-originated
messages (direction MO) go to the Deliveries of their account, whatever the prefixes say.

Implementations of `Route`: `LoopbackRoute` (here), `engine.deliveries.Deliveries` (MO to an
ESME) and `engine.upstream.ConnectorRoute` (an upstream SMSC through a connector).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Final, Protocol

from opensmsc.routing.retry import ErrorClass
from opensmsc.smpp import MessageState
from opensmsc.store import Direction, StoredMessage

__all__ = [
    "LOOPBACK",
    "Accepted",
    "Attempt",
    "Delivered",
    "ImmediateRoute",
    "LoopbackRoute",
    "PermanentFailure",
    "Route",
    "Router",
    "TemporaryFailure",
]

LOOPBACK: Final = "loopback"  # the route name in [routing] and in stored records


@dataclass(frozen=True, slots=True)
class Delivered:
    """The message reached its destination: it becomes DELIVERED now."""


@dataclass(frozen=True, slots=True)
class Accepted:
    """An upstream SMSC took the message and gave it `upstream_id` (as it wrote it). The
    message stays ENROUTE, waiting for the upstream's receipt (engine.upstream.UpstreamReceipts
    settles it), until its validity ends; then it becomes EXPIRED. The route has already
    recorded the id mapping (`store.map_upstream_id`) before it returns this."""

    upstream_id: str


@dataclass(frozen=True, slots=True)
class TemporaryFailure:
    """Not delivered this time; try again on the retry schedule of `error_class`
    (store.retry.DEFAULT_POLICIES) until validity ends. `error` is what the store keeps as
    last_error and a receipt reports as err / network_error_code: a MAP error from the network,
    or the command_status an upstream answered. `route_fault`: the route's own trouble (down,
    throttled, congested), so another route may do better now (failover) and the policy counts
    it against the route; False for the destination's (an absent or busy subscriber)."""

    error: int
    error_class: ErrorClass = ErrorClass.TEMPORARY
    detail: str = ""
    route_fault: bool = True


@dataclass(frozen=True, slots=True)
class PermanentFailure:
    """Never deliverable: the message ends in `state` (UNDELIVERABLE, or REJECTED when a policy
    refused it) now, with `error` as for TemporaryFailure."""

    error: int
    state: MessageState = MessageState.UNDELIVERABLE
    detail: str = ""


Attempt = Delivered | Accepted | TemporaryFailure | PermanentFailure
"""The outcome of one delivery attempt."""


class Route(Protocol):
    """A way out for a stored message.

    `attempt` makes one delivery attempt and returns its outcome. It must not change the
    message's state in the store (the Scheduler does that with the outcome), must return
    TemporaryFailure rather than raise for anything retryable, and may take as long as the
    delivery takes (the Scheduler holds a lease on the message meanwhile). An exception that
    escapes is logged by the Scheduler and treated as a TemporaryFailure.
    """

    @property
    def name(self) -> str: ...

    async def attempt(self, record: StoredMessage) -> Attempt: ...


class ImmediateRoute(Route, Protocol):
    """A route that can often answer without waiting (loopback; the simulated network with no
    latency). `attempt_now` makes the attempt and returns its outcome when it needs no
    waiting, else returns None having done nothing (the Scheduler then awaits `attempt`).
    The Scheduler records the outcomes answered at once in one turn of the loop together
    (Lifecycle.finish_many: one store call, no task per message)."""

    def attempt_now(self, record: StoredMessage) -> Attempt | None: ...


class LoopbackRoute:
    """Delivers every message at once. The simulated mobile network (issue 6) replaces it
    behind the same protocol."""

    def __init__(self, name: str = LOOPBACK) -> None:
        self._name = name

    @property
    def name(self) -> str:
        return self._name

    async def attempt(self, record: StoredMessage) -> Attempt:
        return Delivered()

    def attempt_now(self, record: StoredMessage) -> Attempt | None:
        return _DELIVERED


_DELIVERED: Final = Delivered()


class Router:
    """Picks the route of a message: MO → its account's route (`add_mo_route`), else
    `mo_route`; MT → the route of the first claim that takes it (`add_claim`), else the route
    of the longest matching destination prefix, else `default_route`. Routes are looked up by
    name in `routes`.

    A name that `routes` does not hold (a connector that is not configured) makes `route_for`
    return None for those messages: the Scheduler ends them UNDELIVERABLE. The configuration
    check refuses such names at start, so this is for routes removed at runtime.
    """

    def __init__(
        self,
        routes: Mapping[str, Route],
        *,
        default_route: str = LOOPBACK,
        prefixes: Iterable[tuple[str, str]] = (),
        mo_route: Route | None = None,
    ) -> None:
        self._routes = dict(routes)
        self._default = default_route
        self._by_length = _by_length(prefixes)
        self._mo_route = mo_route
        self._mo_routes: dict[str, Route] = {}
        self._claims: list[tuple[Callable[[StoredMessage], bool], Route]] = []

    def add_mo_route(self, system_id: str, route: Route) -> None:
        """MO of `system_id` go by `route` (its webhook_url) rather than `mo_route`."""
        self._mo_routes[system_id] = route

    def add_claim(self, claims: Callable[[StoredMessage], bool], route: Route) -> None:
        """MT messages that `claims` accepts go by `route`, whatever the prefixes and the
        policy say: a service behind the SMSC addressed by what the message carries rather
        than by its number (IMPS: an ESME's submit_sm to application port 3590)."""
        self._claims.append((claims, route))

    def claimed_route(self, record: StoredMessage) -> Route | None:
        """The route of the first claim that takes this MT message, else None (also for MO:
        those go by their account)."""
        if not self._claims or record.direction is not Direction.MT:
            return None
        for claims, route in self._claims:
            if claims(record):
                return route
        return None

    def add(self, route: Route) -> None:
        """Make a route available under its name (a connector added at runtime)."""
        self._routes[route.name] = route

    def remove(self, name: str) -> None:
        """Stop offering the route `name` (a connector removed at runtime)."""
        self._routes.pop(name, None)

    def replace_prefixes(self, default_route: str, prefixes: Iterable[tuple[str, str]]) -> None:
        """Swap the prefix table and the default route whole (a reload): each lookup sees the
        old table or the new one, never a mix."""
        table = _by_length(prefixes)
        self._default, self._by_length = default_route, table

    def get(self, name: str) -> Route | None:
        """The route registered under `name`, if any."""
        return self._routes.get(name)

    def route_name_for(self, destination_addr: str) -> str:
        """The configured route name for an MT destination (longest prefix, else default)."""
        default, table = self._default, self._by_length  # one table for the whole lookup
        for length, names in table:
            name = names.get(destination_addr[:length])
            if name is not None:
                return name
        return default

    def route_for(self, record: StoredMessage) -> Route | None:
        """The route a message goes by now, or None when there is none."""
        if record.direction is Direction.MO:
            return self._mo_routes.get(record.system_id, self._mo_route)
        claimed = self.claimed_route(record)
        if claimed is not None:
            return claimed
        return self._routes.get(self.route_name_for(record.destination.addr))


def _by_length(prefixes: Iterable[tuple[str, str]]) -> list[tuple[int, dict[str, str]]]:
    # One dict per prefix length, longest first: a lookup costs one slice and one dict probe
    # per distinct length, however many prefixes (a policy server answers thousands of queries
    # a second). A prefix given twice keeps its first route.
    by_length: dict[int, dict[str, str]] = {}
    for prefix, name in prefixes:
        by_length.setdefault(len(prefix), {}).setdefault(prefix, name)
    return sorted(by_length.items(), reverse=True)
