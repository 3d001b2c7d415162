"""Receipts from an upstream SMSC that numbers its message ids `%016x` (issue 10 item 7).

The carrier is `TestCarrier` (tests/integration/carrier.py), a small SMSC on our own sans-IO
core: it answers every submit_sm with the next id written `%016x` ("0000000000000001", ...,
"000000000000000a", ..., "0000000000000010") and sends the receipts once it has answered
every submit, as a carrier that reports later does. The receipts quote the id exactly as
submit_sm_resp gave it, or the same number in decimal ("10" for "000000000000000a"). Our node
runs with `app.start()`, its connector in the default `message_id_format = "auto"`, window
10; an ESME submits 50 messages and must get the 50 receipts, each for its own message.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from opensmsc.smpp import (
    CommandId,
    DeliverSm,
    SubmitSmResp,
)
from opensmsc.smpp.receipt import parse_receipt
from opensmsc.upstream import ConnectorState
from tests.integration.carrier import (
    TIMEOUT,
    TestCarrier,
    bound_esme,
    connector_status,
    our_node,
    wait_until,
)

COUNT = 50


@contextlib.asynccontextmanager
async def hex_carrier(quote: Callable[[int, str], str]) -> AsyncIterator[TestCarrier]:
    carrier = TestCarrier(receipts_after=COUNT, quote=quote)
    await carrier.start()
    try:
        yield carrier
    finally:
        await carrier.stop()


@pytest.mark.parametrize(
    "quote",
    [
        pytest.param(lambda n, upstream_id: upstream_id, id="receipts-quote-the-hex-id"),
        pytest.param(lambda n, upstream_id: str(n), id="receipts-quote-it-in-decimal"),
    ],
)
async def test_every_receipt_of_a_hex_numbering_carrier_reaches_the_esme(
    tmp_path: Path, quote: Callable[[int, str], str]
) -> None:
    async with (
        hex_carrier(quote) as carrier,
        our_node(tmp_path, carrier.port) as running,
        bound_esme(running) as esme,
    ):
        status = connector_status(running)
        await wait_until(lambda: status().state is ConnectorState.BOUND, "the bind", status)
        ours = []
        for n in range(COUNT):
            submitted = await esme.submit(
                source_addr="SENDER",
                destination_addr="31600000001",
                registered_delivery=1,
                short_message=f"hex test {n}".encode(),
            )
            assert isinstance(submitted.pdu, SubmitSmResp), submitted
            ours.append(submitted.pdu.message_id)
        receipted: list[str] = []
        with contextlib.suppress(TimeoutError):
            for _ in range(COUNT):
                decoded = await esme.expect(CommandId.DELIVER_SM, timeout=TIMEOUT)
                assert isinstance(decoded.pdu, DeliverSm)
                text = parse_receipt(decoded.pdu.short_message)
                assert text is not None and text.stat == "DELIVRD"
                receipted.append(text.id)
        await wait_until(
            lambda: carrier.receipts_acked == COUNT, "the carrier's acknowledgements", status
        )
    missing = sorted(set(ours) - set(receipted))
    assert not missing, f"{len(missing)} of {COUNT} receipts never reached the ESME"
    assert sorted(receipted) == sorted(ours)  # each message once, no duplicates
    assert status().receipts_unmatched == 0
