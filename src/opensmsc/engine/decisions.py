"""The node's policy engine on its own message path: every MT message is decided at submit and
again before each attempt that was not planned at submit, and every attempt is reported back.

What this is for (issue 11): `Decisions` puts a `routing.PolicyEngine` (RulePolicy with
`[routing] policy_file`, else PrefixPolicy over the Router) between the front doors and the
routes, for SMPP and the HTTP API alike:

- At submit (`at_submit`, called by the Acceptor before the store commit): a reject or a
  throttle raises `PolicyRefusal` (a MessageRejected with the decision's command_status, and
  retry_after_ms for a throttle); a deferral stores the message SCHEDULED at the window's
  start; a rewrite (source address and TON/NPI, destination, data_coding, validity, TLVs) is
  applied to the record before it is stored (with the first route in its `route`; any other
  record gets its `route` from its attempt, sparing a copy per message).
  The ordered route list of a message attempted at once (stored leased, handed to the
  Scheduler) is kept in memory for that first attempt: one decision per message on the hot
  path.
- Before any other attempt (`for_attempt`: a retry, a scheduled or deferred message, one whose
  plan was dropped or a restart forgot) the message is decided again, as stored (after its
  rewrites), with `RouteQuery.redecide` set so that velocity rules do not count it twice: the
  routes follow live health (failover, blacklisting, probes, caps) and reloaded rules.
  Re-deciding rather than storing the list keeps the store schema as it is and lets a retry
  go where the routes are healthy now.
- After each attempt on a route (`report`): a RouteReport (ok / temp / perm, the error, the
  latency) feeds least-cost quality and blacklisting. Successes are told to a local engine a
  route at a time (one RouteReport with its `count` and mean latency), at the next decision,
  the next failure, or `flush_reports` (the Scheduler's after each batch of attempts): the
  engine sees every outcome, in order, before it decides again, for a third of the cost of one
  report each.

A remote engine (`use_remote`: `[policy_client]`, policyd's PolicyClient) must be awaited: with
one, the Acceptor awaits `at_submit_remote` in its async step before the commit (its
synchronous `prepare` then decides nothing), and the Scheduler awaits `for_attempt_async` in the
attempt's task rather than deciding in `_launch`. Both apply the decision as the local path does
(`_settled`), so there is one place that applies decisions. Without a remote engine nothing of
this runs: the local path stays synchronous.

What it is not: the attempt itself or the state change (engine/scheduler.py, lifecycle.py),
nor the rules (routing/). The local `decide` never waits, so this runs in the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, Final, Protocol

from opensmsc.errors import MessageRejected, OpensmscError
from opensmsc.routing import (
    Accepted,
    Action,
    Attempt,
    Decision,
    Delivered,
    Outcome,
    PermanentFailure,
    PolicyEngine,
    Rewrite,
    Route,
    RouteQuery,
    Router,
    RouteReport,
)
from opensmsc.smpp import CommandStatus, EsmClass, MessageState
from opensmsc.sms import (
    Alphabet,
    UdhError,
    UnsupportedDataCoding,
    alphabet_of,
    decode_text,
    parse_udh,
)
from opensmsc.store import Address, StoredMessage

__all__ = ["AsyncPolicyEngine", "Decisions", "PolicyRefusal"]

log = logging.getLogger(__name__)

_S = CommandStatus
_MAX_PLANS: Final = 100_000
_POLICY_FAILED: Final = Decision.reject(_S.ESME_RSYSERR, "the routing policy failed")
_POLICY_FAILED_LATER: Final = Decision(
    action=Action.THROTTLE, retry_after_ms=60_000, reason="the routing policy failed"
)


class PolicyRefusal(MessageRejected):
    """The policy refused a message at submit: `action` is reject (`status` is the rule's
    command_status) or throttle (ESME_RTHROTTLED; the sender may retry after
    `retry_after_ms`)."""

    def __init__(
        self, action: Action, status: int, reason: str, retry_after_ms: int | None = None
    ) -> None:
        self.action = action
        self.retry_after_ms = retry_after_ms
        super().__init__(status, reason or f"refused by the routing policy ({action})")


class AsyncPolicyEngine(Protocol):
    """A policy engine that must be awaited: policy servers asked over the network
    (policyd's PolicyClient). `decide` always returns a Decision (its own fallback when no
    server answers); `report` sends and never waits."""

    async def decide(self, query: RouteQuery) -> Decision: ...

    def report(self, report: RouteReport) -> None: ...


class Decisions:
    """The PolicyEngine `policy` on the node's path (module doc); route names are looked up in
    `router`. `share_content`: the text of each message goes in the query (`content_sample`),
    for rules on content, when the policy says it reads content (its `reads_content`, if it
    has one: RulePolicy's rules in use); off, the text is not decoded at all. `monotonic`
    times attempts."""

    def __init__(
        self,
        policy: PolicyEngine,
        router: Router,
        *,
        share_content: bool = False,
        monotonic: Callable[[], float] = time.monotonic,
        max_plans: int = _MAX_PLANS,
    ) -> None:
        self.policy = policy
        self._router = router
        self._share_content = share_content
        # Decoding the text costs more than deciding: only for a policy whose rules read it.
        reads: Callable[[], bool] = lambda: bool(getattr(policy, "reads_content", True))  # noqa: E731
        self._reads = reads
        self._monotonic = monotonic
        # An engine that says its decisions do not depend on reports (PrefixPolicy) is spared
        # one per attempt.
        self._reporting = bool(getattr(policy, "uses_reports", True))
        self._max_plans = max_plans
        # message_id → the decision made at submit, for its first attempt (popped then).
        self._plans: dict[str, Decision] = {}
        # Successes not yet told to the local engine: route → [attempts, latency sum in ms],
        # and the time of the latest (module doc).
        self._successes: dict[str, list[float]] = {}
        self._successes_at: datetime | None = None
        self.remote: AsyncPolicyEngine | None = None

    def use_remote(self, remote: AsyncPolicyEngine | None) -> None:
        """Ask `remote` (awaited: module doc) instead of `policy` from now on; None: `policy`
        again. Reports then go to `remote` (which tells its own fallback)."""
        self.remote = remote
        self._reporting = remote is not None or bool(getattr(self.policy, "uses_reports", True))

    # ---- at submit ----------------------------------------------------------------------------

    def at_submit(
        self, records: Sequence[StoredMessage], now: datetime, *, planned: bool = True
    ) -> list[StoredMessage]:
        """The records of one message (its parts, from one front-door request) as the policy
        wants them stored: decided once, on the first, and applied to each. `planned`: keep
        the decision of those due at once for their first attempt. Raises PolicyRefusal."""
        if self._successes:
            self.flush_reports()
        try:
            decision = self.policy.decide(self._submit_query(records), now)
        except Exception:  # a bug in the policy: this message is refused, the node goes on
            log.exception("routing policy failed message_id=%s", records[0].message_id)
            decision = _POLICY_FAILED
        return self._settled(records, decision, now, planned)

    async def at_submit_remote(
        self, records: Sequence[StoredMessage], now: datetime, *, planned: bool = True
    ) -> list[StoredMessage]:
        """`at_submit` with the remote engine, awaited. Raises PolicyRefusal."""
        remote = self.remote
        if remote is None:  # given back to the local engine since (the node is stopping)
            return self.at_submit(records, now, planned=planned)
        try:
            decision = await remote.decide(self._submit_query(records))
        except Exception:  # the client's own bug: its failures are answered by its fallback
            log.exception("remote routing policy failed message_id=%s", records[0].message_id)
            decision = _POLICY_FAILED
        return self._settled(records, decision, now, planned)

    async def at_submit_remote_each(
        self, records: Sequence[StoredMessage], now: datetime
    ) -> list[StoredMessage]:
        """`at_submit_remote` for the records of several messages (a batch of the HTTP API),
        one decision per message (the parts of one long message share theirs), asked
        concurrently. Raises the first PolicyRefusal: the batch is stored whole or not."""
        messages: dict[str, list[StoredMessage]] = {}
        for record in records:
            key = record.message_id if record.concat is None else record.concat.group_id
            messages.setdefault(key, []).append(record)
        decided = await asyncio.gather(
            *(self.at_submit_remote(parts, now) for parts in messages.values()),
            return_exceptions=True,
        )
        out: list[StoredMessage] = []
        refused: BaseException | None = None
        for result in decided:
            if isinstance(result, BaseException):
                refused = refused or result
            else:
                out.extend(result)
        if refused is not None:
            self.forget([record.message_id for record in out])  # none of them is stored
            raise refused
        return out

    def _submit_query(self, records: Sequence[StoredMessage]) -> RouteQuery:
        first = records[0]
        segments = first.concat.total if first.concat is not None else len(records)
        return self._query(first, segments, redecide=False)

    def _settled(
        self,
        records: Sequence[StoredMessage],
        decision: Decision,
        now: datetime,
        planned: bool,
    ) -> list[StoredMessage]:
        """Apply the decision made at submit (local or remote) to the records of a message."""
        action = decision.action
        if action is Action.REJECT:
            raise PolicyRefusal(action, decision.status or _S.ESME_RSYSERR, decision.reason)
        if action is Action.THROTTLE:
            raise PolicyRefusal(
                action, _S.ESME_RTHROTTLED, decision.reason, decision.retry_after_ms
            )
        out = [_applied(record, decision, now) for record in records]
        if planned:
            plans = self._plans
            if len(plans) >= self._max_plans:
                plans.clear()  # a message without a plan is decided again: always correct
            for record in out:
                if record.due_at <= now:  # due at once: its first attempt comes soon
                    plans[record.message_id] = decision
        return out

    def started(self) -> float:
        """The time an attempt starts, for `report` (0 when nothing is reported)."""
        return self._monotonic() if self._reporting else 0.0

    def forget(self, message_ids: Sequence[str]) -> None:
        """Drop the plans of messages that were not stored after all."""
        for message_id in message_ids:
            self._plans.pop(message_id, None)

    # ---- before an attempt --------------------------------------------------------------------

    def for_attempt(self, record: StoredMessage, now: datetime) -> Decision:
        """The decision for this attempt of `record`: the one made at submit for its first
        attempt, else a new one (module doc)."""
        plan = self._plans.pop(record.message_id, None)
        if plan is not None:
            return plan
        segments = record.concat.total if record.concat is not None else 1
        if self._successes:
            self.flush_reports()
        try:
            return self.policy.decide(self._query(record, segments, redecide=True), now)
        except Exception:  # a bug in the policy: the stored message waits, it is not lost
            log.exception("routing policy failed message_id=%s", record.message_id)
            return _POLICY_FAILED_LATER

    async def for_attempt_async(self, record: StoredMessage, now: datetime) -> Decision:
        """`for_attempt`, awaiting the remote engine when there is one."""
        remote = self.remote
        if remote is None:
            return self.for_attempt(record, now)
        plan = self._plans.pop(record.message_id, None)
        if plan is not None:
            return plan
        segments = record.concat.total if record.concat is not None else 1
        try:
            return await remote.decide(self._query(record, segments, redecide=True))
        except Exception:  # the client's own bug: the stored message waits, it is not lost
            log.exception("remote routing policy failed message_id=%s", record.message_id)
            return _POLICY_FAILED_LATER

    def routes(self, decision: Decision) -> list[Route]:
        """The routes of `decision` the node has, in its order (a name the Router does not
        hold, a connector removed since, is left out)."""
        found = []
        for choice in decision.routes:
            route = self._router.get(choice.route)
            if route is not None:
                found.append(route)
        return found

    # ---- after an attempt ---------------------------------------------------------------------

    def report(self, route: str, outcome: Attempt, started: float, now: datetime) -> None:
        """Tell the policy how an attempt on `route` begun at `started` (`started()`) ended."""
        if not self._reporting:
            return
        latency_ms = max(0.0, (self._monotonic() - started) * 1000.0)
        match outcome:
            case Delivered() | Accepted():
                if self.remote is None:
                    gathered = self._successes.get(route)
                    if gathered is None:
                        self._successes[route] = [1, latency_ms]
                    else:
                        gathered[0] += 1
                        gathered[1] += latency_ms
                    self._successes_at = now
                    return
                report = RouteReport(route=route, outcome=Outcome.OK, latency_ms=latency_ms)
            case PermanentFailure(error=error):
                report = RouteReport(
                    route=route, outcome=Outcome.PERM, status=error, latency_ms=latency_ms
                )
            case _:
                if not outcome.route_fault:
                    return  # the destination's trouble (absent, busy): says nothing of the route
                report = RouteReport(
                    route=route, outcome=Outcome.TEMP, status=outcome.error, latency_ms=latency_ms
                )
        if self.remote is not None:
            self.remote.report(report)
        else:
            if self._successes:
                self.flush_reports()  # a failure after successes: the engine sees them in order
            self.policy.report(report, now)

    def flush_reports(self) -> None:
        """Tell the local engine the successes gathered since the last time (module doc)."""
        successes, at = self._successes, self._successes_at
        if not successes or at is None:
            return
        self._successes = {}
        for route, (attempts, latency_sum) in successes.items():
            count = int(attempts)
            self.policy.report(
                RouteReport(
                    route=route, outcome=Outcome.OK, latency_ms=latency_sum / count, count=count
                ),
                at,
            )

    # ---- helpers ------------------------------------------------------------------------------

    def _query(self, record: StoredMessage, segments: int, *, redecide: bool) -> RouteQuery:
        return RouteQuery(
            account=record.system_id,
            source=record.source,
            destination=record.destination,
            service_type=record.service_type,
            data_coding=record.data_coding,
            esm_class=record.esm_class,
            segments=segments,
            content_sample=_text(record) if self._share_content and self._reads() else None,
            priority_flag=record.priority_flag,
            redecide=redecide,
        )


def _text(record: StoredMessage) -> str | None:
    """The text of a record's content (its UDH left out); None for binary content."""
    payload = record.payload
    if record.esm_class & EsmClass.UDHI:
        with contextlib.suppress(UdhError):
            payload = parse_udh(payload)[1]
    try:
        if alphabet_of(record.data_coding) is Alphabet.BINARY:
            return None
        return decode_text(record.data_coding, payload)
    except (UnsupportedDataCoding, ValueError):
        return None


def _applied(record: StoredMessage, decision: Decision, now: datetime) -> StoredMessage:
    """`record` with the decision's rewrite, deferral and first route. Raises PolicyRefusal
    when the result cannot be stored (it would expire before it is due; a TLV that cannot be
    written)."""
    changes: dict[str, Any] = {}
    rewrite = decision.rewrite
    if rewrite is not None and not rewrite.is_empty:
        changes.update(_rewritten(record, rewrite, now))
    if decision.action is Action.DEFER:
        at = now + timedelta(milliseconds=decision.retry_after_ms or 0)
        if at > record.due_at:
            changes.update(due_at=at, next_attempt_at=at, state=MessageState.SCHEDULED)
    if not changes:
        # The usual case: the record as it is (a copy per message would cost more than the
        # decision). Its `route` is set by its attempt.
        return record
    if decision.routes:
        changes["route"] = decision.routes[0].route  # what a deferred message will take
    try:
        changed = replace(record, **changes)
    except ValueError as exc:
        raise PolicyRefusal(Action.REJECT, _S.ESME_RSYSERR, str(exc)) from exc
    if changed.expires_at <= changed.due_at:
        raise PolicyRefusal(
            Action.REJECT,
            _S.ESME_RINVEXPIRY,
            f"deferred to {changed.due_at.isoformat()}, past its validity "
            f"({changed.expires_at.isoformat()})",
        )
    return changed


def _rewritten(record: StoredMessage, rewrite: Rewrite, now: datetime) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    source = record.source
    if (
        rewrite.source_addr is not None
        or rewrite.source_addr_ton is not None
        or rewrite.source_addr_npi is not None
    ):
        changes["source"] = Address(
            source.ton if rewrite.source_addr_ton is None else rewrite.source_addr_ton,
            source.npi if rewrite.source_addr_npi is None else rewrite.source_addr_npi,
            source.addr if rewrite.source_addr is None else rewrite.source_addr,
        )
    if rewrite.destination_addr is not None:
        destination = record.destination
        changes["destination"] = Address(destination.ton, destination.npi, rewrite.destination_addr)
    if rewrite.data_coding is not None:
        changes["data_coding"] = rewrite.data_coding
    if rewrite.validity_s is not None:
        changes["expires_at"] = now + timedelta(seconds=rewrite.validity_s)
    if rewrite.strip_tlvs or rewrite.add_tlvs:
        tlvs = record.tlv_values
        for tag in rewrite.strip_tlvs:
            tlvs = tlvs.without(tag)
        for tag, value in rewrite.add_tlvs:
            tlvs = tlvs.with_(tag, value)
        try:
            changes["tlvs"] = StoredMessage.encode_tlvs(tlvs)
        except OpensmscError as exc:
            raise PolicyRefusal(Action.REJECT, _S.ESME_RINVOPTPARAMVAL, str(exc)) from exc
    return changes
