"""`RulePolicy.decide` takes a shorter path than `explain` (rules that can change no decision
and rules on text for a message without text are left out at load; a rule's conditions run in
one call; the usual routed answer skips the failover path). Both must give the same decision
for any rule set and message: `explain` walks every rule and step."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from opensmsc.config import NetworkRangeConfig, PolicyFile, RuleConfig
from opensmsc.routing import RouteQuery, RulePolicy, compile_policy
from opensmsc.routing.rules import Rule, live_rules
from opensmsc.store import Address

NOW = datetime(2026, 1, 7, 12, tzinfo=UTC)
prefixes = st.lists(st.text("012", min_size=0, max_size=3).map(lambda tail: "9" + tail), max_size=2)
rules = st.builds(
    RuleConfig,
    name=st.just("r"),
    prefix=prefixes.map(tuple),
    account=st.sampled_from([(), ("a",), ("a", "b")]),
    service_type=st.sampled_from([(), ("OTP",)]),
    mcc_mnc=st.sampled_from([(), ("20801",)]),
    keywords=st.sampled_from([(), ("win",)]),
    routes=st.sampled_from([(), ("x",), ("y", "x")]),
    reject=st.sampled_from([None, None, "ESME_RX_R_APPN"]),
    set_source=st.sampled_from([None, None, "NEW"]),
    final=st.booleans(),
)
networks = st.lists(
    st.builds(
        NetworkRangeConfig,
        prefix=st.text("012", min_size=0, max_size=2).map(lambda tail: "9" + tail),
        mcc_mnc=st.sampled_from(["20801", "20810"]),
    ),
    max_size=3,
    unique_by=lambda network: network.prefix,
)
queries = st.builds(
    RouteQuery,
    account=st.sampled_from(["a", "b", "c"]),
    source=st.just(Address(5, 0, "SENDER")),
    destination=st.text("012", max_size=5).map(lambda tail: Address(1, 1, "9" + tail)),
    service_type=st.sampled_from(["", "OTP"]),
    content_sample=st.sampled_from([None, "you win", "hello"]),
)


@settings(max_examples=400)
@given(st.lists(rules, min_size=1, max_size=8), networks, st.lists(queries, min_size=1, max_size=8))
def test_decide_gives_the_decision_explain_shows(
    table: list[RuleConfig], ranges: list[NetworkRangeConfig], messages: list[RouteQuery]
) -> None:
    named = tuple(replace(rule, name=f"r{i}") for i, rule in enumerate(table))
    compiled = compile_policy(
        PolicyFile(rule=named, default_routes=("default",), network=tuple(ranges))
    )
    engine = RulePolicy(lambda: compiled)
    # Twice over: the second pass meets what decide keeps (routed decisions, source kinds).
    for query in messages + messages:
        assert engine.decide(query, NOW) == engine.explain(query, NOW).decision


def _rule(index: int, *, routes: tuple[str, ...] = ("x",), final: bool = False) -> Rule:
    return Rule(index=index, name=f"r{index}", routes=routes, final=final)


def test_rules_that_only_route_after_an_unconditional_router_are_left_out() -> None:
    first, second, third = _rule(0), _rule(1), _rule(2, final=True)
    assert live_rules([first, second, third]) == (first, third)
    assert live_rules([_rule(0, routes=())]) == ()  # no effect at all
