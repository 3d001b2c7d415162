"""The IMPS service's durable state: one SQLite file (WAL, synchronous=FULL).

What this is for: everything the IMPS service (imps/service.py) must not lose on kill -9: users,
sessions, contact lists, presence, subscriptions, blocked lists, messages not yet acknowledged,
queued server-initiated primitives, the outbox of SMS still to hand to the SMSC, the MO ids
already processed (exactly-once), PTS segments under reassembly, and the plain-SMS bridge
conversations. The service groups the effects of one incoming SMS in `transaction()`, so they
are committed together or not at all.

What this is not: the service's rules (who may see whom, what a primitive answers). This
module stores and reads rows; it decides nothing. It is used from one thread at a time (the
binding calls the service from a single worker thread); the connection allows that thread to
differ from the one that opened it.

Passwords are kept in clear: CSP digest login (4-way, AIM's StandardPasswordDigest) proves
knowledge of the password as base64(MD5/SHA1(nonce + password)), which the server can only check
with the password itself. Protect the file like a credentials store.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Final

from opensmsc.errors import OpensmscError
from opensmsc.imps.pts import Value
from opensmsc.imps.records import (
    Channel,
    ContactList,
    ImpsStats,
    Outgoing,
    PendingMessage,
    Queued,
    SessionRow,
    User,
)
from opensmsc.imps.schema import SCHEMA, SCHEMA_VERSION

__all__ = [
    "Channel",
    "ContactList",
    "ImpsState",
    "ImpsStateError",
    "ImpsStats",
    "Outgoing",
    "PendingMessage",
    "Queued",
    "SessionRow",
    "User",
]


class ImpsStateError(OpensmscError):
    """The IMPS state file cannot be opened or written (disk full, not ours, newer schema).
    Nothing of the call that raised it was committed."""


_SESSION_COLUMNS: Final = (
    "session_id, user_id, msisdn, cookie, version, keepalive, last_seen, capabilities, push, "
    "cir, cir_sent, ended, end_reason"
)
_MESSAGE_COLUMNS: Final = (
    "message_id, recipient, sender, content, content_type, created, report, pushed_session"
)


def _to_json(value: Value) -> object:
    return value if isinstance(value, str) else [_to_json(v) for v in value]


def _from_json(raw: object) -> Value:
    if isinstance(raw, str):
        return raw
    if isinstance(raw, list):
        return tuple(_from_json(v) for v in raw)
    raise ImpsStateError(f"a stored PTS value is neither text nor a list: {raw!r}")


def _session(row: sqlite3.Row | tuple[object, ...]) -> SessionRow:
    caps = json.loads(str(row[7]))
    return SessionRow(
        session_id=str(row[0]),
        user_id=str(row[1]),
        msisdn=str(row[2]),
        cookie=str(row[3]),
        version=str(row[4]),
        keepalive=float(row[5]),  # type: ignore[arg-type]
        last_seen=float(row[6]),  # type: ignore[arg-type]
        capabilities={str(k): str(v) for k, v in caps.items()},
        push=bool(row[8]),
        cir=bool(row[9]),
        cir_sent=None if row[10] is None else float(row[10]),  # type: ignore[arg-type]
        ended=None if row[11] is None else float(row[11]),  # type: ignore[arg-type]
        end_reason=None if row[12] is None else str(row[12]),
    )


def _message(row: tuple[object, ...]) -> PendingMessage:
    return PendingMessage(
        message_id=str(row[0]),
        recipient=str(row[1]),
        sender=str(row[2]),
        content=str(row[3]),
        content_type=str(row[4]),
        created=float(row[5]),  # type: ignore[arg-type]
        report=bool(row[6]),
        pushed_session=None if row[7] is None else str(row[7]),
    )


class ImpsState:
    """The durable state (module doc). Reads and writes outside `transaction()` autocommit;
    inside, they are committed together when the block ends, rolled back if it raises.
    Raises ImpsStateError when SQLite fails; any other exception is a bug."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            version = int(self._db.execute("PRAGMA user_version").fetchone()[0])
            if version > SCHEMA_VERSION:
                self._db.close()
                raise ImpsStateError(
                    f"{path}: schema version {version} is newer than this opensmsc knows "
                    f"({SCHEMA_VERSION})"
                )
            self._db.executescript(SCHEMA)
            self._db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        except (sqlite3.Error, OSError) as exc:
            raise ImpsStateError(f"{path}: {exc}") from exc
        self._depth = 0

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """Inside a transaction: the writes of the block are undone if it raises."""
        self._run("SAVEPOINT request")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK TO request")
            self._db.execute("RELEASE request")
            raise
        self._run("RELEASE request")

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All writes inside are one SQLite transaction, durable when the block returns.
        Nested in another, it is a savepoint: if it raises, its own writes are undone and the
        outer transaction goes on; they are durable when the outermost block commits (the
        service thread's group commit: worker.py)."""
        if self._depth:
            self._run("SAVEPOINT nested")
            self._depth += 1
            try:
                yield
            except BaseException:
                # fails only when SQLite already rolled the whole transaction back (then the
                # outer COMMIT fails too): the block's own error is the one to raise
                with contextlib.suppress(sqlite3.Error):
                    self._db.execute("ROLLBACK TO nested")
                    self._db.execute("RELEASE nested")
                raise
            finally:
                self._depth -= 1
            self._run("RELEASE nested")
            return
        try:
            self._db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise ImpsStateError(f"{self.path}: {exc}") from exc
        self._depth = 1
        try:
            yield
        except BaseException:
            self._depth = 0
            self._db.execute("ROLLBACK")
            raise
        self._depth = 0
        try:
            self._db.execute("COMMIT")
        except sqlite3.Error as exc:
            self._db.execute("ROLLBACK")
            raise ImpsStateError(f"{self.path}: {exc}") from exc

    def _run(self, sql: str, params: Sequence[object] = ()) -> sqlite3.Cursor:
        try:
            return self._db.execute(sql, params)
        except sqlite3.Error as exc:
            raise ImpsStateError(f"{self.path}: {exc}") from exc

    def _many(self, sql: str, rows: Sequence[Sequence[object]]) -> None:
        try:
            self._db.executemany(sql, rows)
        except sqlite3.Error as exc:
            raise ImpsStateError(f"{self.path}: {exc}") from exc

    def _count(self, sql: str, params: Sequence[object] = ()) -> int:
        return int(self._run(sql, params).fetchone()[0])

    def _scalar(self, sql: str, params: Sequence[object] = ()) -> object:
        row = self._run(sql, params).fetchone()
        return None if row is None else row[0]

    # ---- processed MO ids, segments ---------------------------------------------------------

    def mark_processed(self, mo_id: str, now: float) -> bool:
        """Record an MO id; False if it was seen before (then nothing else should happen)."""
        cursor = self._run("INSERT OR IGNORE INTO processed VALUES (?, ?)", (mo_id, now))
        return cursor.rowcount == 1

    def forget_processed(self, before: float) -> int:
        return self._run("DELETE FROM processed WHERE at < ?", (before,)).rowcount

    def add_segment(self, sender: str, text: str, now: float) -> None:
        self._run("INSERT INTO segments (sender, text, at) VALUES (?, ?, ?)", (sender, text, now))

    def drop_segments(self, sender: str, preamble: str) -> None:
        """Forget the stored segments of one group: texts `<preamble><DD> ...` from sender."""
        rows = self._run(
            "SELECT seq, text FROM segments WHERE sender = ? AND substr(text, 1, ?) = ?",
            (sender, len(preamble), preamble),
        ).fetchall()
        gone = [
            (int(seq),)
            for seq, text in rows
            if str(text)[len(preamble) : len(preamble) + 2].isalpha()
            and str(text)[len(preamble) + 2 : len(preamble) + 3] in ("", " ")
        ]
        self._many("DELETE FROM segments WHERE seq = ?", gone)

    def forget_segments(self, before: float) -> None:
        self._run("DELETE FROM segments WHERE at < ?", (before,))

    def segments(self) -> list[tuple[str, str, float]]:
        """(sender, text, received at) of every stored segment, oldest first."""
        rows = self._run("SELECT sender, text, at FROM segments ORDER BY seq").fetchall()
        return [(str(s), str(t), float(a)) for s, t, a in rows]

    # ---- users ------------------------------------------------------------------------------

    def put_user(self, user_id: str, msisdn: str, password: str, now: float) -> None:
        self._run(
            "INSERT INTO users VALUES (?, ?, ?, ?) ON CONFLICT (user_id) DO UPDATE SET "
            "msisdn = excluded.msisdn, password = excluded.password",
            (user_id, msisdn, password, now),
        )

    def password(self, user_id: str) -> str | None:
        found = self._scalar("SELECT password FROM users WHERE user_id = ?", (user_id,))
        return None if found is None else str(found)

    def has_user_on(self, msisdn: str) -> bool:
        """Whether any user is provisioned for this handset, however its number is spelled."""
        found = self._scalar(
            "SELECT 1 FROM users WHERE ltrim(msisdn, '+') = ? LIMIT 1", (msisdn.lstrip("+"),)
        )
        return found is not None

    def has_user(self, user_id: str) -> bool:
        return self._scalar("SELECT 1 FROM users WHERE user_id = ?", (user_id,)) is not None

    def delete_user(self, user_id: str) -> bool:
        if not self.has_user(user_id):
            return False
        for sql in (
            "DELETE FROM users WHERE user_id = ?",
            "DELETE FROM contact_lists WHERE user_id = ?",
            "DELETE FROM contacts WHERE user_id = ?",
            "DELETE FROM presence WHERE user_id = ?",
            "DELETE FROM subscriptions WHERE watcher = ?1 OR watched = ?1",
            "DELETE FROM blocked WHERE user_id = ?",
            "DELETE FROM messages WHERE recipient = ?",
            "DELETE FROM queued WHERE user_id = ?",
            "DELETE FROM bridges WHERE user_id = ?",
            "DELETE FROM nonces WHERE user_id = ?",
        ):
            self._run(sql, (user_id,))
        return True

    def users(self) -> list[User]:
        rows = self._run(
            "SELECT u.user_id, u.msisdn, EXISTS (SELECT 1 FROM sessions s WHERE "
            "s.user_id = u.user_id AND s.ended IS NULL) FROM users u ORDER BY u.user_id"
        ).fetchall()
        return [User(str(u), str(m), bool(o)) for u, m, o in rows]

    # ---- nonces (4-way login) ---------------------------------------------------------------

    def put_nonce(self, msisdn: str, user_id: str, nonce: str, schema: str, expires: float) -> None:
        self._run(
            "INSERT OR REPLACE INTO nonces VALUES (?, ?, ?, ?, ?)",
            (msisdn, user_id, nonce, schema, expires),
        )

    def take_nonce(self, msisdn: str, user_id: str, now: float) -> tuple[str, str] | None:
        """The (nonce, schema) issued to this handset for this user, used once."""
        row = self._run(
            "SELECT nonce, schema, expires FROM nonces WHERE msisdn = ? AND user_id = ?",
            (msisdn, user_id),
        ).fetchone()
        self._run("DELETE FROM nonces WHERE msisdn = ? AND user_id = ?", (msisdn, user_id))
        if row is None or float(row[2]) < now:
            return None
        return str(row[0]), str(row[1])

    def forget_nonces(self, now: float) -> None:
        self._run("DELETE FROM nonces WHERE expires < ?", (now,))

    # ---- sessions ---------------------------------------------------------------------------

    def add_session(
        self,
        *,
        session_id: str,
        user_id: str,
        msisdn: str,
        cookie: str,
        version: str,
        keepalive: float,
        now: float,
    ) -> None:
        self._run(
            "INSERT INTO sessions (session_id, user_id, msisdn, cookie, version, keepalive, "
            "last_seen) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (session_id, user_id, msisdn, cookie, version, keepalive, now),
        )

    def session(self, session_id: str) -> SessionRow | None:
        row = self._run(
            f"SELECT {_SESSION_COLUMNS} FROM sessions WHERE session_id = ?", (session_id,)
        ).fetchone()
        return None if row is None else _session(row)

    def live_session_of(self, user_id: str) -> SessionRow | None:
        row = self._run(
            f"SELECT {_SESSION_COLUMNS} FROM sessions WHERE user_id = ? AND ended IS NULL",
            (user_id,),
        ).fetchone()
        return None if row is None else _session(row)

    def live_session_on(self, msisdn: str) -> SessionRow | None:
        """The newest live session of a handset."""
        row = self._run(
            f"SELECT {_SESSION_COLUMNS} FROM sessions WHERE msisdn = ? AND ended IS NULL "
            "ORDER BY last_seen DESC LIMIT 1",
            (msisdn,),
        ).fetchone()
        return None if row is None else _session(row)

    def live_sessions_idle_since(self, before: float) -> list[SessionRow]:
        """Live sessions whose last request plus keepalive is before `before`."""
        rows = self._run(
            f"SELECT {_SESSION_COLUMNS} FROM sessions WHERE ended IS NULL "
            "AND last_seen + keepalive < ?",
            (before,),
        ).fetchall()
        return [_session(r) for r in rows]

    def sessions_awaiting_poll(self, cir_before: float) -> list[SessionRow]:
        """Live notify/get sessions with CIR whose last wake-up is older than `cir_before`."""
        rows = self._run(
            f"SELECT {_SESSION_COLUMNS} FROM sessions WHERE ended IS NULL AND push = 0 "
            "AND cir = 1 AND cir_sent IS NOT NULL AND cir_sent < ?",
            (cir_before,),
        ).fetchall()
        return [_session(r) for r in rows]

    def touch_session(self, session_id: str, now: float) -> None:
        self._run("UPDATE sessions SET last_seen = ? WHERE session_id = ?", (now, session_id))

    def update_session(
        self,
        session_id: str,
        *,
        keepalive: float | None = None,
        capabilities: dict[str, str] | None = None,
        push: bool | None = None,
        cir: bool | None = None,
        cir_sent: float | bool | None = False,
    ) -> None:
        """Change the given fields; `cir_sent=None` clears it, False leaves it."""
        sets: list[str] = []
        params: list[object] = []
        if keepalive is not None:
            sets.append("keepalive = ?")
            params.append(keepalive)
        if capabilities is not None:
            sets.append("capabilities = ?")
            params.append(json.dumps(capabilities, sort_keys=True))
        if push is not None:
            sets.append("push = ?")
            params.append(int(push))
        if cir is not None:
            sets.append("cir = ?")
            params.append(int(cir))
        if cir_sent is not False:
            sets.append("cir_sent = ?")
            params.append(cir_sent)
        if sets:
            params.append(session_id)
            self._run(f"UPDATE sessions SET {', '.join(sets)} WHERE session_id = ?", params)

    def next_transaction(self, session_id: str) -> int:
        """The next server-initiated transaction id of a session: 1..999, then 1 again."""
        self._run(
            "UPDATE sessions SET tx_counter = tx_counter % 999 + 1 WHERE session_id = ?",
            (session_id,),
        )
        return self._count("SELECT tx_counter FROM sessions WHERE session_id = ?", (session_id,))

    def end_session(self, session_id: str, reason: str, now: float) -> None:
        self._run(
            "UPDATE sessions SET ended = ?, end_reason = ? WHERE session_id = ? AND ended IS NULL",
            (now, reason, session_id),
        )

    def forget_ended_sessions(self, before: float) -> None:
        self._run("DELETE FROM sessions WHERE ended IS NOT NULL AND ended < ?", (before,))

    def count_live_sessions(self) -> int:
        return self._count("SELECT count(*) FROM sessions WHERE ended IS NULL")

    # ---- contact lists ----------------------------------------------------------------------

    def contact_list_ids(self, user_id: str) -> list[tuple[str, bool]]:
        rows = self._run(
            "SELECT list_id, is_default FROM contact_lists WHERE user_id = ? ORDER BY list_id",
            (user_id,),
        ).fetchall()
        return [(str(i), bool(d)) for i, d in rows]

    def contact_list(self, user_id: str, list_id: str) -> ContactList | None:
        row = self._run(
            "SELECT display_name, is_default FROM contact_lists WHERE user_id = ? AND list_id = ?",
            (user_id, list_id),
        ).fetchone()
        if row is None:
            return None
        members = self._run(
            "SELECT nickname, member FROM contacts WHERE user_id = ? AND list_id = ? "
            "ORDER BY position",
            (user_id, list_id),
        ).fetchall()
        return ContactList(
            list_id=list_id,
            display_name=None if row[0] is None else str(row[0]),
            is_default=bool(row[1]),
            members=tuple((str(n), str(m)) for n, m in members),
        )

    def create_contact_list(self, user_id: str, list_id: str) -> None:
        self._run("INSERT INTO contact_lists (user_id, list_id) VALUES (?, ?)", (user_id, list_id))

    def delete_contact_list(self, user_id: str, list_id: str) -> None:
        self._run("DELETE FROM contact_lists WHERE user_id = ? AND list_id = ?", (user_id, list_id))
        self._run("DELETE FROM contacts WHERE user_id = ? AND list_id = ?", (user_id, list_id))

    def set_contact_list_properties(
        self, user_id: str, list_id: str, *, display_name: str | None, is_default: bool | None
    ) -> None:
        if display_name is not None:
            self._run(
                "UPDATE contact_lists SET display_name = ? WHERE user_id = ? AND list_id = ?",
                (display_name, user_id, list_id),
            )
        if is_default:
            # One default list per user: CSP's DefaultContactList names exactly one.
            self._run("UPDATE contact_lists SET is_default = 0 WHERE user_id = ?", (user_id,))
        if is_default is not None:
            self._run(
                "UPDATE contact_lists SET is_default = ? WHERE user_id = ? AND list_id = ?",
                (int(is_default), user_id, list_id),
            )

    def add_contact(self, user_id: str, list_id: str, member: str, nickname: str) -> None:
        position = self._scalar(
            "SELECT coalesce(max(position), 0) + 1 FROM contacts WHERE user_id = ? AND list_id = ?",
            (user_id, list_id),
        )
        self._run(
            "INSERT INTO contacts VALUES (?, ?, ?, ?, ?) ON CONFLICT (user_id, list_id, member) "
            "DO UPDATE SET nickname = excluded.nickname",
            (user_id, list_id, member, nickname, position),
        )

    def remove_contact(self, user_id: str, list_id: str, member: str) -> None:
        self._run(
            "DELETE FROM contacts WHERE user_id = ? AND list_id = ? AND member = ?",
            (user_id, list_id, member),
        )

    # ---- presence, subscriptions, blocking --------------------------------------------------

    def presence(self, user_id: str) -> dict[str, Value]:
        rows = self._run(
            "SELECT attribute, item FROM presence WHERE user_id = ? ORDER BY attribute",
            (user_id,),
        ).fetchall()
        return {str(a): _from_json(json.loads(str(i))) for a, i in rows}

    def set_presence(self, user_id: str, attribute: str, item: Value) -> None:
        self._run(
            "INSERT OR REPLACE INTO presence VALUES (?, ?, ?)",
            (user_id, attribute, json.dumps(_to_json(item))),
        )

    def subscribe(self, watcher: str, watched: str) -> None:
        self._run("INSERT OR IGNORE INTO subscriptions VALUES (?, ?)", (watcher, watched))

    def watchers(self, watched: str) -> list[str]:
        rows = self._run(
            "SELECT watcher FROM subscriptions WHERE watched = ? ORDER BY watcher", (watched,)
        ).fetchall()
        return [str(r[0]) for r in rows]

    def block(self, user_id: str, blocked: str) -> None:
        self._run("INSERT OR IGNORE INTO blocked VALUES (?, ?)", (user_id, blocked))

    def unblock(self, user_id: str, blocked: str) -> None:
        self._run("DELETE FROM blocked WHERE user_id = ? AND blocked = ?", (user_id, blocked))

    def blocked(self, user_id: str) -> list[str]:
        rows = self._run(
            "SELECT blocked FROM blocked WHERE user_id = ? ORDER BY blocked", (user_id,)
        ).fetchall()
        return [str(r[0]) for r in rows]

    def is_blocked(self, user_id: str, by: str) -> bool:
        """Whether `by` has blocked `user_id`."""
        found = self._scalar(
            "SELECT 1 FROM blocked WHERE user_id = ? AND blocked = ?", (by, user_id)
        )
        return found is not None

    # ---- messages and queued primitives -----------------------------------------------------

    def add_message(self, message: PendingMessage) -> None:
        self._run(
            f"INSERT INTO messages ({_MESSAGE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                message.message_id,
                message.recipient,
                message.sender,
                message.content,
                message.content_type,
                message.created,
                int(message.report),
                message.pushed_session,
            ),
        )

    def count_messages(self, recipient: str | None = None) -> int:
        if recipient is None:
            return self._count("SELECT count(*) FROM messages")
        return self._count("SELECT count(*) FROM messages WHERE recipient = ?", (recipient,))

    def messages_for(
        self, recipient: str, *, not_in_session: str | None = None
    ) -> list[PendingMessage]:
        """Unacknowledged messages of a user, oldest first; with `not_in_session`, only those
        that have not gone out in that session yet."""
        sql = f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE recipient = ?"
        params: list[object] = [recipient]
        if not_in_session is not None:
            sql += " AND (pushed_session IS NULL OR pushed_session != ?)"
            params.append(not_in_session)
        rows = self._run(sql + " ORDER BY seq", params).fetchall()
        return [_message(r) for r in rows]

    def mark_pushed(self, message_id: str, recipient: str, session_id: str) -> None:
        self._run(
            "UPDATE messages SET pushed_session = ? WHERE message_id = ? AND recipient = ?",
            (session_id, message_id, recipient),
        )

    def take_message(self, message_id: str, recipient: str) -> PendingMessage | None:
        """Remove an acknowledged message; None if it is not pending for that recipient."""
        row = self._run(
            f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE message_id = ? AND recipient = ?",
            (message_id, recipient),
        ).fetchone()
        if row is None:
            return None
        self._run(
            "DELETE FROM messages WHERE message_id = ? AND recipient = ?", (message_id, recipient)
        )
        return _message(row)

    def take_messages_older_than(self, before: float) -> list[PendingMessage]:
        rows = self._run(
            f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE created < ? ORDER BY seq", (before,)
        ).fetchall()
        self._run("DELETE FROM messages WHERE created < ?", (before,))
        return [_message(r) for r in rows]

    def queue(
        self, user_id: str, code: str, params: Sequence[tuple[str, Value]], now: float
    ) -> None:
        self._run(
            "INSERT INTO queued (user_id, code, params, created) VALUES (?, ?, ?, ?)",
            (user_id, code, json.dumps([[n, _to_json(v)] for n, v in params]), now),
        )

    def take_queued(self, user_id: str) -> list[Queued]:
        rows = self._run(
            "SELECT seq, code, params FROM queued WHERE user_id = ? ORDER BY seq", (user_id,)
        ).fetchall()
        self._run("DELETE FROM queued WHERE user_id = ?", (user_id,))
        return [
            Queued(
                int(seq),
                str(code),
                tuple((str(n), _from_json(v)) for n, v in json.loads(str(params))),
            )
            for seq, code, params in rows
        ]

    def trim_queued(self, user_id: str, keep: int) -> None:
        """Keep a user's newest `keep` queued primitives."""
        self._run(
            "DELETE FROM queued WHERE user_id = ?1 AND seq NOT IN (SELECT seq FROM queued "
            "WHERE user_id = ?1 ORDER BY seq DESC LIMIT ?2)",
            (user_id, keep),
        )

    def count_queued(self, user_id: str | None = None) -> int:
        if user_id is None:
            return self._count("SELECT count(*) FROM queued")
        return self._count("SELECT count(*) FROM queued WHERE user_id = ?", (user_id,))

    def forget_queued_older_than(self, before: float) -> None:
        self._run("DELETE FROM queued WHERE created < ?", (before,))

    # ---- outbox -----------------------------------------------------------------------------

    def add_outgoing(self, msisdn: str, channel: Channel, body: str, now: float) -> None:
        self._run(
            "INSERT INTO outbox (msisdn, channel, body, created) VALUES (?, ?, ?, ?)",
            (msisdn, channel.value, body, now),
        )

    def outbox(self, limit: int) -> list[Outgoing]:
        rows = self._run(
            "SELECT id, msisdn, channel, body FROM outbox ORDER BY id LIMIT ?", (limit,)
        ).fetchall()
        return [Outgoing(int(i), str(m), Channel(int(c)), str(b)) for i, m, c, b in rows]

    def sent(self, ids: Sequence[int]) -> None:
        self._many("DELETE FROM outbox WHERE id = ?", [(int(i),) for i in ids])

    def count_outbox(self) -> int:
        return self._count("SELECT count(*) FROM outbox")

    # ---- bridges ----------------------------------------------------------------------------

    def set_bridge(self, msisdn: str, user_id: str, now: float) -> None:
        self._run("INSERT OR REPLACE INTO bridges VALUES (?, ?, ?)", (msisdn, user_id, now))

    def bridge(self, msisdn: str) -> str | None:
        found = self._scalar("SELECT user_id FROM bridges WHERE msisdn = ?", (msisdn,))
        return None if found is None else str(found)
