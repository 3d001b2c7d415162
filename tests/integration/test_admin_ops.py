"""The operations endpoints of the admin listener on a running node: /health, /ready and
/metrics, read with httpx and parsed with prometheus_client's own parser, while smpplib (an
SMPP client that is not ours) sends real traffic."""

from __future__ import annotations

import asyncio
import socket
import sqlite3
import time
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import smpplib.client
import smpplib.consts
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from opensmsc import app
from opensmsc.accounts import hash_password
from opensmsc.config import loads
from opensmsc.store import SqliteStore

PASSWORD = "secret"
DESTINATION = "447700900123"
Labels = dict[str, str]


def _config(tmp_path: Path, extra: str = "", route: str = "loopback", api: str = "") -> str:
    return f"""
        [node]
        data_dir = "{tmp_path}"
        [policyd]
        port = 0
        [http]
        bind_address = "127.0.0.1"
        port = 0
        [api]
        enabled = true
        bind_address = "127.0.0.1"
        port = 0
        {api}
        [smpp.server]
        bind_address = "127.0.0.1"
        port = 0
        tls_enabled = false
        [routing]
        default_route = "{route}"
        [[accounts]]
        system_id = "esme1"
        password_hash = "{hash_password(PASSWORD)}"
        allowed_networks = ["127.0.0.0/8"]
        {extra}
        """


@dataclass
class Ops:
    running: app.RunningSmsc
    client: httpx.AsyncClient

    async def metrics(self) -> dict[str, list[Sample]]:
        """Samples by sample name (a counter's `_total`, a histogram's `_bucket`...)."""
        answer = await self.client.get("/metrics")
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
        samples: dict[str, list[Sample]] = {}
        for family in text_string_to_metric_families(answer.text):
            for sample in family.samples:
                samples.setdefault(sample.name, []).append(sample)
        return samples


def value(samples: dict[str, list[Sample]], name: str, **labels: str) -> float | None:
    """The value of the sample `name` whose labels include `labels`; None when absent."""
    found = [s.value for s in samples.get(name, ()) if labels.items() <= s.labels.items()]
    assert len(found) <= 1, (name, labels, found)
    return found[0] if found else None


@asynccontextmanager
async def ops_node(
    tmp_path: Path, extra: str = "", route: str = "loopback", api: str = ""
) -> AsyncIterator[Ops]:
    running = await app.start(loads(_config(tmp_path, extra, route, api)))
    try:
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{running.ports['http']}", timeout=10
        ) as client:
            yield Ops(running, client)
    finally:
        await running.stop()


@dataclass
class Esme:
    """smpplib bound as a transceiver: blocking calls, run in a thread (`asyncio.to_thread`)."""

    port: int
    statuses: list[int] = field(default_factory=list)  # each submit_sm_resp's command_status
    receipts: int = 0
    client: smpplib.client.Client = field(init=False)

    def __post_init__(self) -> None:
        self.client = smpplib.client.Client(
            "127.0.0.1", self.port, timeout=5, allow_unknown_opt_params=True
        )
        self.client.set_message_sent_handler(lambda pdu: self.statuses.append(pdu.status))
        self.client.set_message_received_handler(self._received)
        # An error status is an answer to record, not an exception (ESME_RMSGQFUL below).
        self.client.set_error_pdu_handler(lambda pdu: None)

    def _received(self, pdu: object) -> None:
        self.receipts += 1

    def bind(self) -> None:
        self.client.connect()
        self.client.bind_transceiver(system_id="esme1", password=PASSWORD)

    def submit(self, count: int, *, receipts: bool = True, schedule: str | None = None) -> None:
        """Submit `count` messages in turns of the account's window (10) and wait for their
        responses and, with `receipts`, their delivery receipts."""
        first = len(self.statuses)
        wanted_receipts = self.receipts + (count if receipts else 0)
        extra = {} if schedule is None else {"schedule_delivery_time": schedule}
        sent = 0
        deadline = time.monotonic() + 30
        while len(self.statuses) < first + count or self.receipts < wanted_receipts:
            assert time.monotonic() < deadline, (self.statuses, self.receipts)
            in_flight = sent - (len(self.statuses) - first)
            for _ in range(min(10 - in_flight, count - sent)):
                self.client.send_message(
                    source_addr_ton=smpplib.consts.SMPP_TON_ALNUM,
                    source_addr="Example",
                    dest_addr_ton=smpplib.consts.SMPP_TON_INTL,
                    dest_addr_npi=smpplib.consts.SMPP_NPI_ISDN,
                    destination_addr=DESTINATION,
                    short_message=b"hello",
                    registered_delivery=receipts,
                    **extra,
                )
                sent += 1
            self.client.read_once()

    def close(self) -> None:
        self.client.unbind()
        self.client.disconnect()


