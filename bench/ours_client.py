"""Bench driver: our own ESME stack (sans-IO `Connection` in the ESME role, driven by
`SmppProtocol`, connected by `transport.client.connect`). Binds trx, keeps W submit_sm
outstanding, prints one JSON line: msg/s, p50/p99 submit-to-response latency, client CPU.

With `--mode dlr` (as the yardstick's) every submit_sm asks for a receipt (registered_delivery
1) and the run ends when every accepted message's receipt has arrived: msg/s then counts to the
last receipt, `accepted_per_s` to the last submit_sm_resp, and p50/p99_receipt_ms is
submit-to-receipt (matched by receipted_message_id). `--sessions K` runs K sessions at once in
this process (N split over them; `--system-id a,b,..` gives each its account in turn), and the
figures are of the whole: msg/s from the first bind_resp to the end of the last session,
percentiles over every sample.

For bench/compare.py, `--tag RUN` puts a token in every message's text (bench/compare_texts.py)
so the upstream sink can count by id; `--long-share 0.3` makes 30% of the messages two-part
UCS-2 (UDH, registered_delivery on each part); `--receipt-timeout S` ends the run S seconds
after the last response even if receipts are missing (a lost receipt is a figure, not a hang);
`--ids-out FILE` writes the accepted and the receipted tokens there.

    python bench/ours_client.py --port P --n 20000 --w 10 [--mode dlr] [--sessions K] [--uvloop]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import dataclasses
import json
import sys
import time
from pathlib import Path

from compare_texts import is_long, long_text, short_text, token, ucs2_parts

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from opensmsc.smpp.connection import SessionConfig
from opensmsc.smpp.constants import Tag
from opensmsc.smpp.events import (
    ConnectionTerminated,
    DeliverReceived,
    Event,
    ResponseReceived,
)
from opensmsc.smpp.pdu import BindTransceiver, DeliverSmResp, SubmitSm, SubmitSmResp
from opensmsc.smpp.receipt import is_delivery_receipt, receipt_from_pdu
from opensmsc.smpp.states import Role
from opensmsc.transport.client import connect
from opensmsc.transport.protocol import SmppProtocol

MESSAGE = SubmitSm(
    source_addr_ton=1,
    source_addr_npi=1,
    source_addr="12345",
    dest_addr_ton=1,
    dest_addr_npi=1,
    destination_addr="31600000000",
    short_message=b"hello world 12345678",
)


class Driver:
    """The SessionHandler: bind, then keep `w` submits outstanding until `n` are answered.

    A message is one submit_sm, or two for a long one (`long_share`); `n` counts messages and
    the window counts PDUs."""

    def __init__(
        self,
        protocol: SmppProtocol,
        n: int,
        w: int,
        done: asyncio.Future[None],
        *,
        dlr: bool = False,
        tag: str = "",
        first_index: int = 0,
        long_share: float = 0.0,
        settle: float = 0.0,
    ) -> None:
        self.protocol = protocol
        self.settle = settle
        self.n, self.w, self.done = n, w, done
        self.dlr = dlr
        self.message = dataclasses.replace(MESSAGE, registered_delivery=1) if dlr else MESSAGE
        self.tag, self.first_index, self.long_share = tag, first_index, long_share
        self.pending: collections.deque[tuple[SubmitSm, str]] = collections.deque()
        self.messages_started = 0
        self.sent = 0
        self.errors = 0
        self.sent_at: dict[int, tuple[float, str]] = {}
        self.lat: list[float] = []
        self.bind_seq = -1
        self.t0 = self.t1 = self.c0 = self.c1 = self.t_resp = 0.0
        self.t0_mono = self.t_resp_mono = self.t_receipt_mono = 0.0
        # Receipts: submit time per message_id until its receipt comes; a receipt that comes
        # before its submit_sm_resp was read waits in `early`.
        self.awaiting: dict[str, tuple[float, str]] = {}
        self.early: dict[str, float] = {}
        self.receipts = 0
        self.receipt_lat: list[float] = []
        # Per token (with --tag): parts still unanswered, parts refused, and the receipted set.
        self.parts_left: dict[str, int] = {}
        self.refused: set[str] = set()
        self.accepted: list[str] = []
        self.receipted: set[str] = set()

    def _queue_next_message(self) -> None:
        index = self.first_index + self.messages_started
        self.messages_started += 1
        if not self.tag:
            self.pending.append((self.message, ""))
            return
        tok = token(self.tag, index)
        if is_long(index, self.long_share):
            parts = [
                dataclasses.replace(
                    self.message, esm_class=0x40, data_coding=0x08, short_message=part
                )
                for part in ucs2_parts(long_text(tok), index)
            ]
        else:
            parts = [dataclasses.replace(self.message, short_message=short_text(tok).encode())]
        self.parts_left[tok] = len(parts)
        self.pending.extend((part, tok) for part in parts)

    def _submit(self) -> bool:
        if not self.pending:
            if self.messages_started >= self.n:
                return False
            self._queue_next_message()
        pdu, tok = self.pending.popleft()
        self.sent += 1
        seq = self.protocol.send_request(pdu)
        self.sent_at[seq] = (time.perf_counter(), tok)
        return True

    @property
    def parts_total(self) -> int:
        """PDUs of all `n` messages once every message was started; before, a lower bound."""
        return self.sent + len(self.pending) + (self.n - self.messages_started)

    def _check_done(self) -> None:
        if (
            not self.t_resp
            and self.messages_started >= self.n
            and not self.pending
            and len(self.lat) == self.sent
        ):
            self.t_resp = time.perf_counter()
            self.t_resp_mono = time.monotonic()
        if (
            self.t_resp
            and (not self.dlr or self.receipts >= self.sent - self.errors)
            and not self.done.done()
        ):
            self.finish()

    def finish(self) -> None:
        """The end of this session's run: every receipt came, or the receipt timeout passed."""
        if not self.done.done():
            self.t1, self.c1 = time.perf_counter(), time.process_time()
            self.done.set_result(None)

    def _receipted(self, tok: str, submitted: float, now: float) -> None:
        self.receipts += 1
        self.receipt_lat.append(now - submitted)
        self.t_receipt_mono = time.monotonic()
        if tok:
            self.receipted.add(tok)

    def _on_receipt(self, event: DeliverReceived, now: float) -> None:
        message_id = event.pdu.tlvs.get(Tag.RECEIPTED_MESSAGE_ID)
        if not isinstance(message_id, str):
            info = receipt_from_pdu(event.pdu)
            if info is None:
                return
            message_id = info.message_id
        awaited = self.awaiting.pop(message_id, None)
        if awaited is None:
            self.early[message_id] = now
            return
        self._receipted(awaited[1], awaited[0], now)

    def _start(self) -> None:
        """The clock starts and the first window of submits goes out."""
        self.t0, self.c0 = time.perf_counter(), time.process_time()
        self.t0_mono = time.monotonic()
        for _ in range(self.w):
            if not self._submit():
                break

    def on_events(self, events: list[Event]) -> None:
        perf = time.perf_counter
        for event in events:
            if type(event) is ResponseReceived:
                seq = event.sequence_number
                if seq == self.bind_seq:
                    if event.response.command_status:
                        self.done.set_exception(RuntimeError("bind refused"))
                        return
                    if self.settle > 0:
                        asyncio.get_running_loop().call_later(self.settle, self._start)
                    else:
                        self._start()
                    continue
                now = perf()
                sent, tok = self.sent_at.pop(seq)
                self.lat.append(now - sent)
                response = event.response
                if response.command_status:
                    self.errors += 1
                    self.refused.add(tok)
                elif self.dlr and type(response) is SubmitSmResp:
                    early = self.early.pop(response.message_id, None)
                    if early is None:
                        self.awaiting[response.message_id] = (sent, tok)
                    else:
                        self._receipted(tok, sent, early)
                if tok:
                    self.parts_left[tok] -= 1
                    if not self.parts_left[tok] and tok not in self.refused:
                        self.accepted.append(tok)
                self._submit()
                self._check_done()
            elif type(event) is DeliverReceived:
                if self.dlr and is_delivery_receipt(event.pdu.esm_class):
                    self._on_receipt(event, perf())
                self.protocol.respond(event, DeliverSmResp())
                self._check_done()
            elif type(event) is ConnectionTerminated and not self.done.done():
                self.done.set_exception(RuntimeError(f"session ended: {event.reason}"))

    def on_connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.done.set_exception(RuntimeError(f"connection lost: {exc}"))


