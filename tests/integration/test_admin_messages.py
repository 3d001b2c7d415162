"""/v1/admin/messages on a running node (app.start, the simulated network as the default route):
the operator's list with each filter and its cursor, one message, cancel / retry / expire with
exactly one final state and one receipt to the account's receiver (a real SMPP session), and a
message sent as an account."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from opensmsc import app
from opensmsc.config import LoggingConfig
from opensmsc.network import SubscriberState
from opensmsc.smpp import CommandId, DeliverSm, MessageState, parse_receipt
from opensmsc.smpp.times import format_relative
from tests.conftest import SmppTestClient, SmscFactory, TestSmsc, make_config

ABSENT = "447700900111"
PRESENT = "447700900222"
TIMEOUT = 20.0  # generous: the machine is shared


@dataclass
class Node:
    smsc: TestSmsc
    http: httpx.AsyncClient

    async def send(self, **fields: Any) -> str:
        body = {"account": "esme1", "source": "Shop", "destination": f"+{PRESENT}", "text": "hi"}
        answer = await self.http.post("/v1/admin/messages", json={**body, **fields})
        assert answer.status_code == 201, answer.text
        assert answer.headers["location"] == f"/v1/admin/messages/{answer.json()['id']}"
        return str(answer.json()["id"])

    async def get(self, message_id: str) -> dict[str, Any]:
        answer = await self.http.get(f"/v1/admin/messages/{message_id}")
        assert answer.status_code == 200, answer.text
        return dict(answer.json())

    async def until(
        self, message_id: str, check: Callable[[dict[str, Any]], bool]
    ) -> dict[str, Any]:
        deadline = asyncio.get_running_loop().time() + TIMEOUT
        while True:
            message = await self.get(message_id)
            if check(message):
                return message
            assert asyncio.get_running_loop().time() < deadline, message
            await asyncio.sleep(0.05)

    async def waiting(self, message_id: str, attempts: int = 1) -> dict[str, Any]:
        """Once the message is in retry after `attempts` attempts."""
        return await self.until(
            message_id, lambda m: m["state"] == "enroute" and m["attempts"] >= attempts
        )

    async def action(self, message_id: str, name: str) -> httpx.Response:
        return await self.http.post(f"/v1/admin/messages/{message_id}/{name}")


@pytest.fixture
async def node(smsc_factory: SmscFactory) -> AsyncIterator[Node]:
    smsc = await smsc_factory()
    assert smsc.running.network is not None
    smsc.running.network.hlr.subscribers.add(ABSENT, state=SubscriberState.ABSENT)
    base = f"http://127.0.0.1:{smsc.running.ports['http']}"
    async with httpx.AsyncClient(base_url=base, timeout=TIMEOUT) as http:
        yield Node(smsc, http)


async def receipts(receiver: SmppTestClient, count: int) -> list[str]:
    """The stat of the next `count` receipts the receiver gets (answered by the client)."""
    stats = []
    for _ in range(count):
        decoded = await receiver.expect(CommandId.DELIVER_SM, timeout=TIMEOUT)
        assert isinstance(decoded.pdu, DeliverSm)
        receipt = parse_receipt(decoded.pdu.short_message)
        assert receipt is not None
        stats.append(receipt.stat)
    return stats


async def no_more_pdus(receiver: SmppTestClient, wait: float = 1.0) -> None:
    with pytest.raises(TimeoutError):
        await receiver.expect(CommandId.DELIVER_SM, timeout=wait)


async def test_send_then_show_a_delivered_message(node: Node) -> None:
    message_id = await node.send(text="hello there", receipt=True)
    message = await node.until(message_id, lambda m: m["state"] == "delivered")
    assert message["account"] == "esme1"
    assert (message["source"], message["destination"]) == ("Shop", f"+{PRESENT}")
    assert (message["attempts"], message["route"], message["error"]) == (1, "network", None)
    assert (message["parts"], message["receipt_requested"]) == (1, True)
    assert message["text"] == "<11 octets redacted>" and message["text_redacted"] is True
    assert message["done_at"] and message["updated_at"] == message["done_at"]
    submitted = datetime.fromisoformat(message["submitted_at"])
    assert abs(submitted - datetime.now(UTC)) < timedelta(minutes=1)
    # The simulated handset got it: the message went the way an account's own does.
    assert node.smsc.running.network is not None
    inbox = node.smsc.running.network.handset(PRESENT).inbox
    assert [m.text for m in inbox] == ["hello there"]


async def test_a_long_message_is_stored_in_parts(node: Node) -> None:
    answer = await node.http.post(
        "/v1/admin/messages",
        json={"account": "esme2", "source": "1234", "destination": PRESENT, "text": "x" * 300},
    )
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["parts"] == 2 and len(body["ids"]) == 2 and body["id"] == body["ids"][0]
    listed = (await node.http.get("/v1/admin/messages", params={"account": "esme2"})).json()
    assert [m["id"] for m in listed["messages"]] == body["ids"][::-1]  # newest first
    assert [(m["parts"], m["part"]) for m in listed["messages"]] == [(2, 2), (2, 1)]


async def test_list_filters_and_pages_newest_first(node: Node) -> None:
    before = datetime.now(UTC)
    sent = [await node.send(destination=f"+{PRESENT}") for _ in range(5)]
    sent.append(await node.send(account="esme2", destination=f"+{ABSENT}", source="+447700900999"))
    await node.waiting(sent[-1])
    for message_id in sent[:5]:
        await node.until(message_id, lambda m: m["state"] == "delivered")

    async def pages(**params: Any) -> list[list[str]]:
        found: list[list[str]] = []
        cursor = None
        while True:
            answer = await node.http.get("/v1/admin/messages", params={**params, "cursor": cursor})
            assert answer.status_code == 200, answer.text
            body = answer.json()
            found.append([m["id"] for m in body["messages"]])
            cursor = body["next_cursor"]
            if cursor is None:
                return found

    newest_first = sent[::-1]
    assert await pages(limit=4) == [newest_first[:4], newest_first[4:]]
    assert await pages(account="esme1", limit=2) == [sent[4:2:-1], sent[2:0:-1], sent[:1]]
    assert await pages(destination=f"+{ABSENT}") == [[sent[5]]]
    assert await pages(destination=ABSENT) == [[sent[5]]]
    assert await pages(source="+447700900999") == [[sent[5]]]
    assert await pages(state="enroute") == [[sent[5]]]
    assert await pages(state="DELIVERED,expired", limit=10) == [newest_first[1:]]
    assert await pages(since=before.isoformat(), until=datetime.now(UTC).isoformat()) == [
        newest_first
    ]
    assert await pages(until=before.isoformat()) == [[]]
    assert await pages(account="nobody") == [[]]

    for params, slug in (
        ({"state": "lost"}, "invalid-state"),
        ({"cursor": "bm90LWEtY3Vyc29y"}, "invalid-cursor"),
        ({"limit": 0}, "validation"),
        ({"limit": 1001}, "validation"),
        ({"since": "2026-01-01T00:00:00"}, "validation"),  # no zone: ambiguous
    ):
        answer = await node.http.get("/v1/admin/messages", params=params)
        assert answer.status_code in (400, 422), (params, answer.text)
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.json()["type"] == f"urn:opensmsc:problem:{slug}", answer.json()


async def test_retry_cancel_expire_with_one_final_state_and_one_receipt(node: Node) -> None:
    receiver = await node.smsc.bound("rx", "esme1", password="pw1")
    retried = await node.send(destination=f"+{ABSENT}", receipt=True)
    cancelled = await node.send(destination=f"+{ABSENT}", receipt=True)
    expired = await node.send(destination=f"+{ABSENT}", receipt=True)
    for message_id in (retried, cancelled, expired):
        message = await node.waiting(message_id)
        assert message["error"] == "absentSubscriberSm (MAP 6)"  # as /v1/messages names it

    # retry: attempted again now (still absent: back to waiting, one more attempt)
    answer = await node.action(retried, "retry")
    assert answer.status_code == 200, answer.text
    assert answer.json()["state"] == "enroute"
    await node.waiting(retried, attempts=2)
    # the subscriber is back, unannounced (no alert): only a retry sends it now
    assert node.smsc.running.network is not None
    node.smsc.running.network.hlr.subscribers.set_state(ABSENT, SubscriberState.ATTACHED)
    assert (await node.action(retried, "retry")).status_code == 200
    await node.until(retried, lambda m: m["state"] == "delivered" and m["attempts"] == 3)

    answer = await node.action(cancelled, "cancel")
    assert answer.status_code == 200 and answer.json()["state"] == "deleted", answer.text
    answer = await node.action(expired, "expire")
    assert answer.status_code == 200 and answer.json()["state"] == "expired", answer.text
    assert sorted(await receipts(receiver, 3)) == ["DELETED", "DELIVRD", "EXPIRED"]

    for message_id, state in ((retried, "delivered"), (cancelled, "deleted"), (expired, "expired")):
        for action in ("cancel", "retry", "expire"):
            answer = await node.action(message_id, action)
            assert answer.status_code == 409, answer.text
            problem = answer.json()
            assert problem["type"] == "urn:opensmsc:problem:message-final"
            assert (problem["state"], problem["id"]) == (state, message_id)
        assert (await node.get(message_id))["state"] == state
    await no_more_pdus(receiver)
    store = node.smsc.running.engine.store
    for message_id in (retried, cancelled, expired):
        record = await store.get(message_id)
        assert record is not None and record.receipt_id is not None


async def test_a_scheduled_message_is_not_retried(node: Node) -> None:
    client = await node.smsc.bound("tx", "esme1", password="pw1")
    answer = await client.submit(
        destination_addr=PRESENT, schedule_delivery_time=format_relative(timedelta(hours=1))
    )
    assert answer.status == 0
    message_id = answer.pdu.message_id  # type: ignore[attr-defined]
    assert (await node.get(message_id))["state"] == "scheduled"
    answer = await node.http.post(f"/v1/admin/messages/{message_id}/retry")
    assert answer.status_code == 409
    assert answer.json()["type"] == "urn:opensmsc:problem:message-scheduled"
    answer = await node.http.post(f"/v1/admin/messages/{message_id}/cancel")
    assert answer.json()["state"] == "deleted"


async def test_unknown_ids_and_bad_sends(node: Node) -> None:
    for path in ("", "/cancel", "/retry", "/expire"):
        method: Callable[..., Awaitable[httpx.Response]] = (
            node.http.get if not path else node.http.post
        )
        answer = await method(f"/v1/admin/messages/00000000deadbeef{path}")
        assert answer.status_code == 404
        assert answer.json()["type"] == "urn:opensmsc:problem:message-not-found"

    good = {"account": "esme1", "source": "Shop", "destination": f"+{PRESENT}", "text": "hi"}
    for change, status, slug, field in (
        ({"account": "nobody"}, 422, "unknown-account", "account"),
        ({"destination": "12"}, 400, "invalid-number", "destination"),
        ({"source": "a sender too long"}, 400, "invalid-number", "source"),
        ({"text": ""}, 422, "validation", None),
        ({"colour": "red"}, 422, "validation", None),
    ):
        answer = await node.http.post("/v1/admin/messages", json={**good, **change})
        assert answer.status_code == status, (change, answer.text)
        problem = answer.json()
        assert problem["type"] == f"urn:opensmsc:problem:{slug}", problem
        if field is not None:
            assert problem["field"] == field
    listed = (await node.http.get("/v1/admin/messages")).json()
    assert listed == {"messages": [], "next_cursor": None}
    assert MessageState.DELIVERED.name.lower() == "delivered"


async def test_the_text_is_shown_when_the_node_shows_short_messages(tmp_path: Path) -> None:
    config = replace(make_config(tmp_path), logging=LoggingConfig(show_short_message=True))
    running = await app.start(config)
    try:
        base = f"http://127.0.0.1:{running.ports['http']}"
        async with httpx.AsyncClient(base_url=base, timeout=TIMEOUT) as http:
            texts = ["Grüße, {friends} €", "Привет, мир", "long " * 40]
            for text in texts:
                body = {"account": "esme1", "source": "1234", "destination": PRESENT, "text": text}
                answer = await http.post("/v1/admin/messages", json=body)
                assert answer.status_code == 201, answer.text
                shown = [
                    (await http.get(f"/v1/admin/messages/{part}")).json()
                    for part in answer.json()["ids"]
                ]
                assert all(not m["text_redacted"] for m in shown)
                # each part shows its own text, without its header
                assert "".join(m["text"] for m in shown) == text
    finally:
        await running.stop()


async def test_expiring_a_part_expires_its_long_message(node: Node) -> None:
    body = {"account": "esme1", "source": "Shop", "destination": f"+{ABSENT}", "text": "y" * 200}
    answer = await node.http.post("/v1/admin/messages", json=body)
    assert answer.status_code == 201, answer.text
    first, second = answer.json()["ids"]
    for part in (first, second):
        await node.waiting(part)
    answer = await node.action(second, "expire")
    assert answer.status_code == 200 and answer.json()["state"] == "expired", answer.text
    assert (await node.get(first))["state"] == "expired"
