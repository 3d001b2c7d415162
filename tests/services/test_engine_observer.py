"""The engine tells its observer (engine/observer.py) each message stored and each message
ended, however it ended, with times that make exact latencies: the node's metrics
(app/metrics.MessageMetrics, the observer here) count exactly what happened."""

from __future__ import annotations

from datetime import timedelta

from opensmsc.app.metrics import DELIVERY_BUCKETS, MessageMetrics
from opensmsc.smpp.constants import MessageState
from opensmsc.smpp.pdu import CancelSm
from opensmsc.smpp.times import format_relative
from opensmsc.store import Direction
from tests.services.conftest import EngineFactory
from tests.services.engine_harness import S, ScriptedRoute

LATER = format_relative(timedelta(hours=1))
MT = Direction.MT


def _le(seconds: float) -> int:
    """The index of the delivery latency bucket that holds `seconds`."""
    return next(i for i, bound in enumerate(DELIVERY_BUCKETS) if seconds <= bound)


async def test_every_way_a_message_ends_is_heard_once_with_its_latency(
    engine_factory: EngineFactory,
) -> None:
    metrics = MessageMetrics()
    engine = await engine_factory(routes={"loopback": ScriptedRoute("loopback")}, observer=metrics)
    await engine.submit_ok(destination_addr="3161")
    await engine.submit_ok(destination_addr="3162")
    engine.clock.advance(seconds=2)
    assert await engine.run() == 2  # delivered, 2 s after their submission

    old = await engine.submit_ok(destination_addr="3163", schedule_delivery_time=LATER)
    new = await engine.submit_ok(
        destination_addr="3163", schedule_delivery_time=LATER, replace_if_present_flag=1
    )
    assert (await engine.state(old)).state is MessageState.DELETED  # superseded
    cancel = CancelSm(message_id=new, source_addr="1234")
    assert await engine.operations.cancel("esme1", cancel) == S.ESME_ROK
    await engine.submit_ok(
        destination_addr="3164",
        schedule_delivery_time=format_relative(timedelta(minutes=5)),
        validity_period=format_relative(timedelta(minutes=6)),
    )
    engine.clock.advance(minutes=7)
    await engine.run()  # expired, 420 s after its submission, never attempted

    assert list(metrics.finished()) == [
        (MT, "esme1", None, MessageState.EXPIRED, 1),
        (MT, "esme1", None, MessageState.DELETED, 2),
        (MT, "esme1", "loopback", MessageState.DELIVERED, 2),
    ]
    # The fake clock does not move while the store commits: each submit took 0 s.
    assert metrics.submit_latency.counts[0] == 5 and sum(metrics.submit_latency.counts) == 5
    delivered = metrics.delivery_latency["loopback"]
    assert delivered.counts[_le(2.0)] == 2 and sum(delivered.counts) == 2
    assert delivered.total == 4.0
    unrouted = metrics.delivery_latency[None]
    assert unrouted.counts[_le(0.0)] == 2 and unrouted.counts[_le(420.0)] == 1
    assert unrouted.total == 420.0


async def test_a_refused_submit_and_a_store_refusal_are_not_heard(
    engine_factory: EngineFactory,
) -> None:
    metrics = MessageMetrics()
    engine = await engine_factory(observer=metrics)
    message_id, status = await engine.submit(destination_addr="")  # no destination
    assert message_id is None and status != 0
    done = await engine.submit_ok(destination_addr="3165")
    await engine.run()
    record = await engine.state(done)
    # Ending it again is refused by the store: nothing more is counted.
    assert await engine.lifecycle.finish(record, MessageState.EXPIRED) is None
    assert list(metrics.finished()) == [(MT, "esme1", "loopback", MessageState.DELIVERED, 1)]
    assert sum(metrics.submit_latency.counts) == 1
