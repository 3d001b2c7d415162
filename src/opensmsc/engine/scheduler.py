"""The scheduler: takes due messages from the store and runs their delivery attempts.

What this is for (issue 5, "The lifecycle"): `claim_due` hands out due MT and MO messages,
highest priority_flag first (priority traffic overtakes bulk), each with a lease: after a crash
a claimed message is due again when its lease ends. For each one the Router picks a route and
the attempt's outcome (engine/routes.Attempt) decides what follows, through engine/lifecycle:

- Delivered → DELIVERED; PermanentFailure → its state (UNDELIVERABLE / REJECTED);
- Accepted(upstream_id) → ENROUTE until the upstream's receipt, or EXPIRED when validity ends;
- TemporaryFailure → the retry schedule of its error class (routing/retry.py: by default +1 m,
  +5 m, +15 m, +30 m, +1 h, +2 h, +4 h, then every 4 h), never past validity: EXPIRED then.

With `decisions` (engine/decisions.py) an MT message goes by the routes of its policy
decision, in their order: a route that fails for its own reasons (TemporaryFailure with
`route_fault`: a connector down or not bound, throttled, a timeout, a temporary error) passes the
message to the next route at once (failover); the outcome of the last route tried is what is
recorded. Each attempt is reported to the policy (quality, blacklisting). A decision made before
an attempt may also reject the message (it ends REJECTED with the rule's status), or hold it
back (every route blacklisted or at its cap, quiet hours): it is due again then, uncounted.

An MT message a Router claim takes (`Router.add_claim`: a service behind the SMSC, such as
IMPS for an ESME's submit_sm to application port 3590) goes by that route, without the policy.

A message past its validity when it comes due ends EXPIRED without an attempt. A route that
raises ends the message UNDELIVERABLE (logged with its traceback once), never a retry loop.
`alert(addr)` (the network says the subscriber is reachable again) makes every message waiting
for that subscriber due at once, in the order they were submitted; `route_up(route)` every
message waiting to retry on a route that is back (a connector bound again); `release(ids)` does the
same for given messages (MO waiting for their account to bind).

`Housekeeper` purges final messages after the retention and expires receipts nobody collects.

What it is not: the clock of SMPP sessions. Record times come from the injected Clock; the
polling pace is the event loop's.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Collection, Coroutine, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Final

from opensmsc.engine import trail
from opensmsc.engine.decisions import Decisions
from opensmsc.engine.lifecycle import Finish, Lifecycle
from opensmsc.errors import StoreUnavailable
from opensmsc.logtext import peer_text
from opensmsc.observability import TRACE_VAR, set_current_trace
from opensmsc.routing import (
    DEFAULT_POLICIES,
    Accepted,
    Action,
    Attempt,
    Decision,
    Delivered,
    ErrorClass,
    ExpireAt,
    GiveUp,
    PermanentFailure,
    RetryAt,
    RetryPolicy,
    Route,
    Router,
    TemporaryFailure,
    next_attempt,
)
from opensmsc.smpp import CommandStatus, MessageState
from opensmsc.store import (
    Clock,
    Direction,
    OutageLog,
    Store,
    StoredMessage,
    StoreError,
    TrailEvent,
)

__all__ = ["Housekeeper", "Scheduler"]

log = logging.getLogger(__name__)

_S = CommandStatus
# A route that raises has a bug, or a record it can never handle (content it cannot segment):
# trying again would only repeat the traceback until validity ends. It fails once, for good.
_ROUTE_RAISED: Final = PermanentFailure(int(_S.ESME_RSYSERR), detail="route raised")


class Scheduler:
    """Runs due messages through their routes. `start()` runs it in the background until
    `stop()`; tests may instead call `run_due()` and move their fake clock.

    `lease` is how long a claimed message is ours before it is due again (a crash mid-attempt
    costs at most that delay); `batch` how many messages one claim takes; `concurrency` how
    many attempts may run at once; `poll_interval` how often the store is asked when nothing
    woke the scheduler (scheduled messages and retries come due without a wake-up).
    `route_windows` bounds, per route name, the attempts between their start and their
    recorded outcome (a connector's window): what a crash can make that route deliver twice.
    `decisions`: the node's policy, which picks the routes of MT messages (module doc);
    without it the Router does. `skip_mo_of`, in a cluster, names at each claim the accounts
    whose MO this node must leave to others (their receivers are bound elsewhere, none here);
    `route_elsewhere(route)` says a route is a connector another node runs and this one does
    not: a message whose next route it is is left to that node (due again after `leave_delay`
    seconds, no attempt made here), which claims it meanwhile.
    """

    def __init__(
        self,
        store: Store,
        router: Router,
        lifecycle: Lifecycle,
        *,
        clock: Clock,
        policies: Mapping[ErrorClass, RetryPolicy] = DEFAULT_POLICIES,
        lease: timedelta = timedelta(seconds=30),
        batch: int = 500,
        concurrency: int = 2000,
        poll_interval: float = 1.0,
        route_windows: Mapping[str, int] | None = None,
        decisions: Decisions | None = None,
        skip_mo_of: Callable[[], Collection[str]] | None = None,
        route_elsewhere: Callable[[str], bool] | None = None,
        leave_delay: float = 0.25,
    ) -> None:
        self._store = store
        self._skip_mo_of = skip_mo_of
        self._route_elsewhere = route_elsewhere
        self._leave_delay = timedelta(seconds=leave_delay)
        self._router = router
        self._decisions = decisions
        self._lifecycle = lifecycle
        self._clock = clock
        self._policies = policies
        self._lease = lease
        self._batch = batch
        self._concurrency = concurrency
        self._poll_interval = poll_interval
        # A route's slot is held from its attempt until the outcome is committed: a crash
        # can then make at most `window` deliveries of that route happen twice.
        self._route_slots = {
            name: asyncio.Semaphore(window) for name, window in (route_windows or {}).items()
        }
        self._in_flight: set[str] = set()  # running or waiting in _ready
        # A route that came up while these messages were in an attempt: route_up_now could
        # not release them (not waiting yet); one that fails on that route for the route's own
        # trouble (the connector was not bound yet) is released as soon as its retry is stored,
        # rather than waiting out a retry interval on a route that is up.
        self._up_during_attempt: dict[str, set[str]] = {}
        self._ready: deque[StoredMessage] = deque()  # taken (Acceptor), waiting for a slot
        self._running = 0
        self._max_ready = max(concurrency, 10_000)
        self._tasks: set[asyncio.Task[object]] = set()
        self._woken = asyncio.Event()
        self._slot_free = asyncio.Event()
        self._runner: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None  # the loop it runs in, once known
        self.attempts = 0  # attempts started (metrics, tests)
        # A failing store fails every poll: one line a minute says so.
        self._outage = OutageLog(
            log, interval=60.0, now=lambda: clock().timestamp(), unit="failed claims"
        )

    # ---- control --------------------------------------------------------------------------------

    def start(self) -> None:
        """Run in the background (a task of the running loop)."""
        if self._runner is None:
            self._runner = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        """Stop claiming; wait for the attempts under way to be recorded."""
        if self._runner is not None:
            self._runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._runner
            self._runner = None
        await self.drain()

    async def drain(self) -> None:
        """Wait until no attempt, alert or release is under way."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def wake(self) -> None:
        """New due messages may be in the store: look now rather than at the next poll."""
        self._woken.set()

    def take(self, records: Sequence[StoredMessage]) -> None:
        """Attempt these messages now: the Acceptor stored them already leased (their
        first attempt needs no claim). Beyond what can wait here, a message is left to its
        lease: it comes due again when the lease ends."""
        in_flight, ready = self._in_flight, self._ready
        for record in records:
            if record.message_id in in_flight or len(ready) >= self._max_ready:
                continue
            in_flight.add(record.message_id)
            ready.append(record)
        self._start_ready()

    def set_route_window(self, route: str, window: int | None) -> None:
        """A route's window from now on (a connector added or changed at runtime); None: the
        route is gone. Attempts under way keep the slot they hold."""
        if window is None:
            self._route_slots.pop(route, None)
        else:
            self._route_slots[route] = asyncio.Semaphore(window)

    def in_flight(self, message_id: str) -> bool:
        """Whether an attempt of this message is under way (cancel/replace refuse it)."""
        return message_id in self._in_flight

    def alert(self, destination_addr: str) -> None:
        """alertServiceCentre: retry every message waiting for this subscriber now."""
        self._spawn(self.alert_now(destination_addr))

    async def alert_now(self, destination_addr: str) -> int:
        """`alert`, awaited; returns how many messages were made due."""
        waiting = await self._store.waiting_for(destination_addr)
        # Messages an upstream has taken wait for its receipt, not for the subscriber.
        ids = [
            r.message_id
            for r in waiting
            if r.upstream_message_id is None and r.message_id not in self._in_flight
        ]
        return await self.release_now(ids, why=f"alert for {destination_addr}")

    def route_up(self, route: str) -> None:
        """A route that could not take messages can again (a connector bound): retry every
        message waiting for it now, in the order they were submitted."""
        self._spawn(self.route_up_now(route))

    async def route_up_now(self, route: str) -> int:
        """`route_up`, awaited; returns how many messages were made due."""
        if self._in_flight:
            self._up_during_attempt.setdefault(route, set()).update(self._in_flight)
        waiting = await self._store.waiting_on_route(route)
        return await self.release_now(
            [r.message_id for r in waiting if r.message_id not in self._in_flight],
            why=f"route {route} up",
        )

    def release(self, message_ids: Sequence[str]) -> None:
        """Make these ENROUTE messages due now (in the given order); others are left alone."""
        self._spawn(self.release_now(message_ids, why="receiver bound"))

    async def release_now(self, message_ids: Sequence[str], *, why: str = "released") -> int:
        """`release`, awaited; returns how many were made due. `why` goes on their trails."""
        now = self._clock()

        async def one(message_id: str) -> int:
            try:
                await self._store.transition(
                    message_id,
                    MessageState.ENROUTE,
                    at=now,
                    next_attempt_at=now,
                    trail=(TrailEvent(message_id, now, "released", {"by": why}),),
                )
            except StoreError:
                return 0  # ended or rescheduled meanwhile
            return 1

        # Concurrent, so one commit carries them; equal times keep submission order (the
        # store's due order breaks ties by arrival).
        released = sum(await asyncio.gather(*(one(m) for m in message_ids)))
        if released:
            self.wake()
        return released

    async def run_due(self) -> int:
        """Claim what is due now (one batch) and run those attempts to the end. Returns how
        many messages were claimed. For tests and tools; `start()` does this continuously."""
        claimed = await self._claim()
        await self.drain()
        return claimed

    # ---- the loop -------------------------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            self._woken.clear()
            try:
                claimed = await self._claim()
            except StoreUnavailable as exc:
                self._outage.failed("claiming due messages failed: %s", exc)
                claimed = 0
            if len(self._in_flight) >= self._concurrency:
                self._slot_free.clear()
                await self._slot_free.wait()
                continue
            if claimed >= self._batch:
                continue  # more may be due right now
            # asyncio.timeout, not wait_for, which on 3.11 can swallow a cancel (stop()).
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._poll_interval):
                    await self._woken.wait()

    async def _claim(self) -> int:
        limit = min(self._batch, self._concurrency - len(self._in_flight))
        if limit <= 0:
            return 0
        now = self._clock()
        skip = () if self._skip_mo_of is None else self._skip_mo_of()
        claimed = await self._store.claim_due(
            now, limit, lease_until=now + self._lease, skip_mo_of=skip
        )
        batch: list[Finish] = []
        now = self._clock()
        for record in claimed:
            if record.message_id in self._in_flight:
                continue  # its lease ran out while the attempt is still under way
            self._in_flight.add(record.message_id)
            self._running += 1
            self._launch(record, True, now, batch)
        if batch:
            self._spawn(self._finish_batch(batch))
        return len(claimed)

    def _start_ready(self) -> None:
        ready = self._ready
        if not ready or self._running >= self._concurrency:
            return
        batch: list[Finish] = []
        now = self._clock()
        while ready and self._running < self._concurrency:
            self._running += 1
            self._launch(ready.popleft(), False, now, batch)
        if batch:
            self._spawn(self._finish_batch(batch))

    def _launch(
        self, record: StoredMessage, claimed: bool, now: datetime, batch: list[Finish]
    ) -> None:
        """Start the attempt of `record` (counted in `_running`, in `_in_flight`). A route
        that answers at once (ImmediateRoute.attempt_now) and ends the message adds it to
        `batch`, recorded with the others of this turn in one Lifecycle.finish_many; any
        other attempt runs as a task of its own."""
        attempt_now = None
        route = None
        decision = None
        routes: list[Route] = []
        decisions = self._decisions
        if record.expires_at > now and not (
            record.upstream_message_id is not None and record.direction is Direction.MT
        ):
            taken_by = self._router.claimed_route(record)
            if taken_by is not None:
                route = taken_by  # a service behind the SMSC (Router.add_claim): no policy
            elif decisions is not None and record.direction is Direction.MT:
                # A remote engine is awaited in the attempt's task (_attempt_and_record),
                # never here: decision and route stay None, so the attempt gets a task.
                if decisions.remote is None:
                    decision = decisions.for_attempt(record, now)
                    if decision.action is Action.ROUTE:
                        routes = decisions.routes(decision)
                        route = routes[0] if routes else None
            else:
                route = self._router.route_for(record)
            if route is not None and route.name not in self._route_slots:
                attempt_now = getattr(route, "attempt_now", None)
        if attempt_now is None or route is None:
            self._spawn(self._attempt(record, claimed=claimed, decision=decision))
            return
        started = 0.0 if decisions is None else decisions.started()
        begun = time.monotonic()
        # What the route logs is about this message (observability/trace.py).
        token = TRACE_VAR.set(record.trace_id or record.message_id)
        try:
            outcome: Attempt | None = attempt_now(record)
        except Exception:
            log.exception(
                "route failed message_id=%s route=%s trace=%s",
                record.message_id,
                route.name,
                trail.trace_of(record),
            )
            outcome = _ROUTE_RAISED
        finally:
            TRACE_VAR.reset(token)
        if outcome is None:  # it has to wait: the usual attempt
            self._spawn(self._attempt(record, claimed=claimed, decision=decision))
            return
        self.attempts += 1
        events: tuple[TrailEvent, ...] = ()
        if decision is not None:
            events = (trail.routed(record, decision, now),)
        events += (
            trail.attempt(record, route.name, outcome, now, (time.monotonic() - begun) * 1000),
        )
        if log.isEnabledFor(logging.DEBUG):
            _log_attempt(record, route.name, outcome)
        if decision is not None:
            assert decisions is not None
            decisions.report(route.name, outcome, started, now)
            if len(routes) > 1 and _fails_over(outcome):
                # Failover: the other routes, as an attempt of its own.
                self._spawn(
                    self._attempt(record, claimed=claimed, decision=decision, skip=1, events=events)
                )
                return
        match outcome:
            case Delivered():
                batch.append(
                    Finish(record, MessageState.DELIVERED, None, route.name, not claimed, events)
                )
            case PermanentFailure(error=error, state=state):
                batch.append(Finish(record, state, error, route.name, not claimed, events))
            case _:
                self._spawn(
                    self._attempt(
                        record, claimed=claimed, answered=(route.name, outcome), events=events
                    )
                )

    async def _finish_batch(self, items: list[Finish]) -> None:
        try:
            await self._lifecycle.finish_many(items)
        except StoreUnavailable as exc:
            # Nothing recorded: the leases bring the messages back (at-least-once).
            log.error("attempts not recorded count=%d: %s", len(items), exc)
        except Exception:
            log.exception("attempts failed count=%d", len(items))
        finally:
            if self._decisions is not None:
                self._decisions.flush_reports()  # the batch's successes, one report a route
            in_flight = self._in_flight
            for item in items:
                in_flight.discard(item.record.message_id)
                if self._up_during_attempt:
                    self._forget_route_ups(item.record.message_id)
            self._running -= len(items)
            self._slot_free.set()
            self._start_ready()

    def _forget_route_ups(self, message_id: str) -> None:
        for route, ids in list(self._up_during_attempt.items()):
            ids.discard(message_id)
            if not ids:
                del self._up_during_attempt[route]

    def _spawn(self, coro: Coroutine[Any, Any, object]) -> None:
        # Once per attempt: the loop is kept (asyncio.get_running_loop costs a getpid()).
        loop = self._loop
        if loop is None or loop.is_closed():
            loop = self._loop = asyncio.get_running_loop()
        task = loop.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _attempt(
        self,
        record: StoredMessage,
        *,
        claimed: bool,
        answered: tuple[str, Attempt] | None = None,
        decision: Decision | None = None,
        skip: int = 0,
        events: tuple[TrailEvent, ...] = (),
    ) -> None:
        # `answered`: the route answered at once (route name, outcome); only record it.
        # `decision`: the policy's, made in _launch; `skip`: its routes tried already.
        # `events`: the trail of what _launch did (its decision, the attempt answered).
        # A task of its own: whatever its route logs meanwhile carries the message's trace.
        set_current_trace(trail.trace_of(record))
        try:
            if answered is None:
                await self._attempt_and_record(record, not claimed, decision, skip, events)
            else:
                await self._record_outcome(record, answered[0], answered[1], not claimed, events)
        except StoreUnavailable as exc:
            # Nothing recorded: the lease brings the message back (at-least-once).
            log.error("attempt not recorded message_id=%s: %s", record.message_id, exc)
        except Exception:
            log.exception("attempt failed message_id=%s", record.message_id)
        finally:
            self._in_flight.discard(record.message_id)
            if self._up_during_attempt:
                self._forget_route_ups(record.message_id)
            self._running -= 1
            self._slot_free.set()
            self._start_ready()

    async def _attempt_and_record(
        self,
        record: StoredMessage,
        uncounted: bool,
        decision: Decision | None = None,
        skip: int = 0,
        events: tuple[TrailEvent, ...] = (),
    ) -> None:
        # `uncounted`: no claim counted this attempt (Acceptor-leased): the outcome counts it.
        lifecycle = self._lifecycle
        now = self._clock()
        if record.expires_at <= now:
            await lifecycle.finish(record, MessageState.EXPIRED, at=now, by="validity")
            return
        if record.upstream_message_id is not None and record.direction is Direction.MT:
            # Taken by an upstream before (an alert or an old lease brought it here): it
            # still waits for that upstream's receipt, not for another attempt.
            await lifecycle.accepted(record, record.upstream_message_id, route=record.route or "")
            return
        taken_by = self._router.claimed_route(record)
        if taken_by is None and self._decisions is not None and record.direction is Direction.MT:
            if decision is None:
                decisions = self._decisions
                decision = (
                    decisions.for_attempt(record, now)
                    if decisions.remote is None
                    else await decisions.for_attempt_async(record, now)
                )
            if not skip:  # a failover from _launch carries its decision in `events` already
                events = (*events, trail.routed(record, decision, now))
            await self._by_decision(record, decision, skip, uncounted, events)
            return
        route = taken_by or self._router.route_for(record)
        if route is None:
            log.warning(
                "no route message_id=%s destination=%s trace=%s",
                record.message_id,
                peer_text(record.destination.addr),
                trail.trace_of(record),
            )
            await lifecycle.finish(
                record, MessageState.UNDELIVERABLE, error=_S.ESME_RINVDSTADR, by="no route"
            )
            return
        if await self._left_to_holder(record, route.name, ()):
            return
        slot = self._route_slots.get(route.name)
        if slot is None:
            await self._attempt_route(record, route, uncounted)
            return
        async with slot:
            await self._attempt_route(record, route, uncounted)

    async def _left_to_holder(
        self, record: StoredMessage, route: str, events: tuple[TrailEvent, ...]
    ) -> bool:
        """In a cluster, leave a message whose route runs on another node to that node: due
        again shortly (unless that is past its validity: then it is attempted here and fails
        as any unbound route would), no attempt made. True when it was left."""
        if self._route_elsewhere is None or not self._route_elsewhere(route):
            return False
        now = self._clock()
        at = now + self._leave_delay
        if at >= record.expires_at:
            return False
        with contextlib.suppress(StoreError):  # ended or changed meanwhile
            await self._store.transition(
                record.message_id, MessageState.ENROUTE, at=now, next_attempt_at=at, trail=events
            )
        return True

    async def _attempt_route(self, record: StoredMessage, route: Route, uncounted: bool) -> None:
        self.attempts += 1
        begun = time.monotonic()
        try:
            outcome: Attempt = await route.attempt(record)
        except Exception:
            log.exception(
                "route failed message_id=%s route=%s trace=%s",
                record.message_id,
                route.name,
                trail.trace_of(record),
            )
            outcome = _ROUTE_RAISED
        event = trail.attempt(
            record, route.name, outcome, self._clock(), (time.monotonic() - begun) * 1000
        )
        if log.isEnabledFor(logging.DEBUG):
            _log_attempt(record, route.name, outcome)
        await self._record_outcome(record, route.name, outcome, uncounted, (event,))

    async def _by_decision(
        self,
        record: StoredMessage,
        decision: Decision,
        skip: int,
        uncounted: bool,
        events: tuple[TrailEvent, ...] = (),
    ) -> None:
        """Act on the policy's decision for this attempt: the routes in order with failover,
        or a reject, or the message held back until the decision says. `events`: its trail so
        far (the decision, attempts made already), stored with what this decides."""
        decisions = self._decisions
        assert decisions is not None
        now = self._clock()
        match decision.action:
            case Action.REJECT:
                log.info(
                    "rejected by policy message_id=%s status=0x%08X reason=%s trace=%s",
                    record.message_id,
                    decision.status or 0,
                    peer_text(decision.reason),
                    trail.trace_of(record),
                )
                await self._lifecycle.finish(
                    record,
                    MessageState.REJECTED,
                    error=decision.status,
                    attempt=uncounted,
                    events=events,
                    by="policy",
                )
                return
            case Action.THROTTLE | Action.DEFER:
                # Every route blacklisted or at its cap, or quiet hours: due again then, and
                # this was no attempt. (Rewrites were applied at submit, never twice.)
                at = now + timedelta(milliseconds=max(1, decision.retry_after_ms or 0))
                if at >= record.expires_at:
                    await self._lifecycle.finish(
                        record,
                        MessageState.EXPIRED,
                        at=now,
                        attempt=uncounted,
                        events=events,
                        by="validity",
                    )
                    return
                with contextlib.suppress(StoreError):  # ended or changed meanwhile
                    await self._store.transition(
                        record.message_id,
                        MessageState.ENROUTE,
                        at=now,
                        next_attempt_at=at,
                        trail=(*events, trail.retry(record, at, now)),
                    )
                return
        routes = decisions.routes(decision)[skip:]
        if not routes:
            if skip:
                return  # the routes changed since _launch: the lease brings the message back
            log.warning(
                "no route message_id=%s destination=%s trace=%s",
                record.message_id,
                peer_text(record.destination.addr),
                trail.trace_of(record),
            )
            await self._lifecycle.finish(
                record,
                MessageState.UNDELIVERABLE,
                error=_S.ESME_RINVDSTADR,
                attempt=uncounted,
                events=events,
                by="no route",
            )
            return
        last = len(routes) - 1
        for index, route in enumerate(routes):
            if await self._left_to_holder(record, route.name, events):
                return
            slot = self._route_slots.get(route.name)
            if slot is None:
                outcome, event = await self._try(record, route, decisions)
                events += (event,)
                if index < last and _fails_over(outcome):
                    continue
                await self._record_outcome(record, route.name, outcome, uncounted, events)
                return
            # The slot is held until the outcome is recorded (a crash's duplicates are bounded
            # by the route's window); a route failed over from gives it back at once.
            async with slot:
                outcome, event = await self._try(record, route, decisions)
                events += (event,)
                if index < last and _fails_over(outcome):
                    continue
                await self._record_outcome(record, route.name, outcome, uncounted, events)
                return

    async def _try(
        self, record: StoredMessage, route: Route, decisions: Decisions
    ) -> tuple[Attempt, TrailEvent]:
        """One attempt on `route`, reported to the policy; its outcome and trail event."""
        self.attempts += 1
        started = decisions.started()
        begun = time.monotonic()
        try:
            outcome: Attempt = await route.attempt(record)
        except Exception:
            log.exception(
                "route failed message_id=%s route=%s trace=%s",
                record.message_id,
                route.name,
                trail.trace_of(record),
            )
            outcome = _ROUTE_RAISED
        now = self._clock()
        event = trail.attempt(record, route.name, outcome, now, (time.monotonic() - begun) * 1000)
        if log.isEnabledFor(logging.DEBUG):
            _log_attempt(record, route.name, outcome)
        decisions.report(route.name, outcome, started, now)
        decisions.flush_reports()  # an attempt of its own: no batch to gather it with
        if _fails_over(outcome) and log.isEnabledFor(logging.DEBUG):
            log.debug(
                "route failed message_id=%s route=%s error=%s",
                record.message_id,
                route.name,
                outcome.error if isinstance(outcome, TemporaryFailure) else None,
            )
        return outcome, event

    async def _record_outcome(
        self,
        record: StoredMessage,
        route: str,
        outcome: Attempt,
        uncounted: bool,
        events: tuple[TrailEvent, ...] = (),
    ) -> None:
        lifecycle = self._lifecycle
        match outcome:
            case Delivered():
                await lifecycle.finish(
                    record, MessageState.DELIVERED, route=route, attempt=uncounted, events=events
                )
            case Accepted(upstream_id=upstream_id):
                await lifecycle.accepted(
                    record, upstream_id, route=route, attempt=uncounted, events=events
                )
            case PermanentFailure(error=error, state=state):
                await lifecycle.finish(
                    record, state, error=error, route=route, attempt=uncounted, events=events
                )
            case TemporaryFailure(error=error, error_class=error_class, route_fault=fault):
                await self._retry(record, error, error_class, route, uncounted, events=events)
                up = self._up_during_attempt.get(route)
                if fault and up is not None and record.message_id in up:
                    up.discard(record.message_id)
                    await self.release_now([record.message_id], why=f"route {route} up")

    async def _retry(
        self,
        record: StoredMessage,
        error: int,
        error_class: ErrorClass,
        route: str,
        uncounted: bool,
        *,
        events: tuple[TrailEvent, ...] = (),
    ) -> None:
        now = self._clock()
        decision = next_attempt(
            self._policies.get(error_class, DEFAULT_POLICIES[ErrorClass.TEMPORARY]),
            attempts=max(1, record.attempts),
            failed_at=now,
            expires_at=record.expires_at,
        )
        match decision:
            case RetryAt(at=at):
                await self._lifecycle.retry(
                    record, at, error=error, route=route, attempt=uncounted, events=events
                )
            case ExpireAt(at=at) if at > now:
                # Wait in retry until validity ends (an alert may still release it).
                await self._lifecycle.retry(
                    record, at, error=error, route=route, attempt=uncounted, events=events
                )
            case ExpireAt():
                await self._lifecycle.finish(
                    record,
                    MessageState.EXPIRED,
                    error=error,
                    route=route,
                    attempt=uncounted,
                    events=events,
                    by="validity",
                )
            case GiveUp(state=state):
                await self._lifecycle.finish(
                    record, state, error=error, route=route, attempt=uncounted, events=events
                )


