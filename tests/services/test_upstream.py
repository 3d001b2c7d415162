"""engine/upstream: ConnectorRoute outcomes and id mapping, UpstreamReceipts settling our
messages with our receipts, MoIngress routing and storing MO. A real SqliteStore in tmp_path;
the connector is a stand-in where the test needs to choose its answer."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from opensmsc.engine import Lifecycle, MessageIds, part_id
from opensmsc.errors import MessageRejected
from opensmsc.routing.policy import AccountPolicies, AccountPolicy
from opensmsc.routing.portability import NumberPortability, PortabilityTable, np_tlvs_for
from opensmsc.routing.retry import ErrorClass
from opensmsc.routing.routes import Accepted, PermanentFailure, TemporaryFailure
from opensmsc.smpp.constants import CommandStatus, MessageState, Tag
from opensmsc.smpp.pdu import DataSm, DeliverSm, SubmitSm
from opensmsc.smpp.receipt import ReceiptInfo, parse_receipt
from opensmsc.smpp.states import BindMode
from opensmsc.smpp.times import parse_time
from opensmsc.smpp.tlv import EMPTY_TLVS, NetworkErrorCode, Tlvs, encode_tlvs
from opensmsc.store import Address, ConcatInfo, Direction, SqliteStore, StoredMessage
from opensmsc.upstream import (
    ConnectorRoute,
    Connectors,
    ConnectorSettings,
    ConnectorState,
    ConnectorStatus,
    IdReading,
    LinkState,
    MessageIdFormat,
    MoIngress,
    SessionStatus,
    SubmitOutcome,
    SubmitResult,
    UpstreamReceipts,
    classify_status,
    receipt_error,
    upstream_id_keys,
    upstream_submit,
)
from tests.services.conftest import EngineFactory
from tests.services.engine_harness import FakeSession

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
_S = CommandStatus


class FakeClock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    opened = await SqliteStore.open(tmp_path / "messages.sqlite3")
    yield opened
    await opened.close()


def mt(message_id: str, **fields: Any) -> StoredMessage:
    values: dict[str, Any] = {
        "message_id": message_id,
        "system_id": "esme1",
        "direction": Direction.MT,
        "source": Address(5, 0, "SENDER"),
        "destination": Address(1, 1, "31600000001"),
        "registered_delivery": 1,
        "short_message": b"hello upstream",
        "submitted_at": T0,
        "due_at": T0,
        "expires_at": T0 + timedelta(days=2),
    }
    values.update(fields)
    return StoredMessage(**values)


# -- ConnectorRoute -------------------------------------------------------------------------------


def client_config(**fields: Any) -> ConnectorSettings:
    values: dict[str, Any] = {"name": "carrier", "host": "127.0.0.1", "system_id": "gw"}
    values.update(fields)
    return ConnectorSettings(**values)


def status(name: str, *, bound: bool = True, in_flight: int = 0) -> ConnectorStatus:
    session = SessionStatus(
        mode=BindMode.TRANSCEIVER,
        state=LinkState.BOUND if bound else LinkState.BACKING_OFF,
        session_id="s1" if bound else None,
        peer_system_id=None,
        in_flight=in_flight,
        connects=1,
        binds=1 if bound else 0,
        last_error=None,
    )
    return ConnectorStatus(
        name=name,
        state=ConnectorState.BOUND if bound else ConnectorState.RETRYING,
        sessions=(session,),
        bound_sessions=1 if bound else 0,
        in_flight=in_flight,
        queued=0,
        submitted=0,
        accepted=0,
        failed=0,
        throttled=0,
        receipts=0,
        receipts_matched=0,
        receipts_unmatched=0,
        receipts_held=0,
        receipts_held_total=0,
        mo=0,
        last_error=None,
    )


@dataclass
class FakeConnector:
    """Answers each submit with the next result (or waits forever with `hang`)."""

    settings: ConnectorSettings
    results: list[SubmitResult] = field(default_factory=list)
    bound: bool = True
    in_flight: int = 0
    hang: bool = False
    submitted: list[tuple[SubmitSm, str | None]] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.settings.name

    @property
    def id_reading(self) -> IdReading:
        return IdReading(self.settings.message_id_format)

    async def submit(self, pdu: SubmitSm, *, our_id: str | None = None) -> SubmitResult:
        self.submitted.append((pdu, our_id))
        if self.hang:
            await asyncio.Event().wait()
        return self.results.pop(0)

    def status(self) -> ConnectorStatus:
        return status(self.name, bound=self.bound, in_flight=self.in_flight)


class FakeConnectors:
    def __init__(self, *connectors: FakeConnector) -> None:
        self._by_name = {c.name: c for c in connectors}

    def get(self, name: str) -> FakeConnector:
        try:
            return self._by_name[name]
        except KeyError:
            raise KeyError(name) from None


def route_with(store: SqliteStore, connector: FakeConnector, **kwargs: Any) -> ConnectorRoute:
    return ConnectorRoute(FakeConnectors(connector), connector.name, store, **kwargs)  # type: ignore[arg-type]


def test_the_upstream_submit_always_asks_for_a_final_receipt_and_carries_our_validity() -> None:
    for asked, sent in [(0x00, 0x01), (0x01, 0x01), (0x02, 0x01), (0x13, 0x11), (0x0E, 0x0D)]:
        pdu = upstream_submit(mt("m1", registered_delivery=asked))
        assert pdu.registered_delivery == sent, (asked, pdu.registered_delivery)
    pdu = upstream_submit(mt("m1"))
    assert parse_time(pdu.validity_period, now=T0) == T0 + timedelta(days=2)
    assert pdu.schedule_delivery_time == ""
    assert (pdu.destination_addr, pdu.source_addr, pdu.short_message) == (
        "31600000001",
        "SENDER",
        b"hello upstream",
    )


def test_the_upstream_submit_carries_our_portability_result() -> None:
    table = PortabilityTable()
    table.put("31600000001", "20408", "1234")
    lookups: list[str] = []

    def np_lookup(destination_addr: str) -> Tlvs:
        lookups.append(destination_addr)
        return np_tlvs_for(NumberPortability(table))(destination_addr)

    pdu = upstream_submit(mt("m1"), np_lookup)
    assert lookups == ["31600000001"]
    assert pdu.tlvs.get(Tag.DEST_ADDR_NP_RESOLUTION) == 2  # performed, ported
    assert pdu.tlvs.get(Tag.DEST_ADDR_NP_INFORMATION) == b"1234".ljust(10, b"\0")
    assert pdu.tlvs.get(Tag.DEST_ADDR_NP_COUNTRY) == 31
    # A value the ESME set itself is kept; a destination that is no number gets resolution 0.
    own = EMPTY_TLVS.with_(Tag.DEST_ADDR_NP_RESOLUTION, 1)
    kept = upstream_submit(mt("m2", tlvs=encode_tlvs(own)), np_lookup)
    assert kept.tlvs.get(Tag.DEST_ADDR_NP_RESOLUTION) == 1
    text = upstream_submit(mt("m3", destination=Address(5, 0, "ACME")), np_lookup)
    assert text.tlvs.get(Tag.DEST_ADDR_NP_RESOLUTION) == 0


def test_statuses_are_classified() -> None:
    assert classify_status(_S.ESME_RINVDSTADR) is ErrorClass.PERMANENT
    assert classify_status(_S.ESME_RINVSRCADR) is ErrorClass.PERMANENT
    assert classify_status(_S.ESME_RX_P_APPN) is ErrorClass.PERMANENT
    assert classify_status(_S.ESME_RSYSERR) is ErrorClass.SHORT
    assert classify_status(_S.ESME_RX_T_APPN) is ErrorClass.SHORT
    assert classify_status(_S.ESME_RMSGQFUL) is ErrorClass.TEMPORARY
    assert classify_status(0x400) is ErrorClass.SHORT  # vendor-specific: retried


@pytest.mark.parametrize(
    ("id_format", "upstream_id", "keys"),
    [
        (MessageIdFormat.HEX, "00001A2B", ["=00001A2B", "hex:6699"]),
        (MessageIdFormat.DEC, "000123", ["=000123", "dec:123"]),
        # AUTO: an all-digit id may be hex without letters: both readings are kept.
        (MessageIdFormat.AUTO, "10000001", ["=10000001", "dec:10000001", "hex:268435457"]),
        (MessageIdFormat.AUTO, "ABC-def-1", ["=ABC-def-1", "text:abc-def-1"]),
    ],
)
async def test_accepted_maps_the_upstream_id_under_the_matchers_keys(
    store: SqliteStore, id_format: MessageIdFormat, upstream_id: str, keys: list[str]
) -> None:
    connector = FakeConnector(
        client_config(message_id_format=id_format),
        [SubmitResult(outcome=SubmitOutcome.ACCEPTED, message_id=upstream_id, attempts=1)],
    )
    outcome = await route_with(store, connector).attempt(mt("m1"))
    assert outcome == Accepted(upstream_id)
    assert connector.submitted[0][1] == "m1"
    for key in keys:
        assert await store.lookup_upstream_id("carrier", key) == "m1"
    assert await store.lookup_upstream_id("other", keys[0]) is None


async def test_a_permanent_status_is_a_permanent_failure(store: SqliteStore) -> None:
    connector = FakeConnector(
        client_config(),
        [SubmitResult(outcome=SubmitOutcome.REJECTED, status=_S.ESME_RINVDSTADR, detail="x")],
    )
    outcome = await route_with(store, connector).attempt(mt("m1"))
    assert isinstance(outcome, PermanentFailure)
    assert (outcome.error, outcome.state) == (_S.ESME_RINVDSTADR, MessageState.UNDELIVERABLE)


@pytest.mark.parametrize(
    "result",
    [
        SubmitResult(outcome=SubmitOutcome.REJECTED, status=_S.ESME_RSYSERR),
        SubmitResult(outcome=SubmitOutcome.TIMED_OUT),
        SubmitResult(outcome=SubmitOutcome.CONNECTION_LOST),
        SubmitResult(outcome=SubmitOutcome.NOT_SENT),
    ],
)
async def test_no_answer_or_a_transient_status_is_a_temporary_failure(
    store: SqliteStore, result: SubmitResult
) -> None:
    connector = FakeConnector(client_config(), [result])
    outcome = await route_with(store, connector).attempt(mt("m1"))
    assert isinstance(outcome, TemporaryFailure), outcome
    assert outcome.error == _S.ESME_RSYSERR
    assert "carrier" in outcome.detail


async def test_a_connector_down_or_gone_fails_at_once_without_queueing(store: SqliteStore) -> None:
    connector = FakeConnector(client_config(), bound=False)
    outcome = await route_with(store, connector).attempt(mt("m1"))
    assert isinstance(outcome, TemporaryFailure)
    assert connector.submitted == []
    gone = ConnectorRoute(FakeConnectors(), "carrier", store)  # type: ignore[arg-type]
    assert isinstance(await gone.attempt(mt("m1")), TemporaryFailure)


async def test_an_attempt_is_bounded_by_max_wait(store: SqliteStore) -> None:
    connector = FakeConnector(client_config(), hang=True)
    outcome = await route_with(store, connector, max_wait=0.05).attempt(mt("m1"))
    assert isinstance(outcome, TemporaryFailure)
    assert "within" in outcome.detail


# -- UpstreamReceipts -----------------------------------------------------------------------------


@dataclass
class Rig:
    store: SqliteStore
    lifecycle: Lifecycle
    receipts: UpstreamReceipts
    connectors: Connectors
    woken: list[str]
    clock: FakeClock


@pytest.fixture
async def rig(store: SqliteStore, tmp_path: Path) -> Rig:
    clock = FakeClock()
    woken: list[str] = []
    policies = AccountPolicies({"whole": AccountPolicy(whole_message_receipts=True)})
    lifecycle = Lifecycle(
        store, MessageIds(0x1234), clock=clock, policies=policies, on_receipt=woken.append
    )
    connectors = Connectors()
    await connectors.add(client_config(message_id_format=MessageIdFormat.HEX))
    receipts = UpstreamReceipts(store, lifecycle, connectors)
    return Rig(store, lifecycle, receipts, connectors, woken, clock)


def info(
    upstream_id: str,
    state: MessageState | int | None = MessageState.DELIVERED,
    *,
    err: str | None = "000",
    network_error_code: NetworkErrorCode | None = None,
) -> ReceiptInfo:
    return ReceiptInfo(
        message_id=upstream_id,
        state=state,
        err=err,
        network_error_code=network_error_code,
        source="tlvs",
        receipt=None,
    )


async def accepted_upstream(rig: Rig, record: StoredMessage, upstream_id: str) -> None:
    """As the Scheduler and ConnectorRoute leave a message an upstream took."""
    await rig.store.submit_many((record,))
    for key in upstream_id_keys(upstream_id, MessageIdFormat.HEX):
        await rig.store.map_upstream_id("carrier", key, record.message_id)
    await rig.lifecycle.accepted(record, upstream_id, route="carrier")


async def our_receipt(rig: Rig, system_id: str = "esme1") -> StoredMessage:
    (receipt,) = await rig.store.pending_receipts(system_id, 10)
    return receipt


async def test_a_matched_receipt_settles_the_message_with_our_receipt(rig: Rig) -> None:
    await accepted_upstream(rig, mt("m1"), "1A2B")
    rig.clock.now = T0 + timedelta(minutes=3)
    await rig.receipts.on_receipt("carrier", "m1", info("1A2B"))
    record = await rig.store.get("m1")
    assert record is not None
    assert record.state is MessageState.DELIVERED
    assert record.done_at == rig.clock.now
    assert record.upstream_message_id == "1A2B"
    receipt = await our_receipt(rig)
    assert record.receipt_id == receipt.message_id
    assert receipt.direction is Direction.RECEIPT
    assert receipt.receipted_message_id == "m1"
    pdu = receipt.to_deliver_sm()
    assert pdu.tlvs.get(Tag.RECEIPTED_MESSAGE_ID) == "m1"
    assert pdu.tlvs.get(Tag.MESSAGE_STATE) == MessageState.DELIVERED
    text = parse_receipt(pdu.short_message)
    assert text is not None
    assert (text.id, text.stat, text.err) == ("m1", "DELIVRD", "000")
    assert (pdu.source_addr, pdu.destination_addr) == ("31600000001", "SENDER")
    assert rig.woken == ["esme1"]
    assert rig.receipts.settled == 1


async def test_without_our_id_the_durable_map_matches_any_spelling_of_the_id(
    rig: Rig,
) -> None:
    # As after a restart: the connector's matcher does not know the id; the store does.
    await accepted_upstream(rig, mt("m1"), "00001A2B")
    await rig.receipts.on_receipt("carrier", None, info("1a2b", MessageState.UNDELIVERABLE))
    record = await rig.store.get("m1")
    assert record is not None and record.state is MessageState.UNDELIVERABLE


async def test_a_failure_carries_the_upstreams_error(rig: Rig) -> None:
    await accepted_upstream(rig, mt("m1"), "1A2B")
    await rig.receipts.on_receipt(
        "carrier",
        "m1",
        info(
            "1A2B", MessageState.UNDELIVERABLE, err="001", network_error_code=NetworkErrorCode(3, 1)
        ),
    )
    record = await rig.store.get("m1")
    assert record is not None
    assert (record.state, record.last_error) == (MessageState.UNDELIVERABLE, 1)
    pdu = (await our_receipt(rig)).to_deliver_sm()
    assert pdu.tlvs.get(Tag.NETWORK_ERROR_CODE) == NetworkErrorCode(3, 1)
    assert pdu.tlvs.get(Tag.MESSAGE_STATE) == MessageState.UNDELIVERABLE
    text = parse_receipt(pdu.short_message)
    assert text is not None and (text.stat, text.err) == ("UNDELIV", "001")


def test_receipt_error_prefers_the_network_error_code() -> None:
    assert receipt_error(info("x", err="005", network_error_code=NetworkErrorCode(3, 27))) == 27
    assert receipt_error(info("x", err="005")) == 5
    assert receipt_error(info("x", err="ABC")) == 0
    assert receipt_error(info("x", err=None)) == 0


async def test_a_delivered_receipt_does_not_report_an_older_attempts_error(rig: Rig) -> None:
    await accepted_upstream(rig, mt("m1", last_error=_S.ESME_RSYSERR), "1A2B")
    await rig.receipts.on_receipt("carrier", "m1", info("1A2B"))
    text = parse_receipt((await our_receipt(rig)).to_deliver_sm().short_message)
    assert text is not None and text.err == "000"


@pytest.mark.parametrize(
    "state", [MessageState.ENROUTE, MessageState.SCHEDULED, MessageState.UNKNOWN, 0x55, None]
)
async def test_intermediate_or_unreadable_states_do_not_finalise(
    rig: Rig, state: MessageState | int | None
) -> None:
    await accepted_upstream(rig, mt("m1"), "1A2B")
    await rig.receipts.on_receipt("carrier", "m1", info("1A2B", state))
    record = await rig.store.get("m1")
    assert record is not None
    assert record.state is MessageState.ENROUTE
    assert record.next_attempt_at == record.expires_at  # still waiting for the upstream
    assert await rig.store.pending_receipts("esme1", 10) == []
    assert rig.receipts.intermediate == 1


async def test_a_repeated_receipt_changes_nothing(rig: Rig) -> None:
    await accepted_upstream(rig, mt("m1"), "1A2B")
    await rig.receipts.on_receipt("carrier", "m1", info("1A2B"))
    await rig.receipts.on_receipt("carrier", "m1", info("1A2B", MessageState.UNDELIVERABLE))
    record = await rig.store.get("m1")
    assert record is not None and record.state is MessageState.DELIVERED
    assert len(await rig.store.pending_receipts("esme1", 10)) == 1
    assert rig.receipts.duplicates == 1


async def test_a_receipt_landing_on_a_final_message_under_another_id_is_a_collision(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    # Issue 10 item 7: "0000000000000010" taken for "000000000000000a" (both read as ten) put
    # the receipt on a message already final, and it was dropped as a repeat, silently.
    await accepted_upstream(rig, mt("m1"), "000000000000000a")
    await rig.receipts.on_receipt("carrier", "m1", info("000000000000000a"))
    with caplog.at_level(logging.WARNING, logger="opensmsc.upstream.receipts"):
        await rig.receipts.on_receipt(
            "carrier", "m1", info("0000000000000010", MessageState.UNDELIVERABLE)
        )
    assert (rig.receipts.collisions, rig.receipts.duplicates) == (1, 0)
    [warning] = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert "collision" in warning.getMessage()
    assert "0000000000000010" in warning.getMessage()
    assert "000000000000000a" in warning.getMessage()
    record = await rig.store.get("m1")
    assert record is not None and record.state is MessageState.DELIVERED
    # The same receipt again, in another spelling of the same id, is a repeat.
    await rig.receipts.on_receipt("carrier", "m1", info("A"))
    assert (rig.receipts.collisions, rig.receipts.duplicates) == (1, 1)


async def test_ids_mapped_before_keys_carried_their_reading_still_match(rig: Rig) -> None:
    # A store written by an earlier version holds the bare normalised id ("6699" for 1A2B).
    record = mt("m1")
    await rig.store.submit_many((record,))
    await rig.store.map_upstream_id("carrier", "6699", record.message_id)
    await rig.lifecycle.accepted(record, "1A2B", route="carrier")
    await rig.receipts.on_receipt("carrier", None, info("1a2b"))
    stored = await rig.store.get("m1")
    assert stored is not None and stored.state is MessageState.DELIVERED


async def test_a_receipt_before_the_attempt_was_recorded_wins(rig: Rig) -> None:
    # The receipt overtook the submit_sm_resp: the connector matched it, the message is still
    # claimed (ENROUTE, no upstream id yet). The Scheduler's later `accepted` is refused.
    record = mt("m1")
    await rig.store.submit_many((record,))
    await rig.receipts.on_receipt("carrier", "m1", info("1A2B"))
    assert await rig.lifecycle.accepted(record, "1A2B", route="carrier") is None
    stored = await rig.store.get("m1")
    assert stored is not None
    assert stored.state is MessageState.DELIVERED
    assert (stored.route, stored.upstream_message_id) == ("carrier", "1A2B")


async def test_no_receipt_is_issued_when_the_esme_asked_for_none(rig: Rig) -> None:
    await accepted_upstream(rig, mt("m1", registered_delivery=0), "1A2B")
    await rig.receipts.on_receipt("carrier", "m1", info("1A2B"))
    record = await rig.store.get("m1")
    assert record is not None and record.state is MessageState.DELIVERED
    assert record.receipt_id is None
    assert await rig.store.pending_receipts("esme1", 10) == []


async def test_an_unknown_id_is_acknowledged_and_counted(rig: Rig) -> None:
    await rig.receipts.on_receipt("carrier", None, info("FFFF"))
    assert rig.receipts.unknown == 1
    # Matched by the connector, but no longer stored (purged): acknowledged too.
    await rig.receipts.on_receipt("carrier", "gone", info("FFFF"))
    assert rig.receipts.unknown == 2


async def test_an_unknown_id_waits_while_submits_await_answers(store: SqliteStore) -> None:
    lifecycle = Lifecycle(store, MessageIds(1), clock=FakeClock(), policies=AccountPolicies())
    connector = FakeConnector(client_config(), in_flight=1)
    monotonic = [100.0]
    receipts = UpstreamReceipts(
        store,
        lifecycle,
        FakeConnectors(connector),  # type: ignore[arg-type]
        defer_for=60.0,
        now=lambda: monotonic[0],
    )
    with pytest.raises(MessageRejected) as refused:
        await receipts.on_receipt("carrier", None, info("FFFF"))
    assert refused.value.status == _S.ESME_RX_T_APPN
    assert receipts.deferred == 1
    monotonic[0] += 59.0
    with pytest.raises(MessageRejected):  # still within defer_for: it may be a late answer
        await receipts.on_receipt("carrier", None, info("FFFF"))
    monotonic[0] += 1.0
    await receipts.on_receipt("carrier", None, info("FFFF"))  # not a late answer: let it go
    assert (receipts.deferred, receipts.unknown) == (2, 1)


async def test_a_receipt_that_cannot_be_stored_is_refused_for_a_retry(rig: Rig) -> None:
    await accepted_upstream(rig, mt("m1"), "1A2B")
    await rig.store.close()
    with pytest.raises(MessageRejected) as refused:
        await rig.receipts.on_receipt("carrier", "m1", info("1A2B"))
    assert refused.value.status == _S.ESME_RX_T_APPN


def parts(group: str, total: int, **fields: Any) -> list[StoredMessage]:
    return [
        mt(
            part_id(group, seq),
            concat=ConcatInfo(group_id=group, reference=7, total=total, seq=seq),
            **fields,
        )
        for seq in range(1, total + 1)
    ]


async def test_any_parts_receipt_settles_that_part(rig: Rig) -> None:
    group = "0000123400000100"
    records = parts(group, 3)
    for n, record in enumerate(records):
        await accepted_upstream(rig, record, f"A{n}")
    # The carrier reports part 3 first, then part 1, by the id it gave each.
    await rig.receipts.on_receipt("carrier", None, info("A2"))
    await rig.receipts.on_receipt("carrier", None, info("A0", MessageState.UNDELIVERABLE))
    states = [(await rig.store.get(r.message_id)).state for r in records]  # type: ignore[union-attr]
    assert states == [MessageState.UNDELIVERABLE, MessageState.ENROUTE, MessageState.DELIVERED]
    receipted = sorted(
        r.receipted_message_id or "" for r in await rig.store.pending_receipts("esme1", 10)
    )
    assert receipted == sorted([records[0].message_id, records[2].message_id])


async def test_whole_message_receipts_come_once_all_parts_are_final(rig: Rig) -> None:
    group = "0000123400000200"
    records = parts(group, 2, system_id="whole")
    for n, record in enumerate(records):
        await accepted_upstream(rig, record, f"B{n}")
    await rig.receipts.on_receipt("carrier", None, info("B1"))
    assert await rig.store.pending_receipts("whole", 10) == []
    await rig.receipts.on_receipt("carrier", None, info("B0"))
    (receipt,) = await rig.store.pending_receipts("whole", 10)
    assert receipt.receipted_message_id == records[0].message_id
    text = parse_receipt(receipt.to_deliver_sm().short_message)
    assert text is not None and (text.sub, text.dlvrd, text.stat) == (2, 2, "DELIVRD")


# -- MoIngress ------------------------------------------------------------------------------------


@dataclass
class Session:
    system_id: str
    address_range: str = ""
    can_receive: bool = True


@dataclass
class Mo:
    ingress: MoIngress
    sessions: list[Session]
    woken: list[None]


def mo_ingress(store: SqliteStore, prefixes: list[tuple[str, str]]) -> Mo:
    sessions: list[Session] = []
    woken: list[None] = []
    ids = MessageIds(0x42)
    ingress = MoIngress(
        store,
        prefixes=prefixes,
        sessions=lambda: sessions,
        new_id=ids.next,
        wake=lambda: woken.append(None),
        validity=lambda system_id: timedelta(hours=6),
        clock=FakeClock(),
    )
    return Mo(ingress, sessions, woken)


def mo(destination: str, text: bytes = b"hi there") -> DeliverSm:
    return DeliverSm(
        source_addr_ton=1,
        source_addr_npi=1,
        source_addr="31600000002",
        destination_addr=destination,
        short_message=text,
    )


def test_the_longest_mo_prefix_wins_then_a_bound_address_range(store: SqliteStore) -> None:
    m = mo_ingress(store, [("12", "short"), ("1234", "long"), ("", "ignored")])
    assert m.ingress.account_for("123456") == "long"
    assert m.ingress.account_for("1299") == "short"
    assert m.ingress.account_for("5555") is None
    m.sessions.extend(
        [
            Session("tx-only", "^55", can_receive=False),
            Session("no-range"),
            Session("broken", "[55"),
            Session("ranged", "55[0-9]+$"),
        ]
    )
    assert m.ingress.account_for("5555") == "ranged"
    assert m.ingress.account_for("6555") is None  # matched from the start
    assert m.ingress.account_for("1234") == "long"  # prefixes first


async def test_mo_is_stored_for_its_account_before_the_answer(store: SqliteStore) -> None:
    m = mo_ingress(store, [("12345", "esme1")])
    await m.ingress.on_mo("carrier", mo("12345"))
    assert m.woken == [None]
    (record,) = await store.due(T0, 10)
    assert record.direction is Direction.MO
    assert record.system_id == "esme1"
    assert record.state is MessageState.ENROUTE
    assert record.expires_at == T0 + timedelta(hours=6)
    pdu = record.to_deliver_sm()
    assert (pdu.source_addr, pdu.destination_addr, pdu.short_message) == (
        "31600000002",
        "12345",
        b"hi there",
    )
    assert m.ingress.stored == 1


async def test_a_data_sm_mo_keeps_its_payload(store: SqliteStore) -> None:
    m = mo_ingress(store, [("12345", "esme1")])
    payload = "Привет".encode("utf-16-be")
    await m.ingress.on_mo(
        "carrier",
        DataSm(
            source_addr="31600000002",
            destination_addr="12345",
            data_coding=8,
            tlvs=EMPTY_TLVS.with_(Tag.MESSAGE_PAYLOAD, payload),
        ),
    )
    (record,) = await store.due(T0, 10)
    pdu = record.to_deliver_sm()
    assert (pdu.data_coding, pdu.tlvs.get(Tag.MESSAGE_PAYLOAD)) == (8, payload)


async def test_mo_without_an_account_or_a_store_is_left_with_the_carrier(
    store: SqliteStore,
) -> None:
    m = mo_ingress(store, [("12345", "esme1")])
    with pytest.raises(MessageRejected) as refused:
        await m.ingress.on_mo("carrier", mo("999"))
    assert refused.value.status == _S.ESME_RX_T_APPN
    await store.close()
    with pytest.raises(MessageRejected) as refused:
        await m.ingress.on_mo("carrier", mo("12345"))
    assert refused.value.status == _S.ESME_RX_T_APPN
    assert m.ingress.refused == 2
    assert m.woken == []


# -- through the whole engine (tests/services/engine_harness.py) -------------------------------


async def upstream_engine(engine_factory: EngineFactory, connector: FakeConnector) -> Any:
    engine = await engine_factory(prefixes=(("316", "carrier"),))
    connectors = FakeConnectors(connector)
    engine.router.add(ConnectorRoute(connectors, "carrier", engine.store))  # type: ignore[arg-type]
    receipts = UpstreamReceipts(engine.store, engine.lifecycle, connectors)  # type: ignore[arg-type]
    return engine, receipts


async def test_an_upstream_receipt_reaches_the_esme_with_our_message_id(
    engine_factory: EngineFactory,
) -> None:
    connector = FakeConnector(
        client_config(message_id_format=MessageIdFormat.HEX),
        [SubmitResult(outcome=SubmitOutcome.ACCEPTED, message_id="0BEEF", attempts=1)],
    )
    engine, receipts = await upstream_engine(engine_factory, connector)
    session = engine.registry.bind(FakeSession("esme1"))
    message_id = await engine.submit_ok(registered_delivery=1, short_message=b"to the carrier")
    await engine.run()
    record = await engine.state(message_id)
    assert record.state is MessageState.ENROUTE
    assert (record.route, record.upstream_message_id) == ("carrier", "0BEEF")
    assert record.next_attempt_at == record.expires_at  # waits for the receipt, no retry
    (sent, our_id) = connector.submitted[0]
    assert our_id == message_id and sent.registered_delivery == 1
    assert session.received == []

    # After a restart the connector's matcher knows nothing: the store's map answers.
    await receipts.on_receipt("carrier", None, info("beef", MessageState.DELIVERED))
    await engine.settle()
    assert (await engine.state(message_id)).state is MessageState.DELIVERED
    (pdu,) = session.received
    assert pdu.tlvs.get(Tag.RECEIPTED_MESSAGE_ID) == message_id
    text = parse_receipt(pdu.short_message)
    assert text is not None and (text.id, text.stat) == (message_id, "DELIVRD")
    await engine.run()
    assert len(connector.submitted) == 1  # never sent twice


async def test_a_permanent_upstream_refusal_gives_the_esme_an_undeliv_receipt(
    engine_factory: EngineFactory,
) -> None:
    connector = FakeConnector(
        client_config(),
        [SubmitResult(outcome=SubmitOutcome.REJECTED, status=_S.ESME_RINVDSTADR, detail="x")],
    )
    engine, _ = await upstream_engine(engine_factory, connector)
    session = engine.registry.bind(FakeSession("esme1"))
    message_id = await engine.submit_ok(registered_delivery=1)
    await engine.run()
    record = await engine.state(message_id)
    assert (record.state, record.last_error) == (MessageState.UNDELIVERABLE, _S.ESME_RINVDSTADR)
    (pdu,) = session.received
    text = parse_receipt(pdu.short_message)
    assert text is not None and (text.id, text.stat) == (message_id, "UNDELIV")


async def test_mo_waits_in_the_store_until_its_account_binds(
    engine_factory: EngineFactory,
) -> None:
    engine = await engine_factory()
    ingress = MoIngress(
        engine.store,
        prefixes=[("12345", "esme1")],
        sessions=lambda: engine.registry.sessions,
        new_id=engine.ids.next,
        wake=engine.scheduler.wake,
        clock=engine.clock,
    )
    await ingress.on_mo("carrier", mo("12345", b"stored first"))
    await engine.run()
    assert engine.registry.outbinds == ["esme1"]  # nobody bound: it waits (outbind asked)
    session = engine.registry.bind(FakeSession("esme1"))
    engine.deliveries.wake("esme1")  # what a bind does
    await engine.settle()
    await engine.run()
    (pdu,) = session.received
    assert (pdu.destination_addr, pdu.short_message) == ("12345", b"stored first")


async def test_a_bound_connector_releases_what_waits_for_its_route_in_order(
    engine_factory: EngineFactory,
) -> None:
    # Issue 10 item 4: the route's waiting messages are due at once when its connector binds.
    connector = FakeConnector(client_config(), bound=False)
    engine, _ = await upstream_engine(engine_factory, connector)
    engine.router.add(ConnectorRoute(FakeConnectors(), "elsewhere", engine.store))  # type: ignore[arg-type]
    ours = [await engine.submit_ok(short_message=f"queued {n}".encode()) for n in range(4)]
    taken = await engine.submit_ok(short_message=b"taken upstream")
    await engine.run()
    assert connector.submitted == []  # not bound: each failed at once, retry in 30 s
    for message_id in [*ours, taken]:
        record = await engine.state(message_id)
        assert record.route == "carrier"
        assert record.next_attempt_at == engine.clock() + timedelta(seconds=30)
    # One the upstream took before (an alert brought it back): it waits for its receipt.
    await engine.lifecycle.accepted(await engine.state(taken), "77", route="carrier")
    assert [r.message_id for r in await engine.store.waiting_on_route("carrier")] == ours
    assert await engine.store.waiting_on_route("elsewhere") == []

    connector.bound = True
    connector.results = [
        SubmitResult(outcome=SubmitOutcome.ACCEPTED, message_id=str(n), attempts=1)
        for n in range(4)
    ]
    assert await engine.scheduler.route_up_now("carrier") == 4
    assert await engine.run() == 4  # due now, at the same clock: no retry time passed
    assert [pdu.short_message for pdu, _ in connector.submitted] == [
        f"queued {n}".encode() for n in range(4)
    ]
    assert await engine.scheduler.route_up_now("carrier") == 0  # accepted: nothing waits