async def _until(condition: object, what: str, timeout: float = 10.0) -> None:
    assert callable(condition)
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


def _cumulative(samples: Iterable[Sample]) -> list[float]:
    buckets = sorted(samples, key=lambda s: float(s.labels["le"]))
    return [s.value for s in buckets]


async def test_metrics_count_exactly_what_an_smpp_client_sent(tmp_path: Path) -> None:
    async with ops_node(tmp_path) as ops:
        assert ops.running.metrics is not None
        ops.running.metrics.queue_interval = 0.0  # count the store at every scrape
        before = await ops.metrics()
        assert value(before, "opensmsc_messages_accepted_total", account="esme1") is None
        assert value(before, "opensmsc_submit_latency_seconds_count") == 0
        assert value(before, "opensmsc_queue_messages") == 0
        assert value(before, "opensmsc_smpp_sessions", account="esme1") is None

        sent, scheduled = 25, 3
        esme = Esme(ops.running.ports["smpp"])
        await asyncio.to_thread(esme.bind)
        try:
            await asyncio.to_thread(esme.submit, sent)
            # Due in an hour: they wait in the store, and count as queued.
            await asyncio.to_thread(
                esme.submit, scheduled, receipts=False, schedule="000000010000000R"
            )
            assert esme.statuses == [0] * (sent + scheduled)
            assert esme.receipts == sent
            deliveries = ops.running.engine.deliveries
            await _until(lambda: deliveries.acknowledged == sent, "the receipts' acks")
            during = await ops.metrics()
        finally:
            await asyncio.to_thread(esme.close)

        assert value(during, "opensmsc_messages_accepted_total", account="esme1") == (
            sent + scheduled
        )
        finished = {
            (s.labels["direction"], s.labels["route"], s.labels["state"]): s.value
            for s in during["opensmsc_messages_finished_total"]
            if s.labels["account"] == "esme1"
        }
        assert finished == {("mt", "loopback", "delivered"): sent}
        submit = value(during, "opensmsc_submit_latency_seconds_count")
        assert submit == sent + scheduled
        buckets = _cumulative(during["opensmsc_submit_latency_seconds_bucket"])
        assert buckets == sorted(buckets) and buckets[-1] == sent + scheduled
        assert 0 < (value(during, "opensmsc_submit_latency_seconds_sum") or 0) < 30
        delivery = value(during, "opensmsc_delivery_latency_seconds_count", route="loopback")
        assert delivery == sent
        assert value(during, "opensmsc_receipts_delivered_total") == sent
        sessions = value(during, "opensmsc_smpp_sessions", account="esme1", bind_type="transceiver")
        assert sessions == 1
        assert value(during, "opensmsc_queue_messages") == scheduled
        assert value(during, "opensmsc_queue_receipts", account="esme1") is None  # all acked
        assert value(during, "opensmsc_queue_webhooks") == 0
        assert value(during, "opensmsc_queue_uncommitted") == 0
        assert (value(during, "opensmsc_store_commits_total") or 0) >= 1
        assert value(during, "opensmsc_store_failing") == 0
        assert value(during, "process_resident_memory_bytes") is not None  # per node registry

        await _until(lambda: len(ops.running.services.registry) == 0, "the unbind")
        after = await ops.metrics()
        assert value(after, "opensmsc_smpp_sessions", account="esme1") is None
        assert value(after, "opensmsc_messages_accepted_total", account="esme1") == (
            sent + scheduled
        )


