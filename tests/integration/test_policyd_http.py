"""The policy protocol over HTTP (policyd/http.py, docs/policy-protocol.md §8): POST /jsonrpc
on the node's `[policyd] http_port`, the same answers as on TCP, the token as a bearer header."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest

from opensmsc import app
from opensmsc.config import PolicydConfig
from tests.conftest import HOST, make_config

QUERY: dict[str, Any] = {
    "account": "esme1",
    "source": {"addr": "ACME", "ton": 5, "npi": 0},
    "destination": {"addr": "447700900123", "ton": 1, "npi": 1},
}
AUTH = {"Authorization": "Bearer s3cret"}


@pytest.fixture
async def http(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    config = make_config(tmp_path)
    config = replace(
        config,
        policyd=PolicydConfig(
            bind_address=HOST, port=0, http_port=0, token="s3cret", max_frame=1024
        ),
    )
    running = await app.start(config)
    try:
        base = f"http://{HOST}:{running.ports['policyd_http']}"
        async with httpx.AsyncClient(base_url=base, timeout=5) as client:
            yield client
    finally:
        await running.stop()


def rpc(request_id: object, method: str, params: object = None) -> dict[str, Any]:
    message: dict[str, Any] = {"jsonrpc": "2.0", "id": request_id, "method": method}
    if params is not None:
        message["params"] = params
    return message


async def test_a_query_is_answered_as_on_tcp(http: httpx.AsyncClient) -> None:
    response = await http.post("/jsonrpc", json=rpc(1, "route.query", QUERY), headers=AUTH)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {
        "jsonrpc": "2.0",
        "id": 1,
        "result": {"action": "route", "routes": [{"route": "network"}], "ttl_ms": 60000},
    }


async def test_batches_notifications_and_errors(http: httpx.AsyncClient) -> None:
    batch = [rpc("a", "keepalive"), rpc("b", "route.query", {**QUERY, "segments": 0})]
    answers = (await http.post("/jsonrpc", json=batch, headers=AUTH)).json()
    assert {a["id"]: ("result" in a, a.get("error", {}).get("code")) for a in answers} == {
        "a": (True, None),
        "b": (False, -32602),
    }
    note = {"jsonrpc": "2.0", "method": "route.report", "params": {"route": "x", "outcome": "ok"}}
    response = await http.post("/jsonrpc", json=note, headers=AUTH)
    assert (response.status_code, response.content) == (204, b"")
    garbled = await http.post("/jsonrpc", content=b"{", headers=AUTH)
    assert garbled.status_code == 200
    assert garbled.json()["error"]["code"] == -32700


async def test_the_token_is_a_bearer_header(http: httpx.AsyncClient) -> None:
    for headers in ({}, {"Authorization": "Bearer guess"}, {"Authorization": "s3cret"}):
        response = await http.post("/jsonrpc", json=rpc(1, "keepalive"), headers=headers)
        assert response.status_code == 401
        assert response.json()["error"]["code"] == -32001


async def test_wrong_path_method_or_size(http: httpx.AsyncClient) -> None:
    assert (await http.post("/other", json={}, headers=AUTH)).status_code == 404
    wrong_method = await http.get("/jsonrpc", headers=AUTH)
    assert wrong_method.status_code == 405
    assert wrong_method.headers["allow"] == "POST"
    big = json.dumps(rpc(1, "route.query", {**QUERY, "content_sample": "x" * 2000}))
    assert (await http.post("/jsonrpc", content=big, headers=AUTH)).status_code == 413
