"""Fixtures for the store's tests: every test that takes `store` or `store_factory` runs once per
Store implementation in IMPLEMENTATIONS. PostgreSQL runs each test in a schema of its own, named
from the test's folder (tests/postgres_server.py), dropped when the test ends."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from opensmsc.smpp import MessageState
from opensmsc.store import Address, Direction, PostgresStore, SqliteStore, Store, StoredMessage
from tests import postgres_server

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)

# name → async function (data folder) → a Store on that folder's data. Opening twice on the same
# folder must reach the same data: that is what the restart tests rely on.
Opener = Callable[[Path], Awaitable[Store]]


async def _open_sqlite(folder: Path) -> Store:
    return await SqliteStore.open(folder / "messages.sqlite3")


async def _open_postgres(folder: Path) -> Store:
    await postgres_server.ensure_running()
    return await PostgresStore.open(
        postgres_server.DSN, schema=postgres_server.schema_for(folder), node_id="test"
    )


IMPLEMENTATIONS: dict[str, Opener] = {
    "sqlite": _open_sqlite,
    "postgres": _open_postgres,
}


class StoreFactory:
    """Opens stores on one test's data; closes whatever is still open when the test ends."""

    def __init__(self, opener: Opener, folder: Path) -> None:
        self._opener = opener
        self.folder = folder
        self._open: list[Store] = []

    async def __call__(self) -> Store:
        store = await self._opener(self.folder)
        self._open.append(store)
        return store

    async def close_all(self) -> None:
        for store in self._open:
            await store.close()


@pytest.fixture(params=sorted(IMPLEMENTATIONS))
async def store_factory(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[StoreFactory]:
    factory = StoreFactory(IMPLEMENTATIONS[request.param], tmp_path)
    try:
        yield factory
    finally:
        await factory.close_all()
        if request.param == "postgres":
            await postgres_server.drop_schemas([postgres_server.schema_for(tmp_path)])


@pytest.fixture
async def store(store_factory: StoreFactory) -> Store:
    return await store_factory()


def record(message_id: str, **fields: Any) -> StoredMessage:
    """An MT of account esme1 from 1234 to 447700900001, submitted at T0, valid 2 days."""
    values: dict[str, Any] = {
        "message_id": message_id,
        "system_id": "esme1",
        "direction": Direction.MT,
        "source": Address(5, 0, "1234"),
        "destination": Address(1, 1, "447700900001"),
        "short_message": b"hello",
        "submitted_at": T0,
        "due_at": T0,
        "expires_at": T0 + timedelta(days=2),
        "state": MessageState.ENROUTE,
    }
    values.update(fields)
    if "due_at" in fields and "state" not in fields and fields["due_at"] > values["submitted_at"]:
        values["state"] = MessageState.SCHEDULED
    return StoredMessage(**values)
