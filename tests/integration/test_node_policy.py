"""The node's own message path follows its policy file (issue 11): a real node (`app.start`)
with two connectors to two in-process carriers (tests/integration/carrier.py), the SMPP and
HTTP front doors, and `[routing] policy_file`.

What is checked: a reject rule is answered with its command_status over SMPP and over HTTP
(403 with command_status); a throttle rule with ESME_RTHROTTLED and HTTP 429 + Retry-After; a
source rewrite is what the carrier receives; quiet hours store the message SCHEDULED at the
window's start; and with carrier A killed mid-traffic every message reaches a carrier exactly
once (counted at the carriers), carrier A is blacklisted after its failures, and once it is
back and the blacklist has run out one probe finds it and it carries traffic again.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from opensmsc import app
from opensmsc.config import loads
from opensmsc.smpp import BindTransceiver, CommandStatus, MessageState, SubmitSmResp
from opensmsc.transport.protocol import SessionHandler, SmppProtocol
from opensmsc.upstream.model import ConnectorState
from tests.conftest import SmppTestClient, cheap_password_hash
from tests.integration.carrier import TestCarrier, _CarrierSession

PASSWORD = "secret"
TIMEOUT = 20.0
_S = CommandStatus


class KillableCarrier(TestCarrier):
    """A TestCarrier that can be killed: it stops answering (what it did not answer it never
    took), then its connections are aborted and its listener closed."""

    __test__ = False

    def __init__(self) -> None:
        super().__init__()
        self.dead = False
        self._protocols: list[SmppProtocol] = []

    def _session(self, protocol: SmppProtocol) -> SessionHandler:
        self._protocols.append(protocol)
        return _MaybeDead(self, protocol)

    def texts(self) -> list[bytes]:
        return [pdu.short_message for pdu, _ in self.submitted]

    async def kill(self) -> None:
        self.dead = True
        await asyncio.sleep(0.2)  # answers already written reach the node
        for protocol in self._protocols:
            protocol.abort()
        await self.stop()

    async def revive(self) -> None:
        self.dead = False
        self._protocols.clear()
        await self.start(self.port)


class _MaybeDead(_CarrierSession):
    def __init__(self, carrier: KillableCarrier, protocol: SmppProtocol) -> None:
        super().__init__(carrier, protocol)
        self._killable = carrier

    def on_events(self, events: list[object]) -> None:  # type: ignore[override]
        if not self._killable.dead:
            super().on_events(events)  # type: ignore[arg-type]


def policy_text(window_start: datetime) -> str:
    start = window_start.strftime("%H:%M")
    end = (window_start + timedelta(hours=1)).strftime("%H:%M")
    return f"""
prices_file = "prices.csv"

[lcr]
failures = 3
blacklist_s = 2.0

[[window]]
name = "later"
start = "{start}"
end = "{end}"

[[rule]]
name = "blocked"
prefix = ["4479"]
reject = "ESME_RX_R_APPN"
reason = "blocked range"

[[rule]]
name = "slow"
prefix = ["4478"]
throttle_ms = 2500

[[rule]]
name = "brand"
prefix = ["4477"]
set_source = "BRAND"
set_source_ton = 5
set_source_npi = 0
add_tlvs = [{{ tag = 0x1501, value = "0a0b" }}]
routes = ["carrier-a"]

[[rule]]
name = "quiet"
prefix = ["4476"]
defer_until = "later"
routes = ["carrier-a"]

