"""The HTTP admin API of the simulated network: lookups, subscribers, inboxes, MO; every error
an RFC 9457 problem document. In-process through httpx's ASGI transport (Starlette's TestClient
now asks for a different httpx package and warns), and one real uvicorn on port 0."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from opensmsc.app import build_hlr
from opensmsc.config.model import NetworkConfig, PortedNumberConfig, PrefixDefaultConfig
from opensmsc.http import MEDIA_TYPE, HttpServer, create_app
from opensmsc.network import EngineLink, SimulatedNetwork, Submitted, SubscriberState
from opensmsc.smpp import DeliverSm, SubmitSm

A = "+447700900001"
B = "+447700900002"


class FakeSmsc:
    """The engine's side of MO: accounts by prefix, everything else refused or stored."""

    def __init__(self) -> None:
        self.to_accounts: list[DeliverSm] = []
        self.mt: list[SubmitSm] = []

    def account_for(self, destination: str) -> str | None:
        return "esme1" if destination.startswith("5000") else None

    async def on_mo(self, connector: str, pdu: DeliverSm) -> None:
        self.to_accounts.append(pdu)

    async def submit(self, pdu: SubmitSm) -> Submitted:
        self.mt.append(pdu)
        return f"id{len(self.mt)}", 0

    async def waiting_for(self, address: str) -> list[Any]:
        return []

    async def release(self, address: str) -> int:
        return 0


def make_network() -> tuple[SimulatedNetwork, Any, FakeSmsc]:
    services = build_hlr(
        NetworkConfig(
            prefix_defaults=(PrefixDefaultConfig(prefix="44", home_network="23415"),),
            ported=(PortedNumberConfig(msisdn=B, recipient_network="23410"),),
        )
    )
    smsc = FakeSmsc()
    network = SimulatedNetwork(
        services.hlr,
        sc_address="447700000999",
        engine=EngineLink(
            waiting_for=smsc.waiting_for,
            release=smsc.release,
            account_for=smsc.account_for,
            deliver_to_account=smsc.on_mo,
            submit_mt=smsc.submit,
        ),
    )
    return network, services.lookup, smsc


Setup = tuple[httpx.AsyncClient, SimulatedNetwork, FakeSmsc]


@pytest.fixture
async def setup() -> AsyncIterator[Setup]:
    network, lookup, smsc = make_network()
    transport = httpx.ASGITransport(app=create_app(network=network, lookup=lookup))
    async with httpx.AsyncClient(transport=transport, base_url="http://admin") as client:
        yield client, network, smsc


