"""The store-and-forward engine of one node, assembled: on a given store and message ids, the
lifecycle, the scheduler, deliveries to ESMEs, acceptance, query/cancel/replace and
housekeeping, wired to each other as docs/design/engine.md draws them.

What this is for: the wiring (app/engine.py) opens the store and the ids of the data folder,
turns the configuration into the values taken here (account policies, routes, engine settings)
and gets one object to start and to close; tests get the same assembly on any Store. What it is
not: configuration parsing, opening a store (the engine works on the Store protocol, whatever
backend the wiring chose), or the SMPP side (smsc/session.py, which calls `acceptor`,
`operations` and `deliveries`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol

from opensmsc.engine.accept import Acceptor
from opensmsc.engine.decisions import Decisions
from opensmsc.engine.deliveries import Deliveries, OutbindRequester, ReceiverLookup
from opensmsc.engine.ids import MessageIds
from opensmsc.engine.lifecycle import Lifecycle
from opensmsc.engine.observer import NO_OBSERVER, MessageObserver
from opensmsc.engine.operations import Operations
from opensmsc.engine.operator import OperatorActions
from opensmsc.engine.scheduler import Housekeeper, Scheduler
from opensmsc.engine.trail import NO_FINAL_LISTENER, FinalListener
from opensmsc.routing import (
    LOOPBACK,
    AccountPolicies,
    LoopbackRoute,
    PolicyEngine,
    PrefixPolicy,
    Route,
    Router,
)
from opensmsc.store import Clock, Store, StoredMessage, system_clock

__all__ = ["ClusterHints", "EngineSettings", "StoreAndForward"]


class ClusterHints(Protocol):
    """What the engine tells the other nodes of a cluster (cluster/wakeups.Wakeups): hints
    that wake them early, never the work itself, which they read from the shared store."""

    def receipt_stored(self, system_id: str) -> None:
        """A receipt for the account's sessions was stored."""
        ...

    def work_stored(self) -> None:
        """Due work (a submit left to the scheduler, an MO, a release) was stored."""
        ...

    def skip_mo_of(self) -> Collection[str]:
        """The accounts whose MO this node must not claim (their receivers are elsewhere)."""
        ...

    def route_elsewhere(self, route: str) -> bool:
        """Whether `route` is a connector another node runs and this one does not."""
        ...

    def sends_receipts(self, system_id: str) -> bool:
        """Whether this node is the one that sends the account's receipts now."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class EngineSettings:
    """The `[store]` and `[routing]` values the engine runs with (seconds as in the file). The
    store's own settings (max_batch_ops, max_batch_delay, trail) go to the store the wiring
    opens."""

    retention: float = 172_800.0
    purge_interval: float = 300.0
    lease: float = 30.0
    max_batch_ops: int = 2000
    max_batch_delay: float = 0.0
    trail: bool = True
    default_route: str = LOOPBACK
    prefixes: tuple[tuple[str, str], ...] = ()
    # Per route: attempts between start and recorded outcome (a connector's window).
    route_windows: tuple[tuple[str, int], ...] = ()
    # Per account: receipts and MO sent to its sessions whose outcome is not yet recorded
    # (smpp.server.window), which bounds what a crash can make it receive twice.
    delivery_window: int = 10
    # The most SMS one message may need; a longer one is refused at submit (ESME_RINVMSGLEN).
    max_parts: int = 255


class StoreAndForward:
    """Every engine part on one store. Build it on an open `store` (it owns the store from
    then on) and the node's `ids`, then `start()`; `close()` stops the background work, waits
    for what is under way and closes the store. `observer` hears each message stored and
    ended (engine/observer.py: the node's metrics); `on_final` each final state with its trail
    event (engine/trail.py: the CDR).

    `policy` makes the node's PolicyEngine over its Router (`self.router`, which routes added
    later join); by default `PrefixPolicy`, the Router's prefixes. Every MT message is decided
    by it at submit and before its attempts (engine/decisions.py): `self.policy` is that engine,
    the one to serve to others. `share_content`: queries carry the message text (for rules on
    content)."""

    def __init__(
        self,
        store: Store,
        ids: MessageIds,
        *,
        receivers: ReceiverLookup,
        policies: AccountPolicies,
        settings: EngineSettings | None = None,
        routes: Mapping[str, Route] | None = None,
        clock: Clock = system_clock,
        outbind: OutbindRequester | None = None,
        policy: Callable[[Router], PolicyEngine] | None = None,
        share_content: bool = False,
        observer: MessageObserver = NO_OBSERVER,
        on_final: FinalListener = NO_FINAL_LISTENER,
        cluster: ClusterHints | None = None,
    ) -> None:
        settings = settings or EngineSettings()
        self.cluster = cluster
        routes = routes or {}
        self.store = store
        self.ids = ids
        self.policies = policies
        self.settings = settings
        # Set when a webhook (a receipt with a callback_url) was stored: its sender
        # (http/webhooks/) waits on it rather than polling the store.
        self.webhook_stored = asyncio.Event()
        self.deliveries = Deliveries(
            store,
            receivers,
            clock=clock,
            outbind=outbind,
            # The scheduler is built below from the router, which routes MO to the deliveries.
            release=lambda ids: self.scheduler.release(ids),  # noqa: PLW0108 (built below)
            window=settings.delivery_window,
            sends_receipts=None if cluster is None else cluster.sends_receipts,
        )
        self.router = Router(
            {LOOPBACK: LoopbackRoute(), **routes},
            default_route=settings.default_route,
            prefixes=settings.prefixes,
            mo_route=self.deliveries,
        )
        self.policy: PolicyEngine = (
            PrefixPolicy(self.router) if policy is None else policy(self.router)
        )
        self.decisions = Decisions(self.policy, self.router, share_content=share_content)
        self.lifecycle = Lifecycle(
            store,
            ids,
            clock=clock,
            policies=policies,
            on_receipt=self.deliveries.wake,
            on_receipt_stored=self._receipt_stored,
            observer=observer,
            on_final=on_final,
        )
        self.scheduler = Scheduler(
            store,
            self.router,
            self.lifecycle,
            clock=clock,
            lease=timedelta(seconds=settings.lease),
            route_windows=dict(settings.route_windows),
            decisions=self.decisions,
            skip_mo_of=None if cluster is None else cluster.skip_mo_of,
            route_elsewhere=None if cluster is None else cluster.route_elsewhere,
        )
        self.acceptor = Acceptor(
            store,
            ids,
            clock=clock,
            policies=policies,
            router=self.router,
            decisions=self.decisions,
            on_stored=self.wake_due,
            on_claimed=self.scheduler.take,
            lease=timedelta(seconds=settings.lease),
            max_parts=settings.max_parts,
            observer=observer,
            on_final=on_final,
        )
        self.operations = Operations(
            store,
            self.lifecycle,
            clock=clock,
            policies=policies,
            in_flight=self.scheduler.in_flight,
            wake=self.scheduler.wake,
        )
        # The admin API's cancel / retry / expire of any account's message.
        self.operator = OperatorActions(
            store,
            self.lifecycle,
            clock=clock,
            in_flight=self.scheduler.in_flight,
            wake=self.scheduler.wake,
        )
        self.housekeeper = Housekeeper(
            store,
            clock=clock,
            retention=timedelta(seconds=settings.retention),
            interval=settings.purge_interval,
            expire_receipts=lambda: self.deliveries.expire_receipts(self.policies.system_ids),
        )
        self._started = False

    def wake_due(self) -> None:
        """Due work was stored: this node's scheduler looks now, and in a cluster the idle
        schedulers of the others too (the MO store and releases call this as well)."""
        self.scheduler.wake()
        if self.cluster is not None:
            self.cluster.work_stored()

    def _receipt_stored(self, receipt: StoredMessage) -> None:
        if receipt.callback_url is not None:
            self.webhook_stored.set()
        else:
            self.deliveries.push(receipt)
            if self.cluster is not None:
                self.cluster.receipt_stored(receipt.system_id)

    def start(self, accounts: Iterable[str] = ()) -> None:
        """Start the scheduler and housekeeping; send what waits for `accounts` (receipts
        stored before a restart)."""
        if self._started:
            return
        self._started = True
        self.scheduler.start()
        self.housekeeper.start()
        self.deliveries.wake_all({*self.policies.system_ids, *accounts})

    async def close(self) -> None:
        """Stop claiming, let commits and attempts under way finish, close the store."""
        await self.housekeeper.stop()
        await self.acceptor.close()
        await self.scheduler.stop()
        await self.deliveries.close()
        await self.store.close()
