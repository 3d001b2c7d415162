"""The live configuration: the configuration file with the admin API's changes on top, kept
across restarts, and the reloads of the file (SIGHUP, `opensmsc reload`).

- At start: the file + the changes kept in `data_dir/live-config.sqlite3` (app/live_store.py,
  made at the first change).
  A change that no longer fits the file (a route to a connector the file dropped) is left out,
  logged, and kept, in case the file comes back to it.
- A change through the API (accounts, connectors, routes: add, set, remove, enable, disable) is
  checked with the file's own rules (config/overlay.py), written to disk, then applied to the
  running node (app/reload.py) before it is answered. One that the node cannot apply (an
  environment variable named for a password is unset) is taken back off the disk.
- A reload reads the file again and puts the kept changes on top. Who wins when both changed
  one key: the live change, and the log says so, key by key. A kept change the new file
  already says (`opensmsc config export` folded into the file) is forgotten, so after folding
  back the file alone rules again. A new file that the kept changes do not fit is refused as a
  file with errors is: the node keeps running as it was.

In a cluster (`[cluster] postgres`) the changes are kept in PostgreSQL instead
(app/live_shared.py), one table for every node: a node that makes a change keeps it there,
applies it, answers, and says so on the bus (`<name>.config.changed`); every other node reads
the table again and applies what differs (`sync`), within a second; a read every
`_SYNC_INTERVAL` seconds covers a hint lost while NATS was away.

Relative paths in a change made through the API (password_file, TLS files) are taken from the
folder of the configuration file, or the node's working folder without one.

What it is not: the HTTP routes (http/routes/admin_config.py) or what applies a configuration
to the running services (app/reload.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from opensmsc.accounts import hash_password
from opensmsc.app.live_shared import SharedLiveChanges
from opensmsc.app.live_store import FILENAME, LiveConfigFile
from opensmsc.app.reload import ConfigReader, Reloader, Report
from opensmsc.cluster import Bus
from opensmsc.config import (
    KINDS,
    Change,
    ChangeOp,
    Config,
    Kind,
    Problem,
    apply_changes,
    conflicts,
    dumps,
    find_item,
    item_problems,
    items_of,
    key_text,
    redundant,
    relative_key,
    set_body,
    to_table,
)
from opensmsc.errors import StartupError, StoreUnavailable
from opensmsc.http import ConfigInvalid, ConfigItemExists, ConfigItemNotFound

__all__ = ["LiveConfig"]

log = logging.getLogger(__name__)

# Keys never shown by the listings (config export writes them: it is a configuration file).
_SYNC_INTERVAL: Final = 5.0  # seconds between reads of a cluster's shared changes
_SECRETS: Final = frozenset({"password_hash", "password", "outbind_password", "webhook_secret"})
_HIDDEN: Final = "***"


class LiveConfig:
    """The file and the live changes (module doc); the admin API's `ConfigAdmin`. A service:
    `start` reads the kept changes, `config` is then the configuration to start with;
    `attach` gives it the node's Reloader once the services it changes exist."""

    name = "live configuration"

    def __init__(
        self,
        config: Config,
        *,
        read: ConfigReader | None = None,
        base_dir: Path | None = None,
    ) -> None:
        self._file = config
        self._config = config
        self._read = read
        self._base_dir = base_dir or Path.cwd()
        self._changes: dict[tuple[str, str], Change] = {}
        self._store: LiveConfigFile | None = None
        self._reloader: Reloader | None = None
        cluster = config.cluster
        self._shared = (
            None
            if cluster is None or cluster.postgres is None
            else SharedLiveChanges(cluster.postgres, cluster.name)
        )
        self._bus: Bus | None = None
        self._poll: asyncio.Task[None] | None = None
        self._syncing: set[asyncio.Task[bool]] = set()

    @property
    def config(self) -> Config:
        """The configuration in effect: the file with the live changes on top."""
        return self._config

    def attach(self, reloader: Reloader) -> None:
        self._reloader = reloader

    async def start(self) -> None:
        if self._shared is not None:
            try:
                kept = await self._shared.changes()
            except StoreUnavailable as exc:
                raise StartupError(f"live configuration: {exc}") from exc
            self._changes = {(c.kind, c.name): c for c in kept}
            self._config = self._fitting(self._file)
            log.info("live configuration changes=%d in %s", len(kept), self._shared.location)
            return
        # Made at the first live change: a node that never has one writes nothing for it.
        if (self._file.node.data_dir / FILENAME).exists():
            await self._open()
            assert self._store is not None
            kept = await asyncio.to_thread(self._store.changes)
            self._changes = {(c.kind, c.name): c for c in kept}
            await self._forget_redundant(self._file)
            self._config = self._fitting(self._file)
            log.info("live configuration changes=%d file=%s", len(self._changes), self._store.path)

    async def _open(self) -> None:
        if self._store is not None:
            return
        data_dir = self._file.node.data_dir
        try:
            self._store = await asyncio.to_thread(LiveConfigFile.open, data_dir)
        except (OSError, sqlite3.Error) as exc:
            raise StartupError(
                f"live configuration {data_dir / FILENAME} cannot be opened: {exc}"
            ) from exc

    async def stop(self) -> None:
        if self._poll is not None:
            self._poll.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poll
            self._poll = None
        if self._shared is not None:
            await self._shared.close()
        if self._store is not None:
            await asyncio.to_thread(self._store.close)
            self._store = None

    def _fitting(self, file: Config) -> Config:
        """`file` with every kept change that fits it (module doc), the others logged."""
        return self._fitting_changes(file, self._changes)

    def _fitting_changes(self, file: Config, kept: Mapping[tuple[str, str], Change]) -> Config:
        config, problems = apply_changes(file, kept.values(), base_dir=self._base_dir)
        if not problems:
            return config
        config = file
        # One by one, connectors before the routes that may name them.
        order = {"connectors": 0, "accounts": 1, "routes": 2}
        for change in sorted(kept.values(), key=lambda c: order[c.kind]):
            trial, problems = apply_changes(config, [change], base_dir=self._base_dir)
            if problems:
                log.error(
                    "live change not applied %s: %s (kept; it applies again when it fits)",
                    change.label,
                    "; ".join(f"{key_text(p.key)}: {p.message}" for p in problems),
                )
                continue
            config = trial
        return config

    async def _forget_redundant(self, file: Config) -> None:
        for change in list(self._changes.values()):
            if redundant(file, change, base_dir=self._base_dir):
                log.info("live change %s is in the file now: forgotten", change.label)
                await self._forget(change.kind, change.name)

    async def _forget(self, kind: str, name: str) -> None:
        if self._shared is not None:
            await self._shared.forget(kind, name)
        else:
            assert self._store is not None
            await asyncio.to_thread(self._store.forget, kind, name)
        self._changes.pop((kind, name), None)

    # ---- listing and export ------------------------------------------------------------------

    def items(self, kind: str) -> list[Mapping[str, Any]]:
        """Every item of `kind` in effect, as its TOML keys (secrets hidden), "enabled" and
        "source" ("live" when a live change made it what it is)."""
        spec = KINDS[kind]
        shown: list[Mapping[str, Any]] = []
        for item in items_of(self._config, spec):
            name = getattr(item, spec.key)
            shown.append(self._view(spec, item, live=(kind, name) in self._changes))
        return shown

    def _view(self, kind: Kind, item: object, *, live: bool) -> dict[str, Any]:
        table = to_table(item)
        for key in _SECRETS & table.keys():
            if table[key]:
                table[key] = _HIDDEN
        table.setdefault("enabled", True)
        table["source"] = "live" if live else "file"
        return table

    def export(self) -> str:
        """The configuration in effect as TOML: the file with the live changes folded in."""
        at = datetime.now(UTC).replace(microsecond=0).isoformat()
        header = (
            f"opensmsc configuration of node {self._config.node.name}, exported {at},\n"
            f"with {len(self._changes)} live change(s) folded in. Keys at their default are "
            "left out.\nPut it in place of the file and reload: the live changes it holds "
            "are then forgotten."
        )
        return dumps(self._config, header=header)

    # ---- changes ---------------------------------------------------------------------------------

    async def add(self, kind: str, body: Mapping[str, Any]) -> Mapping[str, Any]:
        spec = KINDS[kind]
        body = await self._hashed(spec, body)
        problems = item_problems(spec, body, None)
        if problems:
            raise _invalid(spec, None, problems)
        name = str(body[spec.key])
        async with self._lock():
            if find_item(self._config, spec, name) is not None:
                raise ConfigItemExists(f"{kind} already has {name!r}")
            return await self._change(spec, Change(kind, name, ChangeOp.ADD, body))

    async def change(self, kind: str, name: str, body: Mapping[str, Any]) -> Mapping[str, Any]:
        spec = KINDS[kind]
        body = await self._hashed(spec, body)
        problems = item_problems(spec, body, name)
        if problems:
            raise _invalid(spec, None, problems)
        async with self._lock():
            if find_item(self._config, spec, name) is None:
                raise ConfigItemNotFound(f"no {spec.label} item named {name!r}")
            keys = set_body(spec, {k: v for k, v in body.items() if k != spec.key})
            earlier = self._changes.get((kind, name))
            if earlier is not None and earlier.op is ChangeOp.ADD:
                table = {**earlier.body, **keys}
                added = {k: v for k, v in table.items() if v is not None}
                change = Change(kind, name, ChangeOp.ADD, added)
            else:
                before = {} if earlier is None else dict(earlier.body)
                change = Change(kind, name, ChangeOp.SET, {**before, **keys})
            return await self._change(spec, change)

    async def remove(self, kind: str, name: str) -> None:
        spec = KINDS[kind]
        async with self._lock():
            if find_item(self._config, spec, name) is None:
                raise ConfigItemNotFound(f"no {spec.label} item named {name!r}")
            await self._change(spec, Change(kind, name, ChangeOp.REMOVE))

    async def _change(self, kind: Kind, change: Change) -> Mapping[str, Any]:
        """Check, keep, apply (the caller holds the lock); the item as it is now (a removed
        one: {})."""
        key = (change.kind, change.name)
        # This change last: the index its problems name is the item's place in the result.
        changes = {k: c for k, c in self._changes.items() if k != key}
        changes[key] = change
        if change.op is ChangeOp.REMOVE and find_item(self._file, kind, change.name) is None:
            del changes[key]  # added live, removed live: nothing left to say
        new, problems = apply_changes(self._file, changes.values(), base_dir=self._base_dir)
        if problems:
            index = None
            found = find_item(self._config, kind, change.name)
            if found is not None:
                index = found[0]
            elif change.op is ChangeOp.ADD:
                index = len(items_of(self._config, kind))
            raise _invalid(kind, index, problems)
        earlier = self._changes.get(key)
        await self._keep(key, changes.get(key))
        report = await self._apply(new)
        if report.refused:
            await self._keep(key, earlier)  # the node runs as it did: so does the disk
            raise ConfigInvalid(
                f"not applied: {'; '.join(report.errors)}",
                [{"key": "", "message": error} for error in report.errors],
            )
        self._changes = changes
        self._config = new
        log.info(
            "live change %s %s: %s",
            change.op.value,
            change.label,
            ", ".join(sorted(k for k in change.body if k not in _SECRETS)) or "-",
        )
        await self._announce()
        found = find_item(new, kind, change.name)
        return {} if found is None else self._view(kind, found[1], live=key in changes)

    async def _keep(self, key: tuple[str, str], change: Change | None) -> None:
        if self._shared is not None:
            if change is None:
                await self._shared.forget(*key)  # StoreUnavailable: not kept, not applied
            else:
                await self._shared.put(change)
            return
        try:
            await self._open()
            assert self._store is not None
            if change is None:
                await asyncio.to_thread(self._store.forget, *key)
            else:
                await asyncio.to_thread(self._store.put, change)
        except (StartupError, sqlite3.Error) as exc:
            # Not kept, so not applied: a change a restart would lose is no change.
            raise StoreUnavailable(f"the live change cannot be kept: {exc}") from exc

    async def _apply(self, new: Config) -> Report:
        if self._reloader is None:
            return Report()
        return await self._reloader.apply(new, live=True)

    def _lock(self) -> asyncio.Lock:
        if self._reloader is None:
            raise RuntimeError("the live configuration is not attached to a running node")
        return self._reloader.lock

    async def _hashed(self, kind: Kind, body: Mapping[str, Any]) -> dict[str, Any]:
        """An account's "password" becomes its password_hash (argon2, off the loop): the
        password itself is never kept, logged or shown."""
        body = dict(body)
        if kind.name != "accounts" or "password" not in body:
            return body
        password = body.pop("password")
        if not isinstance(password, str):
            raise ConfigInvalid(
                "password: expected a string", [{"key": "password", "message": "expected a string"}]
            )
        try:
            body["password_hash"] = await asyncio.to_thread(hash_password, password)
        except ValueError as exc:
            raise ConfigInvalid(
                f"password: {exc}", [{"key": "password", "message": str(exc)}]
            ) from exc
        return body

    # ---- a cluster's one truth ----------------------------------------------------------------

    def attach_bus(self, bus: Bus) -> None:
        """In a cluster: hear the other nodes' changes (module doc) from now on."""
        if self._shared is None:
            return
        self._bus = bus
        bus.subscribe(bus.subject("config", "changed"), self._on_hint)
        self._poll = asyncio.get_running_loop().create_task(self._poll_shared())

    async def _announce(self) -> None:
        if self._bus is None:
            return
        try:
            await self._bus.publish(
                self._bus.subject("config", "changed"), self._bus.node_id.encode()
            )
        except Exception as exc:  # a hint: the others' periodic read takes the change anyway
            log.warning("live change not announced on the bus: %s", exc)

    def _on_hint(self, subject: str, payload: bytes) -> None:
        if self._bus is not None and payload == self._bus.node_id.encode():
            return  # our own change, applied already
        task = asyncio.get_running_loop().create_task(self.sync())
        self._syncing.add(task)
        task.add_done_callback(self._synced)

    def _synced(self, task: asyncio.Task[bool]) -> None:
        self._syncing.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error(
                "live configuration: applying the shared changes failed: %s", task.exception()
            )

    async def _poll_shared(self) -> None:
        while True:
            await asyncio.sleep(_SYNC_INTERVAL)
            try:
                await self.sync()
            except Exception:  # the next read tries again; the node runs on as it is
                log.exception("live configuration: reading the shared changes failed")

    async def sync(self) -> bool:
        """Read the cluster's changes again and apply what differs from ours; whether
        anything did."""
        if self._shared is None or self._reloader is None:
            return False
        async with self._reloader.lock:
            try:
                kept = await self._shared.changes()
            except StoreUnavailable as exc:
                log.warning("live configuration: %s (kept as it is)", exc)
                return False
            changes = {(c.kind, c.name): c for c in kept}
            if changes == self._changes:
                return False
            new = self._fitting_changes(self._file, changes)
            report = await self._reloader.apply(new, live=True)
            if report.refused:
                log.error(
                    "live changes from another node not applied: %s", "; ".join(report.errors)
                )
                return False
            before, self._changes, self._config = self._changes, changes, new
        for key in sorted(set(before) | set(changes)):
            if before.get(key) != changes.get(key):
                label = (changes.get(key) or before[key]).label
                log.info("live change %s from another node applied", label)
        return True

    # ---- reloads ---------------------------------------------------------------------------------

    async def reload(self) -> Mapping[str, Any]:
        """The configuration file read again with the live changes on top (module doc), then
        the routing policy; the report as JSON ("reloaded": false when refused)."""
        reloader = self._reloader
        if reloader is None:
            raise RuntimeError("the live configuration is not attached to a running node")
        async with reloader.lock:
            report = await self._reload(reloader)
        await reloader.reload_policy()
        return {**report.as_json(), "reloaded": not report.refused}

    async def _reload(self, reloader: Reloader) -> Report:
        if self._read is None:
            return reloader.refuse(["the node runs without a configuration file to reload"])
        read = await asyncio.to_thread(self._read)
        if not isinstance(read, Config):
            return reloader.refuse([str(error) for error in read])
        for conflict in conflicts(self._file, read, self._changes.values()):
            log.warning("configuration: %s", conflict)
        new, problems = apply_changes(read, self._changes.values(), base_dir=self._base_dir)
        if problems:
            return reloader.refuse(
                [
                    f"the live changes do not fit the new file: {key_text(p.key)}: {p.message}"
                    for p in problems
                ]
            )
        report = await reloader.apply(new)
        if not report.refused:
            self._file = read
            self._config = new
            await self._forget_redundant(read)
        return report


def _invalid(kind: Kind, index: int | None, problems: Iterable[Problem]) -> ConfigInvalid:
    errors = [{"key": relative_key(p, kind, index), "message": p.message} for p in problems]
    detail = "; ".join(f"{e['key']}: {e['message']}" for e in errors)
    return ConfigInvalid(detail, errors)
