"""Acceptance: a submit_sm, submit_multi or data_sm from an ESME becomes stored messages, and
its response goes out only after the store commit.

What this is for (issue 5, "Durable acceptance"): `Acceptor.submit(system_id, pdu, respond)`
validates the PDU at once (submits.py; a refusal calls `respond(None, status)` before
returning), builds the StoredMessage (schedule_delivery_time and validity_period parsed,
validity capped by the account; a long message's parts grouped so that their ids are
`ids.part_id(group, seq)`), and queues it. Everything queued in one turn of the event loop
goes to the store in one `submit_many` (on top of the store's own group commit), and each
`respond(message_id, 0)` is called when that commit returned. If the store fails,
`respond(None, ESME_RSYSERR)`, or ESME_RMSGQFUL when it is full (StoreFull: come back later);
no message_id is ever given for a message that is not durable. A failing store is logged once
a minute, not per commit.

Also here: replace_if_present_flag (the pending message from the same source to the same
destination with the same service_type is superseded, DELETED, in the commit of the new one),
submit_multi (one message per destination, distribution lists of the account expanded, the
refused destinations listed in unsuccess_sme) and data_sm's message modes (esm_class bits 1-0,
SMPP 3.4 §2.10): default (0) and store-and-forward (3) are stored like a submit_sm; datagram
(1) is answered at once and tried once, never stored; transaction (2) is tried once and
answered with the outcome. submit_sm gets the same modes.

What it is not: delivery. The Scheduler takes stored messages from the store (`on_stored`
wakes it after each commit). With `lease` and `on_claimed` set, a message due at once is
stored already leased (ENROUTE, next attempt at the lease's end) and handed to `on_claimed`
(Scheduler.take) after the commit: its first attempt needs no claim, and after a crash it is
due again when the lease ends, exactly as if it had been claimed.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter, OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final

from opensmsc.engine import trail
from opensmsc.engine.decisions import Decisions
from opensmsc.engine.ids import MessageIds, part_id
from opensmsc.engine.observer import NO_OBSERVER, MessageObserver
from opensmsc.engine.submission import Prepared, Submission, prepare
from opensmsc.engine.submits import check_submit, concat_of, submit_times
from opensmsc.engine.trail import NO_FINAL_LISTENER, FinalListener, Origin
from opensmsc.errors import MessageRejected, OpensmscError, StoreUnavailable
from opensmsc.observability import MessageText
from opensmsc.routing import (
    Accepted,
    AccountPolicies,
    Delivered,
    PermanentFailure,
    Route,
    Router,
    TemporaryFailure,
)
from opensmsc.smpp import (
    EMPTY_TLVS,
    CommandStatus,
    DataSm,
    EsmClass,
    MessageState,
    NetworkErrorCode,
    SmeAddress,
    SubmitMulti,
    SubmitSm,
    Tag,
    Tlvs,
    UnsuccessSme,
    data_sm_as,
)
from opensmsc.store import (
    Address,
    Clock,
    ConcatInfo,
    Direction,
    DuplicateMessage,
    KeyTaken,
    OutageLog,
    SavedAnswer,
    Store,
    StoredMessage,
    StoreError,
    StoreFull,
    TrailEvent,
    new_trace_id,
)

__all__ = ["Acceptor", "DataRespond", "MultiRespond", "Respond"]

log = logging.getLogger(__name__)

_S = CommandStatus

Respond = Callable[[str | None, int], None]
"""`respond(message_id, command_status)`: called once; message_id only with status 0."""
MultiRespond = Callable[[str | None, int, tuple[UnsuccessSme, ...]], None]
"""`respond(message_id, command_status, unsuccess_sme)` for submit_multi_resp."""
DataRespond = Callable[[str | None, int, Tlvs], None]
"""`respond(message_id, command_status, tlvs)` for data_sm_resp (network_error_code etc.)."""

_OnCommit = Callable[[BaseException | None], None]
_Queued = tuple[StoredMessage, _OnCommit, Origin]

_MAX_DESTINATIONS: Final = 254  # SMPP 3.4 §4.5.1: number_of_dests 1..254
_OUTAGE_LOG_INTERVAL: Final = 60.0  # seconds between two lines about a failing store


@dataclass(slots=True)
class _Group:
    group_id: str
    created: datetime
    seen: set[int] = field(default_factory=set)
    # The parts of one long message share a trace: one message to whoever follows it.
    trace_id: str = field(default_factory=new_trace_id)


class Acceptor:
    """Turns submits into durably stored messages; see the module doc for the contract.

    `max_pending` bounds the messages waiting for their commit: beyond it submits are refused
    with ESME_RTHROTTLED (the session maps it to its overload answer). `max_parts` is the most
    SMS a message_payload may need (a concatenated message has at most 255, TS 23.040
    §9.2.3.24.1): one that needs more is refused with ESME_RINVMSGLEN. `router` is needed for
    the datagram and transaction modes only. `decisions`: the node's policy, asked for every
    message before it is stored (engine/decisions.py: a reject or throttle refuses it, a
    deferral or rewrite changes the record); without it every message is taken as it is. Call
    `close()` before the store closes: it waits for the commits under way (their responses
    still go out). Each commit of new messages is told to `observer.stored` (metrics) before
    their answers go out. Every message is stored with its "accepted" trail event (where it
    came in: `origin`, by default an SMPP session that said no more) and a trace id; a message
    a replacing submit ends is told to `on_final` (the CDR) like any final state.
    """

    def __init__(
        self,
        store: Store,
        ids: MessageIds,
        *,
        clock: Clock,
        policies: AccountPolicies,
        router: Router | None = None,
        decisions: Decisions | None = None,
        on_stored: Callable[[], None] = lambda: None,
        on_claimed: Callable[[Sequence[StoredMessage]], None] | None = None,
        lease: timedelta | None = None,
        max_pending: int = 20_000,
        max_parts: int = 255,
        max_batch: int = 1000,
        group_ttl: timedelta = timedelta(hours=1),
        max_groups: int = 100_000,
        observer: MessageObserver = NO_OBSERVER,
        on_final: FinalListener = NO_FINAL_LISTENER,
    ) -> None:
        self._store = store
        self._on_final = on_final
        self._ids = ids
        self._clock = clock
        self._policies = policies
        self._router = router
        self._decisions = decisions
        self._on_stored = on_stored
        self._on_claimed = on_claimed
        self._lease = lease
        self._max_pending = max_pending
        if not 1 <= max_parts <= 255:
            raise ValueError(f"max_parts {max_parts} outside 1..255 (the total is one octet)")
        self._max_parts = max_parts
        self._max_batch = max_batch
        self._group_ttl = group_ttl
        self._max_groups = max_groups
        self._observer = observer
        self._queue: list[_Queued] = []
        self._flush_scheduled = False
        self._pending = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._groups: OrderedDict[tuple[str, str, str, int, int], _Group] = OrderedDict()
        self._outage = OutageLog(
            log, interval=_OUTAGE_LOG_INTERVAL, now=self._now, unit="messages not stored"
        )
        self.accepted: Counter[str] = Counter()  # committed messages per account

    def _now(self) -> float:
        # The injected clock, as seconds: what the outage log counts its interval in.
        return self._clock().timestamp()

    # ---- what sessions call -----------------------------------------------------------------

    @property
    def pending(self) -> int:
        """Messages waiting for their commit."""
        return self._pending

    @property
    def load(self) -> int:
        """0..100, for the SMPP 5.0 congestion_state TLV."""
        return min(100, self._pending * 100 // max(1, self._max_pending))

    def set_on_stored(self, on_stored: Callable[[], None]) -> None:
        self._on_stored = on_stored

    def set_on_claimed(
        self, on_claimed: Callable[[Sequence[StoredMessage]], None] | None, lease: timedelta
    ) -> None:
        """Store messages due at once already leased and hand them to `on_claimed`."""
        self._on_claimed = on_claimed
        self._lease = lease

    def submit(
        self, system_id: str, pdu: SubmitSm, respond: Respond, origin: Origin = trail.SMPP
    ) -> None:
        """Accept a submit_sm: `respond(message_id, 0)` after the commit, or
        `respond(None, status)` (at once for a refusal, later for a store failure)."""
        mode = pdu.esm_class & EsmClass.MODE_MASK
        forward = mode in (EsmClass.MODE_DATAGRAM, EsmClass.MODE_FORWARD)
        try:
            record = self._prepare(
                system_id,
                pdu,
                self._clock(),
                leased=not forward and not pdu.replace_if_present_flag,
            )
        except MessageRejected as exc:
            respond(None, exc.status)
            return
        if self._remote:
            self._spawn(
                self._decide_remote(
                    record,
                    lambda decided: self._submit_decided(decided, pdu, mode, respond, origin),
                    lambda status: respond(None, status),
                )
            )
            return
        self._submit_decided(record, pdu, mode, respond, origin)

    def _submit_decided(
        self, record: StoredMessage, pdu: SubmitSm, mode: int, respond: Respond, origin: Origin
    ) -> None:
        if mode in (EsmClass.MODE_DATAGRAM, EsmClass.MODE_FORWARD):
            self._forward(record, mode, lambda mid, status, tlvs: respond(mid, status))
            return
        if pdu.replace_if_present_flag:
            self._spawn(self._submit_replacing(record, respond, origin))
            return
        self._enqueue(record, _respond_after(record.message_id, respond), origin)

    def submit_multi(
        self,
        system_id: str,
        pdu: SubmitMulti,
        respond: MultiRespond,
        origin: Origin = trail.SMPP,
    ) -> None:
        """Accept a submit_multi: one message per destination (distribution lists of the
        account expanded). Answers with the first stored message's id and the refused
        destinations; ESME_RSUBMITFAIL when none could be taken (SMPP 3.4 §4.5)."""
        if not pdu.dest_address or len(pdu.dest_address) > _MAX_DESTINATIONS:
            respond(None, _S.ESME_RINVNUMDESTS, ())
            return
        if self._pending >= self._max_pending:
            respond(None, _S.ESME_RTHROTTLED, ())
            return
        now = self._clock()
        policy = self._policies(system_id)
        failed: list[UnsuccessSme] = []
        records: list[StoredMessage] = []
        trace_id = new_trace_id()  # one submit_multi, one trace: its messages go together
        for destination in pdu.dest_address:
            if isinstance(destination, SmeAddress):
                members: tuple[Address, ...] = (
                    Address(
                        destination.dest_addr_ton,
                        destination.dest_addr_npi,
                        destination.destination_addr,
                    ),
                )
            else:
                listed = policy.distribution_lists.get(destination.dl_name)
                if listed is None:
                    failed.append(
                        UnsuccessSme(
                            destination_addr=destination.dl_name,
                            error_status_code=_S.ESME_RINVDLNAME,
                        )
                    )
                    continue
                members = listed
            for member in members:
                try:
                    records.append(
                        self._prepare(
                            system_id, _single(pdu, member), now, leased=True, trace_id=trace_id
                        )
                    )
                except MessageRejected as exc:
                    failed.append(
                        UnsuccessSme(
                            dest_addr_ton=member.ton,
                            dest_addr_npi=member.npi,
                            destination_addr=member.addr,
                            error_status_code=exc.status,
                        )
                    )
        if self._remote:
            self._spawn(self._multi_remote(records, failed, respond, origin))
            return
        self._enqueue_multi(records, failed, respond, origin)

    def _enqueue_multi(
        self,
        records: list[StoredMessage],
        failed: list[UnsuccessSme],
        respond: MultiRespond,
        origin: Origin,
    ) -> None:
        unsuccess = tuple(failed)
        if not records:
            respond(None, _S.ESME_RSUBMITFAIL, unsuccess)
            return
        first_id = records[0].message_id
        remaining = [len(records)]
        errors: list[BaseException] = []

        def on_commit(error: BaseException | None) -> None:
            if error is not None:
                errors.append(error)
            remaining[0] -= 1
            if remaining[0]:
                return
            if errors:
                # All or nothing towards the ESME: it got no id, so it will submit again.
                respond(None, _refusal(errors[0]), ())
            else:
                respond(first_id, _S.ESME_ROK, unsuccess)

        for record in records:
            self._enqueue(record, on_commit, origin)

    def messages_in(self, system_id: str, pdu: SubmitMulti) -> int:
        """How many messages `pdu` asks for (at least 1): one per destination address, one per
        member of each distribution list of the account. What a throughput cap counts."""
        lists = self._policies(system_id).distribution_lists
        count = 0
        for destination in pdu.dest_address:
            if isinstance(destination, SmeAddress):
                count += 1
            else:
                count += len(lists.get(destination.dl_name, ()))
        return max(1, count)

    def data_sm(
        self, system_id: str, pdu: DataSm, respond: DataRespond, origin: Origin = trail.SMPP
    ) -> None:
        """Accept a data_sm per its message mode (module doc). In transaction mode a failed
        attempt is answered ESME_RDELIVERYFAILURE with network_error_code when known."""
        submit = data_sm_as(SubmitSm, pdu)
        mode = pdu.esm_class & EsmClass.MODE_MASK
        forward = mode in (EsmClass.MODE_DATAGRAM, EsmClass.MODE_FORWARD)
        try:
            record = self._prepare(system_id, submit, self._clock(), leased=not forward)
        except MessageRejected as exc:
            respond(None, exc.status, EMPTY_TLVS)
            return
        if self._remote:
            self._spawn(
                self._decide_remote(
                    record,
                    lambda decided: self._data_sm_decided(decided, mode, respond, origin),
                    lambda status: respond(None, status, EMPTY_TLVS),
                )
            )
            return
        self._data_sm_decided(record, mode, respond, origin)

    def _data_sm_decided(
        self, record: StoredMessage, mode: int, respond: DataRespond, origin: Origin
    ) -> None:
        if mode in (EsmClass.MODE_DATAGRAM, EsmClass.MODE_FORWARD):
            self._forward(record, mode, respond)
            return
        self._enqueue(
            record,
            _respond_after(record.message_id, lambda m, s: respond(m, s, EMPTY_TLVS)),
            origin,
        )

    def prepare(self, system_id: str, submission: Submission) -> Prepared:
        """The records of a plain-fields submission (engine/submission.py), stored leased as
        a submit_sm's would be. Raises InvalidSubmission, MessageRejected (ESME_RTHROTTLED)."""
        if self._pending >= self._max_pending:
            raise MessageRejected(_S.ESME_RTHROTTLED, "too many messages waiting for the store")
        now = self._clock()
        prepared = prepare(
            submission,
            system_id=system_id,
            policy=self._policies(system_id),
            ids=self._ids,
            now=now,
            lease=self._lease if self._on_claimed is not None else None,
            trace_id=new_trace_id(),
        )
        if self._decisions is None or self._remote:
            return prepared  # a remote engine decides in `store`, awaited
        # One decision for the whole message: its parts go (or are refused) together.
        records = self._decisions.at_submit(prepared.records, now)
        return Prepared(tuple(records), prepared.encoding)

    async def store(
        self,
        records: Sequence[StoredMessage],
        *,
        answer: SavedAnswer | None = None,
        notifications: Sequence[StoredMessage] = (),
        origin: Origin = Origin("http"),  # noqa: B008  (frozen: one shared default is fine)
    ) -> None:
        """Commit `records` (from `prepare`) in one transaction, all or none, with `answer`
        (a front door's answer naming them) and `notifications` (receipts owed at once for
        them: Jasmin's level-1 DLR, Kannel's "delivered to SMSC" report), stored with the
        messages or not at all, and with their "accepted" trail events (from `origin`);
        returns once they are durable, and hands the records to the scheduler. Only
        `records` count as accepted. Raises StoreUnavailable, KeyTaken: nothing was
        stored."""
        if self._remote and records:
            # The remote engine's decisions, awaited here rather than in `prepare` (the
            # records keep their ids: only a rewrite or a deferral changes them).
            assert self._decisions is not None
            records = await self._decisions.at_submit_remote_each(records, records[0].submitted_at)
        count = len(records)
        self._pending += count
        try:
            await self._store.submit_many(
                [*records, *notifications],
                answer=answer,
                trail=[trail.accepted(record, origin) for record in records],
            )
        except KeyTaken:
            self._forget(records)
            raise
        except StoreError as exc:  # DuplicateMessage: an id used before (never expected)
            self._forget(records)
            raise StoreUnavailable(str(exc)) from exc
        except BaseException:
            self._forget(records)
            raise
        finally:
            self._pending -= count
        for record in records:
            self.accepted[record.system_id] += 1
        self._observer.stored(records, self._clock())
        self._handed_over(list(records))

    async def close(self) -> None:
        """Commit what is queued and wait for the commits and attempts under way."""
        self._flush()
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    # ---- building records ---------------------------------------------------------------------

    def _prepare(
        self,
        system_id: str,
        pdu: SubmitSm,
        now: datetime,
        *,
        leased: bool,
        trace_id: str | None = None,
    ) -> StoredMessage:
        """The record of `pdu`. `leased`: it goes through `_enqueue`, so when the Scheduler
        takes messages from the Acceptor (`on_claimed`) one due at once is stored already
        leased (next attempt at the lease's end)."""
        if self._pending >= self._max_pending:
            raise MessageRejected(_S.ESME_RTHROTTLED, "too many messages waiting for the store")
        check_submit(pdu, self._max_parts)
        policy = self._policies(system_id)
        due_at, expires_at = submit_times(pdu, now, policy)
        concat_info = concat_of(pdu)
        concat = None
        if concat_info is None:
            message_id = self._ids.next()
        else:
            reference, total, seq = concat_info
            group = self._group(system_id, pdu, concat_info, now)
            group_id = group.group_id
            trace_id = trace_id or group.trace_id
            concat = ConcatInfo(group_id=group_id, reference=reference, total=total, seq=seq)
            message_id = part_id(group_id, seq)
        lease_until = None
        if leased and self._on_claimed is not None and self._lease is not None and due_at <= now:
            lease_until = now + self._lease
        try:
            record = StoredMessage.from_pdu(
                pdu,
                message_id=message_id,
                system_id=system_id,
                direction=Direction.MT,
                submitted_at=now,
                due_at=due_at,
                expires_at=expires_at,
                concat=concat,
                next_attempt_at=lease_until,
                trace_id=trace_id or new_trace_id(),
            )
        except OpensmscError as exc:  # a TLV value we cannot write back (LocalProtocolError)
            raise MessageRejected(_S.ESME_RINVOPTPARAMVAL, str(exc)) from exc
        if self._decisions is None or self._remote:
            return record  # a remote engine decides in `_decide_remote`, awaited
        return self._decisions.at_submit((record,), now)[0]

    @property
    def _remote(self) -> bool:
        """Whether the policy is a remote engine, whose decisions are awaited before the
        commit (`_decide_remote`, `store`) rather than made in the synchronous prepare."""
        return self._decisions is not None and self._decisions.remote is not None

    async def _decide_remote(
        self,
        record: StoredMessage,
        decided: Callable[[StoredMessage], None],
        refuse: Callable[[int], None],
    ) -> None:
        # Counted as waiting for the store meanwhile, so that the backlog limit
        # (ESME_RTHROTTLED) also covers messages waiting for a remote decision.
        decisions = self._decisions
        assert decisions is not None
        self._pending += 1
        try:
            record = (await decisions.at_submit_remote((record,), record.submitted_at))[0]
        except MessageRejected as exc:
            refuse(exc.status)
            return
        finally:
            self._pending -= 1
        decided(record)

    async def _multi_remote(
        self,
        records: list[StoredMessage],
        failed: list[UnsuccessSme],
        respond: MultiRespond,
        origin: Origin,
    ) -> None:
        # submit_multi with a remote engine: each destination decided (concurrently) before
        # the commit; a refused one joins the unsuccessful destinations, as locally.
        decisions = self._decisions
        assert decisions is not None
        self._pending += len(records)
        try:
            results = await asyncio.gather(
                *(decisions.at_submit_remote((r,), r.submitted_at) for r in records),
                return_exceptions=True,
            )
        finally:
            self._pending -= len(records)
        kept: list[StoredMessage] = []
        for record, result in zip(records, results, strict=True):
            if isinstance(result, MessageRejected):
                failed.append(
                    UnsuccessSme(
                        dest_addr_ton=record.destination.ton,
                        dest_addr_npi=record.destination.npi,
                        destination_addr=record.destination.addr,
                        error_status_code=result.status,
                    )
                )
            elif isinstance(result, BaseException):
                raise result
            else:
                kept.extend(result)
        self._enqueue_multi(kept, failed, respond, origin)

    def _forget(self, records: Sequence[StoredMessage]) -> None:
        if self._decisions is not None:
            self._decisions.forget([record.message_id for record in records])

    def _group(
        self, system_id: str, pdu: SubmitSm, concat: tuple[int, int, int], now: datetime
    ) -> _Group:
        # The parts of one long message share a group: same account, addresses, reference and
        # count, each part once, within group_ttl. References repeat (8 bits), hence the rest.
        reference, total, seq = concat
        key = (system_id, pdu.source_addr, pdu.destination_addr, reference, total)
        group = self._groups.get(key)
        if group is None or seq in group.seen or now - group.created > self._group_ttl:
            group = _Group(self._ids.next_group(), now)
            self._groups[key] = group
            self._groups.move_to_end(key)
            while len(self._groups) > self._max_groups:
                self._groups.popitem(last=False)
        group.seen.add(seq)
        if len(group.seen) >= total:
            del self._groups[key]
        return group

    # ---- committing ---------------------------------------------------------------------------

    def _enqueue(self, record: StoredMessage, on_commit: _OnCommit, origin: Origin) -> None:
        # The record comes from `_prepare(..., leased=True)`: leased already when it should be.
        self._queue.append((record, on_commit, origin))
        self._pending += 1
        if not self._flush_scheduled:
            self._flush_scheduled = True
            # Everything submitted in this turn of the loop (one TCP read holds many PDUs)
            # goes to the store in one submit_many.
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        queue, self._queue = self._queue, []
        for start in range(0, len(queue), self._max_batch):
            self._spawn(self._commit(queue[start : start + self._max_batch]))

    async def _commit(self, batch: Sequence[_Queued]) -> None:
        error: BaseException | None = None
        records = [record for record, _, _ in batch]
        accepted_event = trail.accepted
        try:
            await self._store.submit_many(
                records, trail=[accepted_event(record, origin) for record, _, origin in batch]
            )
        except DuplicateMessage:
            # An id this data folder used before (never expected: ids.py): store the rest.
            if len(batch) > 1:
                self._pending -= len(batch)
                for item in batch:
                    self._pending += 1
                    self._spawn(self._commit((item,)))
                return
            error = StoreUnavailable(f"message_id={batch[0][0].message_id} already stored")
        except (StoreUnavailable, StoreError) as exc:
            error = exc
        self._pending -= len(batch)
        if error is not None:
            self._forget([record for record, _, _ in batch])
            self._outage.failed(
                "submit not stored messages=%d: %s", len(batch), error, count=len(batch)
            )
        else:
            self._outage.recovered("submits stored again")
            accepted = self.accepted
            for record in records:
                accepted[record.system_id] += 1
            self._observer.stored(records, self._clock())
            if log.isEnabledFor(logging.DEBUG):
                for record, _, origin in batch:
                    log.debug(
                        "accepted message_id=%s system_id=%s door=%s destination=%s text=%s"
                        " trace=%s",
                        record.message_id,
                        record.system_id,
                        origin.door,
                        record.destination.addr,
                        MessageText(record.short_message, record.data_coding, record.esm_class),
                        trail.trace_of(record),
                    )
        # submit_sm_resp carries a message_id only after the store commit (this point).
        for _, on_commit, _ in batch:
            on_commit(error)
        if error is None:
            self._handed_over(records)

    async def _submit_replacing(
        self, record: StoredMessage, respond: Respond, origin: Origin
    ) -> None:
        # SMPP 3.4 §4.4.1 replace_if_present_flag: the new message supersedes the pending one
        # from the same source to the same destination with the same service_type.
        self._pending += 1
        try:
            for _ in range(3):  # a superseded message may end meanwhile: look again
                found = await self._store.find_pending(
                    record.system_id,
                    record.source.addr,
                    record.destination.addr,
                    record.service_type,
                )
                superseding = [m.message_id for m in found]
                at = record.submitted_at
                endings = [
                    trail.final(m, MessageState.DELETED, at, error=None, route=None, by="replaced")
                    for m in found
                ]
                events: list[TrailEvent] = [trail.accepted(record, origin), *endings]
                try:
                    await self._store.submit_many([record], superseding=superseding, trail=events)
                except StoreError as exc:
                    if isinstance(exc, DuplicateMessage):
                        raise
                    continue
                break
            else:
                raise StoreUnavailable("replace_if_present: pending messages kept changing")
        except (StoreUnavailable, StoreError) as exc:
            self._outage.failed("submit not stored message_id=%s: %s", record.message_id, exc)
            respond(None, _refusal(exc))
            return
        finally:
            self._pending -= 1
        self.accepted[record.system_id] += 1
        at = self._clock()
        self._observer.stored((record,), at)
        for superseded, ending in zip(found, endings, strict=True):  # ended in the new one's commit
            self._observer.ended(superseded, MessageState.DELETED, None, at)
            self._on_final.final(superseded, ending)
        respond(record.message_id, _S.ESME_ROK)
        self._on_stored()

    def _handed_over(self, records: list[StoredMessage]) -> None:
        if self._on_claimed is None:
            self._on_stored()
            return
        leased = [r for r in records if r.next_attempt_at != r.due_at]
        self._on_claimed(leased)
        if len(leased) < len(records):
            self._on_stored()

    # ---- datagram and transaction modes -------------------------------------------------------

    def _forward(self, record: StoredMessage, mode: int, respond: DataRespond) -> None:
        decisions = self._decisions
        route: Route | None
        if decisions is not None:
            # Tried once, on the first route the policy gave at submit (no failover: the
            # ESME asked for one attempt).
            routes = decisions.routes(decisions.for_attempt(record, self._clock()))
            route = routes[0] if routes else None
        else:
            route = None if self._router is None else self._router.route_for(record)
        if route is None:
            respond(None, _S.ESME_RSUBMITFAIL, EMPTY_TLVS)
            return
        if mode == EsmClass.MODE_DATAGRAM:
            # SMPP 3.4 §2.10.2: answered at once; one attempt, no retry, no receipt.
            respond(record.message_id, _S.ESME_ROK, EMPTY_TLVS)

        async def attempt() -> None:
            started = 0.0 if decisions is None else decisions.started()
            try:
                outcome = await route.attempt(record)
            except Exception:
                log.exception(
                    "attempt failed message_id=%s route=%s", record.message_id, route.name
                )
                outcome = TemporaryFailure(int(_S.ESME_RSYSERR))
            if decisions is not None:
                decisions.report(route.name, outcome, started, self._clock())
                decisions.flush_reports()  # one message at a time here: nothing to gather
            log.info(
                "forwarded message_id=%s mode=%d route=%s outcome=%s",
                record.message_id,
                mode,
                route.name,
                type(outcome).__name__,
            )
            if mode != EsmClass.MODE_FORWARD:
                return
            # SMPP 3.4 §2.10.3: transaction mode answers with the delivery's outcome.
            if isinstance(outcome, Delivered | Accepted):
                respond(record.message_id, _S.ESME_ROK, EMPTY_TLVS)
                return
            assert isinstance(outcome, TemporaryFailure | PermanentFailure)
            tlvs = EMPTY_TLVS.with_(
                Tag.NETWORK_ERROR_CODE, NetworkErrorCode(3, outcome.error & 0xFFFF)
            )
            # delivery_failure_reason (SMPP 3.4 §5.3.2.33): 0 destination unavailable,
            # 3 temporary network error (retrying is the ESME's call in this mode).
            reason = 3 if isinstance(outcome, TemporaryFailure) else 0
            tlvs = tlvs.with_(Tag.DELIVERY_FAILURE_REASON, reason)
            respond(None, _S.ESME_RDELIVERYFAILURE, tlvs)

        self._spawn(attempt())

    def _spawn(self, coro: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


# ---- helpers --------------------------------------------------------------------------------


def _respond_after(message_id: str, respond: Respond) -> _OnCommit:
    def on_commit(error: BaseException | None) -> None:
        if error is None:
            respond(message_id, _S.ESME_ROK)
        else:
            respond(None, _refusal(error))

    return on_commit


def _refusal(error: BaseException) -> int:
    # A full store may have room again soon: "come back later", not a system error.
    return _S.ESME_RMSGQFUL if isinstance(error, StoreFull) else _S.ESME_RSYSERR


def _single(pdu: SubmitMulti, destination: Address) -> SubmitSm:
    return SubmitSm(
        service_type=pdu.service_type,
        source_addr_ton=pdu.source_addr_ton,
        source_addr_npi=pdu.source_addr_npi,
        source_addr=pdu.source_addr,
        dest_addr_ton=destination.ton,
        dest_addr_npi=destination.npi,
        destination_addr=destination.addr,
        esm_class=pdu.esm_class,
        protocol_id=pdu.protocol_id,
        priority_flag=pdu.priority_flag,
        schedule_delivery_time=pdu.schedule_delivery_time,
        validity_period=pdu.validity_period,
        registered_delivery=pdu.registered_delivery,
        data_coding=pdu.data_coding,
        sm_default_msg_id=pdu.sm_default_msg_id,
        short_message=pdu.short_message,
        tlvs=pdu.tlvs,
    )
