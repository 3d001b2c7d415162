"""The yardstick's client (../shared/bench/yardstick.py, imported as it is) with several sessions
in one process: K of its ClientProto connections at once, N split over them, so a multi-session
cell is measured the way bench/ours_client.py --sessions measures ours: msg/s from the first
bind_resp to the end of the last session, p50/p99 over every session's samples. One process,
so the sessions overlap exactly (separate processes start too far apart for short runs).

    python bench/yardstick_multi.py --port P --n 20000 --w 100 --sessions 4 --mode dlr --uvloop
        [--system-id a,b,c,d --password pw]   # → RESULT {...}, the yardstick's keys
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
from types import ModuleType
from typing import Any

from _harness import YARDSTICK


def load_yardstick() -> ModuleType:
    spec = importlib.util.spec_from_file_location("yardstick", YARDSTICK)
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot load {YARDSTICK}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def connect(loop: asyncio.AbstractEventLoop, proto: Any, host: str, port: int) -> None:
    await loop.create_connection(lambda: proto, host, port)


async def run(args: argparse.Namespace, ys: ModuleType) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    per_session = max(1, args.n // args.sessions)
    system_ids = args.system_id.split(",")
    protos = []
    for i in range(args.sessions):
        proto = ys.ClientProto(per_session, args.w, args.mode == "dlr", loop.create_future())
        proto.system_id, proto.password = system_ids[i % len(system_ids)], args.password
        protos.append(proto)
    for proto in protos:
        await connect(loop, proto, args.host, args.port)
    await asyncio.wait_for(asyncio.gather(*(p.done for p in protos)), args.timeout)
    if any(p.t_end is None for p in protos):
        raise SystemExit(
            "incomplete run: " + ", ".join(f"resps={p.resps} dlrs={p.dlrs}" for p in protos)
        )
    t0 = min(p.t0 for p in protos)
    t_end = max(p.t_end for p in protos)
    cpu = max(p.cpu_end for p in protos) - min(p.cpu0 for p in protos)
    lat = [v for p in protos for v in p.lat]
    result: dict[str, Any] = ys.summarize(
        per_session * args.sessions,
        args.w,
        args.mode,
        t0,
        t_end,
        cpu,
        lat,
        sum(p.errors for p in protos),
        sum(p.dlrs for p in protos),
        {"sessions": args.sessions},
    )
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--n", type=int, default=20000)
    ap.add_argument("--w", type=int, default=10)
    ap.add_argument("--sessions", type=int, default=1)
    ap.add_argument("--mode", choices=["submit", "dlr"], default="submit")
    ap.add_argument("--system-id", default="esme", help="comma-separated: one per session")
    ap.add_argument("--password", default="pw")
    ap.add_argument("--timeout", type=float, default=300)
    ap.add_argument("--uvloop", action="store_true")
    args = ap.parse_args()
    ys = load_yardstick()
    if args.uvloop:
        import uvloop

        result = uvloop.run(run(args, ys))
    else:
        result = asyncio.run(run(args, ys))
    print("RESULT " + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
