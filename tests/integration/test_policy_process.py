"""The policy of a node run as a process (`opensmsc run --config`, issue 11): SIGHUP reloads the
policy file while route.query traffic continues, and an opt-out by MO survives a kill -9.

Opt-out: a handset sends "stop" (any case) to the short code 12345 through the simulated
network's admin API; the node then rejects MT from 12345 to that handset with the opt-out
status (0x66 by default): a submit_sm from the account, and its policy port, which answers
from the same policy instance. The node is killed with SIGKILL and started again on the same
data folder: still rejected. "START" lets MT through again, and that survives a restart too.
"""

from __future__ import annotations

import asyncio
import json
import signal
import struct
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import SmppTestClient
from tests.durability.procs import HOST, SmscProcess, cheap_hash, free_port

pytestmark = pytest.mark.slow

HANDSET = "447700900123"
SHORT_CODE = "12345"


def config_toml(tmp_path: Path, *, smpp: int, http: int, policyd: int) -> str:
    return f"""\
[node]
data_dir = "{tmp_path / "data"}"

[logging]
level = "info"

[policyd]
bind_address = "{HOST}"
port = {policyd}

[smpp.server]
bind_address = "{HOST}"
port = {smpp}
tls_enabled = false

[http]
bind_address = "{HOST}"
port = {http}

[routing]
policy_file = "{tmp_path / "policy.toml"}"

[[accounts]]
system_id = "esme1"
password_hash = "{cheap_hash("pw1")}"
mo_prefixes = ["{SHORT_CODE}"]
"""


POLICY = f"""\
default_routes = ["network"]

[opt_out]
short_codes = ["{SHORT_CODE}"]
"""


async def ask(port: int, source: str, destination: str) -> dict[str, Any]:
    reader, writer = await asyncio.open_connection(HOST, port)
    try:
        body = json.dumps(
            {
                "jsonrpc": "2.0",
                "id": 1,
                "method": "route.query",
                "params": {
                    "account": "esme1",
                    "source": {"addr": source, "ton": 3, "npi": 0},
                    "destination": {"addr": destination, "ton": 1, "npi": 1},
                },
            }
        ).encode()
        writer.write(struct.pack(">I", len(body)) + body)
        async with asyncio.timeout(5):
            (length,) = struct.unpack(">I", await reader.readexactly(4))
            answer: dict[str, Any] = json.loads(await reader.readexactly(length))
        return answer["result"]  # type: ignore[no-any-return]
    finally:
        writer.close()
        await writer.wait_closed()


class Node:
    def __init__(self, tmp_path: Path) -> None:
        self.smpp, self.http, self.policyd = free_port(), free_port(), free_port()
        config = tmp_path / "node.toml"
        config.write_text(
            config_toml(tmp_path, smpp=self.smpp, http=self.http, policyd=self.policyd)
        )
        self.log = tmp_path / "node.log"
        self.process = SmscProcess(config, self.smpp, self.log)

    async def start(self) -> None:
        await self.process.start(timeout=60)
        for _ in range(200):  # the policy port opens after the SMPP one
            try:
                await ask(self.policyd, SHORT_CODE, HANDSET)
                return
            except OSError:
                await asyncio.sleep(0.05)
        raise AssertionError("the policy port did not open")

    async def mo(self, text: str) -> None:
        async with httpx.AsyncClient(base_url=f"http://{HOST}:{self.http}", timeout=10) as c:
            answer = await c.post(
                f"/v1/network/handsets/+{HANDSET}/mo", json={"to": SHORT_CODE, "text": text}
            )
        assert answer.status_code == 202, answer.text

    async def decision(self) -> tuple[str, int | None]:
        result = await ask(self.policyd, SHORT_CODE, HANDSET)
        return result["action"], result.get("status")

    async def mt_status(self) -> int:
        """submit_sm from the account, from the short code to the handset: its status."""
        reader, writer = await asyncio.open_connection(HOST, self.smpp)
        client = SmppTestClient(reader, writer)
        try:
            assert (await client.bind("trx", "esme1", "pw1")).status == 0
            resp = await client.submit(
                source_addr_ton=3, source_addr=SHORT_CODE, destination_addr=HANDSET
            )
            return int(resp.status)
        finally:
            writer.close()

    async def decided(self) -> tuple[str, int | None, int]:
        """What the node's policy server answers, and what the node answers an MT."""
        action, status = await self.decision()
        return action, status, await self.mt_status()


async def test_an_opt_out_by_mo_survives_a_kill_and_start_lets_mt_through(
    tmp_path: Path,
) -> None:
    (tmp_path / "policy.toml").write_text(POLICY)
    node = Node(tmp_path)
    await node.start()
    try:
        assert await node.decided() == ("route", None, 0)
        await node.mo("  stop ")  # any case, blanks around ignored
        assert await node.decided() == ("reject", 0x66, 0x66)
        # Only MT from that short code: another sender still reaches the handset.
        assert (await ask(node.policyd, "ACME", HANDSET))["action"] == "route"
        # Other text to the short code changes nothing.
        await node.mo("HELP")
        assert await node.decision() == ("reject", 0x66)

        node.process.kill()
        await node.start()
        assert await node.decided() == ("reject", 0x66, 0x66)

        await node.mo("START")
        assert await node.decided() == ("route", None, 0)
        node.process.kill()
        await node.start()
        assert await node.decided() == ("route", None, 0)
    finally:
        node.process.stop()
        node.process.close()
    assert "opt-out handset=447700900123 sender=12345" in node.log.read_text()


async def test_sighup_reloads_the_policy_while_queries_continue(tmp_path: Path) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text('default_routes = ["loopback"]\n')
    node = Node(tmp_path)
    await node.start()
    answers: list[str] = []
    stop = asyncio.Event()

    async def traffic() -> None:
        while not stop.is_set():
            result = await ask(node.policyd, "ACME", HANDSET)
            answers.append(",".join(r["route"] for r in result["routes"]))

    task = asyncio.create_task(traffic())
    try:
        await asyncio.sleep(0.3)
        policy.write_text('default_routes = ["network"]\n')
        assert node.process.proc is not None
        node.process.proc.send_signal(signal.SIGHUP)
        for _ in range(200):
            if answers and answers[-1] == "network":
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.2)
        # A bad file: the log names it, and the policy in force stays.
        policy.write_text('default_routes = ["nowhere"]\n')
        node.process.proc.send_signal(signal.SIGHUP)
        await asyncio.sleep(1.0)
    finally:
        stop.set()
        await task
        node.process.stop()
        node.process.close()
    assert set(answers) == {"loopback", "network"}, set(answers)
    switched = answers.index("network")
    assert all(a == "network" for a in answers[switched:]), "went back to the old policy"
    assert answers[:switched] and all(a == "loopback" for a in answers[:switched])
    log = node.log.read_text()
    assert "policy reloaded" in log
    assert f'{policy}:1: default_routes[0]: "nowhere"' in log, log[-2000:]
