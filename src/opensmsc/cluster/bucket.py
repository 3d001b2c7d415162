"""A JetStream KV bucket with a TTL, as the cluster uses it: records and leases.

What this is for (issue 14): membership records, connector slots and bind slots are KV entries
that live `ttl` seconds after their last write (the bucket's max_age, kept by the NATS server,
so a dead node's entries vanish without anyone deleting them). A lease is taken with `create`
(refused when the key exists: JetStream's expected-last-subject-sequence 0) and kept with
`update` against the revision the holder last wrote (compare-and-set: refused when someone else
took it after it expired). Nothing here retries or caches: callers act at their next tick.

What it is not: a connection. Errors come out as BusUnavailable (NATS away or too slow), the
only one callers handle; a refused create or update is a None result, not an error.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

import nats.errors
import nats.js.errors
from nats.js.client import JetStreamContext
from nats.js.kv import KeyValue

from opensmsc.errors import OpensmscError

__all__ = ["NATS_ERRORS", "Bucket", "BusUnavailable", "Entry"]

# What nats-py raises when the server is away, slow or refuses: one family for the callers.
NATS_ERRORS: Final = (nats.errors.Error, TimeoutError, OSError)


class BusUnavailable(OpensmscError):
    """NATS cannot be reached now (not connected yet, or the request failed). Cluster state is
    then stale; callers keep what they have and try again at their next tick."""


@dataclass(frozen=True, slots=True)
class Entry:
    key: str
    value: bytes
    revision: int


class Bucket:
    """The KV bucket `name` (made by Bus.kv)."""

    def __init__(
        self,
        name: str,
        kv: KeyValue,
        js: JetStreamContext,
        *,
        on_error: Callable[[str], None] | None = None,
    ) -> None:
        self._on_error = on_error
        self._name = name
        self._kv = kv
        self._js = js
        self._stream = f"KV_{name}"
        self._prefix = f"$KV.{name}."

    @property
    def name(self) -> str:
        return self._name

    def _failed(self, what: str) -> BusUnavailable:
        if self._on_error is not None:
            self._on_error(self._name)
        return BusUnavailable(what)

    async def put(self, key: str, value: bytes) -> int:
        """Write `key` whatever it holds; returns the revision. Raises BusUnavailable."""
        try:
            return await self._kv.put(key, value)
        except NATS_ERRORS as exc:
            raise self._failed(f"{self._name} put {key}: {exc!r}") from exc

    async def create(self, key: str, value: bytes) -> int | None:
        """Write `key` only if it holds nothing (never written, deleted or expired); returns
        the revision, or None when it is taken. Raises BusUnavailable."""
        try:
            return await self._kv.create(key, value)
        except nats.js.errors.KeyWrongLastSequenceError:
            return None
        except NATS_ERRORS as exc:
            raise self._failed(f"{self._name} create {key}: {exc!r}") from exc

    async def update(self, key: str, value: bytes, revision: int) -> int | None:
        """Write `key` only if `revision` is still its last write; returns the new revision, or
        None when it changed or expired meanwhile (the lease is lost). Raises BusUnavailable."""
        try:
            return await self._kv.update(key, value, last=revision)
        except nats.js.errors.KeyWrongLastSequenceError:
            return None
        except NATS_ERRORS as exc:
            raise self._failed(f"{self._name} update {key}: {exc!r}") from exc

    async def delete(self, key: str, revision: int | None = None) -> None:
        """Remove `key` (only if `revision` is its last write, when given): a lease given back
        before its TTL. Raises BusUnavailable."""
        try:
            await self._kv.delete(key, last=revision)
        except nats.js.errors.KeyWrongLastSequenceError:
            return
        except NATS_ERRORS as exc:
            raise self._failed(f"{self._name} delete {key}: {exc!r}") from exc

    async def get(self, key: str) -> Entry | None:
        """The live value of `key`, or None. Raises BusUnavailable."""
        try:
            entry = await self._kv.get(key)
        except (nats.js.errors.KeyNotFoundError, nats.js.errors.KeyDeletedError):
            return None
        except NATS_ERRORS as exc:
            raise self._failed(f"{self._name} get {key}: {exc!r}") from exc
        return Entry(key, entry.value or b"", entry.revision or 0)

    async def entries(self, prefix: str = "") -> list[Entry]:
        """Every live entry whose key starts with `prefix` (a whole key token, e.g. "binds.x."),
        in key order: one stream-info request lists the keys present, then one direct get each
        (a few dozen keys at most here: nodes, slots). Raises BusUnavailable."""
        try:
            info = await self._js.stream_info(
                self._stream, subjects_filter=f"{self._prefix}{prefix}>"
            )
        except NATS_ERRORS as exc:
            raise self._failed(f"{self._name} list: {exc!r}") from exc
        keys = sorted(s[len(self._prefix) :] for s in (info.state.subjects or {}))
        found = await asyncio.gather(*(self.get(key) for key in keys))
        return [entry for entry in found if entry is not None]
