"""A message's trail, its CDR line and its trace id, end to end (issue 16): an ESME submits over
SMPP to the simulated network; the admin API's GET /v1/admin/messages/{id}/trail and
`opensmsc trace ID` tell its story (accepted over smpp from the client's address, routed,
attempted, final, the receipt made and taken by deliver_sm_resp); `[cdr]` wrote its line.

The durability case runs `opensmsc run` as a child process: a message to an absent subscriber
waits after its first attempt; the node is killed with SIGKILL and started again; the trail of
what happened before the kill is whole, and the rest of the story (the subscriber attached,
the message delivered) follows it.
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest

from opensmsc import app
from opensmsc.config import CdrConfig, LoggingConfig
from opensmsc.smpp import CommandId
from tests.conftest import SmppTestClient, TestSmsc, make_config
from tests.durability.procs import HOST, REPO, SmscProcess, cheap_hash, free_port, listening

pytestmark = pytest.mark.timeout(120)

ATTACHED = "447700900123"
ABSENT = "447700900101"
TRACE_ID = re.compile(r"[0-9a-f]{32}")


def cli(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "opensmsc", *argv],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=REPO,
    )


async def trail_until(
    http_port: int, message_id: str, kind: str, *, timeout: float = 20
) -> dict[str, Any]:
    """The trail document once it holds an event of `kind`."""
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(base_url=f"http://{HOST}:{http_port}", timeout=10) as client:
        while True:
            answer = await client.get(f"/v1/admin/messages/{message_id}/trail")
            if answer.status_code == 200:
                body: dict[str, Any] = answer.json()
                if any(event["kind"] == kind for event in body["events"]):
                    return body
            assert time.monotonic() < deadline, f"no {kind} event: {answer.text}"
            await asyncio.sleep(0.05)


def kinds(body: dict[str, Any]) -> list[str]:
    return [event["kind"] for event in body["events"]]


def first(body: dict[str, Any], kind: str) -> dict[str, Any]:
    return next(event["detail"] for event in body["events"] if event["kind"] == kind)


async def test_trail_and_cdr_of_a_message_submitted_over_smpp(tmp_path: Path) -> None:
    data_dir = tmp_path / "node"
    data_dir.mkdir()
    config = replace(
        make_config(data_dir),
        cdr=CdrConfig(enabled=True),
        logging=LoggingConfig(show_short_message=True),
    )
    node = TestSmsc(running=await app.start(config), config=config, data_dir=data_dir)
    try:
        esme = await node.bound("trx", "esme1")
        resp = await esme.submit(
            destination_addr=ATTACHED, short_message=b"hello trail", registered_delivery=1
        )
        assert resp.status == 0
        message_id = resp.pdu.message_id  # type: ignore[attr-defined]
        await esme.expect(CommandId.DELIVER_SM)  # the receipt, answered ESME_ROK (auto_ack)
        http_port = node.running.ports["http"]
        body = await trail_until(http_port, message_id, "receipt_taken")

        assert body["id"] == message_id
        assert TRACE_ID.fullmatch(body["trace_id"])
        assert (body["account"], body["state"], body["destination"]) == (
            "esme1",
            "DELIVERED",
            ATTACHED,
        )
        assert kinds(body) == ["accepted", "routed", "attempt", "final", "receipt", "receipt_taken"]
        accepted = first(body, "accepted")
        local = esme.local_address
        assert accepted["door"] == "smpp" and accepted["session"].startswith("smpp-")
        assert accepted["address"] == f"{local[0]}:{local[1]}"
        assert accepted["receipt_requested"] is True
        assert first(body, "routed")["routes"] == ["network"]
        attempt = first(body, "attempt")
        assert (attempt["route"], attempt["outcome"]) == ("network", "delivered")
        assert attempt["latency_ms"] >= 0
        final = first(body, "final")
        assert (final["state"], final["route"]) == ("DELIVERED", "network")
        receipt = first(body, "receipt")
        assert receipt["to"] == "smpp" and receipt["state"] == "DELIVERED"
        taken = first(body, "receipt_taken")
        assert taken == {"receipt_id": receipt["receipt_id"], "by": "deliver_sm_resp"}
        times = [event["at"] for event in body["events"]]
        assert times == sorted(times) and all(t.endswith("Z") for t in times)

        # The receipt's own id finds the same story.
        async with httpx.AsyncClient(base_url=f"http://{HOST}:{http_port}") as client:
            by_receipt = (
                await client.get(f"/v1/admin/messages/{receipt['receipt_id']}/trail")
            ).json()
            assert by_receipt["receipt_of"] == message_id
            assert by_receipt["events"] == body["events"]
            missing = await client.get("/v1/admin/messages/0000000000000000/trail")
            assert missing.status_code == 404
            assert missing.headers["content-type"] == "application/problem+json"
            assert missing.json()["type"].endswith("message-not-found")

        # The CLI, as an operator runs it against the node.
        url = f"http://{HOST}:{http_port}"
        shown = await asyncio.to_thread(cli, "trace", message_id, "--url", url)
        assert shown.returncode == 0, shown.stderr
        lines = shown.stdout.splitlines()
        assert lines[0].startswith(f"message {message_id} trace {body['trace_id']}: MT of esme1")
        assert [line.split()[2] for line in lines[1:]] == kinds(body)
        assert "route=network outcome=delivered" in lines[3]
        assert lines[1].split()[1] == "+0.000s"
        as_json = await asyncio.to_thread(cli, "trace", message_id, "--url", url, "--json")
        assert json.loads(as_json.stdout) == body
        unknown = await asyncio.to_thread(cli, "trace", "nope", "--url", url)
        assert unknown.returncode == 1 and "not found" in unknown.stderr.lower()
    finally:
        await node.stop()  # the CDR file is flushed and closed with the engine

    cdr = [json.loads(line) for line in (data_dir / "cdr.jsonl").read_text().splitlines()]
    (line,) = [c for c in cdr if c["id"] == message_id]
    assert line["trace_id"] == body["trace_id"]
    assert (line["account"], line["state"], line["route"], line["error"]) == (
        "esme1",
        "DELIVERED",
        "network",
        None,
    )
    assert (line["source"], line["destination"], line["parts"]) == ("12345", ATTACHED, 1)
    assert line["text"] == "hello trail"  # show_short_message
    assert line["submitted_at"] <= line["done_at"] and line["latency_ms"] >= 0


def config_toml(data_dir: Path, port: int, http_port: int) -> str:
    return f"""\
