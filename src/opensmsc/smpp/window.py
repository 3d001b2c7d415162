"""The two flow-control windows of an SMPP session, and its sequence numbers (digest §1.1, §1.9).

What this is for: the bookkeeping `connection.Connection` does on every PDU, kept lean because
it runs per message (the transport's throughput bar is tens of thousands a second): one dict
keyed by sequence_number per direction, and our response deadlines in a deque in send order,
which is also deadline order since `now` never goes back and response_timeout is fixed. What it
is not: the rules. Which requests may be sent, what a full window means and which events follow
are the connection's business.
"""

from __future__ import annotations

from collections import deque
from typing import Final

from opensmsc.smpp.pdu import Request
from opensmsc.smpp.states import WINDOW_EXEMPT

MAX_SEQUENCE_NUMBER: Final = 0x7FFFFFFF
"""Digest §1.1: sequence numbers run 1..0x7FFFFFFF; after it we wrap to 1 (as OSMO does)."""

Pending = tuple[int, Request, float]
"""One request of ours awaiting its response: (sequence_number, request, response deadline)."""


class RequestWindow:
    """Our requests awaiting a response, and the sequence numbers we hand out.

    enquire_link and unbind sit in the window (their responses are matched like any other) but
    do not count against `size` (states.WINDOW_EXEMPT).
    """

    __slots__ = ("_counted", "_deadlines", "_next", "_pending", "size")

    def __init__(self, size: int) -> None:
        self.size = size
        self._pending: dict[int, Pending] = {}
        # The same tuples as in _pending, in send order. An entry whose request was answered
        # stays until it reaches the head: identity with the dict's entry tells them apart,
        # so answering costs one dict deletion and no search.
        self._deadlines: deque[Pending] = deque()
        self._counted = 0
        self._next = 1

    def __len__(self) -> int:
        return len(self._pending)

    @property
    def pending_map(self) -> dict[int, Pending]:
        """sequence_number → entry, for the connection's per-frame fast path. Read it only;
        every change goes through add() / remove() / pop_expired() / clear()."""
        return self._pending

    @property
    def has_room(self) -> bool:
        """Whether one more counted request fits."""
        return self._counted < self.size

    def next_sequence_number(self) -> int:
        """A sequence number for a new request: the next one, skipping numbers still open."""
        seq = self._next
        pending = self._pending
        while seq in pending:  # only after a wrap, with a request 2^31 numbers old still open
            seq = seq + 1 if seq < MAX_SEQUENCE_NUMBER else 1
        self._next = seq + 1 if seq < MAX_SEQUENCE_NUMBER else 1
        return seq

    def add(self, seq: int, request: Request, deadline: float) -> Pending:
        entry = (seq, request, deadline)
        self._pending[seq] = entry
        self._deadlines.append(entry)
        if request.command_id not in WINDOW_EXEMPT:
            self._counted += 1
        return entry

    def get(self, seq: int) -> Pending | None:
        return self._pending.get(seq)

    def remove(self, entry: Pending) -> None:
        """Forget an entry returned by get(): its response came."""
        del self._pending[entry[0]]
        if entry[1].command_id not in WINDOW_EXEMPT:
            self._counted -= 1

    def next_deadline(self) -> float | None:
        """The earliest response deadline, or None with nothing outstanding."""
        deadlines = self._deadlines
        pending = self._pending
        while deadlines:
            head = deadlines[0]
            if pending.get(head[0]) is head:
                return head[2]
            deadlines.popleft()  # answered already
        return None

    def pop_expired(self, now: float) -> Pending | None:
        """Remove and return the oldest request whose deadline is at or before `now`."""
        deadlines = self._deadlines
        pending = self._pending
        while deadlines:
            head = deadlines[0]
            if pending.get(head[0]) is not head:
                deadlines.popleft()
                continue
            if head[2] > now:
                return None
            deadlines.popleft()
            self.remove(head)
            return head
        return None

    def clear(self) -> None:
        self._pending.clear()
        self._deadlines.clear()
        self._counted = 0


class PeerWindow:
    """The peer's requests awaiting our answer: what we owe, and whether to throttle.

    A peer that reuses a sequence_number before we answered it is a rule breaker, but both
    requests still get an answer, so the count is kept apart from the dict.
    """

    __slots__ = ("_dupes", "_owed", "count", "size")

    def __init__(self, size: int) -> None:
        self.size = size
        self.count = 0
        self._owed: dict[int, int] = {}  # sequence_number → command_id
        self._dupes: dict[int, int] = {}  # sequence_number → extra answers owed for it

    @property
    def owed_map(self) -> dict[int, int]:
        """sequence_number → command_id of the requests owed an answer, for the connection's
        per-frame fast path, which may record a request whose sequence_number is not in it as
        owe() would (`count += 1; owed_map[seq] = command_id`); anything else goes through
        the methods."""
        return self._owed

    @property
    def is_full(self) -> bool:
        return self.count >= self.size

    def owe(self, seq: int, command_id: int) -> bool:
        """Record a request to answer; False when `seq` was already owed (reused by the peer)."""
        self.count += 1
        if seq in self._owed:
            self._dupes[seq] = self._dupes.get(seq, 0) + 1
            return False
        self._owed[seq] = command_id
        return True

    def owed(self, seq: int) -> int | None:
        """The command_id of the request owed an answer under `seq`, if any."""
        return self._owed.get(seq)

    def settle(self, seq: int) -> None:
        """One answer for `seq` was given (owed(seq) must not be None)."""
        self.count -= 1
        dupes = self._dupes.get(seq)
        if not dupes:
            del self._owed[seq]
        elif dupes == 1:
            del self._dupes[seq]
        else:
            self._dupes[seq] = dupes - 1

    def clear(self) -> None:
        self._owed.clear()
        self._dupes.clear()
        self.count = 0


__all__ = ["MAX_SEQUENCE_NUMBER", "PeerWindow", "Pending", "RequestWindow"]
