"""The SQL of every store operation on PostgreSQL, run by the writer inside its transaction (or
on a reader's connection).

Set statements wherever a batch has many rows: new messages are one COPY (rows.py);
`apply_changes` reads the states of all its messages in one SELECT (locking them, so that two
nodes never both check a state and both change it), inserts their receipts in one COPY and
makes every change in one UPDATE from arrays (model.effect's assignments as
CASE/COALESCE: a change writes only what it changes). `claim_due` takes due messages with
`FOR UPDATE SKIP LOCKED`: two nodes never claim the same one, and neither waits for the other.

What it is not: the batching (writer.py) or the async facade (store.py).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Final

import asyncpg

from opensmsc.smpp import MessageState
from opensmsc.store.answers import KeyTaken, SavedAnswer
from opensmsc.store.api import MessageQuery, QueueDepths
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
from opensmsc.store.postgres.rows import (
    COLUMNS_READ,
    SELECT,
    STATE_COLUMN,
    Row,
    insert,
    record,
    row,
)
from opensmsc.store.postgres.schema import OPEN
from opensmsc.store.sqlite.statements import trail_texts
from opensmsc.store.trail import TrailEvent

__all__ = [
    "PURGE_CHUNK",
    "Prepared",
    "apply_changes",
    "apply_one_by_one",
    "due_rows",
    "find_rows",
    "insert_rows",
    "op_claim",
    "op_map_upstream",
    "op_probe",
    "op_purge_answers",
    "op_purge_chunk",
    "op_replace",
    "op_submit",
    "op_trail",
    "op_transition",
    "prepare_change",
    "queue_depths",
    "read_answer",
    "read_trail",
]

TrailRow = tuple[str, str]  # message_id, its events of one change (trail_texts)
PURGE_CHUNK: Final = 2000


async def _load(conn: asyncpg.Connection, message_id: str) -> StoredMessage:
    """The record, locked for this transaction; raises MessageNotFound."""
    found = await conn.fetchrow(f"{SELECT} WHERE message_id = $1 FOR UPDATE", message_id)
    if found is None:
        raise MessageNotFound(message_id)
    return record(found)


# ---- new messages --------------------------------------------------------------------------------


def check_initial(records: Sequence[StoredMessage]) -> None:
    for r in records:
        if r.state not in INITIAL_STATES:
            raise IllegalTransition(r.message_id, r.state, r.state)


async def insert_rows(conn: asyncpg.Connection, rows: Sequence[Row]) -> None:
    """Insert rows, all or none; raises DuplicateMessage (the first id already stored, or
    given twice)."""
    try:
        async with conn.transaction():  # a savepoint: a duplicate undoes these rows only
            await insert(conn, rows)
    except asyncpg.UniqueViolationError as exc:
        ids = [r[0] for r in rows]
        taken = {r[0] for r in await conn.fetch(INSERTED_IDS, ids)}
        for message_id in ids:
            if message_id in taken:
                raise DuplicateMessage(message_id) from exc
        raise DuplicateMessage(next((i for i in ids if ids.count(i) > 1), ids[0])) from exc


INSERTED_IDS: Final = "SELECT message_id FROM message WHERE message_id = ANY($1::text[])"


def op_submit(
    records: Sequence[StoredMessage],
    superseding: Sequence[str],
    answer: SavedAnswer | None,
    trail: Sequence[TrailEvent],
    superseded_trail: Sequence[TrailEvent],
) -> Callable[[asyncpg.Connection], Awaitable[None]]:
    """submit_many with an answer, superseded messages or events of other messages."""
    check_initial(records)
    texts = trail_texts(trail) if trail else {}
    rows = [row(r, texts.pop(r.message_id, None)) for r in records]
    events = tuple(texts.items())
    ended = tuple(superseded_trail)

    async def run(conn: asyncpg.Connection) -> None:
        if answer is not None:  # first: a key used already costs no message inserts
            await insert_answer(conn, answer)
        if superseding:
            at = records[0].submitted_at
            for message_id in superseding:
                mine = tuple(e for e in ended if e.message_id == message_id)
                change = Change(message_id, MessageState.DELETED, at, trail=mine)
                await op_transition(change)(conn)
        if rows:
            await insert_rows(conn, rows)
        if events:
            await insert_trail(conn, events)

    return run


# ---- state changes: model.effect as one UPDATE from arrays ---------------------------------------

# One row of arrays per change: state, finish (final: done_at = t, next_attempt_at cleared),
# t (done_at, or the new next_attempt_at; NULL keeps it), error, +attempts, route, upstream id,
# receipt id, events of its own message (appended to message.trail). NULL keeps a column.
UPDATE: Final = """UPDATE message AS m SET
    state = u.state,
    done_at = CASE WHEN u.finish THEN u.t ELSE m.done_at END,
    next_attempt_at = CASE WHEN u.finish THEN NULL ELSE coalesce(u.t, m.next_attempt_at) END,
    last_error = coalesce(u.err, m.last_error),
    attempts = m.attempts + u.inc,
    route = coalesce(u.route, m.route),
    upstream_message_id = coalesce(u.up, m.upstream_message_id),
    receipt_id = coalesce(u.rid, m.receipt_id),
    trail = CASE WHEN u.events IS NULL THEN m.trail
        ELSE coalesce(m.trail || ',', '') || u.events END