[node]
data_dir = "{data_dir}"

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

[cdr]
enabled = true

[[accounts]]
system_id = "esme1"
password_hash = "{cheap_hash("pw1")}"

[[network.subscribers]]
msisdn = "+{ABSENT}"
state = "absent"
"""


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


@pytest.mark.slow
async def test_trail_of_a_message_accepted_before_kill_9_is_whole(tmp_path: Path) -> None:
    port, http_port = free_port(), free_port()
    config = tmp_path / "opensmsc.toml"
    data_dir = tmp_path / "data"
    config.write_text(config_toml(data_dir, port, http_port))
    node = SmscProcess(config, port, tmp_path / "node.log")
    try:
        await start(node, http_port)
        esme = await bound(port)
        resp = await esme.submit(
            destination_addr=ABSENT, short_message=b"waits", registered_delivery=1
        )
        assert resp.status == 0
        message_id = resp.pdu.message_id  # type: ignore[attr-defined]
        before = await trail_until(http_port, message_id, "retry")
        assert kinds(before) == ["accepted", "routed", "attempt", "retry"]
        attempt = first(before, "attempt")
        assert (attempt["outcome"], attempt["error"]) == ("temporary_failure", 6)  # absent
        await esme.close()

        node.kill()
        await start(node, http_port)

        after_restart = await trail_until(http_port, message_id, "retry")
        assert after_restart == before  # nothing lost, nothing doubled, the same trace id

        esme = await bound(port)
        attached = await asyncio.to_thread(
            cli,
            "subscribers",
            "set",
            f"+{ABSENT}",
            "--state",
            "attached",
            "--url",
            f"http://{HOST}:{http_port}",
        )
        assert attached.returncode == 0, attached.stderr
        await esme.expect(CommandId.DELIVER_SM, timeout=15)
        whole = await trail_until(http_port, message_id, "receipt_taken")
        assert whole["events"][: len(before["events"])] == before["events"]
        assert kinds(whole)[len(before["events"]) :] == [
            "released",
            "routed",
            "attempt",
            "final",
            "receipt",
            "receipt_taken",
        ]
        assert first(whole, "released") == {"by": f"alert for {ABSENT}"}
        assert first(whole, "final")["state"] == "DELIVERED"
        await esme.close()
        assert node.stop() == 0
    finally:
        node.close()
    cdr = [json.loads(line) for line in (data_dir / "cdr.jsonl").read_text().splitlines()]
    assert [(c["id"], c["state"], c["trace_id"]) for c in cdr] == [
        (message_id, "DELIVERED", before["trace_id"])
    ]
    assert cdr[0]["text"] is None and cdr[0]["text_octets"] == 5  # redacted by default


async def test_an_http_message_says_its_door_and_a_poll_of_its_outcome_is_noted_once(
    tmp_path: Path,
) -> None:
    from .api_node import MESSAGE, api_node

    async with api_node(tmp_path) as node:
        message_id = (await node.client.post("/v1/messages", json=MESSAGE)).json()["id"]
        for _ in range(200):
            status = (await node.client.get(f"/v1/messages/{message_id}")).json()
            if status["done_at"] is not None:
                break
            await asyncio.sleep(0.05)
        for _ in range(3):  # polled again: noted once
            assert (await node.client.get(f"/v1/messages/{message_id}")).status_code == 200
        events = await node.store.trail(message_id)
        assert [e.kind for e in events] == [
            "accepted",
            "routed",
            "attempt",
            "final",
            "receipt_taken",
        ]
        assert events[0].detail["door"] == "http"
        assert events[-1].detail == {"by": "http_poll"}
        record = await node.store.get(message_id)
        assert record is not None and record.trace_id is not None


async def test_webhook_calls_and_the_taking_of_the_report_are_on_the_trail(
    tmp_path: Path,
) -> None:
    from .api_node import MESSAGE, api_node
    from .webhook_receiver import webhook_receiver

    quick = "webhook_backoff = 0.05\nwebhook_max_backoff = 0.2\nwebhook_timeout = 0.5\n"
    async with (
        webhook_receiver(lambda n: 503 if n == 0 else 200) as receiver,
        api_node(tmp_path, api=quick) as node,
    ):
        answer = await node.client.post(
            "/v1/messages", json={**MESSAGE, "callback_url": receiver.url}
        )
        message_id = answer.json()["id"]
        deadline = time.monotonic() + 20
        while True:
            events = await node.store.trail(message_id)
            if events and events[-1].kind == "receipt_taken":
                break
            assert time.monotonic() < deadline, [e.kind for e in events]
            await asyncio.sleep(0.05)
    assert [e.kind for e in events] == [
        "accepted",
        "routed",
        "attempt",
        "final",
        "receipt",
        "webhook",
        "webhook",
        "receipt_taken",
    ]
    receipt = events[4].detail
    assert receipt["to"] == "webhook" and receipt["host"] == "127.0.0.1"
    calls = [e.detail for e in events if e.kind == "webhook"]
    assert [(c["status"], c["attempt"], c["host"]) for c in calls] == [
        (503, 1, "127.0.0.1"),
        (200, 2, "127.0.0.1"),
    ]
    assert events[-1].detail == {"receipt_id": receipt["receipt_id"], "by": "webhook"}
