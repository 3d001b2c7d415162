"""The child of test_kill9.py: writes to a store as fast as it can, and prints `ack <id>` for
each message only after submit_many returned (durably stored). It runs until killed.

Usage: python kill9_writer.py DB_PATH RUN_NUMBER
       python kill9_writer.py POSTGRESQL_DSN RUN_NUMBER SCHEMA
"""

from __future__ import annotations

import asyncio
import itertools
import random
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from opensmsc.smpp import MessageState
from opensmsc.store import Address, PostgresStore, SqliteStore, Store, StoredMessage

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def _record(message_id: str) -> StoredMessage:
    return StoredMessage(
        message_id=message_id,
        system_id="esme1",
        source=Address(5, 0, "1234"),
        destination=Address(1, 1, "4477009" + str(hash(message_id) % 100000).zfill(5)),
        short_message=message_id.encode(),
        submitted_at=T0,
        due_at=T0,
        expires_at=T0 + timedelta(days=2),
    )


async def _open(where: str, schema: str | None) -> Store:
    if schema is not None:
        return await PostgresStore.open(where, schema=schema)
    return await SqliteStore.open(Path(where))


async def main(where: str, run: str, schema: str | None) -> None:
    store = await _open(where, schema)
    print("ready", flush=True)
    numbers = itertools.count()
    out = sys.stdout

    async def submitter(k: int) -> None:
        rng = random.Random(k)
        while True:
            batch = [_record(f"{run}-{k}-{next(numbers)}") for _ in range(rng.randint(1, 20))]
            await store.submit_many(batch)
            out.write("".join(f"ack {r.message_id}\n" for r in batch))
            out.flush()
            # Some updates too, so kills also land in transitions and checkpoints.
            if rng.random() < 0.3:
                await store.transition(batch[0].message_id, MessageState.DELIVERED, at=T0)

    await asyncio.gather(*(submitter(k) for k in range(16)))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else None))
