"""The HTTP API's listener and doors: [api] starts its own listener (TLS too) with its own
OpenAPI document and docs page; accounts authenticate with HTTP Basic (their SMPP
credentials, argon2 run once and cached) or an API key; the throughput cap is shared with
SMPP."""

from __future__ import annotations

import asyncio
import socket
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from opensmsc import app
from opensmsc.accounts import passwords
from opensmsc.cli.main import main as cli_main
from opensmsc.config import loads
from opensmsc.errors import StartupError
from opensmsc.smpp.codec import encode
from opensmsc.smpp.pdu import SubmitSm

from .api_node import KEY, MESSAGE, PASSWORD, api_node, config_text, read_pdus, smpp_bind

PROBLEM = "application/problem+json"


async def test_the_api_serves_health_docs_and_its_own_openapi(tmp_path: Path) -> None:
    async with api_node(tmp_path) as node:
        health = await node.client.get("/v1/health", auth=None)
        assert health.status_code == 200 and health.json()["status"] == "ok"
        docs = await node.client.get("/docs", auth=None)
        assert docs.status_code == 200
        assert "/docs/assets/swagger-ui-bundle.js" in docs.text
        assert "cdn" not in docs.text.lower()
        asset = await node.client.get("/docs/assets/swagger-ui-bundle.js", auth=None)
        assert asset.status_code == 200
        document = (await node.client.get("/openapi.json", auth=None)).json()
        assert document["info"]["title"] == "opensmsc API"
        assert "/v1/messages" in document["paths"]
        assert "/v1/network/subscribers" not in document["paths"]  # the admin app's
        schemes = document["components"]["securitySchemes"]
        assert schemes["basic"]["scheme"] == "basic"
        assert schemes["apiKey"]["scheme"] == "bearer"
        assert node.running.admin is None  # [http] off: the API does not need it


async def test_the_api_is_off_without_an_api_section(tmp_path: Path) -> None:
    text = config_text(tmp_path).replace("[api]\n        enabled = true", "[api]")
    running = await app.start(loads(text))
    try:
        assert "api" not in running.ports
    finally:
        await running.stop()


async def test_a_taken_port_stops_the_node_from_starting(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = loads(config_text(tmp_path))
        config = replace(config, api=replace(config.api, port=port))
        with pytest.raises(StartupError, match="HTTP API cannot listen"):
            await app.start(config)


async def test_https_with_the_nodes_self_signed_certificate(tmp_path: Path) -> None:
    async with api_node(tmp_path, api="tls_enabled = true", scheme="https") as node:
        answer = await node.client.post("/v1/messages", json=MESSAGE)
        assert answer.status_code == 201
        assert (tmp_path / "tls").is_dir()


async def test_basic_credentials_and_api_keys(tmp_path: Path) -> None:
    async with api_node(tmp_path) as node:
        ok = await node.client.post("/v1/messages", json=MESSAGE)
        assert ok.status_code == 201
        by_key = await node.client.post(
            "/v1/messages", json=MESSAGE, auth=None, headers={"Authorization": f"Bearer {KEY}"}
        )
        assert by_key.status_code == 201
        for auth, headers in [
            (("esme1", "wrong"), {}),
            (("nobody", PASSWORD), {}),
            (None, {}),
            (None, {"Authorization": "Bearer osk_not-a-key"}),
            (None, {"Authorization": "Basic !!!"}),
            (None, {"Authorization": "Digest abc"}),
        ]:
            answer = await node.client.post(
                "/v1/messages", json=MESSAGE, auth=auth, headers=headers
            )
            assert answer.status_code == 401, (auth, headers, answer.text)
            assert answer.headers["content-type"] == PROBLEM
            assert "Basic" in answer.headers["www-authenticate"]
            assert answer.json()["type"] == "urn:opensmsc:problem:unauthorized"


async def test_an_account_denied_the_http_door_gets_403_and_smpp_still_works(
    tmp_path: Path,
) -> None:
    async with api_node(tmp_path, account="api_enabled = false") as node:
        answer = await node.client.post("/v1/messages", json=MESSAGE)
        assert answer.status_code == 403
        assert "HTTP API not enabled" in answer.json()["detail"]
        by_key = await node.client.post(
            "/v1/messages", json=MESSAGE, auth=None, headers={"Authorization": f"Bearer {KEY}"}
        )
        assert by_key.status_code == 401
        _, writer, _ = await smpp_bind(node.running.ports["smpp"])  # the SMPP door is open
        writer.close()


async def test_a_refused_address_gets_403(tmp_path: Path) -> None:
    text = 'allowed_networks = ["10.0.0.0/8"]'
    config = config_text(tmp_path).replace('allowed_networks = ["127.0.0.0/8"]', text)
    running = await app.start(loads(config))
    try:
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{running.ports['api']}", auth=("esme1", PASSWORD)
        ) as client:
            answer = await client.post("/v1/messages", json=MESSAGE)
            assert answer.status_code == 403
            by_key = await client.post(
                "/v1/messages", json=MESSAGE, auth=None, headers={"Authorization": f"Bearer {KEY}"}
            )
            assert by_key.status_code == 403
    finally:
        await running.stop()


async def test_argon2_runs_once_for_many_concurrent_requests(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    real = passwords.verify

    def counting(password_hash: str, plain: str) -> bool:
        calls.append(plain)
        return real(password_hash, plain)

    monkeypatch.setattr(passwords, "verify", counting)
    async with api_node(tmp_path) as node:
        answers = await asyncio.gather(
            *(node.client.post("/v1/messages", json=MESSAGE) for _ in range(20))
        )
        assert [a.status_code for a in answers] == [201] * 20
        more = await node.client.post("/v1/messages", json=MESSAGE)
        assert more.status_code == 201
    assert calls == [PASSWORD]


async def test_the_throughput_cap_holds_across_smpp_and_http(tmp_path: Path) -> None:
    async with api_node(tmp_path, account="throughput = 2") as node:
        reader, writer, frames = await smpp_bind(node.running.ports["smpp"])
        writer.write(
            b"".join(
                encode(SubmitSm(destination_addr="447700900123", short_message=b"hi"), n)
                for n in (2, 3)
            )
        )
        responses = await read_pdus(reader, frames, 2)
        assert [getattr(r, "command_status", None) for r in responses] == [0, 0]
        answer = await node.client.post("/v1/messages", json=MESSAGE)
        assert answer.status_code == 429
        assert answer.headers["content-type"] == PROBLEM
        assert int(answer.headers["retry-after"]) >= 1
        assert answer.json()["type"] == "urn:opensmsc:problem:throttled"
        writer.close()
        await asyncio.sleep(0.6)  # 2 messages/s: one token is back
        assert (await node.client.post("/v1/messages", json=MESSAGE)).status_code == 201


def test_api_key_create_prints_a_key_and_its_hash(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from opensmsc.accounts import api_key_hash

    path = tmp_path / "node.toml"
    path.write_text(config_text(tmp_path))
    assert cli_main(["api-key", "create", "esme1", "--config", str(path)]) == 0
    out, err = capsys.readouterr()
    key = out.strip()
    assert key.startswith("osk_") and len(key) > 40
    assert f'api_keys = ["{api_key_hash(key)}"]' in err
    assert cli_main(["api-key", "create", "nobody", "--config", str(path)]) == 1
