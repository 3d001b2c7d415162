"""Store.find: an account's MT messages, filtered, oldest first, one page at a time."""

from __future__ import annotations

from opensmsc.smpp import MessageState
from opensmsc.store import Address, Direction, MessageQuery, Store

from .conftest import MIN, T0, record


async def test_find_filters_and_pages_with_a_cursor(store: Store) -> None:
    records = [
        record(f"m{i:02d}", submitted_at=T0 + i * MIN, destination=Address(1, 1, f"4477{i % 2}"))
        for i in range(7)
    ]
    records.append(record("other", system_id="esme2"))
    records.append(record("r1", direction=Direction.RECEIPT))
    await store.submit_many(records)
    await store.transition("m03", MessageState.DELIVERED, at=T0 + 10 * MIN)

    page, cursor = await store.find(MessageQuery(system_id="esme1", limit=3))
    assert [r.message_id for r in page] == ["m00", "m01", "m02"]
    assert cursor is not None
    page, cursor = await store.find(MessageQuery(system_id="esme1", limit=3, after=cursor))
    assert [r.message_id for r in page] == ["m03", "m04", "m05"]
    page, cursor = await store.find(MessageQuery(system_id="esme1", limit=3, after=cursor))
    assert [r.message_id for r in page] == ["m06"] and cursor is None

    to_odd, _ = await store.find(MessageQuery(system_id="esme1", destination="44771"))
    assert [r.message_id for r in to_odd] == ["m01", "m03", "m05"]
    done, _ = await store.find(
        MessageQuery(system_id="esme1", states=frozenset({MessageState.DELIVERED}))
    )
    assert [r.message_id for r in done] == ["m03"]
    window, _ = await store.find(
        MessageQuery(system_id="esme1", since=T0 + 2 * MIN, until=T0 + 4 * MIN)
    )
    assert [r.message_id for r in window] == ["m02", "m03"]
    from_none, _ = await store.find(MessageQuery(system_id="esme1", source="nobody"))
    assert from_none == []
    assert (await store.find(MessageQuery(system_id="esme2")))[0][0].message_id == "other"