async def open_session(args: argparse.Namespace, index: int, n: int) -> tuple[Driver, SmppProtocol]:
    """Connect, bind session `index` (its system_id from the comma-separated --system-id list,
    in turn) and return its driver, which starts submitting at bind_resp."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[None] = loop.create_future()
    # peer_window: the SMSC's deliver_sm (receipts) we take in before answering; one read can
    # carry a hundred of them, and at the default of 10 the rest would be refused as throttled.
    config = SessionConfig(
        role=Role.ESME,
        window=max(args.w, 1),
        peer_window=1000,
        interface_version=0x34,
        enquire_link_interval=None,
    )
    drivers: list[Driver] = []

    def factory(protocol: SmppProtocol) -> Driver:
        drivers.append(
            Driver(
                protocol,
                n,
                args.w,
                done,
                dlr=args.mode == "dlr",
                tag=args.tag,
                first_index=index * n,
                long_share=args.long_share,
                settle=args.settle,
            )
        )
        return drivers[0]

    protocol = await connect(
        args.host,
        args.port,
        session_config=config,
        handler_factory=factory,
        session_id=f"bench-{index}",
    )
    system_ids = args.system_id.split(",")
    driver = drivers[0]
    driver.bind_seq = protocol.send_request(
        BindTransceiver(
            system_id=system_ids[index % len(system_ids)],
            password=args.password,
            interface_version=0x34,
        )
    )
    return driver, protocol


async def run(args: argparse.Namespace) -> dict[str, object]:
    """--sessions sessions at once, --n messages over all of them; the figures of the whole:
    msg/s from the first bind_resp to the last session's end, percentiles over every sample."""
    per_session = max(1, args.n // args.sessions)
    n = per_session * args.sessions
    opened = [await open_session(args, i, per_session) for i in range(args.sessions)]
    drivers = [d for d, _ in opened]
    if args.receipt_timeout is not None:
        asyncio.get_running_loop().create_task(_receipt_deadline(drivers, args.receipt_timeout))
    await asyncio.wait_for(asyncio.gather(*(d.done for d in drivers)), args.timeout)
    for _, protocol in opened:
        protocol.unbind()
    await asyncio.sleep(0)
    for _, protocol in opened:
        protocol.close()
    t0 = min(d.t0 for d in drivers)
    wall = max(d.t1 for d in drivers) - t0
    lat = sorted(v for d in drivers for v in d.lat)
    receipt_lat = sorted(v for d in drivers for v in d.receipt_lat)
    result: dict[str, object] = {
        "peer": "opensmsc",
        "n": n,
        "w": args.w,
        "sessions": args.sessions,
        "mode": args.mode,
        "wall_s": wall,
        "msg_per_s": n / wall,
        "p50_ms": _quantile(lat, 0.5),
        "p99_ms": _quantile(lat, 0.99),
        "client_cpu_s": max(d.c1 for d in drivers) - min(d.c0 for d in drivers),
        "errors": sum(d.errors for d in drivers),
        "submitted": sum(d.sent for d in drivers),
        "t0_mono": min(d.t0_mono for d in drivers),
    }
    if args.tag:
        result["accepted_messages"] = sum(len(d.accepted) for d in drivers)
    if args.mode == "dlr":
        accepted_wall = max(d.t_resp for d in drivers) - t0
        result.update(
            accepted_wall_s=accepted_wall,
            accepted_per_s=result.get("accepted_messages", n) / accepted_wall,
            receipts=sum(d.receipts for d in drivers),
            p50_receipt_ms=_quantile(receipt_lat, 0.5),
            p99_receipt_ms=_quantile(receipt_lat, 0.99),
            t_resp_mono=max(d.t_resp_mono for d in drivers),
            t_receipt_mono=max(d.t_receipt_mono for d in drivers),
        )
    if args.ids_out:
        Path(args.ids_out).write_text(
            json.dumps(
                {
                    "accepted": [t for d in drivers for t in d.accepted],
                    "receipted": [t for d in drivers for t in d.receipted],
                }
            )
        )
    return result


async def _receipt_deadline(drivers: list[Driver], seconds: float) -> None:
    """End every session `seconds` after its last response, receipts or not."""
    while not all(d.done.done() for d in drivers):
        await asyncio.sleep(0.1)
        for d in drivers:
            if d.t_resp and time.perf_counter() - d.t_resp > seconds:
                d.finish()


def _quantile(sorted_values: list[float], q: float) -> float | None:
    if not sorted_values:
        return None
    return sorted_values[min(len(sorted_values) - 1, int(len(sorted_values) * q))] * 1e3


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--n", type=int, default=20000)
    ap.add_argument("--w", type=int, default=10)
    ap.add_argument("--system-id", default="test", help="comma-separated: one per session in turn")
    ap.add_argument("--password", default="test")
    ap.add_argument("--timeout", type=float, default=120)
    ap.add_argument("--uvloop", action="store_true")
    ap.add_argument("--mode", choices=["submit", "dlr"], default="submit")
    ap.add_argument("--sessions", type=int, default=1, help="sessions at once, N split over them")
    ap.add_argument("--tag", default="", help="a token per message in its text: six letters")
    ap.add_argument("--long-share", type=float, default=0.0, help="share of two-part UCS-2")
    ap.add_argument("--receipt-timeout", type=float, help="stop waiting for receipts after S s")
    ap.add_argument("--ids-out", help="write the accepted and receipted tokens here (JSON)")
    ap.add_argument(
        "--settle",
        type=float,
        default=0.0,
        help="seconds between bind_resp and the first submit (not timed): a cluster's node\n"
        "sends a just-bound receiver's receipts after two membership beats",
    )
    args = ap.parse_args()
    if args.uvloop:
        import uvloop

        result = uvloop.run(run(args))
    else:
        result = asyncio.run(run(args))
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
