"""`[policy_client]`: a node whose routing decisions come from remote policy servers (issue 11).
Real nodes (`app.start`) on ephemeral ports: the servers are other nodes serving their
`[routing] policy_file` on their policy port; the client node has no policy file of its own
(its embedded engine is prefix routing to the loopback, which routes everything).

What is checked: the remote rule's reject is the SMPP command_status and the HTTP 403; a routed
message is delivered; with the only server stopped, on_failure = "local" routes by the embedded
engine and on_failure = "reject" refuses (ESME_RTHROTTLED, HTTP 429); with an active and a
standby server and the active one stopped mid-traffic, every message is accepted and
delivered, the standby having answered after the stop.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx

from opensmsc import app
from opensmsc.config import loads
from opensmsc.smpp import (
    CommandStatus,
    MessageState,
    SmeAddress,
    SubmitMulti,
    SubmitMultiResp,
    SubmitSm,
    SubmitSmResp,
)
from opensmsc.smpp.codec import encode
from tests.integration.api_node import KEY, config_text, read_pdus, smpp_bind

_S = CommandStatus
BLOCKED = "447900000001"  # rejected by the servers' rule
ROUTED = "447700900123"

SERVER_POLICY = """
[[rule]]
name = "blocked"
prefix = ["4479"]
reject = "ESME_RX_R_APPN"
reason = "blocked range"

