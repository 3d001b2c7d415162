"""What only the PostgreSQL store has to show (the Store contract itself is tests/store/ run
against both): its migrations in a schema of their own, two nodes claiming from one queue,
kill -9 of a writer, a server that restarts under load, a server that is not there."""

from __future__ import annotations

import asyncio
import itertools
import random
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from opensmsc.errors import StoreUnavailable
from opensmsc.smpp import MessageState
from opensmsc.store import Change, IllegalTransition, PostgresStore, SchemaTooNew
from opensmsc.store.postgres import MIGRATIONS, schema_version
from tests import postgres_server
from tests.store.conftest import MIN, T0, record
from tests.store.test_kill9 import _run_and_kill

S = MessageState
DSN = postgres_server.DSN


@pytest.fixture
async def schema(tmp_path: Path) -> AsyncIterator[str]:
    await postgres_server.ensure_running()
    name = postgres_server.schema_for(tmp_path)
    try:
        yield name
    finally:
        await postgres_server.ensure_running()
        await postgres_server.drop_schemas([name])


async def test_a_new_schema_is_at_the_newest_version_and_a_newer_one_is_refused(
    schema: str,
) -> None:
    store = await PostgresStore.open(DSN, schema=schema)
    await store.close()
    conn = await asyncpg.connect(DSN)
    try:
        assert await schema_version(conn, schema) == len(MIGRATIONS)
        # Nothing of it outside its schema: another cluster's name sees none of its tables.
        tables = await conn.fetch(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = $1", schema
        )
        assert {"message", "schema_version", "upstream_id", "saved_answer", "trail"} <= {
            t[0] for t in tables
        }
        await conn.execute(f'UPDATE "{schema}".schema_version SET version = version + 1')
    finally:
        await conn.close()
    with pytest.raises(SchemaTooNew):
        await PostgresStore.open(DSN, schema=schema)


async def test_nodes_starting_together_migrate_once(schema: str) -> None:
    stores = await asyncio.gather(*(PostgresStore.open(DSN, schema=schema) for _ in range(4)))
    try:
        await stores[0].submit_many([record("m1")])
        assert all([await s.get("m1") is not None for s in stores])
    finally:
        for s in stores:
            await s.close()


async def test_nodes_starting_in_the_same_second_get_disjoint_id_prefixes(schema: str) -> None:
    # engine/ids.py makes a message_id from a prefix and the node's own counter: nodes sharing
    # a prefix hand out the same ids (found with three nodes of make cluster started at once).
    stores = await asyncio.gather(
        *(PostgresStore.open(DSN, schema=schema, node_id=f"n{i}") for i in range(4))
    )
    try:
        firsts = await asyncio.gather(
            *(s.reserve_id_prefixes(256, at_least=1_800_000_000) for s in stores)
        )
        firsts.sort()
        assert firsts[0] == 1_800_000_000
        assert all(later - earlier >= 256 for earlier, later in itertools.pairwise(firsts))
        # A later start with an older clock still gets prefixes above every one handed out.
        again = await stores[0].reserve_id_prefixes(256, at_least=1_700_000_000)
        assert again == firsts[-1] + 256
    finally:
        for s in stores:
            await s.close()


async def test_two_nodes_never_claim_the_same_message(schema: str) -> None:
    a = await PostgresStore.open(DSN, schema=schema, node_id="node-a")
    b = await PostgresStore.open(DSN, schema=schema, node_id="node-b")
    try:
        n = 600
        await a.submit_many([record(f"m{i:04d}", priority_flag=i % 4) for i in range(n)])
        lease = T0 + 5 * MIN
        taken: dict[str, list[str]] = {"node-a": [], "node-b": []}

        async def claim(store: PostgresStore) -> None:
            while True:
                got = await store.claim_due(T0, 7, lease_until=lease)
                if not got:
                    return
                taken[store.node_id].extend(r.message_id for r in got)
                assert all(r.attempts == 1 and r.next_attempt_at == lease for r in got)

        await asyncio.gather(claim(a), claim(b), claim(a), claim(b))
        both = taken["node-a"] + taken["node-b"]
        assert len(both) == len(set(both)) == n
        assert taken["node-a"] and taken["node-b"]
        conn = await asyncpg.connect(DSN)
        try:
            by_node = dict(
                await conn.fetch(
                    f'SELECT claimed_by, count(*) FROM "{schema}".message GROUP BY claimed_by'
                )
            )
        finally:
            await conn.close()
        assert by_node == {"node-a": len(taken["node-a"]), "node-b": len(taken["node-b"])}
        # The lease ends: due again, for whichever node asks first.
        assert len(await b.claim_due(lease, 1000, lease_until=lease + MIN)) == n
    finally:
        await a.close()
        await b.close()


