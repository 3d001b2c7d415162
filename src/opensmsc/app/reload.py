"""SIGHUP: read the configuration file again and apply what can change while the node runs.

A file with errors changes nothing: every error is logged and the node keeps the configuration
it runs with. A valid file is compared with the running one, key by key:

- applied at once: `[logging]` (level, format, show_short_message), and the accounts' bind
  settings (password, enabled, bind_modes, allowed_networks, max_binds, throughput, window,
  client certificates): accounts added, changed or removed take effect at their next bind;
  sessions already bound keep what they bound with until they unbind.
- everything else (listeners, connectors, routes, the store, the network, an account's
  validity, receipts, distribution lists, mo_prefixes or outbind address) needs a restart:
  the log line names each such key, and the node keeps running as it was for those.

Then, whatever the configuration file held, the routing policy (`[routing] policy_file`, its
price list and lists) is read again and swapped in whole (app/policy.py NodePolicy.reload),
or, with an error, kept as it was, each error logged with file, line and key. The policy file
is its own file: a configuration file with errors does not hold back a good policy file.

The running configuration becomes the new file's, so a later SIGHUP reports only later changes
for the applied keys; keys that need a restart are compared with what the node started with,
so they are named again until the node restarts.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Final

from opensmsc.accounts import Authenticator
from opensmsc.app.accounts import accounts_from_config
from opensmsc.config import AccountConfig, Config, ConfigError, LoggingConfig

__all__ = ["ConfigReader", "Reloader", "changed_keys", "classify"]

log = logging.getLogger(__name__)

# What reads the file again: the new configuration, or every error in it.
ConfigReader = Callable[[], Config | Sequence[ConfigError]]

# Account keys the authenticator applies at the next bind; the other keys of an account are
# the engine's (validity, receipts, distribution lists) or MO routing and outbind.
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
    }
)


def changed_keys(old: object, new: object, prefix: str = "") -> list[str]:
    """The key paths where two values of one configuration class differ (`smpp.server.port`,
    `smpp.client[1]`, `accounts[esme1].throughput`); accounts are matched by system_id."""
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
            if f.name == "accounts" and not prefix:
                found.extend(_account_changes(before, after))
            else:
                found.extend(changed_keys(before, after, key))
        return found
    return [prefix]


def _account_changes(old: Sequence[AccountConfig], new: Sequence[AccountConfig]) -> list[str]:
    before = {a.system_id: a for a in old}
    after = {a.system_id: a for a in new}
    found: list[str] = []
    for system_id in sorted(before.keys() | after.keys()):
        if system_id not in after or system_id not in before:
            found.append(f"accounts[{system_id}]")
        else:
            found.extend(
                changed_keys(before[system_id], after[system_id], f"accounts[{system_id}]")
            )
    return found


def classify(old: Config, new: Config) -> tuple[list[str], list[str]]:
    """The changed keys from `old` to `new`: (applied while running, needing a restart)."""
    applied: list[str] = []
    restart: list[str] = []
    for key in changed_keys(old, new):
        if key.startswith("logging"):
            applied.append(key)
        elif key.startswith("accounts["):
            system_id, _, field = key[len("accounts[") :].partition("]")
            field = field.lstrip(".")
            if field:
                (applied if field in LIVE_ACCOUNT_KEYS else restart).append(key)
                continue
            applied.append(key)  # added or removed: at its next bind
            account = next((a for a in new.accounts if a.system_id == system_id), None)
            if account is not None:
                # An added account's other keys (validity, receipts...) wait for a restart.
                default = AccountConfig(system_id=system_id)
                restart.extend(
                    k
                    for k in changed_keys(default, account, key)
                    if k.rsplit(".", 1)[-1] not in LIVE_ACCOUNT_KEYS
                )
        else:
            restart.append(key)
    return applied, restart


class Reloader:
    """Applies a configuration read again (module doc). `apply_logging` is the CLI's: only the
    CLI configures logging. One reload runs at a time; a SIGHUP during one waits for it."""

    def __init__(
        self,
        config: Config,
        *,
        read: ConfigReader,
        authenticator: Authenticator,
        apply_logging: Callable[[LoggingConfig], None] | None = None,
        reload_policy: Callable[[], Awaitable[object]] | None = None,
    ) -> None:
        self._reload_policy = reload_policy
        self._started_with = config
        self._running = config
        self._read = read
        self._authenticator = authenticator
        self._apply_logging = apply_logging
        self._lock = asyncio.Lock()

    @property
    def config(self) -> Config:
        """The configuration in effect for what reloads apply."""
        return self._running

    async def reload(self) -> bool:
        """Read, check and apply, then reload the policy; True when the configuration file
        was valid (even if nothing changed)."""
        async with self._lock:
            applied = await self._reload_config()
            if self._reload_policy is not None:
                # Errors are logged there (file, line, key); the policy in force is kept.
                with contextlib.suppress(ConfigError):
                    await self._reload_policy()
            return applied

    async def _reload_config(self) -> bool:
        read = await asyncio.to_thread(self._read)
        if not isinstance(read, Config):
            log.error(
                "configuration not reloaded: %d error%s; the node keeps running with the "
                "configuration it had",
                len(read),
                "" if len(read) == 1 else "s",
            )
            for error in read:
                log.error("configuration error: %s", error)
            return False
        return await self._apply(read)

    async def _apply(self, new: Config) -> bool:
        old = self._running
        applied, _ = classify(old, new)
        _, pending = classify(self._started_with, new)
        if any(key.startswith("accounts") for key in applied):
            try:
                # Hashing password_file / password_env passwords takes argon2 time: off the loop.
                accounts = await asyncio.to_thread(accounts_from_config, new)
                self._authenticator.replace_accounts(accounts)
            except (ConfigError, OSError, ValueError) as exc:
                log.error("configuration not reloaded: accounts: %s", exc)
                return False
        if new.logging != old.logging and self._apply_logging is not None:
            self._apply_logging(new.logging)
        self._running = new
        log.info(
            "configuration reloaded applied=%s restart_needed=%s",
            ",".join(applied) or "-",
            ",".join(pending) or "-",
        )
        if pending:
            log.warning(
                "configuration: these keys take effect only after a restart: %s",
                ", ".join(pending),
            )
        return True
