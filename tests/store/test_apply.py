"""Store.apply: transitions as data, made without reading back, each atomic on its own."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace

from opensmsc.smpp import MessageState
from opensmsc.store import (
    Change,
    ConcatInfo,
    Direction,
    DuplicateMessage,
    IllegalTransition,
    MessageNotFound,
    Store,
    StoredMessage,
    apply_change,
)
from tests.store.conftest import MIN, T0, StoreFactory, record

S = MessageState


def receipt(message_id: str, of: str) -> StoredMessage:
    return record(message_id, direction=Direction.RECEIPT, receipted_message_id=of)


async def test_apply_writes_what_transition_writes(store: Store) -> None:
    await store.submit_many(
        [
            record("a"),
            record("b"),
            record("c", concat=ConcatInfo(group_id="g", reference=1, total=2, seq=1)),
        ]
    )
    r = record("r1", direction=Direction.RECEIPT, receipted_message_id="a")
    results = await store.apply(
        [
            Change("a", S.DELIVERED, T0 + MIN, route="loopback", attempt=True, receipt=r),
            Change("b", S.ENROUTE, T0, error=34, next_attempt_at=T0 + 5 * MIN, route="x"),
            Change("c", S.UNDELIVERABLE, T0 + MIN, error=7, upstream_message_id="U1"),
        ]
    )
    assert results == [None, None, None]
    a, b, c, stored = [await store.get(m) for m in ("a", "b", "c", "r1")]
    assert a == replace(
        record("a"),
        state=S.DELIVERED,
        done_at=T0 + MIN,
        next_attempt_at=None,
        attempts=1,
        route="loopback",
        receipt_id="r1",
    )
    assert b == replace(record("b"), next_attempt_at=T0 + 5 * MIN, last_error=34, route="x")
    assert c is not None and c.state is S.UNDELIVERABLE and c.upstream_message_id == "U1"
    assert c.last_error == 7 and c.concat is not None and c.concat.group_id == "g"
    assert stored == r


async def test_a_refused_change_writes_nothing_and_spoils_nothing(store: Store) -> None:
    await store.submit_many([record("a"), record("b")])
    await store.transition("b", S.DELIVERED, at=T0)
    results = await store.apply(
        [
            Change("missing", S.DELIVERED, T0),
            Change("b", S.EXPIRED, T0, receipt=receipt("rb", "b")),  # already final
            Change("a", S.DELIVERED, T0, receipt=receipt("ra", "a")),
            Change("a", S.EXPIRED, T0),  # as the change before it left it: final
        ]
    )
    assert isinstance(results[0], MessageNotFound)
    assert isinstance(results[1], IllegalTransition)
    assert results[2] is None
    assert isinstance(results[3], IllegalTransition)
    assert await store.get("rb") is None
    a = await store.get("a")
    assert a is not None and a.state is S.DELIVERED and a.receipt_id == "ra"


async def test_a_receipt_id_already_stored_refuses_that_change_only(store: Store) -> None:
    await store.submit_many([record("a"), record("b"), record("taken")])
    results = await store.apply(
        [
            Change("a", S.DELIVERED, T0, receipt=receipt("taken", "a")),
            Change("b", S.DELIVERED, T0, receipt=receipt("rb", "b")),
        ]
    )
    assert isinstance(results[0], DuplicateMessage) and results[1] is None
    a, b = await store.get("a"), await store.get("b")
    assert a is not None and a.state is S.ENROUTE and a.receipt_id is None
    assert b is not None and b.state is S.DELIVERED and await store.get("rb") is not None


async def test_concurrent_applies_commit_together_and_survive_a_restart(
    store_factory: StoreFactory,
) -> None:
    store = await store_factory()
    ids = [f"m{i}" for i in range(50)]
    await store.submit_many([record(m) for m in ids])
    results = await asyncio.gather(
        *(store.apply([Change(m, S.DELIVERED, T0, receipt=receipt("r" + m, m))]) for m in ids)
    )
    assert results == [[None]] * len(ids)
    await store.close()
    again = await store_factory()
    for m in ids:
        stored = await again.get(m)
        assert stored is not None and stored.state is S.DELIVERED
        assert await again.get("r" + m) is not None
    assert [r.message_id for r in await again.pending_receipts("esme1", 100)] == [
        "r" + m for m in ids
    ]


# One of each kind of change (the receipt's id is made per message and step).
_KINDS: list[Callable[[str, str], Change]] = [
    lambda m, r: Change(m, S.ENROUTE, T0, error=34, next_attempt_at=T0 + 5 * MIN, attempt=True),
    lambda m, r: Change(m, S.ENROUTE, T0, upstream_message_id="U1", route="up"),
    lambda m, r: Change(m, S.UNKNOWN, T0 + MIN, error=1, next_attempt_at=T0 + 9 * MIN),
    lambda m, r: Change(m, S.SCHEDULED, T0, next_attempt_at=T0 + 2 * MIN, route="x"),
    lambda m, r: Change(m, S.DELIVERED, T0 + MIN, attempt=True, receipt=receipt(r, m)),
    lambda m, r: Change(m, S.EXPIRED, T0 + 2 * MIN, error=7, route="y"),
    lambda m, r: Change(m, S.ACCEPTED, T0 + MIN, upstream_message_id="U2"),
    lambda m, r: Change(m, S.ENROUTE, T0 + MIN, receipt=receipt(r, m)),
]


async def test_what_a_store_writes_is_apply_change(store: Store) -> None:
    # model.apply_change is the one statement of what a change does to a record: both of the
    # store's paths (transition, which returns the record, and apply, which does not read it
    # back) must leave exactly that, change after change, and refuse what it refuses.
    pairs = [(a, b) for a in range(len(_KINDS)) for b in range(len(_KINDS))]
    start = record("x", concat=ConcatInfo(group_id="g", reference=1, total=2, seq=1))
    await store.submit_many(
        [replace(start, message_id=f"{path}{i}") for i in range(len(pairs)) for path in "ta"]
    )
    for i, kinds in enumerate(pairs):
        expected = {path: replace(start, message_id=f"{path}{i}") for path in "ta"}
        for step, kind in enumerate(kinds):
            for path in "ta":
                message_id = f"{path}{i}"
                change = _KINDS[kind](message_id, f"r{message_id}.{step}")
                try:
                    expected[path] = apply_change(expected[path], change)
                except IllegalTransition:
                    refused = True
                else:
                    refused = False
                if path == "t":
                    try:
                        written = await store.transition(
                            change.message_id,
                            change.new_state,
                            at=change.at,
                            error=change.error,
                            next_attempt_at=change.next_attempt_at,
                            attempt=change.attempt,
                            route=change.route,
                            upstream_message_id=change.upstream_message_id,
                            receipt=change.receipt,
                        )
                    except IllegalTransition:
                        assert refused, (kinds, step)
                    else:
                        assert not refused and written == expected[path], (kinds, step)
                else:
                    (outcome,) = await store.apply([change])
                    assert isinstance(outcome, IllegalTransition) == refused, (kinds, step)
                assert await store.get(message_id) == expected[path], (kinds, step, path)
