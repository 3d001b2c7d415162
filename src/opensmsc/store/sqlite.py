"""The embedded store: SQLite in WAL mode in the data folder, one group-committing writer thread,
reader threads on their own connections.

Durability (the promise of api.py: a write that returned survives kill -9 and power loss):
- journal_mode=WAL with synchronous=FULL: every COMMIT appends the transaction to the WAL and
  fsyncs it before returning. (synchronous=NORMAL would defer that fsync to the checkpoint: safe
  against a killed process, but a power cut could take the last commits, which were already
  acknowledged. We do not acknowledge what a power cut can take.)
- The data folder is fsynced once after the database file is created, so its directory entry
  survives a power cut too.
- Checkpoints stay automatic (every ~1000 WAL pages, run by the writer after a commit): they
  copy synced WAL content into the main file, so they cannot lose a commit.

Group commit: callers put operations on a queue; the writer takes everything queued (up to
`max_batch_ops`, or after waiting `max_batch_delay` seconds for more when configured) into one
transaction, COMMITs, and only then resolves each caller's future. While it fsyncs, the next
batch gathers, so under load one fsync carries hundreds of messages. Each operation runs inside
a SAVEPOINT: a refused one (IllegalTransition, DuplicateMessage) is rolled back alone, and the
rest of the batch commits. `apply` calls (the hot path: final states with their receipts,
receipt acknowledgements) are gathered per event-loop turn into one operation, and consecutive
ones run as set statements (one SELECT of the states, one executemany of the receipts'
INSERTs, one of narrow UPDATEs; parameters bound without NULLs, see `_insert_row`); each
change is checked before anything of it is written, so a refused one writes nothing. A failed
COMMIT fails every operation of that batch with StoreUnavailable; nothing of it was
acknowledged.

Readers use separate connections in autocommit mode (each SELECT is a short read transaction,
so none pins the WAL against checkpoints); they see every commit that returned before them.

What this is not: a second writer. One process owns a database file.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import os
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future as ThreadFuture
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Final, TypeVar

from opensmsc.errors import StoreUnavailable
from opensmsc.smpp.constants import MessageState
from opensmsc.store.api import Change, Store, StoreStats
from opensmsc.store.model import (
    FINAL_STATES,
    INITIAL_STATES,
    REPLACEABLE_STATES,
    TRANSITIONS,
    Address,
    ConcatInfo,
    Direction,
    DuplicateMessage,
    IllegalTransition,
    MessageNotFound,
    Replacement,
    SchemaTooNew,
    StoredMessage,
    StoreError,
    check_transition,
    from_us,
    is_final,
    to_us,
)

__all__ = ["DB_FILENAME", "MIGRATIONS", "SqliteStore", "migrate", "schema_version"]

log = logging.getLogger(__name__)

T = TypeVar("T")

DB_FILENAME: Final = "messages.sqlite3"  # inside the data folder

# ---- schema -----------------------------------------------------------------------------------

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


# ---- rows ↔ records -----------------------------------------------------------------------------

_COLUMNS: Final = (
    "message_id, system_id, direction, source_ton, source_npi, source_addr, dest_ton, dest_npi,"
    " dest_addr, service_type, esm_class, protocol_id, priority_flag, registered_delivery,"
    " data_coding, sm_default_msg_id, short_message, tlvs, concat_group, concat_ref,"
    " concat_total, concat_seq, submitted_at, due_at, expires_at, state, attempts,"
    " next_attempt_at, last_error, done_at, route, upstream_message_id, receipt_id,"
    " receipted_message_id"
)
_SELECT: Final = f"SELECT {_COLUMNS} FROM message"
_OPEN: Final = "(state = 0 OR state = 1 OR state = 7)"  # the partial indexes' condition, verbatim
_STATE_COLUMN: Final = 21  # in `_insert_row`


def _opt_us(value: datetime | None) -> int | None:
    return None if value is None else to_us(value)


def _opt_dt(value: int | None) -> datetime | None:
    return None if value is None else from_us(value)


# Inserts and updates bind only what is not NULL: the sqlite3 module binds int and str at
# once but sends None and bytes through its adapter lookup, several times the cost; so each
# row carries a shape (which optional columns it has) and rows run as executemany per shape,
# and BLOBs go in as bytearray (bound the same way, without the lookup).
_REQUIRED_COLUMNS: Final = (
    "message_id, system_id, direction, source_ton, source_npi, source_addr, dest_ton, dest_npi,"
    " dest_addr, service_type, esm_class, protocol_id, priority_flag, registered_delivery,"
    " data_coding, sm_default_msg_id, short_message, tlvs, submitted_at, due_at, expires_at,"
    " state, attempts"
)
_OPTIONAL_COLUMNS: Final = (
    "concat_group, concat_ref, concat_total, concat_seq",
    "next_attempt_at",
    "last_error",
    "done_at",
    "route",
    "upstream_message_id",
    "receipt_id",
    "receipted_message_id",
)
_insert_sql_cache: dict[int, str] = {}


def _insert_sql(shape: int) -> str:
    sql = _insert_sql_cache.get(shape)
    if sql is None:
        columns = _REQUIRED_COLUMNS + "".join(
            ", " + c for bit, c in enumerate(_OPTIONAL_COLUMNS) if shape >> bit & 1
        )
        marks = ", ".join("?" * (columns.count(",") + 1))
        sql = f"INSERT INTO message ({columns}) VALUES ({marks})"
        _insert_sql_cache[shape] = sql
    return sql


_Shaped = tuple[int, tuple[Any, ...]]  # (shape, parameters): see `_insert_sql`, `_update_sql`


def _insert_row(r: StoredMessage) -> _Shaped:
    """`r` as INSERT parameters (message_id first, state at _STATE_COLUMN) and their shape."""
    src, dst = r.source, r.destination
    values: list[Any] = [
        r.message_id,
        r.system_id,
        int(r.direction),
        src.ton,
        src.npi,
        src.addr,
        dst.ton,
        dst.npi,
        dst.addr,
        r.service_type,
        r.esm_class,
        r.protocol_id,
        r.priority_flag,
        r.registered_delivery,
        r.data_coding,
        r.sm_default_msg_id,
        bytearray(r.short_message),
        bytearray(r.tlvs),
        to_us(r.submitted_at),
        to_us(r.due_at),
        to_us(r.expires_at),
        int(r.state),
        r.attempts,
    ]
    shape = 0
    c = r.concat
    if c is not None:
        shape |= 1
        values += (c.group_id, c.reference, c.total, c.seq)
    if r.next_attempt_at is not None:
        shape |= 2
        values.append(to_us(r.next_attempt_at))
    for bit, value in (
        (4, r.last_error),
        (8, None if r.done_at is None else to_us(r.done_at)),
        (16, r.route),
        (32, r.upstream_message_id),
        (64, r.receipt_id),
        (128, r.receipted_message_id),
    ):
        if value is not None:
            shape |= bit
            values.append(value)
    return shape, tuple(values)


def _execute_shaped(
    conn: sqlite3.Connection, sql_for: Callable[[int], str], rows: Sequence[_Shaped]
) -> None:
    """executemany per run of rows of one shape, in order."""
    start, n = 0, len(rows)
    while start < n:
        shape = rows[start][0]
        end = start + 1
        while end < n and rows[end][0] == shape:
            end += 1
        conn.executemany(sql_for(shape), [params for _, params in rows[start:end]])
        start = end


def _record(row: Sequence[Any]) -> StoredMessage:
    (
        message_id, system_id, direction, s_ton, s_npi, s_addr, d_ton, d_npi, d_addr,
        service_type, esm_class, protocol_id, priority_flag, registered_delivery, data_coding,
        sm_default_msg_id, short_message, tlvs, c_group, c_ref, c_total, c_seq, submitted_at,
        due_at, expires_at, state, attempts, next_attempt_at, last_error, done_at, route,
        upstream_message_id, receipt_id, receipted_message_id,
    ) = row  # fmt: skip
    return StoredMessage(
        message_id=message_id,
        system_id=system_id,
        direction=Direction(direction),
        source=Address(s_ton, s_npi, s_addr),
        destination=Address(d_ton, d_npi, d_addr),
        service_type=service_type,
        esm_class=esm_class,
        protocol_id=protocol_id,
        priority_flag=priority_flag,
        registered_delivery=registered_delivery,
        data_coding=data_coding,
        sm_default_msg_id=sm_default_msg_id,
        short_message=bytes(short_message),
        tlvs=bytes(tlvs),
        concat=None
        if c_group is None
        else ConcatInfo(group_id=c_group, reference=c_ref, total=c_total, seq=c_seq),
        submitted_at=from_us(submitted_at),
        due_at=from_us(due_at),
        expires_at=from_us(expires_at),
        state=MessageState(state),
        attempts=attempts,
        next_attempt_at=_opt_dt(next_attempt_at),
        last_error=last_error,
        done_at=_opt_dt(done_at),
        route=route,
        upstream_message_id=upstream_message_id,
        receipt_id=receipt_id,
        receipted_message_id=receipted_message_id,
    )


# ---- operations (run on the writer's connection, inside a transaction) -------------------------


def _load(conn: sqlite3.Connection, message_id: str) -> StoredMessage:
    row = conn.execute(f"{_SELECT} WHERE message_id = ?", (message_id,)).fetchone()
    if row is None:
        raise MessageNotFound(message_id)
    return _record(row)


_UPDATE: Final = (
    "UPDATE message SET state = ?, attempts = ?, next_attempt_at = ?, last_error = ?,"
    " done_at = ?, route = ?, upstream_message_id = ?, receipt_id = ?, due_at = ?,"
    " expires_at = ?, short_message = ?, tlvs = ?, registered_delivery = ?,"
    " sm_default_msg_id = ?, data_coding = ? WHERE message_id = ?"
)


def _save(conn: sqlite3.Connection, r: StoredMessage) -> None:
    conn.execute(
        _UPDATE,
        (
            int(r.state),
            r.attempts,
            _opt_us(r.next_attempt_at),
            r.last_error,
            _opt_us(r.done_at),
            r.route,
            r.upstream_message_id,
            r.receipt_id,
            to_us(r.due_at),
            to_us(r.expires_at),
            r.short_message,
            r.tlvs,
            r.registered_delivery,
            r.sm_default_msg_id,
            r.data_coding,
            r.message_id,
        ),
    )


def _check_initial(records: Sequence[StoredMessage]) -> None:
    for r in records:
        if r.state not in INITIAL_STATES:
            raise IllegalTransition(r.message_id, r.state, r.state)


def _insert(conn: sqlite3.Connection, records: Sequence[StoredMessage]) -> None:
    _check_initial(records)
    _insert_rows(conn, [_insert_row(r) for r in records])


def _insert_rows(conn: sqlite3.Connection, rows: Sequence[_Shaped]) -> None:
    # `rows` as `_insert_row` builds them, made in the caller's thread so the writer only
    # executes SQL.
    conn.execute("SAVEPOINT insert_rows")
    try:
        _execute_shaped(conn, _insert_sql, rows)
    except sqlite3.IntegrityError as exc:
        # Undo the rows this call did insert, then find the first id that was already there
        # (message_id is the only unique column).
        conn.execute("ROLLBACK TO insert_rows")
        conn.execute("RELEASE insert_rows")
        ids = [params[0] for _, params in rows]
        for message_id in ids:
            if conn.execute("SELECT 1 FROM message WHERE message_id = ?", (message_id,)).fetchone():
                raise DuplicateMessage(message_id) from exc
        dup = next((i for i in ids if ids.count(i) > 1), ids[0])
        raise DuplicateMessage(dup) from exc
    conn.execute("RELEASE insert_rows")


def _finish(r: StoredMessage, state: MessageState, at: datetime) -> StoredMessage:
    check_transition(r.message_id, r.state, state)
    return dataclasses.replace(r, state=state, done_at=at, next_attempt_at=None)


def _op_submit(
    records: Sequence[StoredMessage], superseding: Sequence[str]
) -> Callable[[sqlite3.Connection], None]:
    # Called in the caller's thread: the rows are built there, the writer only runs SQL.
    _check_initial(records)
    rows = [_insert_row(r) for r in records]

    def run(conn: sqlite3.Connection) -> None:
        if superseding:
            at = records[0].submitted_at
            for message_id in superseding:
                _save(conn, _finish(_load(conn, message_id), MessageState.DELETED, at))
        _insert_rows(conn, rows)

    return run


# ---- apply: changes as set operations ------------------------------------------------------------

# model.TRANSITIONS with plain int keys and values: the states come back from SQL as ints.
_ALLOWED: Final = {int(old): frozenset(map(int, new)) for old, new in TRANSITIONS.items()}

# The states of a batch's messages in one statement and one result row (a row per message would
# cost the writer a step, and a GIL hand-over, each).
_APPLY_STATES: Final = (
    "SELECT json_group_object(message_id, state) FROM message"
    " WHERE message_id IN (SELECT value FROM json_each(?))"
)
# Only the columns a transition changes, no read-back, and only non-NULL parameters: the
# shape says which (see `_update_sql`), the parameters follow in that order, message_id last.
_FINAL, _NEXT, _ERROR, _ATTEMPT, _ROUTE, _UPSTREAM, _RECEIPT = (1 << i for i in range(7))
_update_sql_cache: dict[int, str] = {}


def _update_sql(shape: int) -> str:
    sql = _update_sql_cache.get(shape)
    if sql is None:
        sets = ["state = ?"]
        if shape & _FINAL:
            sets.append("done_at = ?, next_attempt_at = NULL")
        elif shape & _NEXT:
            sets.append("next_attempt_at = ?")  # an open state keeps it otherwise
        for bit, assignment in (
            (_ERROR, "last_error = ?"),
            (_ATTEMPT, "attempts = attempts + 1"),
            (_ROUTE, "route = ?"),
            (_UPSTREAM, "upstream_message_id = ?"),
            (_RECEIPT, "receipt_id = ?"),
        ):
            if shape & bit:
                sets.append(assignment)
        sql = f"UPDATE message SET {', '.join(sets)} WHERE message_id = ?"
        _update_sql_cache[shape] = sql
    return sql


@dataclass(frozen=True, slots=True)
class _Prepared:
    """A Change made ready in the caller's thread: its UPDATE, its receipt's row."""

    message_id: str
    new_state: MessageState
    update: _Shaped
    receipt_row: _Shaped | None
    refused: StoreError | None  # refused before reaching the database (a receipt not initial)


def _prepare_change(c: Change) -> _Prepared:
    receipt = c.receipt
    refused: StoreError | None = None
    if receipt is not None and receipt.state not in INITIAL_STATES:
        refused = IllegalTransition(receipt.message_id, receipt.state, receipt.state)
    params: list[Any] = [int(c.new_state)]
    if c.new_state in FINAL_STATES:
        shape = _FINAL
        params.append(to_us(c.at))
    elif c.next_attempt_at is not None:
        shape = _NEXT
        params.append(to_us(c.next_attempt_at))
    else:
        shape = 0
    if c.error is not None:
        shape |= _ERROR
        params.append(c.error)
    if c.attempt:
        shape |= _ATTEMPT
    if c.route is not None:
        shape |= _ROUTE
        params.append(c.route)
    if c.upstream_message_id:
        shape |= _UPSTREAM
        params.append(c.upstream_message_id)
    if receipt is not None:
        shape |= _RECEIPT
        params.append(receipt.message_id)
    params.append(c.message_id)
    row = None if receipt is None else _insert_row(receipt)
    return _Prepared(c.message_id, c.new_state, (shape, tuple(params)), row, refused)


def _apply_changes(
    conn: sqlite3.Connection, changes: Sequence[_Prepared]
) -> list[StoreError | None]:
    """Check every change against the states (as the earlier changes leave them), then insert
    the receipts in one executemany and update in another. A receipt id already stored raises
    IntegrityError (the caller then goes change by change)."""
    ids = list(dict.fromkeys(c.message_id for c in changes))
    found = conn.execute(_APPLY_STATES, (json.dumps(ids),)).fetchone()
    states: dict[str, int] = json.loads(found[0]) if found and found[0] else {}
    outcomes: list[StoreError | None] = []
    updates: list[_Shaped] = []
    receipts: list[_Shaped] = []
    allowed = _ALLOWED
    for c in changes:
        if c.refused is not None:
            outcomes.append(c.refused)
            continue
        message_id = c.message_id
        old = states.get(message_id)
        if old is None:
            outcomes.append(MessageNotFound(message_id))
            continue
        new_state = c.new_state
        if new_state not in allowed[old]:
            outcomes.append(IllegalTransition(message_id, MessageState(old), new_state))
            continue
        states[message_id] = new_state
        row = c.receipt_row
        if row is not None:
            receipts.append(row)
            params = row[1]
            states[params[0]] = params[_STATE_COLUMN]
        updates.append(c.update)
        outcomes.append(None)
    if receipts:
        _execute_shaped(conn, _insert_sql, receipts)
    if updates:
        _execute_shaped(conn, _update_sql, updates)
    return outcomes


def _apply_one_by_one(
    conn: sqlite3.Connection, changes: Sequence[_Prepared]
) -> list[StoreError | None]:
    # The rare path (a receipt id already stored): each change in its own savepoint.
    outcomes: list[StoreError | None] = []
    for c in changes:
        conn.execute("SAVEPOINT one")
        try:
            outcomes.extend(_apply_changes(conn, (c,)))
        except sqlite3.IntegrityError:
            conn.execute("ROLLBACK TO one")
            assert c.receipt_row is not None
            outcomes.append(DuplicateMessage(c.receipt_row[1][0]))
        conn.execute("RELEASE one")
    return outcomes


@dataclass(frozen=True, slots=True)
class _Transition:
    message_id: str
    new_state: MessageState
    at: datetime
    error: int | None
    next_attempt_at: datetime | None
    attempt: bool
    route: str | None
    upstream_message_id: str | None
    receipt: StoredMessage | None

    def __call__(self, conn: sqlite3.Connection) -> StoredMessage:
        old = _load(conn, self.message_id)
        check_transition(self.message_id, old.state, self.new_state)
        final = is_final(self.new_state)
        receipt_id = old.receipt_id
        if self.receipt is not None:
            _insert(conn, (self.receipt,))
            receipt_id = self.receipt.message_id
        new = dataclasses.replace(
            old,
            state=self.new_state,
            done_at=self.at if final else None,
            next_attempt_at=None if final else (self.next_attempt_at or old.next_attempt_at),
            last_error=old.last_error if self.error is None else self.error,
            attempts=old.attempts + 1 if self.attempt else old.attempts,
            route=old.route if self.route is None else self.route,
            upstream_message_id=self.upstream_message_id or old.upstream_message_id,
            receipt_id=receipt_id,
        )
        _save(conn, new)
        return new


def _due_rows(conn: sqlite3.Connection, now: datetime, limit: int) -> list[StoredMessage]:
    # One index range scan per priority level, highest first: a single ORDER BY priority_flag
    # DESC, next_attempt_at would walk every not-yet-due message of a higher level first.
    out: list[StoredMessage] = []
    now_us = to_us(now)
    for priority in (3, 2, 1, 0):
        if len(out) >= limit:
            break
        rows = conn.execute(
            f"{_SELECT} WHERE {_OPEN} AND direction <> 3 AND priority_flag = ?"
            " AND next_attempt_at <= ? ORDER BY next_attempt_at, seq LIMIT ?",
            (priority, now_us, limit - len(out)),
        ).fetchall()
        out.extend(_record(row) for row in rows)
    return out


def _op_claim(
    now: datetime, limit: int, lease_until: datetime
) -> Callable[[sqlite3.Connection], list[StoredMessage]]:
    def run(conn: sqlite3.Connection) -> list[StoredMessage]:
        claimed = []
        for r in _due_rows(conn, now, limit):
            state = MessageState.ENROUTE if r.state is MessageState.SCHEDULED else r.state
            check_transition(r.message_id, r.state, state)
            new = dataclasses.replace(
                r, state=state, attempts=r.attempts + 1, next_attempt_at=lease_until
            )
            _save(conn, new)
            claimed.append(new)
        return claimed

    return run


def _op_replace(
    message_id: str, rep: Replacement, at: datetime
) -> Callable[[sqlite3.Connection], StoredMessage]:
    def run(conn: sqlite3.Connection) -> StoredMessage:
        old = _load(conn, message_id)
        state, next_attempt_at = old.state, old.next_attempt_at
        if rep.due_at is not None:
            state = MessageState.SCHEDULED if rep.due_at > at else MessageState.ENROUTE
            next_attempt_at = rep.due_at
        if old.state not in REPLACEABLE_STATES:
            raise IllegalTransition(message_id, old.state, state)
        check_transition(message_id, old.state, state)
        new = dataclasses.replace(
            old,
            state=state,
            next_attempt_at=next_attempt_at,
            due_at=old.due_at if rep.due_at is None else rep.due_at,
            expires_at=old.expires_at if rep.expires_at is None else rep.expires_at,
            short_message=old.short_message if rep.short_message is None else rep.short_message,
            tlvs=old.tlvs if rep.tlvs is None else rep.tlvs,
            registered_delivery=old.registered_delivery
            if rep.registered_delivery is None
            else rep.registered_delivery,
            sm_default_msg_id=old.sm_default_msg_id
            if rep.sm_default_msg_id is None
            else rep.sm_default_msg_id,
            data_coding=old.data_coding if rep.data_coding is None else rep.data_coding,
        )
        _save(conn, new)
        return new

    return run


def _op_map_upstream(
    connector: str, upstream_id: str, message_id: str
) -> Callable[[sqlite3.Connection], None]:
    def run(conn: sqlite3.Connection) -> None:
        conn.execute(
            "INSERT OR REPLACE INTO upstream_id (connector, upstream_id, message_id)"
            " VALUES (?, ?, ?)",
            (connector, upstream_id, message_id),
        )

    return run


_PURGE_CHUNK: Final = 2000


def _op_purge_chunk(older_than: datetime) -> Callable[[sqlite3.Connection], int]:
    def run(conn: sqlite3.Connection) -> int:
        rows = conn.execute(
            "SELECT seq, message_id FROM message WHERE done_at IS NOT NULL AND done_at < ?"
            " ORDER BY done_at LIMIT ?",
            (to_us(older_than), _PURGE_CHUNK),
        ).fetchall()
        conn.executemany("DELETE FROM upstream_id WHERE message_id = ?", [(m,) for _, m in rows])
        conn.executemany("DELETE FROM message WHERE seq = ?", [(s,) for s, _ in rows])
        return len(rows)

    return run


# ---- the writer thread --------------------------------------------------------------------------

_Fn = Callable[[sqlite3.Connection], Any]


@dataclass(slots=True)
class _Op:
    fn: _Fn | None  # None: applies, run together with the applies next to them
    future: asyncio.Future[Any] | None  # None: `waiters` take the result
    loop: asyncio.AbstractEventLoop
    changes: Sequence[_Prepared] = ()
    # The `apply` calls of one loop turn, one op: (future, start, end) of each in `changes`.
    waiters: list[tuple[asyncio.Future[Any], int, int]] | None = None


@dataclass(slots=True)
class _Turn:
    """The `apply` calls made in one turn of an event loop: one writer op for all of them."""

    loop: asyncio.AbstractEventLoop
    changes: list[_Prepared]
    waiters: list[tuple[asyncio.Future[Any], int, int]]
    queued: bool = False


_STOP: Final = object()


def _settle(outcomes: list[tuple[_Op, Any, BaseException | None]]) -> None:
    for op, result, error in outcomes:
        if op.waiters is None:
            assert op.future is not None
            _resolve(op.future, result, error)
        else:
            for future, start, end in op.waiters:
                _resolve(future, None if error is not None else result[start:end], error)


def _resolve(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.done():  # the caller gave up waiting; the write happened anyway
        return
    if error is None:
        future.set_result(result)
    else:
        future.set_exception(error)


def _connect(path: Path) -> sqlite3.Connection:
    # isolation_level=None: we issue BEGIN/COMMIT ourselves; the sqlite3 module's implicit
    # transactions would otherwise open one behind our back.
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA busy_timeout = 5000")
    return conn


class _Writer:
    """The one thread that writes. Everything here runs in that thread, except `put`."""

    def __init__(self, path: Path, *, max_batch_ops: int, max_batch_delay: float) -> None:
        self._path = path
        self._max_ops = max_batch_ops
        self._max_delay = max_batch_delay
        self._queue: queue.SimpleQueue[_Op | object] = queue.SimpleQueue()
        self.ready: ThreadFuture[None] = ThreadFuture()
        self.transactions = 0
        self.operations = 0
        self.largest_batch = 0
        # A daemon: a process that exits without close() must not hang on this thread. Dying
        # mid-transaction is the kill -9 case: nothing uncommitted was acknowledged.
        self._thread = threading.Thread(target=self._run, name="opensmsc-store-writer", daemon=True)
        self._thread.start()

    def put(self, op: _Op | object) -> None:
        self._queue.put(op)

    def join(self) -> None:
        self._thread.join()

    def _open(self) -> sqlite3.Connection:
        created = not self._path.exists()
        conn = _connect(self._path)
        try:
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if mode != "wal":
                raise StoreUnavailable(f"{self._path}: cannot use WAL (journal_mode={mode})")
            conn.execute("PRAGMA synchronous = FULL")
            # Keep the WAL file from staying at its high-water mark after a checkpoint.
            conn.execute("PRAGMA journal_size_limit = 67108864")
            migrate(conn)
        except BaseException:
            conn.close()
            raise
        if created:
            # The new file's directory entry must survive a power cut as well as its content.
            fd = os.open(self._path.parent, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        return conn

    def _run(self) -> None:
        try:
            conn = self._open()
        except BaseException as exc:
            self.ready.set_exception(exc)
            return
        self.ready.set_result(None)
        try:
            stopping = False
            while not stopping:
                batch, stopping = self._gather()
                if batch:
                    self._commit(conn, batch)
            with contextlib.suppress(sqlite3.Error):
                # A clean stop leaves a self-contained database file.
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            conn.close()
            self._fail_rest()

    def _gather(self) -> tuple[list[_Op], bool]:
        first = self._queue.get()
        if first is _STOP:
            return [], True
        assert isinstance(first, _Op)
        batch = [first]
        deadline = time.monotonic() + self._max_delay
        while len(batch) < self._max_ops:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                try:
                    item = self._queue.get(timeout=remaining)
                except queue.Empty:
                    break
            if item is _STOP:
                return batch, True
            assert isinstance(item, _Op)
            batch.append(item)
        return batch, False

    def _commit(self, conn: sqlite3.Connection, batch: list[_Op]) -> None:
        outcomes: list[tuple[_Op, Any, BaseException | None]] = []
        try:
            conn.execute("BEGIN IMMEDIATE")
            i, n = 0, len(batch)
            while i < n:
                op = batch[i]
                if op.fn is None:
                    # Consecutive applies run as one set of statements (their order kept).
                    j = i + 1
                    while j < n and batch[j].fn is None:
                        j += 1
                    outcomes.extend(self._apply(conn, batch[i:j]))
                    i = j
                    continue
                i += 1
                conn.execute("SAVEPOINT op")
                try:
                    result = op.fn(conn)
                except sqlite3.Error as exc:
                    if isinstance(exc, sqlite3.IntegrityError):
                        conn.execute("ROLLBACK TO op")
                        conn.execute("RELEASE op")
                        outcomes.append((op, None, exc))
                        continue
                    raise  # the database itself is failing: the whole batch goes
                except Exception as exc:
                    # This operation was refused (or is a bug): undo it alone.
                    conn.execute("ROLLBACK TO op")
                    conn.execute("RELEASE op")
                    outcomes.append((op, None, exc))
                    continue
                conn.execute("RELEASE op")
                outcomes.append((op, result, None))
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            log.error("store commit failed ops=%d: %s", len(batch), exc)
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            failure = StoreUnavailable(f"commit failed: {exc}")
            outcomes = [(op, None, failure) for op in batch]
        else:
            self.transactions += 1
            self.operations += len(batch)
            self.largest_batch = max(self.largest_batch, len(batch))
        self._deliver(outcomes)

    @staticmethod
    def _apply(
        conn: sqlite3.Connection, ops: list[_Op]
    ) -> list[tuple[_Op, Any, BaseException | None]]:
        changes = [c for op in ops for c in op.changes]
        conn.execute("SAVEPOINT op")
        try:
            try:
                results = _apply_changes(conn, changes)
            except sqlite3.IntegrityError:
                conn.execute("ROLLBACK TO op")
                results = _apply_one_by_one(conn, changes)
        except sqlite3.Error:
            raise  # the database itself is failing: the whole batch goes
        except Exception as exc:  # a bug: undo these applies alone
            conn.execute("ROLLBACK TO op")
            conn.execute("RELEASE op")
            return [(op, None, exc) for op in ops]
        conn.execute("RELEASE op")
        out: list[tuple[_Op, Any, BaseException | None]] = []
        start = 0
        for op in ops:
            end = start + len(op.changes)
            out.append((op, results[start:end], None))
            start = end
        return out

    @staticmethod
    def _deliver(outcomes: list[tuple[_Op, Any, BaseException | None]]) -> None:
        # One wake-up per event loop per batch, not one per operation.
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[_Op, Any, BaseException | None]]]
        by_loop = {}
        for outcome in outcomes:
            by_loop.setdefault(outcome[0].loop, []).append(outcome)
        for loop, items in by_loop.items():
            with contextlib.suppress(RuntimeError):  # that loop is closed: nobody waits
                loop.call_soon_threadsafe(_settle, items)

    def _fail_rest(self) -> None:
        failure = StoreUnavailable("store closed")
        rest: list[tuple[_Op, Any, BaseException | None]] = []
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if isinstance(item, _Op):
                rest.append((item, None, failure))
        self._deliver(rest)


# ---- the store ------------------------------------------------------------------------------


class SqliteStore:
    """The Store protocol on SQLite. Create with `await SqliteStore.open(path)`; `close()` it."""

    def __init__(
        self,
        path: Path,
        writer: _Writer,
        *,
        readers: int,
    ) -> None:
        self.path = path
        self._writer = writer
        self._closed = False
        self._turn: _Turn | None = None
        self._local = threading.local()
        self._reader_conns: list[sqlite3.Connection] = []
        self._reader_lock = threading.Lock()
        self._readers = ThreadPoolExecutor(
            max_workers=readers,
            thread_name_prefix="opensmsc-store-reader",
            initializer=self._open_reader,
        )

    @classmethod
    async def open(
        cls,
        path: Path,
        *,
        max_batch_ops: int = 2000,
        max_batch_delay: float = 0.0,
        readers: int = 2,
    ) -> SqliteStore:
        """Open (or create, and migrate) the database at `path`; its folder must exist.

        `max_batch_ops` bounds one transaction; `max_batch_delay` (seconds) lets the writer
        wait for more work before committing a batch that is not full. The default 0 batches
        only what queued during the previous commit: no added latency when idle, large batches
        under load. Raises SchemaTooNew, StoreUnavailable."""
        writer = _Writer(path, max_batch_ops=max_batch_ops, max_batch_delay=max_batch_delay)
        try:
            await asyncio.wrap_future(writer.ready)
        except sqlite3.Error as exc:
            await asyncio.to_thread(writer.join)
            raise StoreUnavailable(f"{path}: {exc}") from exc
        except BaseException:
            # Cancelled while the writer may already be running: tell it to stop, or the join
            # (and the interpreter's exit after it) would wait forever.
            writer.put(_STOP)
            await asyncio.to_thread(writer.join)
            raise
        return cls(path, writer, readers=readers)

    # ---- plumbing ---------------------------------------------------------------------------

    async def _write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        if self._closed:
            raise StoreUnavailable("store closed")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._writer.put(_Op(fn, future, loop))
        try:
            return await future
        except sqlite3.IntegrityError as exc:
            raise StoreUnavailable(f"integrity: {exc}") from exc

    def _open_reader(self) -> None:
        conn = _connect(self.path)
        conn.execute("PRAGMA query_only = ON")
        self._local.conn = conn
        with self._reader_lock:
            self._reader_conns.append(conn)

    def _run_read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        conn: sqlite3.Connection = self._local.conn
        try:
            return fn(conn)
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"read failed: {exc}") from exc

    async def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        if self._closed:
            raise StoreUnavailable("store closed")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._readers, self._run_read, fn)

    # ---- writes -----------------------------------------------------------------------------

    async def submit_many(
        self, records: Sequence[StoredMessage], *, superseding: Sequence[str] = ()
    ) -> None:
        if not records:
            return
        await self._write(_op_submit(tuple(records), tuple(superseding)))

    async def transition(
        self,
        message_id: str,
        new_state: MessageState,
        *,
        at: datetime,
        error: int | None = None,
        next_attempt_at: datetime | None = None,
        attempt: bool = False,
        route: str | None = None,
        upstream_message_id: str | None = None,
        receipt: StoredMessage | None = None,
    ) -> StoredMessage:
        op = _Transition(
            message_id,
            new_state,
            at,
            error,
            next_attempt_at,
            attempt,
            route,
            upstream_message_id,
            receipt,
        )
        return await self._write(op)

    async def apply(self, changes: Sequence[Change]) -> list[StoreError | None]:
        if not changes:
            return []
        if self._closed:
            raise StoreUnavailable("store closed")
        prepared = [_prepare_change(c) for c in changes]
        # Every apply of this turn of the loop goes to the writer as one op (one queue put,
        # one set of statements), queued when the turn ends. Only the turn's first apply asks
        # for the running loop (asyncio.get_running_loop costs a getpid() system call).
        turn = self._turn
        if turn is None or turn.loop.is_closed():
            loop = asyncio.get_running_loop()
            turn = self._turn = _Turn(loop, [], [])
            loop.call_soon(self._queue_turn, turn)
        future: asyncio.Future[list[StoreError | None]] = turn.loop.create_future()
        start = len(turn.changes)
        turn.changes.extend(prepared)
        turn.waiters.append((future, start, len(turn.changes)))
        return await future

    def _queue_turn(self, turn: _Turn) -> None:
        if self._turn is turn:
            self._turn = None
        if turn.queued:  # close() queued it already
            return
        turn.queued = True
        self._writer.put(_Op(None, None, turn.loop, turn.changes, turn.waiters))

    async def claim_due(
        self, now: datetime, limit: int, *, lease_until: datetime
    ) -> list[StoredMessage]:
        return await self._write(_op_claim(now, limit, lease_until))

    async def replace(
        self, message_id: str, replacement: Replacement, *, at: datetime
    ) -> StoredMessage:
        return await self._write(_op_replace(message_id, replacement, at))

    async def enqueue_receipt(self, receipt: StoredMessage) -> None:
        if receipt.direction is not Direction.RECEIPT:
            raise ValueError(f"message_id={receipt.message_id}: not a receipt")
        await self._write(_op_submit((receipt,), ()))

    async def ack_receipt(self, message_id: str, *, at: datetime) -> None:
        (refused,) = await self.apply((Change(message_id, MessageState.DELIVERED, at),))
        if refused is not None:
            raise refused

    async def map_upstream_id(self, connector: str, upstream_id: str, message_id: str) -> None:
        await self._write(_op_map_upstream(connector, upstream_id, message_id))

    async def purge_final(self, older_than: datetime) -> int:
        total = 0
        while True:
            n = await self._write(_op_purge_chunk(older_than))
            total += n
            if n < _PURGE_CHUNK:
                return total

    # ---- reads ------------------------------------------------------------------------------

    async def get(self, message_id: str) -> StoredMessage | None:
        def run(conn: sqlite3.Connection) -> StoredMessage | None:
            row = conn.execute(f"{_SELECT} WHERE message_id = ?", (message_id,)).fetchone()
            return None if row is None else _record(row)

        return await self._read(run)

    async def find_pending(
        self,
        system_id: str,
        source_addr: str,
        destination_addr: str,
        service_type: str | None = None,
    ) -> list[StoredMessage]:
        sql = (
            f"{_SELECT} WHERE {_OPEN} AND dest_addr = ? AND direction = 1 AND system_id = ?"
            " AND source_addr = ?"
        )
        args: tuple[Any, ...] = (destination_addr, system_id, source_addr)
        if service_type is not None:
            sql += " AND service_type = ?"
            args += (service_type,)
        sql += " ORDER BY seq"
        return await self._read(lambda conn: [_record(r) for r in conn.execute(sql, args)])

    async def due(self, now: datetime, limit: int) -> list[StoredMessage]:
        return await self._read(lambda conn: _due_rows(conn, now, limit))

    async def waiting_for(self, destination_addr: str) -> list[StoredMessage]:
        sql = f"{_SELECT} WHERE {_OPEN} AND dest_addr = ? AND direction = 1 AND state = 1"
        sql += " ORDER BY seq"
        return await self._read(
            lambda conn: [_record(r) for r in conn.execute(sql, (destination_addr,))]
        )

    async def waiting_on_route(self, route: str) -> list[StoredMessage]:
        # Through the open-MT partial index: without it SQLite scans every row, final ones too.
        sql = f"SELECT {_COLUMNS} FROM message INDEXED BY message_dest_mt WHERE {_OPEN}"
        sql += " AND direction = 1 AND state = 1 AND route = ? AND upstream_message_id IS NULL"
        sql += " ORDER BY seq"
        return await self._read(lambda conn: [_record(r) for r in conn.execute(sql, (route,))])

    async def pending_receipts(self, system_id: str, limit: int) -> list[StoredMessage]:
        sql = f"{_SELECT} WHERE direction = 3 AND {_OPEN} AND system_id = ? ORDER BY seq LIMIT ?"
        return await self._read(
            lambda conn: [_record(r) for r in conn.execute(sql, (system_id, limit))]
        )

    async def lookup_upstream_id(self, connector: str, upstream_id: str) -> str | None:
        def run(conn: sqlite3.Connection) -> str | None:
            row = conn.execute(
                "SELECT message_id FROM upstream_id WHERE connector = ? AND upstream_id = ?",
                (connector, upstream_id),
            ).fetchone()
            return None if row is None else str(row[0])

        return await self._read(run)

    # ---- housekeeping ---------------------------------------------------------------------------

    def stats(self) -> StoreStats:
        w = self._writer
        return StoreStats(w.transactions, w.operations, w.largest_batch)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._turn is not None:  # applies called before close are made
            self._queue_turn(self._turn)
        self._writer.put(_STOP)
        await asyncio.to_thread(self._writer.join)
        await asyncio.to_thread(self._readers.shutdown, wait=True)
        with self._reader_lock:
            for conn in self._reader_conns:
                conn.close()
            self._reader_conns.clear()


def _conforms(store: SqliteStore) -> Store:
    # mypy proves here that SqliteStore implements the Store protocol; never called.
    return store
