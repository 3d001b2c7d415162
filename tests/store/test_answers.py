"""Saved answers (idempotency keys) in the Store contract: written in the transaction of the
messages they name, one per account and key, kept across a reopen, purged by age."""

from __future__ import annotations

import asyncio

import pytest

from opensmsc.store import DuplicateMessage, KeyTaken, SavedAnswer, Store
from tests.store.conftest import MIN, T0, StoreFactory, record


def answer(key: str = "k1", system_id: str = "esme1", **fields: object) -> SavedAnswer:
    values: dict[str, object] = {
        "system_id": system_id,
        "key": key,
        "fingerprint": "f" * 64,
        "status": 201,
        "headers": (("content-type", "application/json"), ("location", "/v1/messages/m1")),
        "body": b'{"id":"m1"}',
        "created_at": T0,
    }
    values.update(fields)
    return SavedAnswer(**values)  # type: ignore[arg-type]


async def test_an_answer_is_stored_with_its_messages_and_reads_back(store: Store) -> None:
    assert await store.saved_answer("esme1", "k1") is None
    await store.submit_many([record("m1"), record("m2")], answer=answer())
    assert await store.saved_answer("esme1", "k1") == answer()
    assert await store.get("m1") is not None and await store.get("m2") is not None
    assert await store.saved_answer("esme2", "k1") is None  # keys are per account


async def test_a_key_used_before_stores_none_of_the_messages(store: Store) -> None:
    await store.submit_many([record("m1")], answer=answer())
    with pytest.raises(KeyTaken):
        await store.submit_many([record("m2")], answer=answer(body=b"other"))
    assert await store.get("m2") is None
    assert (await store.saved_answer("esme1", "k1")) == answer()
    await store.submit_many([record("m3")], answer=answer(system_id="esme2"))  # another account


async def test_messages_refused_store_no_answer(store: Store) -> None:
    await store.submit_many([record("m1")])
    with pytest.raises(DuplicateMessage):
        await store.submit_many([record("m2"), record("m1")], answer=answer())
    assert await store.saved_answer("esme1", "k1") is None
    assert await store.get("m2") is None


async def test_concurrent_writes_with_one_key_store_once(store: Store) -> None:
    results = await asyncio.gather(
        *(store.submit_many([record(f"m{n}")], answer=answer()) for n in range(5)),
        return_exceptions=True,
    )
    assert sum(r is None for r in results) == 1
    assert all(isinstance(r, KeyTaken) for r in results if r is not None)
    stored = [n for n in range(5) if await store.get(f"m{n}") is not None]
    assert len(stored) == 1


async def test_answers_survive_a_reopen_and_are_purged_by_age(
    store_factory: StoreFactory,
) -> None:
    first = await store_factory()
    await first.submit_many([record("m1")], answer=answer("old"))
    await first.submit_many([record("m2")], answer=answer("new", created_at=T0 + 10 * MIN))
    await first.close()
    store = await store_factory()
    assert await store.saved_answer("esme1", "old") == answer("old")
    assert await store.purge_answers(T0 + 5 * MIN) == 1
    assert await store.saved_answer("esme1", "old") is None
    assert await store.saved_answer("esme1", "new") is not None
    # A purged key is free again.
    await store.submit_many([record("m3")], answer=answer("old", created_at=T0 + 20 * MIN))
