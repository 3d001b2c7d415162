"""Which nodes bind each upstream connector: N slots per connector, leased in a KV bucket.

What this is for (issue 14): an upstream SMSC usually allows a connector's system_id a fixed
number of binds, so the cluster binds each connector `cluster_binds` times (default 1), not once
per node. A slot is the KV key `conn.<connector>.<i>` (i < cluster_binds) in `<name>_slots`,
whose max_age is the TTL: a node takes a free slot with a create (refused when the key exists),
keeps it with a compare-and-set update each tick, and runs the connector only while it holds
one. When the holder dies its key expires and another node's next tick takes it and binds:
failover within TTL + one tick. A node holds at most one slot of a connector.

Fencing: a holder that cannot refresh (NATS away) stops its connector once its last refresh is
older than TTL - 2 ticks, before the key can expire and another node take it, so the connector
is never bound more than cluster_binds times for longer than a tick, however the bus fails.
A node that stops (`stop()`) gives its slots back at once.

What it is not: the connector (upstream/connector.py) or its start and stop (upstream/pool.py,
called through `start_connector` / `stop_connector`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from opensmsc.cluster.bucket import Bucket, BusUnavailable
from opensmsc.cluster.bus import Bus, token

__all__ = ["SLOTS_BUCKET", "ConnectorOwnership"]

log = logging.getLogger(__name__)

SLOTS_BUCKET = "slots"


@dataclass(slots=True)
class _Held:
    key: str
    revision: int
    refreshed: float  # monotonic time of the last successful write


class ConnectorOwnership:
    """Takes, keeps and gives back this node's connector slots. `set_connectors` says which
    connectors exist and how many binds each has in the cluster (at start and on reload);
    `start()` ticks every `interval` in the background; `tick()` is one round (tests).
    `wanted`, when given, is read at each tick instead (the node's connectors, as reloads
    leave them)."""

    def __init__(
        self,
        bus: Bus,
        *,
        start_connector: Callable[[str], Awaitable[None]],
        stop_connector: Callable[[str], Awaitable[None]],
        ttl: float = 5.0,
        interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        wanted: Callable[[], Mapping[str, int]] | None = None,
    ) -> None:
        if ttl <= 2 * interval:
            raise ValueError(f"ttl {ttl} must exceed two ticks ({interval} s each)")
        self._bus = bus
        self._start_connector = start_connector
        self._stop_connector = stop_connector
        self._ttl = ttl
        self._interval = interval
        self._clock = clock
        self._wanted: dict[str, int] = {}
        self._wanted_now = wanted  # read at each tick when given (reloads change it)
        self._held: dict[str, _Held] = {}
        self._task: asyncio.Task[None] | None = None

    def set_connectors(self, binds: Mapping[str, int]) -> None:
        """The connectors of the cluster and their `cluster_binds`; one no longer listed is
        given back at the next tick (its connector stopped)."""
        self._wanted = dict(binds)

    def held(self) -> tuple[str, ...]:
        """The connectors this node holds a slot of (and runs), by name."""
        return tuple(sorted(self._held))

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="cluster-ownership")

    async def stop(self) -> None:
        """Stop ticking, stop the connectors held, and give their slots back (another node
        takes them at its next tick rather than after the TTL)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        for name in list(self._held):
            await self._release(name, give_back=True)

    async def tick(self) -> None:
        """Refresh the slots held, give back those no longer wanted, try to take a slot of each
        connector not held. Never raises for NATS trouble (it fences instead)."""
        if self._wanted_now is not None:
            self.set_connectors(self._wanted_now())
        try:
            bucket = await self._bus.kv(SLOTS_BUCKET, ttl=self._ttl)
        except BusUnavailable as exc:
            log.debug("connector slots not reachable: %s", exc)
            await self._fence()
            return
        for name in list(self._held):
            if name not in self._wanted:
                await self._release(name, give_back=True)
            else:
                await self._refresh(bucket, name)
        for name, binds in self._wanted.items():
            if name not in self._held:
                await self._take(bucket, name, binds)

    # ---- internals ------------------------------------------------------------------------------

    def _key(self, name: str, slot: int) -> str:
        return f"conn.{token(name)}.{slot}"

    async def _take(self, bucket: Bucket, name: str, binds: int) -> None:
        value = self._bus.node_id.encode()
        for slot in range(binds):
            key = self._key(name, slot)
            try:
                revision = await bucket.create(key, value)
            except BusUnavailable as exc:
                log.debug("connector slot not taken connector=%s: %s", name, exc)
                return
            if revision is None:
                continue  # another node holds this one
            self._held[name] = _Held(key, revision, self._clock())
            log.info(
                "connector slot taken connector=%s slot=%d node_id=%s",
                name,
                slot,
                self._bus.node_id,
            )
            try:
                await self._start_connector(name)
            except Exception:
                # It cannot run here (a bug, a bad setting): let another node have the slot.
                log.exception("connector start failed connector=%s", name)
                await self._release(name, give_back=True)
            return

    async def _refresh(self, bucket: Bucket, name: str) -> None:
        held = self._held[name]
        try:
            revision = await bucket.update(held.key, self._bus.node_id.encode(), held.revision)
        except BusUnavailable as exc:
            log.debug("connector slot not refreshed connector=%s: %s", name, exc)
            await self._fence()
            return
        if revision is None:
            # It expired and another node took it (we were too slow): it binds, we stop.
            log.warning("connector slot lost connector=%s key=%s", name, held.key)
            await self._release(name, give_back=False)
            return
        held.revision = revision
        held.refreshed = self._clock()

    async def _fence(self) -> None:
        # The key expires `ttl` after our last write; stop well before another node can take it.
        limit = self._clock() - (self._ttl - 2 * self._interval)
        for name, held in list(self._held.items()):
            if held.refreshed < limit:
                log.warning("connector stopped, slot not refreshed connector=%s", name)
                await self._release(name, give_back=False)

    async def _release(self, name: str, *, give_back: bool) -> None:
        held = self._held.pop(name, None)
        if held is None:
            return
        try:
            await self._stop_connector(name)
        except Exception:
            log.exception("connector stop failed connector=%s", name)
        if give_back:
            with contextlib.suppress(BusUnavailable):
                bucket = await self._bus.kv(SLOTS_BUCKET, ttl=self._ttl)
                await bucket.delete(held.key, held.revision)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            started = loop.time()
            try:
                await self.tick()
            except Exception:
                log.exception("connector slots tick failed node_id=%s", self._bus.node_id)
            await asyncio.sleep(max(0.05, self._interval - (loop.time() - started)))