FROM unnest($1::text[], $2::int2[], $3::bool[], $4::int8[], $5::int8[], $6::int4[],
    $7::text[], $8::text[], $9::text[], $10::text[])
    AS u(message_id, state, finish, t, err, inc, route, up, rid, events)
WHERE m.message_id = u.message_id"""

Update = tuple[str, int, bool, int | None, int | None, int, str | None, str | None, str | None,
               str | None]  # fmt: skip


def _update(c: Change, events: str | None) -> Update:
    """The UPDATE's row of `c`: model.effect's bits and values, a NULL for each it leaves."""
    bits, values = effect(c)
    taken = iter(values)
    t = next(taken) if bits & (FINISH | RESCHEDULE) else None
    by_bit = {bit: next(taken) for bit in _VALUED if bits & bit}
    return (
        c.message_id,
        int(c.new_state),
        bool(bits & FINISH),
        None if t is None else to_us(t),
        by_bit.get(ERROR),
        1 if bits & ATTEMPT else 0,
        by_bit.get(ROUTE),
        by_bit.get(UPSTREAM),
        by_bit.get(RECEIPT),
        events,
    )


# The bits of model.effect that carry a value after the time, in its order.
_VALUED: Final = (ERROR, ROUTE, UPSTREAM, RECEIPT)


async def run_updates(conn: asyncpg.Connection, updates: Sequence[Update]) -> None:
    """The UPDATE of these changes; a message changed twice goes in a second round (an
    UPDATE ... FROM makes one change per row)."""
    pending = list(updates)
    while pending:
        seen: set[str] = set()
        now: list[Update] = []
        later: list[Update] = []
        for u in pending:
            (later if u[0] in seen else now).append(u)
            seen.add(u[0])
        await conn.execute(UPDATE, *[list(v) for v in zip(*now, strict=True)])
        pending = later


@dataclass(frozen=True, slots=True)
class Prepared:
    """A Change made ready before it reaches the writer: its update, its receipt's row, the
    events of other messages it carries."""

    message_id: str
    new_state: MessageState
    update: Update
    receipt_row: Row | None
    refused: StoreError | None  # refused before reaching the database (a receipt not initial)
    trail: tuple[TrailRow, ...] = ()


def prepare_change(c: Change) -> Prepared:
    receipt = c.receipt
    refused: StoreError | None = None
    receipt_row = None
    if receipt is not None:
        if receipt.state not in INITIAL_STATES:
            refused = IllegalTransition(receipt.message_id, receipt.state, receipt.state)
        receipt_row = row(receipt)
    own: str | None = None
    others: tuple[TrailRow, ...] = ()
    if c.trail:
        texts = trail_texts(c.trail)
        own = texts.pop(c.message_id, None)
        others = tuple(texts.items())
    return Prepared(c.message_id, c.new_state, _update(c, own), receipt_row, refused, others)


# model.TRANSITIONS with plain int keys and values: the states come back from SQL as ints.
_ALLOWED: Final = {int(old): frozenset(map(int, new)) for old, new in TRANSITIONS.items()}
# Locked in a fixed order, so two nodes changing the same messages wait rather than deadlock.
STATES: Final = (
    "SELECT message_id, state FROM message WHERE message_id = ANY($1::text[])"
    " ORDER BY message_id FOR UPDATE"
)


async def apply_changes(
    conn: asyncpg.Connection, changes: Sequence[Prepared]
) -> list[StoreError | None]:
    """Check every change against the states (as the earlier changes leave them), then insert
    the receipts and make the changes, each in one statement. A receipt id already stored
    raises UniqueViolationError (the caller then goes change by change)."""
    ids = list(dict.fromkeys(c.message_id for c in changes))
    states: dict[str, int] = {r[0]: r[1] for r in await conn.fetch(STATES, ids)}
    outcomes: list[StoreError | None] = []
    updates: list[Update] = []
    receipts: list[Row] = []
    trail: list[TrailRow] = []
    allowed = _ALLOWED
    for c in changes:
        if c.refused is not None:
            outcomes.append(c.refused)
            continue
        old = states.get(c.message_id)
        if old is None:
            outcomes.append(MessageNotFound(c.message_id))
            continue
        if c.new_state not in allowed[old]:
            outcomes.append(IllegalTransition(c.message_id, MessageState(old), c.new_state))
            continue
        states[c.message_id] = c.new_state
        if c.receipt_row is not None:
            receipts.append(c.receipt_row)
            states[c.receipt_row[0]] = c.receipt_row[STATE_COLUMN]
        updates.append(c.update)
        trail.extend(c.trail)
        outcomes.append(None)
    if receipts:
        await insert(conn, receipts)
    if updates:
        await run_updates(conn, updates)
    if trail:
        await insert_trail(conn, trail)
    return outcomes


async def apply_one_by_one(
    conn: asyncpg.Connection, changes: Sequence[Prepared]
) -> list[StoreError | None]:
    """`apply_changes` for the rare case (a receipt id already stored): each change in its own
    savepoint, the duplicate reported in its slot."""
    outcomes: list[StoreError | None] = []
    for c in changes:
        try:
            async with conn.transaction():
                outcomes.extend(await apply_changes(conn, (c,)))
        except asyncpg.UniqueViolationError:
            assert c.receipt_row is not None
            outcomes.append(DuplicateMessage(c.receipt_row[0]))
    return outcomes


def op_transition(change: Change) -> Callable[[asyncpg.Connection], Awaitable[StoredMessage]]:
    """Store.transition: read (locked), check and change one message; the record written."""
    prepared = prepare_change(change)

    async def run(conn: asyncpg.Connection) -> StoredMessage:
        new = apply_change(await _load(conn, change.message_id), change)
        if prepared.refused is not None:
            raise prepared.refused
        if prepared.receipt_row is not None:
            await insert_rows(conn, (prepared.receipt_row,))
        await run_updates(conn, (prepared.update,))
        if prepared.trail:
            await insert_trail(conn, prepared.trail)
        return new

    return run


# ---- the due queue and its claims ----------------------------------------------------------------


# One index range per priority level, highest first (message_due: priority_flag,
# next_attempt_at, seq): a single ORDER BY priority_flag DESC would walk every not-yet-due
# message of a higher level first.
def _due_seqs(skip: str = "") -> str:
    return " UNION ALL ".join(
        f"(SELECT seq FROM message WHERE {OPEN} AND direction <> 3 AND priority_flag = {p}"
        f" AND next_attempt_at <= $1{skip} ORDER BY next_attempt_at, seq LIMIT $2)"
        for p in (3, 2, 1, 0)
    )


DUE_SEQS: Final = _due_seqs()
DUE: Final = (
    f"{SELECT} WHERE seq IN ({DUE_SEQS}) ORDER BY priority_flag DESC, next_attempt_at, seq LIMIT $2"
)
# MO of the accounts in $5 stay where they are (Store.claim_due's skip_mo_of): their receivers
# are bound on other nodes.
_SKIP_MO: Final = f" AND NOT (direction = {int(Direction.MO)} AND system_id = ANY($5::text[]))"
# The candidates, locked unless another transaction holds them (SKIP LOCKED), checked again on
# their newest version (a claim committed meanwhile made them not due), then leased.
CLAIM: Final = f"""WITH picked AS (
    SELECT seq, priority_flag AS p, next_attempt_at AS due FROM message
    WHERE seq IN ({_due_seqs(_SKIP_MO)}) AND {OPEN} AND direction <> 3 AND next_attempt_at <= $1
    ORDER BY priority_flag DESC, next_attempt_at, seq LIMIT $2
    FOR UPDATE SKIP LOCKED
)
UPDATE message AS m SET
    state = CASE WHEN m.state = 0 THEN 1 ELSE m.state END,
    attempts = m.attempts + 1,
    next_attempt_at = $3,
    claimed_by = $4
