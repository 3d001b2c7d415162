"""Webhooks against a running node and a local receiver: delivery reports POSTed to the
message's callback_url or the account's webhook_url, signed (verified with the
`standardwebhooks` package), retried through 500s, timeouts and 404s until the receiver
recovers, each ended in the store once answered 2xx."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from standardwebhooks.webhooks import Webhook

from opensmsc.http.webhooks import signature
from opensmsc.smpp import MessageState
from opensmsc.store import Direction, MessageQuery

from .api_node import MESSAGE, Node, api_node
from .webhook_receiver import Answer, Receiver, webhook_receiver

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
QUICK = """
webhook_backoff = 0.05
webhook_max_backoff = 0.2
webhook_timeout = 0.5
"""


def _failing_first(*answers: Answer) -> object:
    def script(n: int) -> Answer:
        return answers[n] if n < len(answers) else 200

    return script


async def _webhook_rows(node: Node) -> list[object]:
    records, _ = await node.store.find(MessageQuery(system_id="esme1", limit=1000))
    return [await node.store.get(r.receipt_id) for r in records if r.receipt_id]


def _verified(receiver: Receiver) -> list[dict[str, object]]:
    verifier = Webhook(SECRET)
    return [verifier.verify(r.body, r.headers) for r in receiver.answered(200)]  # type: ignore[misc]


async def test_reports_reach_a_receiver_that_fails_times_out_404s_then_recovers(
    tmp_path: Path,
) -> None:
    script = _failing_first(500, "hang", 404, 503, 500)
    async with webhook_receiver(script) as receiver:  # type: ignore[arg-type]
        account = f'webhook_secret = "{SECRET}"'
        async with api_node(tmp_path, api=QUICK, account=account) as node:
            ids = []
            for n in range(5):
                answer = await node.client.post(
                    "/v1/messages",
                    json={
                        **MESSAGE,
                        "callback_url": receiver.url,
                        "client_reference": f"ref-{n}",
                    },  # no `receipt`: a callback_url asks for the final report
                )
                assert answer.status_code == 201, answer.text
                ids.append(answer.json()["id"])
            await receiver.wait_for(lambda: len(receiver.answered(200)) >= 5)
            events = _verified(receiver)
            assert sorted(e["data"]["id"] for e in events) == sorted(ids)  # type: ignore[index]
            for event in events:
                data = event["data"]
                assert event["type"] == "message.status"
                assert data["state"] == "delivered" and data["final"] is True  # type: ignore[index]
                assert data["to"] == "+447700900123" and data["from"] == "Example"  # type: ignore[index]
                assert data["client_reference"] == f"ref-{ids.index(data['id'])}"  # type: ignore[index]
            # Every failure was a failure: five, then each webhook once with 200.
            assert [r.status for r in receiver.requests[:5]] == [500, None, 404, 503, 500]
            assert len(receiver.requests) == 10
            # A retry is the same webhook: the same id and body, a new signature.
            by_id: dict[str, set[bytes]] = {}
            for r in receiver.requests:
                by_id.setdefault(r.headers["webhook-id"], set()).add(r.body)
            assert len(by_id) == 5 and all(len(bodies) == 1 for bodies in by_id.values())
            for _ in range(300):
                rows = await _webhook_rows(node)
                if all(r.state is MessageState.DELIVERED for r in rows):  # type: ignore[attr-defined]
                    break
                await asyncio.sleep(0.1)
            assert len(rows) == 5
            assert all(r.state is MessageState.DELIVERED for r in rows)  # type: ignore[attr-defined]
            # Not for the account's SMPP sessions.
            assert await node.store.pending_receipts("esme1", 10) == []


async def test_the_accounts_webhook_url_gets_reports_without_a_callback_url(
    tmp_path: Path,
) -> None:
    async with webhook_receiver(lambda n: 200) as receiver:
        account = f'webhook_url = "{receiver.url}"\nwebhook_secret = "{SECRET}"'
        async with api_node(tmp_path, api=QUICK, account=account) as node:
            quiet = await node.client.post("/v1/messages", json=MESSAGE)  # receipt none
            loud = await node.client.post("/v1/messages", json={**MESSAGE, "receipt": "final"})
            await receiver.wait_for(lambda: len(receiver.answered(200)) >= 1)
            (event,) = _verified(receiver)
            assert event["data"]["id"] == loud.json()["id"]  # type: ignore[index]
            record = await node.store.get(quiet.json()["id"])
            assert record is not None and record.receipt_id is None


async def test_receipt_failure_sends_nothing_for_a_delivered_message(tmp_path: Path) -> None:
    async with (
        webhook_receiver(lambda n: 200) as receiver,
        api_node(tmp_path, api=QUICK) as node,
    ):
        answer = await node.client.post(
            "/v1/messages",
            json={**MESSAGE, "callback_url": receiver.url, "receipt": "failure"},
        )
        record = None
        for _ in range(100):
            record = await node.store.get(answer.json()["id"])
            if record is not None and record.is_final:
                break
            await asyncio.sleep(0.05)
        assert record is not None and record.state is MessageState.DELIVERED
        assert record.receipt_id is None
        assert receiver.requests == []


async def test_unsigned_without_a_secret(tmp_path: Path) -> None:
    async with (
        webhook_receiver(lambda n: 204) as receiver,
        api_node(tmp_path, api=QUICK) as node,
    ):
        await node.client.post("/v1/messages", json={**MESSAGE, "callback_url": receiver.url})
        await receiver.wait_for(lambda: len(receiver.answered(204)) >= 1)
        (request,) = receiver.requests
        assert "webhook-signature" not in request.headers
        assert request.headers["webhook-id"] and request.headers["webhook-timestamp"]
        assert json.loads(request.body)["data"]["state"] == "delivered"
        assert request.headers["content-type"] == "application/json"
        rows = await _webhook_rows(node)
        assert [r.direction for r in rows] == [Direction.RECEIPT]  # type: ignore[attr-defined]


def test_the_signature_is_the_specifications_test_vector() -> None:
    # Standard Webhooks' libraries/python/tests/test_webhooks.py::test_sign_function
    assert (
        signature(SECRET, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, b'{"test": 2432232314}')
        == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    )
