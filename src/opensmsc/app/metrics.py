"""The node's Prometheus metrics: what `/metrics` on the admin listener answers.

Two halves, so that the message path pays for an increment and nothing more:

- `MessageMetrics` is the engine's `MessageObserver` (engine/observer.py). A message stored
  adds one to a bucket of the submit latency (accepted → committed); a message ended finds
  the cell of its (account, route, direction), one dict lookup of a tuple of the record's own
  fields (a cell is made the first time only), and adds one to its final state's count and to
  a bucket of its route's delivery latency (submitted → final state). Plain ints and floats,
  written only from the event loop: no lock (prometheus_client's own metric objects take one
  per update) and no label string built per message (names are made at scrape time).
- `NodeMetrics` owns a `CollectorRegistry` of its own (never prometheus_client's global one:
  several nodes in one process, as in the tests, must not see each other's numbers) with a
  collector that, at each scrape, turns those counts and what the services already keep
  (bound sessions, each connector's status, the webhook sender, the acceptor, the store's
  statistics) into metric families, plus the process, platform and GC collectors of
  prometheus_client. The store's queue counts read every open index entry, so they are read
  at most every `queue_interval` seconds and served from that read in between.

docs/operations.md lists every metric. What this is not: the HTTP route (http/routes/ops.py)
or the readiness check (app/readiness.py).
"""

from __future__ import annotations

import asyncio
import logging
from bisect import bisect_left
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import Final

from prometheus_client import (
    CONTENT_TYPE_PLAIN_0_0_4,
    CollectorRegistry,
    GCCollector,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from opensmsc.engine import StoreAndForward
from opensmsc.errors import StoreUnavailable
from opensmsc.http import WebhookSender
from opensmsc.smpp import BindMode, CommandStatus, MessageState
from opensmsc.smsc import EsmeSession, SessionRegistry, SmscServices
from opensmsc.store import Direction, QueueDepths, StoredMessage
from opensmsc.transport import SmppServer
from opensmsc.upstream import Connectors

__all__ = [
    "DELIVERY_BUCKETS",
    "SUBMIT_BUCKETS",
    "MessageMetrics",
    "NodeMetrics",
    "status_name",
]

log = logging.getLogger(__name__)

# Seconds. Accepted → committed: a group commit's fsync, a few ms when healthy.
SUBMIT_BUCKETS: Final = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)
# Submitted → final: milliseconds on a loopback, seconds through a carrier, hours of retries.
DELIVERY_BUCKETS: Final = (
    0.01,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
    300.0,
    900.0,
    3600.0,
    14400.0,
    86400.0,
)
NO_ROUTE: Final = "none"  # the route label of a message that ended without one (expired, ...)
_QUEUE_READ_TIMEOUT: Final = 2.0  # seconds a scrape waits for the store's queue counts


class _Histogram:
    """Bucket counts and a sum of seconds; the exposition makes the counts cumulative."""

    __slots__ = ("bounds", "counts", "total")

    def __init__(self, bounds: Sequence[float]) -> None:
        self.bounds = tuple(float(bound) for bound in bounds)
        self.counts = [0] * (len(self.bounds) + 1)  # the last one: above every bound (+Inf)
        self.total = 0.0
        # Observing is inlined where it happens (a method call per message would double its
        # cost): counts[bisect_left(bounds, value)] += 1, the first bound >= value being the
        # bucket `le` that holds it; total += value.

    def buckets(self) -> list[tuple[str, float]]:
        out: list[tuple[str, float]] = []
        running = 0
        for bound, count in zip(self.bounds, self.counts, strict=False):
            running += count
            out.append((repr(bound), running))
        out.append(("+Inf", running + self.counts[-1]))
        return out


class _Cell:
    """The final states of one (account, route, direction), by state value, and the latency
    histogram of its route (shared by every cell of that route)."""

    __slots__ = ("latency", "states")

    def __init__(self, latency: _Histogram) -> None:
        self.states = [0] * (max(MessageState) + 1)
        self.latency = latency


