"""Durable end-to-end throughput (issue #5): a client submits with registered_delivery=1, the
SMSC stores each message (submit_sm_resp only after the commit), delivers it through the
loopback route and sends the receipt back to the client; with 1 and 4 sessions at windows 10
and 100.

Per cell, a fresh SMSC (`opensmsc run --config FILE`, a fresh data folder, its defaults but
`smpp.server.window`, uvloop) in its own process, and one client process running the cell's
sessions at once (N split over them, each session on an account of its own, since a receipt
goes to any bound session of the submitting account):

- opensmsc  → opensmsc: bench/ours_client.py --mode dlr --sessions S: msg/s to the last
  receipt (e2e), msg/s to the last submit_sm_resp (durably accepted), p50/p99 submit-to-response
  and submit-to-receipt latency over every sample, bytes on disk per message (the data folder's
  database + WAL right after the run / N), the SMSC's CPU per message (/proc schedstat);
- yardstick → opensmsc: the yardstick's client (bench/yardstick_multi.py: its ClientProto,
  S sessions in one process) in receipt mode against our SMSC, a cross-check that our client
  is not what limits (skipped with --quick);
- yardstick → yardstick: the same client against the yardstick's server in receipt mode
  (`--mode dlr`), the ceiling, measured in the same run.

Cells run interleaved and repeated; medians are reported. The bar (issue #5): at least 10,000
durably accepted msg/s with receipts flowing.

With `--policy`, the node routes by a policy file (`[routing] policy_file`, POLICY below: a
few rules, one matching every message, routing to the loopback): what the policy engine on the
message path costs (issue 11: at most 10% less than without). `--only-ours` skips the
yardstick cells.

With `--postgres DSN`, our node keeps its store in PostgreSQL (`[cluster] postgres`, a fresh
schema per cell, dropped after it) instead of SQLite: bytes per message are then the schema's
tables and indexes, and "pg µs/msg" adds the CPU of the PostgreSQL server's processes (the
node's share of the work moved there). Such a node is a `[cluster]` node: it joins the bus too
(NATS on 127.0.0.1:4222, a cluster of one).

    .venv/bin/python bench/store.py [--n 20000] [--repeat 3] [--quick] [--policy] [--json]
        [--postgres postgresql://127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import secrets
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _harness import (
    HERE,
    PY,
    OpensmscProcess,
    bind_probe,
    check_config,
    cpu_ns,
    fmt,
    free_port,
    median,
    run_client,
    start_yardstick,
    stop_process,
)

SESSIONS = (1, 4)
WINDOWS = (10, 100)
# One account per session: receipts go to any bound session of the submitting account, so
# sessions of one account would get each other's receipts and no client could tell its end.
SYSTEM_IDS = tuple(f"test{i}" for i in range(max(SESSIONS)))
PASSWORD = "test"
PASSWORD_ENV = "OPENSMSC_BENCH_PASSWORD"
DB_FILES = ("messages.sqlite3", "messages.sqlite3-wal")  # store/sqlite.py DB_FILENAME (+ WAL)
BAR = 10_000
POLICY = """\
[[rule]]
name = "blocked"
prefix = ["4479"]
reject = "ESME_RX_R_APPN"
[[rule]]
name = "uk"
prefix = ["44"]
routes = ["loopback"]
[[rule]]
name = "everything"
routes = ["loopback"]
"""


@dataclass
class Cell:
    client: str  # "opensmsc" or "yardstick"
    server: str  # "opensmsc" or "yardstick"
    sessions: int
    w: int
    runs: list[dict[str, Any]] = field(default_factory=list)

    def median(self, key: str) -> float:
        return median([r.get(key) for r in self.runs])


def smsc_config(
    data_dir: Path,
    port: int,
    deliver_window: int,
    policy: bool = False,
    postgres: tuple[str, str] | None = None,
) -> str:
    """The cell's node; `postgres` (DSN, schema): its store there, not in SQLite."""
    cluster = ""
    if postgres is not None:
        dsn, schema = postgres
        cluster = f'[cluster]\nnode_id = "bench"\nname = "{schema}"\npostgres = "{dsn}"\n\n'
    text = f"""\
{cluster}[node]
data_dir = "{data_dir}"

[logging]
level = "warning"

[policyd]
enabled = false

[smpp.server]
bind_address = "127.0.0.1"
port = {port}
tls_enabled = false
window = {deliver_window}

"""
    for system_id in SYSTEM_IDS:
        text += f"""
[[accounts]]
system_id = "{system_id}"
password_env = "{PASSWORD_ENV}"
window = 1000
max_binds = 16
"""
    # The issue's benchmark is defined through the loopback route; the built-in default route
    # is the simulated mobile network, so it is named here, always.
    text += '\n[routing]\ndefault_route = "loopback"\n'
    if policy:
        (data_dir.parent / "policy.toml").write_text(POLICY)
        text += f'policy_file = "{data_dir.parent / "policy.toml"}"\n'
    return text


