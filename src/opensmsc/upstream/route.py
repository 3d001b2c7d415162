"""`ConnectorRoute`: the Route that hands a stored MT to an upstream SMSC through a connector.

What this is for: the Scheduler claims a message whose destination routes to a
`[[smpp.client]]`; `attempt` sends it with `SmppConnector.submit(pdu, our_id=...)`, records the
upstream's message_id against ours in the store (so a receipt matches after a restart too), and
says what happened as an `engine.routes.Attempt`.

Decisions (docs/design/engine.md, issue 5 "Delivery receipts"):

- We always ask the upstream for a final receipt (registered_delivery bits 1-0 = 01, the other
  bits as the ESME set them). Without one an accepted message could never become DELIVERED or
  UNDELIVERABLE; it would sit ENROUTE until validity and end EXPIRED. The receipt the ESME gets
  from us follows its own registered_delivery, which the stored record keeps unchanged.
- The upstream gets our end of validity as an absolute validity_period, so it does not keep
  trying after we would have expired the message.
- An answer without an id, a timeout, a lost connection or a connector that is stopped, not
  bound or unknown is a TemporaryFailure: the retry schedule and the validity bound it. A
  timeout or a lost connection may leave the upstream with the message, so a retry can
  duplicate it; that is the at-least-once side of the design. A non-zero command_status is
  permanent when it says the message itself is wrong (`PERMANENT_STATUSES`: addresses,
  lengths, parameters, prohibited content); anything else (system errors, queue full, vendor
  codes) is retried, as retry.classify_map_error does for unknown MAP errors.
- The attempt does not wait for a connector that is down: the connector queues submits while
  it reconnects, but the Scheduler's lease must not run out under a queued message (it would
  be claimed and sent twice), so a connector with no bound transmitting session fails the
  attempt at once and `max_wait` bounds the rest.

What it is not: the lifecycle. The route never changes the message's state; the Scheduler
does that with the Attempt, and UpstreamReceipts with the upstream's receipt.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import replace
from typing import Final

from opensmsc.errors import StoreUnavailable
from opensmsc.logtext import peer_text
from opensmsc.routing import Accepted, Attempt, ErrorClass, PermanentFailure, TemporaryFailure
from opensmsc.smpp import (
    BindMode,
    CommandStatus,
    RegisteredDelivery,
    SubmitSm,
    Tlvs,
    format_absolute,
)
from opensmsc.store import Store, StoredMessage
from opensmsc.upstream.matching import upstream_id_keys
from opensmsc.upstream.model import LinkState, SessionStatus, SubmitOutcome, SubmitResult
from opensmsc.upstream.pool import Connectors
from opensmsc.upstream.settings import MessageIdFormat

__all__ = ["PERMANENT_STATUSES", "ConnectorRoute", "NpLookup", "classify_status", "upstream_submit"]

log = logging.getLogger(__name__)

_S = CommandStatus

# Upstream answers that say the message itself can never go (SMPP 3.4 §5.1.3, 5.0 §4.7.6):
# resubmitting it unchanged would get the same answer. Everything else is retried until
# validity ends: it may be the upstream's state (RSYSERR, RMSGQFUL, RX_T_APPN, RINVBNDSTS...)
# or a vendor code we cannot read.
PERMANENT_STATUSES: Final = frozenset(
    {
        _S.ESME_RINVMSGLEN,
        _S.ESME_RINVCMDLEN,
        _S.ESME_RINVCMDID,  # the upstream does not do submit_sm at all
        _S.ESME_RINVPRTFLG,
        _S.ESME_RINVREGDLVFLG,
        _S.ESME_RINVSRCADR,
        _S.ESME_RINVDSTADR,
        _S.ESME_RINVSERTYP,
        _S.ESME_RINVESMCLASS,
        _S.ESME_RINVSRCTON,
        _S.ESME_RINVSRCNPI,
        _S.ESME_RINVDSTTON,
        _S.ESME_RINVDSTNPI,
        _S.ESME_RINVSCHED,
        _S.ESME_RINVEXPIRY,
        _S.ESME_RINVDFTMSGID,
        _S.ESME_RX_P_APPN,
        _S.ESME_RX_R_APPN,
        _S.ESME_RINVOPTPARSTREAM,
        _S.ESME_ROPTPARNOTALLWD,
        _S.ESME_RINVPARLEN,
        _S.ESME_RMISSINGOPTPARAM,
        _S.ESME_RINVOPTPARAMVAL,
        _S.ESME_RSERTYPUNAUTH,
        _S.ESME_RPROHIBITED,
        _S.ESME_RSERTYPDENIED,
        _S.ESME_RINVDCS,
        _S.ESME_RINVSRCADDRSUBUNIT,
        _S.ESME_RINVDSTADDRSUBUNIT,
    }
)
# Answers that mean "not now, and not soon": retried on the long schedule. The rest of the
# non-permanent answers (system error, transient application error) get quick retries first.
_LONG_WAIT: Final = frozenset({_S.ESME_RMSGQFUL, _S.ESME_RTHROTTLED, _S.ESME_RSERTYPUNAVAIL})


def classify_status(status: int) -> ErrorClass:
    """The retry class of an upstream submit_sm_resp command_status (non-zero)."""
    if status in PERMANENT_STATUSES:
        return ErrorClass.PERMANENT
    if status in _LONG_WAIT:
        return ErrorClass.TEMPORARY
    return ErrorClass.SHORT


NpLookup = Callable[[str], Tlvs]
"""destination_addr → the SMPP 5.0 dest_addr_np_* TLVs of a portability query (network/mnp)."""


def upstream_submit(record: StoredMessage, np_lookup: NpLookup | None = None) -> SubmitSm:
    """The submit_sm that carries `record` upstream: its content and TLVs as stored, a final
    receipt always requested (module doc), our end of validity as an absolute time, and with
    `np_lookup` the result of our number portability query (SMPP 5.0 §4.8.4.21-23), so the
    carrier need not query again; TLVs the ESME set itself are kept."""
    pdu = record.to_submit_sm()
    registered_delivery = (
        pdu.registered_delivery & ~RegisteredDelivery.RECEIPT_MASK
    ) | RegisteredDelivery.RECEIPT_ON_FINAL
    try:
        validity = format_absolute(record.expires_at)
    except ValueError:  # beyond 2099: leave the upstream's default
        validity = ""
    tlvs = pdu.tlvs
    if np_lookup is not None:
        for tag, value in np_lookup(record.destination.addr):
            if tlvs.get(tag) is None:
                tlvs = tlvs.with_(tag, value)
    return replace(
        pdu, registered_delivery=registered_delivery, validity_period=validity, tlvs=tlvs
    )


# What a submit that produced no answer is recorded as (last_error, and err in the receipt if
# the message ends without ever being accepted).
_NO_ANSWER: Final = int(_S.ESME_RSYSERR)
_QUEUE_ALLOWANCE: Final = 30.0  # seconds an attempt may wait for the connector's queue


class ConnectorRoute:
    """The Route through the connector `name` of `connectors`.

    `max_wait` (seconds) bounds one attempt: the wait for a place in the connector's queue,
    the window and the response. None: the connector's response_timeout + 30 s. Past it the
    submit is withdrawn: harmless while it waits in the connector's queue (backpressure: it
    is retried on the SHORT schedule), a possible duplicate once it is on the wire, which is
    why the default leaves the whole response_timeout to an answer. An attempt may outlast the
    Scheduler's lease: the Scheduler does not start a second attempt of a message in flight.
    """

    def __init__(
        self,
        connectors: Connectors,
        name: str,
        store: Store,
        *,
        max_wait: float | None = None,
        np_lookup: NpLookup | None = None,
    ) -> None:
        self._connectors = connectors
        self._name = name
        self._store = store
        self._max_wait = max_wait
        self.np_lookup = np_lookup  # given by app/upstream.py

    @property
    def name(self) -> str:
        return self._name

    async def attempt(self, record: StoredMessage) -> Attempt:
        try:
            connector = self._connectors.get(self._name)
        except KeyError:
            return TemporaryFailure(_NO_ANSWER, detail=f"no connector named {self._name!r}")
        if not _can_send(connector.status().sessions):
            return TemporaryFailure(
                _NO_ANSWER, ErrorClass.SHORT, detail=f"connector {self._name} is not bound"
            )
        max_wait = self._max_wait
        if max_wait is None:
            max_wait = connector.settings.response_timeout + _QUEUE_ALLOWANCE
        try:
            async with asyncio.timeout(max_wait):
                result = await connector.submit(
                    upstream_submit(record, self.np_lookup), our_id=record.message_id
                )
        except TimeoutError:
            # Cancelling withdrew it if it had not gone out; if it had, the upstream may have it.
            return TemporaryFailure(
                _NO_ANSWER,
                ErrorClass.SHORT,
                detail=f"no answer from connector {self._name} within {max_wait:g} s",
            )
        return await self._outcome(record, result, connector.settings.message_id_format)

    async def _outcome(
        self, record: StoredMessage, result: SubmitResult, id_format: MessageIdFormat
    ) -> Attempt:
        match result.outcome:
            case SubmitOutcome.ACCEPTED:
                upstream_id = result.message_id or ""
                await self._remember(upstream_id, record.message_id, id_format)
                return Accepted(upstream_id)
            case SubmitOutcome.REJECTED:
                error_class = classify_status(result.status)
                detail = f"connector {self._name}: {result.detail}"
                if error_class is ErrorClass.PERMANENT:
                    return PermanentFailure(result.status, detail=detail)
                return TemporaryFailure(result.status, error_class, detail=detail)
            case _:  # TIMED_OUT, CONNECTION_LOST, NOT_SENT
                return TemporaryFailure(
                    _NO_ANSWER,
                    ErrorClass.SHORT,
                    detail=f"connector {self._name}: {result.outcome.value}: {result.detail}",
                )

    async def _remember(self, upstream_id: str, our_id: str, id_format: MessageIdFormat) -> None:
        """Map every key of the upstream id to ours (matching.upstream_id_keys: the keys the
        connector's in-memory matcher uses)."""
        if not upstream_id.strip():
            log.warning(
                "upstream accepted without a message_id connector=%s message_id=%s",
                self._name,
                our_id,
            )
            return
        keys = upstream_id_keys(upstream_id, id_format)
        try:
            # Concurrent, so group commit can put them in one transaction.
            await asyncio.gather(
                *(self._store.map_upstream_id(self._name, key, our_id) for key in keys)
            )
        except StoreUnavailable:
            # The upstream has the message: failing the attempt would send it twice. The
            # connector's in-memory matcher still matches its receipts until a restart.
            log.exception(
                "upstream id not stored connector=%s message_id=%s upstream_id=%s",
                self._name,
                our_id,
                peer_text(upstream_id),
            )


def _can_send(sessions: tuple[SessionStatus, ...]) -> bool:
    return any(s.state is LinkState.BOUND and s.mode is not BindMode.RECEIVER for s in sessions)
