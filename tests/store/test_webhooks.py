"""Webhooks in the Store contract: receipts with a callback_url are due for the webhook sender
(soonest first, a message's webhooks one at a time, in order) and never for SMPP sessions."""

from __future__ import annotations

from opensmsc.smpp import MessageState
from opensmsc.store import Change, Direction, Store
from tests.store.conftest import MIN, T0, record

S = MessageState


def webhook(message_id: str, of: str, *, url: str | None = "http://h/x", **fields: object):  # type: ignore[no-untyped-def]
    return record(
        message_id,
        direction=Direction.RECEIPT,
        receipted_message_id=of,
        callback_url=url,
        **fields,
    )


async def test_due_webhooks_in_order_per_message_and_not_for_smpp(store: Store) -> None:
    await store.submit_many(
        [
            webhook("w1", "m1"),  # m1's first (an intermediate notification, say)
            webhook("w2", "m1"),  # m1's final: only after w1
            webhook("w3", "m2", next_attempt_at=T0 + MIN),  # due later
            webhook("r1", "m3", url=None),  # an SMPP receipt
        ]
    )
    assert [r.message_id for r in await store.due_webhooks(T0, 10)] == ["w1"]
    assert [r.message_id for r in await store.pending_receipts("esme1", 10)] == ["r1"]
    # w1 failed: retried later; w2 still waits behind it.
    (refused,) = await store.apply(
        [Change("w1", S.ENROUTE, T0, error=500, next_attempt_at=T0 + 2 * MIN, attempt=True)]
    )
    assert refused is None
    assert [r.message_id for r in await store.due_webhooks(T0 + MIN, 10)] == ["w3"]
    assert [r.message_id for r in await store.due_webhooks(T0 + 2 * MIN, 10)] == ["w3", "w1"]
    await store.apply([Change("w1", S.DELIVERED, T0 + 2 * MIN)])
    due = await store.due_webhooks(T0 + 2 * MIN, 10)
    assert [r.message_id for r in due] == ["w2", "w3"]
    assert due[0].callback_url == "http://h/x"
