"""The engine's use of the policy (engine/decisions.py), on a real SqliteStore with a fake clock,
scripted routes and a real RulePolicy: decided at submit, re-decided before later attempts
(live health, reloaded rules, velocity counted once), failover in the decision's order, and
every attempt reported.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from opensmsc.engine.decisions import Decisions
from opensmsc.routing import (
    Decision,
    Delivered,
    Outcome,
    PolicyEngine,
    PrefixPolicy,
    RouteQuery,
    Router,
    RouteReport,
    RulePolicy,
    TemporaryFailure,
    rules_loader,
)
from opensmsc.routing.retry import ErrorClass
from opensmsc.smpp import CommandStatus, MessageState
from opensmsc.store import Address, StoredMessage
from tests.services.engine_harness import Engine, FakeClock, ScriptedRoute, open_engine

S = CommandStatus
ROUTES = """
[lcr]
failures = 3
blacklist_s = 60.0

[[rule]]
name = "uk"
prefix = ["44"]
routes = ["a", "b"]
"""


def rule_policy(path: Path) -> Callable[[Router], PolicyEngine]:
    def make(router: Router) -> PolicyEngine:
        return RulePolicy(
            rules_loader(path, routes={"a", "b", "loopback"}), fallback=PrefixPolicy(router)
        )

    return make


async def engine(tmp_path: Path, policy: str) -> tuple[Engine, ScriptedRoute, ScriptedRoute]:
    (tmp_path / "policy.toml").write_text(policy)
    a, b = ScriptedRoute("a"), ScriptedRoute("b")
    found = await open_engine(
        tmp_path,
        clock=FakeClock(),
        routes={"a": a, "b": b},
        policy=rule_policy(tmp_path / "policy.toml"),
    )
    return found, a, b


DOWN = TemporaryFailure(int(S.ESME_RSYSERR), ErrorClass.SHORT, "not bound")


async def test_failover_goes_down_the_routes_and_blacklists_the_failing_one(
    tmp_path: Path,
) -> None:
    node, a, b = await engine(tmp_path, ROUTES)
    try:
        a.script["447700900001"] = [DOWN]
        ids = [await node.submit_ok(destination_addr="447700900001") for _ in range(3)]
        await node.run()
        # a failed three times in a row: blacklisted, what is decided next goes to b directly
        ids += [await node.submit_ok(destination_addr="447700900001") for _ in range(2)]
        await node.run()
        for message_id in ids:
            record = await node.state(message_id)
            assert (record.state, record.route) == (MessageState.DELIVERED, "b")
        assert len(a.attempted) == 3 and len(b.attempted) == 5
        assert node.policy is not None
        assert node.policy.health.blacklisted("a", node.clock().timestamp())  # type: ignore[attr-defined]
    finally:
        await node.close()


async def test_a_retry_is_decided_again_with_the_rules_of_now(tmp_path: Path) -> None:
    node, a, b = await engine(tmp_path, ROUTES)
    try:
        a.script["447700900002"] = [DOWN]
        b.script["447700900002"] = [DOWN]
        message_id = await node.submit_ok(destination_addr="447700900002")
        await node.run()
        record = await node.state(message_id)
        assert record.state is MessageState.ENROUTE and record.last_error == S.ESME_RSYSERR
        # The operator blocks the range meanwhile: the retry is refused by the new rules.
        (tmp_path / "policy.toml").write_text(
            ROUTES + '[[rule]]\nname = "block"\nprefix = ["4477"]\nreject = "ESME_RX_R_APPN"\n'
        )
        assert node.policy is not None
        assert node.policy.reload() == []  # type: ignore[attr-defined]
        node.clock.advance(minutes=2)
        await node.run()
        record = await node.state(message_id)
        assert (record.state, record.last_error) == (MessageState.REJECTED, S.ESME_RX_R_APPN)
        assert len(a.attempted) == 1 and len(b.attempted) == 1  # no attempt for the reject
    finally:
        await node.close()


async def test_velocity_counts_a_message_once_however_often_it_is_tried(tmp_path: Path) -> None:
    policy = ROUTES + (
        '[[velocity]]\nname = "pump"\nprefix_length = 6\nlimit = 2\nwindow_s = 600\n'
    )
    node, a, b = await engine(tmp_path, policy)
    try:
        a.script["447700900003"] = [DOWN]
        b.script["447700900003"] = [DOWN, Delivered()]
        first = await node.submit_ok(destination_addr="447700900003")
        second = await node.submit_ok(destination_addr="447700900004")
        await node.run()
        node.clock.advance(minutes=2)
        await node.run()  # the retry, re-decided: not held back by velocity
        for message_id in (first, second):
            assert (await node.state(message_id)).state is MessageState.DELIVERED
        # two went out in the window: the third from the range is throttled at submit
        assert (await node.submit(destination_addr="447700900005"))[1] == S.ESME_RTHROTTLED
    finally:
        await node.close()


async def test_every_route_blacklisted_holds_a_retry_back_without_an_attempt(
    tmp_path: Path,
) -> None:
    node, a, b = await engine(tmp_path, ROUTES.replace("blacklist_s = 60.0", "blacklist_s = 300.0"))
    try:
        for route in (a, b):
            route.script["447700900006"] = [DOWN]
        ids = [await node.submit_ok(destination_addr="447700900006") for _ in range(3)]
        await node.run()  # three failures on each: both blacklisted for 300 s
        assert (len(a.attempted), len(b.attempted)) == (3, 3)
        start = node.clock()
        node.clock.advance(minutes=1, seconds=1)  # the retries come due; the routes are out
        await node.run()
        assert (len(a.attempted), len(b.attempted)) == (3, 3)
        for message_id in ids:
            record = await node.state(message_id)
            assert record.state is MessageState.ENROUTE
            assert record.attempts == 2  # the claim counted; the hold-back is due at the probe
            assert record.next_attempt_at is not None
            assert abs(record.next_attempt_at - (start + timedelta(seconds=300))) < timedelta(
                seconds=1
            )
    finally:
        await node.close()


class BrokenPolicy:
    """A policy with a bug: every decision raises."""

    def decide(self, query: RouteQuery, now: datetime) -> Decision:
        raise RuntimeError("bug")

    def report(self, report: RouteReport, now: datetime) -> None:
        pass


async def test_a_failing_policy_refuses_the_submit_and_never_crashes(tmp_path: Path) -> None:
    node = await open_engine(tmp_path, clock=FakeClock(), policy=lambda router: BrokenPolicy())
    try:
        assert (await node.submit(destination_addr="447700900007"))[1] == S.ESME_RSYSERR
    finally:
        await node.close()


def record(destination: str) -> StoredMessage:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    return StoredMessage(
        message_id="m1",
        system_id="test",
        source=Address(1, 1, "12345"),
        destination=Address(1, 1, destination),
        short_message=b"hi",
        submitted_at=now,
        due_at=now,
        expires_at=now + timedelta(days=1),
    )


class RecordingPolicy:
    """Routes everything to "a" and writes down each call, reports and decisions in order."""

    uses_reports = True

    def __init__(self) -> None:
        self.calls: list[RouteReport | str] = []

    def decide(self, query: RouteQuery, now: datetime) -> Decision:
        self.calls.append("decide")
        return Decision.route_to("a")

    def report(self, report: RouteReport, now: datetime) -> None:
        self.calls.append(report)


def test_successes_reach_the_policy_a_route_at_a_time_and_in_order() -> None:
    policy = RecordingPolicy()
    ticks = iter([0.0, 0.010, 0.0, 0.030, 0.0, 0.020, 0.0, 0.050, 0.0, 0.100])
    decisions = Decisions(policy, Router({}), monotonic=lambda: next(ticks))
    now = datetime(2026, 1, 1, tzinfo=UTC)
    for route in ("a", "a", "b"):
        decisions.report(route, Delivered(), decisions.started(), now)
    assert policy.calls == []  # gathered, not yet told
    decisions.report("a", DOWN, decisions.started(), now)  # a failure: successes first
    decisions.report("a", Delivered(), decisions.started(), now)
    decisions.at_submit([record("447700900001")], now)  # a decision: what came before, first
    a_ok, b_ok, a_down, a_ok_again, decided = policy.calls
    assert a_ok == RouteReport(route="a", outcome=Outcome.OK, latency_ms=20.0, count=2)
    assert b_ok == RouteReport(route="b", outcome=Outcome.OK, latency_ms=20.0, count=1)
    assert isinstance(a_down, RouteReport) and a_down.outcome is Outcome.TEMP
    assert a_ok_again == RouteReport(route="a", outcome=Outcome.OK, latency_ms=100.0, count=1)
    assert decided == "decide"
    decisions.flush_reports()
    assert len(policy.calls) == 5  # nothing left to tell


def test_a_batch_of_successes_counts_each_attempt_in_the_route_quality(tmp_path: Path) -> None:
    (tmp_path / "policy.toml").write_text(ROUTES)
    policy = RulePolicy(rules_loader(tmp_path / "policy.toml", routes={"a", "b"}))
    decisions = Decisions(policy, Router({}), monotonic=lambda: 0.0)
    now = datetime(2026, 1, 1, tzinfo=UTC)
    for _ in range(7):
        decisions.report("a", Delivered(), 0.0, now)
    decisions.report("a", DOWN, 0.0, now)
    decisions.flush_reports()
    quality = policy.health.quality("a", now.timestamp())
    assert quality.reports == 8
    assert quality.success_rate == 7 / 8
