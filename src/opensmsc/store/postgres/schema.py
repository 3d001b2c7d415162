"""The PostgreSQL schema: its tables and indexes, the migrations that bring it up to date, and
how a connection is opened on it.

Every object lives in a PostgreSQL schema of its own, named by the cluster's `name` (`[cluster]
name`): several clusters (or test runs) share one database without seeing each other. A
connection reaches it through its search_path, so the statements name tables unqualified.

Durability (api.py: a write that returned survives kill -9 and power loss): synchronous_commit
is set on for every connection of the store, whatever the server's default: a COMMIT returns
once its WAL record is flushed to disk.

Times are bigint microseconds since the epoch (model.to_us), as in the SQLite store: the same
values, compared and ordered as integers, no time zone conversion on the hot path.

Migrations: each step runs in its own transaction under an advisory lock of the schema, so
nodes starting together migrate once, one after the other; `schema_version` holds the version
reached. A step, once released, is never edited: a new one is appended.

What it is not: the statements that read and write (statements.py).
"""

from __future__ import annotations

import logging
import zlib
from typing import Any, Final

import asyncpg

from opensmsc.store.model import SchemaTooNew

__all__ = ["MIGRATIONS", "OPEN", "connect", "migrate", "quote_ident", "schema_version"]

log = logging.getLogger(__name__)

# The open states (SCHEDULED 0, ENROUTE 1, UNKNOWN 7), literally: PostgreSQL uses a partial
# index only when it can prove the query's WHERE implies the index's, which it can for
# constants and not for parameters.
OPEN: Final = "state IN (0, 1, 7)"

MIGRATIONS: Final[tuple[tuple[str, ...], ...]] = (
    # 1: the whole store as the SQLite store has it at its version 12, in PostgreSQL's terms.
    (
        """CREATE TABLE message (
            seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,   -- arrival order
            message_id text NOT NULL UNIQUE,
            system_id text NOT NULL,
            direction smallint NOT NULL,                -- model.Direction
            source_ton smallint NOT NULL, source_npi smallint NOT NULL, source_addr text NOT NULL,
            dest_ton smallint NOT NULL, dest_npi smallint NOT NULL, dest_addr text NOT NULL,
            service_type text NOT NULL,
            esm_class smallint NOT NULL,
            protocol_id smallint NOT NULL,
            priority_flag smallint NOT NULL,
            registered_delivery smallint NOT NULL,
            data_coding smallint NOT NULL,
            sm_default_msg_id smallint NOT NULL,
            short_message bytea NOT NULL,
            tlvs bytea NOT NULL,                        -- the TLV stream, wire form
            concat_group text, concat_ref integer, concat_total smallint, concat_seq smallint,
            submitted_at bigint NOT NULL,               -- times: µs since the epoch, UTC
            due_at bigint NOT NULL,
            expires_at bigint NOT NULL,
            state smallint NOT NULL,                    -- smpp.MessageState
            attempts integer NOT NULL,
            next_attempt_at bigint,                     -- set while open; a claim's lease end
            last_error bigint,                          -- a command_status may pass 2^31
            done_at bigint,                             -- set once final
            route text,
            upstream_message_id text,
            receipt_id text,
            receipted_message_id text,
            client_reference text,
            callback_url text,
            callback_style text,
            trace_id text,
            trail text,                                 -- the message's own events (trail.py)
            claimed_by text                             -- node_id of the last claim_due
        )""",
        # The due queue: one range per priority level (statements.due_sql).
        f"""CREATE INDEX message_due ON message (priority_flag, next_attempt_at, seq)
            WHERE {OPEN} AND direction <> 3""",
        # Open MT by subscriber: waiting_for (an alert), find_pending (cancel_sm, replace).
        f"""CREATE INDEX message_dest_mt ON message (dest_addr, seq)
            WHERE {OPEN} AND direction = 1""",
        # MT waiting for a route to come back: waiting_on_route.
        """CREATE INDEX message_route_wait ON message (route, seq)
            WHERE state = 1 AND direction = 1 AND upstream_message_id IS NULL""",
        # Open receipts per account, oldest first: pending_receipts, queue_depths.
        f"""CREATE INDEX message_receipts ON message (system_id, seq)
            WHERE direction = 3 AND {OPEN}""",
        # Webhooks: the due ones by time, and the open ones by the message they report on.
        f"""CREATE INDEX message_webhooks_due ON message (next_attempt_at, seq)
            WHERE direction = 3 AND {OPEN} AND callback_url IS NOT NULL""",
        f"""CREATE INDEX message_webhooks_of ON message (receipted_message_id, seq)
            WHERE direction = 3 AND {OPEN} AND callback_url IS NOT NULL""",
        # Purge by age.
        "CREATE INDEX message_done ON message (done_at) WHERE done_at IS NOT NULL",
        # The listings (Store.find): an account's MT, every MT to a number, in arrival order.
        "CREATE INDEX message_account_mt ON message (system_id, seq) WHERE direction = 1",
        "CREATE INDEX message_mt_dest ON message (dest_addr, seq) WHERE direction = 1",
        """CREATE TABLE upstream_id (
            connector text NOT NULL,
            upstream_id text NOT NULL,                  -- normalised by the connector's format
            message_id text NOT NULL,
            PRIMARY KEY (connector, upstream_id)
        )""",
        "CREATE INDEX upstream_by_message ON upstream_id (message_id)",
        """CREATE TABLE saved_answer (
            system_id text NOT NULL,
            key text NOT NULL,
            fingerprint text NOT NULL,
            status integer NOT NULL,
            headers text NOT NULL,                      -- JSON: [[name, value], ...]
            body bytea NOT NULL,
            created_at bigint NOT NULL,
            PRIMARY KEY (system_id, key)
        )""",
        "CREATE INDEX saved_answer_age ON saved_answer (created_at)",
        # Events of a message written by another's change (trail.py; the SQLite store's
        # migration 12): off the hot path.
        """CREATE TABLE trail (
            seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            message_id text NOT NULL,
            events text NOT NULL                        -- JSON: [[at, kind, {detail}], ...]
        )""",
        "CREATE INDEX trail_message ON trail (message_id)",
    ),
    # 2: the message_id prefixes handed to the nodes (PostgresStore.reserve_id_prefixes): ids are
    # a node's prefix and its own counter, so two nodes must never hold the same prefix.
    (
        """CREATE TABLE id_prefix (
            one boolean PRIMARY KEY DEFAULT true CHECK (one),
            last bigint NOT NULL                        -- the last prefix handed out
        )""",
    ),
)


