"""The SQL of every store operation, run by the writer inside its transaction (or by a reader).

What a state change writes comes from `model.effect`, the one statement of those rules: a
Change becomes one narrow UPDATE (only the columns it changes, no read-back, parameters bound
without NULLs; see rows.py), and `transition` also returns `model.apply_change` of the record
it read. `apply_changes` runs many changes as set statements: one SELECT of their states, one
executemany of their receipts' INSERTs, one of their UPDATEs; each change is checked before
anything of it is written, so a refused one writes nothing.

The `op_*` functions are called in the caller's thread: they build rows and parameters there
and return what the writer runs, so the writer thread only executes SQL.

What it is not: the transaction and batching (writer.py) or the async facade (store.py).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Final

import orjson

from opensmsc.smpp import MessageState
from opensmsc.store.answers import SavedAnswer
from opensmsc.store.api import MessageQuery
from opensmsc.store.model import (
    ATTEMPT,
    EPOCH,
    ERROR,
    FINISH,
    INITIAL_STATES,
    OPEN_STATES,
    RECEIPT,
    REPLACEABLE_STATES,
    RESCHEDULE,
    ROUTE,
    TRANSITIONS,
    UPSTREAM,
    Change,
    Direction,
    DuplicateMessage,
    IllegalTransition,
    MessageNotFound,
    Replacement,
    StoredMessage,
    StoreError,
    apply_change,
    check_transition,
    effect,
    from_us,
    to_us,
)
from opensmsc.store.sqlite.answers import insert_answer
from opensmsc.store.sqlite.rows import (
    OPEN,
    SELECT,
    STATE_COLUMN,
    Shaped,
    execute_shaped,
    insert_row,
    insert_sql,
    record,
)
from opensmsc.store.trail import TrailEvent

__all__ = [
    "PURGE_CHUNK",
    "Prepared",
    "Transition",
    "apply_changes",
    "apply_one_by_one",
    "due_rows",
    "find_rows",
    "insert",
    "insert_trail",
    "load",
    "op_claim",
    "op_map_upstream",
    "op_purge_chunk",
    "op_replace",
    "op_submit",
    "op_trail",
    "prepare_change",
    "read_trail",
    "save",
    "trail_texts",
    "update_sql",
]


_TrailRow = tuple[str, str]  # message_id, its events of one change (trail_texts)


def load(conn: sqlite3.Connection, message_id: str) -> StoredMessage:
    """The stored record; raises MessageNotFound."""
    row = conn.execute(f"{SELECT} WHERE message_id = ?", (message_id,)).fetchone()
    if row is None:
        raise MessageNotFound(message_id)
    return record(row)


# ---- state changes: model.effect as UPDATE statements --------------------------------------------

_TIMED: Final = FINISH | RESCHEDULE  # the bits whose value is a time (the first value)
# The assignments of the value bits, in the order effect() gives their values.
_ASSIGNMENTS: Final = (
    (ERROR, "last_error = ?"),
    (ATTEMPT, "attempts = attempts + 1"),
    (ROUTE, "route = ?"),
    (UPSTREAM, "upstream_message_id = ?"),
    (RECEIPT, "receipt_id = ?"),
)
# Not a model.effect bit: the change carries events of its own message, appended to its row.
_TRAIL: Final = 1 << 16
_APPEND_TRAIL: Final = "trail = coalesce(trail || ',', '') || ?"
_update_sql_cache: dict[int, str] = {}


def update_sql(bits: int) -> str:
    """The UPDATE of a change with these `effect` bits (and _TRAIL); parameters: state, the
    values, its events (trail_text), then message_id."""
    sql = _update_sql_cache.get(bits)
    if sql is None:
        sets = ["state = ?"]
        if bits & FINISH:
            sets.append("done_at = ?, next_attempt_at = NULL")
        elif bits & RESCHEDULE:
            sets.append("next_attempt_at = ?")  # an open state keeps it otherwise
        sets.extend(assignment for bit, assignment in _ASSIGNMENTS if bits & bit)
        if bits & _TRAIL:
            sets.append(_APPEND_TRAIL)
        sql = f"UPDATE message SET {', '.join(sets)} WHERE message_id = ?"
        _update_sql_cache[bits] = sql
    return sql


def _update_row(c: Change, trail: str | None) -> Shaped:
    bits, values = effect(c)
    if trail is not None:
        bits |= _TRAIL
        values = (*values, trail)
    if bits & _TIMED:
        return bits, (int(c.new_state), to_us(values[0]), *values[1:], c.message_id)
    return bits, (int(c.new_state), *values, c.message_id)


@dataclass(frozen=True, slots=True)
class Prepared:
    """A Change made ready in the caller's thread: its UPDATE (with the events of its own
    message), its receipt's row, the trail rows of other messages' events."""

    message_id: str
    new_state: MessageState
    update: Shaped
    receipt_row: Shaped | None
    refused: StoreError | None  # refused before reaching the database (a receipt not initial)
    trail: tuple[_TrailRow, ...] = ()


def prepare_change(c: Change) -> Prepared:
    receipt = c.receipt
    refused: StoreError | None = None
    row = None
    if receipt is not None:
        if receipt.state not in INITIAL_STATES:
            refused = IllegalTransition(receipt.message_id, receipt.state, receipt.state)
        row = insert_row(receipt)
    own: str | None = None
    others: tuple[_TrailRow, ...] = ()
    if c.trail:
        own = _own_text(c.trail, c.message_id)
        if own is None:  # events of other messages too (a receipt's, of the one it reports)
            texts = trail_texts(c.trail)
            own = texts.pop(c.message_id, None)
            others = tuple(texts.items())
    return Prepared(c.message_id, c.new_state, _update_row(c, own), row, refused, others)


class Transition:
    """Store.transition: read, check and change one message; returns the record written."""

    __slots__ = ("_change", "_prepared")

    def __init__(self, change: Change) -> None:
        self._change = change
        self._prepared = prepare_change(change)

    def __call__(self, conn: sqlite3.Connection) -> StoredMessage:
        new = apply_change(load(conn, self._change.message_id), self._change)
        prepared = self._prepared
        if prepared.refused is not None:
            raise prepared.refused
        if prepared.receipt_row is not None:
            insert_rows(conn, (prepared.receipt_row,))
        bits, params = prepared.update
        conn.execute(update_sql(bits), params)
        if prepared.trail:
            insert_trail(conn, prepared.trail)
        return new


# model.TRANSITIONS with plain int keys and values: the states come back from SQL as ints.
_ALLOWED: Final = {int(old): frozenset(map(int, new)) for old, new in TRANSITIONS.items()}

# The states of a batch's messages in one statement and one result row (a row per message would
# cost the writer a step, and a GIL hand-over, each).
_APPLY_STATES: Final = (
    "SELECT json_group_object(message_id, state) FROM message"
    " WHERE message_id IN (SELECT value FROM json_each(?))"
)


def apply_changes(conn: sqlite3.Connection, changes: Sequence[Prepared]) -> list[StoreError | None]:
    """Check every change against the states (as the earlier changes leave them), then insert
    the receipts in one executemany and update in another. A receipt id already stored raises
    IntegrityError (the caller then goes change by change)."""
    ids = list(dict.fromkeys(c.message_id for c in changes))
    found = conn.execute(_APPLY_STATES, (json.dumps(ids),)).fetchone()
    states: dict[str, int] = json.loads(found[0]) if found and found[0] else {}
    outcomes: list[StoreError | None] = []
    updates: list[Shaped] = []
    receipts: list[Shaped] = []
    trail: list[_TrailRow] = []
    allowed = _ALLOWED
    for c in changes:
        if c.refused is not None:
            outcomes.append(c.refused)
            continue
        message_id = c.message_id
        old = states.get(message_id)
        if old is None:
            outcomes.append(MessageNotFound(message_id))
            continue
        new_state = c.new_state
        if new_state not in allowed[old]:
            outcomes.append(IllegalTransition(message_id, MessageState(old), new_state))
            continue
        states[message_id] = new_state
        row = c.receipt_row
        if row is not None:
            receipts.append(row)
            params = row[1]
            states[params[0]] = params[STATE_COLUMN]
        updates.append(c.update)
        if c.trail:
            trail.extend(c.trail)
        outcomes.append(None)
    if receipts:
        execute_shaped(conn, insert_sql, receipts)
    if updates:
        execute_shaped(conn, update_sql, updates)
    if trail:
        insert_trail(conn, trail)
    return outcomes


def apply_one_by_one(
    conn: sqlite3.Connection, changes: Sequence[Prepared]
) -> list[StoreError | None]:
    """`apply_changes` for the rare case (a receipt id already stored): each change in its own
    savepoint, the duplicate reported in its slot."""
    outcomes: list[StoreError | None] = []
    for c in changes:
        conn.execute("SAVEPOINT one")
        try:
            outcomes.extend(apply_changes(conn, (c,)))
        except sqlite3.IntegrityError:
            conn.execute("ROLLBACK TO one")
            assert c.receipt_row is not None
            outcomes.append(DuplicateMessage(c.receipt_row[1][0]))
        conn.execute("RELEASE one")
    return outcomes


# ---- new messages --------------------------------------------------------------------------------


def _check_initial(records: Sequence[StoredMessage]) -> None:
    for r in records:
        if r.state not in INITIAL_STATES:
            raise IllegalTransition(r.message_id, r.state, r.state)


def insert(conn: sqlite3.Connection, records: Sequence[StoredMessage]) -> None:
    """Insert new records (INITIAL_STATES only); raises IllegalTransition, DuplicateMessage."""
    _check_initial(records)
    insert_rows(conn, [insert_row(r) for r in records])


def insert_rows(conn: sqlite3.Connection, rows: Sequence[Shaped]) -> None:
    """Insert rows as `insert_row` builds them; raises DuplicateMessage (nothing inserted)."""
    conn.execute("SAVEPOINT insert_rows")
    try:
        execute_shaped(conn, insert_sql, rows)
    except sqlite3.IntegrityError as exc:
        # Undo the rows this call did insert, then find the first id that was already there
        # (message_id is the only unique column).
        conn.execute("ROLLBACK TO insert_rows")
        conn.execute("RELEASE insert_rows")
        ids = [params[0] for _, params in rows]
        for message_id in ids:
            if conn.execute("SELECT 1 FROM message WHERE message_id = ?", (message_id,)).fetchone():
                raise DuplicateMessage(message_id) from exc
        dup = next((i for i in ids if ids.count(i) > 1), ids[0])
        raise DuplicateMessage(dup) from exc
    conn.execute("RELEASE insert_rows")


def op_submit(
    records: Sequence[StoredMessage],
    superseding: Sequence[str],
    answer: SavedAnswer | None = None,
    trail: Sequence[TrailEvent] = (),
    superseded_trail: Sequence[TrailEvent] = (),
) -> Callable[[sqlite3.Connection], None]:
    _check_initial(records)
    texts = trail_texts(trail) if trail else {}
    # A new message's events go on its own row; any others (none from the engine) on the table.
    rows = [insert_row(r, texts.pop(r.message_id, None)) for r in records]
    events = tuple(texts.items())
    ended = tuple(superseded_trail)

    def run(conn: sqlite3.Connection) -> None:
        if answer is not None:  # first: a key used already costs no message inserts
            insert_answer(conn, answer)
        if superseding:
            at = records[0].submitted_at
            for message_id in superseding:
                mine = tuple(e for e in ended if e.message_id == message_id)
                Transition(Change(message_id, MessageState.DELETED, at, trail=mine))(conn)
        insert_rows(conn, rows)
        if events:
            insert_trail(conn, events)

    return run


# ---- the trail (store/trail.py) ------------------------------------------------------------------

_INSERT_TRAIL: Final = "INSERT INTO trail (message_id, events) VALUES (?, ?)"


def _json_default(value: object) -> object:
    # A read-only mapping (TrailEvent's empty detail) as the object it is; anything else that
    # JSON has no word for, as its text.
    if isinstance(value, Mapping):
        return dict(value)
    return str(value)


_PLAIN_JSON: Final = json.JSONEncoder(
    separators=(",", ":"), ensure_ascii=False, default=_json_default
)
_ORJSON_OPTIONS: Final = orjson.OPT_NON_STR_KEYS


def _trail_json(value: Any) -> str:
    # orjson: a change's events in a seventh of the standard encoder's time (measured: 0.4 µs
    # against 3 for an attempt, a final state and a receipt), the same text. What orjson
    # refuses (an integer past 64 bits) the standard encoder writes.
    try:
        return orjson.dumps(value, default=_json_default, option=_ORJSON_OPTIONS).decode()
    except orjson.JSONEncodeError:
        return _PLAIN_JSON.encode(value)


_TRAIL_JSON: Final = _trail_json


def trail_texts(events: Sequence[TrailEvent]) -> dict[str, str]:
    """The events by the message they are about (in the order each first appears), each
    message's as the items of a JSON array without its brackets: what message.trail holds,
    items appended after a comma. An item is `[at (µs since the epoch), kind, {detail}]`, or
    `[kind, {detail}]` at the time of the item before it (a change's events mostly share
    theirs: fewer octets stored). Built in the caller's thread."""
    by_message: dict[str, list[tuple[Any, ...]]] = {}
    last: dict[str, datetime] = {}
    for message_id, at, kind, detail in events:
        items = by_message.get(message_id)
        if items is None:
            by_message[message_id] = [(to_us(at), kind, detail)]
        elif last[message_id] == at:
            items.append((kind, detail))
        else:
            items.append((to_us(at), kind, detail))
        last[message_id] = at
    encode = _TRAIL_JSON
    return {message_id: encode(items)[1:-1] for message_id, items in by_message.items()}


