"""Matching an upstream SMSC's delivery receipts to our messages, for one connector.

What this is for: the upstream answers our submit_sm with its own message_id and later quotes
an id in a receipt, not always written the same way (decimal in one place and hex in the other,
leading zeros, letter case: see `smpp.normalize_message_id`). `ReceiptMatcher` keeps upstream
id → our id, and holds a receipt that arrives before the submit_sm_resp it refers to (a
transmitter+receiver pair has two sockets; some SMSCs answer slowly) until that response comes,
a bound is reached, or a timeout passes. Nothing is dropped: a receipt it cannot match comes out
with our id None.

What it is not: I/O or a clock. It is plain data, time comes in as `now` (monotonic seconds),
and whatever is ready comes back as `Match` values for the caller to deliver and acknowledge.
The id map lives in memory, bounded, oldest first out.
TODO(#5): keep the upstream id with the message in the store, so receipts survive a restart.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from dataclasses import dataclass
from typing import Generic, TypeVar

from opensmsc.smpp import ReceiptInfo, normalize_message_id
from opensmsc.upstream.settings import MessageIdFormat

__all__ = ["Match", "ReceiptMatcher", "message_id_key", "message_id_keys"]

T = TypeVar("T")


def message_id_key(message_id: str, id_format: MessageIdFormat) -> str:
    """The canonical key of an upstream message_id under a connector's `message_id_format`.

    DEC and HEX read a numeric id in that base (leading zeros and letter case vanish); AUTO
    reads all-digit ids as decimal and other hex-digit ids as hex. Non-numeric ids (UUIDs)
    are compared in lower case.
    """
    hex_ids = {MessageIdFormat.DEC: False, MessageIdFormat.HEX: True}.get(id_format)
    return normalize_message_id(message_id, hex_ids=hex_ids)


def message_id_keys(message_id: str, id_format: MessageIdFormat) -> tuple[str, ...]:
    """Every key an upstream message_id is known by: `message_id_key`, and under AUTO also the
    hex reading of an all-digit id. Used on both sides of a match (the id of a submit_sm_resp
    and the id a receipt quotes), here and in the durable map (`store.map_upstream_id`), so
    the two never normalise differently."""
    key = message_id_key(message_id, id_format)
    if id_format is not MessageIdFormat.AUTO:
        return (key,)
    alt = _hex_reading(message_id)
    return (key,) if alt is None or alt == key else (key, alt)


def _hex_reading(message_id: str) -> str | None:
    # AUTO's second reading of an all-digit id: the same digits taken as hex. An SMSC that
    # writes hex ids sometimes hands out one with no letter in it ("10000001").
    text = message_id.strip()
    if text.isascii() and text.isdigit():
        return normalize_message_id(text, hex_ids=True)
    return None


@dataclass(frozen=True, slots=True, kw_only=True)
class Match(Generic[T]):
    """A receipt ready to deliver: `our_id` is None when no submit of ours matched it.
    `token` is what the caller passed with the receipt (e.g. the request to acknowledge)."""

    our_id: str | None
    info: ReceiptInfo
    token: T
    was_held: bool


class _Held(Generic[T]):
    __slots__ = ("deadline", "done", "info", "keys", "token")

    def __init__(self, info: ReceiptInfo, token: T, keys: tuple[str, ...], deadline: float) -> None:
        self.info = info
        self.token = token
        self.keys = keys
        self.deadline = deadline
        self.done = False


class ReceiptMatcher(Generic[T]):
    """Upstream message_id → our message id, and receipts held until their id is known.

    The caller reports each submit as it goes (`expect`) and how it ended (`accepted`, or
    `settled` when it ended without an id). A receipt whose id is unknown is held while any
    submit still awaits its response, for at most `hold_timeout` seconds and `max_held`
    receipts (past that the oldest comes out unmatched). With nothing awaited, an unknown id
    can never become known, so the receipt comes out at once, unmatched. `max_ids` bounds the
    id map: past it the oldest mapping is forgotten.
    """

    def __init__(
        self,
        id_format: MessageIdFormat = MessageIdFormat.AUTO,
        *,
        max_ids: int = 100_000,
        max_held: int = 1000,
        hold_timeout: float = 10.0,
    ) -> None:
        if max_ids < 1 or max_held < 0 or hold_timeout < 0:
            raise ValueError("max_ids must be positive, max_held and hold_timeout not negative")
        self._format = id_format
        self._max_ids = max_ids
        self._max_held = max_held
        self._hold_timeout = hold_timeout
        # key → (our id, AUTO's hex reading of the upstream id or None)
        self._ids: OrderedDict[str, tuple[str | None, str | None]] = OrderedDict()
        self._alt: dict[str, str] = {}  # hex reading → key, AUTO only
        self._held: deque[_Held[T]] = deque()
        self._held_by_key: dict[str, list[_Held[T]]] = {}
        self._held_count = 0
        self._awaited = 0

    # -- reads --------------------------------------------------------------------------------

    @property
    def awaited(self) -> int:
        """Submits sent whose response has not come yet."""
        return self._awaited

    @property
    def held(self) -> int:
        """Receipts waiting for their submit_sm_resp."""
        return self._held_count

    @property
    def known(self) -> int:
        """Upstream ids remembered."""
        return len(self._ids)

    def key(self, message_id: str) -> str:
        return message_id_key(message_id, self._format)

    def lookup(self, message_id: str) -> tuple[bool, str | None]:
        """(found, our id) for an upstream id as a receipt quotes it."""
        for key in self._receipt_keys(message_id):
            if key in self._ids:
                return True, self._ids[key][0]
            if key in self._alt:
                return True, self._ids[self._alt[key]][0]
        return False, None

    def next_deadline(self) -> float | None:
        """When `expire` next has something to release, or None."""
        held = self._held
        while held and held[0].done:
            held.popleft()
        return held[0].deadline if held else None

    # -- submits ------------------------------------------------------------------------------

    def expect(self) -> None:
        """A submit_sm went out; its response is awaited."""
        self._awaited += 1

    def accepted(self, upstream_id: str, our_id: str | None) -> list[Match[T]]:
        """A submit was accepted with `upstream_id`: remember it, and release the receipts
        held for it (and, if nothing else is awaited, every other held receipt, unmatched)."""
        self._settle_one()
        released: list[Match[T]] = []
        if upstream_id.strip():
            key = self.key(upstream_id)
            alt = _hex_reading(upstream_id) if self._format is MessageIdFormat.AUTO else None
            if alt == key:
                alt = None
            self._remember(key, our_id, alt)
            for candidate in (key, alt):
                if candidate is None:
                    continue
                for held in list(self._held_by_key.get(candidate, ())):
                    if not held.done:
                        self._release(held)
                        released.append(
                            Match(our_id=our_id, info=held.info, token=held.token, was_held=True)
                        )
        released.extend(self._release_if_idle())
        return released

    def settled(self) -> list[Match[T]]:
        """A submit ended without an id (rejected, timed out, connection lost)."""
        self._settle_one()
        return self._release_if_idle()

    # -- receipts -----------------------------------------------------------------------------

    def receipt(self, info: ReceiptInfo, token: T, *, now: float) -> list[Match[T]]:
        """A receipt arrived: it comes back matched, or unmatched when nothing could still
        match it; otherwise it is held (and, when that exceeds `max_held`, the oldest held
        receipt comes back unmatched)."""
        found, our_id = self.lookup(info.message_id)
        if found:
            return [Match(our_id=our_id, info=info, token=token, was_held=False)]
        if self._awaited == 0 or self._max_held == 0:
            return [Match(our_id=None, info=info, token=token, was_held=False)]
        keys = self._receipt_keys(info.message_id)
        held = _Held(info, token, keys, now + self._hold_timeout)
        self._held.append(held)
        for key in keys:
            self._held_by_key.setdefault(key, []).append(held)
        self._held_count += 1
        released: list[Match[T]] = []
        while self._held_count > self._max_held:
            oldest = self._pop_oldest()
            released.append(self._unmatched(oldest))
        return released

    def expire(self, *, now: float) -> list[Match[T]]:
        """Release, unmatched, the held receipts whose hold_timeout has passed at `now`."""
        released: list[Match[T]] = []
        held = self._held
        while held and (held[0].done or held[0].deadline <= now):
            oldest = held.popleft()
            if not oldest.done:
                self._release(oldest)
                released.append(self._unmatched(oldest))
        return released

    def release_all(self) -> list[Match[T]]:
        """Every held receipt, unmatched (the connector is stopping)."""
        released = [self._unmatched(h) for h in self._held if not h.done]
        for held in self._held:
            held.done = True
        self._held.clear()
        self._held_by_key.clear()
        self._held_count = 0
        return released

    # -- internals ----------------------------------------------------------------------------

    def _receipt_keys(self, message_id: str) -> tuple[str, ...]:
        return message_id_keys(message_id, self._format)

    def _remember(self, key: str, our_id: str | None, alt: str | None) -> None:
        previous = self._ids.pop(key, None)
        if previous is not None and previous[1] is not None:
            self._alt.pop(previous[1], None)
        self._ids[key] = (our_id, alt)
        if alt is not None:
            self._alt[alt] = key
        while len(self._ids) > self._max_ids:
            _, (_, old_alt) = self._ids.popitem(last=False)
            if old_alt is not None:
                self._alt.pop(old_alt, None)

    def _settle_one(self) -> None:
        if self._awaited > 0:
            self._awaited -= 1

    def _release_if_idle(self) -> list[Match[T]]:
        if self._awaited or not self._held_count:
            return []
        return self.release_all()

    def _pop_oldest(self) -> _Held[T]:
        while True:
            oldest = self._held.popleft()
            if not oldest.done:
                self._release(oldest)
                return oldest

    def _release(self, held: _Held[T]) -> None:
        held.done = True
        self._held_count -= 1
        for key in held.keys:
            waiting = self._held_by_key.get(key)
            if waiting is None:
                continue
            waiting.remove(held)
            if not waiting:
                del self._held_by_key[key]

    @staticmethod
    def _unmatched(held: _Held[T]) -> Match[T]:
        return Match(our_id=None, info=held.info, token=held.token, was_held=True)
