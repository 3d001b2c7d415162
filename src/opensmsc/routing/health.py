"""Live route health for least-cost routing (issue 11): quality from route reports, failover
with blacklisting and probes, and per-route caps with a priority lane.

- Quality: per route, one bucket per minute (reports, successes, latency sum) over the last
  `quality_window_s`; memory is bounded by the window whatever the traffic. Fewer than
  `min_reports` reports: quality unknown, taken as perfect so a new route gets traffic and is
  measured. Rates within `success_step` and latencies within `latency_step_ms` count as equal,
  so noise does not reorder routes and the weight still breaks ties.
- Failover: `failures` temporary failures in a row (a permanent failure is the destination's,
  not the route's) blacklist a route for `blacklist_s`; then one message probes it (it is left
  out of other decisions until that probe's report or another `blacklist_s`): a success
  restores it, a failure blacklists it again.
- Caps: a token bucket per route filling at `max_per_second`, a second of traffic deep plus a
  reserve of `priority_share` of that: bulk never takes the reserve, messages with
  priority_flag >= 1 may, so they go first when a route is at its cap.

`order` ranks the routes a rule named: price to the MCC-MNC, then quality, then weight, then
the rule's order. Time comes in as seconds (`now`).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from typing import Final

from opensmsc.routing.decision import Outcome, RouteChoice, RouteReport
from opensmsc.routing.rules import LcrSettings, RouteSettings, RuleSet, Step

__all__ = ["Quality", "RouteHealth", "Waits"]


@dataclass(frozen=True, slots=True)
class Quality:
    reports: int
    success_rate: float
    latency_ms: float


@dataclass(slots=True)
class Waits:
    """Why no route was chosen: the routes left out as blacklisted (soonest probe first) and
    how long until one is probed; how long until a capped route has room."""

    blacklisted: tuple[RouteChoice, ...] = ()
    defer_ms: int | None = None
    throttle_ms: int | None = None


_NO_WAITS: Final = Waits()  # shared: never changed


@dataclass(slots=True)
class _Route:
    buckets: deque[list[float]] = field(default_factory=deque)  # [minute, reports, ok, latency]
    # The buckets' sums (reports, ok, latency), kept as buckets fill and leave: a report costs
    # the same however many minutes the window holds.
    totals: list[float] = field(default_factory=lambda: [0.0, 0.0, 0.0])
    failures_in_a_row: int = 0
    blacklisted_until: float | None = None
    probe_until: float | None = None  # a probe is out until its report or this time
    tokens: float = 0.0
    tokens_at: float | None = None
    key: tuple[int, int] = (0, 0)  # the quality as ranked: (-success steps, latency steps)


_CACHE_LIMIT = 100_000


class RouteHealth:
    def __init__(self, settings: LcrSettings) -> None:
        self._settings = settings
        self._routes: dict[str, _Route] = {}
        self._troubled: set[str] = set()  # routes blacklisted or on probation
        # Routes reported on since their quality was last ranked: their keys are computed
        # again at the next ranking, once for all the reports in between (the node reports
        # every attempt).
        self._stale: set[str] = set()
        # Rankings of (route names, MCC-MNC), valid while the rule set, the ranked qualities
        # (`_version`, which a new minute changes too: reports leave the window) stay the same.
        self._version = 0
        self._minute = 0
        self._stamp_rules: RuleSet | None = None
        self._stamp_version = -1
        self._ranked: dict[tuple[tuple[str, ...], str | None], tuple[RouteChoice, ...]] = {}

    def configure(self, settings: LcrSettings) -> None:
        """New settings (a reload); what was measured is kept."""
        self._settings = settings
        self._requalify(self._minute)

    def _route(self, name: str) -> _Route:
        route = self._routes.get(name)
        if route is None:
            route = self._routes[name] = _Route()
        return route

    # -- reports -------------------------------------------------------------------------------

    def report(self, report: RouteReport, now: float) -> None:
        route = self._route(report.route)
        minute = math.floor(now / 60)
        if route.buckets and route.buckets[-1][0] == minute:
            bucket = route.buckets[-1]
        else:
            bucket = [float(minute), 0.0, 0.0, 0.0]
            route.buckets.append(bucket)
            self._trim(route, minute)
        count = report.count
        ok = count if report.outcome is Outcome.OK else 0
        latency = max(0.0, report.latency_ms) * count
        bucket[1] += count
        bucket[2] += ok
        bucket[3] += latency
        totals = route.totals
        totals[0] += count
        totals[1] += ok
        totals[2] += latency
        if report.outcome is Outcome.OK:
            route.failures_in_a_row = 0
            route.blacklisted_until = route.probe_until = None
            self._troubled.discard(report.route)
        elif report.outcome is Outcome.TEMP:
            route.failures_in_a_row += 1
            probing = route.blacklisted_until is not None
            if probing or route.failures_in_a_row >= self._settings.failures:
                route.blacklisted_until = now + self._settings.blacklist_s
                route.probe_until = None
                self._troubled.add(report.route)
        self._stale.add(report.route)

    def _refresh(self, minute: int) -> None:
        """The ranked quality of the routes reported on since the last ranking."""
        for name in self._stale:
            route = self._routes[name]
            key = self._key(route, minute)
            if key != route.key:
                route.key = key
                self._version += 1
        self._stale.clear()

    def _key(self, route: _Route, minute: int) -> tuple[int, int]:
        """`quality` in ranking steps (from the running sums: run once per ranking after
        reports, so without a Quality value)."""
        s = self._settings
        self._trim(route, minute)
        reports, ok, latency = route.totals
        # Sums of whole counts: below 0.5 is none at all (`_quality`'s no-report case).
        if reports < 0.5 or reports < s.min_reports:
            return (-round(1.0 / s.success_step), 0)  # unknown: taken as perfect
        return (-round(ok / reports / s.success_step), round(latency / reports / s.latency_step_ms))

    def _requalify(self, minute: int) -> None:
        """Rank qualities again: another minute (old reports leave the window) or settings."""
        self._minute = minute
        self._stale.clear()
        for route in self._routes.values():
            route.key = self._key(route, minute)
        self._version += 1

    def _trim(self, route: _Route, minute: int) -> None:
        oldest = minute - math.ceil(self._settings.quality_window_s / 60)
        buckets = route.buckets
        if buckets and buckets[0][0] <= oldest:
            totals = route.totals
            while buckets and buckets[0][0] <= oldest:
                _, count, good, spent = buckets.popleft()
                totals[0] -= count
                totals[1] -= good
                totals[2] -= spent
            if not buckets:
                totals[:] = [0.0, 0.0, 0.0]  # no float residue once the window is empty

    @property
    def troubled(self) -> bool:
        """Whether a route is blacklisted or on probation (else `order` is `ranked`, for a
        rule set without caps)."""
        return bool(self._troubled)

    def quality(self, name: str, now: float) -> Quality:
        route = self._routes.get(name)
        if route is None:
            return Quality(0, 1.0, 0.0)
        return self._quality(route, math.floor(now / 60))

    def _quality(self, route: _Route, minute: int) -> Quality:
        self._trim(route, minute)
        reports, ok, latency = route.totals
        if reports < 0.5:
            return Quality(0, 1.0, 0.0)
        return Quality(int(reports), ok / reports, latency / reports)

    def blacklisted(self, name: str, now: float) -> bool:
        """Whether `decide` leaves the route out now (blacklisted, or its probe is out)."""
        route = self._routes.get(name)
        if route is None or route.blacklisted_until is None:
            return False
        if now < route.blacklisted_until:
            return True
        return route.probe_until is not None and now < route.probe_until

    # -- ordering ------------------------------------------------------------------------------

    def _rank(
        self, rules: RuleSet, names: tuple[str, ...], mcc_mnc: str | None
    ) -> tuple[RouteChoice, ...]:
        """Price to the MCC-MNC, then quality, then weight, then the rule's order."""
        unknown = (-round(1.0 / self._settings.success_step), 0)
        ranked = []
        for position, name in enumerate(dict.fromkeys(names)):
            price = rules.price(name, mcc_mnc)
            route = self._routes.get(name)
            success, latency = unknown if route is None else route.key
            weight = -rules.route_settings(name).weight
            rank = (math.inf if price is None else price, success, latency, weight, position)
            ranked.append((rank, RouteChoice(route=name, cost=price, mccmnc=mcc_mnc)))
        ranked.sort(key=lambda item: item[0])
        return tuple(choice for _, choice in ranked)

    def ranked(
        self, rules: RuleSet, names: tuple[str, ...], mcc_mnc: str | None, now: float
    ) -> tuple[RouteChoice, ...]:
        """The routes in least-cost order, whatever their health (cached)."""
        minute = math.floor(now / 60)
        if minute != self._minute:
            self._requalify(minute)
        elif self._stale:
            self._refresh(minute)
        # Identity, not equality: comparing two rule sets field by field would cost more than
        # ranking again.
        if (
            self._stamp_rules is not rules
            or self._stamp_version != self._version
            or len(self._ranked) > _CACHE_LIMIT
        ):
            self._ranked.clear()
            self._stamp_rules, self._stamp_version = rules, self._version
        key = (names, mcc_mnc)
        found = self._ranked.get(key)
        if found is None:
            found = self._ranked[key] = self._rank(rules, names, mcc_mnc)
        return found

    def order(
        self,
        rules: RuleSet,
        names: tuple[str, ...],
        *,
        mcc_mnc: str | None,
        priority: int,
        now: float,
        steps: list[Step] | None,
        commit: bool,
    ) -> tuple[tuple[RouteChoice, ...], Waits]:
        """The routes to try, best first, without those blacklisted or at their cap; with
        `commit`, a cap token is taken from the first and a probe marked out."""
        ranked = self.ranked(rules, names, mcc_mnc, now)
        if steps is None and not self._troubled and not rules.capped:
            return ranked, _NO_WAITS  # the usual case: every route healthy, none capped
        chosen: list[RouteChoice] = []
        waits = Waits()
        blacklisted: list[tuple[float, RouteChoice]] = []
        for choice in ranked:
            name = choice.route
            route = self._routes.get(name)
            state = "healthy"
            if route is not None and route.blacklisted_until is not None:
                if now < route.blacklisted_until:
                    blacklisted.append((route.blacklisted_until, choice))
                    state = f"blacklisted for {route.blacklisted_until - now:.1f} s more"
                elif route.probe_until is not None and now < route.probe_until:
                    blacklisted.append((route.probe_until, choice))
                    state = "a probe is out"
                else:
                    state = "probed with this message"
                    if commit:
                        route.probe_until = now + self._settings.blacklist_s
            settings = rules.route_settings(name)
            if not state.startswith(("blacklisted", "a probe")) and settings.max_per_second > 0:
                wait = self._cap_wait(name, settings, priority, now, take=commit and not chosen)
                if wait > 0:
                    wait_ms = max(1, math.ceil(wait * 1000))
                    if waits.throttle_ms is None or wait_ms < waits.throttle_ms:
                        waits.throttle_ms = wait_ms
                    state = f"at its cap of {settings.max_per_second:g}/s"
            usable = state in ("healthy", "probed with this message")
            if usable:
                chosen.append(choice)
            if steps is not None:
                q = self.quality(name, now)
                steps.append(
                    Step(
                        "route",
                        name,
                        usable,
                        f"price {'none' if choice.cost is None else f'{choice.cost:g}'}, "
                        + (
                            f"success {q.success_rate:.0%} of {q.reports}, "
                            f"latency {q.latency_ms:.0f} ms"
                            if q.reports
                            else "no reports"
                        )
                        + f", weight {settings.weight}; {state}",
                    )
                )
        if blacklisted:
            blacklisted.sort(key=lambda item: item[0])
            waits.blacklisted = tuple(choice for _, choice in blacklisted)
            waits.defer_ms = max(0, math.ceil((blacklisted[0][0] - now) * 1000))
        return tuple(chosen), waits

    def _cap_wait(
        self, name: str, settings: RouteSettings, priority: int, now: float, *, take: bool
    ) -> float:
        """Seconds until the route has a token for this lane (0: it has one; taken if `take`)."""
        route = self._route(name)
        rate = settings.max_per_second
        base = max(1.0, rate)  # a second of traffic, and at least one message
        reserve = settings.priority_share * base
        depth = base + reserve
        if route.tokens_at is None:
            route.tokens = depth
        else:
            route.tokens = min(depth, route.tokens + (now - route.tokens_at) * rate)
        route.tokens_at = now
        needed = 1.0 if priority >= 1 else 1.0 + reserve
        if (
            route.tokens >= needed - 1e-3
        ):  # epoch seconds are coarse floats: the wait we gave is enough
            if take:
                route.tokens -= 1.0
            return 0.0
        return (needed - route.tokens) / rate
