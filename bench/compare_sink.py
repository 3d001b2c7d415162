"""The upstream SMSC of bench/compare.py: one sink for every system under test, that answers
each submit_sm, sends a delivery receipt for each that asks for one, and counts by id.

Every message the benchmark sends carries a token in its text (`id<run>n<index>e`, letters and
digits only, so GSM 03.38 and UCS-2 carry it unchanged); a long message repeats it so that every
part holds it whole. The sink records, per token, the distinct parts seen (from the UDH or SAR
TLVs), how many the message has and when its last part arrived, so the benchmark can tell which
accepted messages reached the upstream and which never did, whatever ids each system gives.

Receipts carry the SMPP 3.4 Appendix B text and the receipted_message_id and message_state TLVs
(what Kannel, Jasmin and opensmsc each read first), after `--dlr-delay-ms` (what a carrier
takes; also leaves the gateway time to store the submit_sm_resp's id before the receipt
quoting it arrives). Like a carrier's SMSC, it keeps at most `--window` receipts unanswered
per session and sends a receipt that was refused (ESME_RTHROTTLED, ESME_RX_T_APPN...) again a
second later. The codec is the yardstick's (../shared/bench/yardstick.py): struct
code, no session machine, so the sink costs little of the 2 cores.

    python bench/compare_sink.py --out FILE [--dlr-delay-ms 20]    # prints READY <port>

SIGTERM writes the summary to FILE as JSON and exits.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import re
import signal
import struct
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "shared" / "bench"))

from yardstick import (  # type: ignore[import-not-found]
    BIND_TRX,
    DELIVER_SM,
    DELIVER_SM_RESP,
    ENQUIRE_LINK,
    ENQUIRE_LINK_RESP,
    GENERIC_NACK,
    SUBMIT_SM,
    SUBMIT_SM_RESP,
    UNBIND,
    UNBIND_RESP,
    decode_sm,
    pdu,
)

BIND_RX, BIND_TX = 0x00000001, 0x00000002
TOKEN = re.compile(r"id([a-z]{6})n(\d+)e")
SAR_MSG_REF_NUM, SAR_TOTAL_SEGMENTS, SAR_SEGMENT_SEQNUM = 0x020C, 0x020E, 0x020F
RECEIPTED_MESSAGE_ID, MESSAGE_STATE = 0x001E, 0x0427
MESSAGE_PAYLOAD = 0x0424
DELIVERED = 2
_HDR = struct.Struct(">IIII")
_LEN = struct.Struct(">I")


def message_text(short_message: bytes, data_coding: int, has_udh: bool) -> tuple[str, bytes]:
    """The text of a submit_sm part and its UDH (empty without one). UCS-2 is decoded as
    UTF-16BE; anything else as Latin-1, which keeps the token's letters and digits as they are
    in GSM 03.38's default alphabet (unpacked, as SMPP carries it)."""
    udh = b""
    if has_udh and short_message:
        udh = short_message[: short_message[0] + 1]
        short_message = short_message[len(udh) :]
    if data_coding == 8:
        return short_message.decode("utf-16-be", errors="replace"), udh
    return short_message.decode("latin-1"), udh


def concat_info(udh: bytes, tlvs: list[tuple[int, bytes]]) -> tuple[int, int]:
    """(total parts, this part's number) from a UDH (IEI 0x00 or 0x08) or the SAR TLVs;
    (1, 1) for a message in one part."""
    pos = 1
    while pos + 2 <= len(udh):
        iei, length = udh[pos], udh[pos + 1]
        value = udh[pos + 2 : pos + 2 + length]
        if iei == 0x00 and length == 3:
            return value[1], value[2]
        if iei == 0x08 and length == 4:
            return value[2], value[3]
        pos += 2 + length
    found = dict(tlvs)
    if SAR_TOTAL_SEGMENTS in found and SAR_SEGMENT_SEQNUM in found:
        return found[SAR_TOTAL_SEGMENTS][0], found[SAR_SEGMENT_SEQNUM][0]
    return 1, 1


