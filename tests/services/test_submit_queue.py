"""SubmitQueue, the connector's sans-IO submit queue: plain values, time passed in, no loop."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from opensmsc.accounts import TokenBucket
from opensmsc.upstream import SubmitQueue


def queue(**kwargs: object) -> SubmitQueue[str]:
    values: dict[str, object] = {"window": 2, "rng": random.Random(1)}
    values.update(kwargs)
    return SubmitQueue(**values)  # type: ignore[arg-type]


def test_new_items_go_out_in_order_within_the_window() -> None:
    q = queue(window=2)
    for item in "abc":
        q.put(item)
    assert q.ready_at(0.0) == 0.0
    assert [q.pop_ready(0.0), q.pop_ready(0.0)] == ["a", "b"]
    assert (q.in_flight, q.waiting) == (2, 1)
    assert q.ready_at(0.0) is None  # the window is full: an answer frees it
    assert q.pop_ready(0.0) is None
    q.accepted("a")
    assert q.pop_ready(0.0) == "c"
    assert q.ready_at(0.0) is None  # nothing waiting


def test_a_throttled_item_goes_again_first_after_a_pause() -> None:
    q = queue(window=2, throttle_min_delay=1.0, throttle_max_delay=8.0)
    for item in "abc":
        q.put(item)
    a, b = q.pop_ready(10.0), q.pop_ready(10.0)
    pause = q.throttled("a", 10.0)
    assert pause == 1.0  # the first pause is the minimum
    assert q.paused_until == 11.0
    # b was sent before the pause began: its throttling says nothing new.
    assert q.throttled("b", 10.5) is None
    assert q.ready_at(10.5) == 11.0
    assert q.pop_ready(10.9) is None
    assert [q.pop_ready(11.0), q.pop_ready(11.0)] == [a, b]
    assert q.waiting == 1  # c, behind the retries


def test_pauses_grow_while_throttling_lasts_and_reset_on_acceptance() -> None:
    q = queue(window=1, throttle_min_delay=1.0, throttle_max_delay=8.0)
    q.put("a")
    now, pauses = 0.0, []
    for _ in range(5):
        assert q.pop_ready(now) == "a"
        pause = q.throttled("a", now)
        assert pause is not None
        pauses.append(pause)
        now = q.paused_until
    ceilings = [1.0, 2.0, 4.0, 8.0, 8.0]
    assert all(max(1.0, c / 2) <= p <= c for p, c in zip(pauses, ceilings, strict=True))
    assert q.pop_ready(now) == "a"
    q.accepted("a")
    q.put("b")
    assert q.pop_ready(now) == "b"
    assert q.throttled("b", now) == 1.0  # back to the first pause


def test_the_throughput_cap_spaces_items() -> None:
    q = queue(window=10, throughput=10.0)  # burst 1: one every 0.1 s
    for item in "abc":
        q.put(item)
    assert q.pop_ready(0.0) == "a"
    assert q.pop_ready(0.0) is None
    assert q.ready_at(0.0) == pytest.approx(0.1)
    assert q.pop_ready(0.1) == "b"
    assert q.ready_at(0.15) == pytest.approx(0.2)


def test_a_given_bucket_sets_the_pace_a_clusters_share() -> None:
    # In a cluster the connector's bucket is this node's share of its rate (cluster/limits.py).
    shared = TokenBucket(5.0, 1.0)
    q: SubmitQueue[str] = SubmitQueue(window=10, throughput=10.0, bucket=shared)
    for item in "abc":
        q.put(item)
    assert q.pop_ready(0.0) == "a"
    assert q.ready_at(0.0) == pytest.approx(0.2)  # 5/s, not the 10/s of the connector alone
    shared.set_rate(0.0, 10.0, 1.0)  # the share grew
    assert q.ready_at(0.0) == pytest.approx(0.1)


def test_withdraw_takes_out_only_waiting_items() -> None:
    q = queue(window=1)
    q.put("a")
    q.put("b")
    assert q.pop_ready(0.0) == "a"
    assert not q.withdraw("a")  # on the wire: its answer still comes
    assert q.withdraw("b")
    assert q.waiting == 0 and not q.withdraw("b")
    q.failed("a")
    assert q.in_flight == 0


def test_clear_returns_waiting_items_retries_first() -> None:
    q = queue(window=2)
    for item in "abc":
        q.put(item)
    q.pop_ready(0.0)
    q.throttled("a", 0.0)
    assert q.clear() == ["a", "b", "c"]
    assert q.waiting == 0 and q.ready_at(100.0) is None


def test_misuse_is_refused() -> None:
    q = queue()
    q.put("a")
    with pytest.raises(ValueError, match="queued already"):
        q.put("a")
    with pytest.raises(ValueError, match="not in flight"):
        q.accepted("a")
    with pytest.raises(ValueError, match="window"):
        SubmitQueue[str](window=0)


# -- properties ---------------------------------------------------------------------------------

# "put" and "pop" twice: queues that fill up and windows that run full are what is tested.
_OPS = st.lists(
    st.tuples(
        st.sampled_from(
            ["put", "put", "pop", "pop", "accept", "throttle", "fail", "withdraw", "wait"]
        ),
        st.floats(min_value=0.0, max_value=2.0),
        st.integers(min_value=0, max_value=1000),
    ),
    min_size=10,
    max_size=200,
)


@settings(max_examples=300, deadline=None)
@given(
    ops=_OPS,
    window=st.integers(min_value=1, max_value=5),
    throughput=st.sampled_from([0.0, 5.0, 50.0]),
)
def test_the_window_the_pause_and_the_order_always_hold(
    ops: list[tuple[str, float, int]], window: int, throughput: float
) -> None:
    q: SubmitQueue[int] = SubmitQueue(
        window=window,
        throughput=throughput,
        throttle_min_delay=0.1,
        throttle_max_delay=1.0,
        rng=random.Random(0),
    )
    now = 0.0
    serial = 0
    in_flight: list[int] = []
    throttled: list[int] = []  # waiting again, in the order they came back
    fresh: list[int] = []  # waiting for a first attempt, in the order they came
    sent_at: list[float] = []
    for op, delay, pick in ops:
        match op:
            case "put":
                q.put(serial)
                fresh.append(serial)
                serial += 1
            case "wait":
                now += delay
            case "pop":
                paused_until = q.paused_until
                item = q.pop_ready(now)
                if item is None:
                    # Held back only by the window, a pause or the throughput cap.
                    assert (
                        not (throttled or fresh)
                        or len(in_flight) == window
                        or now < paused_until
                        or throughput
                    )
                    continue
                assert now >= paused_until  # never inside a throttling pause
                assert item == (throttled or fresh).pop(0)  # retries first, each in order
                in_flight.append(item)
                sent_at.append(now)
            case "withdraw" if throttled or fresh:
                waiting = throttled + fresh
                item = waiting[pick % len(waiting)]
                assert q.withdraw(item)
                (throttled if item in throttled else fresh).remove(item)
            case "accept" | "throttle" | "fail" if in_flight:
                item = in_flight.pop(pick % len(in_flight))
                if op == "accept":
                    q.accepted(item)
                elif op == "fail":
                    q.failed(item)
                else:
                    q.throttled(item, now)
                    throttled.append(item)
            case _:
                pass
        assert q.in_flight == len(in_flight) <= window
        assert q.waiting == len(throttled) + len(fresh)
        ready = q.ready_at(now)
        if ready is not None:
            assert ready >= max(now, q.paused_until)
    if throughput:
        # A token bucket of burst max(1, rate/10): over any span at most burst + rate × span.
        burst = max(1.0, throughput / 10.0)
        for i, start in enumerate(sent_at):
            for j in range(i, len(sent_at)):
                span = sent_at[j] - start
                assert j - i + 1 <= burst + throughput * span + 1e-6
