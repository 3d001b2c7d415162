"""Cluster-wide limits: an account's throughput cap, a connector's rate and an account's
max_binds hold across all nodes, not per node.

Rates (`SharedRates`): each node keeps a local token bucket per limit, whose rate is this node's
share of the cluster's cap; the shares follow demand. Every node counts what is offered to each
of its limits (taken or refused) and puts that demand in its membership record each second
(membership.py); after each read of the records every node computes the same max-min fair split
of each cap over the nodes' demands (a node offered less than an even split gets what it
offers, the rest is split among the busier ones; when the cap exceeds the total demand, the
spare is split evenly so each node can grow), and sets its own bucket's rate and burst to its
share. The shares sum to the cap, so the cluster's rate holds it, whatever the spread of load.

Why this and not token batches from a KV counter (compare-and-set): the shares cost no round
trip on the submit path and no extra NATS traffic (they ride on the membership record already
written each second), and a node keeps its share while NATS is away; CAS batches would cost a
KV write per batch per node, contend between nodes on one key, and stall submits while NATS is
away. The price is one beat of lag: when the load moves from one node to another, the cap is
under-used (never exceeded) for about a second. Measured in tests/cluster/test_limits.py: three
nodes offered 600, 300 and 60 msg/s against a 300 msg/s cap hold it within 5%.

max_binds (`BindSlots`): one KV key per bind slot, `binds.<system_id>.<i>` (i < max_binds) in
`<name>_binds`, created at bind (refused when all are held: the bind is refused), refreshed each
second while the session lives, deleted at unbind; the TTL frees the slots of a dead node. While
NATS is away binds are allowed on the node's own max_binds alone (the local check stays).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from opensmsc.accounts import TokenBucket
from opensmsc.cluster.bucket import BusUnavailable
from opensmsc.cluster.bus import Bus, token
from opensmsc.cluster.membership import NodeRecord

__all__ = ["BINDS_BUCKET", "BindSlots", "SharedBucket", "SharedRates", "fair_shares"]

log = logging.getLogger(__name__)

BINDS_BUCKET = "binds"
# A node with no demand still gets this fraction of the cap's even split, so its first
# messages after a quiet spell are not all refused for a beat (bounded: the busy nodes give it
# up, so the sum stays the cap).
_IDLE_FLOOR = 0.02


def fair_shares(rate: float, demands: Mapping[str, float]) -> dict[str, float]:
    """Max-min fair split of `rate` over the nodes of `demands` (node_id → offered/s): each node
    gets min(its demand, an even split of what is left), in increasing order of demand; the
    spare (total demand below `rate`) is split evenly. Every node gets at least a small floor.
    The shares sum to `rate`."""
    if not demands:
        return {}
    count = len(demands)
    floor = rate * _IDLE_FLOOR / count
    budget = rate - floor * count
    shares = dict.fromkeys(demands, floor)
    left = budget
    ordered = sorted(demands, key=lambda n: (demands[n], n))
    for index, node_id in enumerate(ordered):
        even = left / (count - index)
        given = min(max(0.0, demands[node_id] - floor), even)
        shares[node_id] += given
        left -= given
    if left > 0:
        for node_id in shares:
            shares[node_id] += left / count
    return shares


class SharedBucket(TokenBucket):
    """A limit's local bucket: a TokenBucket at this node's share of the cap, counting what is
    offered to it (taken or refused) for the demand this node reports."""

    __slots__ = ("cap", "cap_burst", "offered")

    def __init__(self, rate: float, burst: float) -> None:
        super().__init__(rate, burst)
        self.cap = rate  # the cluster's rate
        self.cap_burst = burst
        self.offered = 0.0  # since the last demand report

    def try_take(self, now: float, n: int = 1, *, allow_debt: bool = False) -> bool:
        self.offered += n
        return super().try_take(now, n, allow_debt=allow_debt)

    def set_share(self, now: float, share: float) -> None:
        # The burst shrinks with the share, or N nodes together would burst N times the cap.
        self.set_rate(now, share, max(1.0, self.cap_burst * share / self.cap))


class SharedRates:
    """This node's buckets of the cluster's rate limits, by key ("account:<id>",
    "connector:<name>"). `demand()` goes in this node's membership record; `on_view` (a
    membership listener) re-shares every cap from the nodes' records."""

    def __init__(
        self,
        node_id: str,
        *,
        clock: Callable[[], float] = time.monotonic,
        quiet_after: float = 60.0,
    ) -> None:
        self._node_id = node_id
        self._clock = clock
        self._quiet_after = quiet_after
        self._active: dict[str, float] = {}  # limits reported, by when last offered anything
        self._buckets: dict[str, SharedBucket] = {}
        self._reported_at: float | None = None
        self._nodes = 1  # live nodes in the last view

    def bucket(self, key: str, rate: float, burst: float) -> SharedBucket:
        """The bucket of `key` (made, or its cap changed by a reload). Until its first
        demand is shared, a new bucket gets an even split over the nodes last seen (the whole
        cap on a node alone), so N nodes starting at once stay within the cap."""
        found = self._buckets.get(key)
        if found is None or (found.cap, found.cap_burst) != (rate, burst):
            found = self._buckets[key] = SharedBucket(rate, burst)
            if self._nodes > 1:
                found.set_share(self._clock(), rate / self._nodes)
        return found

    def forget(self, keys: Iterable[str]) -> None:
        for key in keys:
            self._buckets.pop(key, None)

    def demand(self) -> dict[str, float]:
        """Offered per second for each limit since the last call (0 for the first call), for
        the limits offered anything in the last `quiet_after` seconds: a record stays small
        with many accounts, most of them idle at any time."""
        now = self._clock()
        elapsed = None if self._reported_at is None else now - self._reported_at
        self._reported_at = now
        found: dict[str, float] = {}
        for key, bucket in self._buckets.items():
            if bucket.offered > 0:
                self._active[key] = now
            elif now - self._active.get(key, now) > self._quiet_after:
                self._active.pop(key, None)
                continue
            else:
                self._active.setdefault(key, now)
            found[key] = bucket.offered / elapsed if elapsed else 0.0
            bucket.offered = 0.0
        return found

    def on_view(self, view: Mapping[str, NodeRecord]) -> None:
        """Set each bucket's rate to this node's fair share of its cap, from the demands of the
        live nodes (membership listener)."""
        now = self._clock()
        self._nodes = max(1, len(view))
        for key, bucket in self._buckets.items():
            demands = {
                node_id: node.demand[key] for node_id, node in view.items() if key in node.demand
            }
            if self._node_id not in demands:
                if key in self._active or not demands:
                    continue  # made since the last report, or idle everywhere: keep it
                # Quiet here for long, busy elsewhere: the busy nodes share the cap without
                # this node, which keeps only the floor until its own demand is reported.
                demands[self._node_id] = 0.0
            shares = fair_shares(bucket.cap, demands)
            bucket.set_share(now, shares[self._node_id])


