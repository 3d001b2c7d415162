"""Across a kill -9 of `opensmsc run --config` (a process of its own): what the operator did to
messages before (cancel, expire, retry through /v1/admin/messages) is what `opensmsc messages
list` shows after the restart, every message once, found through its destination's index
(migration 11), and the database is intact."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import sqlite3
from pathlib import Path
from typing import Any

import httpx
import pytest

from opensmsc.cli.main import main

from .test_node_process import Node, account_toml

pytestmark = pytest.mark.timeout(120)

ABSENT = "+44770090010"  # + one digit: the prefix the network holds absent
PRESENT = "+447700900200"


def _config(folder: Path) -> Path:
    path = folder / "opensmsc.toml"
    path.write_text(
        f"""
[node]
data_dir = "data"
[policyd]
enabled = false
[smpp.server]
bind_address = "127.0.0.1"
port = 0
tls_enabled = false
[http]
bind_address = "127.0.0.1"
port = 0
[[network.prefix_defaults]]
prefix = "44770090010"
state = "absent"
{account_toml("secret")}
"""
    )
    return path


async def _start(config: Path) -> tuple[Node, httpx.AsyncClient, str]:
    node, _ = await Node.start(config)
    port = int(re.search(r"'http': (\d+)", node.lines[-1]).group(1))  # type: ignore[union-attr]
    url = f"http://127.0.0.1:{port}"
    return node, httpx.AsyncClient(base_url=url, timeout=20), url


async def _stop(node: Node, client: httpx.AsyncClient) -> None:
    await client.aclose()
    if node.proc.returncode is None:
        node.proc.kill()
        await node.proc.wait()


async def _until_waiting(client: httpx.AsyncClient, ids: list[str]) -> None:
    deadline = asyncio.get_running_loop().time() + 30
    for message_id in ids:
        while True:
            message = (await client.get(f"/v1/admin/messages/{message_id}")).json()
            if message["state"] == "enroute" and message["attempts"] >= 1:
                break
            assert asyncio.get_running_loop().time() < deadline, message
            await asyncio.sleep(0.05)


async def test_operator_changes_survive_kill_9(tmp_path: Path, capsys: Any) -> None:
    config = _config(tmp_path)
    node, client, _ = await _start(config)
    try:
        sent: list[tuple[str, str]] = []  # (id, destination), oldest first
        for i in range(20):
            to = f"{ABSENT}{i % 4}" if i % 5 else PRESENT
            body = {"account": "esme1", "source": "Shop", "destination": to, "text": f"m{i}"}
            answer = await client.post("/v1/admin/messages", json=body)
            assert answer.status_code == 201, answer.text
            sent.append((answer.json()["id"], to))
        waiting = [m for m, to in sent if to != PRESENT]
        await _until_waiting(client, waiting)
        expected = {m: "enroute" for m in waiting}
        expected |= {m: "delivered" for m, to in sent if to == PRESENT}
        for message_id, action, state in (
            (waiting[0], "cancel", "deleted"),
            (waiting[1], "cancel", "deleted"),
            (waiting[2], "expire", "expired"),
            (waiting[3], "retry", "enroute"),
        ):
            answer = await client.post(f"/v1/admin/messages/{message_id}/{action}")
            assert answer.status_code == 200 and answer.json()["state"] == state, answer.text
            expected[message_id] = state
        for message_id, to in sent:
            if to == PRESENT:  # delivered at once: its state is final before the kill
                await _until_final(client, message_id)
        node.signal(signal.SIGKILL)
        assert await node.wait() == -signal.SIGKILL
    finally:
        await _stop(node, client)

    node, client, url = await _start(config)
    try:

        async def cli(*argv: str) -> dict[str, Any]:
            capsys.readouterr()
            code = await asyncio.to_thread(main, [*argv, "--url", url, "--json"])
            out, err = capsys.readouterr()
            assert code == 0, err
            return dict(json.loads(out))

        listed = await cli("messages", "list", "--limit", "100")
        assert [m["id"] for m in listed["messages"]] == [m for m, _ in reversed(sent)]
        assert {m["id"]: m["state"] for m in listed["messages"]} == expected
        one = f"{ABSENT}1"
        to_one = await cli("messages", "list", "--destination", one)
        assert [m["id"] for m in to_one["messages"]] == [m for m, to in reversed(sent) if to == one]
        # An action after the restart still keeps to one final state.
        answer = await client.post(f"/v1/admin/messages/{waiting[0]}/expire")
        assert answer.status_code == 409
        node.signal(signal.SIGTERM)
        assert await node.wait() == 0
    finally:
        await _stop(node, client)
    with sqlite3.connect(tmp_path / "data" / "messages.sqlite3") as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert db.execute("SELECT version FROM schema_version").fetchone()[0] >= 11


async def _until_final(client: httpx.AsyncClient, message_id: str) -> None:
    deadline = asyncio.get_running_loop().time() + 30
    while (await client.get(f"/v1/admin/messages/{message_id}")).json()["state"] != "delivered":
        assert asyncio.get_running_loop().time() < deadline
        await asyncio.sleep(0.05)
