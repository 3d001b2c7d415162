"""The simulated network's runtime changes, kept across restarts in `data_dir/network.sqlite3`.

What this is for: the subscriber table is built from the configuration at every start. What the
CLI and the HTTP API change afterwards (subscribers added, changed or removed; a handset's
memory settings) and what the HLR learns from deliveries (message-waiting data: MNRF, MCEF and
the service centres to alert; the destination_addr spellings an alert must release) are written
here and laid over the configuration at the next start. So after a restart, even after a
kill -9, attaching a subscriber still sends alertServiceCentre and releases at once the messages
queued for it before.

Its own SQLite file, apart from the message store (whose schema is the store's alone): WAL,
synchronous=FULL. One writer thread applies the writes in the order they were made, a batch per
transaction, so the event loop never waits for the disk; `flush()` waits until everything
written so far is committed. The admin API answers a change after its flush; the network route
reports a failed attempt to the engine only after the message-waiting data it set is durable,
so a message the store holds as waiting always has its MWD on disk.

What is not kept (volatile by design, and said so in the API's answers): handsets' inboxes and
flash messages, concatenated parts under reassembly, errors injected for tests, the recent
delivery records (`SimulatedNetworkRoute.deliveries`).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import queue
import sqlite3
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from opensmsc.errors import OpensmscError
from opensmsc.network.hlr import MessageWaiting
from opensmsc.network.subscriber import Latency, Subscriber, SubscriberState, make_imsi

__all__ = ["DB_FILENAME", "NetworkState", "Restored", "SavedSubscriber", "StateNotSaved"]

log = logging.getLogger(__name__)

DB_FILENAME: Final = "network.sqlite3"
_SCHEMA_VERSION: Final = 1
_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS subscribers (
    msisdn INTEGER PRIMARY KEY,
    removed INTEGER NOT NULL DEFAULT 0,      -- 1: removed at runtime (listed in the config)
    imsi TEXT,                               -- NULL: made from the network and the MSISDN
    home_network TEXT,
    msc_address TEXT,                        -- NULL: the country's placeholder global title
    state TEXT,
    ported_to TEXT,
    serving_network TEXT,
    latency TEXT,
    failure_probability REAL,
    absent_diagnostic INTEGER
);
CREATE TABLE IF NOT EXISTS message_waiting (
    msisdn INTEGER PRIMARY KEY,
    mnrf INTEGER NOT NULL,
    mcef INTEGER NOT NULL,
    service_centres TEXT NOT NULL            -- space-separated, oldest first
);
CREATE TABLE IF NOT EXISTS waiting_addresses (
    msisdn INTEGER NOT NULL,
    address TEXT NOT NULL,
    PRIMARY KEY (msisdn, address)
);
CREATE TABLE IF NOT EXISTS handsets (
    msisdn INTEGER PRIMARY KEY,
    capacity INTEGER NOT NULL,
    delete_old INTEGER NOT NULL
);
"""


class StateNotSaved(OpensmscError):
    """A change is in effect but could not be written to network.sqlite3 (disk full,
    read-only file system): it will not survive a restart."""


@dataclass(frozen=True, slots=True)
class SavedSubscriber:
    """A subscriber as written: `imsi_given` / `msc_given` False when the table derives them."""

    record: Subscriber
    imsi_given: bool
    msc_given: bool


@dataclass(slots=True)
class Restored:
    """What `NetworkState.open` read back, for the simulator to lay over the configuration."""

    subscribers: list[SavedSubscriber] = field(default_factory=list)
    removed: list[int] = field(default_factory=list)
    waiting: list[MessageWaiting] = field(default_factory=list)
    addresses: dict[int, set[str]] = field(default_factory=dict)
    handsets: dict[int, tuple[int, bool]] = field(default_factory=dict)  # capacity, delete_old
    skipped: int = 0  # rows that no longer read (a state this version does not know)


_Write = tuple[str, tuple[object, ...]]
_STOP: Final = object()


