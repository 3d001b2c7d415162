"""`MoIngress`: mobile-originated messages from an upstream connector, routed to an account and
stored for it (issue 5, "The other operations"; docs/design/engine.md).

What this is for: `Connectors(on_mo=...)` hands every deliver_sm / data_sm that is not a
receipt to `MoIngress.on_mo(connector, pdu)`. It picks the account:

1. the account whose `mo_prefixes` holds the longest prefix of destination_addr;
2. else the account of a bound receiving session whose bind `address_range` (SMPP 3.4 §5.2.7,
   a regular expression) matches destination_addr from its start (`re.match`: a plain
   "3161" then works as a prefix, "^3161[0-9]{5}$" as written). An empty or unreadable
   range matches nothing.

It stores the message durably as an MO record of that account (direction MO, ENROUTE, due now)
and wakes the Scheduler, which claims it and delivers it through `Deliveries` (the MO route):
to a bound receiver now, or when one binds (stored and forwarded). `on_mo` returns only after
the store commit, so the connector's deliver_sm_resp ESME_ROK means "stored".

Refusals answer the carrier ESME_RX_T_APPN (MessageRejected), so it keeps the message and
retries later: no account matches (an ESME whose address_range matches may bind later), or the
store is unavailable. A carrier's retry of an MO whose resp was lost is stored again: MO is
at-least-once, like every delivery here.

What it is not: delivery (engine/deliveries.py) or the Scheduler.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from datetime import timedelta
from functools import lru_cache
from typing import Final, Protocol

from opensmsc.errors import MessageRejected, StoreUnavailable
from opensmsc.logtext import peer_text
from opensmsc.smpp.constants import CommandStatus
from opensmsc.smpp.errors import LocalProtocolError
from opensmsc.smpp.pdu import DataSm, DeliverSm, data_sm_as
from opensmsc.store.api import Clock, Store, system_clock
from opensmsc.store.model import Direction, StoredMessage

__all__ = ["DEFAULT_MO_VALIDITY", "BoundSession", "MoIngress", "mo_deliver_sm"]

log = logging.getLogger(__name__)

# How long an MO waits for its account when nothing says otherwise: as long as an MT's default
# validity in most SMSCs.
DEFAULT_MO_VALIDITY: Final = timedelta(days=2)


class BoundSession(Protocol):
    """A bound ESME session (engine/registry.DeliveryTarget). Its bind's address_range is read
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
        # address_range comes from the ESME's bind.
        log.warning(
            "address_range is not a regular expression: %s; matches nothing",
            peer_text(address_range),
        )
        return None


def mo_deliver_sm(pdu: DeliverSm | DataSm) -> DeliverSm:
    """The deliver_sm an MO is stored (and later delivered) as. A data_sm keeps its content in
    its message_payload TLV, which deliver_sm carries as well (SMPP 3.4 §4.6.1)."""
    if isinstance(pdu, DeliverSm):
        return pdu
    return data_sm_as(DeliverSm, pdu)


class MoIngress:
    """Routes connector MO to accounts and stores it (module doc).

    `prefixes` are (destination prefix, system_id) pairs from each account's `mo_prefixes`;
    `sessions` gives the bound sessions now (the SessionRegistry); `new_id` our message ids
    (engine.ids.MessageIds.next); `wake()` tells the Scheduler something is due;
    `validity(system_id)` how long an MO waits for its account.
    """

    def __init__(
        self,
        store: Store,
        *,
        prefixes: Iterable[tuple[str, str]],
        sessions: Callable[[], Iterable[BoundSession]],
        new_id: Callable[[], str],
        wake: Callable[[], None],
        validity: Callable[[str], timedelta] = lambda _system_id: DEFAULT_MO_VALIDITY,
        clock: Clock = system_clock,
    ) -> None:
        self._store = store
        # Longest first: the first match is the longest (as engine.routes.Router does).
        self._prefixes = sorted(
            ((p, s) for p, s in prefixes if p), key=lambda item: len(item[0]), reverse=True
        )
        self._sessions = sessions
        self._new_id = new_id
        self._wake = wake
        self._validity = validity
        self._clock = clock
        self.stored = 0  # MO stored (metrics, tests)
        self.refused = 0  # MO answered ESME_RX_T_APPN

    def account_for(self, destination_addr: str) -> str | None:
        """The system_id an MO to `destination_addr` goes to now, or None."""
        for prefix, system_id in self._prefixes:
            if destination_addr.startswith(prefix):
                return system_id
        for session in self._sessions():
            if not session.can_receive:
                continue
            pattern = _pattern(str(getattr(session, "address_range", "") or ""))
            if pattern is not None and pattern.match(destination_addr):
                return session.system_id
        return None

    async def on_mo(self, connector: str, pdu: DeliverSm | DataSm) -> None:
        """The Connectors on_mo callback: returns once the MO is stored; raises
        MessageRejected(ESME_RX_T_APPN) when it has no account or cannot be stored."""
        system_id = self.account_for(pdu.destination_addr)
        if system_id is None:
            self.refused += 1
            log.warning(
                "MO refused connector=%s source=%s destination=%s: no account routes it",
                connector,
                peer_text(pdu.source_addr),
                peer_text(pdu.destination_addr),
            )
            raise MessageRejected(CommandStatus.ESME_RX_T_APPN, "no account for this MO")
        now = self._clock()
        try:
            record = StoredMessage.from_pdu(
                mo_deliver_sm(pdu),
                message_id=self._new_id(),
                system_id=system_id,
                direction=Direction.MO,
                submitted_at=now,
                due_at=now,
                expires_at=now + self._validity(system_id),
            )
        except LocalProtocolError as exc:
            # A TLV we cannot write back: it would fail the same way every time it came.
            self.refused += 1
            log.warning("MO refused connector=%s: unstorable TLVs: %s", connector, exc)
            raise MessageRejected(CommandStatus.ESME_RX_P_APPN, "MO not storable") from exc
        try:
            await self._store.submit_many((record,))
        except StoreUnavailable as exc:
            self.refused += 1
            log.error("MO not stored connector=%s system_id=%s: %s", connector, system_id, exc)
            raise MessageRejected(CommandStatus.ESME_RX_T_APPN, "MO not stored") from exc
        self.stored += 1
        log.debug(
            "MO stored connector=%s message_id=%s system_id=%s destination=%s",
            connector,
            record.message_id,
            system_id,
            peer_text(pdu.destination_addr),
        )
        self._wake()
