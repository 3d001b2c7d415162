"""The database file: how it is opened (WAL, synchronous=FULL), its tables and indexes, and the
migrations that bring an older file up to date.

Durability (the promise of api.py: a write that returned survives kill -9 and power loss):
- journal_mode=WAL with synchronous=FULL: every COMMIT appends the transaction to the WAL and
  fsyncs it before returning. (synchronous=NORMAL would defer that fsync to the checkpoint: safe
  against a killed process, but a power cut could take the last commits, which were already
  acknowledged. We do not acknowledge what a power cut can take.)
- The data folder is fsynced once after the database file is created, so its directory entry
  survives a power cut too.
- Checkpoints stay automatic (every ~1000 WAL pages, run by the writer after a commit): they
  copy synced WAL content into the main file, so they cannot lose a commit.

What it is not: the row layout (rows.py) or the statements that read and write (statements.py).
"""

from __future__ import annotations

import logging
import os
import sqlite3
from pathlib import Path
from typing import Final

from opensmsc.errors import StoreUnavailable
from opensmsc.store.model import SchemaTooNew

__all__ = [
    "DB_FILENAME",
    "MIGRATIONS",
    "connect",
    "migrate",
    "open_for_writing",
    "schema_version",
]

log = logging.getLogger(__name__)

DB_FILENAME: Final = "messages.sqlite3"  # inside the data folder

# Ordered steps; step i brings the schema from version i to i + 1. Never edit a released step:
# append a new one. `schema_version` holds one row, the version the file is at.
# Open states (SCHEDULED 0, ENROUTE 1, UNKNOWN 7) appear literally in the partial indexes, and
# the queries repeat the same terms, because SQLite uses a partial index only when the query's
# WHERE clause visibly implies the index's.
MIGRATIONS: Final[tuple[tuple[str, ...], ...]] = (
    # 1: messages, the due queue, pending by address, purge by age.
    (
        """CREATE TABLE message (
            seq INTEGER PRIMARY KEY,            -- arrival order (rowid)
            message_id TEXT NOT NULL UNIQUE,
            system_id TEXT NOT NULL,
            direction INTEGER NOT NULL,         -- model.Direction
            source_ton INTEGER NOT NULL, source_npi INTEGER NOT NULL, source_addr TEXT NOT NULL,
            dest_ton INTEGER NOT NULL, dest_npi INTEGER NOT NULL, dest_addr TEXT NOT NULL,
            service_type TEXT NOT NULL,
            esm_class INTEGER NOT NULL,
            protocol_id INTEGER NOT NULL,
            priority_flag INTEGER NOT NULL,
            registered_delivery INTEGER NOT NULL,
            data_coding INTEGER NOT NULL,
            sm_default_msg_id INTEGER NOT NULL,
            short_message BLOB NOT NULL,
            tlvs BLOB NOT NULL,                 -- the TLV stream, wire form
            concat_group TEXT, concat_ref INTEGER, concat_total INTEGER, concat_seq INTEGER,
            submitted_at INTEGER NOT NULL,      -- times: µs since the epoch, UTC
            due_at INTEGER NOT NULL,
            expires_at INTEGER NOT NULL,
            state INTEGER NOT NULL,             -- smpp.MessageState
            attempts INTEGER NOT NULL,
            next_attempt_at INTEGER,            -- set while open
            last_error INTEGER,
            done_at INTEGER,                    -- set once final
            route TEXT,
            upstream_message_id TEXT
        )""",
        """CREATE INDEX message_due ON message (priority_flag, next_attempt_at)
            WHERE state IN (0, 1, 7) AND direction <> 3""",
        "CREATE INDEX message_dest ON message (dest_addr) WHERE state IN (0, 1, 7)",
        "CREATE INDEX message_done ON message (done_at) WHERE done_at IS NOT NULL",
    ),
    # 2: receipt bookkeeping, the receipt queue per account, upstream ids of connectors.
    (
        "ALTER TABLE message ADD COLUMN receipt_id TEXT",
        "ALTER TABLE message ADD COLUMN receipted_message_id TEXT",
        """CREATE INDEX message_receipts ON message (system_id)
            WHERE direction = 3 AND state IN (0, 1, 7)""",
        """CREATE TABLE upstream_id (
            connector TEXT NOT NULL,
            upstream_id TEXT NOT NULL,          -- normalised by the connector's id format
            message_id TEXT NOT NULL,
            PRIMARY KEY (connector, upstream_id)
        ) WITHOUT ROWID""",
        "CREATE INDEX upstream_by_message ON upstream_id (message_id)",
    ),
    # 3: pending-by-address for MT only (what waiting_for / find_pending ask): receipts, the
    # other half of the rows, no longer pay an index entry when stored and when acknowledged.
    (
        "DROP INDEX message_dest",
        "CREATE INDEX message_dest_mt ON message (dest_addr) WHERE state IN (0, 1, 7)"
        " AND direction = 1",
    ),
    # 4: the partial indexes' condition without IN: SQLite evaluates `state IN (0, 1, 7)` (a
    # list of more than two constants) through an ephemeral table that it builds again for
    # every row an INSERT or UPDATE checks against the index, some 3 µs per index per row
    # (most of an UPDATE's cost). The same indexes, with the condition as comparisons.
    (
        "DROP INDEX message_due",
        "DROP INDEX message_dest_mt",
        "DROP INDEX message_receipts",
        """CREATE INDEX message_due ON message (priority_flag, next_attempt_at)
            WHERE (state = 0 OR state = 1 OR state = 7) AND direction <> 3""",
        """CREATE INDEX message_dest_mt ON message (dest_addr)
            WHERE (state = 0 OR state = 1 OR state = 7) AND direction = 1""",
        """CREATE INDEX message_receipts ON message (system_id)
            WHERE direction = 3 AND (state = 0 OR state = 1 OR state = 7)""",
    ),
    # 5: what an HTTP API client gave with a message (issue 12): its own reference, and where
    # its delivery reports go.
    (
        "ALTER TABLE message ADD COLUMN client_reference TEXT",
        "ALTER TABLE message ADD COLUMN callback_url TEXT",
    ),
    # 6: an account's MT messages in arrival order (Store.find: GET /v1/messages).
    ("CREATE INDEX message_account_mt ON message (system_id, seq) WHERE direction = 1",),
    # 7: the HTTP API's answers to requests with an Idempotency-Key (store/answers.py), written
    # in the transaction of the messages they name; purged by age. A batch's answer can be
    # megabytes: a rowid table, not WITHOUT ROWID (which suits small rows only).
    (
        """CREATE TABLE saved_answer (
            system_id TEXT NOT NULL,
            key TEXT NOT NULL,
            fingerprint TEXT NOT NULL,          -- of the request, to tell a retry from another
            status INTEGER NOT NULL,
            headers TEXT NOT NULL,              -- JSON: [[name, value], ...]
            body BLOB NOT NULL,
            created_at INTEGER NOT NULL,        -- µs since the epoch, UTC
            UNIQUE (system_id, key)
        )""",
        "CREATE INDEX saved_answer_age ON saved_answer (created_at)",
    ),
    # 8: webhooks (receipts with a callback_url, sent by HTTP rather than to SMPP sessions):
    # the due ones by time, and the open ones by the message they report on (sent in order).
    (
        """CREATE INDEX message_webhooks_due ON message (next_attempt_at)
            WHERE direction = 3 AND (state = 0 OR state = 1 OR state = 7)
            AND callback_url IS NOT NULL""",
        """CREATE INDEX message_webhooks_of ON message (receipted_message_id, seq)
            WHERE direction = 3 AND (state = 0 OR state = 1 OR state = 7)
            AND callback_url IS NOT NULL""",
    ),
    # 9: how a callback is called (StoredMessage.callback_style): the drop-in Kannel and Jasmin
    # endpoints' delivery reports look as the originals' do.
    ("ALTER TABLE message ADD COLUMN callback_style TEXT",),
    # 10: a message's trail (issue 16, store/trail.py): its events, written in the transaction
    # of the change they describe, read by message, purged with it; and its trace id. One row
    # per change and message, holding that change's events (an attempt, the final state, the
    # receipt made: one row, not three), in a rowid table (seq keeps the order) with one index
    # by message: a change's trail costs two short B-tree inserts and no sync of its own.
    (
        "ALTER TABLE message ADD COLUMN trace_id TEXT",
        """CREATE TABLE trail (
            seq INTEGER PRIMARY KEY,            -- the order rows were written in
            message_id TEXT NOT NULL,
            events TEXT NOT NULL                -- JSON: [[at (µs since the epoch), kind,
                                                --   {detail}], ...]
        )""",
        "CREATE INDEX trail_message ON trail (message_id)",
    ),
    # 11: MT messages to a number, newest first (Store.find without an account: the admin
    # API's `GET /v1/admin/messages?destination=`, what an operator asks first: "did my SMS to
    # this number arrive?"), without scanning every message of the store.
    (
        """CREATE INDEX message_mt_dest ON message (dest_addr, seq)
            WHERE direction = 1""",
    ),
)


