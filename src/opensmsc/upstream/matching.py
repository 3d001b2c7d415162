"""Matching an upstream SMSC's delivery receipts to our messages, for one connector.

What this is for: the upstream answers our submit_sm with its own message_id and later quotes
an id in a receipt, not always written the same way: leading zeros, letter case, or the same
number in the other base (hex in submit_sm_resp, decimal in the receipt: Kannel's msg-id-type
exists for this). `ReceiptMatcher` keeps upstream id → our id, and holds a receipt that arrives
before the submit_sm_resp it refers to (a transmitter+receiver pair has two sockets; some SMSCs
answer slowly) until that response comes, a bound is reached, or a timeout passes. Nothing is
dropped: a receipt it cannot match comes out with our id None.

How ids are read (issue 10 item 7), by `IdReading`, one per connector:
- the id exactly as the upstream wrote it in submit_sm_resp matches first;
- then the id read as a number. Keys carry their reading (`dec:16`, `hex:16`), so the decimal
  reading of one id never meets the hex reading of another ("0000000000000010" as decimal 10
  and "000000000000000a" as hex 10 are two keys). DEC and HEX read every id in that base.
  AUTO settles per connector: digits-only ids are kept under both readings until an id with a
  hex letter shows the upstream writes hex, and from then on only the hex reading is used.
- under AUTO a receipt may quote the number in the same base or in the other one. The first
  receipt that only one base can match settles which (`learn`); from then on only that one is
  used. Until then, when both name a known id (two different messages), a hex upstream's
  digits-only receipt is read as decimal (a hex writer's receipts carry its letters), any other
  in the same base; and a receipt id as long as every submit_sm_resp id so far is written the
  upstream's way, so it is read in the upstream's base only ("0000000000000010" is never
  decimal ten when the upstream writes `%016x`).

What it is not: I/O or a clock. It is plain data, time comes in as `now` (monotonic seconds),
and whatever is ready comes back as `Match` values for the caller to deliver and acknowledge.
The id map lives in memory, bounded, oldest first out; the durable map in the store uses the
same keys (`upstream_id_keys`, `IdReading.lookup_keys`).
"""

from __future__ import annotations

import enum
import string
from collections import OrderedDict, deque
from dataclasses import dataclass
from typing import Final, Generic, TypeVar

from opensmsc.smpp import ReceiptInfo
from opensmsc.upstream.settings import MessageIdFormat

__all__ = ["IdReading", "Match", "ReceiptMatcher", "upstream_id_keys"]

T = TypeVar("T")

_HEX_DIGITS: Final = frozenset(string.hexdigits)
_BASES: Final = {"dec": 10, "hex": 16}


class _Kind(enum.Enum):
    """How a receipt's id relates to the submit_sm_resp id a key stands for."""

    EXACT = "exact"  # the same text
    SAME = "same"  # the same number in the same base
    OTHER = "other"  # the same number in the other base


def _readings(text: str) -> dict[str, int]:
    """The numeric readings of an id: {"dec": n} when all digits, {"hex": n} when all hex
    digits; empty for anything else (UUIDs, ids with dashes, non-ASCII)."""
    if not text or not text.isascii() or not text.isalnum():
        return {}
    found: dict[str, int] = {}
    if text.isdigit():
        found["dec"] = int(text, 10)
    if all(c in _HEX_DIGITS for c in text):
        found["hex"] = int(text, 16)
    return found


def _every_key(quoted: str) -> tuple[str, ...]:
    """Every key a receipt's id could stand for, whatever a reading settles on: what a held
    receipt is filed under until the submit_sm_resp it waits for comes."""
    text = quoted.strip()
    readings = _readings(text)
    keys = [f"={text}"] if text else []
    keys.extend(f"{ns}:{value}" for ns in _BASES for value in readings.values())
    if text and not readings:
        keys.append(f"text:{text.lower()}")
    return tuple(dict.fromkeys(keys))


