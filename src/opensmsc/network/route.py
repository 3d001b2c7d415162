"""`SimulatedNetworkRoute`: the engine's Route (routing/routes.py) onto the simulated mobile
network — SRI-SM at the HLR, then MT-ForwardSM at the serving MSC (DIGEST §6.1, §6.2).

What this is for: the Scheduler calls `attempt(record)` for each stored MT whose route is the
network. One attempt is what an SMS-GMSC does for one message:

1. SendRoutingInfoForSM (45) at the HLR for the destination MSISDN. Number portability is
   applied there (routing/portability.py): a ported number's answer names its recipient
   network's IMSI and MSC, so the message is delivered through that network; `deliveries`
   records which.
2. MT-ForwardSM (44) at that MSC (network/msc.py) with the SMS-DELIVER built from the record:
   TP-OA from source_addr, TP-DCS from data_coding (class 0 when dest_addr_subunit asks for
   the display), the UDH from short_message (UDHI) or built from the sar_* TLVs; a
   message_payload that does not fit one SMS is segmented and sent part after part.
3. ReportSM-DeliveryStatus (47) after absentSubscriber(SM) or memoryCapacityExceeded, so the
   HLR keeps our address in the subscriber's message-waiting data and alerts us later; and
   after a success to a subscriber whose MWD was set, to clear it.

The MAP answer becomes the Attempt the Scheduler acts on: Delivered; TemporaryFailure(code,
error_class) for the temporary classes, whose retry schedules routing/retry.py runs;
PermanentFailure(code) for the permanent ones. The code is what the receipt reports (`err:`
and network_error_code `03 00 <code>`).

Alerts (alertServiceCentre 64): `on_alert(msisdn)` reads the messages waiting for that
subscriber (under every destination_addr spelling we reported for it), remembers them as one
burst, and releases them through the Scheduler. Attempts for one subscriber run one at a time
in arrival order (one MAP dialogue to the handset), and moreMessagesToSend is set on every
message of a burst but the last, and on any message another one is queued behind.

In realistic mode the MSC's latency is awaited; in deterministic mode it is 0 and nothing sleeps.

What it is not: the HLR's behaviour (network/hlr.py) or the retry schedule (the engine's).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Final, Protocol

from opensmsc.errors import OpensmscError
from opensmsc.network.hlr import DeliveryOutcome, SimulatedHlr
from opensmsc.network.map_errors import MapError, MapErrorCode
from opensmsc.network.msc import Mscs
from opensmsc.observability import MessageText
from opensmsc.routing import Attempt, Delivered, InvalidNumber, PermanentFailure, TemporaryFailure
from opensmsc.smpp import EsmClass, Tag
from opensmsc.sms import (
    Alphabet,
    Concat,
    Encoding,
    MessageClass,
    SmsDeliver,
    UdhError,
    alphabet_of,
    build_udh,
    data_coding_for,
    parse_udh,
    split,
)
from opensmsc.store import StoredMessage

__all__ = ["NETWORK_ROUTE", "DeliveryRecord", "SimulatedNetworkRoute"]

log = logging.getLogger(__name__)

NETWORK_ROUTE: Final = "network"  # the route name in [routing] and in stored records
_RECORDS: Final = 10_000  # deliveries remembered for inspection (tests, admin API)
_UD_OCTETS: Final = 140  # TP-UD holds 140 octets (TS 23.040 §9.2.3.24)
_MS_DISPLAY: Final = 1  # dest_addr_subunit 0x01: MS display (SMPP 3.4 §5.3.2.1), i.e. class 0


@dataclass(frozen=True, slots=True, kw_only=True)
class DeliveryRecord:
    """One MT-ForwardSM outcome: which network and MSC delivered (or refused) a message."""

    message_id: str
    msisdn: int
    network: str  # MCC-MNC of the network whose MSC was used
    msc_address: str
    is_ported: bool
    more_messages_to_send: bool
    error: MapError | None


@dataclass(slots=True, eq=False)
class _Subscriber:
    """Per-subscriber serialisation and the current alert burst."""

    lock: asyncio.Lock
    queued: int = 0  # attempts waiting for or holding the lock
    burst: tuple[str, ...] = ()  # message ids released by the last alert, in order
    burst_pending: set[str] | None = None


class RouteJournal(Protocol):
    """Where the route keeps the destination_addr spellings an alert must release, and how it
    waits for the HLR's message-waiting data to be durable (network/state.py)."""

    def address_seen(self, msisdn: int, address: str) -> None: ...

    def addresses_cleared(self, msisdn: int) -> None: ...

    async def flush(self) -> None: ...


