"""A token bucket: the throughput cap of an account or a connector. Pure: time comes in as `now`.

`rate` tokens per second flow into a bucket that holds at most `burst`; a message takes one.
Over any span of `s` seconds at most `burst + rate * s` takes succeed. What to do when a take
fails (answer ESME_RTHROTTLED, or wait `delay_until_available`) is the caller's choice. A
request that carries more messages than `burst` (a submit_multi) may take them all from a full
bucket and leave it in debt (`allow_debt`): over time the rate still holds.
"""

from __future__ import annotations

import math

__all__ = ["TokenBucket"]

_ROUNDING_SLACK = 1e-9  # tokens


class TokenBucket:
    """Tokens refill continuously at `rate` per second up to `burst`; the bucket starts full.

    Time is monotonic seconds from the caller's clock, passed in. A `now` earlier than one seen
    before adds no tokens (clocks are monotonic; this only guards against a caller mixing two).
    """

    __slots__ = ("_burst", "_last", "_rate", "_tokens")

    def __init__(self, rate: float, burst: float) -> None:
        if not (rate > 0 and math.isfinite(rate)):
            raise ValueError(f"rate must be a positive number of tokens per second, got {rate}")
        if not (burst >= 1 and math.isfinite(burst)):
            raise ValueError(f"burst must be at least 1 token, got {burst}")
        self._rate = float(rate)
        self._burst = float(burst)
        self._tokens = float(burst)
        self._last: float | None = None

    @property
    def rate(self) -> float:
        return self._rate

    @property
    def burst(self) -> float:
        return self._burst

    def set_rate(self, now: float, rate: float, burst: float) -> None:
        """Change the rate and burst from `now` on (a cluster node's share of a cap moves with
        its demand): tokens earned so far at the old rate are kept, up to the new burst."""
        if not (rate > 0 and math.isfinite(rate)):
            raise ValueError(f"rate must be a positive number of tokens per second, got {rate}")
        if not (burst >= 1 and math.isfinite(burst)):
            raise ValueError(f"burst must be at least 1 token, got {burst}")
        self._refill(now)
        self._rate = float(rate)
        self._burst = float(burst)
        self._tokens = min(self._tokens, self._burst)

    def try_take(self, now: float, n: int = 1, *, allow_debt: bool = False) -> bool:
        """Take `n` tokens if they are all there; otherwise take none and return False.
        With `allow_debt`, `n` above `burst` is taken from a full bucket, which then owes the
        rest (no take succeeds until the rate has repaid it)."""
        if n < 1:
            raise ValueError(f"take at least one token, got {n}")
        self._refill(now)
        needed = min(n, self._burst) if allow_debt else n
        # The slack keeps "sleep delay_until_available(), then take" from failing on float
        # rounding; the debt it allows (a billionth of a token) stays on the books.
        if self._tokens + _ROUNDING_SLACK >= needed:
            self._tokens -= n
            return True
        return False

    def delay_until_available(self, now: float, n: int = 1) -> float:
        """Seconds from `now` until `n` tokens are there (0.0 if they are); takes nothing.

        `math.inf` when `n` exceeds `burst`: such a take can never succeed.
        """
        if n > self._burst:
            return math.inf
        self._refill(now)
        missing = n - self._tokens
        return 0.0 if missing <= _ROUNDING_SLACK else missing / self._rate

    def available(self, now: float) -> float:
        """Tokens in the bucket at `now` (fractional)."""
        self._refill(now)
        return self._tokens

    def _refill(self, now: float) -> None:
        if self._last is None:
            self._last = now
            return
        elapsed = now - self._last
        if elapsed > 0:
            self._tokens = min(self._burst, self._tokens + elapsed * self._rate)
            self._last = now

    def __repr__(self) -> str:
        return f"TokenBucket(rate={self._rate}, burst={self._burst}, tokens={self._tokens:.3f})"
