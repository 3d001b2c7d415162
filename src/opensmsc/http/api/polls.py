"""A client reading a message's final state over the HTTP API (GET /v1/messages/{id}) is how a
client without a callback URL takes its delivery report: the first such read goes on the
message's trail as `receipt_taken` by `http_poll` (engine/trail.py), once.

Once: the ids already noted are remembered (the most recent `limit`), so a client polling a
final message in a loop costs no write per poll; after a restart, or past the limit, a later
poll may note it again (a second `receipt_taken`, never a lost one).

What it is not: the read itself (messages.py) or a receipt (nothing is sent, nothing changes
state: the event goes through `Store.add_trail`, group-committed with other writes).
"""

from __future__ import annotations

import logging
from collections import OrderedDict

from opensmsc.engine import trail
from opensmsc.errors import StoreUnavailable
from opensmsc.store import Clock, Store, StoredMessage

__all__ = ["FinalReads"]

log = logging.getLogger(__name__)


class FinalReads:
    """Notes the first read of each final message (module doc)."""

    def __init__(self, store: Store, *, clock: Clock, limit: int = 100_000) -> None:
        self._store = store
        self._clock = clock
        self._limit = limit
        self._noted: OrderedDict[str, None] = OrderedDict()

    async def read(self, record: StoredMessage) -> None:
        """`record` was answered to its client: note it if it is final and not noted yet."""
        if not record.is_final or record.message_id in self._noted:
            return
        self._noted[record.message_id] = None
        if len(self._noted) > self._limit:
            self._noted.popitem(last=False)
        event = trail.receipt_taken(record, self._clock(), "http_poll")
        try:
            await self._store.add_trail([event])
        except StoreUnavailable as exc:  # the answer goes out all the same
            self._noted.pop(record.message_id, None)
            log.warning(
                "poll not noted message_id=%s trace=%s: %s",
                record.message_id,
                trail.trace_of(record),
                exc,
            )