Sleep = Callable[[float], Awaitable[None]]
WaitingFor = Callable[[str], Awaitable[Sequence[StoredMessage]]]
Release = Callable[[str], Awaitable[int]]


class SimulatedNetworkRoute:
    """The Route to the simulated network (module doc).

    `waiting_for(destination_addr)` (store.waiting_for) and `release(destination_addr)`
    (Scheduler.alert_now) serve alerts; without them `on_alert` only logs. `sleep` awaits MSC
    latencies (asyncio.sleep; tests may pass a recorder)."""

    def __init__(
        self,
        hlr: SimulatedHlr,
        mscs: Mscs,
        *,
        name: str = NETWORK_ROUTE,
        sc_address: str = "",
        waiting_for: WaitingFor | None = None,
        release: Release | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._hlr = hlr
        self._mscs = mscs
        self._name = name
        self._sc_address = sc_address
        self._waiting_for = waiting_for
        self._release = release
        self._sleep = sleep
        self._subscribers: dict[int, _Subscriber] = {}
        # The destination_addr spellings of messages waiting for an alert, per subscriber: the
        # store finds waiting messages by destination_addr as the ESME wrote it.
        self._waiting_addresses: dict[int, set[str]] = {}
        self._mwd_set: set[int] = set()  # subscribers whose MWD holds our address
        self.journal: RouteJournal | None = None
        self.deliveries: deque[DeliveryRecord] = deque(maxlen=_RECORDS)
        self.alerts = 0
        self._tasks: set[asyncio.Task[int]] = set()

    @property
    def name(self) -> str:
        return self._name

    def set_alert_handlers(self, waiting_for: WaitingFor, release: Release) -> None:
        """Connect alerts to the engine (store.waiting_for, Scheduler.alert_now)."""
        self._waiting_for = waiting_for
        self._release = release

    # ---- the Route protocol ---------------------------------------------------------------------

    async def attempt(self, record: StoredMessage) -> Attempt:
        try:
            msisdn = self._hlr.subscribers.key(record.destination.addr)
        except InvalidNumber as exc:
            # No HLR can be found for it (SCCP has no translation for this global title).
            return PermanentFailure(int(MapErrorCode.UNKNOWN_SUBSCRIBER), detail=str(exc))
        state = self._subscriber(msisdn)
        state.queued += 1
        try:
            async with state.lock:
                return await self._attempt(record, msisdn, state)
        finally:
            state.queued -= 1
            if state.queued == 0 and state.burst_pending is None:
                self._subscribers.pop(msisdn, None)

    async def _attempt(self, record: StoredMessage, msisdn: int, state: _Subscriber) -> Attempt:
        more = self._more_to_send(state, record.message_id)
        delay = self._hlr.response_time(msisdn)
        if delay > 0:
            await self._sleep(delay)
        routing = self._hlr.send_routing_info_for_sm(msisdn, sc_address=self._sc_address)
        if isinstance(routing, MapError):
            return await self._failed(record, msisdn, routing)
        # The MSC answers MT-ForwardSM itself (its `condition` is the HLR's view of the radio
        # side, routing.mt_forward_error included): the route only relays what it says.
        msc = self._mscs.get(routing.msc_address, routing.serving_mcc_mnc)
        error: MapError | None = None
        parts = _sms_delivers(record)
        for index, sm in enumerate(parts):
            part_more = more or index < len(parts) - 1
            result = msc.mt_forward_sm(
                msisdn, sm, imsi=routing.imsi, more_messages_to_send=part_more
            )
            if result.latency > 0:
                await self._sleep(result.latency)
            self.deliveries.append(
                DeliveryRecord(
                    message_id=record.message_id,
                    msisdn=msisdn,
                    network=routing.serving_mcc_mnc,
                    msc_address=routing.msc_address,
                    is_ported=routing.ported,
                    more_messages_to_send=part_more,
                    error=result.error,
                )
            )
            error = result.error
            if error is not None:
                break
        if error is not None:
            return await self._failed(record, msisdn, error)
        self._forget_addresses(msisdn)
        if msisdn in self._mwd_set or routing.mwd_set:
            # ReportSM-DeliveryStatus(successfulTransfer) clears MWD (TS 23.040 §10.2).
            self._mwd_set.discard(msisdn)
            self._hlr.report_sm_delivery_status(
                msisdn, DeliveryOutcome.SUCCESSFUL_TRANSFER, self._sc_address
            )
        log.debug(
            "delivered message_id=%s msisdn=%s network=%s ported=%s more=%s text=%s",
            record.message_id,
            msisdn,
            routing.serving_mcc_mnc,
            routing.ported,
            more,
            MessageText(record.short_message, record.data_coding, record.esm_class),
        )
        return Delivered()

    async def _failed(self, record: StoredMessage, msisdn: int, error: MapError) -> Attempt:
        outcome = DeliveryOutcome.for_error(error)
        if outcome is not None:
            # ReportSM-DeliveryStatus (47): MNRF / MCEF with our address in the MWD list.
            self._hlr.report_sm_delivery_status(msisdn, outcome, self._sc_address)
            self._mwd_set.add(msisdn)
            self._remember_address(msisdn, record.destination.addr)
            if self.journal is not None:
                # The engine records this attempt once we return: by then the MWD that will
                # bring the alert must survive a crash.
                try:
                    await self.journal.flush()
                except OpensmscError as exc:
                    log.error("message-waiting data not saved msisdn=%s: %s", msisdn, exc)
        log.info(
            "not delivered message_id=%s msisdn=%s error=%s class=%s",
            record.message_id,
            msisdn,
            error,
            error.error_class.value,
        )
        if error.is_permanent:
            return PermanentFailure(int(error.code), detail=str(error))
        # The subscriber's or its network's state, not the route's: no failover, no blacklist.
        return TemporaryFailure(
            int(error.code), error_class=error.error_class, detail=str(error), route_fault=False
        )

    # ---- alerts and bursts ----------------------------------------------------------------------

    def alert(self, msisdn: str) -> None:
        """The HLR's alert listener (`SimulatedHlr.add_alert_listener`): runs `on_alert` as a
        task of the running loop."""
        task = asyncio.get_running_loop().create_task(self.on_alert(int(msisdn)))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        """Wait for the alerts under way (tests; shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def on_alert(self, msisdn: int) -> int:
        """alertServiceCentre for `msisdn`: release every message waiting for it, in order, as
        one burst. Returns how many were released."""
        self.alerts += 1
        self._mwd_set.discard(msisdn)  # the HLR cleared MWD when it alerted
        if self._waiting_for is None or self._release is None:
            log.warning("alert msisdn=%s ignored: not connected to the engine", msisdn)
            return 0
        # The two spellings an ESME writes for an international number (TON 1 digits, or with
        # "+"), and any other seen for this subscriber (kept over a restart too).
        addresses = self._forget_addresses(msisdn) | set(_spellings(msisdn))
        waiting: list[StoredMessage] = []
        for address in addresses:
            waiting.extend(await self._waiting_for(address))
        waiting.sort(key=lambda r: (r.submitted_at, r.message_id))
        ids = tuple(r.message_id for r in waiting if r.upstream_message_id is None)
        if ids:
            state = self._subscriber(msisdn)
            state.burst = ids
            state.burst_pending = set(ids)
        released = 0
        for address in addresses:
            released += await self._release(address)
        log.info("alert msisdn=%s waiting=%d released=%d", msisdn, len(ids), released)
        return released

    def restore_addresses(self, saved: dict[int, set[str]]) -> None:
        """Take back the destination spellings kept over a restart (network/state.py)."""
        for msisdn, addresses in saved.items():
            self._waiting_addresses.setdefault(msisdn, set()).update(addresses)

    def _remember_address(self, msisdn: int, address: str) -> None:
        addresses = self._waiting_addresses.setdefault(msisdn, set())
        if address in addresses:
            return
        addresses.add(address)
        # The usual spellings need no record: an alert always tries them.
        if self.journal is not None and address not in _spellings(msisdn):
            self.journal.address_seen(msisdn, address)

    def _forget_addresses(self, msisdn: int) -> set[str]:
        addresses = self._waiting_addresses.pop(msisdn, None)
        if addresses is None:
            return set()  # the delivery path's usual case: nothing was waiting
        if self.journal is not None and not addresses <= set(_spellings(msisdn)):
            self.journal.addresses_cleared(msisdn)
        return addresses

    def _subscriber(self, msisdn: int) -> _Subscriber:
        state = self._subscribers.get(msisdn)
        if state is None:
            state = self._subscribers[msisdn] = _Subscriber(asyncio.Lock())
        return state

    @staticmethod
    def _more_to_send(state: _Subscriber, message_id: str) -> bool:
        # Another attempt queued behind this one goes to the same subscriber next.
        more = state.queued > 1
        pending = state.burst_pending
        if pending is not None and message_id in pending:
            pending.discard(message_id)
            if pending:
                more = True
            else:
                state.burst_pending = None
                state.burst = ()
        return more


def _spellings(msisdn: int) -> tuple[str, str]:
    return str(msisdn), f"+{msisdn}"


# ---- the SMS-DELIVER of a stored message ---------------------------------------------------------


def _sms_delivers(record: StoredMessage) -> list[SmsDeliver]:
    """The SMS-DELIVERs that carry `record`: one, or the parts of a message_payload that does
    not fit one SMS (TS 23.040 §9.2.3.24.1; SMPP 3.4 §5.3.2.32: the SMSC segments it)."""
    tlvs = record.tlv_values if record.tlvs else None
    data_coding = record.data_coding
    if tlvs is not None and tlvs.get(Tag.DEST_ADDR_SUBUNIT) == _MS_DISPLAY:
        data_coding = _class_0(data_coding)
    has_udh = bool(record.esm_class & EsmClass.UDHI)
    user_data = record.short_message
    if not user_data and tlvs is not None:
        payload = tlvs.get(Tag.MESSAGE_PAYLOAD)
        if isinstance(payload, bytes) and payload:
            return _segmented(record, data_coding, payload, has_udh)
    if tlvs is not None and not has_udh:
        concat = _sar(record)
        if concat is not None:
            user_data = build_udh(concat=concat).encode() + user_data
            has_udh = True
    return [_deliver(record, data_coding, user_data, has_udh)]


def _deliver(
    record: StoredMessage, data_coding: int, user_data: bytes, has_udh: bool
) -> SmsDeliver:
    return SmsDeliver(
        originator=record.source.addr,
        data_coding=data_coding,
        user_data=user_data,
        has_udh=has_udh,
        protocol_id=record.protocol_id,
        status_report=bool(record.registered_delivery & 0x03),
    )


def _segmented(
    record: StoredMessage, data_coding: int, payload: bytes, has_udh: bool
) -> list[SmsDeliver]:
    ports = None
    if has_udh:
        try:
            header, payload = parse_udh(payload)
        except UdhError:
            return [_deliver(record, data_coding, payload, has_udh)]  # the handset refuses it
        ports = header.ports
    alphabet = alphabet_of(data_coding)
    if alphabet not in (Alphabet.GSM7, Alphabet.UCS2):
        alphabet = Alphabet.BINARY  # octets: 134 a part whatever the 8-bit character set
    septets = alphabet is Alphabet.GSM7
    if len(payload) <= (160 if septets else _UD_OCTETS) and ports is None:
        return [_deliver(record, data_coding, payload, False)]
    # The reference only has to tell this message's parts from another's at the handset.
    reference = int(record.message_id.encode().hex()[-2:], 16)
    segmented = split(payload, encoding=Encoding(alphabet), reference=reference, ports=ports)
    return [
        _deliver(record, data_coding, part.short_message, part.has_udh) for part in segmented.parts
    ]


def _sar(record: StoredMessage) -> Concat | None:
    tlvs = record.tlv_values
    reference = tlvs.get(Tag.SAR_MSG_REF_NUM)
    total = tlvs.get(Tag.SAR_TOTAL_SEGMENTS)
    sequence = tlvs.get(Tag.SAR_SEGMENT_SEQNUM)
    if not (isinstance(reference, int) and isinstance(total, int) and isinstance(sequence, int)):
        return None
    try:
        return Concat(reference & 0xFFFF, total, sequence, 16)
    except ValueError:
        return None


def _class_0(data_coding: int) -> int:
    try:
        return data_coding_for(alphabet_of(data_coding), message_class=MessageClass.CLASS_0)
    except ValueError:
        return data_coding
