"""Processes of the crash test: the SMSC under test (`opensmsc run --config FILE`, restarted on
the same data folder and port after every SIGKILL) and the sink (sink.py). Every wait is
bounded; `stop()` / `kill()` always reap the child, so no process outlives the test.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import select
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from argon2 import PasswordHasher

HOST = "127.0.0.1"
SINK = Path(__file__).with_name("sink.py")
REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    """A port nobody listens on now (picked once; the SMSC keeps it across restarts)."""
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def cheap_hash(password: str) -> str:
    """An argon2id hash with the smallest parameters, so that the many re-binds after each
    restart do not each cost a full argon2 verification."""
    return PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash(password)


@dataclass(frozen=True)
class SmscSettings:
    data_dir: Path
    port: int
    system_id: str
    password_hash: str
    client_window: int  # the account's window: submit_sm in flight per client session
    deliver_window: int  # smpp.server.window: deliver_sm (receipts) in flight per session
    sink_port: int | None = None  # None: the loopback route
    connector_window: int = 10
    lease: float | None = None  # [store] lease; None: the key is left out (the default)


def config_toml(s: SmscSettings) -> str:
    """The TOML for `opensmsc run --config`: plain SMPP on `s.port`, quick timers so that a
    dead peer is noticed well within the test, one account, and (with a sink) one connector as
    the default route."""
    text = f"""\
[node]
data_dir = "{s.data_dir}"

[logging]
level = "warning"

[policyd]
port = 0

[smpp.server]
bind_address = "{HOST}"
port = {s.port}
tls_enabled = false
window = {s.deliver_window}
response_timeout = 5
enquire_link_interval = 5
unbind_drain_timeout = 1
bind_failure_delay = 0
bind_failure_max_delay = 0

[[accounts]]
system_id = "{s.system_id}"
password_hash = "{s.password_hash}"
window = {s.client_window}
max_binds = 32
"""
    if s.lease is not None:
        text += f"""
[store]
lease = {s.lease}
"""
    if s.sink_port is not None:
        text += f"""
[[smpp.client]]
name = "sink"
host = "{HOST}"
port = {s.sink_port}
system_id = "smsc"
password = "pw"
bind = "transceiver"
window = {s.connector_window}
response_timeout = 5
enquire_link_interval = 5
reconnect_min_delay = 0.05
reconnect_max_delay = 0.5

[routing]
default_route = "sink"
"""
    return text


def check_config(path: Path) -> list[str]:
    """`opensmsc check-config`: the errors it prints (empty when the file is valid)."""
    done = subprocess.run(
        [sys.executable, "-m", "opensmsc", "check-config", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    lines = [ln for ln in done.stdout.splitlines() if ln.strip()]
    return [] if done.returncode == 0 else lines or [done.stderr.strip()]


async def listening(port: int) -> bool:
    """True when a TCP connect to the port succeeds (the connection is closed at once)."""
    try:
        _reader, writer = await asyncio.wait_for(asyncio.open_connection(HOST, port), 0.5)
    except (OSError, TimeoutError):
        return False
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True


@dataclass
class SmscProcess:
    """`opensmsc run --config FILE` as a child, its stderr appended to `log_path`."""

    config_path: Path
    port: int
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0
    kills: int = 0
    _log: IO[bytes] | None = field(default=None, repr=False)

    def spawn(self) -> None:
        assert self.proc is None, "already running"
        if self._log is None:
            self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in close()
        self._log.write(f"--- start {self.starts} at {time.time():.3f}\n".encode())
        self._log.flush()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "opensmsc", "run", "--config", str(self.config_path)],
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=self._log,
            cwd=REPO,
        )
        self.starts += 1

    async def start(self, timeout: float = 20.0) -> float:
        """Spawn and wait until the port accepts connections; a child that exits first (the
        port still held, say) is spawned again. Returns the seconds it took."""
        started = time.monotonic()
        deadline = started + timeout
        self.spawn()
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                self.proc = None
                await asyncio.sleep(0.1)
                self.spawn()
                continue
            if await listening(self.port):
                return time.monotonic() - started
            await asyncio.sleep(0.01)
        self.kill()
        raise TimeoutError(f"the SMSC did not listen on {self.port} within {timeout} s")

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL and reap."""
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)
        self.proc = None
        self.kills += 1

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGTERM (a clean shutdown), SIGKILL if it takes longer than `timeout`; the exit code."""
        if self.proc is None:
            return None
        proc, self.proc = self.proc, None
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        try:
            return proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
            return None

    def close(self) -> None:
        if self.proc is not None:
            self.kill()
        if self._log is not None:
            self._log.close()
            self._log = None

    def log_tail(self, chars: int = 3000) -> str:
        if self._log is not None:
            self._log.flush()
        try:
            return self.log_path.read_bytes()[-chars:].decode(errors="replace")
        except OSError:
            return ""


@dataclass
class SinkProcess:
    """sink.py as a child; `stop()` returns its summary line."""

    log_path: Path
    proc: subprocess.Popen[str] | None = None
    port: int = 0

    def start(self, timeout: float = 20.0) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(SINK), "--log", str(self.log_path)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        line = self.proc.stdout.readline() if ready else ""  # READY is one flushed line
        if not line.startswith("READY "):
            self.stop()
            raise RuntimeError(f"the sink did not start: {line!r}")
        self.port = int(line.split()[1])

    def stop(self, timeout: float = 10.0) -> str:
        if self.proc is None:
            return ""
        proc, self.proc = self.proc, None
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        assert proc.stdout is not None
        out = proc.stdout.read()
        proc.stdout.close()
        return next((ln for ln in out.splitlines() if ln.startswith("SUMMARY")), "")
