"""Scale-out benchmark (issue 14): durable end-to-end msg/s with receipts through HAProxy, for one
node on SQLite (the embedded mode) and 1, 2 and 3 nodes on PostgreSQL + NATS, side by side in
one run, interleaved (`--repeat` rounds of every configuration).

Every configuration is a `LocalCluster` (src/opensmsc/cli/local_cluster.py, what `make cluster`
starts) on fresh data: a PostgreSQL schema and NATS names of its own, dropped afterwards. The
client is bench/ours_client.py in `--mode dlr`: S transceiver sessions, one account each, W
submit_sm in flight per session, every message asking for a receipt; the run ends when every
receipt is back. HAProxy spreads the sessions over the nodes (leastconn), so a receipt is made
on whichever node worked the message and reaches its account's session wherever it is bound.
Each session waits `--settle` seconds (3) between its bind and its first submit, untimed: a
node of a cluster starts sending a just-bound receiver's receipts after two membership beats
(cluster/wakeups.py), and what is measured is the steady state, not that start.

The nodes share this machine's two cores with PostgreSQL, NATS, HAProxy and the client, so
messages per CPU-second of every process of the system (nodes, HAProxy, PostgreSQL, NATS) are
reported beside msg/s: on two cores more nodes cannot add cores, only contention.

The bar: one node on PostgreSQL at least half the SQLite node's rate, and three nodes together
at least as fast as one.

    .venv/bin/python bench/cluster.py [--n 20000] [--sessions 6] [--w 100] [--repeat 3] [--quick]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _harness import PY, cpu_ns, fmt, free_port, median, run_client

# bench/http.py would stand in for the standard library's http (urllib imports it): this
# folder leaves the path once _harness is in.
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != Path(__file__).parent]

from opensmsc.cli.local_cluster import ClusterLayout, LocalCluster  # noqa: E402

HERE = Path(__file__).resolve().parent
PASSWORD = "bench"
PASSWORD_ENV = "OPENSMSC_BENCH_PASSWORD"
POSTGRES = "postgresql://127.0.0.1:5432/opensmsc_bench"
NATS = "nats://127.0.0.1:4222"


@dataclass
class Setup:
    label: str
    nodes: int
    clustered: bool
    runs: list[dict[str, Any]] = field(default_factory=list)

    def median(self, key: str) -> float:
        return median([r.get(key) for r in self.runs])


SETUPS = (
    Setup("SQLite, 1 node", 1, False),
    Setup("PostgreSQL, 1 node", 1, True),
    Setup("PostgreSQL, 2 nodes", 2, True),
    Setup("PostgreSQL, 3 nodes", 3, True),
)


def accounts(sessions: int) -> str:
    text = '[logging]\nlevel = "warning"\n\n[routing]\ndefault_route = "loopback"\n'
    for i in range(sessions):
        text += f"""
[[accounts]]
system_id = "bench{i}"
password_env = "{PASSWORD_ENV}"
window = 1000
max_binds = 16
"""
    return text


def system_pids(cluster: LocalCluster) -> list[int]:
    """Every process the system under test runs: the nodes, HAProxy, and, clustered, every
    PostgreSQL backend and the NATS server (found by name: they are not our children)."""
    pids = [proc.pid for proc in cluster.nodes.values()]
    if cluster.haproxy is not None:
        pids.append(cluster.haproxy.pid)
    if cluster.layout.clustered:
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                with contextlib.suppress(OSError):
                    name = Path(f"/proc/{entry}/comm").read_text().strip()
                    if name in ("postgres", "nats-server"):
                        pids.append(int(entry))
    return pids


def cpu_of(pids: list[int]) -> dict[int, int]:
    out = {}
    for pid in pids:
        with contextlib.suppress(OSError, ValueError):
            out[pid] = cpu_ns(pid)
    return out


def drop_names(name: str) -> None:
    """The run's PostgreSQL schema (its NATS names expire with their TTLs and limits)."""
    subprocess.run(
        ["psql", POSTGRES, "-qc", f'DROP SCHEMA IF EXISTS "{name}" CASCADE'],
        check=False,
        capture_output=True,
    )


def measure(setup: Setup, args: argparse.Namespace, run: int) -> dict[str, Any]:
    name = f"bench_{os.getpid()}_{run}_{setup.nodes}"
    with tempfile.TemporaryDirectory(prefix="opensmsc-cluster-bench-") as tmp:
        layout = ClusterLayout(
            folder=Path(tmp),
            nodes=setup.nodes,
            postgres=POSTGRES,
            nats=NATS,
            name=name,
            smpp_port=free_port(),
            tls_port=free_port(),
            api_port=free_port(),
            node_base=free_block(10 * (setup.nodes + 1)),
            extra_config=accounts(args.sessions),
            smpp_window=args.w,  # receipts in flight per session, as bench/store.py sets it
            clustered=setup.clustered,
        )
        cluster = LocalCluster(layout)
        cluster.start()
        try:
            pids = system_pids(cluster)
            before = cpu_of(pids)
            argv = [
                PY,
                str(HERE / "ours_client.py"),
                *("--port", str(layout.smpp_port), "--n", str(args.n), "--w", str(args.w)),
                *("--sessions", str(args.sessions), "--mode", "dlr", "--uvloop"),
                *("--timeout", "600", "--password", PASSWORD, "--settle", str(args.settle)),
                *("--system-id", ",".join(f"bench{i}" for i in range(args.sessions))),
            ]
            started = time.perf_counter()
            result = run_client(argv, 900.0)
            result["wall_total_s"] = time.perf_counter() - started
            after = cpu_of(pids)
        finally:
            cluster.stop()
            if setup.clustered:
                drop_names(name)
    cpu_s = sum(after[pid] - before.get(pid, 0) for pid in after) / 1e9
    result["cpu_s"] = cpu_s
    result["msg_per_cpu_s"] = result["n"] / cpu_s if cpu_s else float("nan")
    return result