def check_bench_config(workdir: Path, postgres: str | None = None) -> None:
    """Refuse to run when this build does not accept the cell's configuration (a silent
    fallback would measure another route, or another store)."""
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / "probe.toml"
    pg = None if postgres is None else (postgres, "probe")
    path.write_text(smsc_config(workdir / "data", 2775, 10, postgres=pg))
    errors = check_config(path)
    if errors:
        raise SystemExit(f"bench configuration refused: {errors}")


def disk_bytes(data_dir: Path) -> int:
    return sum((data_dir / name).stat().st_size for name in DB_FILES if (data_dir / name).exists())


def postgres_cpu_ns() -> dict[int, int]:
    """CPU time of every process of the PostgreSQL server (its backends: the node's
    connections), by pid."""
    out: dict[int, int] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/comm") as f:
                if f.read().strip() != "postgres":
                    continue
            out[int(name)] = cpu_ns(int(name))
        except OSError:
            continue
    return out


async def _pg(dsn: str, schema: str, drop: bool) -> int:
    import asyncpg

    conn = await asyncpg.connect(dsn)
    try:
        size = await conn.fetchval(
            "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c"
            " JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1"
            " AND c.relkind IN ('r', 'm')",
            schema,
        )
        if drop:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        return int(size)
    finally:
        await conn.close()


def client_argv(client: str, port: int, n: int, w: int, sessions: int) -> list[str]:
    """One client process for the cell: `sessions` sessions at once, each on its own account."""
    script = HERE / ("ours_client.py" if client == "opensmsc" else "yardstick_multi.py")
    return [
        PY,
        str(script),
        *("--port", str(port), "--n", str(n), "--w", str(w), "--sessions", str(sessions)),
        *("--mode", "dlr", "--uvloop", "--timeout", "240"),
        *("--system-id", ",".join(SYSTEM_IDS[:sessions]), "--password", PASSWORD),
    ]


def measure(
    cell: Cell,
    n: int,
    workroot: Path,
    deliver_window: int,
    policy: bool = False,
    *,
    postgres: str | None = None,
) -> dict[str, Any]:
    timeout = 300.0
    if cell.server == "yardstick":
        port = free_port()
        server = start_yardstick(port, "dlr")
        try:
            return run_client(client_argv(cell.client, port, n, cell.w, cell.sessions), timeout)
        finally:
            stop_process(server)

    with tempfile.TemporaryDirectory(prefix="opensmsc-store-bench-", dir=workroot) as tmp:
        data_dir = Path(tmp) / "data"
        port = free_port()
        pg = None if postgres is None else (postgres, f"bench_{secrets.token_hex(6)}")
        smsc = OpensmscProcess(
            workdir=Path(tmp),
            config_text=smsc_config(data_dir, port, deliver_window, policy, pg),
            port=port,
            system_id=SYSTEM_IDS[0],
            password=PASSWORD,
            env={PASSWORD_ENV: PASSWORD},
        )
        smsc.start()
        try:
            for system_id in SYSTEM_IDS[1 : cell.sessions]:  # argon2 once each, before timing
                if not bind_probe(port, system_id, PASSWORD):
                    raise RuntimeError(f"bind {system_id} refused")
            before, pg_before = cpu_ns(smsc.pid), postgres_cpu_ns()
            result = run_client(client_argv(cell.client, port, n, cell.w, cell.sessions), timeout)
            after, pg_after = cpu_ns(smsc.pid), postgres_cpu_ns()
            on_disk = disk_bytes(data_dir) if pg is None else asyncio.run(_pg(*pg, drop=False))
        finally:
            smsc.stop()
            if pg is not None:
                asyncio.run(_pg(*pg, drop=True))
    result["server_us_per_msg"] = (after - before) / 1e3 / result["n"]
    result["bytes_per_msg"] = on_disk / result["n"]
    if pg is not None:
        pg_ns = sum(ns - pg_before.get(pid, 0) for pid, ns in pg_after.items())
        result["pg_us_per_msg"] = pg_ns / 1e3 / result["n"]
    return result