class MessageMetrics:
    """The engine's MessageObserver: counts and latencies of messages, in plain numbers."""

    __slots__ = ("cells", "delivery_latency", "submit_latency")

    def __init__(self) -> None:
        self.submit_latency = _Histogram(SUBMIT_BUCKETS)
        self.cells: dict[tuple[str, str | None, Direction], _Cell] = {}
        self.delivery_latency: dict[str | None, _Histogram] = {}  # by route

    def stored(self, records: Sequence[StoredMessage], at: datetime) -> None:
        histogram = self.submit_latency
        counts, bounds, total = histogram.counts, histogram.bounds, histogram.total
        for record in records:
            # A clock stepped back makes it negative: counted in the first bucket.
            latency = (at - record.submitted_at).total_seconds()
            counts[bisect_left(bounds, latency)] += 1
            total += latency
        histogram.total = total

    def ended(
        self, record: StoredMessage, state: MessageState, route: str | None, at: datetime
    ) -> None:
        if route is None:
            route = record.route
        key = (record.system_id, route, record.direction)
        cell = self.cells.get(key)
        if cell is None:
            cell = self._cell(key)
        cell.states[state] += 1
        latency = (at - record.submitted_at).total_seconds()
        histogram = cell.latency
        histogram.counts[bisect_left(histogram.bounds, latency)] += 1
        histogram.total += latency

    def _cell(self, key: tuple[str, str | None, Direction]) -> _Cell:
        route = key[1]
        histogram = self.delivery_latency.get(route)
        if histogram is None:
            histogram = self.delivery_latency[route] = _Histogram(DELIVERY_BUCKETS)
        cell = self.cells[key] = _Cell(histogram)
        return cell

    def finished(self) -> Iterator[tuple[Direction, str, str | None, MessageState, int]]:
        """(direction, account, route, state, count) of every count made, sorted."""
        for (system_id, route, direction), cell in sorted(
            self.cells.items(), key=lambda item: (item[0][0], item[0][1] or "", item[0][2])
        ):
            for value, count in enumerate(cell.states):
                if count:
                    yield direction, system_id, route, MessageState(value), count


