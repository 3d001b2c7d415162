"""HTTP front door throughput (issue 12): durably accepted messages per second through the HTTP
API, side by side with Kannel's own sendsms on the same workload and the same upstream sink.

Cells, each with a fresh server process, interleaved and repeated (medians reported):

- `api-single`: `POST /v1/messages`, one message per request, 64 concurrent keep-alive
  connections (wrk, C, so the load generator costs little of the 2 cores);
- `api-batch`: `POST /v1/messages/batch`, 1,000 recipients per request, 8 connections;
- `api-kannel`: our drop-in `GET /cgi-bin/sendsms`, 64 connections (skipped, with a note, when
  this build has no such endpoint);
- `kannel`: Kannel's own smsbox `GET /cgi-bin/sendsms` (Debian `kannel`: bearerbox + smsbox),
  64 connections;
- `webhooks`: N messages with a callback_url, then the time until a local receiver has every
  delivery report: webhooks delivered per second.

Every server sends upstream to the same sink: the yardstick's bare SMPP server
(../shared/bench/yardstick.py, submit mode) through one SMPP connector (ours) or smsc group
(Kannel's). A 201 / `0: Accepted` from opensmsc is given only after the store's commit; Kannel
answers once bearerbox has queued the message (no store-file here: its default).

Latency percentiles (p50, p99) are wrk's, over every request of the cell. Counted as accepted:
requests minus wrk's "Non-2xx or 3xx responses".

    .venv/bin/python bench/http.py [--duration 10] [--repeat 3] [--quick] [--json]

Needs `wrk` (Debian `wrk`) and, for the Kannel cell, Debian `kannel` (../shared/peers/
kannel-client.sh installs it).
"""

# ruff: noqa: E402
from __future__ import annotations

import sys

# This file is bench/http.py and its folder is first on sys.path: the standard library's `http`
# must be found before it.
_BENCH = sys.path.pop(0)
import http.client

sys.path.insert(0, _BENCH)

import argparse
import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _harness import (
    HOST,
    PY,
    ROOT,
    YARDSTICK,
    cpu_ns,
    fmt,
    free_port,
    median,
    stop_process,
)

sys.path.insert(0, str(ROOT / "src"))

from opensmsc.accounts import api_key_hash, hash_password

SYSTEM_ID = "bench"
PASSWORD = "bench-pw"
API_KEY = "osk_bench-key-0123456789abcdefghijklmnopqrstuvwxyz"
BATCH = 1_000
BEARERBOX = shutil.which("bearerbox") or "/usr/sbin/bearerbox"
SMSBOX = shutil.which("smsbox") or "/usr/sbin/smsbox"


# ---- servers ------------------------------------------------------------------------------------


