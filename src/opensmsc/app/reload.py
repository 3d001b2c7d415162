"""Reloads: a configuration read again (SIGHUP, `opensmsc reload`) or changed live (the admin
API, app/live_config.py), compared with the running one key by key (classify), applied while
the node runs where that can be done without dropping sessions or accepted messages (apply),
and one log line naming what changed and what waits for a restart (log).

A file with errors changes nothing: every error is logged and the node keeps the configuration
it runs with. What a valid one changes:

- `[logging]` (level, format, show_short_message): at once.
- accounts (`[[accounts]]`, by system_id): added, changed or removed, their bind settings
  (password, enabled, bind_modes, allowed_networks, max_binds, throughput, window, client
  certificates, the HTTP API's keys) from their next bind, their message rules (validity,
  long-message receipts, distribution lists, mo_prefixes) from their next message; sessions
  already bound keep what they bound with, but a removed or disabled account's sessions are
  unbound (its stored messages stay, for when it comes back).
- connectors (`[[smpp.client]]`, by name): a new one is started and routed to; a removed one
  is taken out of routing, then stopped once its in-flight window is answered (its drain); a
  changed one is restarted that way with its new settings. Messages waiting for a connector
  wait on through a restart.
- routes (`[routing]` default_route and `[[routing.routes]]`, by prefix): the routing table is
  swapped whole, so each message is routed by the old table or the new one.
- listeners (`[smpp.server]` bind_address, plain_enabled/port, tls_enabled/tls_port, the TLS
  files): a new or changed listener is opened before anything else changes (a port in use
  refuses the whole reload), a removed one stops accepting; sessions already bound on it stay.
  The session settings (window, timers, max_pdu_length, interface_versions, strict,
  overload_action, system_id) apply to new connections only, and the log says so.
- everything else (the store, the network, HTTP, the API, the policy server, bind failure
  delays and connection caps, an account's webhook and outbind keys) needs a restart: the log
  line names each such key, compared with what the node started with, so it is named again
  at each reload until the node restarts.

Then, whatever the configuration file held, the routing policy (`[routing] policy_file`, its
price list and lists) is read again and swapped in whole (app/policy.py NodePolicy.reload),
or, with an error, kept as it was, each error logged with file, line and key. The policy file
is its own file: a configuration file with errors does not hold back a good policy file.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Final

from opensmsc.accounts import Authenticator
from opensmsc.app.accounts import accounts_from_config, policies_from_config
from opensmsc.app.policy import RouteNames, route_names
from opensmsc.app.smsc import ListenerChanges, SmscService
from opensmsc.app.upstream import UpstreamService, mo_routing
from opensmsc.config import Config, ConfigError, LoggingConfig
from opensmsc.errors import StartupError
from opensmsc.routing import AccountPolicies, Router
from opensmsc.upstream import MoIngress

__all__ = ["ConfigReader", "LiveParts", "Reloader", "Report", "changed_keys", "classify"]

log = logging.getLogger(__name__)

# What reads the file again: the new configuration, or every error in it.
ConfigReader = Callable[[], Config | Sequence[ConfigError]]

# Account keys applied while running: the authenticator's at the next bind, the engine's
# (AccountPolicies) and MO routing's at the next message. The others (webhooks, outbind) were
# wired into other services at start.
LIVE_ACCOUNT_KEYS: Final = frozenset(
    {
        "enabled",
        "password_hash",
        "password_file",
        "password_env",
        "bind_modes",
        "allowed_networks",
        "max_binds",
        "throughput",
        "window",
        "cert_subjects",
        "cert_fingerprints",
        "api_enabled",
        "api_keys",
        "default_validity",
        "max_validity",
        "long_message_receipts",
        "distribution_lists",
        "mo_prefixes",
    }
)

# [smpp.server] keys of the listeners themselves: a change reopens the listener.
LISTENER_KEYS: Final = frozenset(
    {
        "bind_address",
        "plain_enabled",
        "port",
        "tls_enabled",
        "tls_port",
        "tls_cert_file",
        "tls_key_file",
        "tls_ca_file",
        "require_client_cert",
    }
)

# [smpp.server] keys each connection takes when it is accepted: new connections only.
SESSION_KEYS: Final = frozenset(
    {
        "system_id",
        "max_pdu_length",
        "session_init_timeout",
        "enquire_link_interval",
        "inactivity_timeout",
        "response_timeout",
        "window",
        "unbind_drain_timeout",
        "overload_action",
        "interface_versions",
        "strict",
    }
)

# Arrays of tables whose items are compared by a name rather than by position.
_NAMED: Final = {"accounts": "system_id", "smpp.client": "name", "routing.routes": "prefix"}


def changed_keys(old: object, new: object, prefix: str = "") -> list[str]:
    """The key paths where two values of one configuration class differ (`smpp.server.port`,
    `accounts[esme1].throughput`, `smpp.client[c1]`); accounts, connectors and routes are
    matched by their names (system_id, name, prefix)."""
    if old == new:
        return []
    if (
        dataclasses.is_dataclass(old)
        and dataclasses.is_dataclass(new)
        and type(old) is type(new)
        and not isinstance(old, type)
    ):
        found: list[str] = []
        for f in dataclasses.fields(old):
            key = f"{prefix}.{f.name}" if prefix else f.name
            before, after = getattr(old, f.name), getattr(new, f.name)
            if key in _NAMED:
                found.extend(_named_changes(before, after, key, _NAMED[key]))
            else:
                found.extend(changed_keys(before, after, key))
        return found
    return [prefix]


def _named_changes(old: Sequence[object], new: Sequence[object], key: str, name: str) -> list[str]:
    before = {getattr(item, name): item for item in old}
    after = {getattr(item, name): item for item in new}
    found: list[str] = []
    for item in sorted(before.keys() | after.keys()):
        label = f"{key}[{item}]"
        if item not in after or item not in before:
            found.append(label)
        else:
            found.extend(changed_keys(before[item], after[item], label))
    return found


def classify(old: Config, new: Config) -> tuple[list[str], list[str]]:
    """The changed keys from `old` to `new`: (applied while running, needing a restart)."""
    applied: list[str] = []
    restart: list[str] = []
    for key in changed_keys(old, new):
        if key.startswith(("logging", "smpp.client[", "routing.routes[")) or key == (
            "routing.default_route"
        ):
            applied.append(key)
        elif key.startswith("smpp.server."):
            name = key.removeprefix("smpp.server.")
            (applied if name in LISTENER_KEYS | SESSION_KEYS else restart).append(key)
        elif key.startswith("accounts["):
            system_id, _, name = key[len("accounts[") :].partition("]")
            name = name.lstrip(".").split(".", 1)[0].split("[", 1)[0]
            if name:
                (applied if name in LIVE_ACCOUNT_KEYS else restart).append(key)
                continue
            applied.append(key)  # added or removed
            account = next((a for a in new.accounts if a.system_id == system_id), None)
            if account is not None:
                # An added account's other keys (mo_prefixes, webhooks...) wait for a restart.
                for f in dataclasses.fields(account):
                    if f.name in LIVE_ACCOUNT_KEYS or f.name == "system_id":
                        continue
                    if getattr(account, f.name) != _default_of(f):
                        restart.append(f"{key}.{f.name}")
        else:
            restart.append(key)
    return applied, restart


def _default_of(f: dataclasses.Field[object]) -> object:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return dataclasses.MISSING


@dataclass(slots=True)
class Report:
    """What a reload did: the keys applied, the keys waiting for a restart, the errors (a
    refused reload has errors and applied nothing)."""

    applied: list[str] = field(default_factory=list)
    restart_needed: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    refused: bool = False  # nothing applied: the node runs as it did

    @property
    def ok(self) -> bool:
        return not self.errors

    def as_json(self) -> dict[str, list[str]]:
        return {
            "applied": list(self.applied),
            "restart_needed": list(self.restart_needed),
            "errors": list(self.errors),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class LiveParts:
    """What a reload changes in the running node beyond the authenticator."""

    policies: AccountPolicies
    smsc: SmscService
    upstream: UpstreamService
    router: Router
    mo: MoIngress
    route_names: RouteNames | None = None  # what the policy file may name


class Reloader:
    """Applies a configuration read again or changed live (module doc). `apply_logging` is the
    CLI's: only the CLI configures logging. `parts`: what else it changes (None: only the
    authenticator and logging, for tests of those). One reload runs at a time; a SIGHUP
    during one waits for it."""

    def __init__(
        self,
        config: Config,
        *,
        read: ConfigReader | None = None,
        authenticator: Authenticator,
        apply_logging: Callable[[LoggingConfig], None] | None = None,
        reload_policy: Callable[[], Awaitable[object]] | None = None,
        parts: LiveParts | None = None,
    ) -> None:
        self._reload_policy = reload_policy
        self._started_with = config
        self._running = config
        self._read = read
        self._authenticator = authenticator
        self._apply_logging = apply_logging
        self._parts = parts
        self.lock = asyncio.Lock()

    @property
    def config(self) -> Config:
        """The configuration in effect for what reloads apply."""
        return self._running

    async def reload(self) -> bool:
        """Read, check and apply, then reload the policy; True when the configuration file
        was valid (even if nothing changed)."""
        async with self.lock:
            report = await self._reload_config()
            await self.reload_policy()
            return report.ok

    async def reload_policy(self) -> None:
        if self._reload_policy is not None:
            # Errors are logged there (file, line, key); the policy in force is kept.
            with contextlib.suppress(ConfigError):
                await self._reload_policy()

    async def _reload_config(self) -> Report:
        if self._read is None:
            return self.refuse(["the node runs without a configuration file to reload"])
        read = await asyncio.to_thread(self._read)
        if not isinstance(read, Config):
            return self.refuse([str(error) for error in read])
        return await self.apply(read)

    def refuse(self, errors: Sequence[str]) -> Report:
        """Log a refused reload: the node keeps the configuration it has."""
        log.error(
            "configuration not reloaded: %d error%s; the node keeps running with the "
            "configuration it had",
            len(errors),
            "" if len(errors) == 1 else "s",
        )
        for error in errors:
            log.error("configuration error: %s", error)
        return Report(errors=list(errors), refused=True)

    async def apply(self, new: Config, *, live: bool = False) -> Report:
        """Make `new` the running configuration (the caller holds `lock`); a Report with
        errors when it could not be applied, the running one then unchanged. `live`: a change
        through the admin API rather than a file read again (the log says which)."""
        old = self._running
        applied, _ = classify(old, new)
        _, pending = classify(self._started_with, new)
        accounts = None
        if any(key.startswith("accounts") for key in applied):
            try:
                # Hashing password_file / password_env passwords takes argon2 time: off the loop.
                accounts = await asyncio.to_thread(accounts_from_config, new)
            except (ConfigError, OSError, ValueError) as exc:
                return self.refuse([f"accounts: {exc}"])
        parts = self._parts
        listeners = ListenerChanges()
        if parts is not None and (parts.smsc.services.draining or parts.smsc.services.stopping):
            return self.refuse(["the node is stopping"])
        if parts is not None:
            before = {c.name: c for c in old.smpp.client}
            for client in new.smpp.client:
                if before.get(client.name) != client:
                    try:
                        parts.upstream.check_connector(client)
                    except ConfigError as exc:  # its text names the connector and the key
                        return self.refuse([str(exc)])
            try:
                listeners = await parts.smsc.open_listeners(old, new)
            except StartupError as exc:
                return self.refuse([str(exc)])
        if accounts is not None:
            try:
                self._authenticator.replace_accounts(accounts)
            except ValueError as exc:
                if parts is not None:
                    parts.smsc.abandon(listeners)
                return self.refuse([f"accounts: {exc}"])
        errors: list[str] = []
        if listeners.tls_material is not None and not any(
            key.startswith("smpp.server.tls") for key in applied
        ):
            # The same keys, new file contents: a certificate renewed in place.
            applied = [*applied, "smpp.server.tls_cert_file (contents)"]
        if parts is not None:
            errors = await self._apply_parts(parts, old, new, listeners)
        if new.logging != old.logging and self._apply_logging is not None:
            self._apply_logging(new.logging)
        self._running = new
        log.info(
            "configuration %s applied=%s restart_needed=%s",
            "changed live" if live else "reloaded",
            ",".join(applied) or "-",
            ",".join(pending) or "-",
        )
        session_keys = [
            key
            for key in applied
            if key.startswith("smpp.server.") and key.rsplit(".", 1)[-1] in SESSION_KEYS
        ]
        if session_keys:
            log.info(
                "configuration: applied to new connections only (sessions already open keep "
                "theirs): %s",
                ", ".join(session_keys),
            )
        if pending:
            log.warning(
                "configuration: these keys take effect only after a restart: %s",
                ", ".join(pending),
            )
        for error in errors:
            log.error("configuration not fully applied: %s", error)
        return Report(applied=applied, restart_needed=pending, errors=errors)

    async def _apply_parts(
        self, parts: LiveParts, old: Config, new: Config, listeners: ListenerChanges
    ) -> list[str]:
        errors: list[str] = []
        parts.policies.replace(policies_from_config(new).policies)
        parts.mo.set_routing(*mo_routing(new))
        gone = {a.system_id for a in old.accounts if a.enabled} - {
            a.system_id for a in new.accounts if a.enabled
        }
        for system_id in sorted(gone):
            count = parts.smsc.unbind_account(system_id)
            if count:
                log.info(
                    "account removed: unbinding sessions system_id=%s count=%d", system_id, count
                )
        # Connectors first, so routes can name them; the removed ones after the routes left them.
        before = {c.name: c for c in old.smpp.client}
        after = {c.name: c for c in new.smpp.client}
        for name, client in after.items():
            try:
                if name not in before:
                    await parts.upstream.add_connector(client)
                elif before[name] != client:
                    await parts.upstream.replace_connector(client)
            except (ConfigError, ValueError, OSError) as exc:
                errors.append(f"smpp.client[{name}]: {exc}")
        if new.routing != old.routing:
            parts.router.replace_prefixes(
                new.routing.default_route,
                [(route.prefix, route.route) for route in new.routing.routes if route.enabled],
            )
        for name in before.keys() - after.keys():
            await parts.upstream.remove_connector(name)
        if parts.route_names is not None:
            parts.route_names.names = frozenset(route_names(new))
        parts.smsc.commit(listeners, new)
        return errors