def _own_text(events: Sequence[TrailEvent], message_id: str) -> str | None:
    """`trail_texts(events)[message_id]` when every event is of `message_id` (a change's
    usual trail), without its dictionaries; else None."""
    items: list[tuple[Any, ...]] = []
    last = None
    for event_of, at, kind, detail in events:
        if event_of != message_id:
            return None
        if at == last:
            items.append((kind, detail))
        else:
            items.append((to_us(at), kind, detail))
            last = at
    return _TRAIL_JSON(items)[1:-1]


def insert_trail(conn: sqlite3.Connection, rows: Sequence[_TrailRow]) -> None:
    """Events of messages whose rows the change does not write (schema.py, migration 12),
    as trail table rows (events: a JSON array)."""
    conn.executemany(_INSERT_TRAIL, [(m, f"[{items}]") for m, items in rows])


def op_trail(events: Sequence[TrailEvent]) -> Callable[[sqlite3.Connection], None]:
    """Store.add_trail: events that no state change carries."""
    rows = tuple(trail_texts(events).items())

    def run(conn: sqlite3.Connection) -> None:
        insert_trail(conn, rows)

    return run


def read_trail(conn: sqlite3.Connection, message_id: str) -> list[TrailEvent]:
    """Store.trail: the events of a message, those on its own row then those of the trail
    table in the order they were written, and the taking of each receipt made for it (its
    "receipt" events) read from the receipt's own record: one DELIVERED was taken by its
    client at its done_at (a deliver_sm_resp, or a webhook's 2xx when it has a callback_url),
    which no write on that hot path repeats in the trail. Sorted by time, stably (at equal
    times the row's own events first: the table's are written by later changes)."""
    own = conn.execute("SELECT trail FROM message WHERE message_id = ?", (message_id,)).fetchone()
    items: list[Any] = json.loads(f"[{own[0]}]") if own and own[0] else []
    for (row,) in conn.execute(
        "SELECT events FROM trail WHERE message_id = ? ORDER BY seq", (message_id,)
    ):
        items.extend(json.loads(row))
    events: list[TrailEvent] = []
    at = EPOCH
    for item in items:
        if len(item) == 3:  # else at the time of the item before (trail_texts)
            at = from_us(item[0])
        events.append(TrailEvent(message_id, at, item[-2], item[-1]))
    receipts = [e.detail["receipt_id"] for e in events if e.kind == "receipt"]
    if not receipts:
        events.sort(key=lambda e: e.at)
        return events
    marks = ", ".join("?" * len(receipts))
    for receipt_id, done_at, callback_url in conn.execute(
        f"SELECT message_id, done_at, callback_url FROM message WHERE message_id IN ({marks})"
        f" AND state = {int(MessageState.DELIVERED)}",
        receipts,
    ):
        by = "deliver_sm_resp" if callback_url is None else "webhook"
        detail = {"receipt_id": receipt_id, "by": by}
        events.append(TrailEvent(message_id, from_us(done_at), "receipt_taken", detail))
    events.sort(key=lambda e: e.at)
    return events


