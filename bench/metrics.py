"""What counting a message costs: the engine's observer calls (app/metrics.MessageMetrics) per
message, against the engine's default observer that does nothing.

    .venv/bin/python bench/metrics.py [--n 200000] [--accounts 20] [--routes 5]

`stored` is timed in batches of 64 records (the Acceptor calls it once per commit with the
commit's records), `ended` once per record (the Lifecycle calls it per final state). Records
cycle over `accounts` x `routes` label sets. The same 1,000 records are observed again and
again: in the engine a record was just used when it is observed (it is in the CPU's cache).
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from opensmsc.app.metrics import MessageMetrics
from opensmsc.engine import NO_OBSERVER, MessageObserver
from opensmsc.smpp import MessageState, SubmitSm
from opensmsc.store import Direction, StoredMessage

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def records(n: int, accounts: int) -> list[StoredMessage]:
    pdu = SubmitSm(source_addr="ParcelCo", destination_addr="447700900123", short_message=b"hi")
    return [
        StoredMessage.from_pdu(
            pdu,
            message_id=f"m{i}",
            system_id=f"account{i % accounts}",
            direction=Direction.MT,
            submitted_at=T0,
            due_at=T0,
            expires_at=T0 + timedelta(days=1),
        )
        for i in range(n)
    ]


def per_message_ns(
    observer: MessageObserver, batch: list[StoredMessage], routes: int
) -> tuple[float, float]:
    at = T0 + timedelta(milliseconds=3)
    stored = observer.stored
    start = time.perf_counter_ns()
    for i in range(0, len(batch), 64):
        stored(batch[i : i + 64], at)
    stored_ns = (time.perf_counter_ns() - start) / len(batch)
    ended = observer.ended
    names = [f"route{r}" for r in range(routes)]
    delivered = MessageState.DELIVERED
    start = time.perf_counter_ns()
    for i, record in enumerate(batch):
        ended(record, delivered, names[i % routes], at)
    ended_ns = (time.perf_counter_ns() - start) / len(batch)
    return stored_ns, ended_ns


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--n", type=int, default=200_000)
    ap.add_argument("--accounts", type=int, default=20)
    ap.add_argument("--routes", type=int, default=5)
    args = ap.parse_args()
    batch = records(1000, args.accounts) * (args.n // 1000)
    metrics = MessageMetrics()
    for observer in (NO_OBSERVER, metrics):  # warm up
        per_message_ns(observer, batch[:10_000], args.routes)
    rows = []
    for name, observer in (("no observer", NO_OBSERVER), ("MessageMetrics", metrics)):
        runs = [per_message_ns(observer, batch, args.routes) for _ in range(5)]
        stored = sorted(r[0] for r in runs)[2]
        ended = sorted(r[1] for r in runs)[2]
        rows.append((name, stored, ended))
    labels = f"{args.accounts} accounts, {args.routes} routes"
    print(f"per message, median of 5 runs of {args.n:,} ({labels})")
    print(f"{'observer':<16}{'stored ns':>11}{'ended ns':>11}{'sum ns':>9}")
    for name, stored, ended in rows:
        print(f"{name:<16}{stored:>11.0f}{ended:>11.0f}{stored + ended:>9.0f}")
    base, ours = rows[0], rows[1]
    print(f"added per message: {ours[1] + ours[2] - base[1] - base[2]:.0f} ns")


if __name__ == "__main__":
    main()
