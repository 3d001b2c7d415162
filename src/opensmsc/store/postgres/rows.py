"""Rows ↔ records for PostgreSQL: the `message` columns, a batch of records as one binary COPY,
and a row read back as a StoredMessage.

A batch's rows go in as one COPY, so a thousand messages cost one statement and one round trip,
not a thousand; binary COPY rather than an INSERT from one array per column, because asyncpg
checks every element of an array parameter for nesting (through the abc machinery: a tenth of
the node's CPU per message, measured) and encodes a COPY's rows field by field. The columns
and their order are the SQLite store's (the record mapping, `sqlite.rows.record`, is shared: a
row means the same in both).

What it is not: the statements that change rows (statements.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

import asyncpg

from opensmsc.store.model import StoredMessage, to_us
from opensmsc.store.sqlite.rows import record as _record

__all__ = ["COLUMNS_READ", "SELECT", "insert", "record", "row"]

# (column, its type) in the order `row` gives the values; every column but seq and
# claimed_by. The first 38 are what SELECT reads (the SQLite store's order), trail last.
_COLUMNS: Final = (
    ("message_id", "text"),
    ("system_id", "text"),
    ("direction", "int2"),
    ("source_ton", "int2"),
    ("source_npi", "int2"),
    ("source_addr", "text"),
    ("dest_ton", "int2"),
    ("dest_npi", "int2"),
    ("dest_addr", "text"),
    ("service_type", "text"),
    ("esm_class", "int2"),
    ("protocol_id", "int2"),
    ("priority_flag", "int2"),
    ("registered_delivery", "int2"),
    ("data_coding", "int2"),
    ("sm_default_msg_id", "int2"),
    ("short_message", "bytea"),
    ("tlvs", "bytea"),
    ("concat_group", "text"),
    ("concat_ref", "int4"),
    ("concat_total", "int2"),
    ("concat_seq", "int2"),
    ("submitted_at", "int8"),
    ("due_at", "int8"),
    ("expires_at", "int8"),
    ("state", "int2"),
    ("attempts", "int4"),
    ("next_attempt_at", "int8"),
    ("last_error", "int8"),
    ("done_at", "int8"),
    ("route", "text"),
    ("upstream_message_id", "text"),
    ("receipt_id", "text"),
    ("receipted_message_id", "text"),
    ("client_reference", "text"),
    ("callback_url", "text"),
    ("callback_style", "text"),
    ("trace_id", "text"),
    ("trail", "text"),
)
STATE_COLUMN: Final = 25
COLUMNS_READ: Final = ", ".join(name for name, _ in _COLUMNS[:-1])
SELECT: Final = f"SELECT {COLUMNS_READ} FROM message"
_NAMES: Final = tuple(name for name, _ in _COLUMNS)

Row = tuple[Any, ...]


def row(r: StoredMessage, trail: str | None = None) -> Row:
    """`r` as INSERT values in the column order; `trail` its first events."""
    src, dst, c = r.source, r.destination, r.concat
    return (
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
        r.short_message,
        r.tlvs,
        None if c is None else c.group_id,
        None if c is None else c.reference,
        None if c is None else c.total,
        None if c is None else c.seq,
        to_us(r.submitted_at),
        to_us(r.due_at),
        to_us(r.expires_at),
        int(r.state),
        r.attempts,
        None if r.next_attempt_at is None else to_us(r.next_attempt_at),
        r.last_error,
        None if r.done_at is None else to_us(r.done_at),
        r.route,
        r.upstream_message_id,
        r.receipt_id,
        r.receipted_message_id,
        r.client_reference,
        r.callback_url,
        r.callback_style,
        r.trace_id,
        trail,
    )


async def insert(conn: asyncpg.Connection, rows: Sequence[Row]) -> None:
    """Insert `rows` (as `row` makes them) in one COPY; raises UniqueViolationError (none
    inserted) for a message_id stored already or given twice."""
    await conn.copy_records_to_table("message", records=rows, columns=_NAMES)


def record(found: Any) -> StoredMessage:
    """The record of a row read with SELECT (an asyncpg Record, or its values)."""
    return _record(tuple(found))
