"""The whole node as app.py starts it: an ESME over SMPP, the simulated network as the default
route, its HTTP admin API on an ephemeral port. Subscribers are changed over HTTP; receipts and
MO arrive at the ESME as deliver_sm."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import httpx
import pytest

from opensmsc.smpp import CommandId
from opensmsc.smpp.constants import Tag
from opensmsc.smpp.pdu import DeliverSm
from opensmsc.smpp.receipt import receipt_from_pdu
from opensmsc.smpp.tlv import NetworkErrorCode
from opensmsc.sms import gsm7
from tests.conftest import SmscFactory, TestSmsc, account

A = "+447700900001"
B = "+447700900002"


async def node(smsc_factory: SmscFactory) -> tuple[TestSmsc, httpx.AsyncClient]:
    smsc = await smsc_factory(accounts=[account("esme1", "pw1", mo_prefixes=("5000",))])
    port = smsc.running.ports["http"]
    return smsc, httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5)


async def next_deliver_sm(client: Any) -> DeliverSm:
    decoded = await client.expect(CommandId.DELIVER_SM)
    assert isinstance(decoded.pdu, DeliverSm)
    return decoded.pdu


async def test_absent_subscriber_then_attached_over_http(smsc_factory: SmscFactory) -> None:
    smsc, http = await node(smsc_factory)
    async with http:
        answer = await http.post("/v1/network/subscribers", json={"msisdn": A, "state": "absent"})
        assert answer.status_code == 201, answer.text
        esme = await smsc.bound("trx", "esme1")
        resp = await esme.submit(
            destination_addr=A[1:], short_message=b"wake up", registered_delivery=1
        )
        assert resp.status == 0
        message_id = resp.pdu.message_id
        lookup = (await http.get(f"/v1/hlr/{A}")).json()
        assert lookup["reachable"] is False and lookup["error_code"] == 6
        assert (await http.get(f"/v1/network/handsets/{A}/inbox")).json()["messages"] == []

        # The subscriber attaches: alertServiceCentre, and the waiting message goes at once.
        await http.patch(f"/v1/network/subscribers/{A}", json={"state": "attached"})
        receipt = await next_deliver_sm(esme)
        info = receipt_from_pdu(receipt)
        assert info is not None and info.message_id == message_id
        assert info.receipt is not None and info.receipt.stat == "DELIVRD"
        inbox = (await http.get(f"/v1/network/handsets/{A}/inbox")).json()
        assert [m["text"] for m in inbox["messages"]] == ["wake up"]


async def test_barred_subscriber_gets_an_undeliverable_receipt(smsc_factory: SmscFactory) -> None:
    smsc, http = await node(smsc_factory)
    async with http:
        await http.post("/v1/network/subscribers", json={"msisdn": B, "state": "barred"})
        esme = await smsc.bound("trx", "esme1")
        resp = await esme.submit(destination_addr=B[1:], registered_delivery=1)
        receipt = await next_deliver_sm(esme)
        info = receipt_from_pdu(receipt)
        assert info is not None and info.message_id == resp.pdu.message_id
        assert info.receipt is not None and info.receipt.stat == "UNDELIV"
        assert info.err == "013"
        nec = receipt.tlvs.get(Tag.NETWORK_ERROR_CODE)
        assert isinstance(nec, NetworkErrorCode)
        assert (nec.network_type, nec.error_code) == (3, 13)


async def test_mo_from_a_handset_reaches_the_bound_esme(smsc_factory: SmscFactory) -> None:
    smsc, http = await node(smsc_factory)
    async with http:
        esme = await smsc.bound("trx", "esme1")
        answer = await http.post(
            f"/v1/network/handsets/{A}/mo", json={"to": "5000", "text": "JOIN"}
        )
        assert answer.status_code == 202, answer.text
        mo = await next_deliver_sm(esme)
        assert mo.source_addr == A[1:] and mo.destination_addr == "5000"
        assert gsm7.decode(mo.short_message) == "JOIN"


async def test_mo_to_a_short_code_reaches_the_demo_account(smsc_factory: SmscFactory) -> None:
    smsc = await smsc_factory(accounts=[])  # no account configured: the demo account test/test
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{smsc.running.ports['http']}", timeout=5
    ) as http:
        esme = await smsc.bound("trx", "test", password="test")  # address_range ""
        answer = await http.post(f"/v1/network/handsets/{A}/mo", json={"to": "5000", "text": "HI"})
        assert answer.status_code == 202, answer.text
        mo = await next_deliver_sm(esme)
        assert (mo.source_addr, mo.destination_addr) == (A[1:], "5000")
        # A mobile number is still person to person: the handset gets it, not the demo ESME.
        answer = await http.post(f"/v1/network/handsets/{A}/mo", json={"to": B, "text": "P2P"})
        assert answer.status_code == 202, answer.text
        for _ in range(100):
            inbox = (await http.get(f"/v1/network/handsets/{B}/inbox")).json()["messages"]
            if inbox:
                break
            await asyncio.sleep(0.05)
        assert [m["text"] for m in inbox] == ["P2P"]


async def test_an_mo_no_account_takes_is_refused_and_logged(
    smsc_factory: SmscFactory, caplog: pytest.LogCaptureFixture
) -> None:
    smsc = await smsc_factory(accounts=[account("esme1", "pw1")])  # no mo_prefixes
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{smsc.running.ports['http']}", timeout=5
    ) as http:
        await smsc.bound("trx", "esme1")  # address_range "": matches nothing
        with caplog.at_level(logging.INFO):
            answer = await http.post(
                f"/v1/network/handsets/{A}/mo", json={"to": "5000", "text": "HI"}
            )
    assert answer.status_code == 409, answer.text
    assert answer.json()["map_error"]["name"] == "sm-DeliveryFailure (invalidSME-Address)"
    assert any(
        "MO refused" in r.getMessage() and "destination=5000" in r.getMessage()
        for r in caplog.records
    )