def assert_problem(response: httpx.Response, status: int, slug: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(MEDIA_TYPE)
    body: dict[str, Any] = response.json()
    assert body["type"] == f"urn:opensmsc:problem:{slug}"
    assert body["status"] == status
    assert body["title"] and body["detail"]
    return body


async def test_hlr_lookup_reports_network_and_portability(setup: Setup) -> None:
    client, _, _ = setup
    body = (await client.get(f"/v1/hlr/{B}")).json()
    assert body["msisdn"] == B
    assert body["valid"] and body["reachable"] and body["ported"]
    assert body["mcc_mnc"] == "23410" and body["home_mcc_mnc"] == "23415"
    assert body["imsi"].startswith("23410") and "*" in body["imsi"]


async def test_hlr_lookup_of_an_absent_subscriber(setup: Setup) -> None:
    client, network, _ = setup
    network.hlr.subscribers.add(A, state=SubscriberState.ABSENT)
    body = (await client.get(f"/v1/hlr/{A}")).json()
    assert body["valid"] and not body["reachable"]
    assert body["error"] == "absentSubscriberSM" and body["error_code"] == 6


async def test_invalid_number_is_a_400_problem(setup: Setup) -> None:
    client, _, _ = setup
    body = assert_problem(await client.get("/v1/hlr/12ab"), 400, "invalid-number")
    assert body["number"] == "12ab"
    assert body["instance"] == "/v1/hlr/12ab"


async def test_subscriber_lifecycle(setup: Setup) -> None:
    client, network, _ = setup
    created = await client.post(
        "/v1/network/subscribers", json={"msisdn": "00447700900005", "state": "absent"}
    )
    assert created.status_code == 201
    assert created.headers["location"] == "/v1/network/subscribers/+447700900005"
    assert created.json()["state"] == "absent" and created.json()["home_network"] == "23415"
    assert_problem(
        await client.post("/v1/network/subscribers", json={"msisdn": "+447700900005"}),
        409,
        "conflict",
    )
    listed = (await client.get("/v1/network/subscribers")).json()
    assert listed["total"] == 1 and listed["subscribers"][0]["msisdn"] == "+447700900005"
    changed = await client.patch(
        "/v1/network/subscribers/447700900005",
        json={"state": "attached", "ported_to": "23410", "latency": "fixed:5"},
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["state"] == "attached" and changed.json()["ported_to"] == "23410"
    cleared = await client.patch("/v1/network/subscribers/447700900005", json={"ported_to": None})
    assert cleared.json()["ported_to"] is None
    assert (await client.get("/v1/network/subscribers/+447700900005")).json()[
        "latency"
    ] == "fixed:5"
    assert (await client.delete("/v1/network/subscribers/+447700900005")).status_code == 204
    assert_problem(
        await client.get("/v1/network/subscribers/+447700900005"), 404, "unknown-subscriber"
    )
    assert_problem(
        await client.delete("/v1/network/subscribers/+447700900005"), 404, "unknown-subscriber"
    )
    assert len(network.hlr.subscribers) == 0


async def test_patch_of_an_unknown_subscriber_is_a_404_and_creates_nothing(setup: Setup) -> None:
    # Issue 10 item 13: PATCH used to list the number first, while GET answered 404.
    client, network, _ = setup
    body = assert_problem(
        await client.patch(f"/v1/network/subscribers/{A}", json={"state": "absent"}),
        404,
        "unknown-subscriber",
    )
    assert "POST /v1/network/subscribers" in body["detail"]
    assert_problem(await client.get(f"/v1/network/subscribers/{A}"), 404, "unknown-subscriber")
    assert len(network.hlr.subscribers) == 0
    assert network.hlr.subscriber(A).state is SubscriberState.ATTACHED  # its prefix default


async def test_patch_state_to_reachable_alerts(setup: Setup) -> None:
    client, network, _ = setup
    alerts: list[str] = []
    network.hlr.add_alert_listener(alerts.append)
    await client.post("/v1/network/subscribers", json={"msisdn": A, "state": "absent"})
    from opensmsc.network import DeliveryOutcome

    network.hlr.report_sm_delivery_status(A, DeliveryOutcome.ABSENT_SUBSCRIBER, "447700000999")
    await client.patch(f"/v1/network/subscribers/{A}", json={"state": "attached"})
    assert alerts == ["447700900001"]


async def test_validation_errors_are_422_problems(setup: Setup) -> None:
    client, _, _ = setup
    body = assert_problem(
        await client.post("/v1/network/subscribers", json={"msisdn": A, "state": "asleep"}),
        422,
        "validation",
    )
    assert body["errors"][0]["location"][-1] == "state"
    assert_problem(
        await client.post("/v1/network/subscribers", json={"msisdn": A, "colour": "red"}),
        422,
        "validation",
    )
    assert_problem(
        await client.post("/v1/network/subscribers", json={"msisdn": A, "home_network": "2"}),
        422,
        "validation",
    )


async def test_unknown_path_and_method_are_problems(setup: Setup) -> None:
    client, _, _ = setup
    assert_problem(await client.get("/v1/nothing"), 404, "not-found")
    assert_problem(await client.put("/v1/hlr/+447700900001"), 405, "method-not-allowed")


async def test_inbox_and_free_memory(setup: Setup) -> None:
    client, network, _ = setup
    handset = network.handset(A)
    from opensmsc.sms import gsm7
    from opensmsc.sms.tpdu import SmsDeliver

    handset.receive(SmsDeliver(originator="1234", user_data=gsm7.encode("hello")), network="23415")
    handset.receive(SmsDeliver(originator="1234", data_coding=0x10, user_data=gsm7.encode("flash")))
    body = (await client.get(f"/v1/network/handsets/{A}/inbox")).json()
    assert body["msisdn"] == A and not body["memory_full"]
    (message,) = body["messages"]
    assert message["text"] == "hello" and message["network"] == "23415" and not message["flash"]
    assert body["flash"][0]["flash"] and body["flash"][0]["message_class"] == 0
    freed = (await client.delete(f"/v1/network/handsets/{A}/inbox")).json()
    assert freed == {"msisdn": A, "deleted": 1, "left": 0, "volatile": True}


async def test_handset_memory_settings(setup: Setup) -> None:
    client, network, _ = setup
    answer = await client.patch(
        f"/v1/network/handsets/{A}", json={"capacity": 1, "delete_old": False}
    )
    assert answer.json() == {
        "msisdn": A,
        "capacity": 1,
        "delete_old": False,
        "stored": 0,
        "memory_full": False,
        "volatile": True,
    }
    from opensmsc.sms.tpdu import SmsDeliver

    network.handset(A).receive(SmsDeliver(originator="1", user_data=b"\x41"))
    assert (await client.get(f"/v1/network/handsets/{A}/inbox")).json()["memory_full"] is True
    assert_problem(
        await client.patch(f"/v1/network/handsets/{A}", json={"capacity": -1}), 422, "validation"
    )


async def test_mo_to_an_account_and_to_a_handset(setup: Setup) -> None:
    client, _, smsc = setup
    answer = await client.post(f"/v1/network/handsets/{A}/mo", json={"to": "5000", "text": "hi"})
    assert answer.status_code == 202, answer.text
    assert answer.json() == {"msisdn": A, "to": "5000", "parts": 1, "accepted": True}
    (pdu,) = smsc.to_accounts
    assert pdu.source_addr == "447700900001" and pdu.destination_addr == "5000"
    long = await client.post(f"/v1/network/handsets/{A}/mo", json={"to": B, "text": "日" * 100})
    assert long.json()["parts"] == 2
    assert [p.destination_addr for p in smsc.mt] == ["447700900002"] * 2
    assert all(p.esm_class & 0x40 for p in smsc.mt)


async def test_mo_refused_and_unavailable_handset(setup: Setup) -> None:
    client, network, _ = setup
    body = assert_problem(
        await client.post(f"/v1/network/handsets/{A}/mo", json={"to": "9", "text": "x"}),
        409,
        "mo-refused",
    )
    assert body["map_error"]["code"] == 32 and body["map_error"]["cause"] == 5
    network.hlr.subscribers.add(A, state=SubscriberState.ABSENT, replace=True)
    assert_problem(
        await client.post(f"/v1/network/handsets/{A}/mo", json={"to": "5000", "text": "x"}),
        409,
        "handset-unavailable",
    )
    assert_problem(
        await client.post(f"/v1/network/handsets/{B}/mo", json={"to": "5000"}), 422, "validation"
    )


async def test_port_addressed_mo(setup: Setup) -> None:
    client, _, smsc = setup
    answer = await client.post(
        f"/v1/network/handsets/{A}/mo",
        json={"to": "5000", "data_hex": "0102", "port": 3590, "originator_port": 3590},
    )
    assert answer.status_code == 202
    (pdu,) = smsc.to_accounts
    assert pdu.esm_class & 0x40 and pdu.short_message.startswith(bytes.fromhex("0605040e060e06"))


async def test_real_uvicorn_on_an_ephemeral_port() -> None:
    network, lookup, _ = make_network()
    server = HttpServer(create_app(network=network, lookup=lookup), host="127.0.0.1", port=0)
    port = await server.start()
    try:
        assert port > 0
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            health = await client.get("/v1/health")
            assert health.json()["status"] == "ok"
            answer = await client.get(f"/v1/hlr/{B}")
            assert answer.json()["ported"] is True
            problem = await client.get("/v1/hlr/xyz")
            assert problem.status_code == 400
            assert problem.headers["content-type"].startswith(MEDIA_TYPE)
    finally:
        await server.stop()


async def test_port_in_use_is_an_os_error() -> None:
    network, _, _ = make_network()
    first = HttpServer(create_app(network=network), port=0)
    port = await first.start()
    try:
        with pytest.raises(OSError):
            await HttpServer(create_app(network=network), port=port).start()
    finally:
        await first.stop()