FROM picked WHERE m.seq = picked.seq
RETURNING {", ".join("m." + c.strip() for c in COLUMNS_READ.split(","))},
    picked.p, picked.due, m.seq"""


async def due_rows(conn: asyncpg.Connection, now: datetime, limit: int) -> list[StoredMessage]:
    """Store.due."""
    return [record(r) for r in await conn.fetch(DUE, to_us(now), limit)]


def op_claim(
    now: datetime, limit: int, lease_until: datetime, node_id: str, skip_mo_of: list[str]
) -> Callable[[asyncpg.Connection], Awaitable[list[StoredMessage]]]:
    """Store.claim_due: the MO of the accounts in `skip_mo_of` is left for the nodes where
    their receivers are bound."""

    async def run(conn: asyncpg.Connection) -> list[StoredMessage]:
        found = await conn.fetch(CLAIM, to_us(now), limit, to_us(lease_until), node_id, skip_mo_of)
        ordered = sorted((tuple(r) for r in found), key=lambda r: (-r[-3], r[-2], r[-1]))
        return [record(r[:-3]) for r in ordered]

    return run


# ---- content changes (replace_sm) ----------------------------------------------------------------

_SAVE: Final = (
    "UPDATE message SET state = $1, next_attempt_at = $2, due_at = $3, expires_at = $4,"
    " short_message = $5, tlvs = $6, registered_delivery = $7, sm_default_msg_id = $8,"
    " data_coding = $9 WHERE message_id = $10"
)


def op_replace(
    message_id: str, rep: Replacement, at: datetime
) -> Callable[[asyncpg.Connection], Awaitable[StoredMessage]]:
    async def run(conn: asyncpg.Connection) -> StoredMessage:
        old = await _load(conn, message_id)
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
        await conn.execute(
            _SAVE,
            int(new.state),
            None if new.next_attempt_at is None else to_us(new.next_attempt_at),
            to_us(new.due_at),
            to_us(new.expires_at),
            new.short_message,
            new.tlvs,
            new.registered_delivery,
            new.sm_default_msg_id,
            new.data_coding,
            message_id,
        )
        return new

    return run


# ---- webhooks ------------------------------------------------------------------------------------

_WEBHOOK: Final = f"direction = 3 AND {OPEN} AND callback_url IS NOT NULL"
# The first open webhook of each message only (a message's webhooks go in order): the oldest
# of its message's, found per row through message_webhooks_of (receipted_message_id, seq).
# Not NOT EXISTS: with the few open webhooks of a big table the planner estimates one row and
# scans the whole index per candidate (seen at 1M rows, bench/pg_scale.py).
DUE_WEBHOOKS: Final = (
    f"{SELECT} WHERE {_WEBHOOK} AND next_attempt_at <= $1"
    " AND (receipted_message_id IS NULL OR seq = (SELECT min(earlier.seq) FROM message AS earlier"
    f" WHERE earlier.{_WEBHOOK.replace(' AND ', ' AND earlier.')}"
    " AND earlier.receipted_message_id = message.receipted_message_id))"
    " ORDER BY next_attempt_at, seq LIMIT $2"
)


# ---- the trail -----------------------------------------------------------------------------------

_INSERT_TRAIL: Final = (
    "INSERT INTO trail (message_id, events) SELECT * FROM unnest($1::text[], $2::text[])"
)


async def insert_trail(conn: asyncpg.Connection, rows: Sequence[TrailRow]) -> None:
    """Events of messages whose rows the change does not write, as trail table rows."""
    await conn.execute(_INSERT_TRAIL, [m for m, _ in rows], [f"[{items}]" for _, items in rows])


def op_trail(events: Sequence[TrailEvent]) -> Callable[[asyncpg.Connection], Awaitable[None]]:
    """Store.add_trail: events that no state change carries."""
    rows = tuple(trail_texts(events).items())

    async def run(conn: asyncpg.Connection) -> None:
        await insert_trail(conn, rows)

    return run


async def read_trail(conn: asyncpg.Connection, message_id: str) -> list[TrailEvent]:
    """Store.trail, as the SQLite store reads it (sqlite.statements.read_trail): the row's own
    events, the trail table's, and each receipt made for it that was taken (DELIVERED)."""
    own = await conn.fetchval("SELECT trail FROM message WHERE message_id = $1", message_id)
    items: list[Any] = json.loads(f"[{own}]") if own else []
    for (text,) in await conn.fetch(
        "SELECT events FROM trail WHERE message_id = $1 ORDER BY seq", message_id
    ):
        items.extend(json.loads(text))
    events: list[TrailEvent] = []
    at = EPOCH
    for item in items:
        if len(item) == 3:  # else at the time of the item before (trail_texts)
            at = from_us(item[0])
        events.append(TrailEvent(message_id, at, item[-2], item[-1]))
    receipts = [e.detail["receipt_id"] for e in events if e.kind == "receipt"]
    if receipts:
        for receipt_id, done_at, callback_url in await conn.fetch(
            "SELECT message_id, done_at, callback_url FROM message"
            f" WHERE message_id = ANY($1::text[]) AND state = {int(MessageState.DELIVERED)}",
            receipts,
        ):
            by = "deliver_sm_resp" if callback_url is None else "webhook"
            detail = {"receipt_id": receipt_id, "by": by}
            events.append(TrailEvent(message_id, from_us(done_at), "receipt_taken", detail))
    events.sort(key=lambda e: e.at)
    return events


