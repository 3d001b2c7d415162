"""A node with the HTTP API on ephemeral ports, and an httpx client to it: what the HTTP API
tests share."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import httpx

from opensmsc import app
from opensmsc.accounts import hash_password
from opensmsc.config import loads
from opensmsc.smpp.codec import FrameBuffer, decode, encode
from opensmsc.smpp.pdu import BindTransceiver, BindTransceiverResp

PASSWORD = "secret"
KEY = "osk_test-key-of-esme1-0123456789abcdefghijklmnopq"
MESSAGE = {"to": "+447700900123", "from": "Example", "text": "Hello"}


@cache
def password_hash() -> str:
    return hash_password(PASSWORD)


def config_text(tmp_path: Path, *, api: str = "", account: str = "", extra: str = "") -> str:
    from opensmsc.accounts import api_key_hash

    return f"""
        [node]
        data_dir = "{tmp_path}"
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
        [[accounts]]
        system_id = "esme1"
        password_hash = "{password_hash()}"
        allowed_networks = ["127.0.0.0/8"]
        api_keys = ["{api_key_hash(KEY)}"]
        {account}
        {extra}
        """


@dataclass
class Node:
    running: app.RunningSmsc
    client: httpx.AsyncClient

    @property
    def store(self):  # type: ignore[no-untyped-def]
        return self.running.engine.store


@asynccontextmanager
async def api_node(
    tmp_path: Path, *, api: str = "", account: str = "", extra: str = "", scheme: str = "http"
) -> AsyncIterator[Node]:
    running = await app.start(loads(config_text(tmp_path, api=api, account=account, extra=extra)))
    try:
        async with httpx.AsyncClient(
            base_url=f"{scheme}://127.0.0.1:{running.ports['api']}",
            auth=("esme1", PASSWORD),
            verify=False,
            timeout=10,
        ) as client:
            yield Node(running, client)
    finally:
        await running.stop()


async def smpp_bind(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, FrameBuffer]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    frames = FrameBuffer()
    writer.write(encode(BindTransceiver(system_id="esme1", password=PASSWORD), 1))
    (resp,) = await read_pdus(reader, frames, 1)
    assert isinstance(resp, BindTransceiverResp) and resp.command_status == 0
    return reader, writer, frames


async def read_pdus(
    reader: asyncio.StreamReader, frames: FrameBuffer, expected: int
) -> list[object]:
    pdus: list[object] = []
    while len(pdus) < expected:
        data = await asyncio.wait_for(reader.read(65536), 5)
        assert data, "the SMSC closed the connection"
        pdus.extend(decode(frame).pdu for frame in frames.feed(data))
    return pdus
