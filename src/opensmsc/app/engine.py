"""The store and the store-and-forward engine: `[store]` and `[routing]` → `EngineSettings`.

Two services, because the engine is opened first (every other part is given it) and set working
last (its scheduler sends messages only once every route and listener is there):

- `EngineService` opens the store in `node.data_dir` (created, migrated), or in PostgreSQL
  when `[cluster] postgres` names one (the schema `[cluster] name`), and assembles the
  engine on it, with the observer that counts its messages (app/metrics.py); its stop closes
  the engine, which stops the scheduler and housekeeping, lets what is under way finish and
  closes the store.
- `EngineWork` starts the scheduler and housekeeping and sends what waits for the accounts
  (receipts stored before a restart). Its stop has nothing to do: closing the engine stops it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from opensmsc.app.cdr import CdrWriter, cdr_path
from opensmsc.app.failures import os_reason
from opensmsc.config import Config
from opensmsc.engine import (
    NO_FINAL_LISTENER,
    NO_OBSERVER,
    ClusterHints,
    EngineSettings,
    MessageIds,
    MessageObserver,
    OutbindRequester,
    ReceiverLookup,
    StoreAndForward,
)
from opensmsc.errors import StartupError, StoreUnavailable
from opensmsc.routing import AccountPolicies, PolicyEngine, Router
from opensmsc.store import (
    DB_FILENAME,
    PostgresStore,
    SqliteStore,
    Store,
    StoreError,
    system_clock,
)

__all__ = ["EngineService", "EngineWork", "engine_settings"]

log = logging.getLogger(__name__)


def engine_settings(config: Config) -> EngineSettings:
    store, routing = config.store, config.routing
    return EngineSettings(
        retention=store.retention,
        purge_interval=store.purge_interval,
        lease=store.lease,
        max_batch_ops=store.max_batch_ops,
        max_batch_delay=store.max_batch_delay,
        trail=store.trail,
        default_route=routing.default_route,
        prefixes=tuple((r.prefix, r.route) for r in routing.routes if r.enabled),
        # A connector's window bounds what a crash can make it deliver twice upstream.
        route_windows=tuple((c.name, c.window) for c in config.smpp.client),
        delivery_window=config.smpp.server.window,
    )


class EngineService:
    """The store and the engine on it; `engine` exists once started."""

    name = "engine"

    def __init__(
        self,
        config: Config,
        *,
        receivers: ReceiverLookup,
        policies: AccountPolicies,
        outbind: OutbindRequester,
        policy: Callable[[Router], PolicyEngine] | None = None,
        observer: MessageObserver = NO_OBSERVER,
        cluster: ClusterHints | None = None,
    ) -> None:
        self._config = config
        self._cluster = cluster
        self._policy = policy
        self._receivers = receivers
        self._policies = policies
        self._outbind = outbind
        self._observer = observer
        self._engine: StoreAndForward | None = None
        # [cdr]: a line per message that ends (app/cdr.py), from the engine's final states.
        self.cdr: CdrWriter | None = None
        if config.cdr.enabled:
            self.cdr = CdrWriter(
                cdr_path(config.cdr, config.node.data_dir),
                rotate_bytes=config.cdr.rotate_bytes,
                keep=config.cdr.keep,
                show_text=config.logging.show_short_message,
            )

    @property
    def engine(self) -> StoreAndForward:
        if self._engine is None:
            raise RuntimeError("the engine is not open: start the service first")
        return self._engine

    async def start(self) -> None:
        data_dir = self._config.node.data_dir
        try:
            settings = engine_settings(self._config)
            data_dir.mkdir(parents=True, exist_ok=True)
            if self.cdr is not None:
                self.cdr.open()
            # A lone node's id prefixes come from its data folder (written first: a folder
            # that cannot be written fails here, plainly); nodes sharing a store take theirs
            # from it.
            cluster = self._config.cluster
            shared = cluster is not None and cluster.postgres is not None
            ids = None if shared else MessageIds.open(data_dir, clock=system_clock)
            store = await self._open_store(settings)
            try:
                if ids is None:
                    ids = await _reserved_ids(store)
                self._engine = StoreAndForward(
                    store,
                    ids,
                    receivers=self._receivers,
                    policies=self._policies,
                    settings=settings,
                    outbind=self._outbind,
                    observer=self._observer,
                    on_final=NO_FINAL_LISTENER if self.cdr is None else self.cdr,
                    policy=self._policy,
                    # Rules on content need the text; prefix routing does not decode it.
                    share_content=self._config.routing.policy_file is not None,
                    cluster=self._cluster,
                )
            except BaseException:
                await store.close()  # a bad policy file (ConfigError): nothing is left open
                raise
        except OSError as exc:
            where = f"{exc.filename}: " if exc.filename else ""
            raise StartupError(
                f"message store in {data_dir} cannot be opened: {where}{os_reason(exc)}"
            ) from exc
        except (StoreUnavailable, StoreError) as exc:
            cluster = self._config.cluster
            if cluster is not None and cluster.postgres is not None:
                raise StartupError(
                    f"message store in PostgreSQL {safe_dsn(cluster.postgres)} (schema"
                    f" {cluster.name}) cannot be opened: {exc}"
                ) from exc
            note = " (read-only file system)" if _read_only(data_dir) else ""
            raise StartupError(
                f"message store in {data_dir} cannot be opened: {exc}{note}"
            ) from exc

    async def _open_store(self, settings: EngineSettings) -> Store:
        cluster = self._config.cluster
        if cluster is not None and cluster.postgres is not None:
            pg = await PostgresStore.open(
                cluster.postgres,
                schema=cluster.name,
                node_id=cluster.node_id,
                max_batch_ops=settings.max_batch_ops,
                max_batch_delay=settings.max_batch_delay,
                trail=settings.trail,
            )
            log.info(
                "store open postgres=%s schema=%s node_id=%s",
                safe_dsn(cluster.postgres),
                cluster.name,
                cluster.node_id,
            )
            return pg
        sqlite = await SqliteStore.open(
            self._config.node.data_dir / DB_FILENAME,
            max_batch_ops=settings.max_batch_ops,
            max_batch_delay=settings.max_batch_delay,
            trail=settings.trail,
        )
        log.info("store open path=%s", sqlite.path)
        return sqlite

    async def stop(self) -> None:
        # After the sessions: their last answers went out; what is pending stays stored.
        try:
            await self.engine.close()
        finally:
            if self.cdr is not None:
                self.cdr.close()  # the lines of the last final states, written


def safe_dsn(dsn: str) -> str:
    """The DSN without its password, for log lines and errors."""
    parts = urlsplit(dsn)
    if parts.password is None:
        return dsn
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def _read_only(folder: Path) -> bool:
    try:
        return bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
    except OSError:
        return False


class EngineWork:
    """The engine's background work: the scheduler and housekeeping (module doc)."""

    name = "scheduler"

    def __init__(self, engine: StoreAndForward, accounts: Iterable[str]) -> None:
        self._engine = engine
        self._accounts = tuple(accounts)

    async def start(self) -> None:
        self._engine.start(self._accounts)

    async def stop(self) -> None:
        """Nothing: `EngineService.stop` stops the scheduler, in the order the engine needs."""


# Prefixes a clustered node reserves at start: 256 runs of 4 billion ids before it must restart.
ID_PREFIX_BLOCK = 256


async def _reserved_ids(store: Store) -> MessageIds:
    """Ids from a block of prefixes reserved in the shared store, so that no two nodes
    (starting in the same second, as `make cluster` starts them) hand out the same id."""
    if not isinstance(store, PostgresStore):
        raise TypeError(f"prefixes are reserved in a PostgreSQL store, not {type(store)}")
    first = await store.reserve_id_prefixes(
        ID_PREFIX_BLOCK, at_least=int(system_clock().timestamp())
    )
    return MessageIds(first, last_prefix=first + ID_PREFIX_BLOCK - 1)
