"""docs/policy-protocol.md against the server: a minimal client written from the specification
alone (a blocking socket, struct and json; nothing of opensmsc) talks to a real server, and the
examples of §9 are replayed octet for octet."""

from __future__ import annotations

import asyncio
import json
import re
import socket
import struct
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from opensmsc.policyd import Dispatcher, PolicyServer
from opensmsc.routing import LoopbackRoute, PrefixPolicy, Router

SPEC = Path(__file__).resolve().parents[2] / "docs" / "policy-protocol.md"
HOST = "127.0.0.1"


# ---------------------------------------------------------------- the client, from the spec


class SpecClient:
    """§2: a 4-octet big-endian length, then UTF-8 JSON. §3: JSON-RPC 2.0."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection((HOST, port), timeout=5)
        self.next_id = 0

    def send_body(self, body: bytes) -> None:
        self.sock.sendall(struct.pack(">I", len(body)) + body)

    def read_body(self) -> bytes:
        (length,) = struct.unpack(">I", self._exactly(4))
        return self._exactly(length)

    def _exactly(self, count: int) -> bytes:
        data = b""
        while len(data) < count:
            chunk = self.sock.recv(count - len(data))
            if not chunk:
                raise ConnectionError("closed")
            data += chunk
        return data

    def call(self, method: str, params: dict[str, Any] | None = None) -> Any:
        self.next_id += 1
        message: dict[str, Any] = {"jsonrpc": "2.0", "id": self.next_id, "method": method}
        if params is not None:
            message["params"] = params
        self.send_body(json.dumps(message).encode("utf-8"))
        return json.loads(self.read_body())

    def notify(self, method: str, params: dict[str, Any]) -> None:
        self.send_body(json.dumps({"jsonrpc": "2.0", "method": method, "params": params}).encode())

    def is_closed(self) -> bool:
        try:
            return self.sock.recv(1) == b""
        except ConnectionResetError:
            return True

    def close(self) -> None:
        self.sock.close()


# ---------------------------------------------------------------- the server of §9


@pytest.fixture
async def server_port() -> AsyncIterator[int]:
    """§9's server: node "smsc-1", token "s3cret", 44… by the route carrier-a."""
    router = Router(
        {"loopback": LoopbackRoute(), "carrier-a": LoopbackRoute("carrier-a")},
        default_route="loopback",
        prefixes=[("44", "carrier-a")],
    )
    server = PolicyServer(Dispatcher(PrefixPolicy(router), node="smsc-1", token="s3cret"))
    port = await server.start(HOST, 0)
    yield port
    await server.stop()


def converse(port: int) -> list[Any]:
    """A session as §4 describes it, from the spec's client."""
    client = SpecClient(port)
    try:
        seen = [client.call("keepalive")]
        seen.append(client.call("hello", {"version": "1.0", "node": "spec", "token": "s3cret"}))
        query = {
            "account": "acme",
            "source": {"addr": "ACME", "ton": 5, "npi": 0},
            "destination": {"addr": "447700900123", "ton": 1, "npi": 1},
            "segments": 2,
        }
        seen.append(client.call("route.query", query))
        client.notify("route.report", {"route": "carrier-a", "outcome": "ok", "latency_ms": 9})
        seen.append(client.call("keepalive"))
        seen.append(client.call("hello", {"version": "2.0", "token": "s3cret"}))
        client.send_body(b"\xff")
        seen.append(json.loads(client.read_body()))
        # §2: a length over the maximum closes the connection.
        client.sock.sendall(struct.pack(">I", 65_536))
        seen.append(client.is_closed())
        return seen
    finally:
        client.close()


async def test_a_client_written_from_the_spec_talks_to_the_server(server_port: int) -> None:
    (
        unauthorized,
        hello,
        decision,
        keepalive,
        version,
        parse_error,
        closed,
    ) = await asyncio.to_thread(converse, server_port)
    assert unauthorized["error"]["code"] == -32001
    assert unauthorized["id"] == 1
    assert hello["result"]["version"] == "1.1"
    assert "route.query" in hello["result"]["methods"]
    assert decision == {
        "jsonrpc": "2.0",
        "id": 3,
        "result": {"action": "route", "routes": [{"route": "carrier-a"}], "ttl_ms": 60000},
    }
    assert keepalive == {"jsonrpc": "2.0", "id": 4, "result": {}}  # the report got no answer
    assert version["error"]["code"] == -32002
    assert parse_error["id"] is None and parse_error["error"]["code"] == -32700
    assert closed


# ---------------------------------------------------------------- §9, octet for octet

_LINE = re.compile(r"^([CS]): ((?:[0-9a-f]{2} ){4})(.*)$", re.M)


def spec_exchanges() -> list[tuple[str, bytes]]:
    """Every `C:`/`S:` line of the spec: who, and the frame (length octets and body)."""
    found = []
    for who, length, body in _LINE.findall(SPEC.read_text(encoding="utf-8")):
        found.append((who, bytes.fromhex(length) + body.encode("utf-8")))
    return found


def test_every_example_frame_has_its_true_length() -> None:
    exchanges = spec_exchanges()
    assert len(exchanges) >= 12
    for who, frame in exchanges:
        (length,) = struct.unpack(">I", frame[:4])
        assert length == len(frame) - 4, f"{who}: {frame[4:60]!r}"


def test_the_octet_dump_is_the_keepalive_example() -> None:
    text = SPEC.read_text(encoding="utf-8")
    dump = re.search(r"```\n((?:[0-9a-f]{2} ?)+\n(?:[0-9a-f]{2} ?)+)\n```", text)
    assert dump is not None
    octets = bytes.fromhex(dump.group(1).replace("\n", " "))
    assert ("C", octets) in spec_exchanges()


def replay(port: int, exchanges: list[tuple[str, bytes]]) -> list[tuple[bytes, bytes]]:
    """Send each C frame; for each S frame, read one: (expected, got) pairs."""
    client = SpecClient(port)
    pairs = []
    try:
        for who, frame in exchanges:
            if who == "C":
                client.sock.sendall(frame)
            else:
                got = client.read_body()
                pairs.append((frame, struct.pack(">I", len(got)) + got))
    finally:
        client.close()
    return pairs


async def test_the_examples_are_what_the_server_says(server_port: int) -> None:
    pairs = await asyncio.to_thread(replay, server_port, spec_exchanges())
    assert len(pairs) >= 6
    for expected, got in pairs:
        assert got == expected
