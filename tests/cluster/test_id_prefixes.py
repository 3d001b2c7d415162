"""Message-id prefixes of a cluster (app/id_prefixes.py) on the real PostgreSQL: nodes started in
the same second never share one, a restart never reuses one, and a roll-over takes the spare
reserved at start without waiting."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from opensmsc.app.id_prefixes import ClusterPrefixes
from opensmsc.engine.ids import MessageIds
from tests.postgres_server import DSN, drop_schemas, ensure_running

SECOND = 1_800_000_000


@pytest.fixture
async def schema(cluster_name: str) -> AsyncIterator[str]:
    await ensure_running()
    yield cluster_name
    await drop_schemas([cluster_name])


async def test_nodes_starting_in_one_second_get_distinct_prefixes(schema: str) -> None:
    nodes = [ClusterPrefixes(DSN, schema, lambda: SECOND) for _ in range(5)]
    firsts = await asyncio.gather(*(node.open() for node in nodes))
    spares = [node.take() for node in nodes]
    await asyncio.sleep(0)  # the refills start
    everything = firsts + spares
    assert len(set(everything)) == len(everything)
    assert min(everything) == SECOND  # time-ordered: never below the second it started
    for node in nodes:
        await node.close()


async def test_a_restart_with_the_clock_stepped_back_takes_a_new_prefix(schema: str) -> None:
    first = ClusterPrefixes(DSN, schema, lambda: SECOND)
    used = {await first.open(), first.take()}
    await first.close()
    again = ClusterPrefixes(DSN, schema, lambda: SECOND - 3600)
    assert await again.open() > max(used)
    await again.close()


async def test_message_ids_roll_over_to_the_spare_and_a_new_spare_comes(schema: str) -> None:
    prefixes = ClusterPrefixes(DSN, schema, lambda: SECOND)
    ids = MessageIds(await prefixes.open(), next_prefix=prefixes.take)
    before = ids.next()
    ids._next = 1 << 32  # the counter used up: the next id rolls over
    after = ids.next()
    assert after[:8] != before[:8] and after[8:] == "00000001"
    async with asyncio.timeout(10):
        while prefixes._spare is None:
            await asyncio.sleep(0.01)
    assert prefixes._spare not in (int(before[:8], 16), int(after[:8], 16))
    await prefixes.close()
