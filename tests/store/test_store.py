"""The Store contract, run against every implementation (conftest.IMPLEMENTATIONS)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from opensmsc.errors import StoreUnavailable
from opensmsc.smpp import MessageState
from opensmsc.store import (
    Address,
    Direction,
    DuplicateMessage,
    IllegalTransition,
    MessageNotFound,
    Replacement,
    Store,
    StoredMessage,
)
from tests.store.conftest import MIN, T0, StoreFactory, record

S = MessageState


async def test_submitted_message_reads_back_equal(store: Store) -> None:
    r = record("m1", tlvs=bytes.fromhex("1400000361626302040002abcd"))
    await store.submit_many([r])
    assert await store.get("m1") == r
    assert await store.get("nope") is None


async def test_submit_many_is_all_or_nothing_on_duplicate(store: Store) -> None:
    await store.submit_many([record("m1")])
    with pytest.raises(DuplicateMessage) as info:
        await store.submit_many([record("m2"), record("m1"), record("m3")])
    assert info.value.message_id == "m1"
    assert await store.get("m2") is None
    assert await store.get("m3") is None


async def test_a_refused_write_does_not_spoil_its_batch(store: Store) -> None:
    await store.submit_many([record("m1")])
    results = await asyncio.gather(
        store.submit_many([record("a")]),
        store.submit_many([record("m1")]),
        store.submit_many([record("b")]),
        return_exceptions=True,
    )
    assert results[0] is None and results[2] is None
    assert isinstance(results[1], DuplicateMessage)
    assert await store.get("a") is not None and await store.get("b") is not None


async def test_only_initial_states_can_be_submitted(store: Store) -> None:
    with pytest.raises(IllegalTransition):
        await store.submit_many([record("m1", state=S.DELIVERED, done_at=T0)])
    assert await store.get("m1") is None


async def test_legal_transition_writes_state_times_and_error(store: Store) -> None:
    await store.submit_many([record("m1")])
    retry = await store.transition(
        "m1", S.ENROUTE, at=T0 + MIN, error=27, next_attempt_at=T0 + 6 * MIN, attempt=True
    )
    assert (retry.state, retry.attempts, retry.last_error) == (S.ENROUTE, 1, 27)
    assert retry.next_attempt_at == T0 + 6 * MIN
    done = await store.transition("m1", S.DELIVERED, at=T0 + 7 * MIN, route="loopback")
    assert done.is_final and done.done_at == T0 + 7 * MIN and done.next_attempt_at is None
    assert done.last_error == 27 and done.route == "loopback"
    assert await store.get("m1") == done


async def test_illegal_transition_is_refused_and_writes_nothing(store: Store) -> None:
    await store.submit_many([record("m1")])
    final = await store.transition("m1", S.DELIVERED, at=T0)
    for state in S:
        with pytest.raises(IllegalTransition) as info:
            await store.transition("m1", state, at=T0 + MIN, error=1)
        assert (info.value.old, info.value.new) == (S.DELIVERED, state)
    assert await store.get("m1") == final


async def test_transition_of_unknown_message(store: Store) -> None:
    with pytest.raises(MessageNotFound):
        await store.transition("ghost", S.DELIVERED, at=T0)


async def test_final_transition_stores_its_receipt_atomically(store: Store) -> None:
    await store.submit_many([record("m1", registered_delivery=1)])
    receipt = record(
        "r1",
        direction=Direction.RECEIPT,
        source=Address(1, 1, "447700900001"),
        destination=Address(5, 0, "1234"),
        esm_class=0x04,
        submitted_at=T0 + MIN,
        due_at=T0 + MIN,
        receipted_message_id="m1",
    )
    done = await store.transition("m1", S.DELIVERED, at=T0 + MIN, receipt=receipt)
    assert done.receipt_id == "r1"
    assert await store.pending_receipts("esme1", 10) == [receipt]
    # A receipt id that exists already makes the whole transition fail: the message stays open.
    await store.submit_many([record("m2", registered_delivery=1)])
    with pytest.raises(DuplicateMessage):
        await store.transition("m2", S.DELIVERED, at=T0 + MIN, receipt=receipt)
    m2 = await store.get("m2")
    assert m2 is not None and m2.state is S.ENROUTE and m2.receipt_id is None


async def test_due_orders_by_priority_then_time(store: Store) -> None:
    await store.submit_many(
        [
            record("bulk-early", due_at=T0 - 5 * MIN, priority_flag=0),
            record("bulk-late", due_at=T0 - 1 * MIN, priority_flag=0),
            record("otp-late", due_at=T0 - 1 * MIN, priority_flag=3),
            record("otp-early", due_at=T0 - 2 * MIN, priority_flag=3),
            record("mid", due_at=T0 - 9 * MIN, priority_flag=1),
            record("future-otp", due_at=T0 + 1 * MIN, submitted_at=T0, priority_flag=3),
        ]
    )
    # Rows with the same time keep their arrival order.
    await store.submit_many([record("bulk-late-2", due_at=T0 - 1 * MIN)])
    due = [r.message_id for r in await store.due(T0, 100)]
    assert due == ["otp-early", "otp-late", "mid", "bulk-early", "bulk-late", "bulk-late-2"]
    assert [r.message_id for r in await store.due(T0, 3)] == ["otp-early", "otp-late", "mid"]
    assert "future-otp" in [r.message_id for r in await store.due(T0 + MIN, 100)]


async def test_due_skips_final_messages_and_receipts(store: Store) -> None:
    await store.submit_many([record("m1"), record("m2"), record("r1", direction=Direction.RECEIPT)])
    await store.transition("m1", S.DELETED, at=T0)
    assert [r.message_id for r in await store.due(T0, 10)] == ["m2"]


async def test_claim_due_leases_messages_once(store: Store) -> None:
    await store.submit_many([record("now"), record("sched", due_at=T0 + MIN)])
    lease = T0 + 2 * MIN
    claimed = await store.claim_due(T0 + MIN, 10, lease_until=lease)
    assert {r.message_id for r in claimed} == {"now", "sched"}
    assert all(r.state is S.ENROUTE and r.attempts == 1 for r in claimed)
    assert await store.claim_due(T0 + MIN, 10, lease_until=lease) == []
    # The lease ends (a crash mid-attempt, say): the messages are due again.
    again = await store.claim_due(lease, 10, lease_until=lease + MIN)
    assert [r.attempts for r in again] == [2, 2]


async def test_claim_due_leaves_the_mo_of_skipped_accounts(store: Store) -> None:
    # In a cluster the node without a receiver of esme2 leaves esme2's MO to the node with one.
    await store.submit_many(
        [
            record("mt2", system_id="esme2"),
            record("mo1", direction=Direction.MO),
            record("mo2", direction=Direction.MO, system_id="esme2"),
        ]
    )
    lease = T0 + MIN
    claimed = await store.claim_due(T0, 10, lease_until=lease, skip_mo_of=["esme2", "esme3"])
    assert sorted(r.message_id for r in claimed) == ["mo1", "mt2"]
    taken = await store.claim_due(T0, 10, lease_until=lease)
    assert [r.message_id for r in taken] == ["mo2"]


async def test_find_pending_by_addresses_and_service_type(store: Store) -> None:
    await store.submit_many(
        [
            record("a", service_type="VMN"),
            record("b", service_type=""),
            record("other-account", system_id="esme2"),
            record("other-source", source=Address(5, 0, "999")),
            record("final"),
        ]
    )
    await store.transition("final", S.DELIVERED, at=T0)
    found = await store.find_pending("esme1", "1234", "447700900001")
    assert [r.message_id for r in found] == ["a", "b"]
    found = await store.find_pending("esme1", "1234", "447700900001", "VMN")
    assert [r.message_id for r in found] == ["a"]


async def test_superseding_replaces_in_one_transaction(store: Store) -> None:
    await store.submit_many([record("old")])
    await store.submit_many([record("new")], superseding=["old"])
    old = await store.get("old")
    assert old is not None and old.state is S.DELETED and old.done_at == T0
    # A failed submit leaves the superseded message alone.
    await store.submit_many([record("new2")])
    with pytest.raises(DuplicateMessage):
        await store.submit_many([record("new2")], superseding=["new"])
    new = await store.get("new")
    assert new is not None and new.state is S.ENROUTE


async def test_waiting_for_lists_enroute_messages_in_submit_order(store: Store) -> None:
    dest = Address(1, 1, "447700900777")
    await store.submit_many([record("m3", destination=dest, priority_flag=3)])
    await store.submit_many([record("m1", destination=dest), record("m2", destination=dest)])
    await store.submit_many([record("sched", destination=dest, due_at=T0 + MIN)])
    await store.submit_many([record("elsewhere")])
    await store.transition("m1", S.ENROUTE, at=T0, next_attempt_at=T0 + 4 * 60 * MIN)
    waiting = await store.waiting_for("447700900777")
    assert [r.message_id for r in waiting] == ["m3", "m1", "m2"]


async def test_replace_changes_content_and_schedule(store: Store) -> None:
    await store.submit_many([record("m1", due_at=T0 + 10 * MIN)])
    new = await store.replace(
        "m1",
        Replacement(short_message=b"bye", registered_delivery=1, due_at=T0 + 20 * MIN),
        at=T0 + MIN,
    )
    assert (new.short_message, new.registered_delivery, new.state) == (b"bye", 1, S.SCHEDULED)
    assert new.next_attempt_at == T0 + 20 * MIN and new.due_at == T0 + 20 * MIN
    now = await store.replace("m1", Replacement(due_at=T0 + MIN), at=T0 + MIN)
    assert now.state is S.ENROUTE
    assert await store.get("m1") == now
    await store.transition("m1", S.DELIVERED, at=T0 + 2 * MIN)
    with pytest.raises(IllegalTransition):
        await store.replace("m1", Replacement(short_message=b"late"), at=T0 + 3 * MIN)


async def test_receipt_queue_is_per_account_fifo_until_acked(store: Store) -> None:
    def receipt(message_id: str, system_id: str = "esme1") -> StoredMessage:
        return record(message_id, system_id=system_id, direction=Direction.RECEIPT)

    for message_id in ("r1", "r2", "r3"):
        await store.enqueue_receipt(receipt(message_id))
    await store.enqueue_receipt(receipt("x1", "esme2"))
    assert [r.message_id for r in await store.pending_receipts("esme1", 2)] == ["r1", "r2"]
    await store.ack_receipt("r1", at=T0 + MIN)
    assert [r.message_id for r in await store.pending_receipts("esme1", 10)] == ["r2", "r3"]
    assert [r.message_id for r in await store.pending_receipts("esme2", 10)] == ["x1"]
    acked = await store.get("r1")
    assert acked is not None and acked.state is S.DELIVERED
    with pytest.raises(ValueError, match="not a receipt"):
        await store.enqueue_receipt(record("mt"))


async def test_upstream_ids_map_per_connector(store: Store) -> None:
    await store.map_upstream_id("carrier-a", "1f", "m1")
    await store.map_upstream_id("carrier-b", "1f", "m2")
    assert await store.lookup_upstream_id("carrier-a", "1f") == "m1"
    assert await store.lookup_upstream_id("carrier-b", "1f") == "m2"
    assert await store.lookup_upstream_id("carrier-a", "20") is None


async def test_purge_removes_only_old_final_messages(store: Store) -> None:
    await store.submit_many([record(f"m{i}") for i in range(5)])
    for i in range(3):
        await store.transition(f"m{i}", S.DELIVERED, at=T0 + i * MIN)
    await store.map_upstream_id("carrier-a", "u0", "m0")
    assert await store.purge_final(T0 + 2 * MIN) == 2  # m0 and m1; m2 is not older
    assert await store.get("m0") is None and await store.get("m1") is None
    assert await store.get("m2") is not None and await store.get("m3") is not None
    assert await store.lookup_upstream_id("carrier-a", "u0") is None
    assert await store.purge_final(T0 + 2 * MIN) == 0


async def test_purge_works_in_chunks(store: Store) -> None:
    records = [record(f"m{i:05d}") for i in range(4500)]
    await store.submit_many(records)
    await asyncio.gather(*(store.transition(r.message_id, S.DELIVERED, at=T0) for r in records))
    assert await store.purge_final(T0 + MIN) == 4500


async def test_everything_survives_a_restart(store_factory: StoreFactory) -> None:
    first = await store_factory()
    await first.submit_many([record("m1"), record("m2", due_at=T0 + MIN)])
    await first.transition("m1", S.ENROUTE, at=T0, error=6, next_attempt_at=T0 + 5 * MIN)
    await first.enqueue_receipt(record("r1", direction=Direction.RECEIPT))
    await first.map_upstream_id("carrier-a", "abc", "m1")
    m1, m2 = await first.get("m1"), await first.get("m2")
    await first.close()

    second = await store_factory()
    assert await second.get("m1") == m1 and await second.get("m2") == m2
    assert [r.message_id for r in await second.pending_receipts("esme1", 5)] == ["r1"]
    assert await second.lookup_upstream_id("carrier-a", "abc") == "m1"
    assert [r.message_id for r in await second.due(T0 + 5 * MIN, 5)] == ["m2", "m1"]


async def test_concurrent_writes_share_transactions(store: Store) -> None:
    before = store.stats()
    n = 400
    await asyncio.gather(*(store.submit_many([record(f"m{i}")]) for i in range(n)))
    after = store.stats()
    transactions = after.transactions - before.transactions
    assert after.operations - before.operations == n
    # Group commit: far fewer COMMITs (syncs) than writes.
    assert transactions <= n // 4, f"{transactions} transactions for {n} writes"
    assert after.largest_batch >= 10
    assert len(await store.due(T0, 1000)) == n


async def test_closed_store_refuses_work(store_factory: StoreFactory) -> None:
    store = await store_factory()
    await store.close()
    with pytest.raises(StoreUnavailable):
        await store.submit_many([record("m1")])
    with pytest.raises(StoreUnavailable):
        await store.get("m1")
    await store.close()  # idempotent


async def test_writes_queued_before_close_are_committed(store_factory: StoreFactory) -> None:
    store = await store_factory()
    writes = [asyncio.ensure_future(store.submit_many([record(f"m{i}")])) for i in range(50)]
    await asyncio.sleep(0)  # they are all queued now
    await store.close()
    await asyncio.gather(*writes)
    reopened = await store_factory()
    assert len(await reopened.due(T0, 100)) == 50


async def test_times_keep_microseconds_and_come_back_utc(store: Store) -> None:
    at = T0 + timedelta(microseconds=123457)
    await store.submit_many([record("m1", submitted_at=at, due_at=at)])
    got = await store.get("m1")
    assert got is not None and got.submitted_at == at
    assert got.submitted_at.utcoffset() == timedelta(0)
