"""The live configuration of `opensmsc run --config FILE` as an operator runs it: a change the
admin API acknowledged is there after kill -9 and a restart; SIGHUP (and `opensmsc reload`)
with a changed file opens a new port, adds a route and a connector without dropping the session
already bound; a broken file changes nothing; the live change wins over the file, and a file
that says the same (`config export` folded back) makes the node forget it."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from opensmsc.accounts import hash_password
from opensmsc.smpp import CommandId, EnquireLink
from tests.conftest import SmppTestClient
from tests.integration.test_node_process import Node, bind_status

pytestmark = pytest.mark.timeout(180)

PASSWORD = "secret"
_HASH = hash_password(PASSWORD)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write(folder: Path, *, port: int, extra: str = "") -> Path:
    path = folder / "opensmsc.toml"
    path.write_text(
        f"""
[node]
data_dir = "data"
[policyd]
enabled = false
[smpp.server]
bind_address = "127.0.0.1"
port = {port}
tls_enabled = false
bind_failure_delay = 0
[http]
bind_address = "127.0.0.1"
port = 0
[routing]
default_route = "loopback"
[[accounts]]
system_id = "esme1"
password_hash = "{_HASH}"
allowed_networks = ["127.0.0.0/8"]
{extra}
"""
    )
    return path


async def start(config: Path) -> tuple[Node, int, httpx.AsyncClient]:
    node, port = await Node.start(config)
    ready = next(line for line in node.lines if "opensmsc ready ports=" in line)
    http_port = int(re.search(r"'http': (\d+)", ready).group(1))  # type: ignore[union-attr]
    return node, port, httpx.AsyncClient(base_url=f"http://127.0.0.1:{http_port}", timeout=30)


async def stop(node: Node) -> None:
    if node.proc.returncode is None:
        node.signal(signal.SIGTERM)
        assert await node.wait() == 0
    assert "Traceback" not in "".join(node.lines)


def cli(*args: str, url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "opensmsc", *args, "--url", url],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


async def test_an_acknowledged_change_is_there_after_kill_9(tmp_path: Path) -> None:
    config = write(tmp_path, port=0)
    node, port, http = await start(config)
    try:
        added = await http.post(
            "/v1/admin/accounts", json={"system_id": "esme2", "password": "pw2"}
        )
        assert added.status_code == 201, added.text
        changed = await http.patch("/v1/admin/accounts/esme1", json={"throughput": 5.0})
        assert changed.status_code == 200, changed.text
        # Answered, so on disk: nothing gets the chance to flush anything after this.
        node.proc.kill()
        await node.proc.wait()
    finally:
        await http.aclose()
        if node.proc.returncode is None:
            node.proc.kill()
            await node.proc.wait()

    node, port, http = await start(config)
    try:
        assert await bind_status(port, "esme2", "pw2") == 0
        items = {a["system_id"]: a for a in (await http.get("/v1/admin/accounts")).json()["items"]}
        assert items["esme2"]["source"] == "live"
        assert items["esme1"]["throughput"] == 5.0 and items["esme1"]["source"] == "live"
        assert "live configuration changes=2" in "".join(node.lines)
    finally:
        await http.aclose()
        await stop(node)


async def test_sighup_applies_a_changed_file_without_dropping_the_bound_session(
    tmp_path: Path,
) -> None:
    first_port = free_port()
    config = write(tmp_path, port=first_port)
    node, port, http = await start(config)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    bound = SmppTestClient(reader, writer)
    try:
        assert (await bound.bind("trx", "esme1", PASSWORD)).status == 0
        # A live change to esme1, then a file that changes the same key: the live one wins.
        assert (
            await http.patch("/v1/admin/accounts/esme1", json={"max_binds": 7})
        ).status_code == 200

        second_port = free_port()
        write(
            tmp_path,
            port=second_port,
            extra='max_binds = 3\n[[routing.routes]]\nprefix = "44"\nroute = "loopback"\n',
        )
        node.signal(signal.SIGHUP)
        line = await node.wait_for("configuration reloaded")
        assert "smpp.server.port" in line.split("restart_needed=")[0]
        assert "routing.routes[44]" in line
        assert "accounts[esme1].max_binds: changed in the file and live: live wins" in "".join(
            node.lines
        )
        # The new port takes binds, the old one no longer does; the session bound on it stays.
        assert await bind_status(second_port, "esme1", PASSWORD) == 0
        with pytest.raises(OSError):
            await bind_status(first_port, "esme1", PASSWORD)
        assert (await bound.request(EnquireLink())).status == 0
        assert (await bound.submit(destination_addr="4412345")).status == 0
        routes = (await http.get("/v1/admin/routes")).json()["items"]
        assert [(r["prefix"], r["source"]) for r in routes] == [("44", "file")]
        accounts = (await http.get("/v1/admin/accounts")).json()["items"]
        assert accounts[0]["max_binds"] == 7

        # A broken file changes nothing, and says why.
        config.write_text(config.read_text() + "\n[smpp.client]\nwindow = -1\n")
        node.signal(signal.SIGHUP)
        assert "error" in await node.wait_for("configuration not reloaded")
        assert "opensmsc.toml" in await node.wait_for("configuration error:")
        assert (await bound.submit(destination_addr="4412345")).status == 0

        # `opensmsc reload` is SIGHUP through the admin API, with the answer on the terminal.
        url = str(http.base_url).rstrip("/")
        refused = await asyncio.to_thread(cli, "reload", url=url)
        assert refused.returncode == 1
        assert "not reloaded" in refused.stderr and "opensmsc.toml" in refused.stderr
        write(tmp_path, port=second_port, extra="max_binds = 7\n")
        done = await asyncio.to_thread(cli, "reload", url=url)
        assert done.returncode == 0, done.stderr
        assert "routing.routes[44]" in done.stdout
        # The file now says what the live change said: it is forgotten.
        await node.wait_for("live change accounts[esme1] is in the file now: forgotten")
        accounts = (await http.get("/v1/admin/accounts")).json()["items"]
        assert accounts[0]["source"] == "file"
        assert (await bound.request(EnquireLink())).status == 0
        assert bound.received[-1].command_id == CommandId.ENQUIRE_LINK_RESP
    finally:
        await bound.close()
        await http.aclose()
        await stop(node)


async def test_the_cli_adds_lists_and_removes_and_never_prints_a_password(
    tmp_path: Path,
) -> None:
    config = write(tmp_path, port=0)
    node, port, http = await start(config)
    url = str(http.base_url).rstrip("/")
    try:
        password_file = tmp_path / "pw.txt"
        password_file.write_text("pw9\n")
        added = await asyncio.to_thread(
            cli,
            "accounts",
            "add",
            "esme9",
            "--password-file",
            str(password_file),
            "window=20",
            "bind_modes=transmitter,transceiver",
            "allowed_networks=127.0.0.0/8",
            url=url,
        )
        assert added.returncode == 0, added.stderr
        assert await bind_status(port, "esme9", "pw9") == 0
        listed = await asyncio.to_thread(cli, "accounts", "list", url=url)
        assert listed.returncode == 0
        assert re.search(r"esme9\s+yes\s+live\s+transmitter,transceiver", listed.stdout)
        as_json = await asyncio.to_thread(cli, "accounts", "list", "--json", url=url)
        assert "pw9" not in as_json.stdout and "argon2" not in as_json.stdout
        bad = await asyncio.to_thread(cli, "accounts", "set", "esme9", "window=lots", url=url)
        assert bad.returncode == 1
        assert 'window: expected an integer from 1 to 10000, got "lots"' in bad.stderr
        exported = await asyncio.to_thread(cli, "config", "export", url=url)
        assert exported.returncode == 0 and 'system_id = "esme9"' in exported.stdout
        removed = await asyncio.to_thread(cli, "accounts", "remove", "esme9", url=url)
        assert removed.returncode == 0, removed.stderr
        assert await bind_status(port, "esme9", "pw9") != 0
        log = "".join(node.lines)
        assert "pw9" not in log
    finally:
        await http.aclose()
        await stop(node)