[[rule]]
name = "uk"
prefix = ["44"]
routes = ["loopback"]
"""


@asynccontextmanager
async def policy_server_node(tmp_path: Path, port: int = 0) -> AsyncIterator[app.RunningSmsc]:
    """A node serving SERVER_POLICY on `port` (0: an ephemeral one, `ports["policyd"]`)."""
    tmp_path.mkdir()
    policy = tmp_path / "policy.toml"
    policy.write_text(SERVER_POLICY)
    extra = f"""
        [routing]
        default_route = "loopback"
        policy_file = "{policy}"
        [policyd]
        port = {port}
        """
    running = await app.start(loads(config_text(tmp_path, extra=extra)))
    try:
        yield running
    finally:
        await running.stop()


def client_extra(servers: list[tuple[int, str]], on_failure: str) -> str:
    text = f"""
        [routing]
        default_route = "loopback"
        [policyd]
        enabled = false
        [policy_client]
        enabled = true
        on_failure = "{on_failure}"
        transaction_timeout = 0.3
        retries = 1
        keepalive_interval = 1
        """
    for port, mode in servers:
        text += f"""
        [[policy_client.servers]]
        host = "127.0.0.1"
        port = {port}
        mode = "{mode}"
        """
    return text


@asynccontextmanager
async def client_node(
    tmp_path: Path, servers: list[tuple[int, str]], on_failure: str = "local"
) -> AsyncIterator[app.RunningSmsc]:
    tmp_path.mkdir()
    config = loads(config_text(tmp_path, extra=client_extra(servers, on_failure)))
    running = await app.start(config)
    try:
        yield running
    finally:
        await running.stop()


class Esme:
    """One SMPP transceiver bound to a node: submit_sm and its answer."""

    def __init__(self, port: int) -> None:
        self._port = port
        self._sequence = 1
        self.schedule = ""  # schedule_delivery_time of the next submits

    async def __aenter__(self) -> Esme:
        self._reader, self._writer, self._frames = await smpp_bind(self._port)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._writer.close()

    async def submit_many(self, destinations: list[str]) -> list[SubmitSmResp]:
        for destination in destinations:
            self._sequence += 1
            pdu = SubmitSm(
                source_addr="ACME",
                source_addr_ton=5,
                dest_addr_ton=1,
                dest_addr_npi=1,
                destination_addr=destination,
                short_message=b"hello",
                schedule_delivery_time=self.schedule,
            )
            self._writer.write(encode(pdu, self._sequence))
        answers = await read_pdus(self._reader, self._frames, len(destinations))
        assert all(isinstance(answer, SubmitSmResp) for answer in answers)
        return answers  # type: ignore[return-value]

    async def submit(self, destination: str) -> SubmitSmResp:
        return (await self.submit_many([destination]))[0]

    async def submit_multi(self, destinations: list[str]) -> SubmitMultiResp:
        self._sequence += 1
        pdu = SubmitMulti(
            source_addr="ACME",
            source_addr_ton=5,
            dest_address=tuple(
                SmeAddress(dest_addr_ton=1, dest_addr_npi=1, destination_addr=d)
                for d in destinations
            ),
            short_message=b"hello",
        )
        self._writer.write(encode(pdu, self._sequence))
        (answer,) = await read_pdus(self._reader, self._frames, 1)
        assert isinstance(answer, SubmitMultiResp)
        return answer


async def http_send(running: app.RunningSmsc, to: str) -> httpx.Response:
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{running.ports['api']}",
        headers={"Authorization": f"Bearer {KEY}"},
        timeout=10,
    ) as client:
        return await client.post(
            "/v1/messages", json={"to": f"+{to}", "from": "ACME", "text": "hi"}
        )


async def delivered(running: app.RunningSmsc, message_ids: list[str], timeout: float = 10) -> None:
    """Wait until every message is DELIVERED; fails naming those that are not."""
    store = running.engine.store
    deadline = time.monotonic() + timeout
    waiting = list(message_ids)
    while waiting:
        states = {mid: await store.get(mid) for mid in waiting}
        waiting = [
            mid
            for mid, record in states.items()
            if record is None or record.state is not MessageState.DELIVERED
        ]
        if not waiting:
            return
        if time.monotonic() > deadline:
            shown = {mid: states[mid] and states[mid].state for mid in waiting[:5]}  # type: ignore[union-attr]
            raise AssertionError(f"{len(waiting)} not delivered, e.g. {shown}")
        await asyncio.sleep(0.05)


async def test_the_remote_rule_decides_smpp_and_http(tmp_path: Path) -> None:
    async with policy_server_node(tmp_path / "server") as server:
        port = server.ports["policyd"]
        async with client_node(tmp_path / "client", [(port, "active")]) as node:
            assert node.policy_client is not None
            assert node.policy_client.client.up
            async with Esme(node.ports["smpp"]) as esme:
                refused = await esme.submit(BLOCKED)
                assert refused.command_status == _S.ESME_RX_R_APPN
                routed = await esme.submit(ROUTED)
                assert routed.command_status == _S.ESME_ROK
                # submit_multi: each destination decided remotely, the refused one listed.
                multi = await esme.submit_multi([BLOCKED, ROUTED])
                assert multi.command_status == _S.ESME_ROK
                assert [(u.destination_addr, u.error_status_code) for u in multi.unsuccess_sme] == [
                    (BLOCKED, _S.ESME_RX_R_APPN)
                ]
            answer = await http_send(node, BLOCKED)
            assert answer.status_code == 403, answer.text
            assert answer.json()["command_status"] == _S.ESME_RX_R_APPN
            sent = await http_send(node, ROUTED)
            assert sent.status_code == 201, sent.text
            await delivered(node, [routed.message_id, multi.message_id, sent.json()["id"]])
            assert node.policy_client.client.fallbacks == 0


async def test_every_server_down_with_local_fallback_routes_locally(tmp_path: Path) -> None:
    async with policy_server_node(tmp_path / "server") as server:
        port = server.ports["policyd"]
        async with client_node(tmp_path / "client", [(port, "active")], "local") as node:
            async with Esme(node.ports["smpp"]) as esme:
                assert (await esme.submit(BLOCKED)).command_status == _S.ESME_RX_R_APPN
                await server.stop()
                # The embedded engine (prefix routing to the loopback) routes the range the
                # servers reject.
                answer = await esme.submit(BLOCKED)
                assert answer.command_status == _S.ESME_ROK
            sent = await http_send(node, BLOCKED)
            assert sent.status_code == 201, sent.text
            await delivered(node, [answer.message_id, sent.json()["id"]])
            assert node.policy_client is not None
            assert node.policy_client.client.fallbacks >= 2


async def test_every_server_down_with_reject_fails_closed(tmp_path: Path) -> None:
    async with policy_server_node(tmp_path / "server") as server:
        port = server.ports["policyd"]
        async with client_node(tmp_path / "client", [(port, "active")], "reject") as node:
            async with Esme(node.ports["smpp"]) as esme:
                assert (await esme.submit(ROUTED)).command_status == _S.ESME_ROK
                await server.stop()
                assert (await esme.submit(ROUTED)).command_status == _S.ESME_RTHROTTLED
            answer = await http_send(node, ROUTED)
            assert answer.status_code == 429, answer.text
            assert "retry-after" in answer.headers


async def test_active_killed_mid_traffic_the_standby_decides_nothing_lost(
    tmp_path: Path,
) -> None:
    async with (
        policy_server_node(tmp_path / "active") as active,
        policy_server_node(tmp_path / "standby") as standby,
    ):
        servers = [(active.ports["policyd"], "active"), (standby.ports["policyd"], "standby")]
        async with client_node(tmp_path / "client", servers, "reject") as node:
            client = node.policy_client
            assert client is not None
            for _ in range(100):  # the standby connects in the background
                if len(client.client.up) == 2:
                    break
                await asyncio.sleep(0.05)
            assert len(client.client.up) == 2
            accepted: list[str] = []
            async with Esme(node.ports["smpp"]) as esme:

                async def traffic() -> None:
                    # 10 at a time: the account's window (a remote decision keeps each
                    # submit in flight a round trip longer).
                    for batch in range(40):
                        answers = await esme.submit_many(
                            [f"4477009{batch:02d}{n:03d}" for n in range(10)]
                        )
                        for answer in answers:
                            # fail-closed: any message no server decided would be refused
                            assert answer.command_status == _S.ESME_ROK, answer
                            accepted.append(answer.message_id)

                sending = asyncio.create_task(traffic())
                while len(accepted) < 100 and not sending.done():
                    await asyncio.sleep(0.005)
                at_stop = len(accepted)
                await active.stop()
                await sending
            assert 100 <= at_stop < 400  # stopped mid-traffic: the standby decided the rest
            assert len(accepted) == 400
            assert client.client.fallbacks == 0
            await delivered(node, accepted, timeout=20)


async def test_fail_closed_holds_a_stored_message_until_a_server_decides(tmp_path: Path) -> None:
    # A scheduled message is decided again when due, by the remote engine, in the attempt's
    # task: with no server up, fail-closed holds it (never delivered by the embedded engine,
    # never lost), and once a server is back it is decided and delivered.
    async with policy_server_node(tmp_path / "server") as server:
        port = server.ports["policyd"]
        async with client_node(tmp_path / "client", [(port, "active")], "reject") as node:
            async with Esme(node.ports["smpp"]) as esme:
                esme.schedule = "000000000002000R"  # due in 2 s
                answer = await esme.submit(ROUTED)
                assert answer.command_status == _S.ESME_ROK
            await server.stop()
            await asyncio.sleep(3.0)  # due, attempted: no server answers
            record = await node.engine.store.get(answer.message_id)
            assert record is not None and record.state is MessageState.ENROUTE
            assert record.next_attempt_at is not None and record.next_attempt_at > record.due_at
            assert node.policy_client is not None
            assert node.policy_client.client.fallbacks >= 1
            # Another server on the same port: the client reconnects, the held message's
            # next decision is its.
            extra_dir = tmp_path / "server-again"
            async with policy_server_node(extra_dir, port=port):
                await delivered(node, [answer.message_id], timeout=15)
