"""The node's one connection to NATS: subjects for hints, JetStream KV buckets for shared state.

What this is for (issue 14): every cluster component (membership, wake-ups, connector slots,
limits) talks to the other nodes through this one connection, named `<name>` so two clusters
(or two tests) share a NATS server without seeing each other. The client reconnects by itself
(nats-py: endless attempts, subscriptions restored); until the first connection succeeds this
module keeps trying in the background, so a node starts and serves while NATS is away.

What it is not: a source of truth. Everything sent here is a hint or a lease with a TTL; the store
holds the messages, and each node keeps polling it as before, so a node cut off from NATS works
on, degraded (no cross-node wake-ups: its periodic claim takes the work, a little later), and
catches up when the bus returns.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js.api import KeyValueConfig, StorageType

from opensmsc.cluster.bucket import NATS_ERRORS, Bucket, BusUnavailable

__all__ = ["Bus", "BusUnavailable", "Handler", "token", "untoken"]

log = logging.getLogger(__name__)

Handler = Callable[[str, bytes], None]  # (subject, payload); called on the event loop

_SAFE: Final = re.compile(r"[A-Za-z0-9_-]{1,64}")


def token(value: str) -> str:
    """`value` as one subject token and KV key part: itself when it is letters, digits, '_' and
    '-' (an SMPP system_id usually is), else '=' and its hex (a safe value never starts with
    '=', so the two forms cannot collide). Subjects forbid '.', '*', '>' and spaces in a token."""
    if _SAFE.fullmatch(value):
        return value
    return "=" + value.encode().hex()


def untoken(text: str) -> str:
    """The value `token` encoded."""
    if text.startswith("="):
        return bytes.fromhex(text[1:]).decode()
    return text


@dataclass(frozen=True, slots=True)
class _Subscription:
    subject: str
    handler: Handler


class Bus:
    """One NATS connection for a node. `start()` returns at once; `connected` says whether the
    bus is up. `publish` never blocks and drops the hint when NATS is away (the store is the
    truth). `kv(suffix, ttl)` opens (creating if needed) the bucket `<name>_<suffix>`, whose
    entries live `ttl` seconds after their last write. Call `close()` at shutdown."""

    def __init__(
        self,
        url: str,
        *,
        name: str,
        node_id: str,
        connect_timeout: float = 2.0,
        reconnect_wait: float = 0.5,
    ) -> None:
        self._servers = [u.strip() for u in url.split(",") if u.strip()]
        self._name = name
        self._node_id = node_id
        self._connect_timeout = connect_timeout
        self._reconnect_wait = reconnect_wait
        self._nc: Client | None = None
        self._task: asyncio.Task[None] | None = None
        self._subscriptions: list[_Subscription] = []
        self._buckets: dict[str, Bucket] = {}
        self._up = asyncio.Event()
        self._closed = False

    @property
    def name(self) -> str:
        return self._name

    @property
    def node_id(self) -> str:
        return self._node_id

    @property
    def connected(self) -> bool:
        return self._nc is not None and self._nc.is_connected

    def subject(self, *tokens: str) -> str:
        """`<name>.<tokens...>`; tokens that may hold any character go through `token`."""
        return ".".join((self._name, *tokens))

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._connect_loop(), name="cluster-bus")

    async def wait_connected(self, timeout: float) -> None:
        """Returns once connected (the first time); raises TimeoutError (tests, startup)."""
        async with asyncio.timeout(timeout):
            await self._up.wait()

    def subscribe(self, subject: str, handler: Handler) -> None:
        """Deliver the messages of `subject` (wildcards allowed) to `handler` from now on,
        across reconnections; before the first connection it is made when the bus comes up."""
        subscription = _Subscription(subject, handler)
        self._subscriptions.append(subscription)
        if self._nc is not None:
            asyncio.get_running_loop().create_task(self._subscribe(self._nc, subscription))

    async def publish(self, subject: str, payload: bytes = b"") -> None:
        """Send a hint; dropped (logged at debug) when NATS is away."""
        nc = self._nc
        if nc is None or not nc.is_connected:
            return
        try:
            await nc.publish(subject, payload)
        except NATS_ERRORS as exc:
            log.debug("bus publish dropped subject=%s: %s", subject, exc)

    async def kv(self, suffix: str, *, ttl: float, history: int = 1) -> Bucket:
        """The bucket `<name>_<suffix>` (created on first use): leases and records that live
        `ttl` seconds after their last write. Raises BusUnavailable."""
        bucket = f"{self._name}_{suffix}"
        found = self._buckets.get(bucket)
        if found is not None:
            return found
        nc = self._connection()
        js = nc.jetstream()
        try:
            try:
                kv = await js.key_value(bucket)
            except nats.js.errors.BucketNotFoundError:
                # File storage: a restarted NATS server still has the leases and records
                # (their max_age runs on), so holders keep their slots across it.
                config = KeyValueConfig(
                    bucket=bucket, ttl=ttl, history=history, storage=StorageType.FILE
                )
                kv = await js.create_key_value(config)
        except NATS_ERRORS as exc:
            raise BusUnavailable(f"bucket {bucket}: {exc!r}") from exc
        found = self._buckets[bucket] = Bucket(bucket, kv, js, on_error=self._forget_bucket)
        return found

    def _forget_bucket(self, bucket: str) -> None:
        # A failed call may mean the bucket is gone: the next kv() finds or makes it again.
        self._buckets.pop(bucket, None)

    async def delete_buckets(self, *suffixes: str) -> None:
        """Delete buckets of this bus's name (tests, and `opensmsc cluster` teardown)."""
        js = self._connection().jetstream()
        for suffix in suffixes:
            bucket = f"{self._name}_{suffix}"
            self._buckets.pop(bucket, None)
            with contextlib.suppress(nats.js.errors.NotFoundError):
                await js.delete_key_value(bucket)

    async def close(self) -> None:
        self._closed = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        nc, self._nc = self._nc, None
        if nc is not None:
            # drain() flushes what was published; a server that hangs must not hold the stop.
            with contextlib.suppress(*NATS_ERRORS):
                async with asyncio.timeout(2.0):
                    await nc.drain()
            # drain() leaves the client closed; close() is then a no-op, else it stops it.
            with contextlib.suppress(*NATS_ERRORS):
                await nc.close()

    # ---- internals ------------------------------------------------------------------------------

    def _connection(self) -> Client:
        nc = self._nc
        if nc is None or not nc.is_connected:
            raise BusUnavailable(f"not connected to NATS ({', '.join(self._servers)})")
        return nc

    async def _connect_loop(self) -> None:
        # nats-py gives up on a failed first connection; after one, it reconnects by itself
        # forever (max_reconnect_attempts=-1). So only the first attempt loops here.
        while not self._closed:
            try:
                nc = await nats.connect(
                    servers=self._servers,
                    name=f"opensmsc {self._name} {self._node_id}",
                    connect_timeout=self._connect_timeout,
                    reconnect_time_wait=self._reconnect_wait,
                    max_reconnect_attempts=-1,
                    allow_reconnect=True,
                    # A node's own hints come back to it otherwise: it has acted on them locally.
                    no_echo=True,
                    error_cb=self._on_error,
                    disconnected_cb=self._on_disconnected,
                    reconnected_cb=self._on_reconnected,
                )
            except NATS_ERRORS as exc:
                log.warning("bus connect failed servers=%s: %r", self._servers, exc)
                await asyncio.sleep(self._reconnect_wait * 2)
                continue
            self._nc = nc
            log.info("bus connected servers=%s node_id=%s", self._servers, self._node_id)
            for subscription in self._subscriptions:
                await self._subscribe(nc, subscription)
            self._up.set()
            return

    async def _subscribe(self, nc: Client, subscription: _Subscription) -> None:
        handler = subscription.handler

        async def on_message(msg: Msg) -> None:
            handler(msg.subject, msg.data)

        try:
            await nc.subscribe(subscription.subject, cb=on_message)
        except NATS_ERRORS as exc:
            log.error("bus subscribe failed subject=%s: %r", subscription.subject, exc)

    async def _on_error(self, exc: Exception) -> None:
        log.debug("bus error node_id=%s: %r", self._node_id, exc)

    async def _on_disconnected(self) -> None:
        log.warning("bus disconnected node_id=%s: working on from the store", self._node_id)

    async def _on_reconnected(self) -> None:
        log.info("bus reconnected node_id=%s", self._node_id)
        # The server may have lost a bucket (a new server, a purge): look them up again.
        self._buckets.clear()
