"""The side-by-side benchmark (issue 15): opensmsc, Jasmin and Kannel on this machine, each in
front of the same upstream sink, on the same workloads, measured the same way.

Systems, each started fresh for every cell:

- opensmsc: `opensmsc run` on SQLite with durable acceptance (a message_id or a 201 only after
  the store's commit), the SMPP server and the HTTP API, one `[[smpp.client]]` connector
  (transceiver, window 100) to the sink as the default route;
- Jasmin 0.11.0 (PyPI, ../shared/peers/jasmin-client.sh installs it): one jasmind with its SMPP
  server and HTTP API on the machine's RabbitMQ and Redis, one SMPP client connector to the sink
  (submit_throughput 0), a default MT route to it, one user per session, quotas unlimited
  (bench/peers/jasmin_node.py);
- Kannel 1.4.5 (Debian `kannel`): bearerbox and smsbox with an SMPP transceiver link to the
  sink (max-pending-submits 100), as bench/http.py starts it. Kannel has no SMPP server.

The sink (bench/compare_sink.py) answers every submit_sm, sends each receipt 100 ms later and
records every message's token, so a message accepted but never seen upstream, or never
receipted, is counted as lost by id.

Workloads, each a fixed count after a warm-up, receipts asked for every message:

- `smpp S=s W=w`: SMPP ingress (opensmsc, Jasmin) over s sessions (one account or user each) with
  w submit_sm outstanding per session: bench/ours_client.py;
- `smpp long`: the same at S=1 W=100 with 30% of the messages two-part UCS-2;
- `http`: 64 concurrent keep-alive clients, one message per request: opensmsc's
  `POST /v1/messages`, Kannel's sendsms, Jasmin's `/send`, reports to a callback URL:
  bench/compare_http.py;
- `http long`: the same with 30% two-part UCS-2.

Per cell: accepted msg/s (to the last response), msg/s reaching the sink (to the last message
there, every part), receipted messages per second (to the last receipt or report), p50/p99
submit-to-response and submit-to-receipt, CPU seconds per 1,000 messages of all the system's
processes (for Jasmin also RabbitMQ's and Redis's, which it needs; on a shared machine their
figure includes any other user's work), peak RSS of the same processes (sampled every 0.2 s),
and messages lost (accepted but never reaching the sink or never receipted).

Runs are interleaved (for each repeat, for each workload: opensmsc, Jasmin, Kannel) and repeated;
the table gives medians with min and max and the ratio opensmsc / system. The chart
(bench/results/compare.png) shows accepted and receipted msg/s and p99 submit-to-response per
system.

    .venv/bin/python bench/compare.py [--repeat 3] [--quick] [--only opensmsc,kannel]
        [--workloads http,smpp] [--write-readme] [--json FILE]

`make bench` runs it with `--write-readme`.
"""

# ruff: noqa: E402

from __future__ import annotations

import sys
from pathlib import Path


def _import_stdlib_http() -> None:
    """The standard library's `http` into sys.modules before anything imports it: this folder
    holds http.py (bench/http.py, loaded below by path), which would shadow it."""
    here = Path(__file__).resolve().parent
    saved = list(sys.path)
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != here]
    try:
        import http.client  # noqa: F401
    finally:
        sys.path[:] = saved


_import_stdlib_http()

import argparse
import contextlib
import importlib.util
import json
import math
import os
import platform
import random
import shutil
import sqlite3
import string
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from _harness import (
    HERE,
    PY,
    SHARED,
    OpensmscProcess,
    bind_probe,
    cpu_ns,
    free_port,
    median,
    stop_process,
    vm_rss_kib,
)

sys.path.insert(0, str(HERE.parent / "src"))

from opensmsc.accounts import api_key_hash

