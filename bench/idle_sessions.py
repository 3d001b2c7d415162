"""Opens N SMPP sessions to an SMSC and binds each as transceiver, then holds them idle.

Prints `BOUND <n> <failed>` once every bind is answered, answers enquire_link while it waits,
and exits on SIGTERM or when stdin closes. Started by bench/smpp.py.

    python bench/idle_sessions.py --port P --sessions 10000 [--uvloop]
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import signal
import struct
import sys

HEADER = struct.Struct(">IIII")
BIND_TRX, BIND_TRX_RESP = 0x00000009, 0x80000009
ENQUIRE_LINK, ENQUIRE_LINK_RESP = 0x00000015, 0x80000015
UNBIND, UNBIND_RESP = 0x00000006, 0x80000006


def bind_pdu(system_id: str, password: str) -> bytes:
    body = system_id.encode() + b"\0" + password.encode() + b"\0\0\x34\x00\x00\x00"
    return HEADER.pack(16 + len(body), BIND_TRX, 0, 1) + body


class Idle(asyncio.Protocol):
    def __init__(self, bind: bytes, bound: asyncio.Future[bool]) -> None:
        self.bind = bind
        self.bound = bound
        self.buf = bytearray()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        transport.write(self.bind)  # type: ignore[attr-defined]

    def data_received(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        while len(buf) >= 16:
            length, cmd, status, seq = HEADER.unpack_from(buf)
            if len(buf) < length:
                break
            del buf[:length]
            if cmd == BIND_TRX_RESP and not self.bound.done():
                self.bound.set_result(status == 0)
            elif cmd in (ENQUIRE_LINK, UNBIND):
                assert self.transport is not None
                self.transport.write(HEADER.pack(16, cmd | 0x80000000, 0, seq))

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.bound.done():
            self.bound.set_result(False)


async def run(args: argparse.Namespace) -> None:
    loop = asyncio.get_running_loop()
    bind = bind_pdu(args.system_id, args.password)
    sem = asyncio.Semaphore(args.concurrency)
    ok = failed = 0

    async def one() -> None:
        nonlocal ok, failed
        async with sem:
            bound: asyncio.Future[bool] = loop.create_future()
            try:
                await loop.create_connection(lambda: Idle(bind, bound), args.host, args.port)
                result = await asyncio.wait_for(bound, 60)
            except (OSError, TimeoutError):
                result = False
            if result:
                ok += 1
            else:
                failed += 1

    await asyncio.gather(*(one() for _ in range(args.sessions)))
    print(f"BOUND {ok} {failed}", flush=True)
    stop = loop.create_future()
    loop.add_signal_handler(signal.SIGTERM, lambda: stop.done() or stop.set_result(None))
    loop.add_reader(sys.stdin.fileno(), lambda: stop.done() or stop.set_result(None))
    await stop


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--sessions", type=int, default=10_000)
    ap.add_argument("--concurrency", type=int, default=200)
    ap.add_argument("--system-id", default="test")
    ap.add_argument("--password", default="test")
    ap.add_argument("--uvloop", action="store_true")
    args = ap.parse_args()
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if args.uvloop:
        import uvloop

        uvloop.run(run(args))
    else:
        asyncio.run(run(args))


if __name__ == "__main__":
    main()