# ---- the due queue -------------------------------------------------------------------------------


def due_rows(
    conn: sqlite3.Connection, now: datetime, limit: int, skip_mo_of: Sequence[str] = ()
) -> list[StoredMessage]:
    """Store.due; without the MO of the accounts in `skip_mo_of` (Store.claim_due)."""
    # One index range scan per priority level, highest first: a single ORDER BY priority_flag
    # DESC, next_attempt_at would walk every not-yet-due message of a higher level first.
    out: list[StoredMessage] = []
    now_us = to_us(now)
    skip = ""
    if skip_mo_of:
        marks = ", ".join("?" * len(skip_mo_of))
        skip = f" AND NOT (direction = {int(Direction.MO)} AND system_id IN ({marks}))"
    for priority in (3, 2, 1, 0):
        if len(out) >= limit:
            break
        rows = conn.execute(
            f"{SELECT} WHERE {OPEN} AND direction <> 3 AND priority_flag = ?"
            f" AND next_attempt_at <= ?{skip} ORDER BY next_attempt_at, seq LIMIT ?",
            (priority, now_us, *skip_mo_of, limit - len(out)),
        ).fetchall()
        out.extend(record(row) for row in rows)
    return out


def op_claim(
    now: datetime, limit: int, lease_until: datetime, skip_mo_of: Sequence[str] = ()
) -> Callable[[sqlite3.Connection], list[StoredMessage]]:
    def run(conn: sqlite3.Connection) -> list[StoredMessage]:
        claimed = []
        for r in due_rows(conn, now, limit, skip_mo_of):
            state = MessageState.ENROUTE if r.state is MessageState.SCHEDULED else r.state
            change = Change(r.message_id, state, now, next_attempt_at=lease_until, attempt=True)
            new = apply_change(r, change)
            bits, params = _update_row(change, None)
            conn.execute(update_sql(bits), params)
            claimed.append(new)
        return claimed

    return run