class NetworkState:
    """The simulator's durable state (module doc). Writes are queued in order; `flush()` awaits
    them. Made by `open()`; `close()` (or `close_now()`) finishes the writes and stops the thread.
    """

    def __init__(self, path: Path, db: sqlite3.Connection, restored: Restored) -> None:
        self.path = path
        self.restored = restored
        self._db = db
        self._queue: queue.SimpleQueue[_Write | concurrent.futures.Future[None] | object] = (
            queue.SimpleQueue()
        )
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="network-state", daemon=True)
        self._thread.start()

    @classmethod
    def open(cls, data_dir: Path | str) -> NetworkState:
        """Open (create) `data_dir/network.sqlite3` and read what it holds. Raises
        StateNotSaved when the file cannot be opened or is not ours."""
        path = Path(data_dir) / DB_FILENAME
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            version = int(db.execute("PRAGMA user_version").fetchone()[0])
            if version > _SCHEMA_VERSION:
                db.close()
                raise StateNotSaved(
                    f"{path}: schema version {version} is newer than this opensmsc knows "
                    f"({_SCHEMA_VERSION})"
                )
            db.executescript(_SCHEMA)
            db.execute(f"PRAGMA user_version = {_SCHEMA_VERSION}")
            restored = _read(db)
        except (sqlite3.Error, OSError) as exc:
            raise StateNotSaved(f"{path}: {exc}") from exc
        return cls(path, db, restored)

    # ---- writes (any thread may queue; the writer thread applies them in order) -----------------

    def subscriber_saved(self, record: Subscriber, *, imsi_given: bool, msc_given: bool) -> None:
        self._put(
            "INSERT OR REPLACE INTO subscribers VALUES (?, 0, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                record.msisdn,
                record.imsi if imsi_given else None,
                record.home_network,
                record.msc_address if msc_given else None,
                record.state.value,
                record.ported_to,
                record.serving_network,
                str(record.latency),
                record.failure_probability,
                record.absent_diagnostic,
            ),
        )

    def subscriber_removed(self, msisdn: int) -> None:
        # A tombstone: the number may be listed in the configuration, and must stay removed.
        self._put("INSERT OR REPLACE INTO subscribers (msisdn, removed) VALUES (?, 1)", (msisdn,))

    def waiting_saved(self, waiting: MessageWaiting) -> None:
        self._put(
            "INSERT OR REPLACE INTO message_waiting VALUES (?, ?, ?, ?)",
            (
                waiting.msisdn,
                int(waiting.mnrf),
                int(waiting.mcef),
                " ".join(waiting.service_centres),
            ),
        )

    def waiting_cleared(self, msisdn: int) -> None:
        self._put("DELETE FROM message_waiting WHERE msisdn = ?", (msisdn,))

    def address_seen(self, msisdn: int, address: str) -> None:
        self._put("INSERT OR IGNORE INTO waiting_addresses VALUES (?, ?)", (msisdn, address))

    def addresses_cleared(self, msisdn: int) -> None:
        self._put("DELETE FROM waiting_addresses WHERE msisdn = ?", (msisdn,))

    def handset_saved(self, msisdn: int, capacity: int, delete_old: bool) -> None:
        self._put(
            "INSERT OR REPLACE INTO handsets VALUES (?, ?, ?)", (msisdn, capacity, int(delete_old))
        )

    def _put(self, sql: str, params: tuple[object, ...]) -> None:
        if self._closed:
            log.warning("network state closed: change not saved path=%s", self.path)
            return
        self._queue.put((sql, params))

    # ---- durability ---------------------------------------------------------------------------

    async def flush(self) -> None:
        """Wait until every write queued so far is committed. Raises StateNotSaved when a
        batch failed (the changes stay in effect in memory)."""
        if self._closed:
            return
        barrier: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._queue.put(barrier)
        await asyncio.wrap_future(barrier)

    async def close(self) -> None:
        """Commit what is queued, then stop the writer thread and close the file."""
        await asyncio.to_thread(self.close_now)

    def close_now(self) -> None:
        """`close()` for callers without an event loop (blocks until the writes are done)."""
        if self._closed:
            return
        self._closed = True
        self._queue.put(_STOP)
        self._thread.join()

    def _run(self) -> None:
        while True:
            batch = [self._queue.get()]
            while True:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            writes = [item for item in batch if isinstance(item, tuple)]
            error: StateNotSaved | None = None
            if writes:
                error = self._commit(writes)
            for item in batch:
                if isinstance(item, concurrent.futures.Future):
                    if error is None:
                        item.set_result(None)
                    else:
                        item.set_exception(error)
            if any(item is _STOP for item in batch):
                self._db.close()
                return

    def _commit(self, writes: list[_Write]) -> StateNotSaved | None:
        try:
            self._db.execute("BEGIN IMMEDIATE")
            for sql, params in writes:
                self._db.execute(sql, params)
            self._db.execute("COMMIT")
        except sqlite3.Error as exc:
            if self._db.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    self._db.execute("ROLLBACK")
            log.error(
                "simulated network state not saved path=%s changes=%d: %s",
                self.path,
                len(writes),
                exc,
            )
            return StateNotSaved(f"{self.path}: {exc}")
        return None


def _read(db: sqlite3.Connection) -> Restored:
    restored = Restored()
    for row in db.execute("SELECT * FROM subscribers ORDER BY rowid"):
        key, removed, imsi, home, msc, state, ported, serving, latency, failure, diag = row
        if removed:
            restored.removed.append(key)
            continue
        try:
            record = Subscriber(
                msisdn=key,
                imsi=imsi or make_imsi(ported or home, key),
                home_network=home,
                msc_address=msc or "",
                state=SubscriberState(state),
                ported_to=ported,
                serving_network=serving,
                latency=Latency.parse(latency),
                failure_probability=float(failure),
                absent_diagnostic=int(diag),
            )
        except (ValueError, TypeError) as exc:
            log.warning("saved subscriber skipped msisdn=+%s: %s", key, exc)
            restored.skipped += 1
            continue
        restored.subscribers.append(
            SavedSubscriber(record, imsi_given=imsi is not None, msc_given=msc is not None)
        )
    for key, mnrf, mcef, centres in db.execute("SELECT * FROM message_waiting"):
        restored.waiting.append(MessageWaiting(key, bool(mnrf), bool(mcef), tuple(centres.split())))
    for key, address in db.execute("SELECT * FROM waiting_addresses"):
        restored.addresses.setdefault(key, set()).add(address)
    for key, capacity, delete_old in db.execute("SELECT * FROM handsets"):
        restored.handsets[key] = (int(capacity), bool(delete_old))
    return restored
