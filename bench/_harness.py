"""What the SMPP benchmarks share: ports, per-process CPU and memory, the client-process
protocol (one `RESULT {json}` / JSON line on stdout), medians and number formatting, and
`OpensmscProcess`, our SMSC run the way operators run it: `opensmsc run --config FILE`.

Used by bench/smpp.py and bench/store.py. Standard library only (plus our codec for the
bind probe), so that every driver process stays light.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SHARED = ROOT.parent / "shared"
YARDSTICK = SHARED / "bench" / "yardstick.py"
PY = sys.executable
HOST = "127.0.0.1"

sys.path.insert(0, str(ROOT / "src"))

from opensmsc.smpp import BindTransceiver, FrameBuffer, Unbind, decode, encode  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def cpu_ns(pid: int) -> int:
    """CPU time of every thread of `pid`, in ns (schedstat); clock ticks from stat as fallback."""
    total = 0
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/schedstat") as f:
                total += int(f.read().split()[0])
        return total
    except (OSError, ValueError):
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) * 1_000_000_000 // os.sysconf("SC_CLK_TCK")


def vm_rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def fmt(v: float, spec: str) -> str:
    return "-" if math.isnan(v) else format(v, spec)


def median(values: Sequence[float | None]) -> float:
    present = [v for v in values if v is not None and not math.isnan(v)]
    return statistics.median(present) if present else float("nan")


def parse_result(stdout: str) -> dict[str, Any]:
    """A driver's last stdout line: `RESULT {json}` (the yardstick) or bare JSON (ours)."""
    lines = [ln for ln in stdout.splitlines() if ln.strip()]
    if not lines:
        raise RuntimeError("the client printed nothing")
    return dict(json.loads(lines[-1].removeprefix("RESULT ")))


def run_client(argv: list[str], timeout: float) -> dict[str, Any]:
    """Run one driver to its end; its RESULT."""
    done = subprocess.run(argv, check=False, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"{argv[1]} failed rc={done.returncode}: {done.stderr[-400:]}")
    return parse_result(done.stdout)


def stop_process(proc: subprocess.Popen[Any], timeout: float = 10.0) -> None:
    """SIGTERM, SIGKILL after `timeout`; always reaped, its stdout pipe closed."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if proc.stdout is not None:
        proc.stdout.close()


def start_yardstick(port: int, mode: str = "submit") -> subprocess.Popen[str]:
    """The yardstick's server (uvloop) on `port`, once it printed READY."""
    proc = subprocess.Popen(
        [PY, str(YARDSTICK), "server", "--uvloop", "--mode", mode, "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    if proc.stdout.readline().strip() != "READY":
        stop_process(proc)
        raise RuntimeError("the yardstick server did not start")
    return proc


# ---- our SMSC as a process -----------------------------------------------------------------


def bind_probe(port: int, system_id: str, password: str, timeout: float = 5.0) -> bool:
    """bind_transceiver + unbind over a plain socket: True when the bind succeeded. It waits
    for the listener and warms the verified-password cache, so no measured bind pays argon2."""
    try:
        with socket.create_connection((HOST, port), timeout=timeout) as sock:
            sock.sendall(encode(BindTransceiver(system_id=system_id, password=password), 1))
            frames = FrameBuffer()
            while True:
                data = sock.recv(65536)
                if not data:
                    return False
                for frame in frames.feed(data):
                    decoded = decode(frame, strict=False)
                    if decoded.sequence_number == 1:
                        ok = decoded.status == 0
                        if ok:
                            with contextlib.suppress(OSError):
                                sock.sendall(encode(Unbind(), 2))
                                sock.recv(65536)
                        return ok
    except OSError:
        return False


@dataclass
class OpensmscProcess:
    """`python -m opensmsc run --config FILE` with `config_text` written into `workdir`.

    `start()` returns once a bind succeeds. `pid` is the SMSC itself (no wrapper process), for
    `cpu_ns`. `stop()` sends SIGTERM (SIGKILL after `timeout`) and always reaps it."""

    workdir: Path
    config_text: str
    port: int
    system_id: str
    password: str
    env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None
    _log: IO[bytes] | None = field(default=None, repr=False)

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    @property
    def config_path(self) -> Path:
        return self.workdir / "opensmsc.toml"

    def start(self, timeout: float = 30.0) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(self.config_text)
        self._log = open(self.workdir / "smsc.log", "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [PY, "-m", "opensmsc", "run", "--config", str(self.config_path)],
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=self._log,
            env={**os.environ, **self.env},
            cwd=ROOT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            if bind_probe(self.port, self.system_id, self.password, timeout=2.0):
                return
            time.sleep(0.02)
        log = self.log_tail()
        self.stop()
        raise RuntimeError(f"opensmsc did not start on port {self.port}: {log}")

    def log_tail(self, chars: int = 1500) -> str:
        if self._log is not None:
            self._log.flush()
        with contextlib.suppress(OSError):
            return (self.workdir / "smsc.log").read_bytes()[-chars:].decode(errors="replace")
        return ""

    def stop(self, timeout: float = 15.0) -> None:
        if self.proc is not None:
            proc, self.proc = self.proc, None
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        if self._log is not None:
            self._log.close()
            self._log = None


def check_config(path: Path) -> list[str]:
    """`opensmsc check-config FILE`: the errors (empty when valid)."""
    done = subprocess.run(
        [PY, "-m", "opensmsc", "check-config", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=ROOT,
    )
    lines = [ln for ln in done.stdout.splitlines() if ln.strip()]
    return [] if done.returncode == 0 else lines or [done.stderr.strip()]
