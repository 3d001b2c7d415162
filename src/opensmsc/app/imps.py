"""The IMPS service behind the SMSC (`[imps]`, issue 13), as a node service.

Start: one thread for the service (imps/worker.py), on which its state is opened (SQLite in
`node.data_dir/imps.sqlite3` unless `[imps] database` says otherwise) and the users of
`[[imps.users]]` provisioned (added when missing; the admin API's changes are kept); then its
route joins the engine's Router (the MO of the pseudo-account "imps", and the ESMEs' MT to
port 3590/3716) and the MO ingress is told what IMPS claims. From then on the route drains the
service's outbox (first what a crash left there) and ticks it every second.

It starts after the simulated network and before the upstream connectors and the SMPP
listeners, so that no MO for IMPS can arrive before IMPS claims it; it stops after them (reverse
order): its route answers "try again" to attempts the scheduler still makes, and its state is
closed on its thread after every call under way.

Also the admin API's view of it (http/routes/imps.py ImpsAdmin): stats, users, add, remove.
"""

from __future__ import annotations

import dataclasses
import logging
import sqlite3
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from opensmsc.config import Config, ImpsUserConfig
from opensmsc.engine import StoreAndForward
from opensmsc.errors import StartupError
from opensmsc.imps import (
    IMPS_SYSTEM_ID,
    ImpsReceipts,
    ImpsRoute,
    ImpsService,
    ImpsSettings,
    ImpsState,
    InvalidUser,
    ServiceClosed,
    ServiceThread,
    claims_mo,
    claims_mt,
)
from opensmsc.smsc import SessionRegistry
from opensmsc.upstream import MoIngress

__all__ = ["ImpsNodeService", "imps_database"]

log = logging.getLogger(__name__)

IMPS_DB_FILENAME = "imps.sqlite3"

T = TypeVar("T")


def imps_database(config: Config) -> Path:
    """Where the IMPS state lives: `[imps] database`, else imps.sqlite3 in the data folder."""
    return config.imps.database or config.node.data_dir / IMPS_DB_FILENAME


def _user_json(user: Any) -> dict[str, Any]:
    return {"user_id": user.user_id, "msisdn": user.msisdn, "online": bool(user.online)}


def _provision(service: ImpsService, users: Sequence[ImpsUserConfig]) -> int:
    """Add the configured users that the state does not hold yet; returns how many."""
    known = {user.user_id for user in service.users()}
    added = 0
    for user in users:
        if user.user_id.lower() not in known:  # the service keeps ids in lower case
            service.add_user(user.user_id, user.msisdn, user.password)
            added += 1
    return added


class ImpsNodeService:
    """`[imps]` on a node (module doc). `route` exists once started."""

    name = "imps"

    def __init__(
        self,
        config: Config,
        *,
        engine: StoreAndForward,
        mo: MoIngress,
        sessions: SessionRegistry,
    ) -> None:
        self._config = config
        self._engine = engine
        self._mo = mo
        self._sessions = sessions
        # the receiver of the receipts of IMPS's own SMS (imps/receipts.py)
        self.receipts = ImpsReceipts()
        self._thread: ServiceThread | None = None
        self._state: ImpsState | None = None
        self._service: ImpsService | None = None
        self.route: ImpsRoute | None = None

    async def start(self) -> None:
        imps = self._config.imps
        path = imps_database(self._config)
        thread = ServiceThread()
        settings = ImpsSettings(
            keepalive=imps.keepalive,
            keepalive_grace=imps.keepalive_grace,
            allow_self_registration=imps.allow_self_registration,
            reassembly_timeout=imps.reassembly_timeout,
        )
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            state = await thread.run(ImpsState, path)
        except (OSError, sqlite3.Error) as exc:
            await thread.close()
            raise StartupError(f"IMPS state {path} cannot be opened: {exc}") from exc
        try:
            service = await thread.run(_new_service, state, settings)
            # every call from here on is group-committed (imps/worker.py), the provisioning
            # of all configured users included: one transaction, not one per user
            thread.group(state.transaction)
            added = await thread.run(_provision, service, imps.users)
        except BaseException:
            await thread.close(state.close)
            raise
        self._thread, self._state, self._service = thread, state, service
        route = ImpsRoute(
            service,
            thread=thread,
            acceptor=self._engine.acceptor,
            short_code=imps.short_code,
        )
        self.route = route
        router = self._engine.router
        router.add_mo_route(IMPS_SYSTEM_ID, route)
        router.add_claim(claims_mt, route)
        self._mo.claim = claims_mo(imps.short_code)
        self._sessions.add(self.receipts)
        self._engine.deliveries.wake(IMPS_SYSTEM_ID)  # receipts a previous run left
        route.start()
        log.info("IMPS started path=%s short_code=%s users_added=%d", path, imps.short_code, added)

    async def stop(self) -> None:
        self._mo.claim = None
        self._sessions.remove(self.receipts)
        if self.route is not None:
            await self.route.stop()
        if self._thread is not None and self._state is not None:
            await self._thread.close(self._state.close)

    # ---- the admin API's view (http/routes/imps.py ImpsAdmin) ------------------------------

    def _running(self) -> tuple[ServiceThread, ImpsService]:
        if self._thread is None or self._service is None:
            raise RuntimeError("the IMPS service is not started")
        return self._thread, self._service

    async def _call(self, fn: Callable[..., T], *args: object) -> T:
        # The admin API's calls: RuntimeError when the service is not there (503).
        thread, _ = self._running()
        try:
            return await thread.run(fn, *args)
        except ServiceClosed as exc:
            raise RuntimeError(str(exc)) from exc

    async def stats(self) -> Mapping[str, Any]:
        _, service = self._running()
        stats = await self._call(service.stats)
        found: dict[str, Any] = dataclasses.asdict(stats)
        route = self.route
        if route is not None:
            found["sms_received"] = route.received
            found["sms_sent"] = route.sent
            found["dropped"] = route.dropped
        found["receipts_delivered"] = self.receipts.delivered
        found["receipts_failed"] = self.receipts.failed
        found["short_code"] = self._config.imps.short_code
        return found

    async def users(self) -> list[Mapping[str, Any]]:
        _, service = self._running()
        return [_user_json(user) for user in await self._call(service.users)]

    async def add_user(self, user_id: str, msisdn: str, password: str) -> Mapping[str, Any] | None:
        """The new user, or None when `user_id` is taken. LookupError when another user has
        `msisdn` (one user per handset, as [[imps.users]] and self-registration require)."""
        _, service = self._running()
        return await self._call(_add_user, service, user_id, msisdn, password)

    async def remove_user(self, user_id: str) -> bool:
        _, service = self._running()
        return bool(await self._call(service.remove_user, user_id))


def _new_service(state: ImpsState, settings: ImpsSettings) -> ImpsService:
    return ImpsService(state, settings, clock=time.time)


def _add_user(
    service: ImpsService, user_id: str, msisdn: str, password: str
) -> Mapping[str, Any] | None:
    # Checked and added on the service thread: no other call comes between.
    wanted = user_id.lower()  # the service keeps user ids in lower case
    users = service.users()
    if any(user.user_id == wanted for user in users):
        return None
    owner = next((u for u in users if u.msisdn.lstrip("+") == msisdn.lstrip("+")), None)
    if owner is not None:
        raise LookupError(f'the msisdn {msisdn} is the user "{owner.user_id}"\'s')
    try:
        service.add_user(user_id, msisdn, password)
    except InvalidUser as exc:
        raise ValueError(str(exc)) from exc
    added = next((user for user in service.users() if user.user_id == wanted), None)
    return None if added is None else _user_json(added)