# A statement that takes longer fails (StoreUnavailable) rather than hold every write behind it:
# a server that hangs is as unavailable as one that is gone.
COMMAND_TIMEOUT: Final = 30.0


def quote_ident(name: str) -> str:
    """`name` as a PostgreSQL identifier, whatever characters it has."""
    return '"' + name.replace('"', '""') + '"'


def _lock_key(schema: str) -> int:
    # A signed 64-bit key of the schema's name for pg_advisory_xact_lock.
    return zlib.crc32(f"opensmsc-schema:{schema}".encode())


async def connect(dsn: str, schema: str, *, timeout: float = 5.0) -> asyncpg.Connection:
    """A connection whose search_path is `schema`, with synchronous_commit on.
    Raises OSError, asyncpg errors."""
    conn: asyncpg.Connection = await asyncpg.connect(
        dsn,
        timeout=timeout,
        command_timeout=COMMAND_TIMEOUT,
        server_settings=server_settings(schema),
    )
    return conn


def server_settings(schema: str) -> dict[str, str]:
    return {
        "search_path": quote_ident(schema),
        "synchronous_commit": "on",
        "application_name": "opensmsc",
    }


async def schema_version(conn: asyncpg.Connection, schema: str) -> int:
    """The version `schema` is at; 0 when it has no schema_version table."""
    found: Any = await conn.fetchval(
        "SELECT to_regclass($1) IS NOT NULL", f"{quote_ident(schema)}.schema_version"
    )
    if not found:
        return 0
    version: Any = await conn.fetchval(
        f"SELECT max(version) FROM {quote_ident(schema)}.schema_version"
    )
    return int(version or 0)


async def migrate(conn: asyncpg.Connection, schema: str, target: int | None = None) -> int:
    """Create `schema` if needed and bring it to `target` (default: the newest), each step in
    its own transaction; returns the version before. Raises SchemaTooNew."""
    target = len(MIGRATIONS) if target is None else target
    quoted = quote_ident(schema)
    before: int | None = None
    step = 0
    while True:
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", _lock_key(schema))
            await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {quoted}")
            await conn.execute(
                f"CREATE TABLE IF NOT EXISTS {quoted}.schema_version (version integer NOT NULL)"
            )
            found = await schema_version(conn, schema)
            if before is None:
                before = found
            if found > len(MIGRATIONS):
                raise SchemaTooNew(found, len(MIGRATIONS))
            if found >= target:
                return before
            step = found
            for statement in MIGRATIONS[step]:
                await conn.execute(statement)
            await conn.execute(f"DELETE FROM {quoted}.schema_version")
            await conn.execute(f"INSERT INTO {quoted}.schema_version VALUES ($1)", step + 1)
        log.info("store schema migrated schema=%s version=%d", schema, step + 1)
