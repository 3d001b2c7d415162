"""Bench driver: smpp34 (Rust core, asyncio API) as the ESME. Binds trx with window W, keeps W
submit_sm outstanding (W tasks), prints one JSON line like the other drivers.

    python bench/peers/smpp34_bench.py --port P --n 20000 --w 10 [--uvloop]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time

import smpp34


async def run(args: argparse.Namespace) -> dict[str, object]:
    client = smpp34.Client(
        args.host, args.port, args.system_id, args.password, window_size=max(args.w, 1)
    )
    smsc = await client.connect()
    n = args.n
    lat: list[float] = []
    errors = 0
    remaining = [n]
    perf = time.perf_counter

    async def worker() -> None:
        nonlocal errors
        while remaining[0] > 0:
            remaining[0] -= 1
            t = perf()
            resp = await smsc.submit_sm(
                "31600000000",
                b"hello world 12345678",
                source_addr="12345",
                source_addr_ton=1,
                source_addr_npi=1,
                dest_addr_ton=1,
                dest_addr_npi=1,
            )
            lat.append(perf() - t)
            if resp.command_status:
                errors += 1

    t0, c0 = perf(), time.process_time()
    await asyncio.gather(*(worker() for _ in range(min(args.w, n))))
    t1, c1 = perf(), time.process_time()
    await smsc.unbind()
    await client.stop()
    lat.sort()
    return {
        "peer": "smpp34",
        "n": n,
        "w": args.w,
        "msg_per_s": n / (t1 - t0),
        "p50_ms": lat[len(lat) // 2] * 1e3,
        "p99_ms": lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1e3,
        "client_cpu_s": c1 - c0,
        "errors": errors,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--n", type=int, default=20000)
    ap.add_argument("--w", type=int, default=10)
    ap.add_argument("--system-id", default="test")
    ap.add_argument("--password", default="test")
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
