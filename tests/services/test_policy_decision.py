"""The policy decision seam (routing/decision.py): Decision's invariants and PrefixPolicy, today's
routing (longest prefix, default route, accounts) as a PolicyEngine."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from opensmsc.routing import (
    AccountPolicies,
    AccountPolicy,
    Action,
    Decision,
    LoopbackRoute,
    Outcome,
    PolicyEngine,
    PrefixPolicy,
    RouteChoice,
    RouteQuery,
    Router,
    RouteReport,
)
from opensmsc.smpp import CommandStatus
from opensmsc.store import Address

NOW = datetime(2026, 1, 1, 12, tzinfo=UTC)


def query(destination: str, account: str = "acme") -> RouteQuery:
    return RouteQuery(
        account=account,
        source=Address(5, 0, "ACME"),
        destination=Address(1, 1, destination),
    )


def router() -> Router:
    routes = {name: LoopbackRoute(name) for name in ("loopback", "uk", "uk-mobile", "de")}
    return Router(
        routes,
        default_route="loopback",
        prefixes=[("44", "uk"), ("447", "uk-mobile"), ("49", "de"), ("33", "gone")],
    )


def test_longest_prefix_wins() -> None:
    policy = PrefixPolicy(router())
    assert policy.decide(query("447700900123"), NOW).routes == (RouteChoice(route="uk-mobile"),)
    assert policy.decide(query("442071234567"), NOW).routes == (RouteChoice(route="uk"),)
    assert policy.decide(query("4915112345678"), NOW).routes == (RouteChoice(route="de"),)


def test_no_prefix_takes_the_default_route() -> None:
    decision = PrefixPolicy(router(), ttl_ms=1234).decide(query("12025550123"), NOW)
    assert decision.action is Action.ROUTE
    assert decision.routes == (RouteChoice(route="loopback"),)
    assert decision.ttl_ms == 1234
    assert decision.rewrite is None


def test_a_route_the_router_lacks_is_a_reject_until_it_is_added() -> None:
    r = router()
    policy = PrefixPolicy(r)
    decision = policy.decide(query("33612345678"), NOW)
    assert decision.action is Action.REJECT
    assert decision.status == CommandStatus.ESME_RSUBMITFAIL
    assert '"gone"' in decision.reason
    r.add(LoopbackRoute("gone"))
    assert policy.decide(query("33612345678"), NOW).routes == (RouteChoice(route="gone"),)


def test_empty_destination_is_rejected() -> None:
    decision = PrefixPolicy(router()).decide(query(""), NOW)
    assert (decision.action, decision.status) == (Action.REJECT, CommandStatus.ESME_RINVDSTADR)


def test_configured_accounts_only() -> None:
    policies = AccountPolicies({"acme": AccountPolicy()})
    policy = PrefixPolicy(router(), policies)
    assert policy.decide(query("447700900123", "acme"), NOW).action is Action.ROUTE
    refused = policy.decide(query("447700900123", "mallory"), NOW)
    assert (refused.action, refused.status) == (Action.REJECT, CommandStatus.ESME_RINVSYSID)
    # No account configured (the demo node): every account is routed.
    anyone = PrefixPolicy(router(), AccountPolicies())
    assert anyone.decide(query("447700900123", "mallory"), NOW).action is Action.ROUTE


def test_reports_are_counted() -> None:
    policy = PrefixPolicy(router())
    engine: PolicyEngine = policy
    engine.report(RouteReport(route="uk", outcome=Outcome.OK, latency_ms=12.5), NOW)
    engine.report(RouteReport(route="uk", outcome=Outcome.TEMP, status=0x58), NOW)
    engine.report(RouteReport(route="uk", outcome=Outcome.OK), NOW)
    assert policy.reports == {("uk", Outcome.OK): 2, ("uk", Outcome.TEMP): 1}


@pytest.mark.parametrize(
    "fields",
    [
        {"action": Action.ROUTE},
        {"action": Action.DEFER, "retry_after_ms": 10},
        {"action": Action.DEFER, "routes": (RouteChoice(route="a"),)},
        {"action": Action.REJECT},
        {"action": Action.REJECT, "status": 0},
        {"action": Action.THROTTLE},
        {"action": Action.THROTTLE, "retry_after_ms": -1},
        {"action": Action.ROUTE, "routes": (RouteChoice(route="a"),), "ttl_ms": -1},
    ],
)
def test_a_decision_missing_what_its_action_needs_is_refused(fields: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        Decision(**fields)  # type: ignore[arg-type]


def test_decision_shorthands() -> None:
    assert Decision.route_to("a", RouteChoice(route="b", cost=0.01)).routes == (
        RouteChoice(route="a"),
        RouteChoice(route="b", cost=0.01),
    )
    rejected = Decision.reject(CommandStatus.ESME_RINVDSTADR, "no")
    assert (rejected.action, rejected.status, rejected.reason) == (Action.REJECT, 0x0B, "no")


@given(
    st.lists(
        st.tuples(st.text("0123", min_size=1, max_size=5), st.sampled_from(["a", "b", "c"])),
        max_size=40,
    ),
    st.text("0123", max_size=8),
)
def test_router_picks_the_longest_matching_prefix(
    table: list[tuple[str, str]], destination: str
) -> None:
    first: dict[str, str] = {}
    for prefix, name in table:
        first.setdefault(prefix, name)  # a prefix given twice keeps its first route
    matches = [p for p in first if destination.startswith(p)]
    expected = first[max(matches, key=len)] if matches else "default"
    assert (
        Router({}, default_route="default", prefixes=table).route_name_for(destination) == expected
    )


def test_accounts_a_reload_adds_or_removes_are_known_at_the_next_decision() -> None:
    policies = AccountPolicies({"acme": AccountPolicy()})
    policy = PrefixPolicy(router(), policies)
    now = datetime.now(UTC)
    assert policy.decide(query("4412", "newco"), now).status == CommandStatus.ESME_RINVSYSID
    policies.replace({"acme": AccountPolicy(), "newco": AccountPolicy()})
    assert policy.decide(query("4412", "newco"), now).action is Action.ROUTE
    policies.replace({"newco": AccountPolicy()})
    assert policy.decide(query("4412", "acme"), now).status == CommandStatus.ESME_RINVSYSID
    # Swapping the prefix table whole: the next decision goes by the new one.
    table = router()
    table.replace_prefixes("loopback", [("44", "uk")])
    assert table.route_name_for("4412") == "uk"
    table.replace_prefixes("de", [])
    assert table.route_name_for("4412") == "de"
