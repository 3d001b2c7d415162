"""Idempotency-Key on POST /v1/messages and /v1/messages/batch against a running node: a retry
gets the first answer byte for byte and stores nothing; the same key with another request is
422; requests with one key at once store once; a refusal is not remembered."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from opensmsc.errors import StoreUnavailable
from opensmsc.store import MessageQuery

from .api_node import MESSAGE, Node, api_node

PROBLEM = "application/problem+json"


async def _stored(node: Node) -> list[str]:
    records, _ = await node.store.find(MessageQuery(system_id="esme1", limit=1000))
    return [r.message_id for r in records]


async def test_a_retry_gets_the_first_answer_and_stores_nothing(tmp_path: Path) -> None:
    async with api_node(tmp_path) as node:
        headers = {"Idempotency-Key": "order-42/attempt"}
        first = await node.client.post("/v1/messages", json=MESSAGE, headers=headers)
        assert first.status_code == 201, first.text
        assert "idempotent-replayed" not in first.headers
        # The same request, its JSON written another way: the same request.
        body = json.dumps(dict(reversed(list(MESSAGE.items()))), indent=2)
        retry = await node.client.post(
            "/v1/messages",
            content=body,
            headers={**headers, "content-type": "application/json"},
        )
        assert retry.status_code == 201
        assert retry.content == first.content
        assert retry.headers["location"] == first.headers["location"]
        assert retry.headers["content-type"] == "application/json"
        assert retry.headers["idempotent-replayed"] == "true"
        assert await _stored(node) == [first.json()["id"]]
        # Without a key, or with another, a request is new.
        other = await node.client.post(
            "/v1/messages", json=MESSAGE, headers={"Idempotency-Key": "b"}
        )
        plain = await node.client.post("/v1/messages", json=MESSAGE)
        ids = {first.json()["id"], other.json()["id"], plain.json()["id"]}
        assert len(ids) == 3
        assert sorted(await _stored(node)) == sorted(ids)


async def test_a_batch_retry_gets_the_same_ids(tmp_path: Path) -> None:
    async with api_node(tmp_path) as node:
        batch = {"to": ["+447700900001", "+447700900002"], "message": {"from": "x", "text": "hi"}}
        headers = {"Idempotency-Key": "batch-1"}
        first = await node.client.post("/v1/messages/batch", json=batch, headers=headers)
        retry = await node.client.post("/v1/messages/batch", json=batch, headers=headers)
        assert first.status_code == retry.status_code == 201
        assert retry.content == first.content
        ids = [m["id"] for m in first.json()["messages"]]
        assert sorted(await _stored(node)) == sorted(ids)


async def test_the_same_key_with_another_request_is_422(tmp_path: Path) -> None:
    async with api_node(tmp_path) as node:
        headers = {"Idempotency-Key": "k"}
        first = await node.client.post("/v1/messages", json=MESSAGE, headers=headers)
        assert first.status_code == 201
        for path, body in (
            ("/v1/messages", {**MESSAGE, "text": "another text"}),
            ("/v1/messages/batch", {"messages": [MESSAGE]}),
        ):
            reused = await node.client.post(path, json=body, headers=headers)
            assert reused.status_code == 422, reused.text
            assert reused.headers["content-type"] == PROBLEM
            problem = reused.json()
            assert problem["type"] == "urn:opensmsc:problem:idempotency-key-reused"
            assert problem["field"] == "Idempotency-Key"
        assert await _stored(node) == [first.json()["id"]]


async def test_requests_with_one_key_at_once_store_once(tmp_path: Path) -> None:
    async with api_node(tmp_path) as node:
        headers = {"Idempotency-Key": "race"}
        answers = await asyncio.gather(
            *(node.client.post("/v1/messages", json=MESSAGE, headers=headers) for _ in range(20))
        )
        assert {a.status_code for a in answers} == {201}
        assert len({a.content for a in answers}) == 1
        assert sum(a.headers.get("idempotent-replayed") == "true" for a in answers) == 19
        assert await _stored(node) == [answers[0].json()["id"]]


async def test_a_refusal_is_not_remembered(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    async with api_node(tmp_path) as node:
        headers = {"Idempotency-Key": "after-503"}

        async def failing(*args: object, **kwargs: object) -> None:
            raise StoreUnavailable("disk full")

        monkeypatch.setattr(node.store, "submit_many", failing)
        refused = await node.client.post("/v1/messages", json=MESSAGE, headers=headers)
        assert refused.status_code == 503
        monkeypatch.undo()
        retry = await node.client.post("/v1/messages", json=MESSAGE, headers=headers)
        assert retry.status_code == 201, retry.text
        assert "idempotent-replayed" not in retry.headers
        invalid = await node.client.post(
            "/v1/messages", json={**MESSAGE, "to": "+1"}, headers={"Idempotency-Key": "bad"}
        )
        assert invalid.status_code == 400
        fixed = await node.client.post(
            "/v1/messages", json=MESSAGE, headers={"Idempotency-Key": "bad"}
        )
        assert fixed.status_code == 201
        assert len(await _stored(node)) == 2


@pytest.mark.parametrize("key", ["", "x" * 256, "caf\u00e9"])
async def test_an_unusable_key_is_422(tmp_path: Path, key: str) -> None:
    async with api_node(tmp_path) as node:
        answer = await node.client.post(
            "/v1/messages", json=MESSAGE, headers={"Idempotency-Key": key.encode("latin-1")}
        )
        assert answer.status_code == 422, answer.text
        assert answer.headers["content-type"] == PROBLEM
        assert await _stored(node) == []
