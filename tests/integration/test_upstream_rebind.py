"""Messages queued for a connector that was down flow as soon as it binds (issue 10 item 4).

Our node starts with its connector pointed at a port where nothing answers yet; an ESME
submits messages routed to it; each first attempt fails ("connector is not bound") and the
message waits for its retry (30 s for that class). Then the carrier (tests/integration/
carrier.py) starts on that port: the connector binds within its reconnect delay, and the bind
must release the waiting messages at once, in the order they were submitted, not at their
retry time.
"""

from __future__ import annotations

import asyncio
import socket
import time
from pathlib import Path

from opensmsc.smpp import SubmitSmResp
from tests.integration.carrier import (
    TestCarrier,
    bound_esme,
    connector_status,
    our_node,
    wait_until,
)

COUNT = 20


async def test_a_rebind_releases_the_routes_waiting_messages_at_once_in_order(
    tmp_path: Path,
) -> None:
    # Bound, not listening: connects are refused until the carrier takes the port.
    reserved = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    reserved.bind(("127.0.0.1", 0))
    port = int(reserved.getsockname()[1])
    carrier = TestCarrier()
    try:
        async with our_node(tmp_path, port) as running, bound_esme(running) as esme:
            status = connector_status(running)
            ours = []
            for n in range(COUNT):
                resp = await esme.submit(
                    source_addr="SENDER",
                    destination_addr="31600000001",
                    short_message=f"queued {n:02d}".encode(),
                )
                assert isinstance(resp.pdu, SubmitSmResp), resp
                ours.append(resp.pdu.message_id)
            store = running.engine.store
            waiting: list[str] = []

            async def all_waiting_for_a_retry() -> bool:
                waiting[:] = [r.message_id for r in await store.waiting_on_route("carrier")]
                return len(waiting) == COUNT

            deadline = time.monotonic() + 10.0
            while not await all_waiting_for_a_retry():
                assert time.monotonic() < deadline, f"{len(waiting)} of {COUNT} failed once"
                await asyncio.sleep(0.05)
            assert waiting == ours
            for message_id in ours:
                record = await store.get(message_id)
                assert record is not None and record.next_attempt_at is not None
                assert record.next_attempt_at > record.submitted_at  # a retry, not due now

            reserved.close()
            await carrier.start(port)
            up = time.monotonic()
            await wait_until(
                lambda: len(carrier.submitted) == COUNT,
                f"{COUNT} submits at the carrier",
                status,
                timeout=5.0,
            )
            elapsed = time.monotonic() - up
    finally:
        reserved.close()
        await carrier.stop()
    assert elapsed < 2.5, elapsed  # reconnect (≤ 0.5 s) and the submits, not the 30 s retry
    texts = [pdu.short_message.decode() for pdu, _ in carrier.submitted]
    assert texts == [f"queued {n:02d}" for n in range(COUNT)]