# ---- saved answers (store/answers.py) ------------------------------------------------------------


async def insert_answer(conn: asyncpg.Connection, answer: SavedAnswer) -> None:
    """Raises KeyTaken (nothing written) when the account has an answer with this key."""
    try:
        async with conn.transaction():
            await conn.execute(
                "INSERT INTO saved_answer"
                " (system_id, key, fingerprint, status, headers, body, created_at)"
                " VALUES ($1, $2, $3, $4, $5, $6, $7)",
                answer.system_id,
                answer.key,
                answer.fingerprint,
                answer.status,
                json.dumps([list(pair) for pair in answer.headers]),
                answer.body,
                to_us(answer.created_at),
            )
    except asyncpg.UniqueViolationError as exc:
        raise KeyTaken(answer.system_id, answer.key) from exc


async def read_answer(conn: asyncpg.Connection, system_id: str, key: str) -> SavedAnswer | None:
    found = await conn.fetchrow(
        "SELECT fingerprint, status, headers, body, created_at FROM saved_answer"
        " WHERE system_id = $1 AND key = $2",
        system_id,
        key,
    )
    if found is None:
        return None
    fingerprint, status, headers, body, created_at = found
    return SavedAnswer(
        system_id=system_id,
        key=key,
        fingerprint=str(fingerprint),
        status=int(status),
        headers=tuple((str(name), str(value)) for name, value in json.loads(headers)),
        body=bytes(body),
        created_at=from_us(int(created_at)),
    )


