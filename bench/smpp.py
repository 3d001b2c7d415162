"""SMPP benchmark: submit_sm/s and submit-to-response latency at windows 1, 10 and 100.

Every cell runs the server and the client in processes of their own on 127.0.0.1 (ephemeral
ports), a fresh server per cell:

- ours      → ours: bench/ours_client.py (our Connection + SmppProtocol as the ESME)
- yardstick → ours: ../shared/bench/yardstick.py client against our SMSC
- smpplib   → ours, node-smpp → ours, smpp34 → ours: bench/peers/*
- yardstick → yardstick: the ceiling (../shared/bench/README.md)

CPU per message: the server's from /proc/<pid>/task/*/schedstat (ns) read before the client
starts and after it exits (binds included; argon2 is run once at server start, outside);
the client's as each driver reports it for its timed span (bind_resp to last submit_sm_resp).
Each cell is repeated and the medians are reported; ratios are against the yardstick of the
same run. Then the RSS of our SMSC holding idle bound sessions.

    .venv/bin/python bench/smpp.py [--n 20000] [--repeat 3] [--quick] [--json]
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from _harness import (
    HERE,
    PY,
    SHARED,
    YARDSTICK,
    cpu_ns,
    fmt,
    free_port,
    run_client,
    stop_process,
    vm_rss_kib,
)

NODE_MODULES = SHARED / "peers" / "node" / "node_modules"
WINDOWS = (1, 10, 100)


@dataclass
class Client:
    name: str
    server: str  # "ours" or "yardstick"
    argv: list[str]  # --port/--n/--w are appended
    n_scale: float = 1.0  # slow peers run fewer messages to keep the run short


@dataclass
class Cell:
    client: str
    server: str
    w: int
    runs: list[dict[str, Any]] = field(default_factory=list)

    def median(self, key: str) -> float:
        values = [r[key] for r in self.runs if r.get(key) is not None]
        return statistics.median(values) if values else float("nan")


def clients(available: set[str]) -> list[Client]:
    out = [
        Client("opensmsc", "ours", [PY, str(HERE / "ours_client.py"), "--uvloop"]),
        Client(
            "yardstick",
            "ours",
            [PY, str(YARDSTICK), "client", "--uvloop", "--system-id", "test", "--password", "test"],
        ),
        Client("smpplib", "ours", [PY, str(HERE / "peers" / "smpplib_bench.py")], 0.5),
        Client("smpp34", "ours", [PY, str(HERE / "peers" / "smpp34_bench.py"), "--uvloop"], 0.5),
    ]
    if "node" in available:
        out.append(Client("node-smpp", "ours", ["node", str(HERE / "peers" / "node_bench.js")]))
    out.append(Client("yardstick", "yardstick", [PY, str(YARDSTICK), "client", "--uvloop"]))
    return out


# ---- processes ----------------------------------------------------------------------------------


class Server:
    def __init__(self, kind: str) -> None:
        self.kind = kind
        if kind == "ours":
            argv = [PY, str(HERE / "smsc_server.py"), "--uvloop"]
        else:
            argv = [PY, str(YARDSTICK), "server", "--uvloop", "--port", str(free_port())]
        self.proc = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().split()
        if not line or line[0] != "READY":
            self.stop()
            raise RuntimeError(f"{kind} server did not start")
        self.port = int(line[1]) if len(line) > 1 else int(argv[-1])
        self.pid = self.proc.pid

    def stop(self) -> None:
        stop_process(self.proc)


def measure(client: Client, n: int, w: int, timeout: float) -> dict[str, Any]:
    server = Server(client.server)
    try:
        before = cpu_ns(server.pid)
        argv = [*client.argv, "--port", str(server.port), "--n", str(n), "--w", str(w)]
        result = run_client(argv, timeout)
        after = cpu_ns(server.pid)
    finally:
        server.stop()
    result["server_us_per_msg"] = (after - before) / 1e3 / n
    result["client_us_per_msg"] = result["client_cpu_s"] * 1e6 / n
    return result


def idle_sessions(count: int, timeout: float) -> dict[str, Any]:
    server = Server("ours")
    try:
        time.sleep(0.2)
        baseline = vm_rss_kib(server.pid)
        started = time.perf_counter()
        holder = subprocess.Popen(
            [PY, str(HERE / "idle_sessions.py"), "--uvloop", "--port", str(server.port),
             "--sessions", str(count)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            assert holder.stdout is not None
            line = holder.stdout.readline().split()
            bind_s = time.perf_counter() - started
            if not line or line[0] != "BOUND":
                raise RuntimeError("idle session holder failed")
            bound, failed = int(line[1]), int(line[2])
            time.sleep(1.0)  # let the server settle (bind tasks, logs)
            rss = vm_rss_kib(server.pid)
        finally:
            holder.terminate()
            holder.wait(timeout)
    finally:
        server.stop()
    return {
        "sessions": bound,
        "failed": failed,
        "bind_all_s": bind_s,
        "rss_baseline_mib": baseline / 1024,
        "rss_mib": rss / 1024,
        "kib_per_session": (rss - baseline) / max(1, bound),
    }


# ---- the run ------------------------------------------------------------------------------------


def table(cells: list[Cell]) -> str:
    ceiling = {c.w: c.median("msg_per_s") for c in cells if c.server == "yardstick"}
    head = (
        f"{'client → server':<26}{'W':>4}{'msg/s':>10}{'p50 ms':>9}{'p99 ms':>9}"
        f"{'srv µs/msg':>12}{'cli µs/msg':>12}{'vs ceiling':>12}"
    )
    rows = [head, "-" * len(head)]
    for c in cells:
        rate = c.median("msg_per_s")
        ratio = rate / ceiling[c.w] if ceiling.get(c.w) else float("nan")
        rows.append(
            f"{c.client + ' → ' + c.server:<26}{c.w:>4}{fmt(rate, ',.0f'):>10}"
            f"{fmt(c.median('p50_ms'), '.3f'):>9}{fmt(c.median('p99_ms'), '.3f'):>9}"
            f"{fmt(c.median('server_us_per_msg'), '.1f'):>12}"
            f"{fmt(c.median('client_us_per_msg'), '.1f'):>12}{fmt(ratio, '.2f'):>12}"
        )
    return "\n".join(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--n", type=int, default=20_000, help="submit_sm per cell (default 20000)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--sessions", type=int, default=10_000, help="idle sessions for the RSS test")
    ap.add_argument("--quick", action="store_true", help="~1 minute: N=5000, 1 run, 2000 idle")
    ap.add_argument("--only", help="comma-separated client names (e.g. opensmsc,yardstick)")
    ap.add_argument("--json", action="store_true", help="print every result as JSON at the end")
    args = ap.parse_args()
    if args.quick:
        args.n, args.repeat, args.sessions = 5_000, 1, 2_000
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    available = {"node"} if shutil.which("node") and (NODE_MODULES / "smpp").is_dir() else set()
    chosen = clients(available)
    if args.only:
        wanted = set(args.only.split(","))
        chosen = [c for c in chosen if c.name in wanted or c.server == "yardstick"]
    cells = [Cell(c.name, c.server, w) for c in chosen for w in WINDOWS]
    by_key = {(c.client, c.server, c.w): c for c in cells}
    started = time.perf_counter()
    for rep in range(args.repeat):
        # Interleaved, so that a noisy minute on the shared machine hits every client alike.
        for w in WINDOWS:
            for client in chosen:
                n = max(1000, int(args.n * client.n_scale))
                cell = by_key[(client.name, client.server, w)]
                try:
                    result = measure(client, n, w, timeout=300)
                except Exception as exc:
                    print(f"  {client.name} → {client.server} W={w}: {exc}", file=sys.stderr)
                    continue
                cell.runs.append(result)
                print(
                    f"  run {rep + 1} {client.name} → {client.server} W={w}: "
                    f"{result['msg_per_s']:,.0f} msg/s",
                    file=sys.stderr,
                    flush=True,
                )
    idle = None
    if args.sessions:
        try:
            idle = idle_sessions(args.sessions, timeout=120)
        except Exception as exc:
            print(f"  idle sessions: {exc}", file=sys.stderr)
    elapsed = time.perf_counter() - started

    print(f"\nsubmit_sm, N={args.n} per cell (smpplib, smpp34: N/2), median of {args.repeat}")
    print(table(cells))
    if idle:
        print(
            f"\n{idle['sessions']} idle bound sessions ({idle['failed']} failed, bound in "
            f"{idle['bind_all_s']:.1f} s): SMSC VmRSS {idle['rss_mib']:.0f} MiB "
            f"(baseline {idle['rss_baseline_mib']:.0f} MiB, "
            f"{idle['kib_per_session']:.1f} KiB per session)"
        )
    print(f"\nrun took {elapsed:.0f} s")
    if args.json:
        print(
            json.dumps(
                {
                    "cells": [
                        {"client": c.client, "server": c.server, "w": c.w, "runs": c.runs}
                        for c in cells
                    ],
                    "idle_sessions": idle,
                }
            )
        )


if __name__ == "__main__":
    main()
