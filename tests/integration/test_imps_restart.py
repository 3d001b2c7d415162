"""IMPS messages survive kill -9 (issue 13): `opensmsc run --config` as a child process with
`[imps]`, the demo client `opensmsc imps` as other child processes, exactly as an operator
would type them.

Bob logs out; Alice sends him two messages (each answered MS 200: the service committed them);
the node is killed with SIGKILL and started again on the same data folder; Bob logs in and gets
both, once each. The handsets' inboxes do not survive a restart (the simulated network keeps
them in memory), so nothing could come from before the kill but what the IMPS state kept.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.durability.procs import HOST, REPO, SmscProcess, cheap_hash, free_port, listening

pytestmark = pytest.mark.slow

ALICE = "+447700900001"
BOB = "+447700900002"


def config_toml(data_dir: Path, port: int, http_port: int) -> str:
    return f"""\
[node]
data_dir = "{data_dir}"

[logging]
level = "info"

[policyd]
port = 0

[smpp.server]
bind_address = "{HOST}"
port = {port}
tls_enabled = false

[http]
bind_address = "{HOST}"
port = {http_port}

[[accounts]]
system_id = "esme1"
password_hash = "{cheap_hash("pw1")}"

[imps]
enabled = true
short_code = "3590"

[[imps.users]]
user_id = "alice"
msisdn = "{ALICE}"
password = "alice-pw"

[[imps.users]]
user_id = "bob"
msisdn = "{BOB}"
password = "bob-pw"
"""


class Cli:
    def __init__(self, http_port: int, state_dir: Path) -> None:
        self.http_port = http_port
        self.state_dir = state_dir

    async def __call__(self, *argv: str, ok: bool = True) -> str:
        command = [
            sys.executable,
            "-m",
            "opensmsc",
            "imps",
            *argv,
            "--url",
            f"http://{HOST}:{self.http_port}",
            "--state-dir",
            str(self.state_dir),
            "--wait",
            "15",
        ]
        done = await asyncio.to_thread(
            subprocess.run,
            command,
            capture_output=True,
            text=True,
            timeout=90,
            check=False,
            cwd=REPO,
        )
        if ok:
            assert done.returncode == 0, (
                f"opensmsc imps {' '.join(argv)}:\n{done.stdout}{done.stderr}"
            )
        return done.stdout


async def start(node: SmscProcess, http_port: int) -> None:
    await node.start()
    deadline = time.monotonic() + 20
    while not await listening(http_port):
        assert time.monotonic() < deadline, node.log_tail()
        await asyncio.sleep(0.05)


async def test_messages_for_an_offline_user_survive_kill_9(tmp_path: Path) -> None:
    port, http_port = free_port(), free_port()
    config = tmp_path / "opensmsc.toml"
    config.write_text(config_toml(tmp_path / "data", port, http_port))
    node = SmscProcess(config, port, tmp_path / "node.log")
    imps = Cli(http_port, tmp_path / "phones")
    try:
        await start(node, http_port)
        assert "logged in" in await imps("login", ALICE, "alice", "--password", "alice-pw")
        assert "logged in" in await imps("login", BOB, "bob", "--password", "bob-pw")
        await imps("logout", BOB)
        first = await imps("send", ALICE, "bob", "before the crash 💥")
        second = await imps("send", ALICE, "bob", "and this one too: ¿qué?")
        assert "message sent: 200" in first and "message sent: 200" in second

        node.kill()
        await start(node, http_port)

        shown = await imps("login", BOB, "bob", "--password", "bob-pw")
        for _ in range(20):
            if "and this one too: ¿qué?" in shown and "before the crash 💥" in shown:
                break
            shown += await imps("poll", BOB)
        assert shown.count('"before the crash 💥"') == 1, shown
        assert shown.count('"and this one too: ¿qué?"') == 1, shown
        assert "message from alice" in shown
    finally:
        node.close()