# ---- the run --------------------------------------------------------------------------------


def table(cells: list[Cell]) -> str:
    ceiling = {(c.sessions, c.w): c.median("msg_per_s") for c in cells if c.server == "yardstick"}
    head = (
        f"{'client → server':<24}{'S':>3}{'W':>5}{'accepted/s':>12}{'e2e msg/s':>11}"
        f"{'resp p50':>10}{'p99':>8}{'rcpt p50':>10}{'p99':>8}{'B/msg':>8}{'srv µs/msg':>11}"
        f"{'vs ceiling':>11}{'pg µs/msg':>10}"
    )
    rows = [head, "-" * len(head)]
    for c in cells:
        rate = c.median("msg_per_s")
        top = ceiling.get((c.sessions, c.w))
        ratio = rate / top if top else float("nan")
        rows.append(
            f"{c.client + ' → ' + c.server:<24}{c.sessions:>3}{c.w:>5}"
            f"{fmt(c.median('accepted_per_s'), ',.0f'):>12}{fmt(rate, ',.0f'):>11}"
            f"{fmt(c.median('p50_ms'), '.2f'):>10}{fmt(c.median('p99_ms'), '.2f'):>8}"
            f"{fmt(c.median('p50_receipt_ms'), '.2f'):>10}"
            f"{fmt(c.median('p99_receipt_ms'), '.2f'):>8}"
            f"{fmt(c.median('bytes_per_msg'), ',.0f'):>8}"
            f"{fmt(c.median('server_us_per_msg'), '.1f'):>11}{fmt(ratio, '.2f'):>11}"
            f"{fmt(c.median('pg_us_per_msg'), '.1f'):>10}"
        )
    return "\n".join(rows)


