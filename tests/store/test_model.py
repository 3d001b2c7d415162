"""The record and the lifecycle table; and records surviving a store round trip unchanged."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from opensmsc.smpp import MessageState, SubmitSm, Tag, Tlvs
from opensmsc.store import (
    FINAL_STATES,
    INITIAL_STATES,
    OPEN_STATES,
    TRANSITIONS,
    Address,
    ConcatInfo,
    Direction,
    IllegalTransition,
    SqliteStore,
    StoredMessage,
    check_transition,
)
from opensmsc.store.sqlite.statements import insert, save
from tests.core.strategies import tlv_lists
from tests.store.conftest import T0, record

S = MessageState


def test_every_state_is_open_or_final() -> None:
    assert set(S) == OPEN_STATES | FINAL_STATES
    assert not OPEN_STATES & FINAL_STATES
    assert set(TRANSITIONS) == set(S)
    assert INITIAL_STATES <= OPEN_STATES


@pytest.mark.parametrize("old", sorted(FINAL_STATES))
@pytest.mark.parametrize("new", list(S))
def test_nothing_leaves_a_final_state(old: MessageState, new: MessageState) -> None:
    with pytest.raises(IllegalTransition):
        check_transition("m1", old, new)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (S.SCHEDULED, S.ENROUTE),
        (S.SCHEDULED, S.DELETED),
        (S.SCHEDULED, S.EXPIRED),
        (S.ENROUTE, S.ENROUTE),
        (S.ENROUTE, S.DELIVERED),
        (S.ENROUTE, S.UNDELIVERABLE),
        (S.ENROUTE, S.REJECTED),
        (S.ENROUTE, S.ACCEPTED),
        (S.ENROUTE, S.UNKNOWN),
        (S.ENROUTE, S.SCHEDULED),
        (S.UNKNOWN, S.DELIVERED),
        (S.UNKNOWN, S.EXPIRED),
    ],
)
def test_lifecycle_allows(old: MessageState, new: MessageState) -> None:
    check_transition("m1", old, new)


@pytest.mark.parametrize(
    ("old", "new"),
    [(S.SCHEDULED, S.ACCEPTED), (S.SCHEDULED, S.UNKNOWN), (S.UNKNOWN, S.SCHEDULED)],
)
def test_lifecycle_refuses(old: MessageState, new: MessageState) -> None:
    with pytest.raises(IllegalTransition, match=f"{old.name} cannot become {new.name}"):
        check_transition("m1", old, new)


def test_every_open_state_can_end() -> None:
    for state in OPEN_STATES:
        assert {S.EXPIRED, S.DELETED, S.DELIVERED} <= TRANSITIONS[state]


def test_record_refuses_naive_times_and_inconsistent_states() -> None:
    with pytest.raises(ValueError, match="aware"):
        record("m1", submitted_at=datetime(2025, 1, 1))
    with pytest.raises(ValueError, match="needs done_at"):
        record("m1", state=S.DELIVERED)
    with pytest.raises(ValueError, match="done_at is set"):
        record("m1", done_at=T0)
    with pytest.raises(ValueError, match="priority_flag"):
        record("m1", priority_flag=4)


def test_open_record_is_due_at_its_schedule_by_default() -> None:
    assert record("m1", due_at=T0 + timedelta(hours=1)).next_attempt_at == T0 + timedelta(hours=1)


def test_short_message_is_not_in_repr() -> None:
    assert "secret" not in repr(record("m1", short_message=b"secret code 1234"))


def test_from_pdu_and_back_keeps_the_fields() -> None:
    pdu = SubmitSm(
        service_type="VMN",
        source_addr_ton=5,
        source_addr="Bank",
        dest_addr_ton=1,
        dest_addr_npi=1,
        destination_addr="447700900001",
        esm_class=0x40,
        protocol_id=0x41,
        priority_flag=2,
        registered_delivery=1,
        data_coding=8,
        short_message=b"\x05\x00\x03\x01\x02\x01\x00h",
    )
    r = StoredMessage.from_pdu(
        pdu,
        message_id="m1",
        system_id="esme1",
        direction=Direction.MT,
        submitted_at=T0,
        due_at=T0,
        expires_at=T0 + timedelta(days=1),
    )
    assert r.state is S.ENROUTE
    assert r.to_submit_sm() == pdu


def test_a_message_is_made_from_plain_fields_without_smpp() -> None:
    # The HTTP API and IMPS store messages through `create`, never through a PDU.
    r = StoredMessage.create(
        message_id="m1",
        system_id="web",
        direction=Direction.MT,
        source=Address(5, 0, "Shop"),
        destination=Address(1, 1, "447700900001"),
        data_coding=8,
        payload="é".encode("utf-16-be") * 10,
        submitted_at=T0,
        expires_at=T0 + timedelta(days=1),
        priority_flag=1,
        registered_delivery=1,
        tlvs=Tlvs().with_(Tag.USER_MESSAGE_REFERENCE, 7),
    )
    assert (r.state, r.due_at, r.next_attempt_at) == (S.ENROUTE, T0, T0)
    assert r.short_message == "é".encode("utf-16-be") * 10 and r.data_coding == 8
    assert r.tlv_values.get(Tag.USER_MESSAGE_REFERENCE) == 7
    scheduled = StoredMessage.create(
        message_id="m2",
        system_id="web",
        direction=Direction.MT,
        source=r.source,
        destination=r.destination,
        submitted_at=T0,
        due_at=T0 + timedelta(hours=1),
        expires_at=T0 + timedelta(days=1),
    )
    assert scheduled.state is S.SCHEDULED and scheduled.next_attempt_at == T0 + timedelta(hours=1)


def test_content_longer_than_short_message_goes_in_message_payload() -> None:
    # SMPP 3.4 §5.3.2.32: beyond what sm_length can count, content travels in message_payload.
    fields: dict[str, Any] = {
        "message_id": "m1",
        "system_id": "web",
        "direction": Direction.MT,
        "source": Address(0, 0, "1"),
        "destination": Address(1, 1, "447700900001"),
        "submitted_at": T0,
        "expires_at": T0 + timedelta(days=1),
    }
    fits = StoredMessage.create(**fields, payload=b"x" * 255)
    assert fits.short_message == b"x" * 255 and not fits.tlvs
    long = StoredMessage.create(**fields, payload=b"x" * 256)
    assert long.short_message == b""
    assert long.to_submit_sm().tlvs.get(Tag.MESSAGE_PAYLOAD) == b"x" * 256


# ---- hypothesis: any record survives storage unchanged -------------------------------------

_u8 = st.integers(0, 255)
_times = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2090, 1, 1), timezones=st.just(UTC)
)
_text = st.text(st.characters(codec="latin-1", exclude_characters="\0"), max_size=21)
_opt_text = st.none() | _text
_addresses = st.builds(Address, _u8, _u8, _text)


@st.composite
def records(draw: st.DrawFn) -> StoredMessage:
    state = draw(st.sampled_from(list(S)))
    total = draw(st.integers(1, 255))
    fields: dict[str, Any] = {
        "message_id": draw(st.text(min_size=1, max_size=64)),
        "system_id": draw(_text),
        "direction": draw(st.sampled_from(list(Direction))),
        "source": draw(_addresses),
        "destination": draw(_addresses),
        "service_type": draw(_text),
        "esm_class": draw(_u8),
        "protocol_id": draw(_u8),
        "priority_flag": draw(st.integers(0, 3)),
        "registered_delivery": draw(_u8),
        "data_coding": draw(_u8),
        "sm_default_msg_id": draw(_u8),
        "short_message": draw(st.binary(max_size=255)),
        "tlvs": StoredMessage.encode_tlvs(draw(tlv_lists)),
        "concat": draw(
            st.none()
            | st.builds(
                ConcatInfo,
                group_id=st.text(min_size=1, max_size=10),
                reference=st.integers(0, 0xFFFF),
                total=st.just(total),
                seq=st.integers(1, total),
            )
        ),
        "submitted_at": draw(_times),
        "due_at": draw(_times),
        "expires_at": draw(_times),
        "state": state,
        "attempts": draw(st.integers(0, 1000)),
        "next_attempt_at": draw(st.none() | _times),
        "last_error": draw(st.none() | st.integers(0, 2**32 - 1)),
        "done_at": None if state in OPEN_STATES else draw(_times),
        "route": draw(_opt_text),
        "upstream_message_id": draw(_opt_text),
        "receipt_id": draw(_opt_text),
        "receipted_message_id": draw(_opt_text),
    }
    if state in OPEN_STATES:
        fields["next_attempt_at"] = draw(_times)
    return StoredMessage(**fields)


def test_records_round_trip_through_the_store(tmp_path: Path) -> None:
    # One store for every example (opening one per example is most of the cost); each example's
    # ids get a fresh prefix. Records in any state are written straight through the writer, so
    # final states and odd times are covered too.
    counter = itertools.count()
    with asyncio.Runner() as runner:
        store = runner.run(SqliteStore.open(tmp_path / "rt.sqlite3"))
        try:

            @settings(max_examples=150, deadline=None)
            @given(st.lists(records(), min_size=1, max_size=4, unique_by=lambda r: r.message_id))
            def round_trip(batch: list[StoredMessage]) -> None:
                prefix = f"{next(counter)}:"
                batch = [dataclasses.replace(r, message_id=prefix + r.message_id) for r in batch]
                runner.run(store._write(lambda conn: _insert_any(conn, batch)))
                for r in batch:
                    assert runner.run(store.get(r.message_id)) == r

            round_trip()
        finally:
            runner.run(store.close())


def _insert_any(conn: sqlite3.Connection, batch: list[StoredMessage]) -> None:
    # Insert each as ENROUTE (an initial state), then write its real state and times.
    for r in batch:
        opened = dataclasses.replace(
            r, state=S.ENROUTE, done_at=None, next_attempt_at=r.next_attempt_at or T0
        )
        insert(conn, (opened,))
        save(conn, r)