@dataclass(slots=True)
class _Slot:
    key: str
    revision: int


class BindSlots:
    """max_binds across the cluster: `acquire` one of the account's slots at bind, `release`
    it at unbind; `start()` refreshes the held ones every `interval` (their TTL frees them if
    this node dies)."""

    def __init__(self, bus: Bus, *, ttl: float = 5.0, interval: float = 1.0) -> None:
        self._bus = bus
        self._ttl = ttl
        self._interval = interval
        self._held: dict[object, _Slot] = {}  # by session
        self._task: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def acquire(self, session: object, system_id: str, max_binds: int) -> bool:
        """Take a free bind slot of `system_id` for `session`: False when the cluster already
        has `max_binds` sessions of it. True when NATS is away (the node's own max_binds
        still applies)."""
        try:
            bucket = await self._bus.kv(BINDS_BUCKET, ttl=self._ttl)
            value = self._bus.node_id.encode()
            for slot in range(max_binds):
                key = f"binds.{token(system_id)}.{slot}"
                revision = await bucket.create(key, value)
                if revision is not None:
                    self._held[session] = _Slot(key, revision)
                    return True
        except BusUnavailable as exc:
            log.warning("bind slots not reachable system_id=%s: %s", system_id, exc)
            return True
        return False

    def release(self, session: object) -> None:
        """Give the session's slot back (its delete goes out in the background; if it cannot,
        the TTL frees the slot)."""
        slot = self._held.pop(session, None)
        if slot is not None:
            task = asyncio.get_running_loop().create_task(self._delete(slot))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _delete(self, slot: _Slot) -> None:
        with contextlib.suppress(BusUnavailable):
            bucket = await self._bus.kv(BINDS_BUCKET, ttl=self._ttl)
            await bucket.delete(slot.key, slot.revision)

    def held(self) -> int:
        return len(self._held)

    async def refresh(self) -> None:
        """Rewrite every held slot (compare-and-set); one lost (expired while NATS was away,
        then taken) is taken again if free, else the session keeps running uncounted."""
        try:
            bucket = await self._bus.kv(BINDS_BUCKET, ttl=self._ttl)
        except BusUnavailable:
            return
        value = self._bus.node_id.encode()
        for session, slot in list(self._held.items()):
            try:
                revision = await bucket.update(slot.key, value, slot.revision)
                if revision is None:
                    revision = await bucket.create(slot.key, value)
            except BusUnavailable:
                return
            if revision is None:
                log.warning("bind slot lost key=%s", slot.key)
                self._held.pop(session, None)
            else:
                slot.revision = revision

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="cluster-bind-slots")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        for session in list(self._held):
            self.release(session)
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                await self.refresh()
            except Exception:
                log.exception("bind slots refresh failed node_id=%s", self._bus.node_id)
