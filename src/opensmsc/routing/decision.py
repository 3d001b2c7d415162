"""The policy decision seam: what is asked of a message (`RouteQuery`), what the answer is
(`Decision`), what comes back after the attempt (`RouteReport`), and the `PolicyEngine` that
answers; `PrefixPolicy` is the engine of today, over the prefix `Router` and the accounts.

What this is for: one interface that the policy server (policyd, TCP 3055), the node's
acceptor (at submit) and its scheduler (before an attempt) ask per message (engine/decisions.py).
The rule engine of issue 11 (rules, least cost, velocity, quiet hours) is another
`PolicyEngine` behind the same two methods. What it is not:
a wire format (policyd/wire.py maps these values to JSON-RPC) or anything that waits: `decide`
is pure computation, with time passed in, so it runs in the event loop without awaiting.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Final, Protocol

from opensmsc.routing.policy import AccountPolicies
from opensmsc.routing.routes import Router
from opensmsc.smpp import CommandStatus
from opensmsc.store import Address

__all__ = [
    "Action",
    "Decision",
    "Outcome",
    "PolicyEngine",
    "PrefixPolicy",
    "Rewrite",
    "RouteChoice",
    "RouteQuery",
    "RouteReport",
]

DEFAULT_TTL_MS: Final = 60_000


class Action(StrEnum):
    """What happens to the message (issue 11: decisions)."""

    ROUTE = "route"  # try `routes` in order
    REJECT = "reject"  # answer `status` (an SMPP command_status) with `reason`
    THROTTLE = "throttle"  # answer ESME_RTHROTTLED; the sender may retry after retry_after_ms
    DEFER = "defer"  # store now, send by `routes` once retry_after_ms have passed (quiet hours)


class Outcome(StrEnum):
    """How an attempt on a route ended, as `route.report` tells it."""

    OK = "ok"  # delivered or accepted upstream
    TEMP = "temp"  # a temporary failure: retried
    PERM = "perm"  # a permanent failure


@dataclass(frozen=True, slots=True, kw_only=True)
class RouteQuery:
    """One message as the policy sees it, before it is routed. `account` is the system_id (or
    HTTP user) that submitted it; `segments` the number of parts of the whole message;
    `content_sample` at most the first characters of its text, when the asker shares it;
    `priority_flag` the submit's (1 and above go ahead of bulk where routes are capped).
    `redecide`: the node decided this message at submit and stored it; it asks again before
    an attempt (a retry, a deferred or scheduled message): velocity rules, which counted it at
    submit, neither count it again nor hold it back."""

    account: str
    source: Address
    destination: Address
    service_type: str = ""
    data_coding: int = 0
    esm_class: int = 0
    segments: int = 1
    content_sample: str | None = None
    priority_flag: int = 0
    redecide: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class RouteChoice:
    """One of the routes to try: a route name (a connector, "network", "loopback"), and what
    the engine knows of it on this path (its price, the operator it reaches)."""

    route: str
    cost: float | None = None
    mccmnc: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Rewrite:
    """Fields to change before the message goes out; None (or empty) leaves one as it is.
    `validity_s`: the validity period from now, in seconds; `strip_tlvs`: tags to remove;
    `add_tlvs`: tags to add with their values."""

    source_addr: str | None = None
    source_addr_ton: int | None = None
    source_addr_npi: int | None = None
    destination_addr: str | None = None
    data_coding: int | None = None
    validity_s: int | None = None
    strip_tlvs: tuple[int, ...] = ()
    add_tlvs: tuple[tuple[int, bytes], ...] = ()

    @property
    def is_empty(self) -> bool:
        return self == _NO_REWRITE


_NO_REWRITE: Final = Rewrite()


@dataclass(frozen=True, slots=True, kw_only=True)
class Decision:
    """The policy's answer for one message.

    `routes` are tried in order (route and defer). `status` and `reason` say why a message is
    refused (reject; reason also for throttle and defer). `retry_after_ms`: when the sender
    may try again (throttle) or when the message is sent (defer). `ttl_ms`: how long the asker
    may reuse this decision for the same account and destination (0: not at all).
    Raises ValueError when a field the action needs is missing.
    """

    action: Action
    routes: tuple[RouteChoice, ...] = ()
    rewrite: Rewrite | None = None
    status: int | None = None
    reason: str = ""
    retry_after_ms: int | None = None
    ttl_ms: int = 0

    def __post_init__(self) -> None:
        if self.action in (Action.ROUTE, Action.DEFER) and not self.routes:
            raise ValueError(f"a {self.action} decision needs at least one route")
        if self.action is Action.REJECT and not self.status:
            raise ValueError("a reject decision needs a non-zero status")
        if self.action in (Action.THROTTLE, Action.DEFER) and self.retry_after_ms is None:
            raise ValueError(f"a {self.action} decision needs retry_after_ms")
        if self.retry_after_ms is not None and self.retry_after_ms < 0:
            raise ValueError("retry_after_ms must not be negative")
        if self.ttl_ms < 0:
            raise ValueError("ttl_ms must not be negative")

    @classmethod
    def route_to(cls, *routes: str | RouteChoice, ttl_ms: int = 0) -> Decision:
        """Route by these routes, in order."""
        return cls(
            action=Action.ROUTE,
            routes=tuple(r if isinstance(r, RouteChoice) else RouteChoice(route=r) for r in routes),
            ttl_ms=ttl_ms,
        )

    @classmethod
    def reject(cls, status: int, reason: str, *, ttl_ms: int = 0) -> Decision:
        return cls(action=Action.REJECT, status=status, reason=reason, ttl_ms=ttl_ms)


@dataclass(frozen=True, slots=True, kw_only=True)
class RouteReport:
    """The outcome of one attempt on `route`: feeds the quality measures of least-cost routing
    and the blacklisting of failing routes. `status`: the command_status an upstream answered;
    `map_error`: the MAP error of the mobile network; `latency_ms`: from attempt to outcome.
    `count`: attempts alike that this one report stands for (`latency_ms` then their mean):
    the node reports a batch's successes on a route at once (engine/decisions.py)."""

    route: str
    outcome: Outcome
    status: int | None = None
    map_error: int | None = None
    latency_ms: float = 0.0
    count: int = 1