async def test_connector_metrics_follow_a_carrier_that_comes_and_goes(tmp_path: Path) -> None:
    async with ops_node(tmp_path / "carrier") as carrier:
        connector = f"""
            [[smpp.client]]
            name = "carrier"
            host = "127.0.0.1"
            port = {carrier.running.ports["smpp"]}
            system_id = "esme1"
            password = "{PASSWORD}"
            """
        async with ops_node(tmp_path / "node", connector, route="carrier") as node:
            await _until(
                lambda: node.running.connectors.status()["carrier"].bound_sessions == 1,
                "the connector's bind",
            )
            bound = await node.metrics()
            assert value(bound, "opensmsc_connector_up", connector="carrier") == 1
            assert value(bound, "opensmsc_connector_sessions_bound", connector="carrier") == 1
            assert value(bound, "opensmsc_connector_window", connector="carrier") == 10
            assert value(bound, "opensmsc_connector_submits_total", connector="carrier") == 0

            sent = 6
            esme = Esme(node.running.ports["smpp"])
            await asyncio.to_thread(esme.bind)
            try:
                await asyncio.to_thread(esme.submit, sent)
            finally:
                await asyncio.to_thread(esme.close)
            # Each went upstream, was delivered there, and the carrier's receipt ended it.
            metrics = await node.metrics()
            assert (
                value(
                    metrics,
                    "opensmsc_messages_finished_total",
                    account="esme1",
                    route="carrier",
                    state="delivered",
                )
                == sent
            )
            assert value(metrics, "opensmsc_connector_submits_total", connector="carrier") == sent
            outcomes = {
                s.labels["outcome"]: s.value
                for s in metrics["opensmsc_connector_submit_outcomes_total"]
            }
            assert outcomes == {"accepted": sent, "failed": 0, "throttled": 0}
            matched = value(
                metrics, "opensmsc_connector_receipts_total", connector="carrier", matched="true"
            )
            assert matched == sent
            assert value(metrics, "opensmsc_connector_in_flight", connector="carrier") == 0
            latency = value(metrics, "opensmsc_delivery_latency_seconds_count", route="carrier")
            assert latency == sent
            carrier_metrics = await carrier.metrics()
            assert (
                value(
                    carrier_metrics,
                    "opensmsc_smpp_sessions",
                    account="esme1",
                    bind_type="transceiver",
                )
                == 1
            )  # the connector's session, seen from the carrier

            await carrier.running.stop()
            await _until(
                lambda: node.running.connectors.status()["carrier"].bound_sessions == 0,
                "the connector to lose its session",
            )
            down = await node.metrics()
            assert value(down, "opensmsc_connector_up", connector="carrier") == 0


async def test_a_webhook_receiver_that_is_down_shows_as_backlog(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port nobody listens on: connections are refused
        probe.bind(("127.0.0.1", 0))
        refused = f"http://127.0.0.1:{probe.getsockname()[1]}/hook"
    async with ops_node(tmp_path, api="webhook_backoff = 600") as ops:
        assert ops.running.metrics is not None and ops.running.webhooks is not None
        ops.running.metrics.queue_interval = 0.0
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{ops.running.ports['api']}", auth=("esme1", PASSWORD)
        ) as api:
            answer = await api.post(
                "/v1/messages",
                json={
                    "to": "+447700900123",
                    "from": "Example",
                    "text": "Hi",
                    "callback_url": refused,
                },
            )
            assert answer.status_code == 201, answer.text
        sender = ops.running.webhooks.sender
        await _until(lambda: sender.failed_attempts == 1, "the webhook's first attempt")
        metrics = await ops.metrics()
        assert value(metrics, "opensmsc_messages_accepted_total", account="esme1") == 1
        assert value(metrics, "opensmsc_submit_latency_seconds_count") == 1  # the HTTP door
        assert value(metrics, "opensmsc_queue_webhooks") == 1
        assert value(metrics, "opensmsc_queue_receipts", account="esme1") == 1
        assert value(metrics, "opensmsc_webhook_attempts_failed_total") == 1
        assert value(metrics, "opensmsc_webhooks_delivered_total") == 0
        assert value(metrics, "opensmsc_webhooks_in_flight") == 0


