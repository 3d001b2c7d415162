"""The seam between the engine and durable storage: the `Store` protocol.

What this is for: one asynchronous interface that the embedded SQLite store implements today
and a PostgreSQL store will implement for the scale-out work, so the engine and the store's
own tests (tests/store/, parametrised over every implementation) do not care which it is.

The promise behind every write: when the awaitable returns, the change is committed and synced
(it survives kill -9 and power loss); when it raises, it is not acknowledged and the caller must
not acknowledge either (StoreUnavailable → ESME_RSYSERR, no message_id; STYLE §4). Writes from
many callers are group-committed: an implementation gathers the writes that arrive while it is
committing into the next transaction, so durability costs one sync per batch, not per message.
Callers get that by calling concurrently; nothing else is asked of them.

What it is not: policy. The store checks the lifecycle (model.TRANSITIONS) and nothing else;
validity limits, retry timing and receipt content are computed by the engine and passed in.
Every time is an aware datetime from the engine's Clock; the store never reads a clock.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from opensmsc.smpp import MessageState
from opensmsc.store.answers import SavedAnswer
from opensmsc.store.model import Change, Replacement, StoredMessage, StoreError
from opensmsc.store.trail import TrailEvent

__all__ = [
    "Change",
    "Clock",
    "MessageQuery",
    "QueueDepths",
    "Store",
    "StoreStats",
    "system_clock",
]


class Clock(Protocol):
    """Where message times come from (STYLE §6): an aware UTC datetime. Tests inject a fake."""

    def __call__(self) -> datetime: ...


def system_clock() -> datetime:
    """The wall clock, in UTC."""
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class StoreStats:
    """What the group-commit writer has done since the store was opened."""

    transactions: int  # COMMITs (each one sync)
    operations: int  # writes committed, across all transactions
    largest_batch: int  # the most writes one transaction carried
    failed_commits: int = 0  # COMMITs that failed (a full disk, an I/O error)
    failing: str | None = None  # why the last commit failed; None once one succeeded

    @property
    def mean_batch(self) -> float:
        return self.operations / self.transactions if self.transactions else 0.0


@dataclass(frozen=True, slots=True, kw_only=True)
class QueueDepths:
    """What waits in the store (`Store.queue_depths`): open MT and MO messages (scheduled,
    under way, waiting for a retry or an upstream's receipt), open receipts per account (for
    its SMPP sessions and webhooks alike) and, of those, the webhooks."""

    messages: int
    receipts: dict[str, int]
    webhooks: int
    # The open MT and MO messages by state (scheduled, enroute, unknown: the open states).
    states: dict[MessageState, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageQuery:
    """Which MT messages `Store.find` returns, in arrival order (oldest first, or newest first
    with `newest_first`): of the account `system_id` (None: of every account, the operator's
    view), to `destination`, from `source` (a number with or without its "+": both forms are
    found, as ESMEs send either), in one
    of `states`, submitted in [since, until), and past the message of `after` in that order
    (a cursor `find` returned for the same order)."""

    system_id: str | None
    destination: str | None = None
    source: str | None = None
    states: frozenset[MessageState] | None = None
    since: datetime | None = None
    until: datetime | None = None
    after: int | None = None
    limit: int = 100
    newest_first: bool = False


class Store(Protocol):
    """Durable message storage. Every method may raise StoreUnavailable (nothing was written,
    or for a read, nothing could be read); the other errors are model.StoreError subclasses."""

    # ---- writes: group-committed; durable when they return ----------------------------------

    async def submit_many(
        self,
        records: Sequence[StoredMessage],
        *,
        superseding: Sequence[str] = (),
        answer: SavedAnswer | None = None,
        trail: Sequence[TrailEvent] = (),
    ) -> None:
        """Store new messages, all or none, in an INITIAL state. `superseding` lists open
        messages to end as DELETED in the same transaction (submit_sm with
        replace_if_present_flag, SMPP 3.4 §4.4.1). `answer` is stored in the same
        transaction (answers.py): the messages and the answer naming them, or neither.
        `trail` too (trail.py: the events of the new messages, and of the superseded ones,
        stored only with their DELETED). Raises DuplicateMessage if an id exists, KeyTaken if
        the answer's key does."""
        ...

    async def transition(
        self,
        message_id: str,
        new_state: MessageState,
        *,
        at: datetime,
        error: int | None = None,
        next_attempt_at: datetime | None = None,
        attempt: bool = False,
        route: str | None = None,
        upstream_message_id: str | None = None,
        receipt: StoredMessage | None = None,
        trail: Sequence[TrailEvent] = (),
    ) -> StoredMessage:
        """Make the model.Change of these arguments, atomically: the record becomes
        `model.apply_change(record, change)`. `receipt` is stored in the same transaction,
        so a message never becomes final without the receipt it owes, and never owes two;
        `trail` too (Change.trail). Returns the record as written. Raises MessageNotFound,
        IllegalTransition."""
        ...

    async def apply(self, changes: Sequence[Change]) -> list[StoreError | None]:
        """Make each change as `transition` would, in order, without reading the records back:
        the hot path (final states with their receipts, receipt acknowledgements). Each change
        is atomic on its own (its state and its receipt, or nothing): one the store refuses is
        reported in its slot of the result (MessageNotFound, IllegalTransition, or
        DuplicateMessage for its receipt's id) and the others are made. Durable when it
        returns, like every write; StoreUnavailable means none was made. Calls made
        concurrently are group-committed like any write; an implementation may also run
        their changes as set operations (the SQLite store does: one SELECT of the states, one
        INSERT of the receipts, one UPDATE per change executed in one batch)."""
        ...

    async def claim_due(
        self,
        now: datetime,
        limit: int,
        *,
        lease_until: datetime,
        skip_mo_of: Collection[str] = (),
    ) -> list[StoredMessage]:
        """Take up to `limit` due MT/MO messages (as `due`) for an attempt, atomically: each
        SCHEDULED one becomes ENROUTE, attempts + 1, next_attempt_at = `lease_until`. A crash
        mid-attempt makes it due again when the lease ends; two schedulers (two nodes on one
        PostgreSQL) never take the same message. MO messages of the accounts in `skip_mo_of`
        are left where they are (not claimed, not counted in `limit`): in a cluster, the
        accounts whose receivers are bound on other nodes and none here (cluster/wakeups.py),
        so the node that can deliver them takes them."""
        ...

    async def replace(
        self, message_id: str, replacement: Replacement, *, at: datetime
    ) -> StoredMessage:
        """replace_sm: change the content and times of a message in REPLACEABLE_STATES. A new
        due_at after `at` makes it SCHEDULED again, otherwise it stays as it is.
        Raises MessageNotFound, IllegalTransition (final, or not replaceable)."""
        ...

    async def enqueue_receipt(self, receipt: StoredMessage) -> None:
        """Queue a receipt (direction RECEIPT, ENROUTE) for its account, after the others."""
        ...

    async def ack_receipt(self, message_id: str, *, at: datetime) -> None:
        """The account's session answered the receipt's deliver_sm with ESME_ROK: DELIVERED
        (`apply` with one Change; raises its StoreError)."""
        ...

    async def map_upstream_id(self, connector: str, upstream_id: str, message_id: str) -> None:
        """Remember that `connector` calls our `message_id` `upstream_id`. The caller passes
        each of the id's keys (upstream.upstream_id_keys), one call per key."""
        ...

    async def add_trail(self, events: Sequence[TrailEvent]) -> None:
        """Store trail events that no state change carries (a client reading a final state):
        group-committed like every write, so they cost no sync of their own under load."""
        ...

    async def purge_final(self, older_than: datetime) -> int:
        """Delete messages that became final before `older_than`, their upstream ids and their
        trails. Returns how many messages went. Works in chunks, so other writes are not held
        up."""
        ...

    async def purge_answers(self, older_than: datetime) -> int:
        """Delete saved answers made before `older_than`; returns how many went (in chunks)."""
        ...

    # ---- reads: see every write that returned before they were called -------------------------

    async def get(self, message_id: str) -> StoredMessage | None: ...

    async def trail(self, message_id: str) -> list[TrailEvent]:
        """The trail of a message (trail.py), in the order its events happened; empty for
        an unknown (or purged) message. Besides the events written, each receipt of the
        message that was acknowledged (DELIVERED) shows as a `receipt_taken` at its done_at,
        read from the receipt's record."""
        ...

    async def find_pending(
        self,
        system_id: str,
        source_addr: str,
        destination_addr: str,
        service_type: str | None = None,
    ) -> list[StoredMessage]:
        """Open MT messages of an account from source to destination (and of service_type when
        given), oldest first: cancel_sm without message_id, replace_if_present_flag."""
        ...

    async def due(self, now: datetime, limit: int) -> list[StoredMessage]:
        """Open MT/MO messages whose next_attempt_at ≤ now: priority_flag 3 first, then by
        next_attempt_at, then by arrival. Read only (see claim_due)."""
        ...

    async def waiting_for(self, destination_addr: str) -> list[StoredMessage]:
        """ENROUTE MT messages to a subscriber, in the order they were submitted: what an
        alertServiceCentre releases (DIGEST §6.2)."""
        ...

    async def waiting_on_route(self, route: str) -> list[StoredMessage]:
        """ENROUTE MT messages whose last attempt failed on `route` and that wait for their
        retry (no upstream has them), in the order they were submitted: what a route coming
        back (a connector binding again) releases."""
        ...

    async def find(self, query: MessageQuery) -> tuple[list[StoredMessage], int | None]:
        """The MT messages that match `query`, in its order, at most `query.limit`; and the
        cursor of the next page (`MessageQuery.after`), None after the last."""
        ...

    async def saved_answer(self, system_id: str, key: str) -> SavedAnswer | None:
        """The answer stored with `submit_many(answer=...)` for the account and key, until
        `purge_answers` takes it."""
        ...

    async def pending_receipts(self, system_id: str, limit: int) -> list[StoredMessage]:
        """Open receipts for an account's SMPP sessions (no callback_url), oldest first."""
        ...

    async def due_webhooks(self, now: datetime, limit: int) -> list[StoredMessage]:
        """Open receipts with a callback_url (webhooks) whose next_attempt_at ≤ now, soonest
        first; of the webhooks of one message only the oldest open one (they go in order)."""
        ...

    async def lookup_upstream_id(self, connector: str, upstream_id: str) -> str | None:
        """Our message_id for a connector's (normalised) id, or None."""
        ...

    async def queue_depths(self) -> QueueDepths:
        """How many messages, receipts and webhooks are open now. Counted through the indexes
        of open messages (no scan of final ones), yet it reads every open entry: callers
        cache it rather than ask per request (app/metrics.py)."""
        ...

    # ---- housekeeping ---------------------------------------------------------------------------

    async def check_writable(self) -> None:
        """Returns when the store can commit a write now; raises StoreUnavailable (StoreFull
        when it has no room) otherwise. Answered from the last commit when it succeeded
        recently; otherwise (it failed, or none was made lately) a probe write is committed,
        one that needs room, so that a store that was full is seen to have room again without
        waiting for traffic (the readiness check: a node not ready gets none)."""
        ...

    def stats(self) -> StoreStats: ...

    async def close(self) -> None:
        """Finish the writes already accepted, then release every connection and thread."""
        ...
