"""`opensmsc run --config FILE` as an operator runs it: a real process, real signals, and the
one-line errors (exit status 2) of a node that cannot start where it is."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from opensmsc import app
from opensmsc.accounts import hash_password
from opensmsc.config import load
from opensmsc.errors import StartupError
from opensmsc.routing import AccountPolicies
from opensmsc.smpp import BindTransceiver, CommandStatus, FrameBuffer, SubmitSm, decode, encode
from opensmsc.smsc import SessionRegistry
from tests.services.engine_harness import open_node

pytestmark = pytest.mark.timeout(60)


def write_config(
    folder: Path, extra: str = "", *, port: int = 0, tls_port: int = 0, server: str = ""
) -> Path:
    """`extra` is TOML after the [http] table; `server`, keys of [smpp.server]."""
    path = folder / "opensmsc.toml"
    path.write_text(
        f"""
[node]
data_dir = "data"
[policyd]
port = 0
[smpp.server]
bind_address = "127.0.0.1"
port = {port}
tls_port = {tls_port}
{server}
[http]
enabled = false
{extra}
"""
    )
    return path


def run_node(config: Path, *, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    """A node that is expected to stop by itself (a failed start)."""
    return subprocess.run(
        [sys.executable, "-m", "opensmsc", "run", "--config", str(config)],
        check=False,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def failure_line(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.stderr.strip().splitlines()[-1]


def test_a_port_in_use_is_one_line_naming_the_listener(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        proc = run_node(write_config(tmp_path, tls_port=port))
    assert failure_line(proc) == (
        f"opensmsc: cannot start: listener smpps cannot listen on 127.0.0.1:{port}: "
        "address already in use (another process listens there)"
    )


def test_a_bind_address_not_on_this_host_is_one_line(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    config.write_text(config.read_text().replace("127.0.0.1", "192.0.2.1"))  # TEST-NET-1
    assert failure_line(run_node(config)) == (
        "opensmsc: cannot start: listener smpp cannot listen on 192.0.2.1:0: "
        "cannot assign requested address (not an address of this host)"
    )


def _can_mount_read_only(folder: Path) -> bool:
    probe = subprocess.run(
        ["unshare", "-m", "sh", "-c", f"mount --bind {folder} {folder}"],
        check=False,
        capture_output=True,
    )
    return probe.returncode == 0


async def test_an_existing_store_on_a_read_only_file_system_is_one_line(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    data = tmp_path / "data"
    engine = await open_node(data, receivers=SessionRegistry(), policies=AccountPolicies())
    await engine.close()
    if not _can_mount_read_only(data):
        pytest.skip("needs unshare and mount (root in a user namespace) for a read-only mount")
    command = (
        f"mount --bind {data} {data} && mount -o remount,bind,ro {data} && "
        f"exec {sys.executable} -m opensmsc run --config {config}"
    )
    proc = subprocess.run(
        ["unshare", "-m", "sh", "-c", command],
        check=False,
        capture_output=True,
        text=True,
        timeout=30,
    )
    line = failure_line(proc)
    assert line.startswith(f"opensmsc: cannot start: message store in {data} cannot be opened: ")
    assert line.endswith("read-only file system"), line


def test_a_tls_certificate_that_does_not_load_is_one_line(tmp_path: Path) -> None:
    # PEM in form (check-config cannot tell more without loading it), not a certificate.
    cert = tmp_path / "smsc.pem"
    cert.write_text(
        "-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n"
        "-----BEGIN PRIVATE KEY-----\nMAA=\n-----END PRIVATE KEY-----\n"
    )
    config = write_config(tmp_path, server=f'tls_cert_file = "{cert}"')
    line = failure_line(run_node(config))
    assert line.startswith(f"opensmsc: cannot start: smpp.server.tls_cert_file {cert}: "), line


async def test_a_second_node_on_the_same_data_folder_is_refused(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    first = await app.start(load(config))
    try:
        proc = await asyncio.to_thread(run_node, config)
        assert failure_line(proc) == (
            f"opensmsc: cannot start: data folder {tmp_path / 'data'} is in use by another "
            "opensmsc node: stop that node first, or give this one its own node.data_dir"
        )
        with pytest.raises(StartupError, match="in use by another opensmsc node"):
            await app.start(load(config))
    finally:
        await first.stop()
    # Stopped, the first node has let the folder go.
    second = await app.start(load(config))
    await second.stop()


# --------------------------------------------------------------------------- signals


class Node:
    """`opensmsc run --config` in a process of its own; its log lines as they come."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.lines: list[str] = []

    @classmethod
    async def start(cls, config: Path) -> tuple[Node, int]:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "opensmsc",
            "run",
            "--config",
            str(config),
            stderr=asyncio.subprocess.PIPE,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        node = cls(proc)
        ready = await node.wait_for("opensmsc ready ports=")
        port = int(re.search(r"'smpp': (\d+)", ready).group(1))  # type: ignore[union-attr]
        return node, port

    async def wait_for(self, text: str, timeout: float = 20) -> str:
        """The next log line containing `text` (earlier lines are kept in `lines`)."""
        assert self.proc.stderr is not None
        try:
            async with asyncio.timeout(timeout):
                while True:
                    raw = await self.proc.stderr.readline()
                    assert raw, f"the node exited; its log:\n{''.join(self.lines)}"
                    line = raw.decode()
                    self.lines.append(line)
                    if text in line:
                        return line
        except TimeoutError:
            raise AssertionError(f"no {text!r} in the log:\n{''.join(self.lines)}") from None

    def signal(self, signum: int) -> None:
        self.proc.send_signal(signum)

    async def wait(self) -> int:
        assert self.proc.stderr is not None
        rest = await asyncio.wait_for(self.proc.stderr.read(), 30)
        self.lines.extend(rest.decode().splitlines(keepends=True))
        return await asyncio.wait_for(self.proc.wait(), 30)


