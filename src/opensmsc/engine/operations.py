"""query_sm, cancel_sm and replace_sm on stored messages (SMPP 3.4 §4.8-§4.10).

What this is for: the answers an ESME gets about its own messages. A message is found by its
message_id and must belong to the asking account (and, when the PDU gives one, come from that
source_addr); another account's message is answered as if it did not exist. cancel_sm without
message_id ends every pending message of the account from source_addr to destination_addr
(and of service_type when given). A message with an attempt under way, or one an upstream has
taken, can be neither cancelled nor replaced: it may already have been delivered.

What it is not: the lifecycle table. DELETED goes through engine/lifecycle (with the receipt
registered_delivery asks for), content changes through `store.replace`, which refuses final
messages.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from opensmsc.engine.lifecycle import Lifecycle
from opensmsc.errors import StoreUnavailable
from opensmsc.logtext import peer_text
from opensmsc.routing import AccountPolicies
from opensmsc.smpp import (
    CancelSm,
    CommandStatus,
    MessageState,
    QuerySm,
    QuerySmResp,
    ReplaceSm,
    SmppTimeError,
    Tag,
    encode_tlvs,
    format_absolute,
    parse_schedule,
    parse_validity,
)
from opensmsc.store import (
    REPLACEABLE_STATES,
    Clock,
    Direction,
    Replacement,
    Store,
    StoredMessage,
    StoreError,
    outcome_error,
)

__all__ = ["Operations"]

log = logging.getLogger(__name__)

_S = CommandStatus


class Operations:
    """query/cancel/replace for ESME sessions. `in_flight(message_id)` is Scheduler.in_flight;
    `wake()` tells the scheduler a replaced message may be due now."""

    def __init__(
        self,
        store: Store,
        lifecycle: Lifecycle,
        *,
        clock: Clock,
        policies: AccountPolicies,
        in_flight: Callable[[str], bool] = lambda message_id: False,
        wake: Callable[[], None] = lambda: None,
    ) -> None:
        self._store = store
        self._lifecycle = lifecycle
        self._clock = clock
        self._policies = policies
        self._in_flight = in_flight
        self._wake = wake

    async def query(self, system_id: str, pdu: QuerySm) -> QuerySmResp:
        """query_sm_resp: state, final_date and error_code, or ESME_RQUERYFAIL."""
        try:
            record = await self._own(system_id, pdu.message_id, pdu.source_addr)
        except StoreUnavailable as exc:
            log.error("query_sm failed message_id=%s: %s", peer_text(pdu.message_id), exc)
            return QuerySmResp(command_status=_S.ESME_RSYSERR)
        if record is None:
            return QuerySmResp(command_status=_S.ESME_RQUERYFAIL)
        error = outcome_error(record.state, record.last_error) or 0
        return QuerySmResp(
            message_id=record.message_id,
            final_date=format_absolute(record.done_at) if record.done_at else "",
            message_state=int(record.state),
            # SMPP 3.4 §4.8.2: error_code is one octet; a larger code shows as 255.
            error_code=error if 0 <= error <= 0xFF else 0xFF,
        )

    async def cancel(self, system_id: str, pdu: CancelSm) -> int:
        """cancel_sm: the command_status of cancel_sm_resp."""
        try:
            if pdu.message_id:
                record = await self._own(system_id, pdu.message_id, pdu.source_addr)
                targets = [] if record is None else [record]
            else:
                # SMPP 3.4 §4.9.1: no message_id cancels every pending message of source+dest.
                targets = await self._store.find_pending(
                    system_id,
                    pdu.source_addr,
                    pdu.destination_addr,
                    pdu.service_type or None,
                )
            cancelled = 0
            for record in targets:
                if not self._cancellable(record):
                    continue
                if (
                    await self._lifecycle.finish(record, MessageState.DELETED, by="cancel_sm")
                    is not None
                ):
                    cancelled += 1
        except StoreUnavailable as exc:
            log.error("cancel_sm failed message_id=%s: %s", peer_text(pdu.message_id), exc)
            return _S.ESME_RSYSERR
        return _S.ESME_ROK if cancelled else _S.ESME_RCANCELFAIL

    async def replace(self, system_id: str, pdu: ReplaceSm) -> int:
        """replace_sm: the command_status of replace_sm_resp."""
        try:
            record = await self._own(system_id, pdu.message_id, pdu.source_addr)
            if (
                record is None
                or record.state not in REPLACEABLE_STATES
                or not self._cancellable(record)
            ):
                return _S.ESME_RREPLACEFAIL
            now = self._clock()
            try:
                replacement = self._replacement(record, pdu, now)
            except SmppTimeError as exc:
                return exc.status
            except ValueError:
                return _S.ESME_RINVEXPIRY
            try:
                new = await self._store.replace(record.message_id, replacement, at=now)
            except StoreError:
                return _S.ESME_RREPLACEFAIL
        except StoreUnavailable as exc:
            log.error("replace_sm failed message_id=%s: %s", peer_text(pdu.message_id), exc)
            return _S.ESME_RSYSERR
        if new.next_attempt_at is not None and new.next_attempt_at <= now:
            self._wake()
        return _S.ESME_ROK

    # ---- the same for plain-fields front doors (the HTTP API) ---------------------------------

    async def message(self, system_id: str, message_id: str) -> StoredMessage | None:
        """The account's own MT message `message_id`, or None (another account's is None too).
        Raises StoreUnavailable."""
        return await self._own(system_id, message_id, "")

    async def cancel_message(self, system_id: str, message_id: str) -> StoredMessage | None:
        """Cancel the account's pending message as cancel_sm does (DELETED, with the receipt it
        asked for); returns the record as it ends, or None for an unknown id. A message that
        is final, in an attempt or taken by an upstream comes back unchanged: check
        `is_final` / `state`. Raises StoreUnavailable."""
        record = await self._own(system_id, message_id, "")
        if record is None or not self._cancellable(record):
            return record
        await self._lifecycle.finish(record, MessageState.DELETED, by="cancel_sm")
        return await self._store.get(message_id)  # as it ended (or as it ended meanwhile)

    # ---- internals ------------------------------------------------------------------------------

    async def _own(self, system_id: str, message_id: str, source_addr: str) -> StoredMessage | None:
        if not message_id:
            return None
        record = await self._store.get(message_id)
        if (
            record is None
            or record.system_id != system_id
            or record.direction is not Direction.MT
            or (source_addr and source_addr != record.source.addr)
        ):
            return None
        return record

    def _cancellable(self, record: StoredMessage) -> bool:
        return (
            not record.is_final
            and record.upstream_message_id is None
            and not self._in_flight(record.message_id)
        )

    def _replacement(self, record: StoredMessage, pdu: ReplaceSm, now: datetime) -> Replacement:
        policy = self._policies(record.system_id)
        due_at = parse_schedule(pdu.schedule_delivery_time, now=now)
        expires_at = parse_validity(pdu.validity_period, now=now)
        if due_at is not None:
            due_at = max(due_at, now)
        if expires_at is not None:
            expires_at = min(expires_at, record.submitted_at + policy.max_validity)
        if (expires_at or record.expires_at) <= (due_at or record.due_at):
            raise ValueError("validity ends before delivery")
        short_message: bytes | None = pdu.short_message
        tlvs = None
        payload = pdu.tlvs.get(Tag.MESSAGE_PAYLOAD) if pdu.tlvs else None
        if isinstance(payload, bytes):
            # SMPP 5.0 §4.5.3.1: the new text may come as message_payload instead.
            tlvs = encode_tlvs(record.tlv_values.with_(Tag.MESSAGE_PAYLOAD, payload))
            short_message = b""
        return Replacement(
            short_message=short_message,
            registered_delivery=pdu.registered_delivery,
            sm_default_msg_id=pdu.sm_default_msg_id,
            tlvs=tlvs,
            due_at=due_at,
            expires_at=expires_at,
        )
