"""RulePolicy.reload: a new rule set from the next message on, swapped whole; a bad file keeps
the rules in use and reports every error; what was learnt (route health, velocity counts,
opt-outs) survives a reload."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path

from opensmsc.config import PolicyFile, RuleConfig
from opensmsc.routing import (
    Action,
    Outcome,
    RouteQuery,
    RouteReport,
    RulePolicy,
    RuleSet,
    compile_policy,
    rules_loader,
)
from opensmsc.store import Address

NOW = datetime(2026, 1, 7, 12, tzinfo=UTC)
QUERY = RouteQuery(
    account="acme", source=Address(5, 0, "ACME"), destination=Address(1, 1, "447700900123")
)


def first_route(policy: RulePolicy) -> str:
    return policy.decide(QUERY, NOW).routes[0].route


def test_reload_takes_the_new_file_and_a_bad_one_keeps_the_old(tmp_path: Path) -> None:
    file = tmp_path / "policy.toml"
    file.write_text('[[rule]]\nname = "uk"\nprefix = ["44"]\nroutes = ["a"]\n')
    policy = RulePolicy(rules_loader(file, routes={"a", "b"}))
    assert first_route(policy) == "a"
    file.write_text('[[rule]]\nname = "uk"\nprefix = ["44"]\nroutes = ["b"]\n')
    assert policy.reload() == []
    assert first_route(policy) == "b"
    file.write_text(
        '[[rule]]\nname = "uk"\nprefix = ["4x"]\nroutes = ["c"]\n[[window]]\nname = 1\n'
    )
    errors = policy.reload()
    assert [str(error) for error in errors] == [
        f'{file}:3: rule[0].prefix[0]: expected a prefix of 1 to 20 digits, got "4x"',
        f"{file}:6: window[0].name: expected a name of letters, digits, '.', '_', '-', got 1",
    ]
    assert first_route(policy) == "b"
    file.write_text('[[rule]]\nname = "uk"\nprefix = ["44"]\nroutes = ["c"]\n')
    assert [error.key for error in policy.reload()] == ["rule[0].routes[0]"]  # no route c
    assert first_route(policy) == "b"
    file.unlink()
    assert "cannot read" in str(policy.reload()[0])
    assert first_route(policy) == "b"


def test_state_survives_a_reload(tmp_path: Path) -> None:
    file = tmp_path / "policy.toml"
    text = """
[opt_out]
short_codes = ["12345"]
[[velocity]]
name = "pumping"
prefix_length = 6
limit = 1
[[rule]]
name = "uk"
prefix = ["44"]
routes = ["a", "b"]
"""
    file.write_text(text)
    policy = RulePolicy(rules_loader(file))
    assert policy.decide(QUERY, NOW).action is Action.ROUTE  # counted
    for _ in range(3):
        policy.report(RouteReport(route="a", outcome=Outcome.TEMP), NOW)
    policy.on_mo("447700900999", "12345", "STOP")
    file.write_text(text + "# edited\n")
    assert policy.reload() == []
    assert policy.decide(QUERY, NOW).action is Action.THROTTLE  # the count was kept
    assert policy.health.blacklisted("a", NOW.timestamp())
    assert policy.opted_out("447700900999", "12345")


def both(route: str) -> RuleSet:
    """A rule set whose route and rewrite come from two rules naming the same route: a
    decision mixing two sets would show it."""
    return compile_policy(
        PolicyFile(
            rule=(
                RuleConfig(name="route", prefix=("44",), routes=(route,)),
                RuleConfig(name="rewrite", set_source=route),
            )
        )
    )


def test_no_decision_sees_half_of_two_rule_sets() -> None:
    sets = [both("a"), both("b")]
    turn = iter(range(10**9))
    policy = RulePolicy(lambda: sets[next(turn) % 2])
    stop = threading.Event()
    mixed: list[tuple[str, str | None]] = []

    def decide() -> None:
        while not stop.is_set():
            decision = policy.decide(QUERY, NOW)
            assert decision.rewrite is not None
            pair = (decision.routes[0].route, decision.rewrite.source_addr)
            if pair[0] != pair[1]:
                mixed.append(pair)

    worker = threading.Thread(target=decide)
    worker.start()
    try:
        for _ in range(5000):
            assert policy.reload() == []
    finally:
        stop.set()
        worker.join()
    assert mixed == []
