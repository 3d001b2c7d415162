"""Rows ↔ records: the `message` table's columns, a StoredMessage as INSERT parameters, and a
SELECTed row as a StoredMessage.

Inserts and updates bind only what is not NULL: the sqlite3 module binds int and str at once
but sends None and bytes through its adapter lookup, several times the cost; so each row
carries a shape (which optional columns it has) and rows run as executemany per shape, and
BLOBs go in as bytearray (bound the same way, without the lookup).

What it is not: the statements that change rows (statements.py).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Final

from opensmsc.smpp import MessageState
from opensmsc.store.model import Address, ConcatInfo, Direction, StoredMessage, from_us, to_us

__all__ = [
    "OPEN",
    "SELECT",
    "STATE_COLUMN",
    "Shaped",
    "execute_shaped",
    "insert_row",
    "insert_sql",
    "record",
]

_COLUMNS: Final = (
    "message_id, system_id, direction, source_ton, source_npi, source_addr, dest_ton, dest_npi,"
    " dest_addr, service_type, esm_class, protocol_id, priority_flag, registered_delivery,"
    " data_coding, sm_default_msg_id, short_message, tlvs, concat_group, concat_ref,"
    " concat_total, concat_seq, submitted_at, due_at, expires_at, state, attempts,"
    " next_attempt_at, last_error, done_at, route, upstream_message_id, receipt_id,"
    " receipted_message_id, client_reference, callback_url, callback_style, trace_id"
)
SELECT: Final = f"SELECT {_COLUMNS} FROM message"
OPEN: Final = "(state = 0 OR state = 1 OR state = 7)"  # the partial indexes' condition, verbatim
STATE_COLUMN: Final = 21  # in `insert_row`'s parameters

_REQUIRED_COLUMNS: Final = (
    "message_id, system_id, direction, source_ton, source_npi, source_addr, dest_ton, dest_npi,"
    " dest_addr, service_type, esm_class, protocol_id, priority_flag, registered_delivery,"
    " data_coding, sm_default_msg_id, short_message, tlvs, submitted_at, due_at, expires_at,"
    " state, attempts"
)
_OPTIONAL_COLUMNS: Final = (
    "concat_group, concat_ref, concat_total, concat_seq",
    "next_attempt_at",
    "last_error",
    "done_at",
    "route",
    "upstream_message_id",
    "receipt_id",
    "receipted_message_id",
    "client_reference",
    "callback_url",
    "callback_style",
    "trace_id",
)
_insert_sql_cache: dict[int, str] = {}

Shaped = tuple[int, tuple[Any, ...]]
"""(shape, parameters) of one statement: the shape says which optional values it binds."""


def insert_sql(shape: int) -> str:
    """The INSERT for rows of `shape` (bit i: the i-th optional column group is bound)."""
    sql = _insert_sql_cache.get(shape)
    if sql is None:
        columns = _REQUIRED_COLUMNS + "".join(
            ", " + c for bit, c in enumerate(_OPTIONAL_COLUMNS) if shape >> bit & 1
        )
        marks = ", ".join("?" * (columns.count(",") + 1))
        sql = f"INSERT INTO message ({columns}) VALUES ({marks})"
        _insert_sql_cache[shape] = sql
    return sql


def insert_row(r: StoredMessage) -> Shaped:
    """`r` as INSERT parameters (message_id first, state at STATE_COLUMN) and their shape."""
    src, dst = r.source, r.destination
    values: list[Any] = [
        r.message_id,
        r.system_id,
        int(r.direction),
        src.ton,
        src.npi,
        src.addr,
        dst.ton,
        dst.npi,
        dst.addr,
        r.service_type,
        r.esm_class,
        r.protocol_id,
        r.priority_flag,
        r.registered_delivery,
        r.data_coding,
        r.sm_default_msg_id,
        bytearray(r.short_message),
        bytearray(r.tlvs),
        to_us(r.submitted_at),
        to_us(r.due_at),
        to_us(r.expires_at),
        int(r.state),
        r.attempts,
    ]
    shape = 0
    c = r.concat
    if c is not None:
        shape |= 1
        values += (c.group_id, c.reference, c.total, c.seq)
    if r.next_attempt_at is not None:
        shape |= 2
        values.append(to_us(r.next_attempt_at))
    for bit, value in (
        (4, r.last_error),
        (8, None if r.done_at is None else to_us(r.done_at)),
        (16, r.route),
        (32, r.upstream_message_id),
        (64, r.receipt_id),
        (128, r.receipted_message_id),
        (256, r.client_reference),
        (512, r.callback_url),
        (1024, r.callback_style),
        (2048, r.trace_id),
    ):
        if value is not None:
            shape |= bit
            values.append(value)
    return shape, tuple(values)


def execute_shaped(
    conn: sqlite3.Connection, sql_for: Callable[[int], str], rows: Sequence[Shaped]
) -> None:
    """executemany per run of rows of one shape, in order."""
    start, n = 0, len(rows)
    while start < n:
        shape = rows[start][0]
        end = start + 1
        while end < n and rows[end][0] == shape:
            end += 1
        conn.executemany(sql_for(shape), [params for _, params in rows[start:end]])
        start = end


def _opt_dt(value: int | None) -> datetime | None:
    return None if value is None else from_us(value)


def record(row: Sequence[Any]) -> StoredMessage:
    """The record of a row SELECTed with SELECT."""
    (
        message_id, system_id, direction, s_ton, s_npi, s_addr, d_ton, d_npi, d_addr,
        service_type, esm_class, protocol_id, priority_flag, registered_delivery, data_coding,
        sm_default_msg_id, short_message, tlvs, c_group, c_ref, c_total, c_seq, submitted_at,
        due_at, expires_at, state, attempts, next_attempt_at, last_error, done_at, route,
        upstream_message_id, receipt_id, receipted_message_id, client_reference, callback_url,
        callback_style, trace_id,
    ) = row  # fmt: skip
    return StoredMessage(
        message_id=message_id,
        system_id=system_id,
        direction=Direction(direction),
        source=Address(s_ton, s_npi, s_addr),
        destination=Address(d_ton, d_npi, d_addr),
        service_type=service_type,
        esm_class=esm_class,
        protocol_id=protocol_id,
        priority_flag=priority_flag,
        registered_delivery=registered_delivery,
        data_coding=data_coding,
        sm_default_msg_id=sm_default_msg_id,
        short_message=bytes(short_message),
        tlvs=bytes(tlvs),
        concat=None
        if c_group is None
        else ConcatInfo(group_id=c_group, reference=c_ref, total=c_total, seq=c_seq),
        submitted_at=from_us(submitted_at),
        due_at=from_us(due_at),
        expires_at=from_us(expires_at),
        state=MessageState(state),
        attempts=attempts,
        next_attempt_at=_opt_dt(next_attempt_at),
        last_error=last_error,
        done_at=_opt_dt(done_at),
        route=route,
        upstream_message_id=upstream_message_id,
        receipt_id=receipt_id,
        receipted_message_id=receipted_message_id,
        client_reference=client_reference,
        callback_url=callback_url,
        callback_style=callback_style,
        trace_id=trace_id,
    )