def _log_attempt(record: StoredMessage, route: str, outcome: Attempt) -> None:
    # One line per attempt, at debug level only: the hot path logs nothing by default (the
    # trail keeps every attempt).
    log.debug(
        "attempt message_id=%s route=%s outcome=%s error=%s trace=%s",
        record.message_id,
        route,
        type(outcome).__name__,
        getattr(outcome, "error", None),
        trail.trace_of(record),
    )


def _fails_over(outcome: Attempt) -> bool:
    """Whether the next route should have the message now: the route's own trouble."""
    return isinstance(outcome, TemporaryFailure) and outcome.route_fault


class Housekeeper:
    """Every `interval` seconds: purge messages final for longer than `retention`, and expire
    receipts past their validity that wait for accounts nobody binds."""

    def __init__(
        self,
        store: Store,
        *,
        clock: Clock,
        retention: timedelta,
        interval: float = 300.0,
        expire_receipts: Callable[[], Awaitable[int]] | None = None,
    ) -> None:
        self._store = store
        self._clock = clock
        self._retention = retention
        self._interval = interval
        self._expire_receipts = expire_receipts
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def run_once(self) -> int:
        """One round; returns how many messages were purged."""
        purged = await self._store.purge_final(self._clock() - self._retention)
        if purged:
            log.info("purged final messages count=%d", purged)
        if self._expire_receipts is not None:
            await self._expire_receipts()
        return purged

    async def _run(self) -> None:
        while True:
            try:
                await self.run_once()
            except (StoreUnavailable, StoreError) as exc:
                log.error("housekeeping failed: %s", exc)
            await asyncio.sleep(self._interval)
