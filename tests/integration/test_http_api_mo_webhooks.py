"""Mobile-originated messages of an account with a webhook_url, POSTed there as signed
`message.received` webhooks (verified with the `standardwebhooks` package) instead of going to
its SMPP sessions; an MO whose receiver fails stays stored and goes when it is answered."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from pathlib import Path

from standardwebhooks.webhooks import Webhook

from opensmsc.smpp import MessageState
from opensmsc.store import Change, Direction, StoredMessage, system_clock

from .api_node import Node, api_node
from .webhook_receiver import Answer, Receiver, webhook_receiver

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
HANDSET = "+447700900001"
SHORT_CODE = "5000"


def _account(receiver: Receiver) -> str:
    return f"""
        webhook_url = "{receiver.url}"
        webhook_secret = "{SECRET}"
        mo_prefixes = ["{SHORT_CODE}"]
        """


async def _mo_record(node: Node, message_id: str) -> StoredMessage:
    record = await node.store.get(message_id)
    assert record is not None and record.direction is Direction.MO
    return record  # type: ignore[no-any-return]


async def test_an_mo_reaches_the_accounts_webhook_url_signed(tmp_path: Path) -> None:
    async with (
        webhook_receiver(lambda n: 200) as receiver,
        api_node(tmp_path, account=_account(receiver)) as node,
    ):
        network = node.running.network
        assert network is not None
        sent = await network.send_mo(HANDSET, SHORT_CODE, "STOP ça")
        assert sent.is_accepted
        await receiver.wait_for(lambda: len(receiver.answered(200)) >= 1)
        (request,) = receiver.requests
        event = Webhook(SECRET).verify(request.body, request.headers)
        assert event["type"] == "message.received"
        data = event["data"]
        assert data["from"] == HANDSET and data["to"] == SHORT_CODE
        assert data["text"] == "STOP ça" and data["binary"] is None
        assert data["encoding"] in {"gsm7", "ucs2"}
        for _ in range(50):
            record = await _mo_record(node, data["id"])
            if record.state is MessageState.DELIVERED:
                break
            await asyncio.sleep(0.1)
        assert record.state is MessageState.DELIVERED


async def test_an_mo_whose_receiver_fails_stays_stored_until_it_is_answered(
    tmp_path: Path,
) -> None:
    def script(n: int) -> Answer:
        return 500 if n == 0 else 200

    async with (
        webhook_receiver(script) as receiver,
        api_node(tmp_path, account=_account(receiver)) as node,
    ):
        network = node.running.network
        assert network is not None
        await network.send_mo(HANDSET, SHORT_CODE, "HELP")
        await receiver.wait_for(lambda: len(receiver.requests) >= 1)
        message_id = json.loads(receiver.requests[0].body)["data"]["id"]
        for _ in range(50):
            record = await _mo_record(node, message_id)
            if record.last_error is not None:
                break
            await asyncio.sleep(0.1)
        assert record.state is MessageState.ENROUTE
        assert record.last_error == 500
        # Its retry is on the schedule (minutes away): bring it forward, as an operator's
        # "retry now" would, and the same MO goes again.
        now = system_clock()
        (refused,) = await node.store.apply(
            (
                Change(
                    record.message_id,
                    MessageState.ENROUTE,
                    now,
                    next_attempt_at=now - timedelta(seconds=1),
                ),
            )
        )
        assert refused is None
        node.running.engine.scheduler.wake()
        await receiver.wait_for(lambda: len(receiver.answered(200)) >= 1)
        first, second = receiver.requests
        assert first.headers["webhook-id"] == second.headers["webhook-id"]
        assert first.body == second.body
