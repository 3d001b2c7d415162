"""The node's live status on a running node (issue 16): GET /v1/admin/status, /history,
/events and /sessions/{id}/tail over real sockets, with smpplib (an SMPP client that is not
ours) and our raw test client as the ESMEs; `opensmsc status` and `opensmsc tail` against it;
the drain as `opensmsc status` shows it; and the Grafana dashboard against /metrics."""

from __future__ import annotations

import asyncio
import io
import itertools
import json
import re
import time
from argparse import Namespace
from pathlib import Path
from typing import Any

import httpx
import pytest

from opensmsc.cli.main import build_parser
from opensmsc.cli.status import status_main
from opensmsc.cli.tail import tail_main
from opensmsc.smpp import BindTransceiver, BindTransmitter, CommandId, CommandStatus, SubmitSm
from opensmsc.smsc import EsmeSession
from tests.conftest import SmppTestClient
from tests.integration.test_admin_ops import DESTINATION, PASSWORD, Esme, _until, ops_node

pytestmark = pytest.mark.timeout(90)

REPO = Path(__file__).resolve().parents[2]


async def _status(client: httpx.AsyncClient) -> dict[str, Any]:
    answer = await client.get("/v1/admin/status")
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


async def _raw_esme(
    port: int, bind: type[BindTransceiver | BindTransmitter] = BindTransceiver
) -> SmppTestClient:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    esme = SmppTestClient(reader, writer)
    answer = await esme.request(bind(system_id="esme1", password=PASSWORD))
    assert answer.status == CommandStatus.ESME_ROK
    return esme


def _submit(n: int, receipt: bool = False) -> SubmitSm:
    return SubmitSm(
        registered_delivery=int(receipt),
        source_addr="Example",
        source_addr_ton=5,
        dest_addr_ton=1,
        dest_addr_npi=1,
        destination_addr=DESTINATION,
        short_message=f"hello {n}".encode(),
    )


async def test_status_shows_sessions_rates_queue_and_errors(tmp_path: Path) -> None:
    async with ops_node(tmp_path) as ops:
        assert ops.running.metrics is not None and ops.running.status is not None
        ops.running.metrics.queue_interval = 0.0  # count the store at every request
        before = await _status(ops.client)
        assert before["node"] == "opensmsc" and before["version"]
        assert before["draining"] is False
        assert before["sessions"] == [] and before["connectors"] == []
        assert before["queue"] == {"scheduled": 0, "enroute": 0, "unknown": 0, "uncommitted": 0}
        assert before["errors"] == {}
        assert before["uptime_s"] >= 0 and before["started_at"].endswith("Z")

        esme = Esme(ops.running.ports["smpp"])
        await asyncio.to_thread(esme.bind)
        try:
            await asyncio.to_thread(esme.submit, 20)
            await asyncio.to_thread(esme.submit, 3, receipts=False, schedule="000000010000000R")
            # A wrong password: one refusal, by its status.
            reader, writer = await asyncio.open_connection("127.0.0.1", ops.running.ports["smpp"])
            wrong = SmppTestClient(reader, writer)
            refused = await wrong.request(BindTransceiver(system_id="esme1", password="nope"))
            assert refused.status != CommandStatus.ESME_ROK
            await wrong.close()
            ops.running.status.sample()
            during = await _status(ops.client)
            local_port = esme.client._socket.getsockname()[1]
        finally:
            await asyncio.to_thread(esme.close)

        assert during["rates"]["in_per_s"] > 0  # 23 in the last samples
        (session,) = during["sessions"]
        assert session["system_id"] == "esme1" and session["mode"] == "trx"
        assert session["address"] == f"127.0.0.1:{local_port}"
        assert session["door"] == "smpp" and session["id"].startswith("smpp-")
        assert session["submitted"] == 23 and session["delivered"] == 20
        assert session["window"] == 10 and 0 <= session["window_used"] <= 10
        assert session["throughput_per_s"] > 0
        assert session["bound_at"].endswith("Z")
        assert during["queue"]["scheduled"] == 3
        name = CommandStatus(refused.status).name
        assert during["errors"] == {name: 1}

        after = await _status(ops.client)
        assert after["sessions"] == []  # unbound

        history = (await ops.client.get("/v1/admin/history", params={"minutes": 1})).json()
        assert history["step_s"] == 10
        assert 1 <= len(history["points"]) <= 6
        assert set(history["points"][-1]) == {"at", "in_per_s", "out_per_s"}
        bad = await ops.client.get("/v1/admin/history", params={"minutes": 0})
        assert bad.status_code == 422
        assert bad.headers["content-type"].startswith("application/problem+json")


