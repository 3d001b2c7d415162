"""Who is in the cluster: each node's record in a JetStream KV bucket that forgets it after a TTL.

What this is for (issue 14): every `interval` (1 s) a node writes its `NodeRecord` (addresses,
bound sessions per account, connectors it holds, load, and the demand the limits share out) to
the bucket `<name>_nodes` under its node_id, and reads everyone's. The bucket's max_age is the
TTL, so a node that stops writing (killed, cut off) vanishes from every view within the TTL,
with no failure detector of ours. `GET /v1/admin/cluster` and `opensmsc cluster status` show
`nodes()`; wake-ups ask `receivers_elsewhere` whether another node can deliver to an account.

What it is not: a lock. Two nodes may briefly disagree on who is alive; decisions that need one
holder (connector slots, bind slots) are KV creates of their own (ownership.py, limits.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import orjson

from opensmsc.cluster.bucket import Bucket, BusUnavailable
from opensmsc.cluster.bus import Bus

__all__ = ["BUCKET", "Membership", "NodeRecord", "SessionCounts"]

log = logging.getLogger(__name__)

BUCKET = "nodes"


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionCounts:
    """An account's bound sessions on one node: `receivers` can take deliver_sm (receiver and
    transceiver binds), `transmitters` only submit."""

    receivers: int = 0
    transmitters: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeRecord:
    """What a node tells the others each second. `demand` is what limits.py shares caps by:
    offered messages per second per limit key over the last interval."""

    node_id: str
    addresses: Mapping[str, str] = field(default_factory=dict)  # "smpp", "admin", "api" → host:port
    sessions: Mapping[str, SessionCounts] = field(default_factory=dict)  # by system_id
    connectors: tuple[str, ...] = ()  # upstream connectors this node holds a slot of
    msg_per_s: float = 0.0
    queue: int = 0  # submits waiting here for their commit (a node falling behind)
    demand: Mapping[str, float] = field(default_factory=dict)
    at: float = 0.0  # wall-clock time of the write (display only; liveness is the TTL)

    def to_json(self) -> bytes:
        return orjson.dumps(
            {
                "node_id": self.node_id,
                "addresses": dict(self.addresses),
                "sessions": {
                    system_id: {"receivers": c.receivers, "transmitters": c.transmitters}
                    for system_id, c in self.sessions.items()
                },
                "connectors": list(self.connectors),
                "msg_per_s": self.msg_per_s,
                "queue": self.queue,
                "demand": dict(self.demand),
                "at": self.at,
            }
        )

    @classmethod
    def from_json(cls, data: bytes) -> NodeRecord:
        """Raises ValueError (orjson.JSONDecodeError), KeyError or TypeError on a record not
        written by `to_json`."""
        raw = orjson.loads(data)
        return cls(
            node_id=str(raw["node_id"]),
            addresses={str(k): str(v) for k, v in raw.get("addresses", {}).items()},
            sessions={
                str(system_id): SessionCounts(
                    receivers=int(counts.get("receivers", 0)),
                    transmitters=int(counts.get("transmitters", 0)),
                )
                for system_id, counts in raw.get("sessions", {}).items()
            },
            connectors=tuple(str(c) for c in raw.get("connectors", ())),
            msg_per_s=float(raw.get("msg_per_s", 0.0)),
            queue=int(raw.get("queue", 0)),
            demand={str(k): float(v) for k, v in raw.get("demand", {}).items()},
            at=float(raw.get("at", 0.0)),
        )


class Membership:
    """Publishes this node's record and keeps the view of all live nodes.

    `report()` builds this node's record at each beat; `listeners` are called with the new view
    after each successful read (limits.py re-shares its caps there). While NATS is away the last
    view is kept, minus the nodes not heard of for `ttl`, and the node goes on alone.
    """

    def __init__(
        self,
        bus: Bus,
        report: Callable[[], NodeRecord],
        *,
        ttl: float = 5.0,
        interval: float = 1.0,
    ) -> None:
        self._bus = bus
        self._report = report
        self._ttl = ttl
        self._interval = interval
        self._nodes: dict[str, NodeRecord] = {}
        self._seen: dict[str, float] = {}  # node_id → monotonic time it was last read live
        self._listeners: list[Callable[[Mapping[str, NodeRecord]], None]] = []
        self._task: asyncio.Task[None] | None = None
        self.beats = 0  # successful beats (tests, status)

    @property
    def node_id(self) -> str:
        return self._bus.node_id

    def add_listener(self, listener: Callable[[Mapping[str, NodeRecord]], None]) -> None:
        self._listeners.append(listener)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="cluster-membership")

    async def stop(self) -> None:
        """Stop beating and take this node's record out (the others see it gone at once
        rather than after the TTL)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        with contextlib.suppress(BusUnavailable):
            bucket = await self._bucket()
            await bucket.delete(self.node_id)

    async def beat(self) -> None:
        """Write this node's record, then read everyone's. Raises BusUnavailable."""
        bucket = await self._bucket()
        record = self._report()
        await bucket.put(self.node_id, record.to_json())
        entries = await bucket.entries()
        now = time.monotonic()
        nodes: dict[str, NodeRecord] = {}
        for entry in entries:
            try:
                node = NodeRecord.from_json(entry.value)
            except (ValueError, KeyError, TypeError) as exc:
                log.warning("cluster record unreadable key=%s: %r", entry.key, exc)
                continue
            nodes[node.node_id] = node
            self._seen[node.node_id] = now
        nodes[record.node_id] = record  # our own, as written now
        self._nodes = nodes
        self.beats += 1
        self._notify()

    def nodes(self) -> list[NodeRecord]:
        """The live nodes (this one included), by node_id."""
        self._forget_silent()
        return [self._nodes[n] for n in sorted(self._nodes)]

    def receivers_elsewhere(self, system_id: str) -> list[str]:
        """The other live nodes with a receiving session of `system_id` bound, by node_id."""
        self._forget_silent()
        return sorted(
            node_id
            for node_id, node in self._nodes.items()
            if node_id != self.node_id
            and (counts := node.sessions.get(system_id)) is not None
            and counts.receivers > 0
        )

    def view(self) -> Mapping[str, NodeRecord]:
        self._forget_silent()
        return dict(self._nodes)

    # ---- internals ------------------------------------------------------------------------------

    async def _bucket(self) -> Bucket:
        return await self._bus.kv(BUCKET, ttl=self._ttl)

    def _forget_silent(self) -> None:
        # While NATS is away no read succeeds: drop what the TTL would have dropped.
        limit = time.monotonic() - self._ttl
        for node_id in [n for n, seen in self._seen.items() if seen < limit]:
            self._seen.pop(node_id, None)
            if node_id != self.node_id:
                self._nodes.pop(node_id, None)

    def _notify(self) -> None:
        view = dict(self._nodes)
        for listener in self._listeners:
            listener(view)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            started = loop.time()
            try:
                await self.beat()
            except BusUnavailable as exc:
                log.debug("cluster beat skipped node_id=%s: %s", self.node_id, exc)
                self._forget_silent()
                self._notify()
            except Exception:
                # One bad beat (a bug) must not end membership for good: the node would look
                # dead to the others while it serves.
                log.exception("cluster beat failed node_id=%s", self.node_id)
            await asyncio.sleep(max(0.05, self._interval - (loop.time() - started)))
