"""The network at the far end of the crash test: a small SMSC that takes every submit_sm the
SMSC under test sends through its connector, logs it, answers with an id of its own and, when
registered_delivery asks, sends back a DELIVRD delivery receipt.

It behaves like a carrier's SMSC where it matters for the test: a receipt stays queued until a
bound session acknowledges it with ESME_ROK (a session that dies, or an answer such as
ESME_RX_T_APPN, puts it back for a later try), so a receipt the SMSC under test lost in a crash
comes again after it restarts.

The log, one line per event as it happens (text is latin-1):
- `C <unix time> <connection>` a connection from the SMSC under test (numbered from 1);
- `S <unix time> <sink id> <connection> <short_message>` a submit_sm;
- `R <unix time> <sink id>` a receipt acknowledged with ESME_ROK.

    python tests/durability/sink.py --log FILE [--port 0] [--system-id smsc --password pw]
    # prints `READY <port>`; SIGTERM/SIGINT flush the log and stop it
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import signal
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

if __package__ in (None, ""):  # run as a script: make `tests.durability` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from opensmsc.smpp import (
    BindReceiverResp,
    BindTransceiverResp,
    BindTransmitterResp,
    CommandId,
    CommandStatus,
    Decoded,
    DeliveryReceipt,
    EnquireLinkResp,
    GenericNack,
    MessageState,
    SubmitSm,
    SubmitSmResp,
    UnbindResp,
    build_receipt_pdu,
)
from tests.durability.wire import SmppPeer

RETRY_DELAY = 0.2  # seconds before a refused receipt is offered again
WINDOW = 10  # receipts in flight per session (the connector's peer_window is 10 by default)


@dataclass
class _Receipt:
    sink_id: str
    original: SubmitSm
    submitted_at: datetime


@dataclass
class SinkState:
    log: TextIO
    system_id: str
    password: str
    ids: itertools.count[int] = field(default_factory=lambda: itertools.count(10_000_001))
    connections: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    queue: deque[_Receipt] = field(default_factory=deque)
    sessions: list[SinkSession] = field(default_factory=list)
    submits: int = 0
    receipts_acked: int = 0
    receipts_refused: int = 0
    _kick: asyncio.Event = field(default_factory=asyncio.Event)

    def write(self, line: str) -> None:
        self.log.write(line)

    def receivers(self) -> list[SinkSession]:
        return [s for s in self.sessions if s.receives and s.is_open]

    async def pump(self) -> None:
        """Offer queued receipts to bound receiving sessions, round robin, within each window."""
        turn = 0
        while True:
            await self._kick.wait()
            self._kick.clear()
            while self.queue:
                receivers = [s for s in self.receivers() if len(s.in_flight) < WINDOW]
                if not receivers:
                    break
                session = receivers[turn % len(receivers)]
                turn += 1
                session.offer(self.queue.popleft())
            await asyncio.sleep(0)

    def kick(self) -> None:
        self._kick.set()

    def requeue(self, receipt: _Receipt, delay: float = 0.0) -> None:
        loop = asyncio.get_running_loop()

        def back() -> None:
            self.queue.append(receipt)
            self.kick()

        if delay:
            loop.call_later(delay, back)
        else:
            back()


class SinkSession(SmppPeer):
    """One connection from the SMSC under test's connector."""

    def __init__(self, state: SinkState) -> None:
        super().__init__()
        self.state = state
        self.receives = False
        self.in_flight: dict[int, _Receipt] = {}
        self.number = next(state.connections)

    def on_connected(self) -> None:
        self.state.sessions.append(self)
        self.state.write(f"C {time.time():.6f} {self.number}\n")

    def on_lost(self) -> None:
        with contextlib.suppress(ValueError):
            self.state.sessions.remove(self)
        for receipt in self.in_flight.values():
            self.state.requeue(receipt)
        self.in_flight.clear()

    def offer(self, receipt: _Receipt) -> None:
        text = DeliveryReceipt(
            id=receipt.sink_id,
            sub=1,
            dlvrd=1,
            submit_date=receipt.submitted_at,
            done_date=datetime.now(UTC),
            stat="DELIVRD",
            err="000",
            text=receipt.original.short_message[:20].decode("latin-1"),
        )
        pdu = build_receipt_pdu(receipt.original, text, state=MessageState.DELIVERED)
        seq = self.send(pdu)
        self.in_flight[seq] = receipt

    def on_pdu(self, decoded: Decoded) -> None:
        cid, seq, pdu = decoded.command_id, decoded.sequence_number, decoded.pdu
        state = self.state
        if cid == CommandId.SUBMIT_SM:
            assert isinstance(pdu, SubmitSm)
            sink_id = str(next(state.ids))
            state.submits += 1
            text = pdu.short_message.decode("latin-1")
            state.write(f"S {time.time():.6f} {sink_id} {self.number} {text}\n")
            self.send(SubmitSmResp(message_id=sink_id), seq)
            if pdu.registered_delivery & 0x03:
                state.requeue(_Receipt(sink_id, pdu, datetime.now(UTC)))
        elif cid == CommandId.DELIVER_SM_RESP:
            receipt = self.in_flight.pop(seq, None)
            if receipt is None:
                return
            if decoded.status == CommandStatus.ESME_ROK:
                state.receipts_acked += 1
                state.write(f"R {time.time():.6f} {receipt.sink_id}\n")
            else:
                state.receipts_refused += 1
                state.requeue(receipt, RETRY_DELAY)
            state.kick()
        elif cid in _BINDS:
            ok = getattr(pdu, "system_id", None) == state.system_id and (
                getattr(pdu, "password", None) == state.password
            )
            status = CommandStatus.ESME_ROK if ok else CommandStatus.ESME_RINVPASWD
            resp = _BINDS[cid](system_id="sink", command_status=status)
            self.send(resp, seq)
            if ok and cid != CommandId.BIND_TRANSMITTER:
                self.receives = True
                state.kick()
        elif cid == CommandId.ENQUIRE_LINK:
            self.send(EnquireLinkResp(), seq)
        elif cid == CommandId.UNBIND:
            self.send(UnbindResp(), seq)
            self.receives = False
            if self.transport is not None:
                self.transport.close()
        elif not cid & 0x80000000:
            self.send(GenericNack(command_status=CommandStatus.ESME_RINVCMDID), seq)


