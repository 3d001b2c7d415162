"""Bench driver: our own ESME stack (sans-IO `Connection` in the ESME role, driven by
`SmppProtocol`, connected by `transport.client.connect`). Binds trx, keeps W submit_sm
outstanding, prints one JSON line: msg/s, p50/p99 submit-to-response latency, client CPU.

    python bench/ours_client.py --port P --n 20000 --w 10 [--uvloop]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from opensmsc.smpp.connection import SessionConfig
from opensmsc.smpp.events import (
    ConnectionTerminated,
    DeliverReceived,
    Event,
    ResponseReceived,
)
from opensmsc.smpp.pdu import BindTransceiver, DeliverSmResp, SubmitSm
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
    """The SessionHandler: bind, then keep `w` submits outstanding until `n` are answered."""

    def __init__(self, protocol: SmppProtocol, n: int, w: int, done: asyncio.Future[None]) -> None:
        self.protocol = protocol
        self.n, self.w, self.done = n, w, done
        self.sent = 0
        self.errors = 0
        self.sent_at: dict[int, float] = {}
        self.lat: list[float] = []
        self.bind_seq = -1
        self.t0 = self.t1 = self.c0 = self.c1 = 0.0

    def _submit(self) -> None:
        self.sent += 1
        seq = self.protocol.send_request(MESSAGE)
        self.sent_at[seq] = time.perf_counter()

    def on_events(self, events: list[Event]) -> None:
        perf = time.perf_counter
        for event in events:
            if type(event) is ResponseReceived:
                seq = event.sequence_number
                if seq == self.bind_seq:
                    if event.response.command_status:
                        self.done.set_exception(RuntimeError("bind refused"))
                        return
                    self.t0, self.c0 = perf(), time.process_time()
                    for _ in range(min(self.w, self.n)):
                        self._submit()
                    continue
                self.lat.append(perf() - self.sent_at.pop(seq))
                if event.response.command_status:
                    self.errors += 1
                if self.sent < self.n:
                    self._submit()
                elif len(self.lat) == self.n and not self.done.done():
                    self.t1, self.c1 = perf(), time.process_time()
                    self.done.set_result(None)
            elif type(event) is DeliverReceived:
                self.protocol.respond(event, DeliverSmResp())
            elif type(event) is ConnectionTerminated and not self.done.done():
                self.done.set_exception(RuntimeError(f"session ended: {event.reason}"))

    def on_connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.done.set_exception(RuntimeError(f"connection lost: {exc}"))


async def run(args: argparse.Namespace) -> dict[str, object]:
    loop = asyncio.get_running_loop()
    done: asyncio.Future[None] = loop.create_future()
    config = SessionConfig(
        role=Role.ESME, window=max(args.w, 1), interface_version=0x34, enquire_link_interval=None
    )
    drivers: list[Driver] = []

    def factory(protocol: SmppProtocol) -> Driver:
        drivers.append(Driver(protocol, args.n, args.w, done))
        return drivers[0]

    protocol = await connect(
        args.host, args.port, session_config=config, handler_factory=factory, session_id="bench"
    )
    driver = drivers[0]
    driver.bind_seq = protocol.send_request(
        BindTransceiver(system_id=args.system_id, password=args.password, interface_version=0x34)
    )
    await asyncio.wait_for(done, args.timeout)
    protocol.unbind()
    await asyncio.sleep(0)
    protocol.close()
    lat = sorted(driver.lat)
    return {
        "peer": "opensmsc",
        "n": args.n,
        "w": args.w,
        "msg_per_s": args.n / (driver.t1 - driver.t0),
        "p50_ms": lat[len(lat) // 2] * 1e3,
        "p99_ms": lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1e3,
        "client_cpu_s": driver.c1 - driver.c0,
        "errors": driver.errors,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--n", type=int, default=20000)
    ap.add_argument("--w", type=int, default=10)
    ap.add_argument("--system-id", default="test")
    ap.add_argument("--password", default="test")
    ap.add_argument("--timeout", type=float, default=120)
    ap.add_argument("--uvloop", action="store_true")
    args = ap.parse_args()
    if args.uvloop:
        import uvloop

        result = uvloop.run(run(args))
    else:
        result = asyncio.run(run(args))
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