def op_purge_answers(older_than: datetime) -> Callable[[asyncpg.Connection], Awaitable[int]]:
    async def run(conn: asyncpg.Connection) -> int:
        n: Any = await conn.fetchval(
            "WITH gone AS (DELETE FROM saved_answer WHERE (system_id, key) IN"
            " (SELECT system_id, key FROM saved_answer WHERE created_at < $1"
            " ORDER BY created_at LIMIT $2) RETURNING 1) SELECT count(*) FROM gone",
            to_us(older_than),
            PURGE_CHUNK,
        )
        return int(n)

    return run


# ---- the listings --------------------------------------------------------------------------------


def _either_form(address: str) -> list[str]:
    """An international number is stored as its digits (TON 1) or, from an ESME that sends
    TON 0 with a "+", as sent: a search for either finds both."""
    digits = address.removeprefix("+")
    return [digits, "+" + digits] if digits.isdigit() else [address]


async def find_rows(
    conn: asyncpg.Connection, query: MessageQuery
) -> tuple[list[StoredMessage], int | None]:
    """Store.find: one page past the cursor, in seq order either way (the planner picks
    message_mt_dest, message_account_mt or the primary key, each in seq order already)."""
    terms = ["direction = 1"]
    args: list[Any] = []

    def arg(value: Any) -> str:
        args.append(value)
        return f"${len(args)}"

    newest_first = query.newest_first
    if query.after is not None or not newest_first:
        terms.append(f"seq {'<' if newest_first else '>'} {arg(query.after or 0)}")
    if query.system_id is not None:
        terms.append(f"system_id = {arg(query.system_id)}")
    if query.destination is not None:
        terms.append(f"dest_addr = ANY({arg(_either_form(query.destination))}::text[])")
    if query.source is not None:
        terms.append(f"source_addr = ANY({arg(_either_form(query.source))}::text[])")
    if query.states is not None:
        # Literal states (ints): a set of open states then visibly implies the partial
        # indexes' condition.
        listed = ", ".join(str(int(s)) for s in sorted(query.states))
        terms.append(f"state IN ({listed})" if listed else "false")
        if query.states <= OPEN_STATES:
            terms.extend([OPEN, "direction <> 3"])
    if query.since is not None:
        terms.append(f"submitted_at >= {arg(to_us(query.since))}")
    if query.until is not None:
        terms.append(f"submitted_at < {arg(to_us(query.until))}")
    order = "DESC" if newest_first else ""
    sql = (
        f"SELECT {COLUMNS_READ}, seq FROM message WHERE {' AND '.join(terms)}"
        f" ORDER BY seq {order} LIMIT {arg(query.limit + 1)}"
    )
    found = [tuple(r) for r in await conn.fetch(sql, *args)]
    page = found[: query.limit]
    cursor = int(page[-1][-1]) if len(found) > query.limit else None
    return [record(r[:-1]) for r in page], cursor


