"""Membership through the real NATS KV bucket: nodes see each other, and a node that stops
writing vanishes from the others' view when its record's TTL ends."""

from __future__ import annotations

import asyncio

from opensmsc.cluster.bus import Bus
from opensmsc.cluster.membership import Membership, NodeRecord, SessionCounts
from tests.cluster.conftest import BusFactory


def _member(bus: Bus, sessions: dict[str, SessionCounts], ttl: float = 5.0) -> Membership:
    def report() -> NodeRecord:
        return NodeRecord(
            node_id=bus.node_id,
            addresses={"smpp": f"127.0.0.1:{2775 + len(bus.node_id)}"},
            sessions=sessions,
            connectors=("carrier-a",) if bus.node_id == "node-a" else (),
            msg_per_s=12.5,
            queue=3,
        )

    return Membership(bus, report, ttl=ttl)


async def test_nodes_see_each_others_records(make_bus: BusFactory) -> None:
    buses = [await make_bus(n) for n in ("node-a", "node-b", "node-c")]
    members = [
        _member(buses[0], {"esme1": SessionCounts(transmitters=1)}),
        _member(buses[1], {"esme1": SessionCounts(receivers=2)}),
        _member(buses[2], {}),
    ]
    for member in members:
        await member.beat()
    await members[0].beat()  # now after the others' writes

    nodes = members[0].nodes()
    assert [n.node_id for n in nodes] == ["node-a", "node-b", "node-c"]
    assert nodes[1].sessions == {"esme1": SessionCounts(receivers=2)}
    assert nodes[0].connectors == ("carrier-a",)
    assert nodes[2].msg_per_s == 12.5 and nodes[2].queue == 3
    assert members[0].receivers_elsewhere("esme1") == ["node-b"]
    assert members[1].receivers_elsewhere("esme1") == []  # its own receivers are not elsewhere
    assert members[0].receivers_elsewhere("nobody") == []


async def test_a_silent_node_is_dead_after_the_ttl(make_bus: BusFactory) -> None:
    a, b = await make_bus("node-a"), await make_bus("node-b")
    member_a = _member(a, {}, ttl=1.0)
    member_b = _member(b, {"esme1": SessionCounts(receivers=1)}, ttl=1.0)
    await member_b.beat()
    await member_a.beat()
    assert member_a.receivers_elsewhere("esme1") == ["node-b"]

    # node-b stops writing (as if killed): the server's max_age removes its record.
    async with asyncio.timeout(10):
        while True:
            await asyncio.sleep(0.25)
            await member_a.beat()
            if [n.node_id for n in member_a.nodes()] == ["node-a"]:
                break
    assert member_a.receivers_elsewhere("esme1") == []


async def test_a_node_that_stops_leaves_at_once(make_bus: BusFactory) -> None:
    a, b = await make_bus("node-a"), await make_bus("node-b")
    member_a, member_b = _member(a, {}), _member(b, {})
    await member_b.beat()
    await member_a.beat()
    assert len(member_a.nodes()) == 2
    await member_b.stop()
    await member_a.beat()
    assert [n.node_id for n in member_a.nodes()] == ["node-a"]
