"""GET /v1/messages/{id}, DELETE /v1/messages/{id} and GET /v1/messages over a real socket."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

from opensmsc.http.api.status import status_of
from opensmsc.smpp import MessageState
from opensmsc.store import Address, StoredMessage

from .api_node import MESSAGE, api_node

LATER = (datetime.now(UTC) + timedelta(hours=1)).isoformat()


async def _final(node, message_id: str) -> dict:  # type: ignore[no-untyped-def,type-arg]
    for _ in range(100):
        body = (await node.client.get(f"/v1/messages/{message_id}")).json()
        if body["done_at"] is not None:
            return body  # type: ignore[no-any-return]
        await asyncio.sleep(0.05)
    raise AssertionError(f"{message_id} never ended")


async def test_a_message_state_from_scheduled_to_deleted(tmp_path: Path) -> None:
    async with api_node(tmp_path) as node:
        sent = await node.client.post(
            "/v1/messages", json={**MESSAGE, "scheduled_at": LATER, "client_reference": "r1"}
        )
        message_id = sent.json()["id"]
        status = (await node.client.get(f"/v1/messages/{message_id}")).json()
        assert status["state"] == "scheduled"
        assert status["to"] == "+447700900123" and status["from"] == "Example"
        assert status["client_reference"] == "r1" and status["error"] is None
        cancelled = await node.client.delete(f"/v1/messages/{message_id}")
        assert cancelled.status_code == 200 and cancelled.json()["state"] == "deleted"
        again = await node.client.delete(f"/v1/messages/{message_id}")  # idempotent
        assert again.status_code == 200 and again.json()["state"] == "deleted"
        record = await node.store.get(message_id)
        assert record is not None and record.state is MessageState.DELETED


async def test_a_delivered_message_cannot_be_cancelled(tmp_path: Path) -> None:
    async with api_node(tmp_path) as node:
        message_id = (await node.client.post("/v1/messages", json=MESSAGE)).json()["id"]
        status = await _final(node, message_id)
        assert status["state"] == "delivered" and status["attempts"] >= 1
        assert status["route"] == node.running.engine.settings.default_route
        refused = await node.client.delete(f"/v1/messages/{message_id}")
        assert refused.status_code == 409
        assert refused.json()["type"] == "urn:opensmsc:problem:conflict"


async def test_unknown_ids_are_404(tmp_path: Path) -> None:
    async with api_node(tmp_path) as node:
        for method in ("GET", "DELETE"):
            answer = await node.client.request(method, "/v1/messages/ffffffffffffffff")
            assert answer.status_code == 404
            assert answer.json()["type"] == "urn:opensmsc:problem:unknown-message"


async def test_the_list_filters_and_pages(tmp_path: Path) -> None:
    async with api_node(tmp_path) as node:
        ids = []
        for i in range(5):
            to = "+447700900123" if i % 2 else "+447700900124"
            answer = await node.client.post(
                "/v1/messages", json={**MESSAGE, "to": to, "scheduled_at": LATER}
            )
            ids.append(answer.json()["id"])
        seen, cursor = [], None
        while True:
            params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
            page = (await node.client.get("/v1/messages", params=params)).json()
            seen += [m["id"] for m in page["messages"]]
            cursor = page["next"]
            if cursor is None:
                break
        assert seen == ids
        odd = (await node.client.get("/v1/messages", params={"to": "447700900123"})).json()
        assert [m["id"] for m in odd["messages"]] == ids[1::2]
        await node.client.delete(f"/v1/messages/{ids[0]}")
        deleted = (await node.client.get("/v1/messages", params={"state": "deleted"})).json()
        assert [m["id"] for m in deleted["messages"]] == [ids[0]]
        future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
        none = await node.client.get("/v1/messages", params={"since": future})
        assert none.json() == {"messages": [], "next": None}
        for params, slug in [
            ({"cursor": "bogus"}, "invalid-request"),
            ({"to": "12"}, "invalid-number"),
            ({"state": "lost"}, "validation"),
            ({"limit": 0}, "validation"),
        ]:
            bad = await node.client.get("/v1/messages", params=params)
            assert bad.status_code in (400, 422), bad.text
            assert bad.json()["type"] == f"urn:opensmsc:problem:{slug}"


def test_errors_are_named_in_their_code_space() -> None:
    now = datetime.now(UTC)
    base = {
        "message_id": "1",
        "system_id": "a",
        "destination": Address(1, 1, "447700900123"),
        "submitted_at": now,
        "due_at": now,
        "expires_at": now + timedelta(days=1),
        "state": MessageState.UNDELIVERABLE,
        "done_at": now,
    }
    network = status_of(StoredMessage(**base, last_error=1, route="network"))
    assert network.error is not None
    assert (network.error.kind, network.error.name) == ("map", "unknownSubscriber")
    upstream = status_of(StoredMessage(**base, last_error=0x0B, route="carrier"))
    assert upstream.error is not None
    assert (upstream.error.kind, upstream.error.name) == ("smpp", "ESME_RINVDSTADR")