def start_sink() -> tuple[subprocess.Popen[str], int]:
    port = free_port()
    proc = subprocess.Popen(
        [PY, str(YARDSTICK), "server", "--port", str(port), "--mode", "submit", "--uvloop"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    wait_port(port, proc)
    return proc, port


def wait_port(port: int, proc: subprocess.Popen[Any], timeout: float = 30.0) -> None:
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"process {proc.args} ended with {proc.returncode}")
        try:
            with socket.create_connection((HOST, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port} after {timeout} s")


@dataclass
class Server:
    name: str
    port: int
    procs: list[subprocess.Popen[Any]] = field(default_factory=list)

    @property
    def pid(self) -> int:
        return self.procs[-1].pid

    def cpu(self) -> int:
        return sum(cpu_ns(p.pid) for p in self.procs)

    def stop(self) -> None:
        for proc in reversed(self.procs):
            stop_process(proc)


def start_opensmsc(workdir: Path, sink_port: int, route: str = "sink") -> Server:
    port = free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "opensmsc.toml"
    config.write_text(
        f"""
[node]
data_dir = "{workdir / "data"}"
[logging]
level = "warning"
[policyd]
enabled = false
[http]
enabled = false
[smpp.server]
bind_address = "{HOST}"
port = 0
tls_enabled = false
[api]
enabled = true
bind_address = "{HOST}"
port = {port}
max_batch = 10000
[[accounts]]
system_id = "{SYSTEM_ID}"
password_hash = "{hash_password(PASSWORD)}"
api_keys = ["{api_key_hash(API_KEY)}"]
[[smpp.client]]
name = "sink"
host = "{HOST}"
port = {sink_port}
system_id = "smsc"
password = "pw"
bind = "transceiver"
window = 100
[routing]
default_route = "{route}"
"""
    )
    log = open(workdir / "opensmsc.log", "ab")  # noqa: SIM115 - the process keeps it
    proc = subprocess.Popen(
        [PY, "-m", "opensmsc", "run", "--config", str(config)],
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=log,
        cwd=ROOT,
    )
    log.close()
    server = Server("opensmsc", port, [proc])
    try:
        wait_port(port, proc)
    except RuntimeError:
        server.stop()
        raise RuntimeError((workdir / "opensmsc.log").read_text()[-2000:]) from None
    return server


def start_kannel(workdir: Path, sink_port: int) -> Server:
    workdir.mkdir(parents=True, exist_ok=True)
    ports = {name: free_port() for name in ("admin", "smsbox", "sendsms")}
    d = str(workdir)
    conf = f"""
group = core
admin-port = {ports["admin"]}
admin-interface = "{HOST}"
admin-password = "bench"
status-password = "bench"
admin-allow-ip = "{HOST}"
smsbox-port = {ports["smsbox"]}
smsbox-interface = "{HOST}"
box-allow-ip = "{HOST}"
log-file = "{d}/bearerbox.log"
log-level = 3
dlr-storage = internal

group = smsc
smsc = smpp
smsc-id = sink
host = "{HOST}"
port = {sink_port}
smsc-username = "smsc"
smsc-password = "pw"
system-type = ""
transceiver-mode = true
interface-version = 34
max-pending-submits = 100
reconnect-delay = 1
log-level = 3

group = smsbox
bearerbox-host = "{HOST}"
bearerbox-port = {ports["smsbox"]}
sendsms-port = {ports["sendsms"]}
sendsms-interface = "{HOST}"
log-file = "{d}/smsbox.log"
log-level = 3

group = sendsms-user
username = "{SYSTEM_ID}"
password = "{PASSWORD}"
max-messages = 10
default-smsc = "sink"
user-allow-ip = "{HOST}"
"""
    path = workdir / "kannel.conf"
    path.write_text(conf)
    server = Server("kannel", ports["sendsms"])
    for binary, wait in ((BEARERBOX, ports["smsbox"]), (SMSBOX, ports["sendsms"])):
        proc = subprocess.Popen(
            [binary, "-v", "4", str(path)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
            cwd=d,
        )
        server.procs.append(proc)
        try:
            wait_port(wait, proc)
        except RuntimeError as exc:
            server.stop()
            logs = "".join(
                line
                for name in ("bearerbox.log", "smsbox.log")
                if (workdir / name).exists()
                for line in (workdir / name).read_text(errors="replace").splitlines(True)
                if "ERROR" in line or ("PANIC" in line and "PANIC: /" not in line)
            )
            raise RuntimeError(f"{exc}: {logs[-1500:]}") from None
    # bearerbox reports the SMSC online in its status page.
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            status = _get(ports["admin"], "/status.txt?password=bench")
        except OSError:
            status = ""
        if re.search(r"sink.*online", status):
            break
        time.sleep(0.2)
    else:
        server.stop()
        raise RuntimeError("Kannel's SMSC connection to the sink did not come online")
    return server


def _get(port: int, path: str) -> str:
    conn = http.client.HTTPConnection(HOST, port, timeout=5)
    try:
        conn.request("GET", path)
        return conn.getresponse().read().decode(errors="replace")
    finally:
        conn.close()


def _request(port: int, method: str, path: str, body: bytes, headers: dict[str, str]) -> int:
    conn = http.client.HTTPConnection(HOST, port, timeout=5)
    try:
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


# ---- load ---------------------------------------------------------------------------------------


def lua_for(method: str, body: bytes, headers: dict[str, str]) -> str:
    lines = [f'wrk.method = "{method}"']
    if body:
        lines.append(f"wrk.body = {json.dumps(body.decode())}")
    for name, value in headers.items():
        lines.append(f'wrk.headers["{name}"] = "{value}"')
    return "\n".join(lines) + "\n"


def run_wrk(
    url: str, *, connections: int, duration: float, script: str, workdir: Path
) -> dict[str, float]:
    lua = workdir / f"wrk-{time.monotonic_ns()}.lua"
    lua.write_text(script)
    done = subprocess.run(
        [
            "wrk",
            "-t2",
            f"-c{connections}",
            f"-d{duration:.0f}s",
            "--timeout",
            "10s",
            "--latency",
            "-s",
            str(lua),
            url,
        ],
        capture_output=True,
        text=True,
        timeout=duration + 60,
        check=False,
    )
    out = done.stdout
    total = re.search(r"(\d+) requests in ([\d.]+)(m?s)", out)
    if done.returncode != 0 or total is None:
        raise RuntimeError(f"wrk failed: {done.stderr or out}")
    seconds = float(total.group(2)) / (1000 if total.group(3) == "ms" else 1)
    requests = int(total.group(1))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: .*", out)
    failed = int(bad.group(1)) if bad else 0
    return {
        "requests": requests,
        "failed": failed,
        "ok_per_s": (requests - failed) / seconds,
        "p50_ms": _latency(out, "50%"),
        "p99_ms": _latency(out, "99%"),
        "socket_errors": 1.0 if errors else 0.0,
    }


def _latency(out: str, label: str) -> float:
    m = re.search(rf"{re.escape(label)}\s+([\d.]+)(us|ms|s)", out)
    if m is None:
        return float("nan")
    value = float(m.group(1))
    return value / 1000 if m.group(2) == "us" else value * 1000 if m.group(2) == "s" else value


# ---- cells --------------------------------------------------------------------------------------

AUTH = {"Authorization": f"Bearer {API_KEY}", "Content-Type": "application/json"}
SINGLE = json.dumps({"to": "+447700900123", "from": "Bench", "text": "Your code is 123456"})
BATCH_BODY = json.dumps(
    {
        "message": {"from": "Bench", "text": "Your code is 123456"},
        "to": [f"+4477009{n:05d}" for n in range(BATCH)],
    }
)
KANNEL_QUERY = urllib.parse.urlencode(
    {
        "username": SYSTEM_ID,
        "password": PASSWORD,
        "to": "447700900123",
        "from": "Bench",
        "text": "Your code is 123456",
    }
)


def cell_api(kind: str, server: Server, duration: float, workdir: Path) -> dict[str, float]:
    base = f"http://{HOST}:{server.port}"
    if kind == "single":
        result = run_wrk(
            f"{base}/v1/messages",
            connections=64,
            duration=duration,
            script=lua_for("POST", SINGLE.encode(), AUTH),
            workdir=workdir,
        )
        result["msg_per_s"] = result["ok_per_s"]
    elif kind == "batch":
        result = run_wrk(
            f"{base}/v1/messages/batch",
            connections=8,
            duration=duration,
            script=lua_for("POST", BATCH_BODY.encode(), AUTH),
            workdir=workdir,
        )
        result["msg_per_s"] = result["ok_per_s"] * BATCH
    else:  # sendsms, ours or Kannel's
        result = run_wrk(
            f"{base}/cgi-bin/sendsms?{KANNEL_QUERY}",
            connections=64,
            duration=duration,
            script="",
            workdir=workdir,
        )
        result["msg_per_s"] = result["ok_per_s"]
    return result


def batch_probe(port: int) -> int:
    return _request(port, "POST", "/v1/messages/batch", BATCH_BODY.encode(), AUTH)


def has_sendsms(port: int) -> bool:
    try:
        body = _get(port, f"/cgi-bin/sendsms?{KANNEL_QUERY}")
    except OSError:
        return False
    return body.startswith("0: Accepted")


# ---- webhooks delivered per second --------------------------------------------------------------


class _Receiver(asyncio.Protocol):
    count = 0
    done: asyncio.Event

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: asyncio.Transport = transport  # type: ignore[assignment]
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            head_end = self.buffer.find(b"\r\n\r\n")
            if head_end < 0:
                return
            head = self.buffer[:head_end].decode("latin-1").lower()
            m = re.search(r"content-length:\s*(\d+)", head)
            length = int(m.group(1)) if m else 0
            if len(self.buffer) < head_end + 4 + length:
                return
            self.buffer = self.buffer[head_end + 4 + length :]
            self.transport.write(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
            _Receiver.count += 1
            if _Receiver.count >= _Receiver.target:
                _Receiver.done.set()

    target = 0


async def _webhooks(api_port: int, n: int) -> dict[str, float]:
    loop = asyncio.get_running_loop()
    _Receiver.count = 0
    _Receiver.target = n
    _Receiver.done = asyncio.Event()
    server = await loop.create_server(_Receiver, HOST, 0)
    receiver_port = server.sockets[0].getsockname()[1]
    body = json.dumps(
        {
            "message": {
                "from": "Bench",
                "text": "hook",
                "callback_url": f"http://{HOST}:{receiver_port}/hook",
            },
            "to": [f"+4477009{i:05d}" for i in range(n)],
        }
    ).encode()
    started = time.monotonic()
    status = await loop.run_in_executor(
        None, _request, api_port, "POST", "/v1/messages/batch", body, AUTH
    )
    if status != 201:
        raise RuntimeError(f"the webhook batch was answered {status}")
    try:
        async with asyncio.timeout(300):
            await _Receiver.done.wait()
    except TimeoutError:
        raise RuntimeError(f"only {_Receiver.count} of {n} webhooks in 300 s") from None
    finally:
        server.close()
    elapsed = time.monotonic() - started
    return {"webhooks": float(_Receiver.count), "msg_per_s": _Receiver.count / elapsed}


# ---- driver -------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--webhooks", type=int, default=5_000)
    parser.add_argument("--quick", action="store_true", help="one run of 5 s per cell")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--only", help="comma-separated: single,batch,sendsms,kannel,webhooks")
    parser.add_argument(
        "--data-dir",
        type=Path,
        help="where the nodes' data folders go (default: a temporary folder; /dev/shm shows the "
        "CPU-bound rate, without the disk's fsync latency)",
    )
    args = parser.parse_args()
    if args.quick:
        args.duration, args.repeat, args.webhooks = 5.0, 1, 2_000
    if shutil.which("wrk") is None:
        raise SystemExit("bench/http.py needs wrk (apt-get install wrk)")
    have_kannel = os.access(BEARERBOX, os.X_OK) and os.access(SMSBOX, os.X_OK)
    cells = set((args.only or "single,batch,sendsms,kannel,webhooks").split(","))
    results: dict[str, list[dict[str, float]]] = {}
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="bench-http-", dir=args.data_dir) as tmp:
        root = Path(tmp)
        for run in range(args.repeat):
            sink, sink_port = start_sink()
            try:
                for kind in ("single", "batch", "sendsms"):
                    if kind not in cells:
                        continue
                    server = start_opensmsc(root / f"ours-{run}-{kind}", sink_port)
                    try:
                        if kind == "sendsms" and not has_sendsms(server.port):
                            if run == 0:
                                notes.append("api-kannel: this build has no /cgi-bin/sendsms")
                            continue
                        if kind == "batch" and batch_probe(server.port) != 201:
                            raise RuntimeError("the batch endpoint refused the bench's body")
                        cpu0 = server.cpu()
                        result = cell_api(kind, server, args.duration, root)
                        result["cpu_us_per_msg"] = (
                            (server.cpu() - cpu0) / 1000 / max(1.0, result["msg_per_s"])
                        ) / args.duration
                        results.setdefault(f"api-{kind}", []).append(result)
                    finally:
                        server.stop()
                if "kannel" not in cells:
                    pass
                elif have_kannel:
                    server = start_kannel(root / f"kannel-{run}", sink_port)
                    try:
                        cpu0 = server.cpu()
                        result = cell_api("sendsms", server, args.duration, root)
                        result["cpu_us_per_msg"] = (
                            (server.cpu() - cpu0) / 1000 / max(1.0, result["msg_per_s"])
                        ) / args.duration
                        results.setdefault("kannel", []).append(result)
                    finally:
                        server.stop()
                elif run == 0:
                    notes.append("kannel: not installed (../shared/peers/kannel-client.sh)")
                if "webhooks" in cells:
                    # Reports need final states: the loopback route delivers at once (the
                    # sink in submit mode sends no receipts).
                    server = start_opensmsc(root / f"ours-{run}-webhooks", sink_port, "loopback")
                    try:
                        results.setdefault("webhooks", []).append(
                            asyncio.run(_webhooks(server.port, args.webhooks))
                        )
                    finally:
                        server.stop()
            finally:
                stop_process(sink)
    table = {
        name: {
            key: median([r.get(key) for r in runs])
            for key in ("msg_per_s", "p50_ms", "p99_ms", "cpu_us_per_msg", "failed")
        }
        for name, runs in results.items()
    }
    kannel = table.get("kannel", {}).get("msg_per_s")
    ours = table.get("api-kannel", {}).get("msg_per_s")
    if kannel and ours:
        table["api-kannel"]["x_kannel"] = ours / kannel
    if args.json:
        print(json.dumps({"cells": table, "runs": results, "notes": notes}, indent=2))
        return
    print(
        f"{'cell':<12} {'msg/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'CPU µs/msg':>11} {'non-2xx':>8}"
    )
    for name, row in table.items():
        print(
            f"{name:<12} {fmt(row['msg_per_s'], ',.0f'):>10} {fmt(row['p50_ms'], '.2f'):>8} "
            f"{fmt(row['p99_ms'], '.2f'):>8} {fmt(row['cpu_us_per_msg'], '.1f'):>11} "
            f"{fmt(row['failed'], '.0f'):>8}"
        )
    if kannel and ours:
        print(f"our sendsms / Kannel's: {ours / kannel:.2f}x")
    for note in notes:
        print(f"note: {note}")
    print(f"medians of {args.repeat} run(s), {args.duration:.0f} s each; bars: single 5,000/s,")
    print("batch 50,000 msg/s, sendsms 2x Kannel's")


if __name__ == "__main__":
    main()