[[rule]]
name = "uk"
prefix = ["44"]
routes = ["carrier-a", "carrier-b"]
"""


def node_text(tmp_path: Path, port_a: int, port_b: int) -> str:
    connectors = ""
    for name, port in (("carrier-a", port_a), ("carrier-b", port_b)):
        connectors += f"""
        [[smpp.client]]
        name = "{name}"
        host = "127.0.0.1"
        port = {port}
        system_id = "gw"
        password = "pw"
        window = 10
        reconnect_min_delay = 0.1
        reconnect_max_delay = 0.3
        response_timeout = 1.0
        """
    return f"""
        [node]
        data_dir = "{tmp_path / "data"}"
        [smpp.server]
        bind_address = "127.0.0.1"
        port = 0
        tls_enabled = false
        [http]
        enabled = false
        [policyd]
        enabled = false
        [api]
        enabled = true
        bind_address = "127.0.0.1"
        port = 0
        [[accounts]]
        system_id = "esme1"
        password_hash = "{cheap_password_hash(PASSWORD)}"
        allowed_networks = ["127.0.0.0/8"]
        window = 100
        {connectors}
        [routing]
        default_route = "loopback"
        policy_file = "{tmp_path / "policy.toml"}"
        """


class Node:
    def __init__(self, running: app.RunningSmsc, a: KillableCarrier, b: KillableCarrier) -> None:
        self.running = running
        self.a = a
        self.b = b

    def state(self, name: str) -> ConnectorState:
        return self.running.connectors.status()[name].state

    async def esme(self) -> SmppTestClient:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.running.ports["smpp"])
        esme = SmppTestClient(reader, writer)
        resp = await esme.request(BindTransceiver(system_id="esme1", password=PASSWORD))
        assert resp.status == 0
        return esme

    def http(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{self.running.ports['api']}",
            auth=("esme1", PASSWORD),
            timeout=10,
        )


async def wait_until(condition: Callable[[], bool], what: str, timeout: float = TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


@contextlib.asynccontextmanager
async def policy_node(tmp_path: Path) -> AsyncIterator[Node]:
    window_start = (datetime.now(UTC) + timedelta(hours=2)).replace(second=0, microsecond=0)
    (tmp_path / "policy.toml").write_text(policy_text(window_start))
    # A is the cheaper route: first whenever it is not blacklisted (least cost before quality).
    (tmp_path / "prices.csv").write_text(
        "route,mcc_mnc,price\ncarrier-a,*,0.01\ncarrier-b,*,0.02\n"
    )
    a, b = KillableCarrier(), KillableCarrier()
    await a.start()
    await b.start()
    running = await app.start(loads(node_text(tmp_path, a.port, b.port)))
    node = Node(running, a, b)
    try:
        for name in ("carrier-a", "carrier-b"):
            await wait_until(lambda n=name: node.state(n) is ConnectorState.BOUND, name)
        yield node
    finally:
        await running.stop()
        await a.stop()
        await b.stop()


async def test_rejects_and_throttles_are_answered_over_smpp_and_http(tmp_path: Path) -> None:
    async with policy_node(tmp_path) as node:
        esme = await node.esme()
        try:
            refused = await esme.submit(source_addr="12345", destination_addr="447912345678")
            assert refused.status == _S.ESME_RX_R_APPN
            held = await esme.submit(source_addr="12345", destination_addr="447812345678")
            assert held.status == _S.ESME_RTHROTTLED
            passed = await esme.submit(source_addr="12345", destination_addr="447000000001")
            assert passed.status == 0
        finally:
            await esme.close()
        async with node.http() as http:
            answer = await http.post(
                "/v1/messages", json={"to": "+447912345678", "from": "12345", "text": "hi"}
            )
            assert answer.status_code == 403, answer.text
            body = answer.json()
            assert body["command_status"] == _S.ESME_RX_R_APPN
            assert body["detail"] == "blocked range"
            answer = await http.post(
                "/v1/messages", json={"to": "+447812345678", "from": "12345", "text": "hi"}
            )
            assert answer.status_code == 429, answer.text
            assert answer.headers["Retry-After"] == "3"  # 2500 ms, rounded up
            assert answer.json()["command_status"] == _S.ESME_RTHROTTLED
            assert answer.json()["retry_after_ms"] == 2500
            batch = await http.post(
                "/v1/messages/batch",
                json={
                    "messages": [
                        {"to": "+447000000002", "from": "12345", "text": "a"},
                        {"to": "+447912345678", "from": "12345", "text": "b"},
                    ]
                },
            )
            assert batch.status_code == 403, batch.text
            assert batch.json()["detail"].startswith("messages[1]: ")
        # Nothing refused reached a carrier; the one let through did.
        await wait_until(lambda: len(node.a.submitted) == 1, "the routed message")
        assert [pdu.destination_addr for pdu, _ in node.a.submitted] == ["447000000001"]
        assert node.b.submitted == []


async def test_a_rewrite_is_what_the_carrier_gets_and_quiet_hours_defer(tmp_path: Path) -> None:
    async with policy_node(tmp_path) as node:
        esme = await node.esme()
        try:
            resp = await esme.submit(
                source_addr="12345", destination_addr="447712345678", short_message=b"brand"
            )
            assert resp.status == 0
            quiet = await esme.submit(
                source_addr="12345", destination_addr="447612345678", short_message=b"quiet"
            )
            assert quiet.status == 0
        finally:
            await esme.close()
        async with node.http() as http:
            answer = await http.post(
                "/v1/messages", json={"to": "+447712345679", "from": "12345", "text": "api"}
            )
            assert answer.status_code == 201, answer.text
        await wait_until(lambda: len(node.a.submitted) == 2, "the rewritten messages")
        for pdu, _ in node.a.submitted:
            assert (pdu.source_addr, pdu.source_addr_ton, pdu.source_addr_npi) == ("BRAND", 5, 0)
            assert pdu.tlvs.get(0x1501) == b"\x0a\x0b"
        assert node.b.submitted == []
        assert isinstance(quiet.pdu, SubmitSmResp)
        record = await node.running.engine.store.get(quiet.pdu.message_id)
        assert record is not None
        assert record.state is MessageState.SCHEDULED
        assert record.route == "carrier-a"
        start = (datetime.now(UTC) + timedelta(hours=2)).replace(second=0, microsecond=0)
        assert abs(record.due_at - start) <= timedelta(minutes=1)
        assert b"quiet" not in node.a.texts()


async def test_failover_and_blacklisting_lose_and_repeat_nothing(tmp_path: Path) -> None:
    async with policy_node(tmp_path) as node:
        esme = await node.esme()
        policy = node.running.engine.policy
        sent: list[bytes] = []
        try:

            async def send(count: int) -> None:
                for _ in range(count):
                    text = f"m{len(sent)}".encode()
                    sent.append(text)
                    resp = await esme.submit(
                        source_addr="12345", destination_addr="447000000001", short_message=text
                    )
                    assert resp.status == 0, hex(resp.status)
                    await asyncio.sleep(0.005)

            await send(30)
            await wait_until(lambda: len(node.a.submitted) >= 20, "traffic on carrier A")
            kill = asyncio.create_task(node.a.kill())  # mid-traffic
            await send(60)
            await kill
            delivered = lambda: Counter(node.a.texts() + node.b.texts())  # noqa: E731
            # Submits queued inside A's connector when A died wait for it up to the
            # attempt's bound (response_timeout + 30 s) before they fail over.
            await wait_until(lambda: set(delivered()) == set(sent), "every message", 60.0)
            await asyncio.sleep(0.5)  # nothing more arrives
            counts = delivered()
            assert sorted(counts) == sorted(sent)
            assert max(counts.values()) == 1, [t for t, n in counts.items() if n > 1]
            assert node.b.texts(), "carrier B took over"
            # A failed three times in a row: it is out of decisions until probed.
            health = policy.health  # type: ignore[attr-defined]
            assert health.blacklisted("carrier-a", time.time())
            before_b = len(node.b.submitted)
            await send(5)
            await wait_until(lambda: len(node.b.submitted) == before_b + 5, "B alone")
            # A comes back; once its blacklist ran out one message probes it and it is used.
            await node.a.revive()
            await wait_until(lambda: node.state("carrier-a") is ConnectorState.BOUND, "A again")
            await asyncio.sleep(2.1)
            before_a = len(node.a.submitted)
            await send(5)
            await wait_until(lambda: len(node.a.submitted) >= before_a + 1, "the probe on A")
            assert not health.blacklisted("carrier-a", time.time())
            counts = Counter(node.a.texts() + node.b.texts())
            await wait_until(
                lambda: sum(Counter(node.a.texts() + node.b.texts()).values()) == len(sent),
                "the last messages",
            )
            counts = Counter(node.a.texts() + node.b.texts())
            assert sorted(counts) == sorted(sent) and max(counts.values()) == 1
        finally:
            await esme.close()
