"""The simulated network's runtime state survives a restart, kill -9 included (issue 10 items 2
and 3): `opensmsc run --config` as a child process, the CLI as another.

Two subscribers are absent when a message is submitted to each: one listed in the configuration,
one added at runtime with `opensmsc subscribers add`. Once the store holds each message as
waiting (query_sm shows the absentSubscriberSM error of its attempt), the node is killed with
SIGKILL and started again on the same data folder. Attaching each subscriber with
`opensmsc subscribers set ... --state attached` must send alertServiceCentre and release its
message at once: the receipt comes within seconds, where the retry timer would wait a minute.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from opensmsc.smpp import CommandId, DeliverSm, QuerySm, receipt_from_pdu
from tests.conftest import SmppTestClient
from tests.durability.procs import HOST, REPO, SmscProcess, cheap_hash, free_port, listening

pytestmark = pytest.mark.slow

CONFIGURED = "447700900101"  # absent in [[network.subscribers]]
ADDED = "447700900102"  # added at runtime, absent
FIRST_RETRY = 60.0  # seconds: the first retry of an absent subscriber (routing/retry.py)


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
bind_failure_delay = 0
bind_failure_max_delay = 0

[http]
bind_address = "{HOST}"
port = {http_port}

[[accounts]]
system_id = "esme1"
password_hash = "{cheap_hash("pw1")}"

[[network.subscribers]]
msisdn = "+{CONFIGURED}"
state = "absent"
"""


def cli(http_port: int, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "opensmsc", *argv, "--url", f"http://{HOST}:{http_port}"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=REPO,
    )


async def cli_ok(http_port: int, *argv: str) -> str:
    done = await asyncio.to_thread(cli, http_port, *argv)
    assert done.returncode == 0, f"opensmsc {' '.join(argv)}: {done.stderr}"
    return done.stdout


async def patch(http_port: int, path: str, body: dict[str, Any]) -> None:
    def call() -> int:
        request = urllib.request.Request(
            f"http://{HOST}:{http_port}{path}",
            data=json.dumps(body).encode(),
            method="PATCH",
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)

    assert await asyncio.to_thread(call) == 200


async def start(node: SmscProcess, http_port: int) -> None:
    await node.start()
    deadline = time.monotonic() + 20
    while not await listening(http_port):
        assert time.monotonic() < deadline, node.log_tail()
        await asyncio.sleep(0.05)


async def bound(port: int) -> SmppTestClient:
    reader, writer = await asyncio.open_connection(HOST, port)
    client = SmppTestClient(reader, writer)
    resp = await client.bind("trx", "esme1", "pw1")
    assert resp.status == 0
    return client


async def waiting_with_error(client: SmppTestClient, message_id: str, error: int) -> None:
    """Until query_sm shows the attempt's error: the store has recorded the failed attempt."""
    deadline = time.monotonic() + 20
    while True:
        answer = await client.request(QuerySm(message_id=message_id, source_addr="12345"))
        fields: Any = answer.pdu
        if fields.error_code == error:
            return
        assert time.monotonic() < deadline, f"{message_id}: error_code {fields.error_code}"
        await asyncio.sleep(0.05)


async def next_receipt(client: SmppTestClient, timeout: float) -> tuple[str, str]:
    decoded = await client.expect(CommandId.DELIVER_SM, timeout=timeout)
    assert isinstance(decoded.pdu, DeliverSm)
    info = receipt_from_pdu(decoded.pdu)
    assert info is not None and info.receipt is not None
    return info.message_id, info.receipt.stat


async def test_attach_after_kill_9_releases_messages_queued_before(tmp_path: Path) -> None:
    port, http_port = free_port(), free_port()
    config = tmp_path / "opensmsc.toml"
    config.write_text(config_toml(tmp_path / "data", port, http_port))
    node = SmscProcess(config, port, tmp_path / "node.log")
    try:
        await start(node, http_port)
        await cli_ok(http_port, "subscribers", "add", f"+{ADDED}", "--state", "absent")
        await patch(http_port, f"/v1/network/handsets/+{ADDED}", {"capacity": 7})
        changed = await asyncio.to_thread(
            cli, http_port, "subscribers", "set", f"+{CONFIGURED}", "--imsi", "001010000000101"
        )
        assert changed.returncode == 0, changed.stderr
        esme = await bound(port)
        ids: dict[str, str] = {}
        for msisdn in (CONFIGURED, ADDED):
            resp = await esme.submit(
                destination_addr=msisdn, short_message=b"queued", registered_delivery=1
            )
            assert resp.status == 0
            ids[resp.pdu.message_id] = msisdn  # type: ignore[attr-defined]
        for message_id in ids:
            await waiting_with_error(esme, message_id, 6)  # absentSubscriberSM
        failed_at = time.monotonic()
        await esme.close()

        node.kill()
        await start(node, http_port)

        listed = json.loads(await cli_ok(http_port, "subscribers", "list", "--json"))
        by_number = {s["msisdn"]: s for s in listed["subscribers"]}
        assert by_number[f"+{ADDED}"]["state"] == "absent"  # added at runtime, kept
        assert by_number[f"+{CONFIGURED}"]["imsi"] == "001010000000101"  # changed, kept
        for msisdn in (CONFIGURED, ADDED):
            waiting = by_number[f"+{msisdn}"]["message_waiting"]
            assert waiting is not None and waiting["mnrf"] is True, by_number[f"+{msisdn}"]

        esme = await bound(port)
        receipts: dict[str, str] = {}
        for msisdn in (CONFIGURED, ADDED):
            await cli_ok(http_port, "subscribers", "set", f"+{msisdn}", "--state", "attached")
            message_id, stat = await next_receipt(esme, timeout=15)
            receipts[ids[message_id]] = stat
        assert receipts == {CONFIGURED: "DELIVRD", ADDED: "DELIVRD"}
        # Released by the alerts, not by the retry timer.
        assert time.monotonic() - failed_at < FIRST_RETRY
        inbox = json.loads(await cli_ok(http_port, "inbox", f"+{ADDED}", "--json"))
        assert [m["text"] for m in inbox["messages"]] == ["queued"]
        assert inbox["capacity"] == 7  # the handset's setting is kept; its inbox is not
        assert inbox["volatile"] is True
        await esme.close()
        assert node.stop() == 0
    finally:
        node.close()