async def test_events_stream_the_status_every_second(tmp_path: Path) -> None:
    async with ops_node(tmp_path) as ops:
        got: list[tuple[float, dict[str, Any]]] = []
        async with ops.client.stream("GET", "/v1/admin/events") as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            event = ""
            async for line in stream.aiter_lines():
                if line.startswith("event:"):
                    event = line[6:].strip()
                elif line.startswith("data:"):
                    assert event == "status"
                    got.append((time.monotonic(), json.loads(line[5:])))
                    if len(got) == 3:
                        break
        assert all(body["node"] == "opensmsc" for _, body in got)
        gaps = [b - a for (a, _), (b, _) in itertools.pairwise(got)]
        assert all(0.5 < gap < 5.0 for gap in gaps), gaps  # every second, on a loaded machine


async def _tail_events(
    client: httpx.AsyncClient, session: str, until: str, sink: list[tuple[str, dict[str, Any]]]
) -> None:
    async with client.stream("GET", f"/v1/admin/sessions/{session}/tail") as stream:
        assert stream.status_code == 200
        event = ""
        async for line in stream.aiter_lines():
            if line.startswith("event:"):
                event = line[6:].strip()
            elif line.startswith("data:"):
                sink.append((event, json.loads(line[5:])))
                if event == until:
                    return


async def test_tail_shows_each_pdu_both_ways_decoded_until_the_session_ends(
    tmp_path: Path,
) -> None:
    async with ops_node(tmp_path) as ops:
        port = ops.running.ports["smpp"]
        esme = await _raw_esme(port)
        events: list[tuple[str, dict[str, Any]]] = []
        reading = asyncio.create_task(_tail_events(ops.client, "esme1", "end", events))
        session = next(s for s in ops.running.services.registry if isinstance(s, EsmeSession))
        await _until(lambda: session._protocol.connection.tap is not None, "the tap")
        answer = await esme.request(_submit(1))
        assert answer.status == CommandStatus.ESME_ROK
        await esme.unbind()
        await esme.close()
        await asyncio.wait_for(reading, 20)

        pdus = [data for event, data in events if event == "pdu"]
        submit = next(p for p in pdus if p["command"] == "submit_sm")
        assert submit["direction"] == "in" and submit["status"] == 0
        assert submit["fields"]["destination_addr"] == DESTINATION
        # Message content is redacted, as in the logs ([logging] show_short_message).
        assert submit["fields"]["short_message"] == b"*******".hex()
        assert submit["redacted"] is True and b"hello" not in bytes.fromhex(submit["hex"])
        assert bytes.fromhex(submit["hex"])[4:8] == CommandId.SUBMIT_SM.to_bytes(4, "big")
        resp = next(p for p in pdus if p["command"] == "submit_sm_resp")
        assert resp["direction"] == "out" and resp["sequence"] == submit["sequence"]
        assert resp["fields"]["message_id"]
        assert any(p["command"] == "unbind" and p["direction"] == "in" for p in pdus)
        assert events[-1] == ("end", {"reason": "unbind", "dropped": 0})
        # Nobody tails any more: the session's path has its None check back.
        assert session._protocol.connection.tap is None


