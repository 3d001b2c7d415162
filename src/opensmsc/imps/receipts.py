"""The delivery receipts of IMPS's own messages: the SMSC's receipts for the SMS the binding
sends to handsets (answers, pushes, CIR wake-ups, bridged texts), taken as an ESME would take
them, so that receipts apply to IMPS exactly as to any account (issue 13, "The binding").

The binding asks a final receipt for every SMS it stores (`ReceiptRequest.FINAL`); the engine
stores each receipt for the pseudo-account `IMPS_SYSTEM_ID` in the transaction of the SMS's
final state, and its Deliveries hand them to a receiver of that account. `ImpsReceipts` is that
receiver: registered in the node's session registry (app/imps.py), it always has room, counts
each outcome (`delivered`, `failed` by final state), logs the SMS that did not reach their
handset, and acknowledges at once (ESME_ROK), so that the receipt is marked taken in the store
and none piles up for an account nobody binds as.

What a failed SMS means to IMPS: nothing is lost by it. A NewMessage stays pending in the
service until the handset acknowledges it (MA), and is pushed again at the next login or
taken by a poll; an answer that never arrived is asked again by the client (its transaction
times out).

What it is not: SMPP sessions (smsc/), or the service's own delivery reports to a sender (DR,
which follow MessageDelivered, service.py).
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable

from opensmsc.logtext import peer_text
from opensmsc.smpp import (
    BindMode,
    CommandStatus,
    DeliverSm,
    MessageState,
    is_delivery_receipt,
    receipt_from_pdu,
)

from .binding import IMPS_SYSTEM_ID

__all__ = ["ImpsReceipts"]

log = logging.getLogger(__name__)


class ImpsReceipts:
    """The receiver of the receipts owed to `IMPS_SYSTEM_ID` (a `smsc.DeliveryTarget`)."""

    def __init__(self) -> None:
        self.outcomes: Counter[str] = Counter()  # final state name → receipts taken

    @property
    def system_id(self) -> str:
        return IMPS_SYSTEM_ID

    @property
    def bind_mode(self) -> BindMode | None:
        return BindMode.RECEIVER

    @property
    def can_receive(self) -> bool:
        return True

    @property
    def has_window(self) -> bool:
        return True

    @property
    def delivered(self) -> int:
        return self.outcomes[MessageState.DELIVERED.name]

    @property
    def failed(self) -> int:
        return sum(self.outcomes.values()) - self.delivered

    def deliver(self, pdu: DeliverSm, on_done: Callable[[int | None], None]) -> bool:
        if not is_delivery_receipt(pdu.esm_class):
            # Only receipts are stored for IMPS: its MO go to its route, never to receivers.
            log.warning("IMPS receiver given a deliver_sm that is not a receipt: acknowledged")
            self._acknowledge(on_done)
            return True
        info = receipt_from_pdu(pdu)
        state = None if info is None else info.state
        name = state.name if isinstance(state, MessageState) else "UNKNOWN"
        self.outcomes[name] += 1
        if state is not MessageState.DELIVERED:
            log.info(
                "IMPS SMS not delivered message_id=%s msisdn=%s state=%s err=%s",
                peer_text(info.message_id if info is not None else "?"),
                peer_text(pdu.source_addr),
                name,
                peer_text((info.err if info is not None else None) or ""),
            )
        self._acknowledge(on_done)
        return True

    @staticmethod
    def _acknowledge(on_done: Callable[[int | None], None]) -> None:
        # As a session's deliver_sm_resp would: after `deliver` returned (Deliveries counts
        # the receipt in flight first, and acknowledges it in the store when on_done comes).
        asyncio.get_running_loop().call_soon(on_done, int(CommandStatus.ESME_ROK))
