"""The store's answers to operations: can it write now (the probe), and what waits in it (the
queue counts). Read by the readiness check and the metrics (app/), never on a message's path.

The probe is a write that needs room: a page-sized row added to `saved_answer` and deleted in
the same transaction, so nothing of it remains, yet the transaction allocates pages and its
commit appends them to the WAL. A full disk or a database at its size limit fails it like any
write (StoreFull); with room again it commits.

The counts go through the partial indexes of open messages (schema.py: `message_due`,
`message_receipts`, `message_webhooks_due`): they read each open entry of the index and no
final row, some 0.2 µs per open message.

What it is not: a health policy (how stale, how often: the callers decide).
"""

from __future__ import annotations

import sqlite3
from typing import Final

from opensmsc.smpp import MessageState
from opensmsc.store.api import QueueDepths
from opensmsc.store.sqlite.rows import OPEN

__all__ = ["probe", "queue_depths"]

# No account has an empty system_id (config refuses one): this row is never an answer.
_PROBE_KEY: Final = ("", "opensmsc:probe")
_PROBE_BYTES: Final = 8192  # two pages of the default size: they must be allocated


def probe(conn: sqlite3.Connection) -> None:
    """Add and remove a page-sized row (module doc); the writer commits it."""
    conn.execute(
        "INSERT OR REPLACE INTO saved_answer"
        " (system_id, key, fingerprint, status, headers, body, created_at)"
        " VALUES (?, ?, '', 0, '[]', zeroblob(?), 0)",
        (*_PROBE_KEY, _PROBE_BYTES),
    )
    conn.execute("DELETE FROM saved_answer WHERE system_id = ? AND key = ?", _PROBE_KEY)


def queue_depths(conn: sqlite3.Connection) -> QueueDepths:
    states = conn.execute(
        f"SELECT state, COUNT(*) FROM message INDEXED BY message_due"
        f" WHERE {OPEN} AND direction <> 3 GROUP BY state"
    ).fetchall()
    by_state = {MessageState(state): int(count) for state, count in states}
    messages = sum(by_state.values())
    receipts = conn.execute(
        f"SELECT system_id, COUNT(*) FROM message INDEXED BY message_receipts"
        f" WHERE direction = 3 AND {OPEN} GROUP BY system_id"
    ).fetchall()
    webhooks = conn.execute(
        f"SELECT COUNT(*) FROM message INDEXED BY message_webhooks_due"
        f" WHERE direction = 3 AND {OPEN} AND callback_url IS NOT NULL"
    ).fetchone()[0]
    return QueueDepths(
        messages=int(messages),
        receipts={str(system_id): int(count) for system_id, count in receipts},
        webhooks=int(webhooks),
        states=by_state,
    )
