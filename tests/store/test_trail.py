"""The trail (store/trail.py): events stored in the transaction of the change they describe,
read back in order, never for a refused change, purged with their message, kept across a
restart; and the trace id kept on the record."""

from __future__ import annotations

import sqlite3
from datetime import timedelta

from opensmsc.smpp import MessageState
from opensmsc.store import Change, Direction, StoredMessage, TrailEvent, new_trace_id
from opensmsc.store.sqlite import migrate, schema_version
from tests.store.conftest import MIN, T0, StoreFactory, record

_S = MessageState


def _event(message_id: str, kind: str, minutes: int = 0, **detail: object) -> TrailEvent:
    return TrailEvent(message_id, T0 + minutes * MIN, kind, detail)


def _receipt(receipt_id: str, of: str) -> StoredMessage:
    return record(receipt_id, direction=Direction.RECEIPT, receipted_message_id=of)


async def test_events_come_back_in_order_with_their_detail(store_factory: StoreFactory) -> None:
    store = await store_factory()
    trace = new_trace_id()
    await store.submit_many(
        [record("m1", trace_id=trace)],
        trail=[_event("m1", "accepted", account="esme1", door="smpp", address="127.0.0.1:4000")],
    )
    await store.transition(
        "m1",
        _S.ENROUTE,
        at=T0 + MIN,
        error=27,
        next_attempt_at=T0 + 2 * MIN,
        trail=[_event("m1", "attempt", 1, route="network", error=27, latency_ms=1.5)],
    )
    (refused,) = await store.apply(
        [
            Change(
                "m1",
                _S.DELIVERED,
                T0 + 2 * MIN,
                receipt=_receipt("r1", "m1"),
                trail=(
                    _event("m1", "attempt", 2, route="network", outcome="delivered"),
                    _event("m1", "final", 2, state="DELIVERED", parts=[1, 2], error=None),
                ),
            )
        ]
    )
    assert refused is None
    events = await store.trail("m1")
    assert [e.kind for e in events] == ["accepted", "attempt", "attempt", "final"]
    assert events[0] == _event(
        "m1", "accepted", account="esme1", door="smpp", address="127.0.0.1:4000"
    )
    assert events[1].detail == {"route": "network", "error": 27, "latency_ms": 1.5}
    assert events[3].detail == {"state": "DELIVERED", "parts": [1, 2], "error": None}
    assert events[3].at == T0 + 2 * MIN and events[3].at.utcoffset() == timedelta(0)
    got = await store.get("m1")
    assert got is not None and got.trace_id == trace
    assert await store.trail("nobody") == []


async def test_a_refused_change_writes_no_trail(store_factory: StoreFactory) -> None:
    store = await store_factory()
    await store.submit_many([record("m1"), record("m2")])
    await store.transition("m1", _S.DELIVERED, at=T0)
    refused = await store.apply(
        [
            Change("m1", _S.UNDELIVERABLE, T0, trail=(_event("m1", "final"),)),
            Change("m2", _S.DELIVERED, T0, trail=(_event("m2", "final"),)),
            Change("m3", _S.DELIVERED, T0, trail=(_event("m3", "final"),)),
        ]
    )
    assert [type(r).__name__ if r else None for r in refused] == [
        "IllegalTransition",
        None,
        "MessageNotFound",
    ]
    assert await store.trail("m1") == []
    assert [e.kind for e in await store.trail("m2")] == ["final"]
    assert await store.trail("m3") == []
    try:
        await store.transition("m1", _S.EXPIRED, at=T0, trail=[_event("m1", "final")])
    except Exception as exc:  # IllegalTransition: rolled back with its trail
        assert type(exc).__name__ == "IllegalTransition"
    assert await store.trail("m1") == []


async def test_superseded_message_gets_its_events_with_its_deletion(
    store_factory: StoreFactory,
) -> None:
    store = await store_factory()
    await store.submit_many([record("old")], trail=[_event("old", "accepted")])
    await store.submit_many(
        [record("new")],
        superseding=["old"],
        trail=[_event("new", "accepted"), _event("old", "final", state="DELETED")],
    )
    assert [e.kind for e in await store.trail("old")] == ["accepted", "final"]
    assert [e.kind for e in await store.trail("new")] == ["accepted"]