def free_block(count: int) -> int:
    """The first of `count` consecutive ports that nothing listens on now (the nodes' ports are
    fixed offsets from one base, as `make cluster` lays them out)."""
    for _ in range(200):
        base = random.randrange(20_000, 60_000 - count, 10)
        if all(_free(port) for port in range(base, base + count)):
            return base
    raise RuntimeError(f"no block of {count} free ports")


def _free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def table(setups: list[Setup]) -> str:
    base = setups[0].median("msg_per_s") if setups and setups[0].runs else float("nan")
    head = (
        f"{'system':<22}{'accepted/s':>12}{'e2e msg/s':>11}{'min':>8}{'max':>8}{'p99 ms':>8}"
        f"{'rcpt p99':>10}{'CPU s':>8}{'msg/CPU-s':>11}{'vs SQLite':>11}"
    )
    rows = [head, "-" * len(head)]
    for s in setups:
        if not s.runs:
            rows.append(f"{s.label:<22}  (no run finished)")
            continue
        rates = [r["msg_per_s"] for r in s.runs]
        rows.append(
            f"{s.label:<22}{fmt(s.median('accepted_per_s'), ',.0f'):>12}"
            f"{fmt(s.median('msg_per_s'), ',.0f'):>11}{fmt(min(rates), ',.0f'):>8}"
            f"{fmt(max(rates), ',.0f'):>8}{fmt(s.median('p99_ms'), '.1f'):>8}"
            f"{fmt(s.median('p99_receipt_ms'), '.1f'):>10}{fmt(s.median('cpu_s'), '.1f'):>8}"
            f"{fmt(s.median('msg_per_cpu_s'), ',.0f'):>11}"
            f"{fmt(s.median('msg_per_s') / base, '.2f'):>11}"
        )
    return "\n".join(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--n", type=int, default=20_000, help="messages per run (default 20000)")
    ap.add_argument("--sessions", type=int, default=6, help="client sessions (default 6)")
    ap.add_argument("--w", type=int, default=100, help="submit_sm in flight per session")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument(
        "--settle",
        type=float,
        default=3.0,
        help="seconds from bind to the first submit, untimed (default 3: a cluster sends a\n"
        "just-bound receiver's receipts after two 1 s membership beats; steady state is\n"
        "what is measured)",
    )
    ap.add_argument("--quick", action="store_true", help="N=5000, 1 round")
    ap.add_argument("--only", help="comma-separated node counts on PostgreSQL, plus 'sqlite'")
    args = ap.parse_args()
    if args.quick:
        args.n, args.repeat = 5_000, 1
    os.environ[PASSWORD_ENV] = PASSWORD
    setups = list(SETUPS)
    if args.only:
        wanted = set(args.only.split(","))
        setups = [
            s for s in setups if (not s.clustered and "sqlite" in wanted) or str(s.nodes) in wanted
        ]
    started = time.perf_counter()
    for run in range(args.repeat):
        for setup in setups:  # interleaved: a noisy minute hits every configuration alike
            try:
                result = measure(setup, args, run)
            except Exception as exc:
                print(f"  {setup.label}: {exc}", file=sys.stderr, flush=True)
                continue
            setup.runs.append(result)
            print(
                f"  round {run + 1} {setup.label}: {result['msg_per_s']:,.0f} msg/s, "
                f"{result['msg_per_cpu_s']:,.0f} msg/CPU-s",
                file=sys.stderr,
                flush=True,
            )
    print(
        f"\nsubmit_sm with receipts through HAProxy, N={args.n} per run over {args.sessions} "
        f"sessions, window {args.w}, median of {args.repeat} (min, max of e2e msg/s); CPU: every "
        "process of the system (nodes, HAProxy, PostgreSQL, NATS)"
    )
    print(table(setups))
    by = {s.label: s.median("msg_per_s") for s in setups if s.runs}
    sqlite, pg1, pg3 = (
        by.get("SQLite, 1 node"),
        by.get("PostgreSQL, 1 node"),
        by.get("PostgreSQL, 3 nodes"),
    )
    if sqlite and pg1:
        print(f"PostgreSQL 1 node / SQLite: {pg1 / sqlite:.2f} (bar ≥ 0.50)")
    if pg1 and pg3:
        print(f"3 nodes / 1 node on PostgreSQL: {pg3 / pg1:.2f} (bar ≥ 1.00)")
    print(f"run took {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
