"""TokenBucket: the throughput cap. Pure, so time is a plain float moved by hand."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from opensmsc.accounts.throttle import TokenBucket


def test_starts_full_and_allows_a_burst() -> None:
    bucket = TokenBucket(rate=10, burst=5)
    assert [bucket.try_take(100.0) for _ in range(6)] == [True] * 5 + [False]


def test_refills_at_rate() -> None:
    bucket = TokenBucket(rate=10, burst=5)
    for _ in range(5):
        assert bucket.try_take(0.0)
    assert not bucket.try_take(0.05)  # half a token
    assert bucket.try_take(0.1)  # one token after 0.1 s at 10/s
    assert not bucket.try_take(0.1)


def test_refill_stops_at_burst() -> None:
    bucket = TokenBucket(rate=100, burst=3)
    assert bucket.try_take(0.0)
    assert bucket.available(3600.0) == 3.0


def test_failed_take_takes_nothing() -> None:
    bucket = TokenBucket(rate=1, burst=3)
    assert not bucket.try_take(0.0, n=4)
    assert bucket.try_take(0.0, n=3)


def test_delay_until_available() -> None:
    bucket = TokenBucket(rate=4, burst=2)
    assert bucket.delay_until_available(0.0) == 0.0
    assert bucket.try_take(0.0, n=2)
    assert bucket.delay_until_available(0.0) == pytest.approx(0.25)
    assert bucket.delay_until_available(0.0, n=2) == pytest.approx(0.5)
    assert bucket.delay_until_available(0.1) == pytest.approx(0.15)
    assert bucket.delay_until_available(0.0, n=3) == math.inf  # beyond burst: never


def test_delay_is_exact_enough_to_sleep_on() -> None:
    bucket = TokenBucket(rate=3, burst=1)
    assert bucket.try_take(10.0)
    wait = bucket.delay_until_available(10.0)
    assert bucket.try_take(10.0 + wait)


def test_clock_going_backwards_adds_nothing() -> None:
    bucket = TokenBucket(rate=1, burst=1)
    assert bucket.try_take(100.0)
    assert not bucket.try_take(50.0)
    assert not bucket.try_take(100.5)
    assert bucket.try_take(101.0)


@pytest.mark.parametrize(
    ("rate", "burst"), [(0, 1), (-1, 1), (math.inf, 1), (math.nan, 1), (1, 0.5), (1, math.inf)]
)
def test_rejects_unusable_parameters(rate: float, burst: float) -> None:
    with pytest.raises(ValueError, match=r"rate|burst"):
        TokenBucket(rate=rate, burst=burst)


def test_rejects_taking_nothing() -> None:
    with pytest.raises(ValueError, match="at least one"):
        TokenBucket(rate=1, burst=1).try_take(0.0, n=0)


@given(
    rate=st.floats(min_value=0.01, max_value=10_000, allow_nan=False),
    burst=st.floats(min_value=1, max_value=1_000, allow_nan=False),
    start=st.floats(min_value=-1e6, max_value=1e6, allow_nan=False),
    steps=st.lists(
        st.tuples(st.floats(min_value=0, max_value=5, allow_nan=False), st.integers(1, 5)),
        min_size=1,
        max_size=120,
    ),
)
def test_never_more_than_burst_plus_rate_times_span(
    rate: float, burst: float, start: float, steps: list[tuple[float, int]]
) -> None:
    bucket = TokenBucket(rate=rate, burst=burst)
    now = start
    taken: list[tuple[float, int]] = []
    for gap, n in steps:
        now += gap
        if bucket.try_take(now, n):
            taken.append((now, n))
    # Every window between two accepted takes, both included.
    for i, (t_first, _) in enumerate(taken):
        total = 0
        for t_last, n in taken[i:]:
            total += n
            span = t_last - t_first
            # The tolerance only absorbs float rounding in the refill, never a whole token.
            assert total <= burst + rate * span + 1e-6 * (1 + burst + rate * span)


def test_a_take_beyond_the_burst_may_leave_the_bucket_in_debt() -> None:
    # A submit_multi to more destinations than the burst: taken from a full bucket, repaid at
    # the rate before anything else is taken (issue 10 item 24).
    bucket = TokenBucket(rate=5, burst=5)
    assert not bucket.try_take(0.0, n=10)
    assert bucket.try_take(0.0, n=10, allow_debt=True)
    assert bucket.available(0.0) == pytest.approx(-5)
    assert not bucket.try_take(1.1)  # the debt of 5 took 1 s to repay; 0.5 token since
    assert not bucket.try_take(1.1, n=10, allow_debt=True)  # from a full bucket only
    assert bucket.try_take(1.2)
    assert not bucket.try_take(1.6, n=3, allow_debt=True)  # within the burst: no debt
    assert bucket.try_take(1.6, n=2, allow_debt=True)


def test_set_rate_keeps_the_tokens_earned_up_to_the_new_burst() -> None:
    bucket = TokenBucket(rate=10, burst=10)
    assert bucket.try_take(0.0, 10)
    bucket.set_rate(0.5, 100, 3)  # 5 tokens earned at the old rate, capped at the new burst
    assert bucket.available(0.5) == pytest.approx(3)
    assert bucket.available(0.51) == pytest.approx(3)  # full at the new burst
    assert bucket.try_take(0.51, 3)
    assert bucket.available(0.52) == pytest.approx(1.0)  # 0.01 s at the new rate
    with pytest.raises(ValueError):
        bucket.set_rate(1.0, 0, 3)
