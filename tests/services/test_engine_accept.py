"""Acceptance: a message_id only after the commit, kept across a restart; validation;
replace_if_present; submit_multi and distribution lists; data_sm message modes."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest

from opensmsc.routing.policy import AccountPolicies, AccountPolicy
from opensmsc.routing.routes import Delivered, LoopbackRoute, PermanentFailure, TemporaryFailure
from opensmsc.smpp.constants import MessageState, Tag
from opensmsc.smpp.pdu import DataSm, DistributionList, SmeAddress, SubmitMulti, SubmitSm
from opensmsc.smpp.times import format_absolute, format_relative
from opensmsc.smpp.tlv import EMPTY_TLVS, NetworkErrorCode, Tlvs
from opensmsc.store import Address, SqliteStore
from tests.services.conftest import EngineFactory
from tests.services.engine_harness import T0, Engine, FakeClock, S, ScriptedRoute

LATER = format_relative(timedelta(hours=1))


async def test_submit_is_answered_only_after_the_commit(engine: Engine) -> None:
    answers: list[tuple[str | None, int]] = []
    engine.acceptor.submit(
        "esme1",
        SubmitSm(source_addr="1", destination_addr="316", short_message=b"x"),
        lambda mid, status: answers.append((mid, status)),
    )
    assert answers == []  # nothing before the store has committed
    assert engine.acceptor.pending == 1
    while not answers:
        await asyncio.sleep(0.001)
    ((message_id, status),) = answers
    assert status == 0 and message_id
    # By the time the ESME hears the id, a fresh reader sees the message.
    assert (await engine.state(message_id)).state is MessageState.ENROUTE
    assert engine.acceptor.accepted["esme1"] == 1


async def test_an_accepted_message_survives_a_restart(tmp_path: Path) -> None:
    store = await SqliteStore.open(tmp_path / "messages.sqlite3")
    engine = Engine(
        store,
        clock=FakeClock(),
        policies=AccountPolicies(),
        routes={"loopback": LoopbackRoute()},
    )
    message_id = await engine.submit_ok(schedule_delivery_time=LATER)
    await engine.close()
    await store.close()
    reopened = await SqliteStore.open(tmp_path / "messages.sqlite3")
    try:
        record = await reopened.get(message_id)
        assert record is not None
        assert record.state is MessageState.SCHEDULED
        assert record.short_message == b"hello"
    finally:
        await reopened.close()


async def test_store_failure_answers_rsyserr_without_an_id(engine: Engine) -> None:
    await engine.store.close()
    assert await engine.submit() == (None, S.ESME_RSYSERR)
    assert engine.acceptor.pending == 0


@pytest.mark.parametrize(
    ("fields", "status"),
    [
        ({"destination_addr": ""}, S.ESME_RINVDSTADR),
        ({"priority_flag": 4}, S.ESME_RINVPRTFLG),
        ({"replace_if_present_flag": 2}, S.ESME_RINVREPFLAG),
        ({"schedule_delivery_time": "991399000000000+"}, S.ESME_RINVSCHED),
        ({"validity_period": "not a time at all"}, S.ESME_RINVEXPIRY),
    ],
)
async def test_invalid_submits_get_the_specific_status_at_once(
    engine: Engine, fields: dict[str, object], status: int
) -> None:
    assert await engine.submit(**fields) == (None, status)


async def test_validity_defaults_and_is_capped_per_account(engine_factory: EngineFactory) -> None:
    engine = await engine_factory(
        account=AccountPolicy(default_validity=timedelta(hours=3), max_validity=timedelta(hours=5))
    )
    plain = await engine.state(await engine.submit_ok())
    assert plain.expires_at - plain.submitted_at == timedelta(hours=3)
    long_asked = await engine.submit_ok(validity_period=format_relative(timedelta(days=3)))
    capped = await engine.state(long_asked)
    assert capped.expires_at - capped.submitted_at == timedelta(hours=5)
    scheduled = await engine.state(await engine.submit_ok(schedule_delivery_time=LATER))
    assert scheduled.state is MessageState.SCHEDULED
    assert scheduled.due_at == T0 + timedelta(hours=1)


async def test_validity_ending_before_the_schedule_is_refused(engine: Engine) -> None:
    answer = await engine.submit(
        schedule_delivery_time=format_relative(timedelta(hours=2)),
        validity_period=format_relative(timedelta(hours=1)),
    )
    assert answer == (None, S.ESME_RINVEXPIRY)


async def test_a_schedule_in_the_past_means_now(engine_factory: EngineFactory) -> None:
    # Issue 10 item 29: a schedule_delivery_time more than a validity in the past, with no
    # validity_period, was refused ESME_RINVEXPIRY (its default validity counted from the
    # past). A past schedule is "now"; the default validity counts from there.
    engine = await engine_factory(account=AccountPolicy(default_validity=timedelta(days=2)))
    past = format_absolute(T0 - timedelta(days=3))
    record = await engine.state(await engine.submit_ok(schedule_delivery_time=past))
    assert (record.state, record.due_at) == (MessageState.ENROUTE, T0)
    assert record.expires_at == T0 + timedelta(days=2)
    # An explicit validity that has already ended is still refused.
    answer = await engine.submit(
        schedule_delivery_time=past, validity_period=format_absolute(T0 - timedelta(days=1))
    )
    assert answer == (None, S.ESME_RINVEXPIRY)


async def test_replace_if_present_supersedes_the_pending_message(engine: Engine) -> None:
    first = await engine.submit_ok(schedule_delivery_time=LATER, short_message=b"v1")
    other_service = await engine.submit_ok(
        schedule_delivery_time=LATER, service_type="VMN", short_message=b"other"
    )
    second = await engine.submit_ok(
        schedule_delivery_time=LATER, short_message=b"v2", replace_if_present_flag=1
    )
    assert (await engine.state(first)).state is MessageState.DELETED
    assert (await engine.state(other_service)).state is MessageState.SCHEDULED
    assert (await engine.state(second)).short_message == b"v2"
    # Nothing pending to replace: stored as a plain submit.
    alone = await engine.submit_ok(destination_addr="3177", replace_if_present_flag=1)
    assert (await engine.state(alone)).state is MessageState.ENROUTE


async def test_submit_multi_stores_one_message_per_destination(
    engine_factory: EngineFactory,
) -> None:
    engine = await engine_factory(
        account=AccountPolicy(
            distribution_lists={
                "friends": (Address(1, 1, "31611111111"), Address(1, 1, "31622222222"))
            }
        )
    )
    pdu = SubmitMulti(
        source_addr="1234",
        dest_address=(
            SmeAddress(dest_addr_ton=1, dest_addr_npi=1, destination_addr="31600000001"),
            SmeAddress(dest_addr_ton=1, dest_addr_npi=1, destination_addr=""),
            DistributionList(dl_name="friends"),
            DistributionList(dl_name="strangers"),
        ),
        registered_delivery=1,
        short_message=b"to many",
    )
    message_id, status, failed = await engine.submit_multi(pdu)
    assert status == 0 and message_id
    assert {(u.destination_addr, u.error_status_code) for u in failed} == {
        ("", S.ESME_RINVDSTADR),
        ("strangers", S.ESME_RINVDLNAME),
    }
    assert engine.acceptor.accepted["esme1"] == 3
    first = await engine.state(message_id)
    assert first.destination.addr == "31600000001"
    assert await engine.run() == 3
    assert engine.scheduler.attempts == 3
    assert (await engine.state(message_id)).state is MessageState.DELIVERED
    receipts = await engine.store.pending_receipts("esme1", 10)  # nobody bound to take them
    assert sorted(r.destination.addr for r in receipts) == ["1234"] * 3


async def test_submit_multi_with_no_good_destination_fails(engine: Engine) -> None:
    pdu = SubmitMulti(source_addr="1", dest_address=(DistributionList(dl_name="nobody"),))
    message_id, status, failed = await engine.submit_multi(pdu)
    assert (message_id, status) == (None, S.ESME_RSUBMITFAIL)
    assert [u.error_status_code for u in failed] == [S.ESME_RINVDLNAME]
    too_many = SubmitMulti(source_addr="1", dest_address=())
    assert (await engine.submit_multi(too_many))[1] == S.ESME_RINVNUMDESTS


def _data_sm(esm_class: int, destination: str = "31600000001") -> DataSm:
    return DataSm(
        source_addr="1234",
        destination_addr=destination,
        esm_class=esm_class,
        tlvs=DataSm().tlvs.with_(Tag.MESSAGE_PAYLOAD, b"payload"),
    )


@pytest.mark.parametrize("esm_class", [0x00, 0x03])
async def test_data_sm_store_and_forward_is_stored(engine: Engine, esm_class: int) -> None:
    message_id, status, _ = await engine.data_sm(_data_sm(esm_class))
    assert status == 0 and message_id
    record = await engine.state(message_id)
    assert record.tlv_values.get(Tag.MESSAGE_PAYLOAD) == b"payload"
    await engine.run()
    assert (await engine.state(message_id)).state is MessageState.DELIVERED


async def test_data_sm_datagram_is_answered_at_once_tried_once_never_stored(
    engine_factory: EngineFactory,
) -> None:
    route = ScriptedRoute("loopback")
    route.script["31600000001"] = [TemporaryFailure(27)]
    engine = await engine_factory(routes={"loopback": route})
    route.gate = asyncio.Event()  # the attempt cannot finish before the answer
    message_id, status, _ = await engine.data_sm(_data_sm(0x01))
    assert status == 0 and message_id
    route.gate.set()
    await engine.acceptor.close()
    assert len(route.attempted) == 1
    assert await engine.store.get(message_id) is None
    assert await engine.run() == 0  # nothing to retry


async def test_data_sm_transaction_mode_answers_with_the_outcome(
    engine_factory: EngineFactory,
) -> None:
    route = ScriptedRoute("loopback")
    route.script["316000000"] = [PermanentFailure(1)]
    route.script["316000001"] = [Delivered()]
    engine = await engine_factory(routes={"loopback": route})
    route.gate = asyncio.Event()
    answer = asyncio.ensure_future(engine.data_sm(_data_sm(0x02, "316000001")))
    await asyncio.sleep(0.01)
    assert not answer.done()  # held until the attempt's outcome
    route.gate.set()
    message_id, status, _ = await answer
    assert status == 0 and message_id
    message_id, status, tlvs = await engine.data_sm(_data_sm(0x02, "316000000"))
    assert (message_id, status) == (None, S.ESME_RDELIVERYFAILURE)
    assert tlvs.get(Tag.NETWORK_ERROR_CODE) == NetworkErrorCode(3, 1)
    assert await engine.run() == 0  # transaction mode stores nothing


async def test_message_ids_stay_unique_across_restarts(tmp_path: Path) -> None:
    from opensmsc.engine import MessageIds, part_id

    clock = FakeClock()
    first = MessageIds.open(tmp_path, clock=clock)
    ids = {first.next() for _ in range(100)}
    second = MessageIds.open(tmp_path, clock=clock)  # the same second: a higher prefix all same
    ids |= {second.next() for _ in range(100)}
    group = second.next_group()
    parts = {part_id(group, seq) for seq in range(1, 4)}
    ids_after = {second.next() for _ in range(10)}
    assert len(ids | parts | ids_after) == 213
    assert all(len(i) == 16 for i in ids)


def test_message_id_prefix_is_the_injected_clocks_second(tmp_path: Path) -> None:
    from opensmsc.engine import MessageIds

    ids = MessageIds.open(tmp_path, clock=FakeClock(T0))
    assert ids.next() == f"{int(T0.timestamp()):08x}00000001"


async def test_too_many_waiting_for_the_store_are_throttled(tmp_path: Path) -> None:
    store = await SqliteStore.open(tmp_path / "messages.sqlite3")
    engine = Engine(store, clock=FakeClock(), policies=AccountPolicies(), routes={})
    engine.acceptor._max_pending = 2  # a tiny queue, to see its edge
    try:
        answers: list[tuple[str | None, int]] = []
        pdu = SubmitSm(source_addr="1", destination_addr="316", short_message=b"x")
        for _ in range(3):
            engine.acceptor.submit("esme1", pdu, lambda m, s: answers.append((m, s)))
        assert answers == [(None, S.ESME_RTHROTTLED)]  # the third, at once
        assert engine.acceptor.load == 100
        await engine.acceptor.close()
        assert [s for _, s in answers] == [S.ESME_RTHROTTLED, 0, 0]
        assert engine.acceptor.load == 0
    finally:
        await engine.close()
        await store.close()


# ---- messages too long for SMS (issue 10, item 25) --------------------------------------------

# Octets of message_payload a part carries with an 8-bit concat UDH (TS 23.040 §9.2.3.24.1):
# 153 GSM 7-bit characters, 67 UCS-2 characters (134 octets), 134 octets of 8-bit data.
PER_PART = {0: 153, 8: 134, 4: 134}


def _payload(data_coding: int, parts: int) -> Tlvs:
    unit = {0: b"a", 8: "é".encode("utf-16-be"), 4: b"\xff"}[data_coding]
    octets = PER_PART[data_coding] * parts
    return EMPTY_TLVS.with_(Tag.MESSAGE_PAYLOAD, unit * (octets // len(unit)))


@pytest.mark.parametrize("data_coding", [0, 8, 4])
async def test_a_message_needing_more_than_255_parts_is_refused_at_submit(
    engine: Engine, data_coding: int
) -> None:
    # It could never be delivered (a concatenated message has at most 255 parts): refused
    # now with ESME_RINVMSGLEN rather than accepted and failed at every attempt.
    fits = _payload(data_coding, 255)
    too_long = fits.with_(Tag.MESSAGE_PAYLOAD, fits.get(Tag.MESSAGE_PAYLOAD) + b"ab")  # type: ignore[operator]
    answer = await engine.submit(short_message=b"", data_coding=data_coding, tlvs=too_long)
    assert answer == (None, S.ESME_RINVMSGLEN)
    await engine.submit_ok(short_message=b"", data_coding=data_coding, tlvs=fits)
    pdu = DataSm(source_addr="1", destination_addr="316", data_coding=data_coding, tlvs=too_long)
    assert (await engine.data_sm(pdu))[:2] == (None, S.ESME_RINVMSGLEN)


async def test_the_maximum_number_of_parts_is_configurable(engine_factory: EngineFactory) -> None:
    engine = await engine_factory(max_parts=3)
    await engine.submit_ok(short_message=b"", tlvs=_payload(0, 3))
    answer = await engine.submit(short_message=b"", tlvs=_payload(0, 4))
    assert answer == (None, S.ESME_RINVMSGLEN)


async def test_a_full_disk_answers_queue_full_and_logs_once_per_interval(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    # Issue 10 item 29: ESME_RMSGQFUL (the store is full: come back later), not ESME_RSYSERR,
    # and not a log line per commit: one per minute with the count it held back.
    def full(conn: sqlite3.Connection) -> None:
        conn.execute(f"PRAGMA max_page_count = {conn.execute('PRAGMA page_count').fetchone()[0]}")

    await engine.store._write(full)
    with caplog.at_level("ERROR", logger="opensmsc.engine"):
        for _ in range(100):  # the pages the file has fill up first
            if await engine.submit(short_message=b"x" * 150) == (None, S.ESME_RMSGQFUL):
                break
        for _ in range(30):
            answers = await asyncio.gather(
                *(engine.submit(short_message=b"x" * 150) for _ in range(10))
            )
            assert set(answers) == {(None, S.ESME_RMSGQFUL)}
        first = [r.getMessage() for r in caplog.records if r.name.startswith("opensmsc.engine")]
        assert len(first) == 1 and "disk is full" in first[0], first
        engine.clock.advance(minutes=1)
        await engine.submit(short_message=b"x" * 150)
        lines = [r.getMessage() for r in caplog.records if r.name.startswith("opensmsc.engine")]
    assert len(lines) == 2 and "(300 more messages not stored since the last" in lines[1], lines
    assert engine.acceptor.pending == 0
