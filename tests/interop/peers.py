"""Running the third-party SMPP peers of `../shared/peers/` (read its README) from tests.

Each peer script prints one JSON summary line on stdout. `PeerRun` starts one as a subprocess in
its own process group, with stdout and stderr in temporary files (so that nothing blocks on a
full pipe while several peers run at once), and `result()` waits for it within a hard timeout,
killing the whole group when the script overruns, then parses the summary.

    run = PeerRun("smpplib-client.sh", ["--port", "2775", "--count", "3"], timeout=60)
    run.start()
    result = run.result()        # PeerResult: returncode, summary (dict or None), stderr tail
    assert result.summary and result.summary["ok"], result.describe()
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

PEERS_DIR = Path(
    os.environ.get("OPENSMSC_PEERS_DIR", Path(__file__).resolve().parents[3] / "shared" / "peers")
)
KILL_GRACE = 10.0  # seconds between SIGTERM and SIGKILL: Kannel and Jasmin stop their daemons


@dataclass(frozen=True, slots=True)
class PeerResult:
    script: str
    args: tuple[str, ...]
    returncode: int | None  # None: killed after the timeout
    summary: dict[str, Any] | None  # the JSON summary line; None when there was none
    stderr_tail: str
    elapsed: float

    def describe(self) -> str:
        """Everything a failing assertion should show."""
        command = " ".join([self.script, *self.args])
        return (
            f"{command}\n  exit status {self.returncode} after {self.elapsed:.1f} s\n"
            f"  summary: {json.dumps(self.summary)}\n  stderr (tail):\n{self.stderr_tail}"
        )


def parse_summary(stdout: str) -> dict[str, Any] | None:
    """The last line of `stdout` that is a JSON object, or None."""
    for raw in reversed(stdout.splitlines()):
        line = raw.strip()
        if not line.startswith("{"):
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(value, dict):
            return value
    return None


class PeerRun:
    """One peer script run; `start()` then `result()` (once)."""

    def __init__(
        self,
        script: str,
        args: list[str] | tuple[str, ...],
        *,
        timeout: float,
        env: dict[str, str] | None = None,
    ) -> None:
        self.script = script
        self.args = tuple(args)
        self.timeout = timeout
        self.env = env
        self._process: subprocess.Popen[bytes] | None = None
        self._stdout: IO[bytes] | None = None
        self._stderr: IO[bytes] | None = None
        self._started = 0.0
        self._result: PeerResult | None = None

    def start(self) -> None:
        path = PEERS_DIR / self.script
        # Files, not pipes: nobody reads while the peer runs. Closed in result().
        self._stdout = tempfile.TemporaryFile()  # noqa: SIM115
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115
        self._started = time.monotonic()
        self._process = subprocess.Popen(
            [str(path), *self.args],
            stdin=subprocess.DEVNULL,
            stdout=self._stdout,
            stderr=self._stderr,
            env={**os.environ, **(self.env or {})},
            start_new_session=True,  # its own process group: a timeout ends every child too
        )

    @property
    def started(self) -> bool:
        return self._process is not None

    def result(self) -> PeerResult:
        """Wait (at most what remains of the timeout), parse, clean up. Idempotent."""
        if self._result is not None:
            return self._result
        process = self._process
        assert process is not None, "start() first"
        assert self._stdout is not None and self._stderr is not None
        remaining = self.timeout - (time.monotonic() - self._started)
        returncode: int | None
        try:
            returncode = process.wait(timeout=max(remaining, 0.1))
        except subprocess.TimeoutExpired:
            self._kill_group(process)
            returncode = None
        elapsed = time.monotonic() - self._started
        self._stdout.seek(0)
        self._stderr.seek(0)
        stdout = self._stdout.read().decode("utf-8", "replace")
        stderr = self._stderr.read().decode("utf-8", "replace")
        self._stdout.close()
        self._stderr.close()
        self._result = PeerResult(
            script=self.script,
            args=self.args,
            returncode=returncode,
            summary=parse_summary(stdout),
            stderr_tail="\n".join(stderr.splitlines()[-30:]),
            elapsed=elapsed,
        )
        return self._result

    def stop(self) -> None:
        """End the run now if it is still going (for teardown); its result stays available."""
        if self._process is not None and self._result is None:
            if self._process.poll() is None:
                self._kill_group(self._process)
            self.result()

    @staticmethod
    def _kill_group(process: subprocess.Popen[bytes]) -> None:
        for sig, wait in ((signal.SIGTERM, KILL_GRACE), (signal.SIGKILL, 5.0)):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, sig)
            try:
                process.wait(timeout=wait)
            except subprocess.TimeoutExpired:
                continue
            return


def run_peer(script: str, args: list[str] | tuple[str, ...], *, timeout: float) -> PeerResult:
    """Run a peer script to the end (or the timeout) and return its result."""
    run = PeerRun(script, args, timeout=timeout)
    run.start()
    return run.result()
