"""Retry schedules: pure functions, so properties over any times and policies."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from opensmsc.routing import (
    DEFAULT_POLICIES,
    ErrorClass,
    ExpireAt,
    GiveUp,
    RetryAt,
    RetryPolicy,
    classify_map_error,
    next_attempt,
)
from opensmsc.routing.retry import schedule
from opensmsc.smpp import MessageState

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)
HOUR = timedelta(hours=1)


def test_default_temporary_schedule_matches_the_issue() -> None:
    decisions = list(schedule(RetryPolicy(), first_failure=T0, expires_at=T0 + 48 * HOUR))
    retries = [d.at - T0 for d in decisions if isinstance(d, RetryAt)]
    gaps = [b - a for a, b in zip([timedelta(0), *retries], retries, strict=False)]
    assert gaps[:7] == [MIN, 5 * MIN, 15 * MIN, 30 * MIN, HOUR, 2 * HOUR, 4 * HOUR]
    assert set(gaps[7:]) == {4 * HOUR}
    assert decisions[-1] == ExpireAt(T0 + 48 * HOUR)


def test_permanent_errors_give_up_at_once() -> None:
    policy = DEFAULT_POLICIES[ErrorClass.PERMANENT]
    assert next_attempt(policy, attempts=1, failed_at=T0, expires_at=T0 + HOUR) == GiveUp()
    assert GiveUp().state is MessageState.UNDELIVERABLE


def test_retry_once_then_give_up() -> None:
    policy = DEFAULT_POLICIES[ErrorClass.RETRY_ONCE]
    first = next_attempt(policy, attempts=1, failed_at=T0, expires_at=T0 + HOUR)
    assert first == RetryAt(T0 + MIN)
    assert next_attempt(policy, attempts=2, failed_at=T0 + MIN, expires_at=T0 + HOUR) == GiveUp()


def test_already_expired_expires_now() -> None:
    decision = next_attempt(RetryPolicy(), attempts=3, failed_at=T0 + HOUR, expires_at=T0)
    assert decision == ExpireAt(T0 + HOUR)


@pytest.mark.parametrize(
    ("code", "cause", "expected"),
    [
        (1, None, ErrorClass.PERMANENT),
        (6, None, ErrorClass.TEMPORARY),
        (27, None, ErrorClass.TEMPORARY),
        (31, None, ErrorClass.SHORT),
        (5, None, ErrorClass.RETRY_ONCE),
        (32, 0, ErrorClass.TEMPORARY),
        (32, 4, ErrorClass.SHORT),
        (32, 5, ErrorClass.PERMANENT),
        (999, None, ErrorClass.TEMPORARY),
    ],
)
def test_map_errors_are_classified(code: int, cause: int | None, expected: ErrorClass) -> None:
    assert classify_map_error(code, cause) is expected


_deltas = st.timedeltas(min_value=timedelta(seconds=1), max_value=timedelta(days=2))
policies = st.one_of(
    st.sampled_from(list(DEFAULT_POLICIES.values())),
    st.builds(
        RetryPolicy,
        delays=st.lists(_deltas, max_size=8).map(tuple),
        repeat_every=st.none() | st.timedeltas(min_value=MIN, max_value=timedelta(days=1)),
        max_attempts=st.none() | st.integers(1, 50),
    ),
)
validities = st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=7))


@given(policies, validities)
def test_schedule_is_monotonic_within_validity_and_ends(
    policy: RetryPolicy, validity: timedelta
) -> None:
    expires_at = T0 + validity
    decisions = list(schedule(policy, first_failure=T0, expires_at=expires_at))
    *retries, last = decisions
    times = [T0] + [d.at for d in retries if isinstance(d, RetryAt)]
    assert len(times) == len(retries) + 1  # only the last decision is not a retry
    assert all(a < b for a, b in itertools.pairwise(times)), "monotonic"
    assert all(t < expires_at for t in times[1:]), "never at or past validity"
    assert isinstance(last, ExpireAt | GiveUp)
    if isinstance(last, ExpireAt):
        assert last.at == max(expires_at, T0) and last.state is MessageState.EXPIRED
    if policy.repeat_every is not None and policy.max_attempts is None:
        # Unbounded retries: only validity ends them, so it ends EXPIRED.
        assert isinstance(last, ExpireAt)


@given(st.sampled_from([ErrorClass.TEMPORARY, ErrorClass.SHORT]), validities)
def test_temporary_classes_always_end_expired(error_class: ErrorClass, validity: timedelta) -> None:
    decisions = list(
        schedule(DEFAULT_POLICIES[error_class], first_failure=T0, expires_at=T0 + validity)
    )
    assert isinstance(decisions[-1], ExpireAt)


def test_policy_validation() -> None:
    with pytest.raises(ValueError, match="positive"):
        RetryPolicy(delays=(timedelta(0),))
    with pytest.raises(ValueError, match="max_attempts"):
        RetryPolicy(max_attempts=0)
