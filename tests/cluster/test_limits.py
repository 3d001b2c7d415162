"""Cluster-wide limits with three nodes' limit objects exchanging demand through the real NATS
membership bucket: a throughput cap holds within 5% under uneven load, and max_binds counts
the binds of every node."""

from __future__ import annotations

import pytest

from opensmsc.cluster.bus import Bus
from opensmsc.cluster.limits import BindSlots, SharedRates, fair_shares
from opensmsc.cluster.membership import Membership, NodeRecord
from tests.cluster.conftest import BusFactory


class SimClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_fair_shares_give_the_quiet_node_its_demand_and_split_the_rest() -> None:
    shares = fair_shares(300.0, {"a": 600.0, "b": 300.0, "c": 60.0})
    assert sum(shares.values()) == pytest.approx(300.0)
    assert shares["c"] == pytest.approx(60.0)
    assert shares["a"] == pytest.approx(120.0) and shares["b"] == pytest.approx(120.0)
    spare = fair_shares(300.0, {"a": 10.0, "b": 0.0})
    assert sum(spare.values()) == pytest.approx(300.0)
    assert spare["a"] > 10.0 and spare["b"] > 0.0  # room to grow on both


async def test_a_throughput_cap_holds_within_5_percent_across_three_nodes(
    make_bus: BusFactory,
) -> None:
    cap = 300.0
    offered = {"node-a": 600.0, "node-b": 300.0, "node-c": 60.0}  # msg/s, uneven
    clock = SimClock()
    buses: list[Bus] = [await make_bus(node_id) for node_id in offered]
    rates: dict[str, SharedRates] = {}
    members: list[Membership] = []
    for bus in buses:
        shared = rates[bus.node_id] = SharedRates(bus.node_id, clock=clock)
        shared.bucket("account:esme1", cap, cap)

        def report(bus: Bus = bus, shared: SharedRates = shared) -> NodeRecord:
            return NodeRecord(node_id=bus.node_id, demand=shared.demand())

        member = Membership(bus, report)
        member.add_listener(shared.on_view)
        members.append(member)

    step = 0.01  # simulated seconds; the demand exchange each simulated second is real NATS
    owed = dict.fromkeys(offered, 0.0)
    taken = dict.fromkeys(offered, 0)
    warmup, seconds = 5, 25
    for tick in range(int(seconds / step)):
        clock.now += step
        if tick % int(1 / step) == 0:
            for member in members:
                await member.beat()
        for node_id, load in offered.items():
            owed[node_id] += load * step
            bucket = rates[node_id].bucket("account:esme1", cap, cap)
            while owed[node_id] >= 1:
                owed[node_id] -= 1
                if bucket.try_take(clock.now) and tick * step >= warmup:
                    taken[node_id] += 1

    measured = sum(taken.values()) / (seconds - warmup)
    assert abs(measured - cap) / cap < 0.05, (measured, taken)
    # The quiet node is not starved by the busy ones: it gets about what it offers.
    assert taken["node-c"] / (seconds - warmup) > 0.9 * offered["node-c"]


async def test_max_binds_counts_the_binds_of_every_node(make_bus: BusFactory) -> None:
    slots = [BindSlots(await make_bus(f"node-{n}")) for n in "abc"]
    sessions = [object() for _ in range(4)]
    assert await slots[0].acquire(sessions[0], "esme1", 3)
    assert await slots[1].acquire(sessions[1], "esme1", 3)
    assert await slots[2].acquire(sessions[2], "esme1", 3)
    assert not await slots[2].acquire(sessions[3], "esme1", 3)  # the cluster has 3
    assert await slots[2].acquire(sessions[3], "esme2", 1)  # another account's slots
    slots[0].release(sessions[0])
    await slots[0].stop()  # waits for the release to reach NATS
    assert await slots[1].acquire(sessions[0], "esme1", 3)  # a freed slot, on another node
    await slots[1].refresh()
    assert slots[1].held() == 2


def test_a_bucket_made_in_a_cluster_starts_at_an_even_split() -> None:
    clock = SimClock()
    rates = SharedRates("node-a", clock=clock)
    rates.on_view({n: NodeRecord(node_id=n) for n in ("node-a", "node-b", "node-c")})
    bucket = rates.bucket("account:esme1", 300.0, 300.0)
    assert bucket.rate == pytest.approx(100.0)  # before any demand is shared
    assert bucket.burst == pytest.approx(100.0)
    alone = SharedRates("node-a", clock=clock).bucket("account:esme1", 300.0, 300.0)
    assert alone.rate == 300.0


def test_a_limit_quiet_for_long_leaves_the_record_and_the_cap_to_the_busy() -> None:
    clock = SimClock()
    a = SharedRates("node-a", clock=clock, quiet_after=60.0)
    bucket = a.bucket("account:esme1", 300.0, 300.0)
    assert a.demand() == {"account:esme1": 0.0}  # new: reported, so shares count it
    clock.now += 61.0
    assert a.demand() == {}  # a minute without an offer: no longer in the record
    busy = NodeRecord(node_id="node-b", demand={"account:esme1": 500.0})
    a.on_view({"node-a": NodeRecord(node_id="node-a"), "node-b": busy})
    assert bucket.rate == pytest.approx(300.0 * 0.02 / 2)  # the floor: node-b has the rest
    assert not bucket.try_take(clock.now, 4)  # the burst shrank with the share (3)
    clock.now += 1.0
    assert a.demand() == {"account:esme1": 4.0}  # offered again: back in the record
