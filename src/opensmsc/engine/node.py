"""The store-and-forward engine of one node, assembled: the store in the data folder, message
ids, the lifecycle, the scheduler, deliveries to ESMEs, acceptance, query/cancel/replace and
housekeeping, wired to each other as docs/design/engine.md draws them.

What this is for: app.py turns the configuration into the values taken here (account
policies, routes, store settings) and gets one object to start and to close; tests get the same
assembly. What it is not: configuration parsing (app.py) or the SMPP side (esme_session.py,
which calls `acceptor`, `operations` and `deliveries`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from opensmsc.engine.accept import Acceptor
from opensmsc.engine.deliveries import Deliveries, OutbindRequester, ReceiverLookup
from opensmsc.engine.ids import MessageIds
from opensmsc.engine.lifecycle import Lifecycle
from opensmsc.engine.operations import Operations
from opensmsc.engine.scheduler import Housekeeper, Scheduler
from opensmsc.routing.policy import AccountPolicies
from opensmsc.routing.routes import LOOPBACK, LoopbackRoute, Route, Router
from opensmsc.store.api import Clock, system_clock
from opensmsc.store.sqlite import DB_FILENAME, SqliteStore

__all__ = ["EngineSettings", "StoreAndForward"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class EngineSettings:
    """The `[store]` and `[routing]` values the engine runs with (seconds as in the file)."""

    retention: float = 172_800.0
    purge_interval: float = 300.0
    lease: float = 30.0
    max_batch_ops: int = 2000
    max_batch_delay: float = 0.0
    default_route: str = LOOPBACK
    prefixes: tuple[tuple[str, str], ...] = ()
    # Per route: attempts between start and recorded outcome (a connector's window).
    route_windows: tuple[tuple[str, int], ...] = ()
    # Per account: receipts and MO sent to its sessions whose outcome is not yet recorded
    # (smpp.server.window), which bounds what a crash can make it receive twice.
    delivery_window: int = 10


class StoreAndForward:
    """Every engine part on one store. Build with `await StoreAndForward.open(...)`, then
    `start()`; `close()` stops the background work, waits for what is under way and closes
    the store."""

    def __init__(
        self,
        store: SqliteStore,
        ids: MessageIds,
        *,
        receivers: ReceiverLookup,
        policies: AccountPolicies,
        settings: EngineSettings,
        routes: Mapping[str, Route],
        clock: Clock,
        outbind: OutbindRequester | None,
    ) -> None:
        self.store = store
        self.ids = ids
        self.policies = policies
        self.settings = settings
        self.deliveries = Deliveries(
            store, receivers, clock=clock, outbind=outbind, window=settings.delivery_window
        )
        self.router = Router(
            {LOOPBACK: LoopbackRoute(), **routes},
            default_route=settings.default_route,
            prefixes=settings.prefixes,
            mo_route=self.deliveries,
        )
        self.lifecycle = Lifecycle(
            store,
            ids,
            clock=clock,
            policies=policies,
            on_receipt=self.deliveries.wake,
            on_receipt_stored=self.deliveries.push,
        )
        self.scheduler = Scheduler(
            store,
            self.router,
            self.lifecycle,
            clock=clock,
            lease=timedelta(seconds=settings.lease),
            route_windows=dict(settings.route_windows),
        )
        self.deliveries.set_release(self.scheduler.release)
        self.acceptor = Acceptor(
            store,
            ids,
            clock=clock,
            policies=policies,
            router=self.router,
            on_stored=self.scheduler.wake,
            on_claimed=self.scheduler.take,
            lease=timedelta(seconds=settings.lease),
        )
        self.operations = Operations(
            store,
            self.lifecycle,
            clock=clock,
            policies=policies,
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

    @classmethod
    async def open(
        cls,
        data_dir: Path,
        *,
        receivers: ReceiverLookup,
        policies: AccountPolicies,
        settings: EngineSettings | None = None,
        routes: Mapping[str, Route] | None = None,
        clock: Clock = system_clock,
        outbind: OutbindRequester | None = None,
    ) -> StoreAndForward:
        """Open (create, migrate) the store in `data_dir` and assemble the engine on it.
        Raises StoreUnavailable, SchemaTooNew."""
        settings = settings or EngineSettings()
        data_dir.mkdir(parents=True, exist_ok=True)
        ids = MessageIds.open(data_dir)
        store = await SqliteStore.open(
            data_dir / DB_FILENAME,
            max_batch_ops=settings.max_batch_ops,
            max_batch_delay=settings.max_batch_delay,
        )
        log.info("store open path=%s", store.path)
        return cls(
            store,
            ids,
            receivers=receivers,
            policies=policies,
            settings=settings,
            routes=routes or {},
            clock=clock,
            outbind=outbind,
        )

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
