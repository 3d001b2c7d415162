"""TLS on the policy server (`[policyd] tls_enabled`) and its HTTP sibling, with a node's own
self-signed certificate or mutual TLS: our PolicyClient, a raw TLS client written from the
specification, and HTTPS POST /jsonrpc; a plain-TCP peer, an unverified certificate and a
missing client certificate get nothing."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import ssl
import struct
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from opensmsc import app
from opensmsc.app import RunningSmsc
from opensmsc.policyd import ClientSettings, PolicyClient, ServerSpec
from opensmsc.routing import Action, RouteQuery
from opensmsc.store import Address
from opensmsc.transport import client_context, ensure_self_signed, fingerprint
from tests.conftest import make_config

HOST = "127.0.0.1"
QUERY = {
    "account": "esme1",
    "source": {"addr": "ACME", "ton": 5, "npi": 0},
    "destination": {"addr": "447700900123", "ton": 1, "npi": 1},
}


@contextlib.asynccontextmanager
async def tls_node(tmp_path: Path, **tls: Any) -> AsyncIterator[RunningSmsc]:
    config = make_config(tmp_path / "data")
    config = dataclasses.replace(
        config,
        policyd=dataclasses.replace(config.policyd, tls_enabled=True, http_port=0, **tls),
    )
    running = await app.start(config)
    try:
        yield running
    finally:
        await running.stop()


def node_cert(tmp_path: Path) -> Path:
    return tmp_path / "data" / "tls" / "smsc.crt"


async def raw_query(port: int, context: ssl.SSLContext) -> tuple[dict[str, Any], bytes | None]:
    """One route.query over TLS, written from docs/policy-protocol.md: the answer and the
    certificate the server presented (DER)."""
    reader, writer = await asyncio.open_connection(HOST, port, ssl=context)
    try:
        ssl_object = writer.get_extra_info("ssl_object")
        presented = ssl_object.getpeercert(binary_form=True)
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "route.query", "params": QUERY})
        writer.write(struct.pack(">I", len(body)) + body.encode())
        async with asyncio.timeout(5):
            (length,) = struct.unpack(">I", await reader.readexactly(4))
            return json.loads(await reader.readexactly(length)), presented
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


def query() -> RouteQuery:
    return RouteQuery(
        account="esme1", source=Address(5, 0, "ACME"), destination=Address(1, 1, "447700900123")
    )


async def test_tls_with_the_node_certificate_pinned(tmp_path: Path) -> None:
    async with tls_node(tmp_path) as running:
        assert running.policyd is not None
        port, https = running.ports["policyd"], running.ports["policyd_http"]
        cert = node_cert(tmp_path)
        pinned = client_context(ca=cert, client_cert=None, client_key=None)

        answer, presented = await raw_query(port, pinned)
        assert answer["result"]["action"] == "route", answer
        assert presented is not None
        assert fingerprint(presented) == running.policyd.tls_fingerprint

        settings = ClientSettings(tls=pinned, reconnect_delay=0.05)
        client = PolicyClient([ServerSpec(HOST, port)], settings=settings)
        await client.start(wait=5)
        try:
            assert client.up, "the client did not connect over TLS"
            decision = await client.decide(query())
            assert decision.action is Action.ROUTE and client.fallbacks == 0
        finally:
            await client.close()

        async with httpx.AsyncClient(verify=pinned) as http:
            answer_http = await http.post(
                f"https://{HOST}:{https}/jsonrpc",
                json={"jsonrpc": "2.0", "id": 7, "method": "route.query", "params": QUERY},
            )
        assert answer_http.status_code == 200
        assert answer_http.json()["result"]["action"] == "route"


async def test_what_does_not_speak_verified_tls_gets_nothing(tmp_path: Path) -> None:
    async with tls_node(tmp_path) as running:
        port = running.ports["policyd"]
        # A plain frame to the TLS port: no answer, the connection is closed.
        reader, writer = await asyncio.open_connection(HOST, port)
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "keepalive"}).encode()
        writer.write(struct.pack(">I", len(body)) + body)
        async with asyncio.timeout(15):
            data = await reader.read(100)
        assert data == b"" or data[0] == 0x15, data  # closed, or a TLS alert record: no frame
        writer.close()
        # A client that verifies against the system's CAs does not accept a self-signed one:
        # it never comes up and, without local rules, fails closed.
        strict = client_context(ca=None, client_cert=None, client_key=None)
        client = PolicyClient(
            [ServerSpec(HOST, port)],
            settings=ClientSettings(tls=strict, reconnect_delay=0.05, connect_timeout=1),
        )
        await client.start(wait=1)
        try:
            assert client.up == ()
            assert (await client.decide(query())).action is Action.REJECT
        finally:
            await client.close()
        # verify=False (tests only): connects to anything.
        insecure = client_context(ca=None, verify=False, client_cert=None, client_key=None)
        answer, _ = await raw_query(port, insecure)
        assert answer["result"]["action"] == "route"


async def test_mutual_tls_requires_a_client_certificate_from_the_ca(tmp_path: Path) -> None:
    client_material = ensure_self_signed(tmp_path / "client")
    async with tls_node(
        tmp_path, tls_ca_file=client_material.cert, require_client_cert=True
    ) as running:
        port, https = running.ports["policyd"], running.ports["policyd_http"]
        cert = node_cert(tmp_path)
        with_cert = client_context(
            ca=cert, client_cert=client_material.cert, client_key=client_material.key
        )
        answer, _ = await raw_query(port, with_cert)
        assert answer["result"]["action"] == "route"

        without = client_context(ca=cert, client_cert=None, client_key=None)
        with pytest.raises((ssl.SSLError, ConnectionError, asyncio.IncompleteReadError)):
            await raw_query(port, without)  # TLS 1.3: refused at the first read

        async with httpx.AsyncClient(verify=with_cert) as http:
            ok = await http.post(
                f"https://{HOST}:{https}/jsonrpc",
                json={"jsonrpc": "2.0", "id": 1, "method": "keepalive"},
            )
        assert ok.status_code == 200
        async with httpx.AsyncClient(verify=without) as http:
            with pytest.raises(httpx.TransportError):
                await http.post(
                    f"https://{HOST}:{https}/jsonrpc",
                    json={"jsonrpc": "2.0", "id": 1, "method": "keepalive"},
                )