def schema_version(conn: sqlite3.Connection) -> int:
    """The version a database is at; 0 for a new file."""
    has_table = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'"
    ).fetchone()
    if has_table is None:
        return 0
    row = conn.execute("SELECT version FROM schema_version").fetchone()
    return int(row[0]) if row else 0


def migrate(conn: sqlite3.Connection, target: int | None = None) -> int:
    """Bring the schema to `target` (default: the newest) in one transaction; returns the
    version before. Raises SchemaTooNew for a file from a newer build. `conn` must be in
    autocommit mode (isolation_level=None)."""
    target = len(MIGRATIONS) if target is None else target
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        found = schema_version(conn)
        if found > len(MIGRATIONS):
            raise SchemaTooNew(found, len(MIGRATIONS))
        for version in range(found, target):
            for statement in MIGRATIONS[version]:
                conn.execute(statement)
            log.info("store schema migrated version=%d", version + 1)
        conn.execute("DELETE FROM schema_version")
        conn.execute("INSERT INTO schema_version VALUES (?)", (max(found, target),))
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return found


def connect(path: Path) -> sqlite3.Connection:
    """A connection to `path` in autocommit mode, usable from any thread."""
    # isolation_level=None: we issue BEGIN/COMMIT ourselves; the sqlite3 module's implicit
    # transactions would otherwise open one behind our back.
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA busy_timeout = 5000")
    return conn


def open_for_writing(path: Path) -> sqlite3.Connection:
    """The writer's connection: WAL, synchronous=FULL, the schema migrated; a new file's
    directory entry synced. Raises StoreUnavailable, SchemaTooNew, sqlite3.Error."""
    created = not path.exists()
    conn = connect(path)
    try:
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if mode != "wal":
            raise StoreUnavailable(f"{path}: cannot use WAL (journal_mode={mode})")
        conn.execute("PRAGMA synchronous = FULL")
        # Keep the WAL file from staying at its high-water mark after a checkpoint.
        conn.execute("PRAGMA journal_size_limit = 67108864")
        migrate(conn)
    except BaseException:
        conn.close()
        raise
    if created:
        # The new file's directory entry must survive a power cut as well as its content.
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    return conn
