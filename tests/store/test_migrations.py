"""SQLite specifics: versioned migrations at start-up, and the durability settings."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from pathlib import Path

import pytest

from opensmsc.errors import StoreUnavailable
from opensmsc.smpp import MessageState
from opensmsc.store import Direction, OutageLog, SchemaTooNew, SqliteStore, StoreFull
from opensmsc.store.sqlite import MIGRATIONS, migrate, schema_version
from opensmsc.store.sqlite import rows as sqlite_rows
from opensmsc.store.sqlite import statements as sqlite_statements
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


async def test_version_3_database_is_migrated_and_its_open_messages_are_found(
    tmp_path: Path,
) -> None:
    # Version 4 rewrites the partial indexes' condition (no `IN` list): the open messages a
    # version 3 file holds are in the new indexes, and every query still finds them.

    path = tmp_path / "m.sqlite3"
    conn = _raw(path)
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        assert migrate(conn, target=3) == 0
        rows = [
            sqlite_rows.insert_row(record("m1", next_attempt_at=T0)),
            sqlite_rows.insert_row(
                record("r1", receipted_message_id="m1", direction=Direction.RECEIPT)
            ),
        ]
        for shape, params in rows:
            conn.execute(sqlite_rows.insert_sql(shape), params)
        assert schema_version(conn) == 3
    finally:
        conn.close()

    store = await SqliteStore.open(path)
    try:
        assert [r.message_id for r in await store.due(T0, 10)] == ["m1"]
        assert [r.message_id for r in await store.waiting_for("447700900001")] == ["m1"]
        assert [r.message_id for r in await store.pending_receipts("esme1", 10)] == ["r1"]
        await store.transition("m1", MessageState.DELIVERED, at=T0)
        assert await store.due(T0, 10) == []
        assert await store.waiting_for("447700900001") == []
    finally:
        await store.close()
    conn = _raw(path)
    try:
        assert schema_version(conn) == len(MIGRATIONS) >= 4
        sql = [
            s
            for (s,) in conn.execute(
                "SELECT sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
            )
        ]
        assert sql and not any(" IN (" in s for s in sql), sql
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        conn.close()


def test_hot_writes_open_no_ephemeral_table(tmp_path: Path) -> None:
    # What version 4 is for: an INSERT or a narrow UPDATE that checks a partial index's
    # condition must not build a temporary table per row (SQLite does for `IN (a, b, c)`).

    conn = _raw(tmp_path / "m.sqlite3")
    try:
        migrate(conn)
        statements = [
            sqlite_rows.insert_sql(0),
            sqlite_rows.insert_sql(0xFF),
            sqlite_statements.update_sql(0),
            sqlite_statements.update_sql(0x7F),
        ]
        for statement in statements:
            marks = (None,) * statement.count("?")
            ops = {row[1] for row in conn.execute("EXPLAIN " + statement, marks)}
            assert "OpenEphemeral" not in ops, statement
    finally:
        conn.close()


def test_queries_use_the_partial_indexes(tmp_path: Path) -> None:
    # SQLite uses a partial index only when the query visibly implies its condition.

    conn = _raw(tmp_path / "m.sqlite3")
    try:
        migrate(conn)
        open_ = sqlite_rows.OPEN
        plans = {
            "message_due": f"SELECT seq FROM message WHERE {open_} AND direction <> 3"
            " AND priority_flag = 1 AND next_attempt_at <= 5 ORDER BY next_attempt_at, seq",
            # named in the query (store.py waiting_for): message_mt_dest would serve it too,
            # final messages and all; INDEXED BY fails when the condition is not implied
            "message_dest_mt": "SELECT seq FROM message INDEXED BY message_dest_mt"
            f" WHERE {open_} AND dest_addr = 'x' AND direction = 1 AND state = 1 ORDER BY seq",
            "message_mt_dest": "SELECT seq FROM message WHERE direction = 1"
            " AND dest_addr = 'x' AND seq < 9 ORDER BY seq DESC LIMIT 3",
            "message_receipts": f"SELECT seq FROM message WHERE direction = 3 AND {open_}"
            " AND system_id = 'e' ORDER BY seq LIMIT 5",
        }
        for index, query in plans.items():
            detail = " ".join(row[-1] for row in conn.execute("EXPLAIN QUERY PLAN " + query))
            assert f"USING INDEX {index} " in detail, (index, detail)
    finally:
        conn.close()


async def _fill_the_disk(store: SqliteStore, full: bool = True) -> None:
    # SQLITE_FULL, the error a full disk gives, without filling one: the writer's connection
    # may not grow the file past the pages it has (or grows freely again).
    def limit(conn: sqlite3.Connection) -> None:
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        conn.execute(f"PRAGMA max_page_count = {pages if full else 1 << 30}")

    await store._write(limit)


async def test_a_full_disk_fails_writes_with_store_full_and_logs_it_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Issue 10 item 29: a full disk answered ESME_RSYSERR and logged a line per commit (some
    # 130 a second). StoreFull (answered ESME_RMSGQFUL: come back later), one line per
    # interval with the count of the failures it held back, reads unaffected.
    store = await SqliteStore.open(tmp_path / "m.sqlite3")
    try:
        await store.submit_many([record("before")])
        await _fill_the_disk(store)
        big = [record(f"m{i}", short_message=b"x" * 200) for i in range(120)]
        with caplog.at_level("ERROR", logger="opensmsc.store"):
            for n in range(100):  # the pages the file has fill up first
                try:
                    await store.submit_many([record(f"fill{n}", short_message=b"x" * 200)])
                except StoreFull:
                    break
            for start in range(0, 20, 2):
                results = await asyncio.gather(
                    store.submit_many(big[start : start + 1]),
                    store.submit_many(big[start + 1 : start + 2]),
                    return_exceptions=True,
                )
                assert all(isinstance(r, StoreFull) for r in results), results
        lines = [r for r in caplog.records if r.name.startswith("opensmsc.store")]
        assert len(lines) == 1 and "disk is full" in lines[0].getMessage()
        got = await store.get("before")
        assert got is not None
        await _fill_the_disk(store, full=False)
        await store.submit_many(big[:1])  # the disk has room again: writes go on
        assert await store.get("m0") is not None
    finally:
        await store.close()


def test_outage_log_says_once_per_interval_how_many_it_held_back(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [0.0]
    outage = OutageLog(
        logging.getLogger("opensmsc.test"), interval=60.0, now=lambda: now[0], unit="writes"
    )
    with caplog.at_level("INFO", logger="opensmsc.test"):
        outage.recovered("fine")  # nothing failed: nothing to say
        for _ in range(100):
            outage.failed("write failed: %s", "disk full", count=2)
            now[0] += 1.0
        outage.recovered("writes go on")
        outage.failed("write failed: %s", "disk full")
    assert [r.getMessage() for r in caplog.records] == [
        "write failed: disk full",
        "write failed: disk full (118 more writes since the last line)",
        "writes go on after 200 writes",
        "write failed: disk full",
    ]