_BINDS: dict[int, type[BindTransmitterResp | BindReceiverResp | BindTransceiverResp]] = {
    CommandId.BIND_TRANSMITTER: BindTransmitterResp,
    CommandId.BIND_RECEIVER: BindReceiverResp,
    CommandId.BIND_TRANSCEIVER: BindTransceiverResp,
}


async def serve(args: argparse.Namespace) -> None:
    loop = asyncio.get_running_loop()
    with open(args.log, "a", encoding="latin-1", buffering=1 << 16) as log:
        state = SinkState(log=log, system_id=args.system_id, password=args.password)
        pump = loop.create_task(state.pump())
        server = await loop.create_server(lambda: SinkSession(state), "127.0.0.1", args.port)
        port = server.sockets[0].getsockname()[1]
        stop = asyncio.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        print(f"READY {port}", flush=True)
        try:
            await stop.wait()
        finally:
            server.close()
            for session in list(state.sessions):
                session.abort()
            pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pump
            log.flush()
        print(
            f"SUMMARY submits={state.submits} receipts_acked={state.receipts_acked} "
            f"receipts_refused={state.receipts_refused} queued={len(state.queue)}",
            flush=True,
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--log", required=True)
    ap.add_argument("--system-id", default="smsc")
    ap.add_argument("--password", default="pw")
    args = ap.parse_args()
    asyncio.run(serve(args))


if __name__ == "__main__":
    main()