class PolicyEngine(Protocol):
    """Decides each message's fate. `decide` never raises for a query (a query it cannot route
    gets a reject decision) and never waits; `now` is the aware UTC time of the decision, for
    rules by time of day. `report` takes the outcome of an attempt; it never raises either."""

    def decide(self, query: RouteQuery, now: datetime) -> Decision: ...

    def report(self, report: RouteReport, now: datetime) -> None: ...


class PrefixPolicy:
    """Today's routing as a PolicyEngine: the route of the longest destination prefix of the
    `router` ([routing]), else its default route; a reject when the destination is empty
    (ESME_RINVDSTADR), when the route is not one the router has (ESME_RSUBMITFAIL) or, when
    `policies` names accounts, for any other account (ESME_RINVSYSID).

    It has no rule that depends on time or on route health: `now` is not used and reports are
    only counted (`reports`), for whoever looks at them; `uses_reports` (False) tells the node
    it need not send its own.
    """

    uses_reports: Final = False

    def __init__(
        self,
        router: Router,
        policies: AccountPolicies | None = None,
        *,
        ttl_ms: int = DEFAULT_TTL_MS,
    ) -> None:
        self._router = router
        # Read at each decision: a reload adds and removes accounts (AccountPolicies.replace).
        self._accounts = policies
        self._ttl_ms = ttl_ms
        # Decisions depend on the route name alone: one frozen value per route, made once.
        self._decisions: dict[str, Decision] = {}
        self._reports: Counter[tuple[str, Outcome]] = Counter()

    @property
    def reports(self) -> Mapping[tuple[str, Outcome], int]:
        """Reports received, by (route, outcome)."""
        return self._reports

    def decide(self, query: RouteQuery, now: datetime) -> Decision:
        accounts = self._accounts
        if accounts is not None and len(accounts) and query.account not in accounts:
            return Decision.reject(
                CommandStatus.ESME_RINVSYSID, f'unknown account "{query.account}"'
            )
        if not query.destination.addr:
            return Decision.reject(CommandStatus.ESME_RINVDSTADR, "destination addr is empty")
        name = self._router.route_name_for(query.destination.addr)
        decision = self._decisions.get(name)
        if decision is None:
            if self._router.get(name) is None:
                # Not cached: a connector may be added at runtime (Router.add).
                return Decision.reject(CommandStatus.ESME_RSUBMITFAIL, f'no route "{name}"')
            decision = self._decisions[name] = Decision.route_to(name, ttl_ms=self._ttl_ms)
        return decision

    def report(self, report: RouteReport, now: datetime) -> None:
        self._reports[report.route, report.outcome] += 1
