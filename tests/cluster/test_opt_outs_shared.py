"""A cluster's opt-outs (app/opt_outs_shared.py) on the real PostgreSQL and NATS: a STOP taken by
one node's policy is in force on another's at once (the bus hint carries it), a START lifts it
everywhere, and a node started afterwards starts with what the table holds."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from opensmsc.app.policy import NodePolicy, policy_engine, standin_router
from opensmsc.cluster import Bus
from opensmsc.config import ClusterConfig
from opensmsc.routing import RulePolicy
from opensmsc.smpp import DeliverSm
from tests.cluster.conftest import BusFactory
from tests.conftest import make_config
from tests.postgres_server import DSN, drop_schemas, ensure_running

HANDSET = "447700900123"


def stop(text: bytes) -> DeliverSm:
    return DeliverSm(
        source_addr_ton=1,
        source_addr_npi=1,
        source_addr=HANDSET,
        destination_addr="12345",
        short_message=text,
    )


@pytest.fixture
async def schema(cluster_name: str) -> AsyncIterator[str]:
    await ensure_running()
    yield cluster_name
    await drop_schemas([cluster_name])


PolicyFactory = Callable[[str], Awaitable[tuple[NodePolicy, RulePolicy]]]


@pytest.fixture
async def node_policy(
    tmp_path: Path, schema: str, make_bus: BusFactory
) -> AsyncIterator[PolicyFactory]:
    (tmp_path / "policy.toml").write_text(
        'default_routes = ["loopback"]\n[opt_out]\nshort_codes = ["12345"]\n'
    )
    started: list[NodePolicy] = []

    async def make(node_id: str) -> tuple[NodePolicy, RulePolicy]:
        config = make_config(tmp_path / node_id)
        config = dataclasses.replace(
            config,
            routing=dataclasses.replace(config.routing, policy_file=tmp_path / "policy.toml"),
            cluster=ClusterConfig(node_id=node_id, name=schema, postgres=DSN),
        )
        (tmp_path / node_id).mkdir()
        bus: Bus = await make_bus(node_id)
        policy = NodePolicy(config, policy_engine(config, router=standin_router(config)), bus=bus)
        await policy.start()
        started.append(policy)
        assert policy.rules is not None
        return policy, policy.rules

    yield make
    for policy in started:
        await policy.stop()


async def _until(condition: Callable[[], bool], timeout: float = 2.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)


async def test_a_stop_on_one_node_stops_every_node(node_policy: PolicyFactory) -> None:
    a, rules_a = await node_policy("node-a")
    _, rules_b = await node_policy("node-b")
    await a.on_mo(stop(b"STOP"))
    assert rules_a.opted_out(HANDSET, "12345")
    await _until(lambda: rules_b.opted_out(HANDSET, "12345"))
    _, rules_c = await node_policy("node-c")  # started later: the table has it
    assert rules_c.opted_out(HANDSET, "12345")
    await a.on_mo(stop(b"start"))
    await _until(lambda: not rules_b.opted_out(HANDSET, "12345"))
    await _until(lambda: not rules_c.opted_out(HANDSET, "12345"))