# ---- content changes (replace_sm) ----------------------------------------------------------------

_SAVE: Final = (
    "UPDATE message SET state = ?, attempts = ?, next_attempt_at = ?, last_error = ?,"
    " done_at = ?, route = ?, upstream_message_id = ?, receipt_id = ?, due_at = ?,"
    " expires_at = ?, short_message = ?, tlvs = ?, registered_delivery = ?,"
    " sm_default_msg_id = ?, data_coding = ? WHERE message_id = ?"
)


def save(conn: sqlite3.Connection, r: StoredMessage) -> None:
    """Write every field of `r` that may change after submission."""
    conn.execute(
        _SAVE,
        (
            int(r.state),
            r.attempts,
            None if r.next_attempt_at is None else to_us(r.next_attempt_at),
            r.last_error,
            None if r.done_at is None else to_us(r.done_at),
            r.route,
            r.upstream_message_id,
            r.receipt_id,
            to_us(r.due_at),
            to_us(r.expires_at),
            r.short_message,
            r.tlvs,
            r.registered_delivery,
            r.sm_default_msg_id,
            r.data_coding,
            r.message_id,
        ),
    )


def op_replace(
    message_id: str, rep: Replacement, at: datetime
) -> Callable[[sqlite3.Connection], StoredMessage]:
    def run(conn: sqlite3.Connection) -> StoredMessage:
        old = load(conn, message_id)
        state, next_attempt_at = old.state, old.next_attempt_at
        if rep.due_at is not None:
            state = MessageState.SCHEDULED if rep.due_at > at else MessageState.ENROUTE
            next_attempt_at = rep.due_at
        if old.state not in REPLACEABLE_STATES:
            raise IllegalTransition(message_id, old.state, state)
        check_transition(message_id, old.state, state)
        new = replace(
            old,
            state=state,
            next_attempt_at=next_attempt_at,
            due_at=old.due_at if rep.due_at is None else rep.due_at,
            expires_at=old.expires_at if rep.expires_at is None else rep.expires_at,
            short_message=old.short_message if rep.short_message is None else rep.short_message,
            tlvs=old.tlvs if rep.tlvs is None else rep.tlvs,
            registered_delivery=old.registered_delivery
            if rep.registered_delivery is None
            else rep.registered_delivery,
            sm_default_msg_id=old.sm_default_msg_id
            if rep.sm_default_msg_id is None
            else rep.sm_default_msg_id,
            data_coding=old.data_coding if rep.data_coding is None else rep.data_coding,
        )
        save(conn, new)
        return new

    return run


