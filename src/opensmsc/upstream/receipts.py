"""`UpstreamReceipts`: an upstream SMSC's delivery receipts, settling our messages and re-issued
to the submitting ESME with our message_id (issue 5, "Delivery receipts").

What this is for: `Connectors(on_receipt=...)` hands every receipt a connector reads to
`UpstreamReceipts.on_receipt(connector, our_id, info)`. `our_id` comes from the connector's
in-memory matcher (which also holds a receipt that overtook its submit_sm_resp until the resp
comes); when it is None (after a restart, or past the matcher's bounds) the durable map is
asked (`store.lookup_upstream_id`, written by ConnectorRoute) under the keys the connector's
own reading of ids gives, in its order (`matching.IdReading.lookup_keys`: the exact id first,
then its numeric readings). Every part of a long message was submitted and mapped on its own,
so whichever part the carrier reports is matched to that part.

What a receipt does, by the state it reports:

- a final state (DELIVERED, UNDELIVERABLE, EXPIRED, DELETED, REJECTED, ACCEPTED, SKIPPED) ends
  the message in that state through `Lifecycle.finish`, which stores in the same transaction
  the receipt the ESME asked for (its registered_delivery; per part or whole-message per the
  account) with OUR message_id, and wakes Deliveries. The upstream's error goes with it: its
  network_error_code's code, else the numeric err of the text (0 when it gave neither, so an
  error from an attempt before the upstream took the message is not reported as the
  upstream's).
- ENROUTE, SCHEDULED (intermediate notifications), UNKNOWN, a state we cannot read, or none:
  the message keeps waiting, ENROUTE, for a final receipt or the end of its validity. UNKNOWN
  is not stored: an UNKNOWN message is due for another attempt, and the upstream has it.
- a receipt for a message already final (the carrier repeating one whose resp it lost) is
  acknowledged and changes nothing. When the receipt's id cannot be the upstream id that
  message was accepted under, it is not a repeat but a collision (two upstream ids read as
  one): acknowledged too, counted, and logged as a warning with both ids.

A receipt we cannot match is acknowledged (ESME_ROK) and counted, not kept: it is not ours,
and refusing it would make the carrier repeat it for as long as it tries. The exception: while
the connector still awaits submit_sm_resp answers, the missing id may be one of them that is
late beyond the matcher's hold, so it is answered ESME_RX_T_APPN and the carrier brings it back
later, when the mapping exists; for `defer_for` seconds at most per id, after which it is
acknowledged as unknown. A receipt that cannot be stored (StoreUnavailable) raises
MessageRejected(ESME_RX_T_APPN) too: the carrier keeps it and retries.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Final

from opensmsc.engine import Lifecycle
from opensmsc.errors import MessageRejected, StoreUnavailable
from opensmsc.logtext import peer_text
from opensmsc.smpp import CommandStatus, MessageState, ReceiptInfo, normalize_message_id
from opensmsc.store import FINAL_STATES, Direction, Store, StoredMessage
from opensmsc.upstream.matching import IdReading
from opensmsc.upstream.pool import Connectors
from opensmsc.upstream.settings import MessageIdFormat

__all__ = ["UpstreamReceipts", "receipt_error"]

log = logging.getLogger(__name__)

_RETRY_LATER: Final = int(CommandStatus.ESME_RX_T_APPN)
_MAX_DEFERRED: Final = 10_000  # unknown ids remembered while deferring them


def receipt_error(info: ReceiptInfo) -> int:
    """The error an upstream receipt reports: network_error_code's code, else a numeric err
    field, else 0 (none)."""
    if info.network_error_code is not None and info.network_error_code.error_code:
        return info.network_error_code.error_code
    err = (info.err or "").strip()
    if err.isascii() and err.isdigit() and len(err) <= 9:
        return int(err)
    return 0


class UpstreamReceipts:
    """The Connectors on_receipt callback (module doc). `connectors` gives each connector's
    message_id_format and whether it still awaits responses; `now` is the monotonic clock
    `defer_for` is measured on."""

    def __init__(
        self,
        store: Store,
        lifecycle: Lifecycle,
        connectors: Connectors,
        *,
        defer_for: float = 60.0,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._lifecycle = lifecycle
        self._connectors = connectors
        self._defer_for = defer_for
        self._now = now
        self._deferred: OrderedDict[tuple[str, str], float] = OrderedDict()
        # Counters (metrics, tests).
        self.settled = 0  # messages ended by a receipt
        self.intermediate = 0  # receipts that did not end their message
        self.duplicates = 0  # receipts for messages already final
        self.collisions = 0  # receipts matched to a final message under another upstream id
        self.unknown = 0  # receipts acknowledged without a message of ours
        self.deferred = 0  # receipts answered ESME_RX_T_APPN to come back later

    async def on_receipt(self, connector: str, our_id: str | None, info: ReceiptInfo) -> None:
        try:
            record = await self._find(connector, our_id, info.message_id)
            if record is None:
                self._unknown(connector, our_id, info)
                return
            await self._settle(connector, record, info)
        except StoreUnavailable as exc:
            log.error(
                "receipt not stored connector=%s upstream_id=%s: %s",
                connector,
                peer_text(info.message_id),
                exc,
            )
            raise MessageRejected(_RETRY_LATER, "receipt not stored") from exc

    async def _find(
        self, connector: str, our_id: str | None, upstream_id: str
    ) -> StoredMessage | None:
        if our_id is None:
            reading = self._reading(connector)
            keys = (*reading.lookup_keys(upstream_id), *_legacy_keys(upstream_id, reading))
            for key in keys:
                our_id = await self._store.lookup_upstream_id(connector, key)
                if our_id is not None:
                    break
            else:
                return None
        record = await self._store.get(our_id)
        if record is None:
            # Matched, but purged (final long ago) or never stored: nothing left to settle.
            log.info(
                "receipt for a message no longer stored connector=%s message_id=%s",
                connector,
                our_id,
            )
        return record

    def _reading(self, connector: str) -> IdReading:
        try:
            return self._connectors.get(connector).id_reading
        except KeyError:  # removed since it read the receipt
            return IdReading(MessageIdFormat.AUTO)

    def _unknown(self, connector: str, our_id: str | None, info: ReceiptInfo) -> None:
        try:
            awaiting = self._connectors.get(connector).status().in_flight > 0
        except KeyError:
            awaiting = False
        if awaiting and our_id is None and self._may_defer(connector, info.message_id):
            self.deferred += 1
            log.info(
                "receipt for an unknown id while submits await answers connector=%s"
                " upstream_id=%s: asking for it again later",
                connector,
                peer_text(info.message_id),
            )
            raise MessageRejected(_RETRY_LATER, "receipt id not known yet")
        self.unknown += 1
        log.warning(
            "receipt for an unknown message acknowledged connector=%s upstream_id=%s state=%s",
            connector,
            peer_text(info.message_id),
            info.state,
        )

    def _may_defer(self, connector: str, upstream_id: str) -> bool:
        # An id deferred for longer than `defer_for` is not a late answer: acknowledge it, so
        # a carrier does not repeat a receipt that is not ours for as long as we are busy.
        now = self._now()
        key = (connector, upstream_id)
        first = self._deferred.setdefault(key, now)
        while len(self._deferred) > _MAX_DEFERRED:
            self._deferred.popitem(last=False)
        if now - first < self._defer_for:
            return True
        self._deferred.pop(key, None)
        return False

    async def _settle(self, connector: str, record: StoredMessage, info: ReceiptInfo) -> None:
        state = info.state
        recorded = record.upstream_message_id
        if recorded and not self._reading(connector).may_refer_to(info.message_id, recorded):
            if record.is_final:
                self.collisions += 1
                log.warning(
                    "receipt collision connector=%s upstream_id=%s matched message_id=%s,"
                    " which is final (%s) and known upstream as %s; acknowledged, not applied",
                    connector,
                    peer_text(info.message_id),
                    record.message_id,
                    record.state.name,
                    peer_text(recorded),
                )
                return
            # E.g. an attempt given up on that the upstream took after all, and a later one.
            log.warning(
                "receipt quotes another upstream id than the message's connector=%s"
                " upstream_id=%s message_id=%s recorded=%s",
                connector,
                peer_text(info.message_id),
                record.message_id,
                peer_text(recorded),
            )
        if record.is_final:
            self.duplicates += 1
            log.info(
                "receipt for a final message connector=%s message_id=%s state=%s reported=%s",
                connector,
                record.message_id,
                record.state.name,
                state,
            )
            return
        if record.direction is not Direction.MT:
            self.unknown += 1
            log.warning(
                "receipt matched a message that is not an MT connector=%s message_id=%s",
                connector,
                record.message_id,
            )
            return
        if not isinstance(state, MessageState) or state not in FINAL_STATES:
            self.intermediate += 1
            log.info(
                "intermediate receipt connector=%s message_id=%s state=%s",
                connector,
                record.message_id,
                state,
            )
            return
        written = await self._lifecycle.finish(
            record,
            state,
            error=receipt_error(info),
            route=connector if record.route is None else None,
            upstream_message_id=info.message_id if record.upstream_message_id is None else None,
            by=f"receipt from {connector}",
        )
        if written is None:  # ended meanwhile (cancelled, expired, another receipt)
            self.duplicates += 1
            return
        self.settled += 1
        log.debug(
            "upstream receipt connector=%s message_id=%s upstream_id=%s state=%s",
            connector,
            record.message_id,
            peer_text(info.message_id),
            state.name,
        )


def _legacy_keys(upstream_id: str, reading: IdReading) -> tuple[str, ...]:
    """The keys the durable map was written with before ids kept their reading (issue 10 item
    7): the bare normalised id, and under AUTO the hex reading of a digits-only id.
    TODO(#10): drop once no store holds messages mapped that way."""
    hex_ids = {MessageIdFormat.DEC: False, MessageIdFormat.HEX: True}.get(reading.id_format)
    keys = [normalize_message_id(upstream_id, hex_ids=hex_ids)]
    text = upstream_id.strip()
    if reading.id_format is MessageIdFormat.AUTO and text.isascii() and text.isdigit():
        keys.append(normalize_message_id(text, hex_ids=True))
    return tuple(dict.fromkeys(keys))