async def bind_status(port: int, system_id: str, password: str) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(encode(BindTransceiver(system_id=system_id, password=password), 1))
        frames = FrameBuffer()
        while True:
            data = await asyncio.wait_for(reader.read(4096), 10)
            assert data, "closed before bind_transceiver_resp"
            for frame in frames.feed(data):
                return decode(frame).status
    finally:
        writer.close()


def account_toml(password: str, extra: str = "") -> str:
    return (
        f'[[accounts]]\nsystem_id = "esme1"\npassword_hash = "{hash_password(password)}"\n'
        f'allowed_networks = ["127.0.0.0/8"]\n{extra}\n'
    )


async def test_sighup_reloads_accounts_and_logging_and_keeps_running_on_errors(
    tmp_path: Path,
) -> None:
    server = "bind_failure_delay = 0"
    config = write_config(tmp_path, account_toml("old"), server=server)
    node, port = await Node.start(config)
    try:
        assert await bind_status(port, "esme1", "old") == 0
        # A new password and log level (applied), a new window (applied to new
        # connections), a new cap on unbound connections (needs a restart).
        write_config(
            tmp_path,
            account_toml("new", "throughput = 5.0") + '[logging]\nlevel = "debug"\n',
            server=server + "\nwindow = 20\nmax_unbound_connections = 20",
        )
        node.signal(signal.SIGHUP)
        line = await node.wait_for("configuration reloaded")
        assert (
            "applied=logging.level,smpp.server.window,accounts[esme1].password_hash,"
            "accounts[esme1].throughput restart_needed=smpp.server.max_unbound_connections"
        ) in line
        assert "smpp.server.window" in await node.wait_for("to new connections only")
        assert "max_unbound_connections" in await node.wait_for("only after a restart")
        assert await bind_status(port, "esme1", "new") == 0
        # The level is debug now: the authenticator's debug line shows.
        assert "system_id=esme1" in await node.wait_for("level=debug")
        assert await bind_status(port, "esme1", "old") == CommandStatus.ESME_RINVPASWD

        # A file with errors changes nothing and the node keeps running.
        config.write_text(config.read_text() + "\n[smpp.server]\nport = -1\n")
        node.signal(signal.SIGHUP)
        assert "1 error" in await node.wait_for("configuration not reloaded")
        assert "opensmsc.toml" in await node.wait_for("configuration error:")
        assert await bind_status(port, "esme1", "new") == 0

        node.signal(signal.SIGTERM)
        assert await node.wait() == 0
        log = "".join(node.lines)
        assert "stopping: draining within" in log
        assert "Traceback" not in log
    finally:
        if node.proc.returncode is None:
            node.proc.kill()
            await node.proc.wait()


# --------------------------------------------------------------------------- logs


async def submit_one(port: int, text: bytes) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    frames = FrameBuffer()

    async def answer() -> int:
        while True:
            data = await asyncio.wait_for(reader.read(4096), 10)
            assert data, "closed before the answer"
            for frame in frames.feed(data):
                return decode(frame).status

    try:
        writer.write(encode(BindTransceiver(system_id="esme1", password="pw"), 1))
        assert await answer() == 0
        writer.write(encode(SubmitSm(destination_addr="447700900001", short_message=text), 2))
        assert await answer() == 0
    finally:
        writer.close()


@pytest.mark.parametrize("show", [False, True], ids=["redacted", "shown"])
async def test_message_text_in_logs_only_with_show_short_message(
    tmp_path: Path, show: bool
) -> None:
    logging_toml = f'[logging]\nlevel = "debug"\nshow_short_message = {str(show).lower()}\n'
    config = write_config(tmp_path, account_toml("pw") + logging_toml)
    node, port = await Node.start(config)
    try:
        await submit_one(port, b"secret\nlevel=error forged")
        accepted = await node.wait_for(" accepted message_id=")
        delivered = await node.wait_for(" delivered message_id=")
    finally:
        node.signal(signal.SIGTERM)
        await node.wait()
    for line in (accepted, delivered):
        if show:
            assert 'text="secret\\nlevel=error forged"' in line  # escaped: no forged line
        else:
            # Redacted, and nothing of the message after it: the line ends with its trace id.
            assert re.search(r" text=<25 octets redacted> trace=[0-9a-f]{32}$", line.rstrip())
            assert "secret" not in line
    assert "secret" not in "".join(node.lines) or show


def test_a_password_file_that_is_not_text_is_one_line(tmp_path: Path) -> None:
    secret = tmp_path / "esme1.secret"
    secret.write_bytes(b"\xff\xfe\x00binary")
    extra = f'[[accounts]]\nsystem_id = "esme1"\npassword_file = "{secret}"\n'
    line = failure_line(run_node(write_config(tmp_path, extra)))
    assert line.startswith(f"{secret}: accounts[esme1].password_file: cannot read {secret}: ")
