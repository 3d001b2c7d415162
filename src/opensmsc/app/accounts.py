"""`[[accounts]]` → what the services know of an account: the `Account` the authenticator
checks binds against, and the `AccountPolicy` the engine applies to its messages.

With no account configured, `make run` still gives something to bind to: a demo account that
only loopback clients can use.
"""

from __future__ import annotations

import ipaddress
import logging
import os
from datetime import timedelta

from opensmsc.accounts import Account, hash_password
from opensmsc.config import AccountConfig, Config, ConfigError, LongMessageReceipts
from opensmsc.routing import AccountPolicies, AccountPolicy
from opensmsc.store import Address

__all__ = ["DEMO_PASSWORD", "DEMO_SYSTEM_ID", "accounts_from_config", "policies_from_config"]

log = logging.getLogger(__name__)

DEMO_SYSTEM_ID = "test"
DEMO_PASSWORD = "test"
_LOOPBACK = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))


def accounts_from_config(config: Config) -> list[Account]:
    """The enabled accounts, their passwords hashed (password_file, password_env); the demo
    account when none is configured. Raises ConfigError for a missing environment variable."""
    accounts = [account_from_config(a) for a in config.accounts if a.enabled]
    if not config.accounts:
        log.warning(
            "no accounts configured: demo account system_id=%s password=%s, loopback only",
            DEMO_SYSTEM_ID,
            DEMO_PASSWORD,
        )
        accounts.append(
            Account(
                system_id=DEMO_SYSTEM_ID,
                password_hash=hash_password(DEMO_PASSWORD),
                allowed_networks=_LOOPBACK,
                max_binds=100,
            )
        )
    return accounts


def account_from_config(config: AccountConfig) -> Account:
    return Account(
        system_id=config.system_id,
        password_hash=_password_hash(config),
        bind_modes=frozenset(config.bind_modes),
        allowed_networks=tuple(config.allowed_networks),
        max_binds=config.max_binds,
        throughput=config.throughput,
        window=config.window,
        cert_subjects=frozenset(config.cert_subjects),
        cert_fingerprints=frozenset(config.cert_fingerprints),
        api_enabled=config.api_enabled,
        api_key_hashes=frozenset(config.api_keys),
    )


def _password_hash(config: AccountConfig) -> str:
    if config.password_hash is not None:
        return config.password_hash
    if config.password_file is not None:
        try:
            password = config.password_file.read_text(encoding="utf-8").strip("\r\n")
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise ConfigError(
                f"cannot read {config.password_file}: {reason}",
                path=str(config.password_file),
                key=f"accounts[{config.system_id}].password_file",
            ) from exc
        return hash_password(password)
    assert config.password_env is not None  # the config model guarantees one of the three
    value = os.environ.get(config.password_env)
    if value is None:
        raise ConfigError(
            f"environment variable {config.password_env} is not set",
            path="<environment>",
            key=f"accounts[{config.system_id}].password_env",
        )
    return hash_password(value)


def policies_from_config(config: Config) -> AccountPolicies:
    """The engine's view of each account (validity, receipts, distribution lists)."""
    return AccountPolicies(
        {
            a.system_id: AccountPolicy(
                default_validity=timedelta(seconds=a.default_validity),
                max_validity=timedelta(seconds=a.max_validity),
                whole_message_receipts=a.long_message_receipts is LongMessageReceipts.WHOLE,
                distribution_lists={
                    dl.name: tuple(Address(dl.ton, dl.npi, member) for member in dl.members)
                    for dl in a.distribution_lists
                },
                webhook_url=a.webhook_url,
            )
            for a in config.accounts
            if a.enabled
        }
    )