async def test_tail_refuses_an_unknown_and_an_ambiguous_session(tmp_path: Path) -> None:
    async with ops_node(tmp_path) as ops:
        port = ops.running.ports["smpp"]
        unknown = await ops.client.get("/v1/admin/sessions/smpp-99/tail")
        assert unknown.status_code == 404
        assert unknown.json()["type"].endswith("session-not-found")
        first, second = await _raw_esme(port), await _raw_esme(port)
        try:
            both = await ops.client.get("/v1/admin/sessions/esme1/tail")
            assert both.status_code == 409
            assert both.json()["type"].endswith("session-ambiguous")
            ids = both.json()["sessions"]
            assert len(ids) == 2 and all(i.startswith("smpp-") for i in ids)
        finally:
            await first.close()
            await second.close()


async def test_a_reader_that_does_not_read_never_slows_the_session(tmp_path: Path) -> None:
    async with ops_node(tmp_path) as ops:
        esme = await _raw_esme(ops.running.ports["smpp"])
        try:
            session = next(s for s in ops.running.services.registry if isinstance(s, EsmeSession))
            reader = session.tail(limit=5)  # and never read until the end
            for n in range(40):
                answer = await esme.request(_submit(n), timeout=10)
                assert answer.status == CommandStatus.ESME_ROK
            assert reader.dropped == 80 - 5  # 40 submit_sm in, 40 submit_sm_resp out
            kept = await reader.frames(timeout=0)
            assert len(kept) == 5 and kept[0].direction == "in"
            reader.close()
            assert session._protocol.connection.tap is None
        finally:
            await esme.close()


def _args(verb: list[str]) -> Namespace:
    return build_parser().parse_args(verb)


async def test_opensmsc_status_and_tail_against_a_running_node(tmp_path: Path) -> None:
    async with ops_node(tmp_path) as ops:
        url = f"http://127.0.0.1:{ops.running.ports['http']}"
        esme = await _raw_esme(ops.running.ports["smpp"])
        await esme.request(_submit(1))

        out = io.StringIO()
        assert await asyncio.to_thread(status_main, _args(["status", "--url", url]), out) == 0
        text = out.getvalue()
        assert "node opensmsc" in text and "messages/s  in" in text
        assert re.search(r"smpp-\d+\s+esme1\s+trx\s+127\.0\.0\.1:\d+\s+smpp\s+0/10", text), text
        assert "queue       scheduled 0" in text

        out = io.StringIO()
        args = _args(["status", "--url", url, "--json"])
        assert await asyncio.to_thread(status_main, args, out) == 0
        assert json.loads(out.getvalue())["sessions"][0]["submitted"] == 1

        out = io.StringIO()
        tailing = asyncio.create_task(
            asyncio.to_thread(tail_main, _args(["tail", "esme1", "--url", url]), out)
        )
        session = next(s for s in ops.running.services.registry if isinstance(s, EsmeSession))
        await _until(lambda: session._protocol.connection.tap is not None, "the tap")
        await esme.request(_submit(2))
        await esme.unbind()
        await esme.close()
        assert await asyncio.wait_for(tailing, 20) == 0
        shown = out.getvalue()
        assert "<- in submit_sm seq=" in shown and "-> out submit_sm_resp seq=" in shown
        # The fields as `opensmsc decode` shows them.
        assert re.search(r"destination_addr\s+\"447700900123\"", shown), shown
        assert '"*******"' in shown and "hello" not in shown
        assert "(message content redacted: [logging] show_short_message = false)" in shown
        assert shown.rstrip().endswith("# session ended: unbind")

        missing = await asyncio.to_thread(
            tail_main, _args(["tail", "nobody", "--url", url]), io.StringIO()
        )
        assert missing == 1


async def test_status_shows_the_drain_while_a_session_holds_it(tmp_path: Path) -> None:
    """SIGTERM's drain in the node: new connections refused, new submits answered
    ESME_RTHROTTLED, `draining` in the status until the last session is gone, within the
    bound even when an ESME never answers the unbind."""
    async with ops_node(tmp_path) as ops:
        port = ops.running.ports["smpp"]
        esme = await _raw_esme(port)
        esme.auto_ack = False
        draining = asyncio.create_task(ops.running.drain(3.0))
        started = time.monotonic()
        await _until(lambda: ops.running.draining, "the drain")
        status = await _status(ops.client)
        assert status["draining"] is True
        with pytest.raises(OSError):
            await asyncio.open_connection("127.0.0.1", port)
        # The node unbinds; this ESME does not answer, and submits once more: throttled.
        unbind = await esme.expect(CommandId.UNBIND, timeout=5)
        assert unbind.command_id == CommandId.UNBIND
        late = await esme.request(_submit(9))
        assert late.status == CommandStatus.ESME_RTHROTTLED
        assert (await _status(ops.client))["draining"] is True
        await asyncio.wait_for(draining, 10)
        assert time.monotonic() - started < 3.0 + 3.0  # the bound, and a loaded machine
        await esme.wait_closed(5)
        await esme.close()


