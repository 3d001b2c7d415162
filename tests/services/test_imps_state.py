"""The IMPS service's durable state (imps/state.py) on its own: transactions, the schema
version, and the bounded tables."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from opensmsc.imps import Channel, ImpsState, ImpsStateError


@pytest.fixture
def state(tmp_path: Path) -> Iterator[ImpsState]:
    opened = ImpsState(tmp_path / "imps.sqlite3")
    yield opened
    opened.close()


def test_a_transaction_that_raises_keeps_nothing(state: ImpsState) -> None:
    with pytest.raises(RuntimeError), state.transaction():
        state.put_user("alice", "447700900001", "pw", 1.0)
        state.add_outgoing("447700900001", Channel.PLAIN, "hi", 1.0)
        raise RuntimeError("boom")
    assert state.users() == [] and state.outbox(10) == []


def test_a_savepoint_undoes_only_its_block(state: ImpsState) -> None:
    with state.transaction():
        state.put_user("alice", "447700900001", "pw", 1.0)
        with pytest.raises(RuntimeError), state.savepoint():
            state.put_user("bob", "447700900002", "pw", 1.0)
            raise RuntimeError("refused")
    assert [u.user_id for u in state.users()] == ["alice"]


def test_committed_rows_survive_reopening(tmp_path: Path) -> None:
    path = tmp_path / "imps.sqlite3"
    first = ImpsState(path)
    with first.transaction():
        first.put_user("alice", "447700900001", "pw", 1.0)
        first.add_outgoing("447700900001", Channel.DATA, "WV12ST1 ST=200", 1.0)
        assert first.mark_processed("mo1", 1.0)
    first.close()
    second = ImpsState(path)
    try:
        assert second.password("alice") == "pw"
        [row] = second.outbox(10)
        assert (row.channel, row.body) == (Channel.DATA, "WV12ST1 ST=200")
        assert not second.mark_processed("mo1", 2.0)
    finally:
        second.close()


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "imps.sqlite3"
    db = sqlite3.connect(path)
    db.execute("PRAGMA user_version = 99")
    db.close()
    with pytest.raises(ImpsStateError, match="newer"):
        ImpsState(path)


def test_processed_ids_and_queued_primitives_are_bounded(state: ImpsState) -> None:
    with state.transaction():
        state.mark_processed("old", 1.0)
        state.mark_processed("new", 100.0)
        assert state.forget_processed(50.0) == 1
        for n in range(5):
            state.queue("alice", "PN", [("PR", ("bob", str(n)))], 1.0)
        state.trim_queued("alice", 2)
    assert state.mark_processed("old", 200.0) and not state.mark_processed("new", 200.0)
    assert [q.params for q in state.take_queued("alice")] == [
        (("PR", ("bob", "3")),),
        (("PR", ("bob", "4")),),
    ]


def test_dropping_a_group_keeps_other_transactions_segments(state: ImpsState) -> None:
    state.add_segment("447700900001", "WV12SM5ab SI=x UI=bob", 1.0)
    state.add_segment("447700900001", "WV12SM55ab SI=x UI=bob", 1.0)  # transaction 55
    state.add_segment("447700900002", "WV12SM5ab SI=y UI=bob", 1.0)  # another sender
    state.drop_segments("447700900001", "WV12SM5")
    assert [(s, t) for s, t, _ in state.segments()] == [
        ("447700900001", "WV12SM55ab SI=x UI=bob"),
        ("447700900002", "WV12SM5ab SI=y UI=bob"),
    ]
