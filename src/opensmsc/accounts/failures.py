"""What failed binds cost their source: scores, delays and turns per (source, system_id).

The `Authenticator` decides binds; this module remembers, per pair of a source (an IPv4
address, or an IPv6 /64) and a system_id, how much that pair has failed lately and how many of
its binds are being checked, and turns that into a wait and a turn. It is pure: time comes in
as `moment` (monotonic seconds), and it logs nothing.

A pair is one account from one source, so one bad ESME behind a shared NAT address does not
slow its neighbours. Every system_id that is no account's counts as one pair per source
(`""`), so that guessing account names is slowed as one.
"""

from __future__ import annotations

import ipaddress
import math
from collections import OrderedDict

__all__ = ["BindFailures", "IPAddress", "Pair", "RateLimitedLog", "pair_of"]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Source = ipaddress.IPv4Address | ipaddress.IPv6Network
Pair = tuple[Source, str]


def pair_of(address: IPAddress, system_id: str) -> Pair:
    """The pair `address` and `system_id` count against ("" for an unknown system_id)."""
    return (_source(address), system_id)


def _source(address: IPAddress) -> Source:
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        # A subscriber usually gets a whole /64: counting single addresses would let one
        # client rotate through 2**64 of them.
        return ipaddress.IPv6Network((int(address) >> 64 << 64, 64))
    return address


class BindFailures:
    """Scores, delays and turns of (source, system_id) pairs.

    - Each failure adds 1 to its pair's score, which halves every `half_life` seconds.
    - `delay`: 0 while the score is below `free` (the first `free` failures are answered at
      once); beyond, `base_delay * (2**(score - free + 1) - 1)`, at most `max_delay`. A base
      or a maximum of 0 turns the delay off.
    - `checking`: binds of the pair handed to the password verifier and not finished.
    - At most `max_pairs` pairs are remembered, the stalest forgotten first.
    """

    def __init__(
        self,
        *,
        base_delay: float,
        max_delay: float,
        half_life: float,
        free: int,
        max_pairs: int,
    ) -> None:
        if half_life <= 0 or max_pairs < 1 or free < 1:
            raise ValueError(
                "failure_half_life, max_tracked_sources and failure_free must be positive"
            )
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.free = free
        self._half_life = half_life
        self._max_pairs = max_pairs
        # pair → (score, time of the last failure); most recently failed last.
        self._scores: OrderedDict[Pair, tuple[float, float]] = OrderedDict()
        # Bounded by the open connections: every entry is a bind waiting for its check.
        self._checking: dict[Pair, int] = {}
        # pair → when a bind of it was last refused for a saturated verifier.
        self._unverified: OrderedDict[Pair, float] = OrderedDict()

    # ---- scores and delays ----------------------------------------------------------------

    def score(self, pair: Pair, moment: float) -> float:
        entry = self._scores.get(pair)
        if entry is None:
            return 0.0
        score, last = entry
        return score * math.pow(0.5, max(0.0, moment - last) / self._half_life)

    def delay(self, pair: Pair, moment: float) -> float:
        """Seconds the pair's next bind waits before its check or its refusal."""
        return self.delay_for(self.score(pair, moment))

    def delay_for(self, score: float) -> float:
        if self.base_delay <= 0 or self.max_delay <= 0:
            return 0.0  # turned off, however many failures came before
        excess = score - self.free + 1.0
        if excess < 1.0:  # within the free failures (decay makes scores fractional)
            return 0.0
        if excess >= 64:  # 2**64 overflows any sensible cap; skip the arithmetic
            return self.max_delay
        return min(self.max_delay, self.base_delay * (math.pow(2.0, excess) - 1.0))

    def is_failing(self, pair: Pair, moment: float) -> bool:
        """Past its free failures: one bind of it is checked at a time."""
        return self.score(pair, moment) >= self.free

    def failed_recently(self, pair: Pair, moment: float) -> bool:
        return self.score(pair, moment) >= 0.5

    def record(self, pair: Pair, moment: float) -> float:
        """One more failure of `pair`; its new score."""
        score = self.score(pair, moment) + 1.0
        self._scores.pop(pair, None)
        self._scores[pair] = (score, moment)
        while len(self._scores) > self._max_pairs:
            self._scores.popitem(last=False)
        return score

    # ---- binds being checked --------------------------------------------------------------

    def checking(self, pair: Pair) -> int:
        return self._checking.get(pair, 0)

    def begin_check(self, pair: Pair) -> None:
        self._checking[pair] = self._checking.get(pair, 0) + 1

    def end_check(self, pair: Pair) -> None:
        count = self._checking.get(pair, 0)
        if count <= 1:
            self._checking.pop(pair, None)
        else:
            self._checking[pair] = count - 1

    def unverified_delay(self, pair: Pair, moment: float) -> float:
        """The wait before refusing a bind whose password the saturated verifier could not
        check: none for a lone bind (an honest client retries later); the pair's delay, at
        least `base_delay`, for one of a crowd, of a pair that failed, or of a pair refused
        so less than a second (or a base delay) ago: it would come straight back, again and
        again, while the verifier is saturated."""
        last = self._unverified.pop(pair, None)
        self._unverified[pair] = moment
        while len(self._unverified) > self._max_pairs:
            self._unverified.popitem(last=False)
        recent = last is not None and moment - last < max(self.base_delay, 1.0)
        if recent or pair in self._checking or self.failed_recently(pair, moment):
            return max(self.delay(pair, moment), self.base_delay)
        return 0.0


class RateLimitedLog:
    """At most one line per `period`; counts the ones it held back."""

    __slots__ = ("_last", "_period", "_suppressed")

    def __init__(self, *, period: float) -> None:
        self._period = period
        self._last: float | None = None
        self._suppressed = 0

    def take(self, moment: float) -> int | None:
        """None: do not log now. Otherwise log, with this many held back since the last."""
        if self._last is not None and moment - self._last < self._period:
            self._suppressed += 1
            return None
        suppressed, self._suppressed, self._last = self._suppressed, 0, moment
        return suppressed