def tokens_of(text: str) -> set[str]:
    """Every benchmark token in a text (a long message's part repeats one)."""
    return {m.group(0) for m in TOKEN.finditer(text)}


def receipt_text(message_id: str, stamp: str) -> bytes:
    return (
        f"id:{message_id} sub:001 dlvrd:001 submit date:{stamp} done date:{stamp} "
        f"stat:DELIVRD err:000 text:"
    ).encode()


def _cstr(value: str) -> bytes:
    return value.encode() + b"\0"


def encode_receipt(seq: int, source_addr: str, destination_addr: str, message_id: str) -> bytes:
    """deliver_sm with esm_class 0x04: the receipt of `message_id`, back to the submitter."""
    stamp = time.strftime("%y%m%d%H%M")
    text = receipt_text(message_id, stamp)
    body = b"".join(
        (
            b"\0\x01\x01",
            _cstr(destination_addr),  # the receipt comes from the handset...
            b"\x01\x01",
            _cstr(source_addr),  # ...to the sender
            # esm_class, protocol_id, priority_flag, two empty times, registered_delivery,
            # replace_if_present_flag, data_coding, sm_default_msg_id, sm_length
            bytes((0x04, 0, 0, 0, 0, 0, 0, 0, 0, len(text))),
            text,
            struct.pack(">HH", RECEIPTED_MESSAGE_ID, len(message_id) + 1),
            _cstr(message_id),
            struct.pack(">HHB", MESSAGE_STATE, 1, DELIVERED),
        )
    )
    return pdu(DELIVER_SM, seq, body)


class Sink:
    """What every session of the sink shares: ids, the per-token record, the receipt queue."""

    def __init__(self, dlr_delay: float, id_prefix: str, window: int) -> None:
        self.dlr_delay = dlr_delay
        self.window = window
        self.id_prefix = id_prefix
        self.next_id = 0
        self.submit_sm = 0
        self.receipts_sent = 0
        self.receipts_acked = 0
        self.receipts_refused = 0
        self.no_token = 0
        # token → [parts seen (a set of part numbers), parts in the message, last arrival]
        self.tokens: dict[str, list[object]] = {}
        self.due: collections.deque[tuple[float, SessionProto, str, str, str]] = collections.deque()

    def new_id(self) -> str:
        self.next_id += 1
        return f"{self.id_prefix}{self.next_id:07X}"

    def record(self, text: str, total: int, part: int, now: float) -> None:
        found = tokens_of(text)
        if not found:
            self.no_token += 1
        for token in found:
            entry = self.tokens.get(token)
            if entry is None:
                self.tokens[token] = [{part}, total, now]
            else:
                parts = entry[0]
                assert isinstance(parts, set)
                parts.add(part)
                entry[2] = now

    async def send_receipts(self) -> None:
        """Every 5 ms, the receipts now due, in submit order, as far as each session's window
        allows (one write per session); a receipt waiting for its session's window holds back
        the later ones, as it would on a carrier's SMSC."""
        while True:
            await asyncio.sleep(0.005)
            now = time.monotonic()
            batches: dict[SessionProto, list[bytes]] = {}
            held: list[tuple[float, SessionProto, str, str, str]] = []
            while self.due and self.due[0][0] <= now:
                receipt = self.due.popleft()
                session = receipt[1]
                if session.transport.is_closing():
                    continue
                if len(session.in_flight) >= self.window:
                    held.append(receipt)
                    continue
                session.seq += 1
                session.in_flight[session.seq] = receipt
                self.receipts_sent += 1
                batches.setdefault(session, []).append(
                    encode_receipt(session.seq, receipt[2], receipt[3], receipt[4])
                )
            self.due.extendleft(reversed(held))
            for session, frames in batches.items():
                session.transport.write(b"".join(frames))

    def answered(self, session: SessionProto, seq: int, status: int) -> None:
        receipt = session.in_flight.pop(seq, None)
        if receipt is None:
            return
        if status == 0:
            self.receipts_acked += 1
            return
        self.receipts_refused += 1
        self.due.append((time.monotonic() + 1.0, *receipt[1:]))

    def summary(self) -> dict[str, object]:
        return {
            "submit_sm": self.submit_sm,
            "receipts_sent": self.receipts_sent,
            "receipts_acked": self.receipts_acked,
            "receipts_refused": self.receipts_refused,
            "receipts_pending": len(self.due),
            "no_token": self.no_token,
            "tokens": {
                token: [len(entry[0]), entry[1], entry[2]]  # type: ignore[arg-type]
                for token, entry in self.tokens.items()
            },
        }


