"""Least-cost routing in RulePolicy (routing/health.py): price per MCC-MNC, then quality from
route reports, then weight; failover (blacklist after M temporary failures in a row, one probe
after N seconds); per-route caps with a priority lane."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from opensmsc.routing import Action, Outcome, RouteQuery, RouteReport, RulePolicy, rules_loader
from opensmsc.store import Address

NOW = datetime(2026, 1, 7, 12, tzinfo=UTC)

POLICY = """
prices_file = "prices.csv"
[lcr]
min_reports = 4
failures = 3
blacklist_s = 30
[[network]]
prefix = "447700"
mcc_mnc = "23410"
[[route]]
name = "a"
weight = 1
[[route]]
name = "b"
weight = 5
[[route]]
name = "c"
weight = 1
[[rule]]
name = "uk"
prefix = ["44"]
routes = ["a", "b", "c"]
"""
PRICES = "route,mcc_mnc,price\na,23410,0.010\nb,23410,0.010\nc,23410,0.020\nc,*,0.001\n"


def engine(tmp_path: Path, policy: str = POLICY, prices: str = PRICES) -> RulePolicy:
    (tmp_path / "prices.csv").write_text(prices)
    (tmp_path / "policy.toml").write_text(policy)
    return RulePolicy(rules_loader(tmp_path / "policy.toml"))


def query(destination: str = "447700900123", priority: int = 0) -> RouteQuery:
    return RouteQuery(
        account="acme",
        source=Address(5, 0, "ACME"),
        destination=Address(1, 1, destination),
        priority_flag=priority,
    )


def order(policy: RulePolicy, destination: str = "447700900123", at: datetime = NOW) -> list[str]:
    return [choice.route for choice in policy.decide(query(destination), at).routes]


def reports(
    policy: RulePolicy, route: str, outcome: Outcome, n: int, latency: float = 100.0
) -> None:
    for _ in range(n):
        policy.report(RouteReport(route=route, outcome=outcome, latency_ms=latency), NOW)


def test_price_then_weight(tmp_path: Path) -> None:
    policy = engine(tmp_path)
    decision = policy.decide(query(), NOW)
    assert [(c.route, c.cost, c.mccmnc) for c in decision.routes] == [
        ("b", 0.010, "23410"),  # a and b cost the same: b weighs more
        ("a", 0.010, "23410"),
        ("c", 0.020, "23410"),
    ]
    # another network: c's "*" price, a and b have none and come last
    assert order(policy, "447800900123") == ["c", "b", "a"]


def test_quality_reorders_routes_of_equal_price(tmp_path: Path) -> None:
    policy = engine(tmp_path)
    reports(policy, "b", Outcome.OK, 2)
    reports(policy, "b", Outcome.TEMP, 2)  # 50%, but interleaved so never 3 in a row
    reports(policy, "b", Outcome.OK, 1)
    assert order(policy) == ["a", "b", "c"]  # 60% from 5 reports ranks below unknown a
    reports(policy, "a", Outcome.PERM, 4)
    reports(policy, "a", Outcome.OK, 1)  # 20%
    assert order(policy) == ["b", "a", "c"]
    # the same success rate: the lower latency first
    policy = engine(tmp_path)
    reports(policy, "a", Outcome.OK, 5, latency=200)
    reports(policy, "b", Outcome.OK, 5, latency=2000)
    assert order(policy) == ["a", "b", "c"]


def test_quality_forgets_reports_older_than_the_window(tmp_path: Path) -> None:
    policy = engine(tmp_path)
    reports(policy, "b", Outcome.PERM, 5)
    assert order(policy) == ["a", "b", "c"]
    assert order(policy, at=NOW + timedelta(minutes=11)) == ["b", "a", "c"]
    assert policy.health.quality("b", (NOW + timedelta(minutes=11)).timestamp()).reports == 0


def test_failover_blacklist_then_one_probe(tmp_path: Path) -> None:
    policy = engine(tmp_path)
    reports(policy, "b", Outcome.TEMP, 2)
    assert order(policy)[0] == "b"  # two failures in a row: not yet
    reports(policy, "b", Outcome.TEMP, 1)
    assert order(policy) == ["a", "c"]
    assert order(policy, at=NOW + timedelta(seconds=29)) == ["a", "c"]
    later = NOW + timedelta(seconds=30)
    assert order(policy, at=later) == ["b", "a", "c"]  # the probe
    assert order(policy, at=later) == ["a", "c"]  # only one message probes
    policy.report(RouteReport(route="b", outcome=Outcome.OK), later)
    assert order(policy, at=later) == ["a", "b", "c"]  # back, ranked by its 1 in 4 success


def test_a_failed_probe_blacklists_again(tmp_path: Path) -> None:
    policy = engine(tmp_path)
    reports(policy, "b", Outcome.TEMP, 3)
    later = NOW + timedelta(seconds=30)
    assert order(policy, at=later)[0] == "b"
    policy.report(RouteReport(route="b", outcome=Outcome.TEMP), later)
    assert "b" not in order(policy, at=later + timedelta(seconds=29))
    # a probe whose report never comes: another probe after blacklist_s
    # (after a, which costs the same and has no failures; before c, which costs more)
    assert order(policy, at=later + timedelta(seconds=30)) == ["a", "b", "c"]
    assert "b" not in order(policy, at=later + timedelta(seconds=31))
    assert order(policy, at=later + timedelta(seconds=61)) == ["a", "b", "c"]


def test_all_routes_blacklisted_defers_to_the_first_probe(tmp_path: Path) -> None:
    policy = engine(tmp_path)
    for route in ("a", "b", "c"):
        reports(policy, route, Outcome.TEMP, 3)
    decision = policy.decide(query(), NOW + timedelta(seconds=10))
    assert decision.action is Action.DEFER
    assert decision.retry_after_ms == 20_000
    assert {choice.route for choice in decision.routes} == {"a", "b", "c"}


CAPPED = """
[[route]]
name = "a"
max_per_second = 10
priority_share = 0.5
[[route]]
name = "b"
max_per_second = 1
priority_share = 0.0
[[rule]]
name = "all"
routes = ["a", "b"]
"""


def test_caps_move_traffic_to_the_next_route_then_throttle(tmp_path: Path) -> None:
    policy = engine(tmp_path, CAPPED, prices="route,mcc_mnc,price\n")
    firsts = [policy.decide(query(), NOW).routes[0].route for _ in range(10)]
    # a: 10 a second and 5 kept for priority: bulk gets 10, as the bucket starts full at 15
    assert firsts == ["a"] * 10
    assert [c.route for c in policy.decide(query(), NOW).routes] == ["b"]
    throttled = policy.decide(query(), NOW)
    assert throttled.action is Action.THROTTLE
    assert throttled.retry_after_ms == 100  # a has room again in a tenth of a second
    assert policy.decide(query(), NOW + timedelta(milliseconds=100)).action is Action.ROUTE


def test_priority_lane_goes_ahead_of_bulk(tmp_path: Path) -> None:
    policy = engine(tmp_path, CAPPED.replace("max_per_second = 1\n", "max_per_second = 0\n"))
    for _ in range(10):
        assert policy.decide(query(), NOW).routes[0].route == "a"
    assert policy.decide(query(), NOW).routes[0].route == "b"  # bulk: a is full for it
    for _ in range(5):  # the reserve
        assert policy.decide(query(priority=1), NOW).routes[0].route == "a"
    assert policy.decide(query(priority=1), NOW).routes[0].route == "b"


def test_explain_takes_no_token_and_marks_no_probe(tmp_path: Path) -> None:
    policy = engine(tmp_path, CAPPED, prices="route,mcc_mnc,price\n")
    for _ in range(20):
        policy.explain(query(), NOW)
    assert policy.decide(query(), NOW).routes[0].route == "a"
    reports(policy, "a", Outcome.TEMP, 3)
    later = NOW + timedelta(seconds=30)
    for _ in range(3):
        assert policy.explain(query(), later).decision.routes[0].route == "a"
    assert policy.decide(query(), later).routes[0].route == "a"
