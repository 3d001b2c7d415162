"""The IMPS state's SQLite schema (imps/state.py reads and writes it): one table per thing the
service must not lose. `SCHEMA_VERSION` is the file's user_version; a newer file is refused."""

from __future__ import annotations

from typing import Final

__all__ = ["SCHEMA", "SCHEMA_VERSION"]

SCHEMA_VERSION: Final = 1
SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS users (
    user_id TEXT PRIMARY KEY,                -- normalised: lower case, no "wv:" prefix
    msisdn TEXT NOT NULL,                    -- the handset provisioned for it (self-registration)
    password TEXT NOT NULL,                  -- clear: digest login needs it (module doc)
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS sessions (
    session_id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    msisdn TEXT NOT NULL,                    -- the handset that logged in; requests come from it
    cookie TEXT NOT NULL,                    -- SessionCookie: what a CIR wake-up carries
    version TEXT NOT NULL,                   -- "11" | "12" | "13": what the client spoke
    keepalive REAL NOT NULL,                 -- seconds, as agreed in RL/AK
    last_seen REAL NOT NULL,
    capabilities TEXT NOT NULL DEFAULT '{}', -- JSON: agreed capability code -> value
    push INTEGER NOT NULL DEFAULT 1,         -- InitialDeliveryMethod: 1 push (P), 0 notify/get (N)
    cir INTEGER NOT NULL DEFAULT 0,          -- 1: the client sent HELO on port 3716
    cir_sent REAL,                           -- when the last WVCI went out unanswered by a PO
    tx_counter INTEGER NOT NULL DEFAULT 0,   -- last server transaction id, 1..999 then 1
    ended REAL,                              -- NULL: live; else a tombstone kept a while
    end_reason TEXT                          -- logout | expired | replaced | removed
);
CREATE INDEX IF NOT EXISTS sessions_user ON sessions (user_id) WHERE ended IS NULL;
CREATE INDEX IF NOT EXISTS sessions_msisdn ON sessions (msisdn) WHERE ended IS NULL;
CREATE TABLE IF NOT EXISTS nonces (          -- 4-way login challenges, by handset and user
    msisdn TEXT NOT NULL,
    user_id TEXT NOT NULL,
    nonce TEXT NOT NULL,
    schema TEXT NOT NULL,
    expires REAL NOT NULL,
    PRIMARY KEY (msisdn, user_id)
);
CREATE TABLE IF NOT EXISTS contact_lists (
    user_id TEXT NOT NULL,
    list_id TEXT NOT NULL,
    display_name TEXT,
    is_default INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, list_id)
);
CREATE TABLE IF NOT EXISTS contacts (
    user_id TEXT NOT NULL,
    list_id TEXT NOT NULL,
    member TEXT NOT NULL,
    nickname TEXT NOT NULL DEFAULT '',
    position INTEGER NOT NULL,               -- the order the client added them in
    PRIMARY KEY (user_id, list_id, member)
);
CREATE TABLE IF NOT EXISTS presence (
    user_id TEXT NOT NULL,
    attribute TEXT NOT NULL,                 -- OS, UA, ST, CF, ...
    item TEXT NOT NULL,                      -- JSON of the PTS attribute item as the client sent it
    PRIMARY KEY (user_id, attribute)
);
CREATE TABLE IF NOT EXISTS subscriptions (
    watcher TEXT NOT NULL,
    watched TEXT NOT NULL,
    PRIMARY KEY (watcher, watched)
);
CREATE INDEX IF NOT EXISTS subscriptions_watched ON subscriptions (watched);
CREATE TABLE IF NOT EXISTS blocked (
    user_id TEXT NOT NULL,
    blocked TEXT NOT NULL,                   -- a user id or an MSISDN
    PRIMARY KEY (user_id, blocked)
);
CREATE TABLE IF NOT EXISTS messages (        -- instant messages not yet acknowledged (MA)
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id TEXT NOT NULL,
    recipient TEXT NOT NULL,
    sender TEXT NOT NULL,                    -- a user id, or an MSISDN for a bridged reply
    content TEXT NOT NULL,
    content_type TEXT NOT NULL,
    created REAL NOT NULL,
    report INTEGER NOT NULL,                 -- 1: the sender asked for a DeliveryReport
    pushed_session TEXT,                     -- the session it last went out in
    UNIQUE (message_id, recipient)
);
CREATE INDEX IF NOT EXISTS messages_recipient ON messages (recipient, seq);
CREATE TABLE IF NOT EXISTS queued (          -- server-initiated primitives waiting for a user
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id TEXT NOT NULL,
    code TEXT NOT NULL,                      -- PN, DR
    params TEXT NOT NULL,                    -- JSON list of [name, value] without SI
    created REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS queued_user ON queued (user_id, seq);
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    msisdn TEXT NOT NULL,
    channel INTEGER NOT NULL,
    body TEXT NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS processed (       -- MO ids seen: a redelivered MO is ignored
    mo_id TEXT PRIMARY KEY,
    at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS processed_at ON processed (at);
CREATE TABLE IF NOT EXISTS segments (        -- PTS segments of groups not yet complete
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    sender TEXT NOT NULL,
    text TEXT NOT NULL,
    at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS bridges (         -- handset MSISDN <-> the user who last wrote to it
    msisdn TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    updated REAL NOT NULL
);
"""