async def test_two_nodes_in_one_process_count_apart(tmp_path: Path) -> None:
    async with ops_node(tmp_path / "a") as a, ops_node(tmp_path / "b") as b:
        esme = Esme(a.running.ports["smpp"])
        await asyncio.to_thread(esme.bind)
        try:
            await asyncio.to_thread(esme.submit, 4)
        finally:
            await asyncio.to_thread(esme.close)
        assert value(await a.metrics(), "opensmsc_submit_latency_seconds_count") == 4
        assert value(await b.metrics(), "opensmsc_submit_latency_seconds_count") == 0


async def test_health_and_ready_answer_while_the_node_runs(tmp_path: Path) -> None:
    async with ops_node(tmp_path) as ops:
        health = await ops.client.get("/health")
        assert (health.status_code, health.json()) == (200, {"status": "ok"})
        assert (await ops.client.get("/v1/health")).status_code == 200
        ready = await ops.client.get("/ready")
        assert (ready.status_code, ready.json()) == (200, {"status": "ready"})
        paths = (await ops.client.get("/openapi.json")).json()["paths"]
        assert all("get" in paths[path] for path in ("/health", "/ready", "/metrics"))


async def _limit_pages(store: SqliteStore, full: bool) -> None:
    # SQLITE_FULL without filling a disk: the writer's connection may not grow the file past
    # the pages it has (or grows freely again).
    def limit(conn: sqlite3.Connection) -> None:
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        conn.execute(f"PRAGMA max_page_count = {pages if full else 1 << 30}")

    await store._write(limit)


async def test_ready_says_503_while_the_store_is_full_and_200_once_it_has_room(
    tmp_path: Path,
) -> None:
    async with ops_node(tmp_path) as ops:
        store = ops.running.engine.store
        assert isinstance(store, SqliteStore)
        esme = Esme(ops.running.ports["smpp"])
        await asyncio.to_thread(esme.bind)
        try:
            await _limit_pages(store, full=True)
            for _ in range(100):  # the pages the file has fill up first
                await asyncio.to_thread(esme.submit, 1, receipts=False)
                if esme.statuses[-1] == smpplib.consts.SMPP_ESME_RMSGQFUL:
                    break
            assert esme.statuses[-1] == smpplib.consts.SMPP_ESME_RMSGQFUL

            ready = await ops.client.get("/ready")
            assert ready.status_code == 503
            assert ready.headers["content-type"] == "application/problem+json"
            problem = ready.json()
            assert problem["type"] == "urn:opensmsc:problem:not-ready"
            assert problem["status"] == 503
            (part,) = problem["not_ready"]
            assert part["part"] == "store" and "full" in part["reason"]
            assert "store: full" in problem["detail"]
            assert (await ops.client.get("/health")).status_code == 200  # alive all the same
            metrics = await ops.metrics()
            assert value(metrics, "opensmsc_store_failing") == 1
            assert (value(metrics, "opensmsc_store_commits_failed_total") or 0) >= 1

            await _limit_pages(store, full=False)
            ready = await ops.client.get("/ready")
            assert (ready.status_code, ready.json()) == (200, {"status": "ready"})
            await asyncio.to_thread(esme.submit, 1, receipts=False)
            assert esme.statuses[-1] == 0  # accepted again, no restart
        finally:
            await asyncio.to_thread(esme.close)


async def test_ready_names_the_listeners_that_are_down(tmp_path: Path) -> None:
    async with ops_node(tmp_path) as ops:
        running = ops.running
        assert {"smpp", "api", "policyd"} <= set(running.ports)
        await running.server.stop()  # the SMPP listener closes
        problem = (await ops.client.get("/ready")).json()
        assert [p["part"] for p in problem["not_ready"]] == ["smpp"]
        assert problem["not_ready"][0]["reason"] == "not listening"
        assert running.api is not None
        await running.api.stop()
        answer = await ops.client.get("/ready")
        assert answer.status_code == 503
        assert [p["part"] for p in answer.json()["not_ready"]] == ["smpp", "api"]
