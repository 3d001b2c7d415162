"""Cross-node wake-ups: work stored on one node reaches the node that can do it, at once.

What this is for (issue 14): on a shared store any node may store a receipt or an MO for account
X while X's receiver sessions are bound on another node. The storing node publishes
`<name>.wake.account.<X>`; every node with a receiver of X bound calls `Deliveries.wake(X)` and
reads the work from the store. New due work (a submit left for the scheduler, an MO, released
retries) publishes `<name>.wake.due` so idle schedulers claim it now rather than at their next
poll. Both are plain NATS subjects (core pub/sub, at most once): a lost hint costs the poll
interval, never a message, because the store is the truth and every node still polls it.

Which node sends to an upstream connector: the one running it (cluster/ownership.py). A node
that claims a message whose route is a connector run only elsewhere leaves it (due again a
moment later, no attempt) for the holder to claim (`route_elsewhere`).

Which node sends an account's receipts: they are not claimed (the store keeps them open until
acknowledged), so of the nodes with a receiver of the account bound, one sends them: the first
by node_id in the membership view, the same on every node. A node earlier in that order whose
receiver just bound takes over only after `takeover_delay` (two beats), once the old sender has
seen the bind and stopped, so only what was in flight there may go out twice (duplicates
bounded by the delivery window, as after a crash); a node that died is replaced at once when
its record expires.

Which node takes an account's MO: the store's claim skips the MO of the accounts whose receivers
are bound on other nodes and none here (`skip_mo_of`, read from membership), so they are claimed
where they can be delivered; while no node has a receiver, any node claims them as before (and
asks for an outbind). An MO that found no receiver here and is waiting for its retry is handed
over (made due now) when membership shows a receiver of its account on another node.

What it is not: delivery (engine/deliveries.py), or a queue: nothing is carried in a hint but the
account's name.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Collection, Mapping
from typing import Protocol

from opensmsc.cluster.bus import Bus, token, untoken
from opensmsc.cluster.membership import Membership, NodeRecord

__all__ = ["AccountWaker", "DueWaker", "ReceiverCheck", "Wakeups"]

log = logging.getLogger(__name__)


class ReceiverCheck(Protocol):
    """smsc/registry.SessionRegistry."""

    def has_receiver(self, system_id: str) -> bool: ...


class AccountWaker(Protocol):
    """engine/deliveries.Deliveries."""

    def wake(self, system_id: str) -> None: ...

    def hand_over(self, system_id: str) -> bool: ...


class DueWaker(Protocol):
    """engine/scheduler.Scheduler."""

    def wake(self) -> None: ...


class Wakeups:
    """Publishes and receives the cluster's wake-up hints for one node.

    `receipt_stored(X)` and `work_stored()` are called by the engine (StoreAndForward's
    ClusterHints); both return at once, and hints of one loop turn go out together, at most one
    `wake.due` per `due_interval`. `skip_mo_of()` is the Scheduler's claim filter.
    """

    def __init__(
        self,
        bus: Bus,
        membership: Membership,
        *,
        receivers: ReceiverCheck,
        deliveries: AccountWaker,
        scheduler: DueWaker,
        due_interval: float = 0.05,
        takeover_delay: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._bus = bus
        self._membership = membership
        self._receivers = receivers
        self._deliveries = deliveries
        self._scheduler = scheduler
        self._due_interval = due_interval
        # A node whose receiver just bound waits this long (two membership beats) before it
        # takes an account's receipts over from the node sending them, so that node has seen
        # the bind in membership and stopped: only what it has in flight may go twice.
        self._takeover_delay = takeover_delay
        self._clock = clock
        self._bound_since: dict[str, float] = {}  # accounts with receivers here, since when
        self._accounts: dict[str, None] = {}  # to publish, in order
        self._due = False
        self._flushing = False
        # The other nodes with receivers bound, by account (by node_id).
        self._receivers_at: dict[str, list[str]] = {}
        self._elsewhere: frozenset[str] = frozenset()  # accounts with receivers on other nodes
        self._routes_elsewhere: frozenset[str] = frozenset()  # connectors run elsewhere only
        self._tasks: set[asyncio.Task[None]] = set()
        self.received = 0  # hints received (tests, metrics)

    def start(self) -> None:
        self._bus.subscribe(self._bus.subject("wake", "account", "*"), self._on_account)
        self._bus.subscribe(self._bus.subject("wake", "due"), self._on_due)
        self._membership.add_listener(self._on_view)

    # ---- ClusterHints, for the engine -----------------------------------------------------------

    def receipt_stored(self, system_id: str) -> None:
        """A receipt (or other work) for `system_id`'s sessions was stored here: wake the nodes
        with a receiver of it (none when they are all here, or this node sends them)."""
        if system_id in self._elsewhere and not (
            self._receivers.has_receiver(system_id) and self.sends_receipts(system_id)
        ):
            self._accounts[system_id] = None
            self._schedule()

    def work_stored(self) -> None:
        """Due work was stored here (a submit, an MO, released retries): idle nodes claim it."""
        if not self._due:
            self._due = True
            self._schedule()

    def skip_mo_of(self) -> Collection[str]:
        """The accounts whose MO this node leaves to others: receivers bound elsewhere, none
        here."""
        if not self._elsewhere:
            return ()
        return [s for s in self._elsewhere if not self._receivers.has_receiver(s)]

    def sends_receipts(self, system_id: str) -> bool:
        """Whether this node sends the account's receipts: of the nodes with a receiver of it
        bound, the first by node_id (every node computes the same from membership). With no
        receiver here but some elsewhere, no (nor does it ask for an outbind); with none
        anywhere, yes (it asks for an outbind, as a lone node does)."""
        others = self._receivers_at.get(system_id)
        if not others:
            return True
        if not self._receivers.has_receiver(system_id) or self._bus.node_id > others[0]:
            return False
        since = self._bound_since.get(system_id)
        return since is not None and self._clock() - since >= self._takeover_delay

    def route_elsewhere(self, route: str) -> bool:
        """Whether `route` is a connector that other nodes run and this one does not (as of
        the last membership read): the scheduler leaves its messages to them."""
        return route in self._routes_elsewhere

    async def close(self) -> None:
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    # ---- internals ------------------------------------------------------------------------------

    def _on_view(self, view: Mapping[str, NodeRecord]) -> None:
        me = self._bus.node_id
        receivers_at: dict[str, list[str]] = {}
        for node_id in sorted(view):
            if node_id == me:
                continue
            for system_id, counts in view[node_id].sessions.items():
                if counts.receivers > 0:
                    receivers_at.setdefault(system_id, []).append(node_id)
        was_sender = {s: self.sends_receipts(s) for s in self._receivers_at}
        mine = view.get(me)
        now = self._clock()
        bound_here = {} if mine is None else mine.sessions
        self._bound_since = {
            system_id: self._bound_since.get(system_id, now)
            for system_id, counts in bound_here.items()
            if counts.receivers > 0
        }
        self._receivers_at = receivers_at
        for system_id, was in was_sender.items():
            # The node that sent them left or unbound: this one sends the receipts now.
            if not was and self.sends_receipts(system_id):
                self._deliveries.wake(system_id)
        elsewhere = frozenset(receivers_at)
        self._elsewhere = elsewhere
        here = frozenset(() if mine is None else mine.connectors)
        self._routes_elsewhere = (
            frozenset(c for node_id, node in view.items() if node_id != me for c in node.connectors)
            - here
        )
        for system_id in elsewhere:
            # MO that found no receiver here wait for their retry: due now, for the node that
            # has one (our claims skip them from now on).
            if not self._receivers.has_receiver(system_id) and self._deliveries.hand_over(
                system_id
            ):
                self.work_stored()

    def _on_account(self, subject: str, _payload: bytes) -> None:
        self.received += 1
        system_id = untoken(subject.rsplit(".", 1)[-1])
        if self._receivers.has_receiver(system_id) and self.sends_receipts(system_id):
            self._deliveries.wake(system_id)

    def _on_due(self, _subject: str, _payload: bytes) -> None:
        self.received += 1
        self._scheduler.wake()

    def _schedule(self) -> None:
        if not self._flushing:
            self._flushing = True
            task = asyncio.get_running_loop().create_task(self._flush())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _flush(self) -> None:
        try:
            while self._accounts or self._due:
                accounts, self._accounts = list(self._accounts), {}
                for system_id in accounts:
                    await self._bus.publish(self._bus.subject("wake", "account", token(system_id)))
                if self._due:
                    self._due = False
                    await self._bus.publish(self._bus.subject("wake", "due"))
                    # Under load every submit is due work: one hint per interval is enough
                    # for idle schedulers, and spares the others a claim per message.
                    await asyncio.sleep(self._due_interval)
        finally:
            self._flushing = False