async def test_add_trail_stores_events_without_a_change(store_factory: StoreFactory) -> None:
    store = await store_factory()
    await store.submit_many([record("m1")])
    await store.add_trail([_event("m1", "receipt_taken", by="http_poll")])
    await store.add_trail([])
    assert [e.detail for e in await store.trail("m1")] == [{"by": "http_poll"}]


async def test_trail_is_purged_with_its_message(store_factory: StoreFactory) -> None:
    store = await store_factory()
    await store.submit_many([record("m1"), record("m2")], trail=[_event("m1", "accepted")])
    await store.apply(
        [
            Change(
                "m1",
                _S.DELIVERED,
                T0,
                receipt=_receipt("r1", "m1"),
                trail=(_event("m1", "final"), _event("m1", "receipt")),
            )
        ]
    )
    await store.add_trail([_event("m2", "accepted")])
    assert await store.purge_final(T0 + MIN) == 1  # m1; r1 is still open
    assert await store.trail("m1") == []
    assert [e.kind for e in await store.trail("m2")] == ["accepted"]
    # The client takes the receipt after its message was purged: the receipt's purge takes
    # that late event too.
    await store.apply(
        [Change("r1", _S.DELIVERED, T0 + 2 * MIN, trail=(_event("m1", "receipt_taken", 2),))]
    )
    assert [e.kind for e in await store.trail("m1")] == ["receipt_taken"]
    assert await store.purge_final(T0 + 3 * MIN) == 1
    assert await store.trail("m1") == []


async def test_trail_and_trace_id_survive_a_restart(store_factory: StoreFactory) -> None:
    store = await store_factory()
    await store.submit_many(
        [record("m1", trace_id="ab" * 16)], trail=[_event("m1", "accepted", door="http")]
    )
    await store.close()
    again = await store_factory()
    assert [e.detail for e in await again.trail("m1")] == [{"door": "http"}]
    got = await again.get("m1")
    assert got is not None and got.trace_id == "ab" * 16


async def test_version_9_database_is_migrated_to_keep_trails(tmp_path: object) -> None:
    from pathlib import Path

    from opensmsc.store import SqliteStore

    assert isinstance(tmp_path, Path)
    path = tmp_path / "m.sqlite3"
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        migrate(conn, target=9)
        assert schema_version(conn) == 9
    finally:
        conn.close()
    store = await SqliteStore.open(path)
    try:
        await store.submit_many([record("m1")], trail=[_event("m1", "accepted")])
        assert [e.kind for e in await store.trail("m1")] == ["accepted"]
        got = await store.get("m1")
        assert got is not None and got.trace_id is None
    finally:
        await store.close()


async def test_a_receipt_acknowledged_shows_as_taken(store_factory: StoreFactory) -> None:
    store = await store_factory()
    await store.submit_many([record("m1"), record("m2")])
    hook = record(
        "r2",
        direction=Direction.RECEIPT,
        receipted_message_id="m2",
        callback_url="https://example.com/dlr",
    )
    for message_id, receipt in (("m1", _receipt("r1", "m1")), ("m2", hook)):
        await store.apply(
            [
                Change(
                    message_id,
                    _S.DELIVERED,
                    T0,
                    receipt=receipt,
                    trail=(_event(message_id, "receipt", receipt_id=receipt.message_id),),
                )
            ]
        )
    assert [e.kind for e in await store.trail("m1")] == ["receipt"]  # not taken yet
    await store.apply([Change("r1", _S.DELIVERED, T0 + 3 * MIN)])
    await store.apply([Change("r2", _S.DELIVERED, T0 + 2 * MIN, trail=(_event("m2", "webhook"),))])
    first = await store.trail("m1")
    assert first[-1] == _event("m1", "receipt_taken", 3, receipt_id="r1", by="deliver_sm_resp")
    second = await store.trail("m2")
    assert [e.kind for e in second] == ["receipt", "webhook", "receipt_taken"]
    assert second[-1].detail == {"receipt_id": "r2", "by": "webhook"}
    assert second[-1].at == T0 + 2 * MIN
