"""SQLite specifics: versioned migrations at start-up, and the durability settings."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from opensmsc.errors import StoreUnavailable
from opensmsc.smpp import MessageState
from opensmsc.store import Direction, SchemaTooNew, SqliteStore
from opensmsc.store.sqlite import MIGRATIONS, migrate, schema_version
from tests.store.conftest import T0, record


def _raw(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(path, isolation_level=None)


async def test_new_database_is_at_the_newest_version_in_wal(tmp_path: Path) -> None:
    path = tmp_path / "m.sqlite3"
    store = await SqliteStore.open(path)
    await store.close()
    conn = _raw(path)
    try:
        assert schema_version(conn) == len(MIGRATIONS) >= 2
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        conn.close()


async def test_version_1_database_is_migrated_and_keeps_its_messages(tmp_path: Path) -> None:
    path = tmp_path / "m.sqlite3"
    conn = _raw(path)
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        assert migrate(conn, target=1) == 0
        # A row as version 1 wrote it: no receipt columns yet.
        conn.execute(
            "INSERT INTO message (message_id, system_id, direction, source_ton, source_npi,"
            " source_addr, dest_ton, dest_npi, dest_addr, service_type, esm_class, protocol_id,"
            " priority_flag, registered_delivery, data_coding, sm_default_msg_id, short_message,"
            " tlvs, submitted_at, due_at, expires_at, state, attempts, next_attempt_at)"
            " VALUES ('old1', 'esme1', 1, 5, 0, '1234', 1, 1, '447700900001', '', 0, 0, 0, 1, 0,"
            " 0, x'6869', x'', 1740830400000000, 1740830400000000, 1741003200000000, 1, 0,"
            " 1740830400000000)"
        )
        assert schema_version(conn) == 1
    finally:
        conn.close()

    store = await SqliteStore.open(path)
    try:
        old = await store.get("old1")
        assert old is not None
        assert (old.submitted_at, old.short_message, old.receipt_id) == (T0, b"hi", None)
        # And the new version's features work on it.
        await store.map_upstream_id("carrier-a", "x1", "old1")
        receipt = record("r1", receipted_message_id="old1", direction=Direction.RECEIPT)
        done = await store.transition("old1", MessageState.DELIVERED, at=T0, receipt=receipt)
        assert done.receipt_id == "r1"
    finally:
        await store.close()
    conn = _raw(path)
    try:
        assert schema_version(conn) == len(MIGRATIONS)
    finally:
        conn.close()


async def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "m.sqlite3"
    await (await SqliteStore.open(path)).close()  # create it
    conn = _raw(path)
    try:
        conn.execute("UPDATE schema_version SET version = ?", (len(MIGRATIONS) + 1,))
    finally:
        conn.close()
    with pytest.raises(SchemaTooNew):
        await SqliteStore.open(path)


def test_migration_steps_apply_cleanly_one_by_one(tmp_path: Path) -> None:
    conn = _raw(tmp_path / "m.sqlite3")
    try:
        for version in range(1, len(MIGRATIONS) + 1):
            migrate(conn, target=version)
            assert schema_version(conn) == version
        assert migrate(conn) == len(MIGRATIONS)  # idempotent
    finally:
        conn.close()


async def test_a_failing_database_fails_the_whole_batch(tmp_path: Path) -> None:
    # An error of the database itself (not a refusal of one operation) means the transaction
    # cannot be trusted: every write of that batch gets StoreUnavailable and none is kept.
    # The writer waits up to 1 s for more work, so the three writes share one transaction.
    store = await SqliteStore.open(tmp_path / "m.sqlite3", max_batch_delay=1.0, max_batch_ops=3)
    try:

        def broken(conn: sqlite3.Connection) -> None:
            conn.execute("SELECT * FROM no_such_table")

        results = await asyncio.gather(
            store.submit_many([record("a")]),
            store._write(broken),
            store.submit_many([record("b")]),
            return_exceptions=True,
        )
        assert all(isinstance(r, StoreUnavailable) for r in results), results
        assert await store.get("a") is None and await store.get("b") is None
        await store.submit_many([record("c")])  # the store carries on
        assert await store.get("c") is not None
    finally:
        await store.close()
