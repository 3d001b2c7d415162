"""Properties of the rule engine against brute-force references: the rule that routes is the
one with the longest matching prefix (first in the file on a tie), PrefixMap agrees with a scan,
and the sliding-window counter admits exactly what counting every event would."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from opensmsc.config import PolicyFile, RuleConfig
from opensmsc.routing import RouteQuery, RulePolicy, SlidingWindow, compile_policy
from opensmsc.routing.rules import PrefixMap
from opensmsc.store import Address

NOW = datetime(2026, 1, 7, 12, tzinfo=UTC)
prefixes = st.text("0123", min_size=1, max_size=4)
rule_prefixes = st.lists(st.lists(prefixes, min_size=0, max_size=3), min_size=1, max_size=12)
destinations = st.text("0123", min_size=0, max_size=7).map(lambda tail: "9" + tail)


def reference_route(table: list[list[str]], destination: str) -> str:
    """Scan every rule: the longest prefix of the destination wins, then the earliest rule; a
    rule without prefixes matches any destination with length 0."""
    best: tuple[int, int] | None = None
    for index, own in enumerate(table):
        lengths = [len(p) for p in own if destination.startswith(p)] if own else [0]
        if lengths and (best is None or (-max(lengths), index) < best):
            best = (-max(lengths), index)
    return "default" if best is None else f"r{best[1]}"


@settings(max_examples=300)
@given(rule_prefixes, st.lists(destinations, min_size=1, max_size=10))
def test_longest_prefix_wins_like_a_scan(table: list[list[str]], dests: list[str]) -> None:
    rules = tuple(
        RuleConfig(name=f"r{i}", prefix=tuple("9" + p for p in own), routes=(f"r{i}",))
        for i, own in enumerate(table)
    )
    compiled = compile_policy(PolicyFile(rule=rules, default_routes=("default",)))
    engine = RulePolicy(lambda: compiled)
    shifted = [["9" + p for p in own] for own in table]
    for destination in dests:
        query = RouteQuery(
            account="a", source=Address(5, 0, "X"), destination=Address(0, 0, destination)
        )
        decision = engine.decide(query, NOW)
        assert decision.routes[0].route == reference_route(shifted, destination)


@given(st.dictionaries(prefixes, st.integers()), st.text("0123", max_size=6))
def test_prefix_map_longest_and_matches(table: dict[str, int], digits: str) -> None:
    found = PrefixMap(table)
    scan = sorted(
        ((p, v) for p, v in table.items() if digits.startswith(p)), key=lambda item: -len(item[0])
    )
    assert list(found.matches(digits)) == scan
    assert found.longest(digits) == (scan[0] if scan else None)


events = st.lists(
    st.tuples(st.sampled_from("abc"), st.floats(min_value=0, max_value=5)), max_size=60
)


@given(st.integers(1, 5), st.floats(min_value=0.5, max_value=3), events)
def test_sliding_window_is_exact(limit: int, window: float, steps: list[tuple[str, float]]) -> None:
    counter = SlidingWindow(limit=limit, window=window, max_keys=10)
    accepted: dict[str, list[float]] = {}
    now = 0.0
    for key, gap in steps:
        now += gap
        recent = [t for t in accepted.get(key, []) if now - t < window]
        expected = len(recent) < limit
        assert counter.allows(key, now) is expected
        assert counter.hit(key, now) is expected
        if expected:
            accepted.setdefault(key, []).append(now)


def test_sliding_window_memory_is_bounded() -> None:
    counter = SlidingWindow(limit=3, window=60, max_keys=100)
    for i in range(10_000):
        counter.hit(f"range{i}", float(i))
    assert len(counter) == 100
