"""`[cluster]` wired into a node: the bus, membership, wake-ups, connector slots and limits.

What this is for (issue 14): with `[cluster]` the node is one of several on a shared store
(PostgreSQL: helper pg's `[cluster] postgres`). The engine is built before the cluster parts
that need it, so it is given a `ClusterLink` (its ClusterHints), connected to the Wakeups once
they exist, like the OutbindLink; a hint before that (there is none: the engine starts working
last) is dropped. `BusService` connects to NATS first (binds take cluster slots through it);
`ClusterService` starts after the connectors and the listeners: it joins the
membership, starts the wake-ups and takes connector slots (UpstreamService leaves its connectors
stopped in a cluster: they run only on the nodes that hold a slot).

What it is not: the cluster logic (opensmsc.cluster), or the shared store.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

from opensmsc.accounts import TokenBucket
from opensmsc.cluster import (
    BindSlots,
    Bus,
    ConnectorOwnership,
    Membership,
    NodeRecord,
    SessionCounts,
    SharedRates,
    Wakeups,
)
from opensmsc.config import ClusterConfig
from opensmsc.engine import StoreAndForward
from opensmsc.smsc import SessionRegistry
from opensmsc.upstream import Connectors

__all__ = ["BusService", "ClusterLink", "ClusterParts", "ClusterService"]


class ClusterLink:
    """The engine's ClusterHints, connected to the node's Wakeups once they exist."""

    def __init__(self) -> None:
        self._wakeups: Wakeups | None = None

    def connect(self, wakeups: Wakeups) -> None:
        if self._wakeups is not None:
            raise RuntimeError("the cluster link is already connected")
        self._wakeups = wakeups

    def receipt_stored(self, system_id: str) -> None:
        if self._wakeups is not None:
            self._wakeups.receipt_stored(system_id)

    def work_stored(self) -> None:
        if self._wakeups is not None:
            self._wakeups.work_stored()

    def skip_mo_of(self) -> Collection[str]:
        return () if self._wakeups is None else self._wakeups.skip_mo_of()

    def route_elsewhere(self, route: str) -> bool:
        return self._wakeups is not None and self._wakeups.route_elsewhere(route)

    def sends_receipts(self, system_id: str) -> bool:
        return self._wakeups is None or self._wakeups.sends_receipts(system_id)


@dataclass(frozen=True, slots=True)
class ClusterParts:
    """What the node's other services are given before the cluster starts: the engine's hints
    (`link`), the authenticator's buckets (`rates`: each account's throughput cap shared with
    the other nodes) and the sessions' bind slots (`bind_slots`: max_binds cluster-wide), all
    on the node's one `bus`. ClusterService starts them."""

    config: ClusterConfig
    link: ClusterLink
    bus: Bus
    rates: SharedRates
    bind_slots: BindSlots

    @classmethod
    def build(cls, config: ClusterConfig) -> ClusterParts:
        bus = Bus(config.nats, name=config.name, node_id=config.node_id)
        return cls(
            config=config,
            link=ClusterLink(),
            bus=bus,
            rates=SharedRates(config.node_id),
            bind_slots=BindSlots(bus, ttl=config.node_ttl),
        )

    def account_bucket(self, system_id: str, rate: float, burst: float) -> TokenBucket:
        """Authenticator's `buckets`: this node's share of the account's cap."""
        return self.rates.bucket(f"account:{system_id}", rate, burst)

    def connector_bucket(self, name: str, rate: float, burst: float) -> TokenBucket:
        """ConnectorOptions' `throughput_bucket`: this node's share of the connector's rate
        (several nodes run it when its cluster_binds is above 1)."""
        return self.rates.bucket(f"connector:{name}", rate, burst)


class BusService:
    """The node's NATS connection as a service: started before the engine and the listeners
    (a bind's cluster slot needs it), closed after everything that uses it."""

    name = "cluster bus"

    def __init__(self, bus: Bus) -> None:
        self.bus = bus

    async def start(self) -> None:
        await self.bus.start()  # connects in the background: the node serves meanwhile

    async def stop(self) -> None:
        await self.bus.close()


def session_counts(registry: SessionRegistry) -> dict[str, SessionCounts]:
    """The bound sessions of each account, receivers (receiver, transceiver) and the others."""
    counts: dict[str, list[int]] = {}
    for session in registry:
        cell = counts.setdefault(session.system_id, [0, 0])
        cell[0 if session.can_receive else 1] += 1
    return {s: SessionCounts(receivers=r, transmitters=t) for s, (r, t) in counts.items()}


class ClusterService:
    """This node in the cluster. `cluster()` is what GET /v1/admin/cluster answers."""

    name = "cluster"

    def __init__(
        self,
        parts: ClusterParts,
        *,
        engine: StoreAndForward,
        registry: SessionRegistry,
        connectors: Connectors,
        cluster_binds: Callable[[], Mapping[str, int]],
        addresses: Callable[[], Mapping[str, str]],
    ) -> None:
        config = parts.config
        self._config = config
        self._parts = parts
        self._engine = engine
        self._registry = registry
        self._addresses = addresses
        self.bus = parts.bus
        self.rates = parts.rates
        self.membership = Membership(self.bus, self._record, ttl=config.node_ttl)
        self.membership.add_listener(self.rates.on_view)
        self.wakeups = Wakeups(
            self.bus,
            self.membership,
            receivers=registry,
            deliveries=engine.deliveries,
            scheduler=engine.scheduler,
        )
        self.ownership = ConnectorOwnership(
            self.bus,
            start_connector=connectors.start,
            stop_connector=connectors.stop,
            ttl=config.node_ttl,
            wanted=cluster_binds,
        )
        self._accepted = 0
        self._accepted_at = time.monotonic()
        self._rate = 0.0

    async def start(self) -> None:
        self.wakeups.start()
        self._parts.link.connect(self.wakeups)
        self.membership.start()
        self.ownership.start()
        self._parts.bind_slots.start()

    async def stop(self) -> None:
        await self.ownership.stop()
        await self._parts.bind_slots.stop()
        await self.membership.stop()
        await self.wakeups.close()

    def cluster(self) -> Mapping[str, Any]:
        nodes = self.membership.nodes()
        return {
            "name": self._config.name,
            "node_id": self._config.node_id,
            "bus": "connected" if self.bus.connected else "away",
            "nodes": [
                {
                    "node_id": node.node_id,
                    "addresses": dict(node.addresses),
                    "sessions": {
                        system_id: {"receivers": c.receivers, "transmitters": c.transmitters}
                        for system_id, c in sorted(node.sessions.items())
                    },
                    "connectors": list(node.connectors),
                    "msg_per_s": round(node.msg_per_s, 1),
                    "queue": node.queue,
                }
                for node in nodes
            ],
        }

    def _record(self) -> NodeRecord:
        now = time.monotonic()
        accepted = sum(self._engine.acceptor.accepted.values())
        elapsed = now - self._accepted_at
        if elapsed > 0:
            self._rate = (accepted - self._accepted) / elapsed
        self._accepted, self._accepted_at = accepted, now
        return NodeRecord(
            node_id=self._config.node_id,
            addresses=dict(self._addresses()),
            sessions=session_counts(self._registry),
            connectors=self.ownership.held(),
            msg_per_s=self._rate,
            queue=self._engine.acceptor.pending,
            demand=self.rates.demand(),
            at=time.time(),
        )