# ---- the listings: an account's (the HTTP API), every account's (the admin API) ---------------


def _either_form(address: str) -> tuple[str, str]:
    """An international number is stored as its digits (TON 1) or, from an ESME that sends
    TON 0 with a "+", as sent: a search for either finds both."""
    digits = address.removeprefix("+")
    return (digits, "+" + digits) if digits.isdigit() else (address, address)


def find_rows(
    conn: sqlite3.Connection, query: MessageQuery
) -> tuple[list[StoredMessage], int | None]:
    """Store.find: one page past the cursor, in seq order either way. A destination is found
    through message_mt_dest (dest_addr, seq), an account's messages through
    message_account_mt (system_id, seq), anything else by the rowid (seq) itself: each is in
    seq order already, so a page reads its rows and stops. Open states alone (what is stuck)
    go through message_due, the queue's index, sorted here: not a scan of every final
    message there is."""
    terms = ["direction = 1"]
    if query.destination is not None:
        index = " INDEXED BY message_mt_dest"
    elif query.system_id is not None:
        index = " INDEXED BY message_account_mt"
    elif query.states is not None and query.states <= OPEN_STATES:
        index = " INDEXED BY message_due"
        terms = [OPEN, "direction <> 3", *terms]  # its condition, verbatim: SQLite checks
    else:
        index = ""
    newest_first = query.newest_first
    sql = f"SELECT seq, {SELECT.removeprefix('SELECT ')}{index} WHERE {' AND '.join(terms)}"
    args: list[Any] = []
    if query.after is not None or not newest_first:
        sql += " AND seq < ?" if newest_first else " AND seq > ?"
        args.append(query.after or 0)
    if query.system_id is not None:
        sql += " AND system_id = ?"
        args.append(query.system_id)
    if query.destination is not None:
        sql += " AND dest_addr IN (?, ?)"
        args.extend(_either_form(query.destination))
    if query.source is not None:
        sql += " AND source_addr IN (?, ?)"
        args.extend(_either_form(query.source))
    if query.states is not None:
        sql += f" AND state IN ({', '.join('?' * len(query.states))})"
        args.extend(sorted(int(state) for state in query.states))
    if query.since is not None:
        sql += " AND submitted_at >= ?"
        args.append(to_us(query.since))
    if query.until is not None:
        sql += " AND submitted_at < ?"
        args.append(to_us(query.until))
    sql += " ORDER BY seq DESC LIMIT ?" if newest_first else " ORDER BY seq LIMIT ?"
    args.append(query.limit + 1)  # one more: is there a next page?
    rows = conn.execute(sql, args).fetchall()
    page = rows[: query.limit]
    cursor = int(page[-1][0]) if len(rows) > query.limit else None
    return [record(row[1:]) for row in page], cursor


