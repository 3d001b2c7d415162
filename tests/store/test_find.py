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


async def test_find_newest_first_across_accounts_pages_through_every_filter(store: Store) -> None:
    # The operator's view (the admin API): every account, newest first, each index's path
    # (destination, account, none) paged with the cursor to the end, nothing seen twice.
    records = [
        record(
            f"m{i:02d}",
            system_id=f"esme{1 + i % 3}",
            submitted_at=T0 + i * MIN,
            source=Address(5, 0, "shop" if i % 4 == 0 else "1234"),
            destination=Address(1, 1, f"4477{i % 2}"),
        )
        for i in range(12)
    ]
    records.append(record("r1", direction=Direction.RECEIPT, destination=Address(1, 1, "44770")))
    records.append(record("mo1", direction=Direction.MO, destination=Address(1, 1, "44770")))
    await store.submit_many(records)
    await store.transition("m04", MessageState.DELIVERED, at=T0 + 20 * MIN)
    await store.transition("m08", MessageState.EXPIRED, at=T0 + 20 * MIN)

    async def every_page(**fields: object) -> list[str]:
        seen: list[str] = []
        cursor: int | None = None
        while True:
            query = MessageQuery(newest_first=True, limit=2, after=cursor, **fields)  # type: ignore[arg-type]
            page, cursor = await store.find(query)
            assert len(page) <= 2
            seen.extend(r.message_id for r in page)
            if cursor is None:
                return seen

    assert await every_page(system_id=None) == [f"m{i:02d}" for i in reversed(range(12))]
    assert await every_page(system_id=None, destination="44770") == [
        "m10", "m08", "m06", "m04", "m02", "m00"
    ]  # fmt: skip
    assert await every_page(system_id="esme2") == ["m10", "m07", "m04", "m01"]
    assert await every_page(system_id="esme2", destination="44771") == ["m07", "m01"]
    assert await every_page(system_id=None, source="shop") == ["m08", "m04", "m00"]
    done = frozenset({MessageState.DELIVERED, MessageState.EXPIRED})
    assert await every_page(system_id=None, states=done) == ["m08", "m04"]
    # open states alone: through the queue's index (message_due), still newest first
    waiting = frozenset({MessageState.ENROUTE, MessageState.SCHEDULED})
    assert await every_page(system_id=None, states=waiting) == [
        f"m{i:02d}" for i in reversed(range(12)) if i not in (4, 8)
    ]
    assert await every_page(system_id=None, states=waiting, source="shop") == ["m00"]
    assert await every_page(system_id=None, since=T0 + 3 * MIN, until=T0 + 6 * MIN) == [
        "m05", "m04", "m03"
    ]  # fmt: skip
    assert await every_page(system_id=None, destination="nobody") == []
    # The same filters oldest first (the HTTP API's order) still page forwards.
    page, cursor = await store.find(MessageQuery(system_id=None, destination="44770", limit=4))
    assert [r.message_id for r in page] == ["m00", "m02", "m04", "m06"] and cursor is not None


async def test_a_number_is_found_with_or_without_its_plus(store: Store) -> None:
    # One ESME sends TON 1 and digits, another TON 0 and "+digits": the operator asking for
    # the number, either way, finds both.
    await store.submit_many(
        [
            record("intl", destination=Address(1, 1, "447700900124")),
            record("plus", submitted_at=T0 + MIN, destination=Address(0, 1, "+447700900124")),
            record("else", destination=Address(1, 1, "447700900999")),
        ]
    )
    for asked in ("+447700900124", "447700900124"):
        found, _ = await store.find(
            MessageQuery(system_id=None, destination=asked, newest_first=True)
        )
        assert [r.message_id for r in found] == ["plus", "intl"]
