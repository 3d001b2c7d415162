"""`Idempotency-Key` on the POST routes: a retried request gets the first answer, and its
messages are stored once (draft-ietf-httpapi-idempotency-key-header).

How: the first request with an account's key stores its answer in the transaction of its
messages (store.SavedAnswer via Acceptor.store); a later request with that key is answered
from the store, byte for byte, with `Idempotent-Replayed: true`, and stores nothing. Requests
with the same key at once are taken one after the other (the second waits for the first and
then finds its answer); the store's unique (account, key) is the last guard: a write whose key
was stored meanwhile stores nothing (KeyTaken) and is answered from the store.

Only a 201 is saved: a refusal (422, 429, 503) stored nothing, so a retry is evaluated again,
which is what a client retrying after a 429 or a 503 wants. The same key with another request
(another path or another body, compared as canonical JSON) is 422 `idempotency-key-reused`.
An answer is kept at least `[api] idempotency_ttl` seconds; `purge_forever` deletes older ones.

What it is not: the routes (messages.py) or the SQL (store/sqlite/answers.py).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any, Final

from fastapi import Response

from opensmsc.errors import StoreUnavailable
from opensmsc.http.problems import Problem
from opensmsc.store import Clock, KeyTaken, SavedAnswer, Store

__all__ = ["Idempotency", "Save", "fingerprint"]

log = logging.getLogger(__name__)

# Builds the answer to save from the response about to be sent and the time of its messages.
Save = Callable[[Response, datetime], SavedAnswer]
_KEPT_HEADERS: Final = ("content-type", "location")
REPLAYED: Final = "Idempotent-Replayed"


def fingerprint(path: str, document: Any) -> str:
    """What tells a retry (the same path and body) from another request with the same key.
    `document` is the validated body as JSON values: key order and whitespace do not count."""
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(f"{path}\n{canonical}".encode()).hexdigest()


class Idempotency:
    """The keys of one API: answers saved in `store`, kept `ttl` seconds by `clock`."""

    def __init__(self, store: Store, *, ttl: float, clock: Clock) -> None:
        self._store = store
        self._ttl = timedelta(seconds=ttl)
        self._clock = clock
        self._in_flight: dict[tuple[str, str], asyncio.Future[None]] = {}

    async def run(
        self,
        system_id: str,
        key: str | None,
        request_fingerprint: str,
        send: Callable[[Save | None], Awaitable[Response]],
    ) -> Response:
        """The answer of `send`, or, with a key used before, the saved one. `send(save)` stores
        the messages with `save(response, submitted_at)` when `save` is given."""
        if key is None:
            return await send(None)
        slot = (system_id, key)
        while (pending := self._in_flight.get(slot)) is not None:
            await asyncio.shield(pending)
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._in_flight[slot] = done
        try:
            for _ in range(2):
                saved = await self._store.saved_answer(system_id, key)
                if saved is not None:
                    return _replay(saved, request_fingerprint)
                try:
                    return await send(_saver(system_id, key, request_fingerprint))
                except KeyTaken:
                    continue  # another node's request with this key committed first
            raise StoreUnavailable(f"idempotency key {key!r}: stored and not found")
        finally:
            del self._in_flight[slot]
            done.set_result(None)

    async def purge_forever(self, interval: float) -> None:
        """Delete the answers older than the ttl every `interval` seconds, until cancelled."""
        while True:
            try:
                gone = await self._store.purge_answers(self._clock() - self._ttl)
            except StoreUnavailable as exc:
                log.warning("idempotency answers not purged: %s", exc)
            else:
                if gone:
                    log.info("idempotency answers purged count=%d", gone)
            await asyncio.sleep(interval)


def _saver(system_id: str, key: str, request_fingerprint: str) -> Save:
    def save(response: Response, created_at: datetime) -> SavedAnswer:
        headers = tuple(
            (name, value)
            for name, value in response.headers.items()
            if name.lower() in _KEPT_HEADERS
        )
        return SavedAnswer(
            system_id=system_id,
            key=key,
            fingerprint=request_fingerprint,
            status=response.status_code,
            headers=headers,
            body=bytes(response.body),
            created_at=created_at,
        )

    return save


def _replay(saved: SavedAnswer, request_fingerprint: str) -> Response:
    if saved.fingerprint != request_fingerprint:
        raise Problem(
            422,
            "idempotency-key-reused",
            "Idempotency-Key: this key was used with another request (another path or body); "
            "use a new key for a new request",
            field="Idempotency-Key",
        )
    response = Response(content=saved.body, status_code=saved.status)
    for name, value in saved.headers:
        response.headers[name] = value
    response.headers[REPLAYED] = "true"
    return response
