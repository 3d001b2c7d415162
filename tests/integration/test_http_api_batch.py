"""POST /v1/messages/batch: up to 10,000 messages in one request and one transaction."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from opensmsc.errors import StoreUnavailable
from opensmsc.store import StoredMessage

from .api_node import MESSAGE, api_node


async def test_one_text_to_ten_thousand_numbers_in_one_transaction(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with api_node(tmp_path) as node:
        store = node.store
        calls: list[int] = []
        real = store.submit_many

        async def spy(records: Sequence[StoredMessage], **kwargs: object) -> None:
            calls.append(len(records))
            await real(records, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(store, "submit_many", spy)
        numbers = [f"+4477009{n:05d}" for n in range(10_000)]
        started = time.monotonic()
        answer = await node.client.post(
            "/v1/messages/batch",
            json={"to": numbers, "message": {"from": "Example", "text": "Hello all"}},
            timeout=60,
        )
        elapsed = time.monotonic() - started
        assert answer.status_code == 201, answer.text
        body = answer.json()
        assert body["count"] == 10_000 and calls == [10_000]
        ids = [m["id"] for m in body["messages"]]
        assert len(set(ids)) == 10_000
        for index in (0, 4321, 9999):
            record = await store.get(ids[index])
            assert record is not None
            assert record.destination.addr == numbers[index].lstrip("+")
        print(f"batch of 10,000: {elapsed:.2f} s")


async def test_many_messages_keep_their_order_and_one_bad_one_refuses_all(
    tmp_path: Path,
) -> None:
    async with api_node(tmp_path) as node:
        messages = [
            {**MESSAGE, "text": f"message {i}", "client_reference": f"r{i}"} for i in range(5)
        ]
        messages.append({**MESSAGE, "text": "long " * 100})
        answer = await node.client.post("/v1/messages/batch", json={"messages": messages})
        assert answer.status_code == 201, answer.text
        accepted = answer.json()["messages"]
        assert [m["client_reference"] for m in accepted[:5]] == [f"r{i}" for i in range(5)]
        assert accepted[5]["parts"] == 4
        for item, sent in zip(accepted[:5], messages, strict=False):
            record = await node.store.get(item["id"])
            assert record is not None and record.short_message == sent["text"].encode()

        bad = [*messages[:2], {**MESSAGE, "to": "12"}, messages[3]]
        refused = await node.client.post("/v1/messages/batch", json={"messages": bad})
        assert refused.status_code == 400
        assert refused.json()["field"] == "messages[2].to"
        page = (await node.client.get("/v1/messages", params={"limit": 100})).json()
        assert len(page["messages"]) == 5 + 4  # the first batch only

        expired = [messages[0], {**MESSAGE, "validity": 1, "scheduled_at": "2100-01-01T00:00:00Z"}]
        refused = await node.client.post("/v1/messages/batch", json={"messages": expired})
        assert refused.status_code == 422
        assert refused.json()["field"] == "messages[1].validity"

        shapes = [{"messages": []}, {"to": ["+447700900123"]}, {"messages": messages, "to": []}]
        for shape in shapes:
            wrong = await node.client.post("/v1/messages/batch", json=shape)
            assert wrong.status_code == 422, shape


async def test_a_batch_is_all_or_nothing_in_the_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with api_node(tmp_path) as node:

        async def failing(*args: object, **kwargs: object) -> None:
            raise StoreUnavailable("disk full")

        monkeypatch.setattr(node.store, "submit_many", failing)
        answer = await node.client.post(
            "/v1/messages/batch",
            json={"to": ["+447700900123"] * 3, "message": {"from": "x", "text": "a"}},
        )
        assert answer.status_code == 503


async def test_a_batch_over_the_accounts_throughput_is_refused(tmp_path: Path) -> None:
    async with api_node(tmp_path, account="throughput = 5") as node:
        body = {"to": ["+447700900123"] * 6, "message": {"from": "x", "text": "a"}}
        answer = await node.client.post("/v1/messages/batch", json=body)
        assert answer.status_code == 422
        assert "throughput" in answer.json()["detail"]
        body["to"] = body["to"][:5]
        assert (await node.client.post("/v1/messages/batch", json=body)).status_code == 201
        again = await node.client.post("/v1/messages/batch", json=body)
        assert again.status_code == 429 and "retry-after" in again.headers


async def test_max_batch_is_the_operators_limit(tmp_path: Path) -> None:
    async with api_node(tmp_path, api="max_batch = 3") as node:
        body = {"to": ["+447700900123"] * 4, "message": {"from": "x", "text": "a"}}
        answer = await node.client.post("/v1/messages/batch", json=body)
        assert answer.status_code == 422 and answer.json()["field"] == "messages"
