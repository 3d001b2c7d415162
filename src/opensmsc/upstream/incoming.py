"""What a connector's upstream sends us: delivery receipts and MO (issue 4, 9).

What this is for: `Incoming` takes every deliver_sm / data_sm a connector's sessions read. A
receipt goes through the connector's `ReceiptMatcher` (matching.py), which tells our message id
or holds the receipt until the submit_sm_resp it refers to arrives; what comes out reaches
`on_receipt(our_id, info)` (our_id None when no submit of ours matched). Everything else is MO
and reaches `on_mo(pdu)`. Each deliver_sm is acknowledged only once its callback returned:
status 0, the MessageRejected status it raised, or ESME_RX_T_APPN after any other exception (the
upstream delivers it again later). The connector reports its submits here (`expect`,
`accepted`, `settled`) because they decide what a held receipt becomes.

What it is not: the matching rules (matching.py), what a receipt does to our messages
(receipts.py, the on_receipt of the app) or the MO routing (mo.py).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from opensmsc.errors import MessageRejected
from opensmsc.smpp import CommandStatus, is_delivery_receipt, receipt_from_pdu
from opensmsc.upstream.matching import Match, ReceiptMatcher
from opensmsc.upstream.model import MoCallback, ReceiptCallback
from opensmsc.upstream.session import IncomingEvent, UpstreamSession

__all__ = ["Incoming"]

log = logging.getLogger(__name__)

_Token = tuple[UpstreamSession, IncomingEvent]


class Incoming:
    """Receipts and MO of one connector (module doc). `now` is the monotonic clock the
    matcher's hold deadlines are on."""

    def __init__(
        self,
        name: str,
        matcher: ReceiptMatcher[_Token],
        *,
        now: Callable[[], float],
        on_receipt: ReceiptCallback | None = None,
        on_mo: MoCallback | None = None,
    ) -> None:
        self._name = name
        self._matcher = matcher
        self._now = now
        self.on_receipt = on_receipt
        self.on_mo = on_mo
        self._timer: asyncio.TimerHandle | None = None
        self._timer_deadline: float | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        # Counters (ConnectorStatus).
        self.receipts = 0
        self.matched = 0
        self.unmatched = 0
        self.held_total = 0  # receipts that ever waited for their submit_sm_resp
        self.mo = 0

    @property
    def held(self) -> int:
        return self._matcher.held

    @property
    def matcher(self) -> ReceiptMatcher[_Token]:
        return self._matcher

    # -- what the connector's submits tell -------------------------------------------------------

    def expect(self) -> None:
        """A submit_sm went out."""
        self._matcher.expect()

    def accepted(self, upstream_id: str, our_id: str | None) -> None:
        """A submit was accepted with `upstream_id`: held receipts for it go out."""
        self._deliver(self._matcher.accepted(upstream_id, our_id))

    def settled(self) -> None:
        """A submit ended without an id (rejected, throttled, timed out, lost)."""
        self._deliver(self._matcher.settled())

    # -- what the upstream sends ------------------------------------------------------------------

    def receive(self, session: UpstreamSession, event: IncomingEvent) -> None:
        pdu = event.pdu
        if not is_delivery_receipt(pdu.esm_class):
            self.mo += 1
            self._spawn(self._deliver_mo(session, event))
            return
        info = receipt_from_pdu(pdu)
        if info is None:
            log.warning(
                "receipt without a message id connector=%s session=%s; acknowledged",
                self._name,
                session.session_id,
            )
            session.respond(event)
            return
        self.receipts += 1
        before = self._matcher.held
        matches = self._matcher.receipt(info, (session, event), now=self._now())
        if self._matcher.held > before:
            self.held_total += 1
        self._deliver(matches)

    # -- stopping -----------------------------------------------------------------------------

    def release_held(self) -> None:
        """Answer every held receipt ESME_RX_T_APPN, so the upstream brings it back later."""
        for match in self._matcher.release_all():
            session, event = match.token
            session.respond(event, CommandStatus.ESME_RX_T_APPN)
        self._cancel_timer()

    async def finish(self) -> None:
        """Give callbacks in progress a moment, then cancel them: their answers have nowhere
        to go once the sessions are closed."""
        if not self._tasks:
            return
        await asyncio.wait(list(self._tasks), timeout=1.0)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    # -- internals ----------------------------------------------------------------------------

    def _deliver(self, matches: list[Match[_Token]]) -> None:
        for match in matches:
            if match.our_id is None:
                self.unmatched += 1
            else:
                self.matched += 1
            self._spawn(self._deliver_receipt(match))
        self._arm_timer()

    def _arm_timer(self) -> None:
        deadline = self._matcher.next_deadline()
        if self._timer is not None and deadline == self._timer_deadline:
            return
        self._cancel_timer()
        if deadline is not None:
            # The deadline is on `now`'s clock, which need not be the loop's: wait the difference.
            self._timer = asyncio.get_running_loop().call_later(
                max(0.0, deadline - self._now()), self._on_timer
            )
            self._timer_deadline = deadline

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = None
        self._timer_deadline = None

    def _on_timer(self) -> None:
        self._timer = None
        self._timer_deadline = None
        self._deliver(self._matcher.expire(now=self._now()))

    async def _deliver_receipt(self, match: Match[_Token]) -> None:
        session, event = match.token
        callback = self.on_receipt
        await self._answer_after(
            session,
            event,
            callback(match.our_id, match.info) if callback is not None else None,
            "receipt",
        )

    async def _deliver_mo(self, session: UpstreamSession, event: IncomingEvent) -> None:
        callback = self.on_mo
        await self._answer_after(
            session, event, callback(event.pdu) if callback is not None else None, "mo"
        )

    async def _answer_after(
        self,
        session: UpstreamSession,
        event: IncomingEvent,
        work: Awaitable[None] | None,
        kind: str,
    ) -> None:
        # The per-task boundary: a callback's failure is logged and answered, never raised.
        status = 0
        try:
            if work is not None:
                await work
        except MessageRejected as exc:
            status = exc.status
        except Exception:
            log.exception(
                "%s callback failed connector=%s session=%s seq=%d",
                kind,
                self._name,
                session.session_id,
                event.sequence_number,
            )
            status = CommandStatus.ESME_RX_T_APPN
        session.respond(event, status)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