def upstream_id_keys(upstream_id: str, id_format: MessageIdFormat) -> tuple[str, ...]:
    """Every key an upstream id from a submit_sm_resp is known by: its exact text, then each
    reading `id_format` allows (AUTO: both, for a digits-only id), or its lower-case text when
    it is no number. The store's durable map keeps the same keys (ConnectorRoute)."""
    text = upstream_id.strip()
    if not text:
        return ()
    keys = [f"={text}"]
    readings = _readings(text)
    if id_format is MessageIdFormat.DEC:
        readings.pop("hex", None)
    elif id_format is MessageIdFormat.HEX:
        readings.pop("dec", None)
    keys.extend(f"{name}:{value}" for name, value in readings.items())
    if not readings:
        keys.append(f"text:{text.lower()}")
    return tuple(keys)


class IdReading:
    """How one connector reads its upstream's ids (module doc): what it has settled, and the
    keys under which a receipt's id is looked up, in order. Pure and deterministic."""

    def __init__(self, id_format: MessageIdFormat = MessageIdFormat.AUTO) -> None:
        self._format = id_format
        # AUTO: True once an id with a hex letter came in a submit_sm_resp.
        self._hex_upstream = id_format is MessageIdFormat.HEX
        # The length every submit_sm_resp id had so far; None before the first, -1 once two
        # differed. A receipt id of that length is written the upstream's way: same base.
        self._width: int | None = None
        self._receipts: _Kind | None = None  # AUTO: SAME or OTHER once learnt

    @property
    def id_format(self) -> MessageIdFormat:
        return self._format

    @property
    def namespaces(self) -> tuple[str, ...]:
        """The readings of submit_sm_resp ids in use now."""
        if self._format is MessageIdFormat.DEC:
            return ("dec",)
        if self._hex_upstream:
            return ("hex",)
        return ("dec", "hex")

    @property
    def receipts_in_other_base(self) -> bool | None:
        """What AUTO learnt of the receipts' base; None while it has not."""
        return None if self._receipts is None else self._receipts is _Kind.OTHER

    def observe(self, upstream_id: str) -> None:
        """A submit_sm_resp id: under AUTO an id with a hex letter settles the hex reading."""
        if self._format is not MessageIdFormat.AUTO:
            return
        text = upstream_id.strip()
        if self._width is None:
            self._width = len(text)
        elif self._width != len(text):
            self._width = -1
        readings = _readings(text)
        if "hex" in readings and "dec" not in readings:
            self._hex_upstream = True

    def learn(self, kind: _Kind) -> None:
        if self._format is MessageIdFormat.AUTO and self._receipts is None:
            self._receipts = kind

    def candidates(self, quoted: str) -> list[tuple[str, _Kind]]:
        """The keys a receipt's id may stand for: the exact text first, then its readings in
        the upstream's base and in the other one, the preferred first. Once AUTO has learnt
        which base receipts use, only that one."""
        text = quoted.strip()
        if not text:
            return []
        found = [(f"={text}", _Kind.EXACT)]
        readings = _readings(text)
        native = len(text) == self._width
        may_cross = self._format is MessageIdFormat.AUTO and not native
        use_same = self._receipts is not _Kind.OTHER or native
        use_other = may_cross and self._receipts is not _Kind.SAME
        same: list[tuple[str, _Kind]] = []
        other: list[tuple[str, _Kind]] = []
        for name in self.namespaces:
            if use_same and name in readings:
                same.append((f"{name}:{readings[name]}", _Kind.SAME))
            other_name = "hex" if name == "dec" else "dec"
            if use_other and other_name in readings:
                other.append((f"{name}:{readings[other_name]}", _Kind.OTHER))
        # A hex writer's receipts carry its letters; digits alone from it are likely decimal.
        prefer_other = self._receipts is _Kind.OTHER or (
            self._receipts is None and self._hex_upstream and "dec" in readings
        )
        found.extend([*other, *same] if prefer_other else [*same, *other])
        if not readings:
            found.append((f"text:{text.lower()}", _Kind.SAME))
        return found

    def lookup_keys(self, quoted: str) -> tuple[str, ...]:
        """The durable map's keys for a receipt's id, in the order to try them."""
        return tuple(dict.fromkeys(key for key, _ in self.candidates(quoted)))

    def may_refer_to(self, quoted: str, upstream_id: str) -> bool:
        """Whether a receipt quoting `quoted` can be the receipt of the submit the upstream
        answered with `upstream_id`, as this connector reads ids now (used to tell a repeated
        receipt from a collision)."""
        keys = set(upstream_id_keys(upstream_id, self._format))
        return any(key in keys for key, _ in self.candidates(quoted))


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
        self.reading = IdReading(id_format)
        self._max_ids = max_ids
        self._max_held = max_held
        self._hold_timeout = hold_timeout
        # upstream id text → (our id, its keys), oldest first; key → upstream id text.
        self._ids: OrderedDict[str, tuple[str | None, tuple[str, ...]]] = OrderedDict()
        self._by_key: dict[str, str] = {}
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

    def lookup(self, message_id: str) -> tuple[bool, str | None]:
        """(found, our id) for an upstream id as a receipt quotes it."""
        upstream_id = self._resolve(message_id)
        if upstream_id is None:
            return False, None
        return True, self._ids[upstream_id][0]

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
        text = upstream_id.strip()
        if text:
            self.reading.observe(text)
            keys = upstream_id_keys(text, self.reading.id_format)
            self._remember(text, our_id, keys)
            waiting = {id(h): h for key in keys for h in self._held_by_key.get(key, ())}
            for held in waiting.values():
                found = self._resolve(held.info.message_id)
                if held.done or found is None:
                    continue
                self._release(held)
                released.append(
                    Match(
                        our_id=self._ids[found][0], info=held.info, token=held.token, was_held=True
                    )
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
        held = _Held(info, token, _every_key(info.message_id), now + self._hold_timeout)
        self._held.append(held)
        for key in held.keys:
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

    def _resolve(self, quoted: str) -> str | None:
        """The upstream id (as remembered) a receipt's id stands for, or None. When the two
        bases name two different ids the reading's preference decides; a match that only one
        base could make teaches AUTO the receipts' base."""
        first: dict[_Kind, str] = {}
        for key, kind in self.reading.candidates(quoted):
            upstream_id = self._by_key.get(key)
            if upstream_id is not None and kind not in first:
                first[kind] = upstream_id
        if not first:
            return None
        exact = first.get(_Kind.EXACT)
        same, other = first.get(_Kind.SAME), first.get(_Kind.OTHER)
        if exact is not None:
            if other in (None, exact):
                self.reading.learn(_Kind.SAME)
            return exact
        if same is not None and other is not None and same != other:
            # Both bases name a message: the candidates' order holds the preference.
            for key, kind in self.reading.candidates(quoted):
                if kind is not _Kind.EXACT and key in self._by_key:
                    return self._by_key[key]
        if same is not None and other is None:
            self.reading.learn(_Kind.SAME)
        elif other is not None and same is None:
            self.reading.learn(_Kind.OTHER)
        return same if same is not None else other

    def _remember(self, upstream_id: str, our_id: str | None, keys: tuple[str, ...]) -> None:
        self._forget(upstream_id)
        for key in keys:
            # An upstream that reuses an id (a wrapped counter) means its newest message.
            previous = self._by_key.get(key)
            if previous is not None:
                self._forget(previous)
            self._by_key[key] = upstream_id
        self._ids[upstream_id] = (our_id, keys)
        while len(self._ids) > self._max_ids:
            self._forget(next(iter(self._ids)))

    def _forget(self, upstream_id: str) -> None:
        entry = self._ids.pop(upstream_id, None)
        if entry is None:
            return
        for key in entry[1]:
            if self._by_key.get(key) == upstream_id:
                del self._by_key[key]

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
