"""`opensmsc send`: messages sent as an account through the running node's admin API
(`POST /v1/admin/messages`), then waited for until they are final.

- `opensmsc send --account A --from X --to Y TEXT`: one message; prints its id, then (unless
  `--wait 0`) its final state once it has one.
- `opensmsc send --account A --from X --csv FILE`: one message per row, columns `to,text` and
  optionally `from` (a header row naming them is skipped; a row without `from` uses --from),
  sent by --concurrency requests at a time, a progress bar on stderr (redrawn in place on a
  terminal, a plain line every few seconds otherwise); then a summary of the final states,
  waiting up to --wait seconds, polling the node's list of the account's messages a page of
  1000 at a time (not one request per message).

A message goes in as the account's own would (its throughput, validity, routing policy): over
its throughput the node answers 429 and the row is sent again a moment later.

Exit status: 0 every message was accepted and none ended in failure; 1 a message was refused,
ended undelivered (undeliverable, expired, rejected, deleted) or the node could not be
reached; 2 a usage error (a CSV without its columns). Messages still open when --wait ends are
counted as such, not as failures.

What it is not: a load generator for benchmarks (each message is one HTTP request; bench/ has
those) or the HTTP API for applications (/v1/messages, with its API keys).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Final, TextIO

from opensmsc.cli.admin_client import (
    AdminClient,
    NodeError,
    add_node_arguments,
    client_from_args,
    quote,
)

__all__ = ["add_parser", "send_main"]

OPEN_STATES: Final = frozenset({"scheduled", "enroute", "unknown"})
FAILED_STATES: Final = frozenset({"undeliverable", "expired", "rejected", "deleted"})
_THROTTLED: Final = 429
_THROTTLE_TRIES: Final = 60  # a second apart: a row waits at most a minute for throughput
_PAGE: Final = 1000


def add_parser(sub: Any) -> None:
    """Add `send` to the `opensmsc` sub-parsers (cli/main.py)."""
    send = sub.add_parser("send", help="send messages as an account and wait for their outcome")
    send.add_argument("text", nargs="?", metavar="TEXT", help="the message (without --csv)")
    send.add_argument("--account", required=True, help="send as this account (system_id)")
    send.add_argument("--from", dest="source", help="the sender: +E.164, short code or a name")
    send.add_argument("--to", dest="destination", help="the recipient, +E.164 (without --csv)")
    send.add_argument("--csv", metavar="FILE", help="one message per row: to,text[,from]")
    send.add_argument("--receipt", action="store_true", help="ask for a delivery receipt")
    send.add_argument(
        "--wait",
        type=float,
        default=30.0,
        metavar="S",
        help="wait up to S seconds for final states (default 30; 0: do not wait)",
    )
    send.add_argument(
        "--concurrency", type=int, default=8, metavar="N", help="requests at a time (default 8)"
    )
    add_node_arguments(send)


@dataclass(frozen=True, slots=True)
class Row:
    line: int  # in the file, for errors
    destination: str
    text: str
    source: str | None


def send_main(
    args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None
) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    if args.csv is None:
        if args.text is None or args.destination is None or args.source is None:
            print("error: give --from, --to and TEXT, or --csv FILE", file=err)
            return 2
        rows = [Row(0, args.destination, args.text, args.source)]
    else:
        if args.text is not None or args.destination is not None:
            print("error: --csv takes the recipients and texts from the file", file=err)
            return 2
        try:
            rows = read_csv(Path(args.csv), args.source)
        except (OSError, ValueError) as exc:
            print(f"error: {args.csv}: {exc}", file=err)
            return 2
    if args.concurrency < 1:
        print("error: --concurrency must be at least 1", file=err)
        return 2
    try:
        client = client_from_args(args)
    except NodeError as exc:
        print(f"error: {exc}", file=err)
        return 1
    if args.csv is None:
        return _one(client, args, rows[0], out, err)
    return _many(client, args, rows, out, err)


def read_csv(path: Path, default_source: str | None) -> list[Row]:
    """The rows of `path`: to,text[,from]; a first row naming those columns is a header (then
    they may come in any order). Raises ValueError for a row without a recipient or text, or
    without a sender when there is no default."""
    rows: list[Row] = []
    with path.open(newline="", encoding="utf-8-sig") as file:
        reader = csv.reader(file)
        header = {"to": 0, "text": 1, "from": 2}
        for number, record in enumerate(reader, start=1):
            if not record or all(not cell.strip() for cell in record):
                continue
            if number == 1 and {c.strip().lower() for c in record} >= {"to", "text"}:
                header.clear()
                header.update((c.strip().lower(), i) for i, c in enumerate(record))
                continue

            def cell(name: str, record: list[str] = record) -> str | None:
                index = header.get(name)
                if index is None or index >= len(record):
                    return None
                return record[index].strip() if name != "text" else record[index]

            to, text, source = cell("to"), cell("text"), cell("from") or default_source
            if not to or not text:
                raise ValueError(f"line {number}: needs a recipient and a text (to,text[,from])")
            if not source:
                raise ValueError(f"line {number}: no sender: add a from column or give --from")
            rows.append(Row(number, to, text, source))
    if not rows:
        raise ValueError("no messages in the file")
    return rows


def _post(client: AdminClient, account: str, row: Row, receipt: bool) -> dict[str, Any]:
    """POST one message; a throttled one is sent again a second later, for up to a minute."""
    body = {
        "account": account,
        "source": row.source,
        "destination": row.destination,
        "text": row.text,
        "receipt": receipt,
    }
    for _ in range(_THROTTLE_TRIES):
        try:
            return dict(client.call("POST", "/v1/admin/messages", body))
        except NodeError as exc:
            if exc.status != _THROTTLED:
                raise
        time.sleep(1.0)
    return dict(client.call("POST", "/v1/admin/messages", body))


def _one(client: AdminClient, args: argparse.Namespace, row: Row, out: TextIO, err: TextIO) -> int:
    try:
        sent = _post(client, args.account, row, args.receipt)
    except NodeError as exc:
        print(f"error: {exc}", file=err)
        return 1
    parts = f" ({sent['parts']} parts)" if sent.get("parts", 1) > 1 else ""
    if args.wait <= 0:
        print(json.dumps(sent) if args.json else f"{sent['id']}{parts}", file=out)
        return 0
    deadline = time.monotonic() + args.wait
    message: Mapping[str, Any] = {}
    try:
        while True:
            message = client.call("GET", f"/v1/admin/messages/{quote(sent['id'])}")
            if message["state"] not in OPEN_STATES or time.monotonic() >= deadline:
                break
            time.sleep(0.2)
    except NodeError as exc:
        print(f"error: {exc}", file=err)
        return 1
    if args.json:
        print(json.dumps(message, indent=2), file=out)
    else:
        error = f" ({message['error']})" if message.get("error") else ""
        still = " (still open after --wait)" if message["state"] in OPEN_STATES else ""
        print(f"{sent['id']}{parts}  {message['state']}{error}{still}", file=out)
    return 1 if message["state"] in FAILED_STATES else 0


# ---- a CSV of many ------------------------------------------------------------------------------


@dataclass
class Progress:
    """The progress bar on stderr: redrawn in place on a terminal, a line every few seconds
    (and at the end) otherwise, so a log file gets a readable record."""

    total: int
    stream: TextIO
    what: str
    rate: bool = True  # show messages/s (sending), or only the count (waiting for finals)
    done: int = 0
    started: float = field(default_factory=time.monotonic)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._tty = self.stream.isatty()
        self._last = self.started  # a plain line first after the interval, not at once
        self._drawn = -1  # the count last drawn

    def step(self, count: int = 1) -> None:
        with self._lock:
            self.done += count
            now = time.monotonic()
            if now - self._last >= (0.1 if self._tty else 5.0) or self.done >= self.total:
                self._last = now
                self._draw(now)

    def set(self, done: int) -> None:
        with self._lock:
            self.done = done
            now = time.monotonic()
            if now - self._last >= (0.1 if self._tty else 5.0):
                self._last = now
                self._draw(now)

    def finish(self) -> None:
        with self._lock:
            if self._drawn != self.done:
                self._draw(time.monotonic())
            if self._tty:
                self.stream.write("\n")
                self.stream.flush()

    def _draw(self, now: float) -> None:
        self._drawn = self.done
        elapsed = max(now - self.started, 1e-6)
        speed = f"{self.done / elapsed:,.0f}/s, " if self.rate else ""
        if self._tty:
            width = 30
            filled = int(width * self.done / self.total) if self.total else width
            bar = "#" * filled + "." * (width - filled)
            # \x1b[K clears what a longer line before left
            text = f"\r{self.what} [{bar}] {self.done}/{self.total} ({speed}{elapsed:.1f}s)\x1b[K"
            self.stream.write(text)
        else:
            self.stream.write(f"{self.what}: {self.done}/{self.total} ({speed}{elapsed:.1f}s)\n")
        self.stream.flush()


@dataclass
class Outcome:
    ids: dict[str, int] = field(default_factory=dict)  # message id → CSV line
    refused: list[tuple[int, str]] = field(default_factory=list)  # (line, why)
    parts: int = 0
    since: datetime | None = None  # the earliest submitted_at the node answered


def _many(
    client: AdminClient, args: argparse.Namespace, rows: Sequence[Row], out: TextIO, err: TextIO
) -> int:
    outcome = Outcome()
    progress = Progress(len(rows), err, "sending")
    lock = threading.Lock()

    def one(row: Row) -> None:
        try:
            sent = _post(client, args.account, row, args.receipt)
        except NodeError as exc:
            with lock:
                outcome.refused.append((row.line, str(exc)))
        else:
            with lock:
                for message_id in sent.get("ids", [sent["id"]]):
                    outcome.ids[message_id] = row.line
                outcome.parts += int(sent.get("parts", 1))
                # The node's own clock: the list's `since` is compared with its times.
                if sent.get("submitted_at"):
                    submitted = datetime.fromisoformat(sent["submitted_at"])
                    if outcome.since is None or submitted < outcome.since:
                        outcome.since = submitted
        progress.step()

    with ThreadPoolExecutor(max_workers=args.concurrency) as pool:
        for _ in pool.map(one, rows):
            pass
    progress.finish()
    elapsed = time.monotonic() - progress.started
    for line, why in outcome.refused[:10]:
        print(f"error: line {line}: {why}", file=err)
    if len(outcome.refused) > 10:
        print(f"error: ... and {len(outcome.refused) - 10} more refused", file=err)
    accepted = len(rows) - len(outcome.refused)
    summary: dict[str, Any] = {
        "rows": len(rows),
        "accepted": accepted,
        "refused": len(outcome.refused),
        "parts": outcome.parts,
        "send_seconds": round(elapsed, 3),
        "per_second": round(accepted / elapsed, 1) if elapsed > 0 else None,
    }
    states: dict[str, str] = {}
    if args.wait > 0 and outcome.ids and outcome.since is not None:
        try:
            states = _wait_for_finals(
                client,
                args.account,
                outcome.since.isoformat(),
                set(outcome.ids),
                wait=args.wait,
                err=err,
            )
        except NodeError as exc:
            print(f"error: {exc}", file=err)
            return 1
    counted = Counter(states.values())
    if args.wait > 0 and len(states) < len(outcome.ids):
        counted["not listed"] = len(outcome.ids) - len(states)  # purged already
    summary["states"] = dict(sorted(counted.items()))
    summary["wait_seconds"] = round(time.monotonic() - progress.started - elapsed, 3)
    if args.json:
        print(json.dumps(summary, indent=2), file=out)
    else:
        print(_summary_text(summary, waited=args.wait > 0), file=out)
    failed = sum(n for state, n in counted.items() if state in FAILED_STATES)
    return 1 if outcome.refused or failed else 0


def _wait_for_finals(
    client: AdminClient, account: str, since: str, ids: set[str], *, wait: float, err: TextIO
) -> dict[str, str]:
    """The states of `ids` once none is open, or when `wait` seconds are over: read from the
    account's messages submitted since `since`, a page of 1000 at a time."""
    deadline = time.monotonic() + wait
    progress = Progress(len(ids), err, "final", rate=False)
    states: dict[str, str] = {}
    while True:
        states = {m["id"]: m["state"] for m in _pages(client, account, since) if m["id"] in ids}
        final = sum(1 for state in states.values() if state not in OPEN_STATES)
        progress.set(final)
        if final >= len(ids) or time.monotonic() >= deadline:
            break
        time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))
    progress.finish()
    return states


def _pages(client: AdminClient, account: str, since: str) -> Iterator[Mapping[str, Any]]:
    cursor = None
    while True:
        page = client.call(
            "GET",
            "/v1/admin/messages",
            params={"account": account, "since": since, "limit": _PAGE, "cursor": cursor},
        )
        yield from page["messages"]
        cursor = page["next_cursor"]
        if cursor is None:
            return


def _summary_text(summary: Mapping[str, Any], *, waited: bool) -> str:
    lines = [
        f"sent {summary['accepted']} of {summary['rows']} messages ({summary['parts']} parts) "
        f"in {summary['send_seconds']:.1f} s: {summary['per_second'] or 0:,.0f} messages/s"
        + (f"; {summary['refused']} refused" if summary["refused"] else "")
    ]
    if waited:
        states: Mapping[str, int] = summary["states"]
        parts = ", ".join(f"{state} {count}" for state, count in states.items()) or "none"
        lines.append(f"after {summary['wait_seconds']:.1f} s more, by state (parts): {parts}")
    return "\n".join(lines)