def policy_ab(cells: list[Cell], args: argparse.Namespace, workroot: Path) -> None:
    """Runs without and with the policy file in pairs, the order swapped every pair (a machine
    that gets busier or quieter during the run favours neither), and the ratio of each pair:
    on a shared machine one pair's two runs see more alike conditions than two medians do."""
    ours = [c for c in cells if c.client == "opensmsc" and c.server == "opensmsc"]
    if len(ours) != 1:
        raise SystemExit("--policy-ab measures one cell: add --cell S:W (4:100)")
    cell = ours[0]
    plain = Cell(cell.client, cell.server, cell.sessions, cell.w)
    ruled = Cell(cell.client, cell.server, cell.sessions, cell.w)
    ratios: list[float] = []
    for rep in range(args.repeat):
        order = (False, True) if rep % 2 == 0 else (True, False)
        pair: dict[bool, dict[str, Any]] = {}
        for policy in order:
            pair[policy] = measure(cell, args.n, workroot, args.deliver_window, policy)
            (ruled if policy else plain).runs.append(pair[policy])
        ratios.append(pair[True]["accepted_per_s"] / pair[False]["accepted_per_s"])
        print(
            f"  pair {rep + 1}: prefix {pair[False]['accepted_per_s']:,.0f} accepted/s "
            f"{pair[False]['server_us_per_msg']:.0f} µs/msg, policy "
            f"{pair[True]['accepted_per_s']:,.0f} accepted/s "
            f"{pair[True]['server_us_per_msg']:.0f} µs/msg, ratio {ratios[-1]:.3f}",
            file=sys.stderr,
            flush=True,
        )
    for name, c in (("prefix routing", plain), ("policy file", ruled)):
        print(
            f"{name:<15} accepted {c.median('accepted_per_s'):>8,.0f}/s (min "
            f"{min(r['accepted_per_s'] for r in c.runs):,.0f}, max "
            f"{max(r['accepted_per_s'] for r in c.runs):,.0f}), e2e "
            f"{c.median('msg_per_s'):,.0f}/s, server {c.median('server_us_per_msg'):.0f} µs/msg"
        )
    ratio = median(ratios)
    print(
        f"policy / prefix, median of {len(ratios)} pairs: {ratio:.3f} "
        f"(bar: ≥ 0.90, {'met' if ratio >= 0.9 else 'NOT met'})"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--n", type=int, default=20_000, help="messages per cell (default 20000)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="N=5000, 1 run, no yardstick → ours")
    ap.add_argument(
        "--deliver-window",
        type=int,
        default=100,
        help="smpp.server.window: receipts in flight per session (default 100)",
    )
    ap.add_argument("--dir", help="where the data folders go (default: the system temp folder)")
    ap.add_argument("--json", action="store_true", help="print every result as JSON at the end")
    ap.add_argument("--policy", action="store_true", help="route by a policy file (POLICY)")
    ap.add_argument(
        "--policy-ab",
        action="store_true",
        help="the issue 11 bar: ours at one --cell without and with the policy file, in\n"
        "alternating pairs (--repeat of them), and the median ratio of the pairs",
    )
    ap.add_argument("--only-ours", action="store_true", help="no yardstick cells")
    ap.add_argument("--cell", help="only this cell, as SESSIONS:WINDOW (4:100)")
    ap.add_argument("--postgres", metavar="DSN", help="our node's store in PostgreSQL at DSN")
    args = ap.parse_args()
    if args.quick:
        args.n, args.repeat = 5_000, 1
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    workroot = Path(args.dir or tempfile.gettempdir())
    with tempfile.TemporaryDirectory(prefix="opensmsc-store-probe-", dir=workroot) as tmp:
        check_bench_config(Path(tmp), args.postgres)

    pairs = [("opensmsc", "opensmsc")]
    if not args.quick and not args.only_ours:
        pairs.append(("yardstick", "opensmsc"))
    if not args.only_ours:
        pairs.append(("yardstick", "yardstick"))
    cells = [Cell(c, s, k, w) for k in SESSIONS for w in WINDOWS for c, s in pairs]
    if args.cell:
        cells = [c for c in cells if f"{c.sessions}:{c.w}" == args.cell]
    if args.policy_ab:
        policy_ab(cells, args, workroot)
        return
    started = time.perf_counter()
    for rep in range(args.repeat):
        # Interleaved, so that a noisy minute on the shared machine hits every cell alike.
        for cell in cells:
            try:
                result = measure(
                    cell, args.n, workroot, args.deliver_window, args.policy, postgres=args.postgres
                )
            except Exception as exc:
                print(
                    f"  {cell.client} → {cell.server} S={cell.sessions} W={cell.w}: {exc}",
                    file=sys.stderr,
                )
                continue
            cell.runs.append(result)
            print(
                f"  run {rep + 1} {cell.client} → {cell.server} S={cell.sessions} W={cell.w}: "
                f"{result['msg_per_s']:,.0f} msg/s",
                file=sys.stderr,
                flush=True,
            )
    elapsed = time.perf_counter() - started

    print(
        f"\nsubmit_sm with receipts (registered_delivery=1), loopback route, N={args.n} per "
        f"cell split over S sessions, median of {args.repeat}; smpp.server.window="
        f"{args.deliver_window}; latencies in ms; store: "
        f"{'PostgreSQL' if args.postgres else 'SQLite'}"
    )
    print(table(cells))
    best = max(
        (c.median("accepted_per_s") for c in cells if c.server == "opensmsc"),
        default=float("nan"),
    )
    print(
        f"\nbar: ≥ {BAR:,} durably accepted msg/s with receipts flowing; best opensmsc cell: "
        f"{fmt(best, ',.0f')} ({'met' if best >= BAR else 'NOT met'})"
    )
    print(f"run took {elapsed:.0f} s")
    if args.json:
        print(
            json.dumps(
                [
                    {
                        "client": c.client,
                        "server": c.server,
                        "sessions": c.sessions,
                        "w": c.w,
                        "runs": c.runs,
                    }
                    for c in cells
                ]
            )
        )


if __name__ == "__main__":
    main()