async def test_two_nodes_ending_one_message_cannot_both_end_it(schema: str) -> None:
    # Each node checks the state it reads against the lifecycle: the rows are locked for
    # that, so the second node reads the first one's final state and is refused.
    a = await PostgresStore.open(DSN, schema=schema, node_id="node-a")
    b = await PostgresStore.open(DSN, schema=schema, node_id="node-b")
    try:
        ids = [f"m{i}" for i in range(100)]
        await a.submit_many([record(m) for m in ids])
        outcomes = await asyncio.gather(
            *(a.apply([Change(m, S.DELIVERED, T0)]) for m in ids),
            *(b.apply([Change(m, S.EXPIRED, T0 + MIN)]) for m in ids),
        )
        by_a, by_b = outcomes[: len(ids)], outcomes[len(ids) :]
        for m, (won_a,), (won_b,) in zip(ids, by_a, by_b, strict=True):
            assert (won_a is None) != (won_b is None), m
            loser = won_b if won_a is None else won_a
            assert isinstance(loser, IllegalTransition), m
            stored = await a.get(m)
            assert stored is not None
            assert stored.state is (S.DELIVERED if won_a is None else S.EXPIRED), m
    finally:
        await a.close()
        await b.close()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_a_server_that_is_not_there_is_store_unavailable() -> None:
    with pytest.raises(StoreUnavailable):
        await PostgresStore.open(f"postgresql://127.0.0.1:{_closed_port()}/test", schema="x")


@pytest.mark.slow
@pytest.mark.timeout(240)
async def test_acknowledged_messages_survive_sigkill(schema: str) -> None:
    seed = random.randrange(2**32)
    rng = random.Random(seed)
    acked: list[str] = []
    for run in range(8):
        # 0.05 s often lands in interpreter start-up or the migration; the rest mid-stream.
        delay = rng.choice([0.05, rng.uniform(0.5, 0.8), rng.uniform(0.8, 1.5)])
        ids, _ = await asyncio.to_thread(_run_and_kill, DSN, run, delay, schema)
        acked.extend(ids)
    assert len(acked) > 1000, f"seed={seed}: only {len(acked)} acknowledged; test too weak"
    conn = await asyncpg.connect(DSN)
    try:
        counts = dict(
            await conn.fetch(f'SELECT message_id, count(*) FROM "{schema}".message GROUP BY 1')
        )
    finally:
        await conn.close()
    missing = [m for m in acked if m not in counts]
    assert not missing, f"seed={seed}: {len(missing)} acknowledged ids lost, e.g. {missing[:5]}"
    assert len(set(acked)) == len(acked), "an id was acknowledged twice"
    store = await PostgresStore.open(DSN, schema=schema)
    try:
        for message_id in rng.sample(acked, 50):
            got = await store.get(message_id)
            assert got is not None and got.short_message == message_id.encode()
    finally:
        await store.close()


@pytest.mark.slow
@pytest.mark.timeout(240)
async def test_a_server_restart_under_load_loses_nothing_acknowledged(schema: str) -> None:
    store = await PostgresStore.open(DSN, schema=schema)
    acked: list[str] = []
    refused: list[BaseException] = []
    stop = asyncio.Event()
    after_restart = asyncio.Event()
    restarted = [0]  # acknowledgements when the restart ended

    async def writer(k: int) -> None:
        n = 0
        while not stop.is_set():
            batch = [record(f"{k}-{n + i}") for i in range(5)]
            n += 5
            try:
                await store.submit_many(batch)
            except StoreUnavailable as exc:
                refused.append(exc)
                await asyncio.sleep(0.05)
                continue
            acked.extend(r.message_id for r in batch)
            if restarted[0] and len(acked) > restarted[0] + 500:
                after_restart.set()

    tasks = [asyncio.create_task(writer(k)) for k in range(8)]
    try:
        while len(acked) < 1000:
            await asyncio.sleep(0.05)
        await asyncio.to_thread(postgres_server.pg_ctlcluster, "restart")
        restarted[0] = len(acked)
        await asyncio.wait_for(after_restart.wait(), 60)  # the store came back by itself
    finally:
        stop.set()
        await asyncio.gather(*tasks)
    try:
        assert refused, "no write failed while the server restarted: test too weak"
        assert all("commit failed" in str(e) or "reach" in str(e) for e in refused)
        assert store.stats().failing is None and store.stats().failed_commits >= 1
        await store.check_writable()  # the readiness check says so too
        for message_id in acked:
            assert await store.get(message_id) is not None, message_id
        # Reads and the other writes work again too. (A write whose COMMIT happened but whose
        # answer the restart lost is stored, never acknowledged: allowed, a client retries.)
        await store.transition(acked[0], S.DELIVERED, at=T0)
        conn = await asyncpg.connect(DSN)
        try:
            stored = await conn.fetchval(f'SELECT count(*) FROM "{schema}".message')
        finally:
            await conn.close()
        assert stored >= len(set(acked))
        assert (await store.queue_depths()).messages == stored - 1
    finally:
        await store.close()