class SessionProto(asyncio.Protocol):
    """One upstream session: any bind is accepted (the systems under test bind as they like)."""

    def __init__(self, sink: Sink) -> None:
        self.sink = sink
        self.buf = bytearray()
        self.seq = 0
        self.in_flight: dict[int, tuple[float, SessionProto, str, str, str]] = {}
        self.transport: asyncio.Transport

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is no subclass

    def data_received(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        pos, size = 0, len(buf)
        out: list[bytes] = []
        sink = self.sink
        now = time.monotonic()
        while size - pos >= 16:
            length = _LEN.unpack_from(buf, pos)[0]
            if size - pos < length:
                break
            _, cmd, status, seq = _HDR.unpack_from(buf, pos)
            if cmd == SUBMIT_SM:
                sink.submit_sm += 1
                m = decode_sm(buf, pos)
                short_message = m.short_message
                if not short_message:
                    short_message = dict(m.tlvs).get(MESSAGE_PAYLOAD, b"")
                text, udh = message_text(short_message, m.data_coding, bool(m.esm_class & 0x40))
                total, part = concat_info(udh, m.tlvs)
                sink.record(text, total, part, now)
                message_id = sink.new_id()
                out.append(pdu(SUBMIT_SM_RESP, seq, _cstr(message_id)))
                if m.registered_delivery & 0x01:
                    sink.due.append(
                        (
                            now + sink.dlr_delay,
                            self,
                            m.source_addr,
                            m.destination_addr,
                            message_id,
                        )
                    )
            elif cmd == DELIVER_SM_RESP:
                sink.answered(self, seq, status)
            elif cmd == GENERIC_NACK:
                sink.answered(self, seq, status or 0x08)
            elif cmd in (BIND_TRX, BIND_RX, BIND_TX):
                out.append(pdu(cmd | 0x80000000, seq, b"SINK\0"))
            elif cmd == ENQUIRE_LINK:
                out.append(pdu(ENQUIRE_LINK_RESP, seq))
            elif cmd == UNBIND:
                out.append(pdu(UNBIND_RESP, seq))
            elif cmd & 0x80000000 == 0:
                out.append(pdu(GENERIC_NACK, seq, status=3))
            pos += length
        del buf[:pos]
        if out:
            self.transport.write(b"".join(out))


async def serve(args: argparse.Namespace) -> None:
    loop = asyncio.get_running_loop()
    sink = Sink(args.dlr_delay_ms / 1000, args.id_prefix, args.window)
    server = await loop.create_server(lambda: SessionProto(sink), "127.0.0.1", args.port)
    ticker = asyncio.create_task(sink.send_receipts())
    stop: asyncio.Future[None] = loop.create_future()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, lambda: stop.done() or stop.set_result(None))
    print(f"READY {server.sockets[0].getsockname()[1]}", flush=True)
    await stop
    ticker.cancel()
    server.close()
    Path(args.out).write_text(json.dumps(sink.summary()))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--out", required=True, help="the summary, written at SIGTERM")
    ap.add_argument("--dlr-delay-ms", type=float, default=20.0)
    ap.add_argument("--window", type=int, default=100, help="receipts unanswered per session")
    ap.add_argument("--id-prefix", default="C", help="message ids: PREFIX + 7 hex digits")
    ap.add_argument("--uvloop", action="store_true")
    args = ap.parse_args()
    if args.uvloop:
        import uvloop

        uvloop.run(serve(args))
    else:
        asyncio.run(serve(args))


if __name__ == "__main__":
    main()
