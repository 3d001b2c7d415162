"""Saved answers: what a front door answered to a request made with an idempotency key, kept
so that a retry of the request gets the same answer and stores nothing (the HTTP API's
`Idempotency-Key`, issue 12).

What this is for: `Store.submit_many(records, answer=...)` writes the answer in the same
transaction as the messages it names, so a crash leaves either both (a retry is answered from
the store) or neither (a retry stores the messages as if for the first time). The key of an
answer is (account, key): another account may use the same key. `KeyTaken` says the key was
stored meanwhile (another request with it committed first); nothing was written.

What it is not: the HTTP side (fingerprints of requests, what a retry with another body gets),
which is http/api/idempotency.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from opensmsc.store.model import StoreError

__all__ = ["KeyTaken", "SavedAnswer"]


@dataclass(frozen=True, slots=True, kw_only=True)
class SavedAnswer:
    """The answer of account `system_id`'s request with idempotency key `key`, made at
    `created_at`. `fingerprint` tells a retry of the same request from another request with the
    same key; `status`, `headers` and `body` are the answer as sent."""

    system_id: str
    key: str
    fingerprint: str
    status: int
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = field(default=b"", repr=False)
    created_at: datetime


class KeyTaken(StoreError):
    """An answer with this account and key is stored already: nothing of this write was."""

    def __init__(self, system_id: str, key: str) -> None:
        self.system_id = system_id
        self.key = key
        super().__init__(f"system_id={system_id}: idempotency key {key!r} already used")
