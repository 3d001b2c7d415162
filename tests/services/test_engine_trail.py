"""The engine's trail events (engine/trail.py) on a real SqliteStore with a fake clock and
scripted routes: a failover's two attempts and the rule that chose the routes, a retry's time,
and the final event and CDR hook of a message that ends."""

from __future__ import annotations

from pathlib import Path

from opensmsc.routing import PermanentFailure, TemporaryFailure
from opensmsc.routing.retry import ErrorClass
from opensmsc.smpp import CommandStatus, MessageState
from opensmsc.store import StoredMessage, TrailEvent
from tests.services.test_engine_decisions import DOWN, ROUTES, engine

S = CommandStatus
UK = "447700900001"


async def test_a_failover_shows_the_rule_and_both_attempts(tmp_path: Path) -> None:
    node, a, _ = await engine(tmp_path, ROUTES)
    try:
        a.script[UK] = [DOWN]
        message_id = await node.submit_ok(destination_addr=UK, registered_delivery=1)
        await node.run()
        events = await node.store.trail(message_id)
    finally:
        await node.close()
    assert [e.kind for e in events] == [
        "accepted",
        "routed",
        "attempt",
        "attempt",
        "final",
        "receipt",
    ]
    routed = events[1].detail
    assert routed == {"action": "route", "routes": ["a", "b"], "reason": 'rule "uk"'}
    first, second = events[2].detail, events[3].detail
    assert (first["route"], first["outcome"], first["route_fault"]) == (
        "a",
        "temporary_failure",
        True,
    )
    assert first["error"] == S.ESME_RSYSERR and first["why"] == "not bound"
    assert (second["route"], second["outcome"]) == ("b", "delivered")
    final = events[4].detail
    # One attempt as the store counts them (query_sm, the CDR): the failover was inside it.
    assert (final["state"], final["route"], final["attempts"]) == ("DELIVERED", "b", 1)
    assert events[5].detail["state"] == "DELIVERED" and events[5].detail["to"] == "smpp"


async def test_a_temporary_failure_says_when_it_is_tried_again(tmp_path: Path) -> None:
    node, a, b = await engine(tmp_path, ROUTES)
    try:
        absent = TemporaryFailure(6, ErrorClass.TEMPORARY, "absent", route_fault=False)
        a.script[UK] = [absent]
        message_id = await node.submit_ok(destination_addr=UK)
        await node.run()
        events = await node.store.trail(message_id)
        record = await node.state(message_id)
    finally:
        await node.close()
    assert [e.kind for e in events] == ["accepted", "routed", "attempt", "retry"]
    assert events[2].detail["error"] == 6 and "route_fault" not in events[2].detail
    assert record.next_attempt_at is not None
    assert events[3].detail == {
        "next_attempt_at": record.next_attempt_at.isoformat().replace("+00:00", "Z")
    }
    assert b.attempted == []  # the destination's trouble: no failover


async def test_every_final_state_is_heard_with_its_event(tmp_path: Path) -> None:
    heard: list[tuple[StoredMessage, TrailEvent]] = []

    class Listener:
        def final(self, record: StoredMessage, event: TrailEvent) -> None:
            heard.append((record, event))

    node, a, _ = await engine(tmp_path, ROUTES)
    node.lifecycle._on_final = Listener()  # the CDR's seam (app/cdr.py in a node)
    try:
        a.script[UK] = [PermanentFailure(13, MessageState.UNDELIVERABLE, "barred")]
        message_id = await node.submit_ok(destination_addr=UK)
        await node.run()
        stored = (await node.store.trail(message_id))[-1]
    finally:
        await node.close()
    ((record, event),) = heard
    assert record.message_id == message_id and event == stored
    assert (event.kind, event.detail["state"], event.detail["error"]) == (
        "final",
        "UNDELIVERABLE",
        13,
    )
