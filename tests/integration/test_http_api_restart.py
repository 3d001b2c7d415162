"""Across a kill -9 of `opensmsc run --config` in a process of its own: the retry of a request
made before is answered with the first answer and its messages are stored once; webhooks owed
at the kill all arrive after the restart."""

from __future__ import annotations

import json
import re
import signal
import sqlite3
from pathlib import Path

import httpx
import pytest

from opensmsc.smpp import MessageState

from .test_node_process import Node, account_toml
from .webhook_receiver import webhook_receiver

pytestmark = pytest.mark.timeout(90)

MESSAGE = {
    "to": "+447700900123",
    "from": "Example",
    "text": "one " * 60,  # two parts: both ids must come back
    "client_reference": "kill-9",
}


def _config(folder: Path, api: str = "") -> Path:
    path = folder / "opensmsc.toml"
    path.write_text(
        f"""
[node]
data_dir = "data"
[smpp.server]
bind_address = "127.0.0.1"
port = 0
tls_enabled = false
[http]
enabled = false
[api]
enabled = true
bind_address = "127.0.0.1"
port = 0
{api}
{account_toml("secret")}
"""
    )
    return path


async def _start(config: Path) -> tuple[Node, httpx.AsyncClient]:
    node, _ = await Node.start(config)
    port = int(re.search(r"'api': (\d+)", node.lines[-1]).group(1))  # type: ignore[union-attr]
    client = httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{port}", auth=("esme1", "secret"), timeout=10
    )
    return node, client


async def test_a_retry_after_kill_9_gets_the_first_answer(tmp_path: Path) -> None:
    config = _config(tmp_path)
    headers = {"Idempotency-Key": "survives-kill-9"}
    node, client = await _start(config)
    try:
        first = await client.post("/v1/messages", json=MESSAGE, headers=headers)
        assert first.status_code == 201, first.text
        assert first.json()["parts"] == 2
        node.signal(signal.SIGKILL)
        assert await node.wait() == -signal.SIGKILL
    finally:
        await client.aclose()
        if node.proc.returncode is None:
            node.proc.kill()
            await node.proc.wait()
    node, client = await _start(config)
    try:
        retry = await client.post("/v1/messages", json=MESSAGE, headers=headers)
        assert retry.status_code == 201, retry.text
        assert retry.content == first.content
        assert retry.headers["idempotent-replayed"] == "true"
        listed = await client.get("/v1/messages")
        assert [m["id"] for m in listed.json()["messages"]] == first.json()["ids"]
        node.signal(signal.SIGTERM)
        assert await node.wait() == 0
    finally:
        await client.aclose()
        if node.proc.returncode is None:
            node.proc.kill()
            await node.proc.wait()
    with sqlite3.connect(tmp_path / "data" / "messages.sqlite3") as db:
        stored = db.execute(
            "SELECT message_id FROM message WHERE client_reference = 'kill-9' ORDER BY seq"
        ).fetchall()
    assert [m for (m,) in stored] == first.json()["ids"]


async def test_webhooks_pending_at_a_kill_9_all_arrive_after_the_restart(tmp_path: Path) -> None:
    up = False

    def script(n: int) -> int:
        return 200 if up else 500

    async with webhook_receiver(script) as receiver:
        config = _config(
            tmp_path,
            """
webhook_backoff = 0.05
webhook_max_backoff = 0.2
webhook_timeout = 1
""",
        )
        node, client = await _start(config)
        try:
            ids = []
            for n in range(10):
                answer = await client.post(
                    "/v1/messages",
                    json={**MESSAGE, "text": f"m{n}", "callback_url": receiver.url},
                )
                assert answer.status_code == 201, answer.text
                ids.append(answer.json()["id"])
            # Every webhook was tried (and failed) at least once: all are owed, none done.
            await receiver.wait_for(
                lambda: {json.loads(r.body)["data"]["id"] for r in receiver.requests} == set(ids)
            )
            node.signal(signal.SIGKILL)
            assert await node.wait() == -signal.SIGKILL
        finally:
            await client.aclose()
            if node.proc.returncode is None:
                node.proc.kill()
                await node.proc.wait()
        up = True
        node, client = await _start(config)
        try:
            await receiver.wait_for(
                lambda: (
                    {json.loads(r.body)["data"]["id"] for r in receiver.answered(200)} == set(ids)
                )
            )
            node.signal(signal.SIGTERM)
            assert await node.wait() == 0
        finally:
            await client.aclose()
            if node.proc.returncode is None:
                node.proc.kill()
                await node.proc.wait()
    with sqlite3.connect(tmp_path / "data" / "messages.sqlite3") as db:
        states = db.execute(
            "SELECT state, COUNT(*) FROM message WHERE direction = 3 AND callback_url IS NOT NULL"
            " GROUP BY state"
        ).fetchall()
    assert states == [(int(MessageState.DELIVERED), 10)]
