"""A node with `[routing] policy_file` serves its rules on the policy port: RulePolicy behind
the policy server, over a real socket; what no rule routes goes by [routing]."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import struct
from pathlib import Path
from typing import Any

import pytest

from opensmsc import app
from opensmsc.errors import ConfigError
from tests.conftest import make_config

HOST = "127.0.0.1"
POLICY = """
[[rule]]
name = "uk"
prefix = ["44"]
routes = ["loopback"]
[[rule]]
name = "no-casino"
keywords = ["casino"]
reject = "ESME_RX_R_APPN"
reason = "gambling"
"""


async def query(port: int, params: dict[str, Any]) -> dict[str, Any]:
    reader, writer = await asyncio.open_connection(HOST, port)
    try:
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "route.query", "params": params})
        writer.write(struct.pack(">I", len(body)) + body.encode())
        (length,) = struct.unpack(">I", await asyncio.wait_for(reader.readexactly(4), 5))
        answer: dict[str, Any] = json.loads(await reader.readexactly(length))
        return answer["result"]  # type: ignore[no-any-return]
    finally:
        writer.close()
        await writer.wait_closed()


def params(destination: str, text: str | None = None) -> dict[str, Any]:
    found: dict[str, Any] = {
        "account": "esme1",
        "source": {"addr": "ACME", "ton": 5, "npi": 0},
        "destination": {"addr": destination, "ton": 1, "npi": 1},
    }
    if text is not None:
        found["content_sample"] = text
    return found


async def test_the_node_answers_from_its_policy_file(tmp_path: Path) -> None:
    (tmp_path / "policy.toml").write_text(POLICY)
    config = make_config(tmp_path / "data")
    config = dataclasses.replace(
        config, routing=dataclasses.replace(config.routing, policy_file=tmp_path / "policy.toml")
    )
    running = await app.start(config)
    try:
        port = running.ports["policyd"]
        assert (await query(port, params("447700900123")))["routes"] == [{"route": "loopback"}]
        # no rule routes 33...: the node's [routing] default, the simulated network
        assert (await query(port, params("33612345678")))["routes"] == [{"route": "network"}]
        refused = await query(port, params("33612345678", "casino night"))
        assert (refused["action"], refused["status"]) == ("reject", 0x66)
    finally:
        await running.stop()


async def test_a_bad_policy_file_stops_the_start(tmp_path: Path) -> None:
    (tmp_path / "policy.toml").write_text(POLICY.replace('["loopback"]', '["nowhere"]'))
    config = make_config(tmp_path / "data")
    config = dataclasses.replace(
        config, routing=dataclasses.replace(config.routing, policy_file=tmp_path / "policy.toml")
    )
    with pytest.raises(ConfigError, match=r'policy.toml:5: rule\[0\].routes\[0\]: "nowhere"'):
        await app.start(config)


async def test_priority_flag_reaches_the_policy_and_takes_the_reserve(tmp_path: Path) -> None:
    """Protocol 1.1: a route at its cap for bulk still takes priority_flag >= 1 messages."""
    (tmp_path / "policy.toml").write_text(
        'default_routes = ["loopback"]\n'
        '[[route]]\nname = "loopback"\nmax_per_second = 2\npriority_share = 0.5\n'
    )
    config = make_config(tmp_path / "data")
    config = dataclasses.replace(
        config, routing=dataclasses.replace(config.routing, policy_file=tmp_path / "policy.toml")
    )
    running = await app.start(config)
    try:
        port = running.ports["policyd"]
        actions = [(await query(port, params("447700900123")))["action"] for _ in range(3)]
        assert actions[0] == "route" and actions[-1] == "throttle", actions
        urgent = await query(port, {**params("447700900123"), "priority_flag": 1})
        assert urgent["action"] == "route", urgent
    finally:
        await running.stop()
