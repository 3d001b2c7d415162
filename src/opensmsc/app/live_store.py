"""Where the admin API's live changes are kept: `data_dir/live-config.sqlite3`, one row per
changed item (the last change of it), so a restart, kill -9 included, comes back with them.

The file is the node's alone and apart from the message store (whose schema other parts own):
WAL, synchronous=FULL, each change committed before the API answers. Blocking calls: the
caller runs them in a worker thread (app/live_config.py).

What it is not: what the changes mean (config/overlay.py) or applying them (app/reload.py).
"""

from __future__ import annotations

import json
import sqlite3
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from opensmsc.config import Change, ChangeOp

__all__ = ["FILENAME", "LiveConfigFile"]

FILENAME: Final = "live-config.sqlite3"

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS changes (
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    op TEXT NOT NULL CHECK (op IN ('add', 'set', 'remove')),
    body TEXT NOT NULL,
    changed_at TEXT NOT NULL,
    PRIMARY KEY (kind, name)
)
"""


class LiveConfigFile:
    """The live changes on disk. `open()` creates the file when missing."""

    def __init__(self, connection: sqlite3.Connection, path: Path) -> None:
        self._db = connection
        self.path = path
        self._lock = threading.Lock()  # one worker thread at a time on the connection

    @classmethod
    def open(cls, data_dir: Path) -> LiveConfigFile:
        path = data_dir / FILENAME
        db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            # An acknowledged change survives a power cut, not only a crash of the process.
            db.execute("PRAGMA synchronous=FULL")
            db.execute(_SCHEMA)
        except sqlite3.Error:
            db.close()
            raise
        return cls(db, path)

    def changes(self) -> list[Change]:
        """Every change kept, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT kind, name, op, body FROM changes ORDER BY changed_at, kind, name"
            ).fetchall()
        return [Change(kind, name, ChangeOp(op), json.loads(body)) for kind, name, op, body in rows]

    def put(self, change: Change) -> None:
        """Keep `change` as the item's change, in place of any earlier one; committed (and on
        disk) when this returns."""
        with self._lock:
            self._db.execute(
                "INSERT INTO changes (kind, name, op, body, changed_at) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (kind, name) DO UPDATE SET op = excluded.op, body = excluded.body, "
                "changed_at = excluded.changed_at",
                (
                    change.kind,
                    change.name,
                    change.op.value,
                    json.dumps(dict(change.body), sort_keys=True),
                    datetime.now(UTC).isoformat(),
                ),
            )

    def forget(self, kind: str, name: str) -> None:
        """Drop the item's change (the file says the same now, or nothing is left to say)."""
        with self._lock:
            self._db.execute("DELETE FROM changes WHERE kind = ? AND name = ?", (kind, name))

    def close(self) -> None:
        with self._lock:
            self._db.close()
