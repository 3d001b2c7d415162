"""Bench driver: smpplib 2.2.4 (synchronous) as the ESME. Binds trx, keeps W submit_sm
outstanding, prints one JSON line: msg/s, p50/p99 submit-to-response latency, client CPU.

    python bench/peers/smpplib_bench.py --port P --n 20000 --w 10
"""

from __future__ import annotations

import argparse
import json
import logging
import socket
import time

import smpplib.client
import smpplib.consts


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--n", type=int, default=20000)
    ap.add_argument("--w", type=int, default=10)
    ap.add_argument("--system-id", default="test")
    ap.add_argument("--password", default="test")
    args = ap.parse_args()
    logging.disable(logging.CRITICAL)

    client = smpplib.client.Client(args.host, args.port, timeout=30, allow_unknown_opt_params=True)
    client.connect()
    client._socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    client.bind_transceiver(system_id=args.system_id, password=args.password)

    n, w = args.n, args.w
    sent_at: dict[int, float] = {}
    lat: list[float] = []
    state = {"sent": 0, "errors": 0}
    perf = time.perf_counter

    def submit() -> None:
        pdu = client.send_message(
            source_addr_ton=1,
            source_addr_npi=1,
            source_addr="12345",
            dest_addr_ton=1,
            dest_addr_npi=1,
            destination_addr="31600000000",
            short_message=b"hello world 12345678",
            data_coding=0,
        )
        sent_at[pdu.sequence] = perf()
        state["sent"] += 1

    def on_sent(pdu: object, **_: object) -> None:
        lat.append(perf() - sent_at.pop(pdu.sequence))  # type: ignore[attr-defined]
        if pdu.status:  # type: ignore[attr-defined]
            state["errors"] += 1
        if state["sent"] < n:
            submit()

    def on_error(pdu: object) -> None:
        state["errors"] += 1
        if pdu.command == "submit_sm_resp":  # type: ignore[attr-defined]
            on_sent(pdu)

    client.set_message_sent_handler(on_sent)
    client.set_error_pdu_handler(on_error)
    t0, c0 = perf(), time.process_time()
    for _ in range(min(w, n)):
        submit()
    while len(lat) < n:
        client.read_once()
    t1, c1 = perf(), time.process_time()
    client.unbind()
    client.disconnect()
    lat.sort()
    print(
        json.dumps(
            {
                "peer": "smpplib",
                "n": n,
                "w": w,
                "msg_per_s": n / (t1 - t0),
                "p50_ms": lat[len(lat) // 2] * 1e3,
                "p99_ms": lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1e3,
                "client_cpu_s": c1 - c0,
                "errors": state["errors"],
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