RESULTS = HERE / "results"
README = HERE / "README.md"
README_BEGIN, README_END = "<!-- compare:begin -->", "<!-- compare:end -->"
JASMIN_PY = SHARED / "peers" / ".cache" / "venv-jasmin" / "bin" / "python"
JASMIN_INSTALL = SHARED / "peers" / "jasmin-client.sh"
KANNEL_INSTALL = SHARED / "peers" / "kannel-client.sh"
SYSTEMS = ("opensmsc", "jasmin", "kannel")
PASSWORD = "benchpw"
PASSWORD_ENV = "OPENSMSC_BENCH_PASSWORD"
API_KEY = "osk_compare-key-0123456789abcdefghijklmnopqrstuvwxyz"
ACCOUNTS = tuple(f"bench{i}" for i in range(4))
DLR_DELAY_MS = 100.0
RECEIPT_TIMEOUT = 30.0


@dataclass(frozen=True)
class Workload:
    name: str
    ingress: str  # "smpp" or "http"
    sessions: int = 1
    window: int = 100
    connections: int = 64
    long_share: float = 0.0


WORKLOADS = (
    Workload("smpp S=1 W=10", "smpp", 1, 10),
    Workload("smpp S=1 W=100", "smpp", 1, 100),
    Workload("smpp S=4 W=10", "smpp", 4, 10),
    Workload("smpp S=4 W=100", "smpp", 4, 100),
    Workload("smpp long", "smpp", 1, 100, long_share=0.3),
    Workload("http", "http"),
    Workload("http long", "http", long_share=0.3),
)
# Messages per measured run, per system and ingress: each run lasts some seconds at the rate
# the system reaches here (Jasmin forwards a few dozen per second), and a full run (3 repeats)
# stays within about 20 minutes.
COUNTS = {
    ("opensmsc", "smpp"): 10_000,
    ("opensmsc", "http"): 5_000,
    ("kannel", "http"): 10_000,
    ("jasmin", "smpp"): 400,
    ("jasmin", "http"): 400,
}
WARMUP = {"opensmsc": 500, "kannel": 500, "jasmin": 40}


def supports(system: str, workload: Workload) -> bool:
    return not (system == "kannel" and workload.ingress == "smpp")


# ---- processes: PIDs, CPU, RSS --------------------------------------------------------------


def process_table() -> dict[int, tuple[int, str, str]]:
    """pid → (ppid, comm, cmdline) of every process now."""
    table: dict[int, tuple[int, str, str]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        comm = stat[stat.index("(") + 1 : stat.rindex(")")]
        ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
        table[int(entry)] = (ppid, comm, cmdline)
    return table


def with_descendants(roots: Sequence[int], table: dict[int, tuple[int, str, str]]) -> list[int]:
    found = [pid for pid in roots if pid in table]
    frontier = list(found)
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, (ppid, _, _) in table.items() if ppid == parent]
        found += children
        frontier += children
    return found


def broker_pids(table: dict[int, tuple[int, str, str]]) -> list[int]:
    """RabbitMQ's Erlang VM (and what it runs) and Redis: Jasmin's work happens there too."""
    roots = [
        pid
        for pid, (_, comm, cmdline) in table.items()
        if (comm == "beam.smp" and "rabbit" in cmdline) or comm == "redis-server"
    ]
    return with_descendants(roots, table)


def total_cpu_ns(pids: Sequence[int]) -> int:
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError, ValueError):
            total += cpu_ns(pid)
    return total


class RssSampler:
    """The peak of the summed RSS of a system's processes, sampled every 0.2 s."""

    def __init__(self, pids: Sequence[int]) -> None:
        self.pids = list(pids)
        self.peak_kib = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            total = 0
            for pid in self.pids:
                with contextlib.suppress(OSError):
                    total += vm_rss_kib(pid)
            self.peak_kib = max(self.peak_kib, total)
            self._stop.wait(0.2)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


# ---- the sink -------------------------------------------------------------------------------