def test_every_metric_of_the_dashboard_is_documented() -> None:
    documented = set(re.findall(r"`(opensmsc_[a-z_]+)`", (REPO / "docs/operations.md").read_text()))
    for name in _dashboard_metrics():
        if name.startswith("process_"):
            continue  # prometheus-client's own, documented there
        assert name in documented or _base(name) in documented, name


def _dashboard_metrics() -> set[str]:
    dashboard = json.loads((REPO / "docs/grafana/opensmsc.json").read_text())
    exprs: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("expr", "query") and isinstance(value, str):
                    exprs.append(value)
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(dashboard)
    assert exprs, "the dashboard has no queries"
    names = set()
    for expr in exprs:
        names.update(re.findall(r"\b((?:opensmsc|process)_[a-z_]+)\b", expr))
    return names


def _base(name: str) -> str:
    return re.sub(r"_(total|bucket|count|sum)$", "", name)


async def test_every_metric_the_dashboard_uses_is_served(tmp_path: Path) -> None:
    async with ops_node(tmp_path / "carrier") as carrier:
        connector = f"""
            [[smpp.client]]
            name = "carrier"
            host = "127.0.0.1"
            port = {carrier.running.ports["smpp"]}
            system_id = "esme1"
            password = "{PASSWORD}"
            """
        # Loopback: the message is delivered at once, and its receipt waits for a receiver.
        async with ops_node(tmp_path / "node", connector) as node:
            await _until(
                lambda: node.running.connectors.status()["carrier"].bound_sessions == 1,
                "the connector's bind",
            )
            assert node.running.metrics is not None
            node.running.metrics.queue_interval = 0.0
            esme = await _raw_esme(node.running.ports["smpp"], BindTransmitter)
            try:
                await esme.request(_submit(1, receipt=True))
                await _until(lambda: node.running.engine.acceptor.pending == 0, "the commit")
                reader, writer = await asyncio.open_connection(
                    "127.0.0.1", node.running.ports["smpp"]
                )
                wrong = SmppTestClient(reader, writer)
                await wrong.request(BindTransceiver(system_id="esme1", password="nope"))
                await wrong.close()
                wanted = _dashboard_metrics()
                deadline = time.monotonic() + 10
                while True:
                    # The receipt is queued once loopback delivered the message: soon.
                    missing = sorted(wanted - set(await node.metrics()))
                    if not missing or time.monotonic() > deadline:
                        break
                    await asyncio.sleep(0.1)
            finally:
                await esme.close()
    assert not missing, f"the dashboard queries metrics the node does not serve: {missing}"


async def test_tail_shows_the_text_when_the_logs_may(tmp_path: Path) -> None:
    async with ops_node(tmp_path, "[logging]\nshow_short_message = true") as ops:
        esme = await _raw_esme(ops.running.ports["smpp"])
        events: list[tuple[str, dict[str, Any]]] = []
        reading = asyncio.create_task(_tail_events(ops.client, "esme1", "end", events))
        session = next(s for s in ops.running.services.registry if isinstance(s, EsmeSession))
        await _until(lambda: session._protocol.connection.tap is not None, "the tap")
        await esme.request(_submit(1))
        await esme.unbind()
        await esme.close()
        await asyncio.wait_for(reading, 20)
        submit = next(d for e, d in events if e == "pdu" and d["command"] == "submit_sm")
        assert submit["fields"]["short_message"] == b"hello 1".hex()
        assert "redacted" not in submit
