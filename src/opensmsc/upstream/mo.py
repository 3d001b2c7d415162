"""`MoIngress`: mobile-originated messages from an upstream connector, routed to an account and
stored for it (issue 5, "The other operations"; docs/design/engine.md).

What this is for: `Connectors(on_mo=...)` hands every deliver_sm / data_sm that is not a
receipt to `MoIngress.on_mo(connector, pdu)`. It picks the account with `routing.MoRouter`:

1. the account whose `mo_prefixes` holds the longest prefix of destination_addr;
2. else the account of a bound receiving session whose bind `address_range` (SMPP 3.4 §5.2.7,
   a regular expression) matches destination_addr from its start (`re.match`: a plain
   "3161" then works as a prefix, "^3161[0-9]{5}$" as written). An empty or unreadable
   range matches nothing;
3. else the default account, if there is one (`mo_prefixes = [""]`; the demo account).

It stores the message durably as an MO record of that account (direction MO, ENROUTE, due now)
and wakes the Scheduler, which claims it and delivers it through `Deliveries` (the MO route):
to a bound receiver now, or when one binds (stored and forwarded). `on_mo` returns only after
the store commit, so the connector's deliver_sm_resp ESME_ROK means "stored".

Refusals answer the carrier ESME_RX_T_APPN (MessageRejected), so it keeps the message and
retries later: no account matches (an ESME whose address_range matches may bind later), or the
store is unavailable. A carrier's retry of an MO whose resp was lost is stored again: MO is
at-least-once, like every delivery here.

`claim`, when set, is asked first: a service behind the SMSC that takes some MO whatever their
destination number says (IMPS: application port 3590, app/imps.py) names its pseudo-account,
and the MO is stored for it; the Router sends that account's MO to the service's route.

`observe`, when set, sees every MO first, before it is routed to an account: the policy's
opt-out by MO ("STOP" to a short code, app/opt_out.py) makes its change durable there. It
returns once done, or raises MessageRejected to refuse the MO (the carrier retries it), and a
StoreUnavailable is refused ESME_RX_T_APPN as the store's own.

What it is not: delivery (engine/deliveries.py) or the Scheduler.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from datetime import timedelta
from typing import Final

from opensmsc.engine import trail
from opensmsc.errors import MessageRejected, StoreUnavailable
from opensmsc.logtext import peer_text
from opensmsc.routing import BoundSession, MoRouter
from opensmsc.smpp import CommandStatus, DataSm, DeliverSm, LocalProtocolError, data_sm_as
from opensmsc.store import Clock, Direction, Store, StoredMessage, new_trace_id, system_clock

__all__ = ["DEFAULT_MO_VALIDITY", "MoClaim", "MoIngress", "MoObserver", "mo_deliver_sm"]

log = logging.getLogger(__name__)

# How long an MO waits for its account when nothing says otherwise: as long as an MT's default
# validity in most SMSCs.
DEFAULT_MO_VALIDITY: Final = timedelta(days=2)

# Sees each MO before it is routed (module doc).
MoObserver = Callable[[DeliverSm | DataSm], Awaitable[None]]
# Names the pseudo-account of a service that takes this MO, or None (module doc).
MoClaim = Callable[[DeliverSm | DataSm], str | None]


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
        default_account: str | None = None,
        observe: MoObserver | None = None,
    ) -> None:
        self._store = store
        self.observe = observe
        self.claim: MoClaim | None = None  # set by a service that takes some MO (module doc)
        self.default_account = default_account
        self._router = MoRouter(prefixes)
        self._sessions = sessions
        self._new_id = new_id
        self._wake = wake
        self._validity = validity
        self._clock = clock
        self.stored = 0  # MO stored (metrics, tests)
        self.refused = 0  # MO answered ESME_RX_T_APPN

    def set_routing(self, prefixes: Iterable[tuple[str, str]], default_account: str | None) -> None:
        """New accounts' `mo_prefixes` and default account (a reload), for the next MO."""
        self._router, self.default_account = MoRouter(prefixes), default_account

    def account_for(self, destination_addr: str, *, default: bool = True) -> str | None:
        """The system_id an MO to `destination_addr` goes to now, or None; `default=False`
        leaves the default account out (the simulated network first tries a handset)."""
        chosen = self._router.account_for(destination_addr, self._sessions())
        if chosen is not None:
            return chosen
        return self.default_account if default else None

    def claimed(self, pdu: DeliverSm | DataSm) -> str | None:
        """The pseudo-account of the service that takes this MO (`claim`), or None."""
        return None if self.claim is None else self.claim(pdu)

    async def on_mo(self, connector: str, pdu: DeliverSm | DataSm) -> None:
        """The Connectors on_mo callback: returns once the MO is stored; raises
        MessageRejected(ESME_RX_T_APPN) when it has no account or cannot be stored."""
        if self.observe is not None:
            try:
                await self.observe(pdu)
            except MessageRejected:
                self.refused += 1
                raise
            except StoreUnavailable as exc:
                self.refused += 1
                log.error("MO refused connector=%s: %s", connector, exc)
                raise MessageRejected(CommandStatus.ESME_RX_T_APPN, "MO not recorded") from exc
        system_id = self.claimed(pdu) or self.account_for(pdu.destination_addr)
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
                trace_id=new_trace_id(),
            )
        except LocalProtocolError as exc:
            # A TLV we cannot write back: it would fail the same way every time it came.
            self.refused += 1
            log.warning("MO refused connector=%s: unstorable TLVs: %s", connector, exc)
            raise MessageRejected(CommandStatus.ESME_RX_P_APPN, "MO not storable") from exc
        try:
            await self._store.submit_many(
                (record,), trail=(trail.accepted(record, trail.Origin("mo", session=connector)),)
            )
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
