"""Which account a mobile-originated message goes to (issue 5, "The other operations"; issue 9).

What this is for: `MoRouter.account_for(destination_addr, sessions)` picks the account of an MO:

1. the account whose `mo_prefixes` holds the longest prefix of destination_addr;
2. else the account of a bound receiving session whose bind `address_range` (SMPP 3.4 §5.2.7,
   a regular expression) matches destination_addr from its start (`re.match`: a plain "3161"
   then works as a prefix, "^3161[0-9]{5}$" as written). An empty or unreadable range matches
   nothing; sessions are asked in the order given.

What it is not: storing or delivering the MO (upstream.MoIngress, engine.Deliveries). Pure: the
bound sessions are passed in by the caller, nothing here waits or reads a clock.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from functools import lru_cache
from typing import Protocol

__all__ = ["BoundSession", "MoRouter"]

log = logging.getLogger(__name__)


class BoundSession(Protocol):
    """A bound ESME session (smsc registry's DeliveryTarget). Its bind's address_range is read
    as an `address_range` attribute when the session has one (EsmeSession keeps it)."""

    @property
    def system_id(self) -> str: ...

    @property
    def can_receive(self) -> bool: ...


@lru_cache(maxsize=1024)
def _pattern(address_range: str) -> re.Pattern[str] | None:
    if not address_range:
        return None
    try:
        return re.compile(address_range)
    except re.error:
        # Cached: one warning per range, not one per MO.
        log.warning("address_range is not a regular expression: %r; matches nothing", address_range)
        return None


class MoRouter:
    """The MO account choice (module doc). `prefixes` are (destination prefix, system_id)
    pairs from the accounts' `mo_prefixes`; empty prefixes are ignored."""

    def __init__(self, prefixes: Iterable[tuple[str, str]]) -> None:
        # Longest first: the first match is the longest (as routing.Router does).
        self._prefixes = sorted(
            ((p, s) for p, s in prefixes if p), key=lambda item: len(item[0]), reverse=True
        )

    def account_for(self, destination_addr: str, sessions: Iterable[BoundSession]) -> str | None:
        """The system_id an MO to `destination_addr` goes to, given the bound `sessions`, or
        None when no account takes it."""
        for prefix, system_id in self._prefixes:
            if destination_addr.startswith(prefix):
                return system_id
        for session in sessions:
            if not session.can_receive:
                continue
            pattern = _pattern(str(getattr(session, "address_range", "") or ""))
            if pattern is not None and pattern.match(destination_addr):
                return session.system_id
        return None
