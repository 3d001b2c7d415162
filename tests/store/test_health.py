"""What the store tells operations: what waits in it (`queue_depths`) and whether it can write
now (`check_writable`, the readiness probe), a full disk included."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from opensmsc.smpp import MessageState
from opensmsc.store import Change, Direction, SqliteStore, Store, StoreFull
from tests.store.conftest import MIN, T0, record

S = MessageState


async def test_queue_depths_count_open_messages_receipts_and_webhooks(store: Store) -> None:
    empty = await store.queue_depths()
    assert (empty.messages, empty.receipts, empty.webhooks) == (0, {}, 0)
    await store.submit_many(
        [
            record("m1"),
            record("m2", due_at=T0 + MIN),  # scheduled: waits all the same
            record("m3"),  # ends below: no longer counted
            record("mo1", direction=Direction.MO, system_id="esme2"),
            record("r1", direction=Direction.RECEIPT, receipted_message_id="m9"),
            record("r2", direction=Direction.RECEIPT, receipted_message_id="m8"),
            record(
                "w1",
                direction=Direction.RECEIPT,
                system_id="esme2",
                receipted_message_id="m7",
                callback_url="http://h/x",
            ),
        ]
    )
    assert await store.apply([Change("m3", S.DELIVERED, T0), Change("r2", S.DELIVERED, T0)]) == [
        None,
        None,
    ]
    depths = await store.queue_depths()
    assert depths.messages == 3  # m1, m2, mo1
    assert depths.receipts == {"esme1": 1, "esme2": 1}  # r1; w1 (a webhook is a receipt)
    assert depths.webhooks == 1


async def _limit_pages(store: SqliteStore, full: bool) -> None:
    # SQLITE_FULL without filling a disk: the writer's connection may not grow the file past
    # the pages it has (or grows freely again).
    def limit(conn: sqlite3.Connection) -> None:
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        conn.execute(f"PRAGMA max_page_count = {pages if full else 1 << 30}")

    await store._write(limit)


async def test_a_full_store_is_not_writable_until_it_has_room_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = await SqliteStore.open(tmp_path / "m.sqlite3")
    # Every check probes (a recent commit is otherwise trusted for a few seconds).
    monkeypatch.setattr("opensmsc.store.sqlite.store._TRUST_COMMIT", 0.0)
    try:
        await store.check_writable()  # a new store: the probe commits
        assert store.stats().failing is None
        await _limit_pages(store, full=True)
        with pytest.raises(StoreFull):
            for n in range(200):  # the pages the file has fill up first
                await store.submit_many([record(f"m{n}", short_message=b"x" * 200)])
        assert store.stats().failed_commits >= 1
        assert "full" in (store.stats().failing or "")
        # No write since, yet the probe sees it: still full.
        with pytest.raises(StoreFull):
            await store.check_writable()
        await _limit_pages(store, full=False)
        commits = store.stats().transactions
        await store.check_writable()  # room again, seen without any message written
        assert store.stats().transactions == commits + 1  # the probe's own commit
        assert store.stats().failing is None
        monkeypatch.undo()
        await store.check_writable()  # a commit this recent is trusted: no probe
        assert store.stats().transactions == commits + 1
        assert await store.saved_answer("", "opensmsc:probe") is None  # nothing left of it
    finally:
        await store.close()
