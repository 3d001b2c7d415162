"""Retry schedules per error class (DIGEST §6.2): when to try a failed message again, and when
to give up. Pure functions: time in, decision out; no clock, no I/O.

What this is for: after a failed delivery attempt the engine asks `next_attempt(...)` and gets
`RetryAt(at)` (stay ENROUTE, next_attempt_at = at), `ExpireAt(at)` (the next try would fall
after validity: wait, since an alert may still release the message, then EXPIRED at `at`, the
end of validity) or `GiveUp(state)` (UNDELIVERABLE now). The default temporary schedule is
+1 min, +5 min, +15 min, +30 min, +1 h, +2 h, +4 h, then every 4 h until validity ends.

What it is not: the MAP stack. `classify_map_error` reads the MAP error and, for
sm-DeliveryFailure, its cause (TS 29.002; DIGEST §6.2 table); the engine decides what an
upstream SMPP command_status means and passes the class in.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import Enum

from opensmsc.smpp import MessageState

__all__ = [
    "DEFAULT_POLICIES",
    "ErrorClass",
    "ExpireAt",
    "GiveUp",
    "RetryAt",
    "RetryDecision",
    "RetryPolicy",
    "classify_map_error",
    "next_attempt",
    "schedule",
]

_MIN = timedelta(minutes=1)
_HOUR = timedelta(hours=1)


class ErrorClass(Enum):
    """How a failure is retried (DIGEST §6.2 "class" and "SMSC action" columns)."""

    TEMPORARY = "temporary"  # absent subscriber, memory full, transport: the long schedule
    SHORT = "short"  # subscriber busy, SC congestion, system failure: quick retries first
    RETRY_ONCE = "retry_once"  # unidentified subscriber, data missing: one more try, then fail
    PERMANENT = "permanent"  # unknown subscriber, barred, ...: UNDELIVERABLE at once


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """`delays[i]` follows failed attempt i+1; after them, every `repeat_every` (None: stop).
    `max_attempts` bounds the attempts whatever the time (None: validity alone bounds them)."""

    delays: tuple[timedelta, ...] = (
        1 * _MIN,
        5 * _MIN,
        15 * _MIN,
        30 * _MIN,
        1 * _HOUR,
        2 * _HOUR,
        4 * _HOUR,
    )
    repeat_every: timedelta | None = 4 * _HOUR
    max_attempts: int | None = None

    def __post_init__(self) -> None:
        if any(d <= timedelta(0) for d in self.delays):
            raise ValueError("retry delays must be positive")
        if self.repeat_every is not None and self.repeat_every <= timedelta(0):
            raise ValueError("repeat_every must be positive")
        if self.max_attempts is not None and self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")

    def delay_after(self, attempts: int) -> timedelta | None:
        """The wait after `attempts` failed attempts (1 = the first), or None: no more."""
        if attempts < 1:
            raise ValueError("attempts counts from 1")
        if self.max_attempts is not None and attempts >= self.max_attempts:
            return None
        if attempts <= len(self.delays):
            return self.delays[attempts - 1]
        return self.repeat_every


DEFAULT_POLICIES: Mapping[ErrorClass, RetryPolicy] = {
    ErrorClass.TEMPORARY: RetryPolicy(),
    # subscriberBusyForMT-SMS: 30 s, 1 m, 2 m, 5 m (DIGEST §6.2), then the long schedule.
    ErrorClass.SHORT: RetryPolicy(
        delays=(
            timedelta(seconds=30),
            1 * _MIN,
            2 * _MIN,
            5 * _MIN,
            15 * _MIN,
            30 * _MIN,
            1 * _HOUR,
            2 * _HOUR,
            4 * _HOUR,
        )
    ),
    ErrorClass.RETRY_ONCE: RetryPolicy(delays=(1 * _MIN,), repeat_every=None, max_attempts=2),
    ErrorClass.PERMANENT: RetryPolicy(delays=(), repeat_every=None, max_attempts=1),
}


@dataclass(frozen=True, slots=True)
class RetryAt:
    at: datetime


@dataclass(frozen=True, slots=True)
class ExpireAt:
    at: datetime  # the end of validity
    state: MessageState = field(default=MessageState.EXPIRED)


@dataclass(frozen=True, slots=True)
class GiveUp:
    state: MessageState = MessageState.UNDELIVERABLE


RetryDecision = RetryAt | ExpireAt | GiveUp


def next_attempt(
    policy: RetryPolicy, *, attempts: int, failed_at: datetime, expires_at: datetime
) -> RetryDecision:
    """After `attempts` failed attempts (the last at `failed_at`), what next. A retry is never
    at or after `expires_at`; a message already past validity expires at `failed_at`."""
    if failed_at >= expires_at:
        return ExpireAt(failed_at)
    delay = policy.delay_after(attempts)
    if delay is None:
        return GiveUp()
    at = failed_at + delay
    if at >= expires_at:
        return ExpireAt(expires_at)
    return RetryAt(at)


def schedule(
    policy: RetryPolicy, *, first_failure: datetime, expires_at: datetime
) -> Iterator[RetryDecision]:
    """Every decision for a message that fails each time it is tried, as soon as it is tried:
    the RetryAt times in order, then one ExpireAt or GiveUp. For reports and tests."""
    attempts, failed_at = 1, first_failure
    while True:
        decision = next_attempt(
            policy, attempts=attempts, failed_at=failed_at, expires_at=expires_at
        )
        yield decision
        if not isinstance(decision, RetryAt):
            return
        attempts, failed_at = attempts + 1, decision.at


# MAP error codes (TS 29.002 §17.6.6 / JSS7 MAPErrorCode) and their classes, DIGEST §6.2.
_MAP_CLASSES: Mapping[int, ErrorClass] = {
    1: ErrorClass.PERMANENT,  # unknownSubscriber
    5: ErrorClass.RETRY_ONCE,  # unidentifiedSubscriber: "mostly permanent"
    6: ErrorClass.TEMPORARY,  # absentSubscriberSM: also wait for alertServiceCentre
    9: ErrorClass.PERMANENT,  # illegalSubscriber
    11: ErrorClass.PERMANENT,  # teleserviceNotProvisioned
    12: ErrorClass.PERMANENT,  # illegalEquipment
    13: ErrorClass.PERMANENT,  # callBarred
    21: ErrorClass.PERMANENT,  # facilityNotSupported (on this path)
    27: ErrorClass.TEMPORARY,  # absentSubscriber
    31: ErrorClass.SHORT,  # subscriberBusyForMT-SMS
    33: ErrorClass.TEMPORARY,  # messageWaitingListFull: long backoff
    34: ErrorClass.SHORT,  # systemFailure
    35: ErrorClass.RETRY_ONCE,  # dataMissing
    36: ErrorClass.RETRY_ONCE,  # unexpectedDataValue
}
SM_DELIVERY_FAILURE = 32
# SM-EnumeratedDeliveryFailureCause, for MAP error 32.
_DELIVERY_FAILURE_CLASSES: Mapping[int, ErrorClass] = {
    0: ErrorClass.TEMPORARY,  # memoryCapacityExceeded: wait for alert, long backoff
    1: ErrorClass.PERMANENT,  # equipmentProtocolError
    2: ErrorClass.PERMANENT,  # equipmentNotSM-Equipped
    3: ErrorClass.PERMANENT,  # unknownServiceCentre: our configuration
    4: ErrorClass.SHORT,  # sc-Congestion
    5: ErrorClass.PERMANENT,  # invalidSME-Address
    6: ErrorClass.PERMANENT,  # subscriberNotSC-Subscriber
}


def classify_map_error(code: int, delivery_failure_cause: int | None = None) -> ErrorClass:
    """The retry class of a MAP error. Codes not in the table are treated as TEMPORARY (as
    transport failures are): validity still bounds the retries."""
    if code == SM_DELIVERY_FAILURE:
        if delivery_failure_cause is None:
            return ErrorClass.TEMPORARY
        return _DELIVERY_FAILURE_CLASSES.get(delivery_failure_cause, ErrorClass.TEMPORARY)
    return _MAP_CLASSES.get(code, ErrorClass.TEMPORARY)
