"""What the engine needs to know of an account: validity limits, how long-message receipts are
made, its distribution lists. Built by app/accounts.py from `[[accounts]]`; the engine never reads
the configuration model itself (STYLE §5: each layer gets its own slice)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from opensmsc.store import Address

__all__ = ["AccountPolicies", "AccountPolicy"]


@dataclass(frozen=True, slots=True, kw_only=True)
class AccountPolicy:
    """One account's message rules.

    `default_validity` applies when a submit gives no validity_period, and is also the validity
    of the receipts and MO stored for the account; `max_validity` caps any validity_period.
    `whole_message_receipts`: one receipt per long message once all its parts are final,
    instead of one per part. `distribution_lists`: submit_multi dl_name → its members.
    `webhook_url`: where its receipts go as webhooks instead of to its SMPP sessions.
    """

    default_validity: timedelta = timedelta(days=2)
    max_validity: timedelta = timedelta(days=7)
    whole_message_receipts: bool = False
    distribution_lists: Mapping[str, tuple[Address, ...]] = field(default_factory=dict)
    webhook_url: str | None = None


class AccountPolicies:
    """The policy of each account by system_id; `default` for any other (the demo account)."""

    def __init__(
        self,
        policies: Mapping[str, AccountPolicy] | None = None,
        *,
        default: AccountPolicy | None = None,
    ) -> None:
        self._policies = dict(policies or {})
        self._default = default or AccountPolicy()

    def __call__(self, system_id: str) -> AccountPolicy:
        return self._policies.get(system_id, self._default)

    @property
    def system_ids(self) -> tuple[str, ...]:
        return tuple(self._policies)

    def __contains__(self, system_id: object) -> bool:
        return system_id in self._policies

    def __len__(self) -> int:
        return len(self._policies)

    def replace(self, policies: Mapping[str, AccountPolicy]) -> None:
        """Swap in the policies of a reloaded configuration; messages stored already keep the
        validity they were given."""
        self._policies = dict(policies)

    @property
    def policies(self) -> Mapping[str, AccountPolicy]:
        return dict(self._policies)