# ---- upstream ids, housekeeping ------------------------------------------------------------------


def op_map_upstream(
    connector: str, upstream_id: str, message_id: str
) -> Callable[[asyncpg.Connection], Awaitable[None]]:
    async def run(conn: asyncpg.Connection) -> None:
        await conn.execute(
            "INSERT INTO upstream_id (connector, upstream_id, message_id) VALUES ($1, $2, $3)"
            " ON CONFLICT (connector, upstream_id) DO UPDATE SET message_id = excluded.message_id",
            connector,
            upstream_id,
            message_id,
        )

    return run


# A chunk of final messages, their upstream ids and trails (a receipt purged takes the trail
# of the message it reported on too: events its client wrote after that one was purged).
PURGE: Final = """WITH gone AS (
    DELETE FROM message WHERE seq IN (SELECT seq FROM message
        WHERE done_at IS NOT NULL AND done_at < $1 ORDER BY done_at LIMIT $2)
    RETURNING message_id, receipted_message_id
), ids AS (
    DELETE FROM upstream_id WHERE message_id IN (SELECT message_id FROM gone)
), trails AS (
    DELETE FROM trail WHERE message_id IN (SELECT message_id FROM gone
        UNION SELECT receipted_message_id FROM gone WHERE receipted_message_id IS NOT NULL)
)
SELECT count(*) FROM gone"""


def op_purge_chunk(older_than: datetime) -> Callable[[asyncpg.Connection], Awaitable[int]]:
    async def run(conn: asyncpg.Connection) -> int:
        n: Any = await conn.fetchval(PURGE, to_us(older_than), PURGE_CHUNK)
        return int(n)

    return run


# ---- what operations asks ------------------------------------------------------------------------

_PROBE_BYTES: Final = 8192  # a page of PostgreSQL's: it must be written to the WAL


def op_probe(node_id: str) -> Callable[[asyncpg.Connection], Awaitable[None]]:
    """A write that needs room, leaving nothing: a page-sized answer added and deleted (no
    account has an empty system_id); per node, so two nodes' probes never wait on each
    other."""
    key = f"opensmsc:probe:{node_id}"

    async def run(conn: asyncpg.Connection) -> None:
        await conn.execute(
            "INSERT INTO saved_answer"
            " (system_id, key, fingerprint, status, headers, body, created_at)"
            " VALUES ('', $1, '', 0, '[]', $2, 0) ON CONFLICT DO NOTHING",
            key,
            bytes(_PROBE_BYTES),
        )
        await conn.execute("DELETE FROM saved_answer WHERE system_id = '' AND key = $1", key)

    return run


async def queue_depths(conn: asyncpg.Connection) -> QueueDepths:
    states = await conn.fetch(
        f"SELECT state, count(*) FROM message WHERE {OPEN} AND direction <> 3 GROUP BY state"
    )
    by_state = {MessageState(state): int(count) for state, count in states}
    receipts = await conn.fetch(
        f"SELECT system_id, count(*) FROM message WHERE direction = 3 AND {OPEN} GROUP BY system_id"
    )
    webhooks: Any = await conn.fetchval(
        f"SELECT count(*) FROM message WHERE direction = 3 AND {OPEN} AND callback_url IS NOT NULL"
    )
    return QueueDepths(
        messages=sum(by_state.values()),
        receipts={str(system_id): int(count) for system_id, count in receipts},
        webhooks=int(webhooks),
        states=by_state,
    )
