"""The upstream connector against a real SMSC: node-smpp's server from shared/peers.

Every test starts its own `node-server.sh --port 0`, reads the ready line, and at the end
SIGTERMs it and cross-checks our counters against its summary line. Real sockets on 127.0.0.1,
every wait bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from opensmsc.smpp.constants import MessageState
from opensmsc.smpp.pdu import DataSm, DeliverSm, SubmitSm
from opensmsc.smpp.receipt import ReceiptInfo
from opensmsc.upstream import (
    ConnectorBind,
    ConnectorOptions,
    Connectors,
    ConnectorSettings,
    ConnectorState,
    ConnectorStatus,
    LinkState,
    MessageIdFormat,
    SmppConnector,
    SubmitOutcome,
    SubmitResult,
)

pytestmark = pytest.mark.interop

PEERS = Path(
    os.environ.get("OPENSMSC_PEERS", Path(__file__).resolve().parents[3] / "shared" / "peers")
)
NODE_SERVER = PEERS / "node-server.sh"

if not NODE_SERVER.exists():  # pragma: no cover - depends on the machine
    pytest.skip(f"{NODE_SERVER} not found", allow_module_level=True)

SYSTEM_ID = "gw"
PASSWORD = "pw"


# -- the peer -----------------------------------------------------------------------------------


@dataclass
class NodeServer:
    proc: asyncio.subprocess.Process
    ready: dict[str, Any]
    summary: dict[str, Any] | None = None

    @property
    def port(self) -> int:
        return int(self.ready["port"])

    @property
    def cert(self) -> Path:
        return Path(self.ready["cert"])

    async def stop(self) -> dict[str, Any]:
        """SIGTERM, then the summary line it prints on the way out."""
        if self.summary is not None:
            return self.summary
        assert self.proc.stdout is not None
        self.proc.send_signal(signal.SIGTERM)
        line = await asyncio.wait_for(self.proc.stdout.readline(), 15)
        await asyncio.wait_for(self.proc.wait(), 15)
        self.summary = json.loads(line)
        assert self.summary["event"] == "summary"
        return self.summary


async def start_server(*args: str, port: int = 0) -> NodeServer:
    proc = await asyncio.create_subprocess_exec(
        str(NODE_SERVER),
        "--port",
        str(port),
        "--system-id",
        SYSTEM_ID,
        "--password",
        PASSWORD,
        "--time-limit",
        "120",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
        stdin=asyncio.subprocess.DEVNULL,
    )
    assert proc.stdout is not None
    try:
        # A first run may install node-smpp; later runs start in well under a second.
        line = await asyncio.wait_for(proc.stdout.readline(), 120)
        ready = json.loads(line)
        assert ready["event"] == "ready", ready
    except BaseException:
        await _kill(proc)
        raise
    return NodeServer(proc, ready)


async def _kill(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await asyncio.wait_for(proc.wait(), 15)


@contextlib.asynccontextmanager
async def node_server(*args: str, port: int = 0) -> AsyncIterator[NodeServer]:
    server = await start_server(*args, port=port)
    try:
        yield server
    finally:
        if server.summary is None:
            await _kill(server.proc)


# -- our side -----------------------------------------------------------------------------------


OPTIONS = ConnectorOptions(
    connect_timeout=5.0,
    drain_timeout=3.0,
    receipt_hold_timeout=5.0,
    throttle_min_delay=0.05,
    throttle_max_delay=0.5,
)


def client_config(port: int, **fields: Any) -> ConnectorSettings:
    values: dict[str, Any] = {
        "name": "upstream",
        "host": "127.0.0.1",
        "port": port,
        "system_id": SYSTEM_ID,
        "password": PASSWORD,
        "reconnect_min_delay": 0.1,
        "reconnect_max_delay": 0.5,
        "response_timeout": 5.0,
    }
    values.update(fields)
    return ConnectorSettings(**values)


def message(n: int = 0, *, dlr: bool = True) -> SubmitSm:
    return SubmitSm(
        source_addr_ton=1,
        source_addr_npi=1,
        source_addr="12345",
        dest_addr_ton=1,
        dest_addr_npi=1,
        destination_addr="31600000001",
        registered_delivery=1 if dlr else 0,
        short_message=f"opensmsc test {n}".encode(),
    )


@dataclass
class Inbox:
    """What the callbacks received."""

    receipts: list[tuple[str | None, ReceiptInfo]] = field(default_factory=list)
    mo: list[DeliverSm | DataSm] = field(default_factory=list)

    async def on_receipt(self, our_id: str | None, info: ReceiptInfo) -> None:
        self.receipts.append((our_id, info))

    async def on_mo(self, pdu: DeliverSm | DataSm) -> None:
        self.mo.append(pdu)


@contextlib.asynccontextmanager
async def running(
    config: ConnectorSettings, inbox: Inbox | None = None, options: ConnectorOptions = OPTIONS
) -> AsyncIterator[SmppConnector]:
    connector = SmppConnector(
        config,
        options=options,
        on_receipt=inbox.on_receipt if inbox else None,
        on_mo=inbox.on_mo if inbox else None,
    )
    await connector.start()
    try:
        yield connector
    finally:
        await asyncio.wait_for(connector.stop(), 20)


async def wait_until(
    condition: Callable[[], bool], what: str, status: Callable[[], object], timeout: float = 15.0
) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}; status: {status()}")
        await asyncio.sleep(0.02)


async def wait_bound(connector: SmppConnector, timeout: float = 15.0) -> None:
    await wait_until(
        lambda: connector.status().state is ConnectorState.BOUND,
        "bind",
        connector.status,
        timeout,
    )


async def submit_all(
    connector: SmppConnector, count: int, *, dlr: bool = True
) -> list[SubmitResult]:
    return list(
        await asyncio.wait_for(
            asyncio.gather(
                *(connector.submit(message(n, dlr=dlr), our_id=f"ours-{n}") for n in range(count))
            ),
            30,
        )
    )


async def receipts_for_all(
    connector: SmppConnector, inbox: Inbox, count: int, timeout: float = 15.0
) -> None:
    await wait_until(
        lambda: len(inbox.receipts) >= count, f"{count} receipts", connector.status, timeout
    )


def assert_all_matched(inbox: Inbox, count: int) -> None:
    assert sorted(our_id or "" for our_id, _ in inbox.receipts) == sorted(
        f"ours-{n}" for n in range(count)
    )
    assert all(info.state is MessageState.DELIVERED for _, info in inbox.receipts)


def assert_counts(status: ConnectorStatus, summary: dict[str, Any]) -> None:
    """Our counters against what the SMSC says it saw."""
    assert summary["submit_sm"] == status.submitted
    assert summary["submit_sm_resp_ok"] == status.accepted
    assert summary["receipts_acked"] == status.receipts


# -- tests --------------------------------------------------------------------------------------


async def test_transceiver_submits_and_receipts_reach_our_ids() -> None:
    count = 10
    inbox = Inbox()
    async with node_server("--dlr") as server:
        async with running(client_config(server.port), inbox) as connector:
            await wait_bound(connector)
            results = await submit_all(connector, count)
            assert all(r.outcome is SubmitOutcome.ACCEPTED for r in results), results
            assert len({r.message_id for r in results}) == count
            await receipts_for_all(connector, inbox, count)
        status = connector.status()
        summary = await server.stop()
    assert_all_matched(inbox, count)
    assert status.state is ConnectorState.STOPPED
    assert (status.submitted, status.accepted, status.failed) == (count, count, 0)
    assert status.receipts_matched == count and status.receipts_unmatched == 0
    assert summary["binds"]["transceiver"] == 1
    assert summary["unbind"] == 1  # the graceful stop unbound
    assert_counts(status, summary)


async def test_tls_with_the_server_certificate_as_ca() -> None:
    count = 5
    inbox = Inbox()
    async with node_server("--tls", "--dlr") as server:
        config = client_config(server.port, tls=True, tls_ca_file=server.cert)
        async with running(config, inbox) as connector:
            await wait_bound(connector)
            results = await submit_all(connector, count)
            assert all(r.is_accepted for r in results), results
            await receipts_for_all(connector, inbox, count)
        summary = await server.stop()
    assert summary["tls"] is True
    assert_all_matched(inbox, count)
    assert_counts(connector.status(), summary)


async def test_tls_server_not_trusted_is_refused_and_reported() -> None:
    async with node_server("--tls") as server:
        # The system trust store does not know the throwaway certificate.
        config = client_config(server.port, tls=True)
        async with running(config) as connector:
            await wait_until(
                lambda: connector.status().sessions[0].connects >= 2,
                "a second attempt",
                connector.status,
            )
            status = connector.status()
        summary = await server.stop()
    assert status.state is ConnectorState.RETRYING
    assert status.last_error is not None and "TLS" in status.last_error, status.last_error
    assert "certificate" in status.last_error
    assert sum(summary["binds"].values()) == 0


async def test_transmitter_receiver_pair_gets_receipts_on_the_receiver() -> None:
    count = 8
    inbox = Inbox()
    async with node_server("--dlr") as server:
        async with running(client_config(server.port, bind=ConnectorBind.PAIR), inbox) as connector:
            await wait_bound(connector)
            assert connector.status().bound_sessions == 2
            results = await submit_all(connector, count)
            assert all(r.is_accepted for r in results), results
            await receipts_for_all(connector, inbox, count)
        summary = await server.stop()
    assert summary["binds"] == {"transmitter": 1, "receiver": 1, "transceiver": 0}
    assert summary["unbind"] == 2
    assert_all_matched(inbox, count)
    assert_counts(connector.status(), summary)


@pytest.mark.parametrize("id_format", [MessageIdFormat.AUTO, MessageIdFormat.HEX])
async def test_receipt_quoting_the_id_in_the_other_base_is_matched(
    id_format: MessageIdFormat,
) -> None:
    count = 6
    inbox = Inbox()
    # submit_sm_resp in hex, receipts in decimal. HEX cannot read a decimal receipt as such,
    # but receipted_message_id and the text both carry it; AUTO is the setting for this SMSC.
    async with node_server("--dlr", "--id-format", "hex", "--receipt-id-format", "dec") as server:
        config = client_config(server.port, message_id_format=id_format)
        async with running(config, inbox) as connector:
            await wait_bound(connector)
            results = await submit_all(connector, count)
            assert all(r.is_accepted and r.message_id for r in results), results
            await receipts_for_all(connector, inbox, count)
        await server.stop()
    quoted = {info.message_id for _, info in inbox.receipts}
    assert all(q.isdigit() for q in quoted)  # the receipts really are in decimal
    assert {int(r.message_id or "", 16) for r in results} == {int(q) for q in quoted}
    if id_format is MessageIdFormat.AUTO:
        assert_all_matched(inbox, count)
    else:
        # Told "hex", we read "2684354561" as hex: no match, and nothing is dropped.
        assert [our_id for our_id, _ in inbox.receipts] == [None] * count


async def test_decimal_ids_with_dec_format() -> None:
    count = 4
    inbox = Inbox()
    async with node_server("--dlr", "--id-format", "dec") as server:
        config = client_config(server.port, message_id_format=MessageIdFormat.DEC)
        async with running(config, inbox) as connector:
            await wait_bound(connector)
            results = await submit_all(connector, count)
            assert all(r.is_accepted for r in results)
            await receipts_for_all(connector, inbox, count)
        await server.stop()
    assert_all_matched(inbox, count)


@pytest.mark.parametrize(
    ("args", "all_early"),
    [
        (("--dlr-delay", "0", "--resp-delay", "200"), False),
        # A negative delay puts the receipt 150 ms ahead of the submit_sm_resp on the wire.
        (("--dlr-delay=-150", "--resp-delay", "200"), True),
    ],
)
async def test_receipt_arriving_before_its_resp_is_held_and_matched(
    args: tuple[str, ...], all_early: bool
) -> None:
    count = 5
    inbox = Inbox()
    async with node_server("--dlr", *args) as server:
        async with running(client_config(server.port), inbox) as connector:
            await wait_bound(connector)
            results = await submit_all(connector, count)
            assert all(r.is_accepted for r in results), results
            await receipts_for_all(connector, inbox, count)
        summary = await server.stop()
    status = connector.status()
    assert_all_matched(inbox, count)
    assert status.receipts_unmatched == 0
    if all_early:
        assert status.receipts_held_total == count
    assert_counts(status, summary)


async def test_mo_goes_to_on_mo_and_is_acknowledged() -> None:
    inbox = Inbox()
    async with node_server("--mo", "3", "--mo-interval", "20") as server:
        async with running(client_config(server.port), inbox) as connector:
            await wait_until(lambda: len(inbox.mo) >= 3, "3 MO", connector.status)
            await asyncio.sleep(0.1)  # the deliver_sm_resp follows the callback
        summary = await server.stop()
    assert [pdu.source_addr for pdu in inbox.mo] == ["31600000002"] * 3
    assert all(b"MO" in pdu.short_message for pdu in inbox.mo if isinstance(pdu, DeliverSm))
    assert inbox.receipts == []
    assert connector.status().mo == 3
    assert summary["mo_acked"] == 3


async def test_failing_mo_callback_answers_a_temporary_error() -> None:
    async def refuse(pdu: DeliverSm | DataSm) -> None:
        raise RuntimeError("store down")

    async with node_server("--mo", "2", "--mo-interval", "20") as server:
        connector = SmppConnector(client_config(server.port), options=OPTIONS, on_mo=refuse)
        await connector.start()
        try:
            await wait_until(lambda: connector.status().mo >= 2, "2 MO", connector.status)
            await asyncio.sleep(0.1)
        finally:
            await connector.stop()
        summary = await server.stop()
    assert summary["mo_acked"] == 0
    assert summary["deliver_sm_resp_error"] == 2


async def test_throttling_is_retried_until_everything_is_accepted() -> None:
    count = 12
    async with node_server("--error-every", "3", "--error-status", "0x58") as server:
        async with running(client_config(server.port)) as connector:
            await wait_bound(connector)
            results = await submit_all(connector, count, dlr=False)
        status = connector.status()
        summary = await server.stop()
    assert all(r.is_accepted for r in results), results
    assert sum(r.attempts for r in results) == status.submitted
    assert status.throttled > 0
    assert status.failed == 0
    assert status.accepted == count
    assert status.submitted == count + status.throttled
    assert summary["submit_sm_resp_error"] == status.throttled
    assert_counts(status, summary)


async def test_message_queue_full_is_retried_too() -> None:
    async with node_server("--error-every", "2", "--error-status", "0x14") as server:
        async with running(client_config(server.port)) as connector:
            await wait_bound(connector)
            results = await submit_all(connector, 4, dlr=False)
        status = connector.status()
        await server.stop()
    assert all(r.is_accepted for r in results)
    assert status.throttled >= 2 and status.failed == 0


async def test_permanent_error_is_returned_to_the_caller() -> None:
    count = 6
    async with node_server("--error-every", "2", "--error-status", "0x0B") as server:
        async with running(client_config(server.port)) as connector:
            await wait_bound(connector)
            results = []
            for n in range(count):  # one at a time, so "every 2nd" is deterministic
                results.append(await connector.submit(message(n, dlr=False), our_id=f"ours-{n}"))
        status = connector.status()
        summary = await server.stop()
    rejected = [r for r in results if r.outcome is SubmitOutcome.REJECTED]
    assert [r.status for r in rejected] == [0x0B] * (count // 2)
    assert all(r.attempts == 1 and r.message_id is None for r in rejected)
    assert (status.accepted, status.failed, status.throttled) == (count // 2, count // 2, 0)
    assert summary["submit_sm_resp_error"] == count // 2
    assert_counts(status, summary)


async def test_slow_response_times_out_and_is_reported() -> None:
    async with node_server("--resp-delay", "1500") as server:
        config = client_config(server.port, response_timeout=0.3)
        async with running(config) as connector:
            await wait_bound(connector)
            result = await asyncio.wait_for(connector.submit(message(dlr=False)), 10)
            status = connector.status()
            assert connector.status().in_flight == 0  # the slot is free again
        await server.stop()
    assert result.outcome is SubmitOutcome.TIMED_OUT
    assert "0.3" in result.detail
    assert (status.submitted, status.accepted, status.failed) == (1, 0, 1)


async def test_window_bounds_in_flight_and_callers_wait_in_a_bounded_queue() -> None:
    count = 12
    async with node_server("--resp-delay", "100") as server:
        config = client_config(server.port, window=2)
        options = ConnectorOptions(connect_timeout=5.0, drain_timeout=3.0, queue_size=3)
        async with running(config, options=options) as connector:
            await wait_bound(connector)
            peak_in_flight = peak_queued = 0
            task = asyncio.ensure_future(submit_all(connector, count, dlr=False))
            while not task.done():
                status = connector.status()
                peak_in_flight = max(peak_in_flight, status.in_flight)
                peak_queued = max(peak_queued, status.queued)
                await asyncio.sleep(0.01)
            results = await task
        await server.stop()
    assert all(r.is_accepted for r in results)
    assert peak_in_flight == 2
    assert 1 <= peak_queued <= 3


async def test_throughput_cap_spaces_submits() -> None:
    count = 10
    async with node_server() as server:
        config = client_config(server.port, throughput=20.0)
        async with running(config) as connector:
            await wait_bound(connector)
            started = time.monotonic()
            results = await submit_all(connector, count, dlr=False)
            elapsed = time.monotonic() - started
        await server.stop()
    assert all(r.is_accepted for r in results)
    # A burst of 2 (0.1 s worth), then one per 50 ms: at least 0.35 s for 10.
    assert elapsed >= 0.35, elapsed


async def test_wrong_password_backs_off_and_status_says_why() -> None:
    async with node_server() as server:
        config = client_config(server.port, password="wrong")
        async with running(config) as connector:
            await wait_until(
                lambda: connector.status().sessions[0].connects >= 3,
                "three bind attempts",
                connector.status,
            )
            status = connector.status()
            # Nothing can go out: a submit waits rather than fail.
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(connector.submit(message()), 0.3)
        summary = await server.stop()
    assert status.state is ConnectorState.RETRYING
    assert status.sessions[0].state in (
        LinkState.BACKING_OFF,
        LinkState.CONNECTING,
        LinkState.BINDING,
    )
    assert status.last_error is not None and "ESME_RINVPASWD" in status.last_error
    assert summary["bind_rejected"] >= 3
    assert summary["bind_statuses"] == {"0x0000000E": summary["bind_rejected"]}


async def test_reconnects_after_the_server_is_killed_and_restarted() -> None:
    inbox = Inbox()
    first = await start_server("--dlr")
    port = first.port
    try:
        async with running(client_config(port), inbox) as connector:
            bound: list[str] = []
            connector.on_bound = bound.append
            await wait_bound(connector)
            assert (await connector.submit(message(0), our_id="ours-0")).is_accepted
            await receipts_for_all(connector, inbox, 1)
            await first.stop()
            await wait_until(
                lambda: connector.status().bound_sessions == 0, "session loss", connector.status
            )
            # Refused connects meanwhile: the connector keeps trying.
            await wait_until(
                lambda: connector.status().sessions[0].connects >= 3,
                "reconnect attempts",
                connector.status,
            )
            async with node_server("--dlr", port=port) as second:
                await wait_bound(connector)
                result = await connector.submit(message(1), our_id="ours-1")
                assert result.is_accepted
                await receipts_for_all(connector, inbox, 2)
                status = connector.status()
                await connector.stop()
                summary = await second.stop()
    finally:
        await _kill(first.proc)
    assert status.sessions[0].binds == 2
    assert bound == ["upstream", "upstream"]  # each bind told, the first and the rebind
    assert status.sessions[0].last_error is None
    assert_all_matched(inbox, 2)
    assert summary["submit_sm"] == 1 and summary["binds"]["transceiver"] == 1


async def test_two_connectors_at_once_each_with_its_own_settings() -> None:
    received: list[tuple[str, str | None]] = []

    async def on_receipt(name: str, our_id: str | None, info: ReceiptInfo) -> None:
        received.append((name, our_id))

    async with (
        node_server("--dlr") as server_a,
        node_server("--tls", "--dlr", "--id-format", "dec") as server_b,
    ):
        connectors = Connectors(options=OPTIONS, on_receipt=on_receipt)
        await connectors.add(client_config(server_a.port, name="carrier-a"))
        await connectors.add(
            client_config(
                server_b.port,
                name="carrier-b",
                tls=True,
                tls_ca_file=server_b.cert,
                bind=ConnectorBind.PAIR,
                message_id_format=MessageIdFormat.DEC,
            )
        )
        await connectors.start_all()
        try:
            a, b = connectors.get("carrier-a"), connectors.get("carrier-b")
            await wait_bound(a)
            await wait_bound(b)
            results = await asyncio.gather(
                *(a.submit(message(n), our_id=f"a-{n}") for n in range(3)),
                *(b.submit(message(n), our_id=f"b-{n}") for n in range(4)),
            )
            assert all(r.is_accepted for r in results)
            await wait_until(lambda: len(received) >= 7, "7 receipts", connectors.status)
            status = connectors.status()
        finally:
            await connectors.stop_all()
        summary_a, summary_b = await server_a.stop(), await server_b.stop()
    assert sorted(received) == sorted(
        [("carrier-a", f"a-{n}") for n in range(3)] + [("carrier-b", f"b-{n}") for n in range(4)]
    )
    assert (status["carrier-a"].accepted, status["carrier-b"].accepted) == (3, 4)
    assert status["carrier-b"].bound_sessions == 2
    assert (summary_a["submit_sm"], summary_b["submit_sm"]) == (3, 4)
    assert summary_b["binds"] == {"transmitter": 1, "receiver": 1, "transceiver": 0}


async def test_connectors_are_added_started_stopped_and_removed_at_runtime() -> None:
    async with node_server() as server:
        connectors = Connectors(options=OPTIONS)
        await connectors.add(client_config(server.port, name="first"))
        await connectors.add(client_config(server.port, name="idle", enabled=False))
        assert connectors.status()["first"].state is ConnectorState.STOPPED
        await connectors.start_all()
        try:
            await wait_bound(connectors.get("first"))
            assert connectors.status()["idle"].state is ConnectorState.STOPPED

            late = await connectors.add(client_config(server.port, name="late"))
            await wait_bound(late)
            with pytest.raises(ValueError, match="late"):
                await connectors.add(client_config(server.port, name="late"))

            await connectors.remove("first")
            assert "first" not in connectors
            with pytest.raises(KeyError):
                connectors.get("first")

            await connectors.stop("late")
            assert late.status().state is ConnectorState.STOPPED
            stopped = await late.submit(message())
            assert stopped.outcome is SubmitOutcome.NOT_SENT
            await connectors.start("late")
            await wait_bound(late)
            assert (await late.submit(message(dlr=False))).is_accepted

            await connectors.start("idle")
            await wait_bound(connectors.get("idle"))
            assert sorted(connectors.names) == ["idle", "late"]
        finally:
            await connectors.stop_all()
        assert all(s.state is ConnectorState.STOPPED for s in connectors.status().values())
        summary = await server.stop()
    # first, late (twice) and idle each bound and unbound once per start.
    assert summary["binds"]["transceiver"] == 4
    assert summary["unbind"] == 4
    assert summary["submit_sm"] == 1


async def test_stop_drains_in_flight_submits_before_unbinding() -> None:
    async with node_server("--resp-delay", "300") as server:
        async with running(client_config(server.port)) as connector:
            await wait_bound(connector)
            pending = [
                asyncio.ensure_future(connector.submit(message(n, dlr=False))) for n in range(3)
            ]
            await wait_until(
                lambda: connector.status().in_flight == 3, "3 in flight", connector.status
            )
            await asyncio.wait_for(connector.stop(), 10)
            results = await asyncio.gather(*pending)
        summary = await server.stop()
    assert all(r.is_accepted for r in results), results
    assert summary["unbind"] == 1


async def test_enquire_link_keeps_an_idle_session_alive() -> None:
    async with node_server() as server:
        async with running(client_config(server.port, enquire_link_interval=0.1)) as connector:
            await wait_bound(connector)
            await asyncio.sleep(0.6)
            status = connector.status()
        summary = await server.stop()
    assert status.state is ConnectorState.BOUND
    assert status.sessions[0].binds == 1
    assert summary["enquire_link"] >= 3


async def test_receiver_only_connector_takes_mo_and_refuses_submits() -> None:
    inbox = Inbox()
    async with node_server("--mo", "2", "--mo-interval", "20") as server:
        config = client_config(server.port, bind=ConnectorBind.RECEIVER)
        async with running(config, inbox) as connector:
            await wait_until(lambda: len(inbox.mo) >= 2, "2 MO", connector.status)
            result = await connector.submit(message())
        summary = await server.stop()
    assert result.outcome is SubmitOutcome.NOT_SENT
    assert summary["binds"]["receiver"] == 1 and summary["submit_sm"] == 0


async def test_consecutive_response_timeouts_end_the_session_and_it_rebinds() -> None:
    async with node_server("--resp-delay", "2000") as server:
        config = client_config(server.port, response_timeout=0.2)
        async with running(config) as connector:
            await wait_bound(connector)
            results = await submit_all(connector, 3, dlr=False)
            # Three timeouts in a row: the Connection declares the link dead; we bind again.
            await wait_until(
                lambda: connector.status().sessions[0].binds >= 2, "a second bind", connector.status
            )
        summary = await server.stop()
    assert [r.outcome for r in results] == [SubmitOutcome.TIMED_OUT] * 3
    assert summary["binds"]["transceiver"] >= 2


async def test_concurrent_stops_both_wait_for_the_same_stop() -> None:
    async with node_server() as server:
        connector = SmppConnector(client_config(server.port), options=OPTIONS)
        await connector.start()
        await wait_bound(connector)
        await asyncio.wait_for(asyncio.gather(connector.stop(), connector.stop()), 10)
        assert not connector.is_running
        summary = await server.stop()
    assert summary["unbind"] == 1


@pytest.mark.parametrize(("receive_window", "throttled"), [(100, False), (4, True)])
async def test_receive_window_bounds_the_carriers_unanswered_deliveries(
    receive_window: int, throttled: bool
) -> None:
    stored: list[DeliverSm | DataSm] = []

    async def slow_store(pdu: DeliverSm | DataSm) -> None:
        await asyncio.sleep(0.2)  # e.g. a store commit: answers stay owed meanwhile
        stored.append(pdu)

    async with node_server("--mo", "30", "--mo-interval", "0") as server:
        config = client_config(server.port, receive_window=receive_window)
        connector = SmppConnector(config, options=OPTIONS, on_mo=slow_store)
        await connector.start()
        try:
            await wait_bound(connector)
            await wait_until(lambda: len(stored) >= 4, "MO", connector.status)
            await asyncio.sleep(0.5)
        finally:
            await connector.stop()
        summary = await server.stop()
    if throttled:
        # Beyond the window the carrier gets ESME_RTHROTTLED and keeps the message.
        assert summary["deliver_sm_resp_error"] > 0
        assert summary["mo_acked"] + summary["deliver_sm_resp_error"] == 30
    else:
        assert summary["mo_acked"] == 30
        assert summary["deliver_sm_resp_error"] == 0