@dataclass
class Sink:
    proc: subprocess.Popen[str]
    port: int
    out: Path

    @classmethod
    def start(cls, workdir: Path) -> Sink:
        out = workdir / "sink.json"
        proc = subprocess.Popen(
            [
                PY,
                str(HERE / "compare_sink.py"),
                "--uvloop",
                "--out",
                str(out),
                "--dlr-delay-ms",
                str(DLR_DELAY_MS),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert proc.stdout is not None
        line = proc.stdout.readline().split()
        if len(line) != 2 or line[0] != "READY":
            stop_process(proc)
            raise RuntimeError("the sink did not start")
        return cls(proc, int(line[1]), out)

    def stop(self) -> dict[str, Any]:
        stop_process(self.proc)
        return dict(json.loads(self.out.read_text())) if self.out.exists() else {}


# ---- the systems ----------------------------------------------------------------------------


@dataclass
class Running:
    """A system under test, started: where its doors are and which processes are its own."""

    name: str
    smpp_port: int | None
    http_port: int
    own_pids: list[int]
    accounts: tuple[str, ...]
    password: str
    stop: Callable[[], None]
    extra_pids: list[int] = field(default_factory=list)

    def pids(self) -> list[int]:
        table = process_table()
        return with_descendants(self.own_pids, table) + [
            pid for pid in self.extra_pids if pid in table
        ]


def opensmsc_config(workdir: Path, smpp_port: int, api_port: int, sink_port: int) -> str:
    accounts = ""
    for i, system_id in enumerate(ACCOUNTS):
        keys = f'\napi_keys = ["{api_key_hash(API_KEY)}"]' if i == 0 else ""
        accounts += f"""
[[accounts]]
system_id = "{system_id}"
password_env = "{PASSWORD_ENV}"
window = 1000
max_binds = 16{keys}
"""
    return f"""\
[node]
data_dir = "{workdir / "data"}"

[logging]
level = "warning"

[policyd]
enabled = false

[http]
enabled = false

[smpp.server]
bind_address = "127.0.0.1"
port = {smpp_port}
tls_enabled = false
window = 100

[api]
enabled = true
bind_address = "127.0.0.1"
port = {api_port}
{accounts}
[[smpp.client]]
name = "sink"
host = "127.0.0.1"
port = {sink_port}
system_id = "smsc"
password = "pw"
bind = "transceiver"
window = 100

[routing]
default_route = "sink"
"""


def start_opensmsc(workdir: Path, sink_port: int) -> Running:
    smpp_port, api_port = free_port(), free_port()
    node = OpensmscProcess(
        workdir=workdir,
        config_text=opensmsc_config(workdir, smpp_port, api_port, sink_port),
        port=smpp_port,
        system_id=ACCOUNTS[0],
        password=PASSWORD,
        env={PASSWORD_ENV: PASSWORD},
    )
    node.start()
    for system_id in ACCOUNTS[1:]:  # argon2 once each, before any timing
        if not bind_probe(smpp_port, system_id, PASSWORD):
            node.stop()
            raise RuntimeError(f"opensmsc refused the bind of {system_id}")
    wait_port(api_port)
    return Running("opensmsc", smpp_port, api_port, [node.pid], ACCOUNTS, PASSWORD, node.stop)


def wait_port(port: int, timeout: float = 30.0) -> None:
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port} after {timeout} s")


def _bench_http() -> Any:
    """bench/http.py, which starts Kannel; imported by path (its name is the stdlib's)."""
    spec = importlib.util.spec_from_file_location("bench_http", HERE / "http.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_http"] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def start_kannel(workdir: Path, sink_port: int) -> Running:
    bench_http = _bench_http()
    server = bench_http.start_kannel(workdir, sink_port)
    return Running(
        "kannel",
        None,
        server.port,
        [p.pid for p in server.procs],
        (bench_http.SYSTEM_ID,),
        bench_http.PASSWORD,
        server.stop,
    )


def start_jasmin(workdir: Path, sink_port: int) -> Running:
    workdir.mkdir(parents=True, exist_ok=True)
    log = (workdir / "jasmin_node.err").open("w")
    proc = subprocess.Popen(
        [str(JASMIN_PY), str(HERE / "peers" / "jasmin_node.py"), "--sink-port", str(sink_port)],
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
    )
    log.close()
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.strip():
        stop_process(proc, 30)
        raise RuntimeError(f"Jasmin did not start: {(workdir / 'jasmin_node.err').read_text()}")
    ready = json.loads(line)
    wait_port(ready["smpp_port"])

    def stop() -> None:
        stop_process(proc, 40)

    return Running(
        "jasmin",
        ready["smpp_port"],
        ready["http_port"],
        [ready["pid"]],
        tuple(ready["users"]),
        ready["password"],
        stop,
        extra_pids=broker_pids(process_table()),
    )


STARTERS = {"opensmsc": start_opensmsc, "kannel": start_kannel, "jasmin": start_jasmin}


# ---- load -----------------------------------------------------------------------------------


def client_argv(
    system: Running, workload: Workload, n: int, tag: str, ids_out: Path | None
) -> list[str]:
    common = [
        *("--n", str(n), "--tag", tag, "--long-share", str(workload.long_share)),
        *("--receipt-timeout", str(RECEIPT_TIMEOUT), "--uvloop"),
        *(["--ids-out", str(ids_out)] if ids_out else []),
    ]
    if workload.ingress == "smpp":
        assert system.smpp_port is not None
        return [
            PY,
            str(HERE / "ours_client.py"),
            *("--port", str(system.smpp_port), "--mode", "dlr", "--timeout", "900"),
            *("--w", str(workload.window), "--sessions", str(workload.sessions)),
            *("--system-id", ",".join(system.accounts[: workload.sessions])),
            *("--password", system.password),
            *common,
        ]
    return [
        PY,
        str(HERE / "compare_http.py"),
        *("--dialect", system.name, "--port", str(system.http_port)),
        *("--connections", str(workload.connections), "--timeout", "900"),
        *("--user", system.accounts[0], "--password", system.password, "--api-key", API_KEY),
        *common,
    ]


def run_load(argv: list[str]) -> dict[str, Any]:
    done = subprocess.run(argv, check=False, capture_output=True, text=True, timeout=1200)
    if done.returncode != 0:
        raise RuntimeError(
            f"{Path(argv[1]).name} failed rc={done.returncode}: {done.stderr[-600:]}"
        )
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def new_tag() -> str:
    return "".join(random.choices(string.ascii_lowercase, k=6))


# ---- one cell -------------------------------------------------------------------------------


def cell_figures(
    client: dict[str, Any], ids: dict[str, list[str]], sink: dict[str, Any], tag: str, cpu_s: float
) -> dict[str, float]:
    """What a cell reports, from the load client's result and ids, the sink's record (only this
    run's tokens count, not the warm-up's) and the system's CPU seconds over the run."""
    prefix = f"id{tag}n"
    at_sink = {
        tok: entry
        for tok, entry in sink.get("tokens", {}).items()
        if tok.startswith(prefix) and entry[0] >= entry[1]
    }
    accepted = set(ids["accepted"])
    receipted = set(ids["receipted"])
    t0 = client["t0_mono"]
    messages = len(accepted)
    last_at_sink = max((entry[2] for entry in at_sink.values()), default=t0)
    reached = len(accepted & at_sink.keys())
    return {
        "messages": float(client["n"]),
        "accepted": float(messages),
        "accepted_per_s": messages / max(client["t_resp_mono"] - t0, 1e-9),
        "sink_per_s": len(at_sink) / max(last_at_sink - t0, 1e-9),
        "receipts_per_s": len(receipted) / max(client["t_receipt_mono"] - t0, 1e-9)
        if receipted
        else 0.0,
        "p50_ms": float(client["p50_ms"] or "nan"),
        "p99_ms": float(client["p99_ms"] or "nan"),
        "p50_receipt_ms": float(client["p50_receipt_ms"] or "nan"),
        "p99_receipt_ms": float(client["p99_receipt_ms"] or "nan"),
        "cpu_s_per_1000": cpu_s / max(messages, 1) * 1000,
        "lost_sink": float(messages - reached),
        "lost_receipt": float(len(accepted - receipted)),
        "lost": float(len(accepted - (at_sink.keys() & receipted))),
    }


def measure(system_name: str, workload: Workload, scale: float, workroot: Path) -> dict[str, float]:
    n = max(20, int(COUNTS[(system_name, workload.ingress)] * scale))
    warm = max(10, int(WARMUP[system_name] * min(scale * 2, 1.0)))
    with tempfile.TemporaryDirectory(prefix=f"compare-{system_name}-", dir=workroot) as tmp:
        workdir = Path(tmp)
        sink = Sink.start(workdir)
        system: Running | None = None
        try:
            system = STARTERS[system_name](workdir / "system", sink.port)
            run_load(client_argv(system, workload, warm, new_tag(), None))
            tag = new_tag()
            pids = system.pids()
            ids_file = workdir / "ids.json"
            with RssSampler(pids) as rss:
                before = total_cpu_ns(pids)
                client = run_load(client_argv(system, workload, n, tag, ids_file))
                cpu_s = (total_cpu_ns(pids) - before) / 1e9
        finally:
            if system is not None:
                system.stop()
            sink_summary = sink.stop()
        figures = cell_figures(client, json.loads(ids_file.read_text()), sink_summary, tag, cpu_s)
        figures["peak_rss_mib"] = rss.peak_kib / 1024
        figures["client_cpu_s"] = float(client["client_cpu_s"])
        return figures


# ---- aggregation and the table --------------------------------------------------------------

COLUMNS = (
    ("accepted_per_s", "accepted/s", ",.0f"),
    ("sink_per_s", "at sink/s", ",.0f"),
    ("receipts_per_s", "receipted/s", ",.0f"),
    ("p50_ms", "resp p50 ms", ".1f"),
    ("p99_ms", "resp p99 ms", ".1f"),
    ("p50_receipt_ms", "rcpt p50 ms", ".0f"),
    ("p99_receipt_ms", "rcpt p99 ms", ".0f"),
    ("cpu_s_per_1000", "CPU s/1k msg", ".2f"),
    ("peak_rss_mib", "peak RSS MiB", ",.0f"),
    ("lost", "lost", ".0f"),
)


@dataclass
class Stat:
    median: float
    low: float
    high: float


def summarize(runs: Sequence[dict[str, float]], key: str) -> Stat:
    values = [r[key] for r in runs if key in r and not math.isnan(r[key])]
    if not values:
        nan = float("nan")
        return Stat(nan, nan, nan)
    return Stat(median(values), min(values), max(values))


def _num(value: float, spec: str) -> str:
    return "-" if math.isnan(value) else format(value, spec)


def cell_text(stat: Stat, spec: str) -> str:
    """`median [min–max]`, or the median alone when the runs agree (or there was one)."""
    if stat.low == stat.high or math.isnan(stat.low):
        return _num(stat.median, spec)
    return f"{_num(stat.median, spec)} [{_num(stat.low, spec)}–{_num(stat.high, spec)}]"


def ratio(ours: float, theirs: float) -> float:
    if not theirs or math.isnan(theirs) or math.isnan(ours):
        return float("nan")
    return ours / theirs


def markdown_table(results: dict[tuple[str, str], list[dict[str, float]]]) -> str:
    head = ["workload", "system", *(label for _, label, _ in COLUMNS), "opensmsc ×"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * 2 + "---:|" * (len(head) - 2)]
    for workload in WORKLOADS:
        ours = results.get(("opensmsc", workload.name), [])
        for system in SYSTEMS:
            runs = results.get((system, workload.name))
            if not runs:
                continue
            cells = [cell_text(summarize(runs, key), spec) for key, _, spec in COLUMNS]
            if system == "opensmsc":
                times = "1"
            else:
                accepted = ratio(
                    summarize(ours, "accepted_per_s").median,
                    summarize(runs, "accepted_per_s").median,
                )
                e2e = ratio(
                    summarize(ours, "receipts_per_s").median,
                    summarize(runs, "receipts_per_s").median,
                )
                times = f"{_num(accepted, '.1f')} / {_num(e2e, '.1f')}"
            lines.append(f"| {workload.name} | {system} | " + " | ".join(cells) + f" | {times} |")
    return "\n".join(lines)


PANELS = (
    ("accepted_per_s", "accepted msg/s"),
    ("receipts_per_s", "receipted msg/s (end to end)"),
    ("p99_ms", "p99 submit→response, ms"),
)
COLORS = {"opensmsc": "#1f77b4", "jasmin": "#d62728", "kannel": "#2ca02c"}


def chart(results: dict[tuple[str, str], list[dict[str, float]]], path: Path) -> None:
    """Three panels on log scales (the systems differ by orders of magnitude): accepted msg/s,
    receipted msg/s and p99 submit-to-response per workload and system; bars are medians,
    whiskers min and max."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    workloads = [w.name for w in WORKLOADS if any((s, w.name) in results for s in SYSTEMS)]
    fig, axes = plt.subplots(len(PANELS), 1, figsize=(11, 10), sharex=True)
    width = 0.27
    for panel, (key, label) in zip(axes, PANELS, strict=True):
        for offset, system in enumerate(SYSTEMS):
            xs, ys, lows, highs = [], [], [], []
            for i, name in enumerate(workloads):
                stat = summarize(results.get((system, name), []), key)
                if math.isnan(stat.median) or stat.median <= 0:
                    continue
                xs.append(i + (offset - 1) * width)
                ys.append(stat.median)
                lows.append(stat.median - stat.low)
                highs.append(stat.high - stat.median)
            if xs:
                panel.bar(
                    xs,
                    ys,
                    width,
                    yerr=[lows, highs],
                    label=system,
                    color=COLORS[system],
                    capsize=2,
                )
        panel.set_yscale("log")
        panel.set_ylabel(label)
        panel.grid(axis="y", which="both", alpha=0.3)
    axes[0].legend(loc="upper left", ncols=3)
    axes[0].set_title("opensmsc, Jasmin and Kannel before one SMPP sink (bench/compare.py)")
    axes[-1].set_xticks(range(len(workloads)), workloads, rotation=15)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80)
    plt.close(fig)


def machine() -> str:
    cpu = ""
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    versions = []
    for package in ("kannel", "rabbitmq-server", "redis-server"):
        done = subprocess.run(
            ["dpkg-query", "-W", "-f=${Version}", package],
            check=False,
            capture_output=True,
            text=True,
        )
        versions.append(f"{package} {done.stdout.strip() or 'absent'}")
    return (
        f"{os.cpu_count()} cores ({cpu}), {mem_gib:.0f} GiB, Linux {platform.release()}, "
        f"Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, "
        f"jasmin 0.11.0, " + ", ".join(versions)
    )


def report(
    results: dict[tuple[str, str], list[dict[str, float]]], repeat: int, scale: float, took: float
) -> str:
    counts = ", ".join(
        f"{system} {ingress} {max(20, int(n * scale)):,}" for (system, ingress), n in COUNTS.items()
    )
    return (
        f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {machine()}; "
        f"{repeat} interleaved run(s) per cell, median [min–max]; messages per run: {counts} "
        f"(after a warm-up); the sink's receipts come {DLR_DELAY_MS:.0f} ms after the submit. "
        f"The run took {took / 60:.1f} min.\n\n"
        + markdown_table(results)
        + "\n\n`opensmsc ×`: opensmsc's median over the system's, accepted msg/s / receipted "
        "msg/s. `lost`: accepted but never complete at the sink or never receipted, by id.\n\n"
        "![accepted and receipted msg/s, p99 submit-to-response per system](results/compare.png)\n"
    )


def write_readme(text: str) -> None:
    readme = README.read_text()
    start, end = readme.index(README_BEGIN), readme.index(README_END)
    README.write_text(readme[: start + len(README_BEGIN)] + "\n" + text + readme[end:])


# ---- the run --------------------------------------------------------------------------------


def ensure_installed(systems: Sequence[str]) -> None:
    """Jasmin's venv and Debian's kannel come from ../shared/peers' own installers."""
    if "jasmin" in systems and not JASMIN_PY.exists():
        subprocess.run(["bash", str(JASMIN_INSTALL), "--help"], check=True, capture_output=True)
    if "kannel" in systems and shutil.which("bearerbox") is None:
        subprocess.run(["bash", str(KANNEL_INSTALL), "--help"], check=False, capture_output=True)
        if shutil.which("bearerbox") is None and not Path("/usr/sbin/bearerbox").exists():
            raise SystemExit("Kannel is not installed: apt-get install kannel")


def cells(systems: Sequence[str], workloads: Sequence[Workload]) -> Iterator[tuple[Workload, str]]:
    for workload in workloads:
        for system in systems:
            if supports(system, workload):
                yield workload, system


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="one run, a tenth of the counts")
    ap.add_argument("--scale", type=float, default=1.0, help="multiply every count by this")
    ap.add_argument("--only", help="comma-separated systems (default: all three)")
    ap.add_argument("--workloads", help="comma-separated name prefixes, e.g. 'smpp S=1,http'")
    ap.add_argument("--write-readme", action="store_true", help="update bench/README.md's table")
    ap.add_argument("--json", type=Path, help="also write every run's figures here")
    ap.add_argument("--dir", type=Path, help="where the cells' folders go (default: /tmp)")
    args = ap.parse_args()
    if args.quick:
        args.repeat, args.scale = 1, args.scale * 0.1
    systems = [s for s in SYSTEMS if not args.only or s in args.only.split(",")]
    workloads = [
        w
        for w in WORKLOADS
        if not args.workloads or any(w.name.startswith(p) for p in args.workloads.split(","))
    ]
    ensure_installed(systems)
    workroot = args.dir or Path(tempfile.gettempdir())
    results: dict[tuple[str, str], list[dict[str, float]]] = {}
    started = time.monotonic()
    for rep in range(args.repeat):
        # Interleaved (A B C A B C): a noisy minute on the shared machine hits every system.
        for workload, system in cells(systems, workloads):
            try:
                figures = measure(system, workload, args.scale, workroot)
            except Exception as exc:
                print(f"  run {rep + 1} {workload.name} {system}: FAILED {exc}", file=sys.stderr)
                continue
            results.setdefault((system, workload.name), []).append(figures)
            print(
                f"  run {rep + 1} {workload.name:<15} {system:<9} "
                f"accepted {figures['accepted_per_s']:>9,.0f}/s  "
                f"receipted {figures['receipts_per_s']:>9,.0f}/s  "
                f"p99 {figures['p99_ms']:>8.1f} ms  lost {figures['lost']:.0f}",
                file=sys.stderr,
                flush=True,
            )
    took = time.monotonic() - started
    RESULTS.mkdir(exist_ok=True)
    chart(results, RESULTS / "compare.png")
    text = report(results, args.repeat, args.scale, took)
    print(text)
    runs = [
        {"system": system, "workload": name, "runs": runs}
        for (system, name), runs in results.items()
    ]
    if args.json:
        args.json.write_text(json.dumps(runs, indent=1))
    if args.write_readme:
        (RESULTS / "compare.json").write_text(json.dumps(runs, indent=1))
        write_readme(text)


if __name__ == "__main__":
    main()