# ---- upstream ids, housekeeping ------------------------------------------------------------------


def op_map_upstream(
    connector: str, upstream_id: str, message_id: str
) -> Callable[[sqlite3.Connection], None]:
    def run(conn: sqlite3.Connection) -> None:
        conn.execute(
            "INSERT OR REPLACE INTO upstream_id (connector, upstream_id, message_id)"
            " VALUES (?, ?, ?)",
            (connector, upstream_id, message_id),
        )

    return run


PURGE_CHUNK: Final = 2000


def op_purge_chunk(older_than: datetime) -> Callable[[sqlite3.Connection], int]:
    def run(conn: sqlite3.Connection) -> int:
        rows = conn.execute(
            "SELECT seq, message_id, receipted_message_id FROM message"
            " WHERE done_at IS NOT NULL AND done_at < ? ORDER BY done_at LIMIT ?",
            (to_us(older_than), PURGE_CHUNK),
        ).fetchall()
        ids = [(m,) for _, m, _ in rows]
        conn.executemany("DELETE FROM upstream_id WHERE message_id = ?", ids)
        # A message's trail goes with it; a receipt purged takes the trail of the message it
        # reported on too, for the events its client wrote after that message was purged.
        reported = {(r,) for _, _, r in rows if r is not None}
        conn.executemany("DELETE FROM trail WHERE message_id = ?", [*ids, *reported])
        conn.executemany("DELETE FROM message WHERE seq = ?", [(s,) for s, _, _ in rows])
        return len(rows)

    return run
