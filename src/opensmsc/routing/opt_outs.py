"""Opt-outs kept across restarts: `data_dir/opt_outs.sqlite3` (issue 11, opt-out by MO).

What this is for: a handset's MO "STOP" to an opt-out short code must keep it out of MT from
that sender for good, not until the next restart. `OptOutFile` holds the opted-out pairs
(handset E.164 digits, short code or "*" for every sender); `RulePolicy` keeps the same pairs
in memory and decides with them; the MO path (app/opt_out.py) writes here first and changes
the policy only once the write is durable, so an MO acknowledged to the network is never lost.

Why its own SQLite file, not the message store or a flat file:
- the store's schema and migrations are the store's alone (store/sqlite/schema.py), and the
  store is for messages; the simulated network keeps its runtime state the same way
  (network/state.py);
- SQLite with WAL and synchronous=FULL makes each change durable in one small commit (a
  kill -9 or a power cut after `set` returned keeps it), and a change touches one row: a flat
  file rewritten atomically (temporary file, fsync, rename) costs the whole list per STOP,
  and lists of opted-out numbers grow large;
- one file per node, under the data folder the node already locks (app/data.py), so no two
  processes write it.

Writes are rare (one per STOP or START) and run in a worker thread so the event loop never
waits for the disk; a lock keeps them in order. What it is not: the keywords or the decision
(rule_policy.py), or the MO itself (upstream/mo.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from opensmsc.errors import StoreUnavailable

__all__ = ["OPT_OUT_FILENAME", "OptOutFile"]

OPT_OUT_FILENAME: Final = "opt_outs.sqlite3"

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS opt_out (
    handset TEXT NOT NULL,      -- E.164 digits
    sender TEXT NOT NULL,       -- the short code opted out of, or "*": every sender
    since TEXT NOT NULL,        -- ISO 8601 UTC, when the STOP arrived
    PRIMARY KEY (handset, sender)
) WITHOUT ROWID
"""


class OptOutFile:
    """The opted-out (handset, sender) pairs of one node (module doc). Raises StoreUnavailable
    when the file cannot be opened or written."""

    def __init__(self, path: Path) -> None:
        self.path = path
        created = not path.exists()
        try:
            self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=FULL")
            self._conn.execute(_SCHEMA)
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"{path}: {exc}") from exc
        if created:
            _fsync_dir(path.parent)  # the new file's directory entry survives a power cut too
        self._lock = threading.Lock()

    @classmethod
    def in_folder(cls, data_dir: Path) -> OptOutFile:
        return cls(data_dir / OPT_OUT_FILENAME)

    def pairs(self) -> list[tuple[str, str]]:
        """Every opted-out (handset, sender) pair."""
        with self._lock, self._errors():
            return [
                (str(handset), str(sender))
                for handset, sender in self._conn.execute("SELECT handset, sender FROM opt_out")
            ]

    async def set(self, pair: tuple[str, str], out: bool, *, at: datetime | None = None) -> None:
        """Opt the pair out (`out`) or back in; returns once the change is on disk."""
        since = (at or datetime.now(UTC)).isoformat()
        await asyncio.to_thread(self._write, pair, out, since)

    def _write(self, pair: tuple[str, str], out: bool, since: str) -> None:
        with self._lock, self._errors():
            if out:
                self._conn.execute(
                    "INSERT OR IGNORE INTO opt_out (handset, sender, since) VALUES (?, ?, ?)",
                    (*pair, since),
                )
            else:
                self._conn.execute("DELETE FROM opt_out WHERE handset = ? AND sender = ?", pair)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"{self.path}: {exc}") from exc


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):  # not every file system lets a folder be fsynced
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
