"""The SQL of saved answers (store/answers.py): written inside a submit's transaction, read by
account and key, purged by age.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from datetime import datetime
from typing import Final

from opensmsc.store.answers import KeyTaken, SavedAnswer
from opensmsc.store.model import from_us, to_us

__all__ = ["PURGE_CHUNK", "insert_answer", "op_purge_answers", "read_answer"]

PURGE_CHUNK: Final = 2000

_INSERT: Final = (
    "INSERT INTO saved_answer (system_id, key, fingerprint, status, headers, body, created_at)"
    " VALUES (?, ?, ?, ?, ?, ?, ?)"
)
_SELECT: Final = (
    "SELECT fingerprint, status, headers, body, created_at FROM saved_answer"
    " WHERE system_id = ? AND key = ?"
)


def insert_answer(conn: sqlite3.Connection, answer: SavedAnswer) -> None:
    """Raises KeyTaken (nothing written) when the account has an answer with this key."""
    try:
        conn.execute(
            _INSERT,
            (
                answer.system_id,
                answer.key,
                answer.fingerprint,
                answer.status,
                json.dumps([list(pair) for pair in answer.headers]),
                answer.body,
                to_us(answer.created_at),
            ),
        )
    except sqlite3.IntegrityError as exc:
        raise KeyTaken(answer.system_id, answer.key) from exc


def read_answer(conn: sqlite3.Connection, system_id: str, key: str) -> SavedAnswer | None:
    row = conn.execute(_SELECT, (system_id, key)).fetchone()
    if row is None:
        return None
    fingerprint, status, headers, body, created_at = row
    return SavedAnswer(
        system_id=system_id,
        key=key,
        fingerprint=str(fingerprint),
        status=int(status),
        headers=tuple((str(name), str(value)) for name, value in json.loads(headers)),
        body=bytes(body),
        created_at=from_us(int(created_at)),
    )


def op_purge_answers(older_than: datetime) -> Callable[[sqlite3.Connection], int]:
    def run(conn: sqlite3.Connection) -> int:
        cursor = conn.execute(
            "DELETE FROM saved_answer WHERE rowid IN (SELECT rowid FROM saved_answer"
            " WHERE created_at < ? ORDER BY created_at LIMIT ?)",
            (to_us(older_than), PURGE_CHUNK),
        )
        return int(cursor.rowcount)

    return run
