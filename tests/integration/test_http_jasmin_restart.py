"""Jasmin delivery reports across a kill -9 of `opensmsc run --config` in a process of its own:
every report owed at the kill (the level-1 acceptance and the terminal receipt of each message,
none acknowledged yet) reaches the receiver after the restart, and each ends acknowledged."""

from __future__ import annotations

import signal
import sqlite3
from pathlib import Path
from urllib.parse import parse_qsl

import pytest

from opensmsc.smpp import MessageState

from .test_http_api_restart import _config, _start
from .webhook_receiver import Received, webhook_receiver

pytestmark = pytest.mark.timeout(90)


async def test_reports_pending_at_a_kill_9_all_arrive_after_the_restart(tmp_path: Path) -> None:
    async with webhook_receiver(lambda n: 200, reply=b"not yet") as receiver:
        config = _config(
            tmp_path,
            """
webhook_backoff = 0.05
webhook_max_backoff = 0.2
webhook_timeout = 1
# A message whose attempt the kill cut short is tried again when its lease ends (30 s by
# default): then its terminal report is made. A short lease keeps the test short.
[store]
lease = 1.0
""",
        )
        node, client = await _start(config)
        try:
            ids = []
            for n in range(5):
                answer = await client.get(
                    "/send",
                    params={
                        "username": "esme1",
                        "password": "secret",
                        "to": "447700900123",
                        "content": f"m{n}",
                        "dlr-url": receiver.url,
                        "dlr-level": "3",
                    },
                )
                assert answer.status_code == 200, answer.text
                ids.append(answer.text[9:45])

            owed = {(i, level) for i in ids for level in ("1", "2")}
            # Every message's first report was tried (and not acknowledged); its terminal
            # report waits behind it (a message's reports go in order).
            await receiver.wait_for(lambda: _reports(receiver.requests) == {(i, "1") for i in ids})
            node.signal(signal.SIGKILL)
            assert await node.wait() == -signal.SIGKILL
        finally:
            await client.aclose()
            if node.proc.returncode is None:
                node.proc.kill()
                await node.proc.wait()
        tried = len(receiver.requests)
        receiver.reply = b"ACK/Jasmin"
        node, client = await _start(config)
        try:
            await receiver.wait_for(lambda: _reports(receiver.requests[tried:]) == owed)
            node.signal(signal.SIGTERM)
            assert await node.wait() == 0
        finally:
            await client.aclose()
            if node.proc.returncode is None:
                node.proc.kill()
                await node.proc.wait()
    with sqlite3.connect(tmp_path / "data" / "messages.sqlite3") as db:
        states = db.execute(
            "SELECT state, COUNT(*) FROM message WHERE direction = 3 AND callback_url IS NOT NULL"
            " GROUP BY state"
        ).fetchall()
    assert states == [(int(MessageState.DELIVERED), 10)]


def _reports(requests: list[Received]) -> set[tuple[str, str]]:
    found = set()
    for request in requests:
        fields = dict(parse_qsl(request.body.decode()))
        found.add((fields["id"], fields["level"]))
    return found