class NodeMetrics:
    """The metrics of one node: `exposition()` is the body and content type of /metrics."""

    def __init__(
        self,
        messages: MessageMetrics,
        *,
        engine: StoreAndForward,
        sessions: SessionRegistry,
        smpp: SmppServer,
        connectors: Connectors,
        webhooks: WebhookSender | None,
        now: Callable[[], float],
        queue_interval: float = 5.0,
        smsc: SmscServices | None = None,
    ) -> None:
        self._messages = messages
        self._smsc = smsc
        self._engine = engine
        self._sessions = sessions
        self._smpp = smpp
        self._connectors = connectors
        self._webhooks = webhooks
        self._now = now
        # Seconds between two counts of the store's queues (scrapes in between reuse the last).
        self.queue_interval = queue_interval
        self._depths: QueueDepths | None = None
        self._depths_at = 0.0
        self._reading: asyncio.Task[None] | None = None
        self.registry = CollectorRegistry()
        self.registry.register(_NodeCollector(self))
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        GCCollector(registry=self.registry)

    async def exposition(self) -> tuple[bytes, str]:
        """The Prometheus text format of every metric, and its media type."""
        await self._refresh_depths()
        return generate_latest(self.registry), CONTENT_TYPE_PLAIN_0_0_4

    async def depths(self) -> QueueDepths | None:
        """What waits in the store, read at most every `queue_interval` seconds; None until
        the store could be read once."""
        await self._refresh_depths()
        return self._depths

    @property
    def depths_age(self) -> float:
        return max(0.0, self._now() - self._depths_at)

    def accepted_total(self) -> int:
        """Messages that came in and were stored, since the start (opensmsc_messages_accepted)."""
        return sum(self._engine.acceptor.accepted.values())

    def sent_total(self) -> int:
        """Messages that went out, since the start (opensmsc_messages_sent): submits an
        upstream accepted, and messages delivered by any other route (MO to an ESME, the
        simulated network, loopback, IMPS). Receipts are not messages: not counted."""
        connectors = {connector.name for connector in self._connectors}
        total = 0
        for connector in self._connectors:
            total += connector.status().accepted
        delivered = MessageState.DELIVERED
        for (_, route, _), cell in self._messages.cells.items():
            if route not in connectors:
                total += cell.states[delivered]
        return total

    def refusals(self) -> dict[int, int]:
        """Requests answered to ESMEs with an error, by command_status."""
        return {} if self._smsc is None else dict(self._smsc.refusals)

    @property
    def draining(self) -> bool:
        return self._smsc is not None and self._smsc.draining

    async def _refresh_depths(self) -> None:
        if self._depths is not None and self._now() - self._depths_at < self.queue_interval:
            return
        task = self._reading
        if task is None:
            # One read for every scrape that arrives meanwhile.
            task = self._reading = asyncio.ensure_future(self._read_depths())
        try:
            async with asyncio.timeout(_QUEUE_READ_TIMEOUT):
                await asyncio.shield(task)
        except TimeoutError:
            pass  # served from the previous read; its age says how old

    async def _read_depths(self) -> None:
        try:
            self._depths = await self._engine.store.queue_depths()
            self._depths_at = self._now()
        except StoreUnavailable as exc:
            log.warning("queue depths not read: %s", exc)
        finally:
            self._reading = None

    # ---- the families, built at scrape time -----------------------------------------------------

    def families(self) -> Iterator[Metric]:
        yield from self._node_families()
        yield from self._message_families()
        yield from self._queue_families()
        yield from self._session_families()
        yield from self._connector_families()
        yield from self._webhook_families()
        yield from self._store_families()

    def _node_families(self) -> Iterator[Metric]:
        draining = GaugeMetricFamily(
            "opensmsc_node_draining",
            "1 while the node drains before it stops (SIGTERM: new submits answered"
            " ESME_RTHROTTLED), else 0.",
        )
        draining.add_metric([], 1 if self.draining else 0)
        yield draining
        sent = CounterMetricFamily(
            "opensmsc_messages_sent",
            "Messages that went out: submits an upstream accepted, messages delivered by the"
            " other routes (MO to an ESME, the simulated network, loopback). Not receipts.",
        )
        sent.add_metric([], self.sent_total())
        yield sent
        refusals = CounterMetricFamily(
            "opensmsc_smpp_refusals",
            "Requests of ESMEs answered with an error (binds and submits refused, throttling),"
            " by command_status.",
            labels=["status"],
        )
        for status, count in sorted(self.refusals().items()):
            refusals.add_metric([status_name(status)], count)
        yield refusals

    def _message_families(self) -> Iterator[Metric]:
        messages = self._messages
        accepted = CounterMetricFamily(
            "opensmsc_messages_accepted",
            "Messages durably stored (SMPP submit_sm, submit_multi per destination, data_sm;"
            " the HTTP API), by account.",
            labels=["account"],
        )
        for system_id, count in sorted(self._engine.acceptor.accepted.items()):
            accepted.add_metric([system_id], count)
        yield accepted
        finished = CounterMetricFamily(
            "opensmsc_messages_finished",
            "Messages that reached a final state, by direction (mt, mo), account, route and"
            " final state.",
            labels=["direction", "account", "route", "state"],
        )
        for direction, system_id, route, state, count in messages.finished():
            finished.add_metric(
                [direction.name.lower(), system_id, route or NO_ROUTE, state.name.lower()], count
            )
        yield finished
        submit = HistogramMetricFamily(
            "opensmsc_submit_latency_seconds",
            "From a message's acceptance (submit_sm or HTTP request read) to its commit in the"
            " store, after which its message_id is answered.",
        )
        histogram = messages.submit_latency
        submit.add_metric([], histogram.buckets(), histogram.total)
        yield submit
        delivery = HistogramMetricFamily(
            "opensmsc_delivery_latency_seconds",
            "From a message's submission to its final state (scheduled delays and retries"
            " included), by the route it ended on.",
            labels=["route"],
        )
        for route, histogram in sorted(
            messages.delivery_latency.items(), key=lambda item: item[0] or ""
        ):
            delivery.add_metric([route or NO_ROUTE], histogram.buckets(), histogram.total)
        yield delivery
        receipts = CounterMetricFamily(
            "opensmsc_receipts_delivered",
            "Receipts and MO messages acknowledged by an account's SMPP session"
            " (deliver_sm_resp ESME_ROK).",
        )
        receipts.add_metric([], self._engine.deliveries.acknowledged)
        yield receipts

    def _queue_families(self) -> Iterator[Metric]:
        uncommitted = GaugeMetricFamily(
            "opensmsc_queue_uncommitted",
            "Accepted messages waiting for their store commit (no answer sent yet).",
        )
        uncommitted.add_metric([], self._engine.acceptor.pending)
        yield uncommitted
        depths = self._depths
        if depths is None:
            return  # the store could not be read yet: absent rather than a false zero
        pending = GaugeMetricFamily(
            "opensmsc_queue_messages",
            "Open MT and MO messages in the store: scheduled, under way, waiting for a retry"
            " or for an upstream's receipt.",
        )
        pending.add_metric([], depths.messages)
        yield pending
        receipts = GaugeMetricFamily(
            "opensmsc_queue_receipts",
            "Open receipts owed to each account (to its SMPP sessions or, as webhooks, to a URL).",
            labels=["account"],
        )
        for system_id, count in sorted(depths.receipts.items()):
            receipts.add_metric([system_id], count)
        yield receipts
        webhooks = GaugeMetricFamily(
            "opensmsc_queue_webhooks",
            "Open webhooks (receipts owed to a URL): the webhook backlog.",
        )
        webhooks.add_metric([], depths.webhooks)
        yield webhooks
        by_state = GaugeMetricFamily(
            "opensmsc_queue_messages_by_state",
            "Open MT and MO messages in the store by state: scheduled (waiting for an attempt"
            " or a retry), enroute (sent, waiting for the receipt), unknown.",
            labels=["state"],
        )
        for state in (MessageState.SCHEDULED, MessageState.ENROUTE, MessageState.UNKNOWN):
            by_state.add_metric([state.name.lower()], depths.states.get(state, 0))
        yield by_state
        age = GaugeMetricFamily(
            "opensmsc_queue_age_seconds",
            "How old the opensmsc_queue_messages, _receipts and _webhooks values are (the"
            " store is counted at most every few seconds).",
        )
        age.add_metric([], max(0.0, self._now() - self._depths_at))
        yield age

    def _session_families(self) -> Iterator[Metric]:
        sessions = GaugeMetricFamily(
            "opensmsc_smpp_sessions",
            "Bound ESME sessions, by account and bind type.",
            labels=["account", "bind_type"],
        )
        for (system_id, mode), count in sorted(
            self._sessions.counts().items(), key=lambda item: (item[0][0], _mode_name(item[0][1]))
        ):
            sessions.add_metric([system_id, _mode_name(mode)], count)
        yield sessions
        unbound = GaugeMetricFamily(
            "opensmsc_smpp_connections_unbound",
            "Accepted SMPP connections that have not bound (yet).",
        )
        unbound.add_metric([], self._smpp.unbound)
        yield unbound
        window = GaugeMetricFamily(
            "opensmsc_smpp_window_used",
            "Requests awaiting an answer on the account's bound sessions (its submits awaiting"
            " ours; for a receiver, our deliver_sm awaiting its answer).",
            labels=["account"],
        )
        used: dict[str, int] = {}
        for session in self._sessions:
            if isinstance(session, EsmeSession):
                used[session.system_id] = used.get(session.system_id, 0) + session.window_use()[0]
        for system_id, count in sorted(used.items()):
            window.add_metric([system_id], count)
        yield window

    def _connector_families(self) -> Iterator[Metric]:
        connectors = sorted(self._connectors, key=lambda c: c.name)
        if not connectors:
            return
        labels = ["connector"]
        up = GaugeMetricFamily(
            "opensmsc_connector_up",
            "1 when the connector has a bound session to its upstream, else 0.",
            labels=labels,
        )
        bound = GaugeMetricFamily(
            "opensmsc_connector_sessions_bound", "Bound sessions of the connector.", labels=labels
        )
        window = GaugeMetricFamily(
            "opensmsc_connector_window",
            "submit_sm a session of the connector may have awaiting their response.",
            labels=labels,
        )
        in_flight = GaugeMetricFamily(
            "opensmsc_connector_in_flight",
            "submit_sm awaiting their submit_sm_resp, over the connector's sessions.",
            labels=labels,
        )
        queued = GaugeMetricFamily(
            "opensmsc_connector_queued",
            "Submits waiting for a window slot (retries after throttling included).",
            labels=labels,
        )
        submitted = CounterMetricFamily(
            "opensmsc_connector_submits",
            "submit_sm sent upstream (resubmissions after throttling included).",
            labels=labels,
        )
        outcomes = CounterMetricFamily(
            "opensmsc_connector_submit_outcomes",
            "Upstream answers: accepted; failed (rejected, timed out, lost with the"
            " connection); throttled (ESME_RTHROTTLED or ESME_RMSGQFUL, resubmitted).",
            labels=["connector", "outcome"],
        )
        receipts = CounterMetricFamily(
            "opensmsc_connector_receipts",
            "Delivery receipts from the upstream, by whether they matched one of our messages.",
            labels=["connector", "matched"],
        )
        mo = CounterMetricFamily(
            "opensmsc_connector_mo", "Mobile-originated messages from the upstream.", labels=labels
        )
        state = GaugeMetricFamily(
            "opensmsc_connector_state",
            "1 for the connector's state (starting, bound, degraded, retrying, stopping,"
            " stopped), 0 for the others.",
            labels=["connector", "state"],
        )
        for connector in connectors:
            status = connector.status()
            name = [status.name]
            up.add_metric(name, 1 if status.bound_sessions else 0)
            bound.add_metric(name, status.bound_sessions)
            window.add_metric(name, connector.settings.window)
            in_flight.add_metric(name, status.in_flight)
            queued.add_metric(name, status.queued)
            submitted.add_metric(name, status.submitted)
            outcomes.add_metric([status.name, "accepted"], status.accepted)
            outcomes.add_metric([status.name, "failed"], status.failed)
            outcomes.add_metric([status.name, "throttled"], status.throttled)
            receipts.add_metric([status.name, "true"], status.receipts_matched)
            receipts.add_metric([status.name, "false"], status.receipts_unmatched)
            mo.add_metric(name, status.mo)
            for known in type(status.state):
                state.add_metric([status.name, known.value], 1 if known is status.state else 0)
        yield from (up, bound, window, in_flight, queued, submitted, outcomes, receipts, mo, state)

    def _webhook_families(self) -> Iterator[Metric]:
        sender = self._webhooks
        if sender is None:
            return
        in_flight = GaugeMetricFamily("opensmsc_webhooks_in_flight", "Webhook POSTs under way.")
        in_flight.add_metric([], sender.in_flight)
        yield in_flight
        delivered = CounterMetricFamily(
            "opensmsc_webhooks_delivered", "Webhooks answered 2xx by their receiver."
        )
        delivered.add_metric([], sender.delivered)
        yield delivered
        failed = CounterMetricFamily(
            "opensmsc_webhook_attempts_failed",
            "Webhook POSTs that failed (non-2xx, timeout, no connection); each is retried"
            " until it gives up.",
        )
        failed.add_metric([], sender.failed_attempts)
        yield failed

    def _store_families(self) -> Iterator[Metric]:
        stats = self._engine.store.stats()
        commits = CounterMetricFamily(
            "opensmsc_store_commits", "Store transactions committed (one sync each)."
        )
        commits.add_metric([], stats.transactions)
        yield commits
        writes = CounterMetricFamily(
            "opensmsc_store_writes", "Store write operations committed, over all transactions."
        )
        writes.add_metric([], stats.operations)
        yield writes
        failed = CounterMetricFamily(
            "opensmsc_store_commits_failed",
            "Store commits that failed (a full disk, an I/O error): nothing of them was"
            " acknowledged.",
        )
        failed.add_metric([], stats.failed_commits)
        yield failed
        failing = GaugeMetricFamily(
            "opensmsc_store_failing", "1 while the store's last commit failed, else 0."
        )
        failing.add_metric([], 0 if stats.failing is None else 1)
        yield failing


class _NodeCollector(Collector):
    def __init__(self, metrics: NodeMetrics) -> None:
        self._metrics = metrics

    def collect(self) -> Iterator[Metric]:
        return self._metrics.families()


def _mode_name(mode: BindMode | None) -> str:
    return "unknown" if mode is None else mode.value


def status_name(status: int) -> str:
    """ESME_RTHROTTLED for 0x58; the number in hex for a status SMPP does not name."""
    try:
        return CommandStatus(status).name
    except ValueError:
        return f"0x{status:08X}"
