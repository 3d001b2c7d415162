"""Store micro-benchmark: durable submits per second through the SQLite group-commit writer.

    python bench/store_micro.py [--n N] [--submitters 1,50] [--per-call K] [--dir PATH] [--json]

For each submitter count C, C asyncio tasks call `submit_many` with K records each (default 1:
one submit_sm = one call, the engine's worst case), N records in all, on a fresh database with
synchronous=FULL: each call returns only after its transaction was committed and fsynced. It
reports records per second, calls per second, COMMITs (fsyncs), the mean and largest batch (calls
per transaction), p50/p99 call latency, and bytes on disk per message (main file after a
TRUNCATE checkpoint, so the WAL is folded in; 160-octet short_message, two TLVs).

Run it on the disk the SMSC's data folder lives on: fsync latency is the whole story.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from opensmsc.smpp import SubmitSm, Tag, Tlvs
from opensmsc.store import Direction, SqliteStore, StoredMessage

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
TEXT = (b"Your parcel 4471-2208 is out for delivery today between 10:00 and 14:00. " * 3)[:160]
PDU = SubmitSm(
    source_addr_ton=5,
    source_addr="ParcelCo",
    dest_addr_ton=1,
    dest_addr_npi=1,
    destination_addr="447700900001",
    registered_delivery=1,
    short_message=TEXT,
    tlvs=Tlvs(((Tag.USER_MESSAGE_REFERENCE, 42), (0x1401, b"vendor"))),
)


def _record(message_id: str) -> StoredMessage:
    return StoredMessage.from_pdu(
        PDU,
        message_id=message_id,
        system_id="esme1",
        direction=Direction.MT,
        submitted_at=T0,
        due_at=T0,
        expires_at=T0 + timedelta(days=2),
    )


async def run(folder: Path, *, n: int, submitters: int, per_call: int) -> dict[str, Any]:
    path = folder / f"bench-{submitters}.sqlite3"
    store = await SqliteStore.open(path)
    calls = n // per_call
    per_task = calls // submitters
    latencies: list[float] = []
    records = [
        [[_record(f"{t:03d}{c:07d}{k:02d}") for k in range(per_call)] for c in range(per_task)]
        for t in range(submitters)
    ]

    async def submitter(batches: list[list[StoredMessage]]) -> None:
        for batch in batches:
            started = time.perf_counter()
            await store.submit_many(batch)
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(submitter(b) for b in records))
    elapsed = time.perf_counter() - started
    stats = store.stats()
    await store.close()  # checkpoints with TRUNCATE: the main file holds everything
    conn = sqlite3.connect(path)
    try:
        (rows,) = conn.execute("SELECT COUNT(*) FROM message").fetchone()
    finally:
        conn.close()
    size = path.stat().st_size + sum(
        p.stat().st_size for p in folder.glob(f"{path.name}-*") if p.exists()
    )
    done = per_task * submitters * per_call
    assert rows == done, (rows, done)
    latencies.sort()
    return {
        "submitters": submitters,
        "records_per_call": per_call,
        "records": done,
        "seconds": round(elapsed, 3),
        "records_per_s": round(done / elapsed),
        "calls_per_s": round(len(latencies) / elapsed),
        "commits": stats.transactions,
        "commits_per_s": round(stats.transactions / elapsed),
        "mean_batch_calls": round(stats.mean_batch, 1),
        "largest_batch_calls": stats.largest_batch,
        "p50_ms": round(statistics.median(latencies) * 1000, 2),
        "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 2),
        "bytes_per_message": round(size / rows),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=20_000, help="records per run")
    parser.add_argument("--submitters", default="1,50")
    parser.add_argument("--per-call", type=int, default=1)
    parser.add_argument("--dir", type=Path, default=None, help="folder on the disk to measure")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="store-bench-", dir=args.dir))
    try:
        results = []
        for submitters in (int(s) for s in args.submitters.split(",")):
            n = args.n if submitters > 1 else min(args.n, 2_000)  # one at a time: fsync-bound
            results.append(
                asyncio.run(run(folder, n=n, submitters=submitters, per_call=args.per_call))
            )
    finally:
        shutil.rmtree(folder)
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print(f"SQLite {sqlite3.sqlite_version}, WAL, synchronous=FULL, data in {folder.parent}")
    keys = list(results[0])
    width = max(len(k) for k in keys)
    for key in keys:
        print(f"{key:>{width}}  " + "  ".join(f"{r[key]!s:>12}" for r in results))


if __name__ == "__main__":
    main()
