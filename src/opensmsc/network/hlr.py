"""The simulated HLR: SendRoutingInfoForSM, ReportSM-DeliveryStatus, message-waiting data and
alertServiceCentre (3GPP TS 29.002 §12.1-12.4, TS 23.040 §10; DIGEST §6.1-6.2, §6.4).

What this is for: the network route asks `send_routing_info_for_sm` where a subscriber is and
gets a `RoutingInfo` (IMSI, serving MSC, network, portability, message-waiting status) or the
`MapError` the subscriber's state produces. After a failed MT-ForwardSM it reports with
`report_sm_delivery_status`, which sets the message-waiting data (MNRF for an absent
subscriber, MCEF for a full memory) and the list of service centres waiting. When such a
subscriber becomes reachable (`set_state`) or frees memory (`free_memory`, readyForSM), the
HLR calls every alert listener with the MSISDN: alertServiceCentre (64). The engine's
`Scheduler.alert` is one listener.

Modes: DETERMINISTIC (tests) has no randomness at all and zero latency: the answer depends only
on the tables. REALISTIC samples each subscriber's latency and fails SRI-SM with systemFailure
at its failure probability, from a `random.Random(seed)`, so a seeded run is reproducible too.
The HLR never sleeps: `response_time` and `mt_forward_latency` return seconds for the caller to
await.

Which error comes from where (TS 29.002 §12.1 and §12.9): SRI-SM answers unknownSubscriber,
absentSubscriberSM, teleserviceNotProvisioned, callBarred, facilityNotSupported, systemFailure,
dataMissing, unexpectedDataValue and — a simplification, so that lookups report it —
subscriberBusyForMT-SMS. The serving MSC answers MT-ForwardSM with sm-DeliveryFailure (memory
full, not SM-equipped), unidentifiedSubscriber, illegalSubscriber and illegalEquipment: the HLR
hands those over as `RoutingInfo.mt_forward_error` and `mt_forward_condition(msisdn)` (the MSC's
`condition`). `inject` queues any MAP error for the next SRI-SM or MT-ForwardSM of a number,
which is how tests reach absentSubscriber (27), messageWaitingListFull (33) and every
sm-DeliveryFailure cause.

What it is not: the MSC or the handsets (msc.py, handset.py), or storage of subscribers
(subscribers.py).
"""

from __future__ import annotations

import logging
import random
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from enum import Enum
from typing import Final, Protocol

from opensmsc.network.map_errors import DeliveryFailureCause, MapError, MapErrorCode
from opensmsc.network.subscriber import Subscriber, SubscriberState, make_imsi
from opensmsc.network.subscribers import SubscriberTable
from opensmsc.routing import InvalidNumber, NumberPortability

__all__ = [
    "AlertListener",
    "DeliveryOutcome",
    "HlrMode",
    "MessageWaiting",
    "Phase",
    "RoutingInfo",
    "SimulatedHlr",
    "WaitingJournal",
]

log = logging.getLogger(__name__)


class HlrMode(Enum):
    DETERMINISTIC = "deterministic"  # no randomness, zero latency: tests
    REALISTIC = "realistic"  # sampled latencies, random systemFailure: demos and benchmarks


class Phase(Enum):
    """Where an injected error is answered."""

    SRI = "sri"  # SendRoutingInfoForSM, by the HLR
    MT = "mt"  # MT-ForwardSM, by the serving MSC


class DeliveryOutcome(Enum):
    """SM-DeliveryOutcome of ReportSM-DeliveryStatus (TS 29.002 §12.3)."""

    MEMORY_CAPACITY_EXCEEDED = "memCapacityExceeded"  # sets MCEF
    ABSENT_SUBSCRIBER = "absentSubscriber"  # sets MNRF
    SUCCESSFUL_TRANSFER = "successfulTransfer"  # clears the MWD data

    @classmethod
    def for_error(cls, error: MapError | None) -> DeliveryOutcome | None:
        """The outcome to report after an attempt ending with `error` (None: delivered), or
        None when nothing is reported (the error does not wait for an alert)."""
        if error is None:
            return cls.SUCCESSFUL_TRANSFER
        if error.is_absent:
            return cls.ABSENT_SUBSCRIBER
        if error.is_memory_full:
            return cls.MEMORY_CAPACITY_EXCEEDED
        return None


@dataclass(frozen=True, slots=True)
class MessageWaiting:
    """The message-waiting data the HLR keeps for a subscriber (TS 23.040 §3.2.6)."""

    msisdn: int
    mnrf: bool = False  # mobile station not reachable flag: set after absentSubscriber
    mcef: bool = False  # memory capacity exceeded flag: set after memory full
    service_centres: tuple[str, ...] = ()  # the MWD list: SC addresses to alert, oldest first


@dataclass(frozen=True, slots=True)
class RoutingInfo:
    """A successful SRI-SM answer (TS 29.002 §12.1.3 RoutingInfoForSM-Res).

    `mcc_mnc` is the network of the IMSI (the recipient network for a ported number: what a
    commercial HLR lookup reports as the current operator); `serving_mcc_mnc` the network of the
    serving MSC (differs when roaming). `mwd_set` is informServiceCentre's MWD status: this
    subscriber has message-waiting data. `mt_forward_error` is what the serving MSC will answer
    to MT-ForwardSM (None: it will deliver), e.g. sm-DeliveryFailure memoryCapacityExceeded."""

    msisdn: int
    imsi: str
    msc_address: str
    mcc_mnc: str
    serving_mcc_mnc: str
    home_mcc_mnc: str  # the network holding the number range
    ported: bool
    ported_to: str | None
    mwd_set: bool
    mnrf: bool
    mcef: bool
    mt_forward_error: MapError | None
    subscriber: Subscriber


class WaitingJournal(Protocol):
    """Where the HLR reports changes of message-waiting data (network/state.py keeps them
    across restarts, so that an alert still comes after one)."""

    def waiting_saved(self, waiting: MessageWaiting) -> None: ...

    def waiting_cleared(self, msisdn: int) -> None: ...


AlertListener = Callable[[str], None]
"""Called with the MSISDN as E.164 digits without '+' ("447700900123", the form of an SMPP
destination_addr with TON international) when the HLR sends alertServiceCentre."""

_DEFAULT_MAX_SERVICE_CENTRES: Final = 8

# The MAP answer of each state (DIGEST §6.2). States absent here answer SRI-SM successfully.
_SRI_ERRORS: Final[Mapping[SubscriberState, MapError]] = {
    SubscriberState.UNKNOWN: MapError(MapErrorCode.UNKNOWN_SUBSCRIBER),
    SubscriberState.BUSY: MapError(MapErrorCode.SUBSCRIBER_BUSY_FOR_MT_SMS),
    SubscriberState.BARRED: MapError(MapErrorCode.CALL_BARRED),
    SubscriberState.NOT_PROVISIONED: MapError(MapErrorCode.TELESERVICE_NOT_PROVISIONED),
    SubscriberState.FACILITY_NOT_SUPPORTED: MapError(MapErrorCode.FACILITY_NOT_SUPPORTED),
    SubscriberState.SYSTEM_FAILURE: MapError(MapErrorCode.SYSTEM_FAILURE),
    SubscriberState.DATA_MISSING: MapError(MapErrorCode.DATA_MISSING),
    SubscriberState.UNEXPECTED_DATA_VALUE: MapError(MapErrorCode.UNEXPECTED_DATA_VALUE),
}
_MT_ERRORS: Final[Mapping[SubscriberState, MapError]] = {
    SubscriberState.MEMORY_FULL: MapError(
        MapErrorCode.SM_DELIVERY_FAILURE, cause=DeliveryFailureCause.MEMORY_CAPACITY_EXCEEDED
    ),
    SubscriberState.NOT_SM_EQUIPPED: MapError(
        MapErrorCode.SM_DELIVERY_FAILURE, cause=DeliveryFailureCause.EQUIPMENT_NOT_SM_EQUIPPED
    ),
    SubscriberState.UNIDENTIFIED: MapError(MapErrorCode.UNIDENTIFIED_SUBSCRIBER),
    SubscriberState.ILLEGAL_SUBSCRIBER: MapError(MapErrorCode.ILLEGAL_SUBSCRIBER),
    SubscriberState.ILLEGAL_EQUIPMENT: MapError(MapErrorCode.ILLEGAL_EQUIPMENT),
}
_UNKNOWN: Final = MapError(MapErrorCode.UNKNOWN_SUBSCRIBER)
_SYSTEM_FAILURE: Final = MapError(MapErrorCode.SYSTEM_FAILURE)
_LIST_FULL: Final = MapError(MapErrorCode.MESSAGE_WAITING_LIST_FULL)


class SimulatedHlr:
    """The HLR (and MNP-SRF) of every simulated network. One event loop owns it; listeners are
    called synchronously, in registration order, from the call that made the subscriber
    reachable."""

    def __init__(
        self,
        subscribers: SubscriberTable,
        *,
        portability: NumberPortability | None = None,
        mode: HlrMode = HlrMode.DETERMINISTIC,
        seed: int = 0,
        max_service_centres: int = _DEFAULT_MAX_SERVICE_CENTRES,
    ) -> None:
        self.subscribers = subscribers
        self.portability = portability
        self.mode = mode
        self._rng = random.Random(seed)
        self._max_service_centres = max_service_centres
        self._waiting: dict[int, MessageWaiting] = {}
        self.journal: WaitingJournal | None = None
        self._injected: dict[tuple[int, Phase], deque[MapError]] = {}
        self._listeners: list[AlertListener] = []

    # -- listeners -----------------------------------------------------------------------------

    def add_alert_listener(self, listener: AlertListener) -> None:
        """Call `listener(msisdn)` on every alertServiceCentre."""
        self._listeners.append(listener)

    def remove_alert_listener(self, listener: AlertListener) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    # -- subscriber view -----------------------------------------------------------------------

    def subscriber(self, msisdn: str | int) -> Subscriber:
        """The subscriber as the HLR answers for it: the table (or its prefix default), with
        portability applied. Raises InvalidNumber."""
        found = self.subscribers.resolve(msisdn)
        if found.ported_to is None and self.portability is not None:
            ported = self.portability.lookup(found.msisdn)
            if ported.ported:
                assert ported.recipient_network is not None
                imsi = found.imsi
                if not found.listed:  # a made-up IMSI follows the recipient network
                    imsi = make_imsi(ported.recipient_network, found.msisdn)
                found = replace(found, ported_to=ported.recipient_network, imsi=imsi)
        return found

    # -- SendRoutingInfoForSM ------------------------------------------------------------------

    def send_routing_info_for_sm(
        self, msisdn: str | int, *, now: float = 0.0, sc_address: str = "", peek: bool = False
    ) -> RoutingInfo | MapError:
        """SRI-SM (45) for `msisdn`. A number that is not E.164 answers unknownSubscriber: no
        HLR holds it. `peek` (the lookup service) leaves injected errors queued. `now`
        (monotonic seconds) and `sc_address` are the operation's inputs for a real adapter;
        the simulation's answer does not depend on them."""
        del now, sc_address
        try:
            found = self.subscriber(msisdn)
        except InvalidNumber:
            return _UNKNOWN
        return self.answer_sri(found, peek=peek)

    def answer_sri(self, found: Subscriber, *, peek: bool = False) -> RoutingInfo | MapError:
        """The SRI-SM answer for a subscriber already resolved by `subscriber()` (the lookup
        service resolves once and uses both)."""
        key = found.msisdn
        injected = self._take_injected(key, Phase.SRI, peek=peek)
        if injected is not None:
            return injected
        state = found.state
        if state is SubscriberState.ABSENT:
            return MapError(MapErrorCode.ABSENT_SUBSCRIBER_SM, diagnostic=found.absent_diagnostic)
        error = _SRI_ERRORS.get(state)
        if error is not None:
            return error
        if (
            self.mode is HlrMode.REALISTIC
            and found.failure_probability > 0.0
            and self._rng.random() < found.failure_probability
        ):
            return _SYSTEM_FAILURE
        waiting = self._waiting.get(key)
        return RoutingInfo(
            msisdn=key,
            imsi=found.imsi,
            msc_address=found.msc_address,
            mcc_mnc=found.subscription_network,
            serving_mcc_mnc=found.visited_network,
            home_mcc_mnc=found.home_network,
            ported=found.ported_to is not None,
            ported_to=found.ported_to,
            mwd_set=waiting is not None,
            mnrf=waiting is not None and waiting.mnrf,
            mcef=waiting is not None and waiting.mcef,
            mt_forward_error=_MT_ERRORS.get(state),
            subscriber=found,
        )

    def response_time(self, msisdn: str | int) -> float:
        """How long an SRI-SM for `msisdn` takes, in seconds, to await: 0 in deterministic mode,
        else a sample of the subscriber's latency."""
        return self._sample_latency(msisdn)

    # -- what the serving MSC asks -------------------------------------------------------------

    def mt_forward_condition(self, msisdn: int) -> MapError | None:
        """What the subscriber's radio side answers MT-ForwardSM right now (None: deliverable);
        an injected MT error is consumed here. Meant as `SimulatedMsc(condition=...)`."""
        try:
            found = self.subscriber(msisdn)
        except InvalidNumber:
            return _UNKNOWN
        injected = self._take_injected(found.msisdn, Phase.MT)
        if injected is not None:
            return injected
        if found.state is SubscriberState.ABSENT:
            # Detached between SRI-SM and MT-ForwardSM: the VLR answers absentSubscriberSM.
            return MapError(MapErrorCode.ABSENT_SUBSCRIBER_SM, diagnostic=found.absent_diagnostic)
        if found.state is SubscriberState.BUSY:
            return _SRI_ERRORS[SubscriberState.BUSY]
        return _MT_ERRORS.get(found.state)

    def mt_forward_latency(self, msisdn: int) -> float:
        """How long an MT-ForwardSM to `msisdn` takes (seconds; 0 in deterministic mode).
        Meant as `SimulatedMsc(latency=...)`."""
        return self._sample_latency(msisdn)

    def _sample_latency(self, msisdn: str | int) -> float:
        if self.mode is HlrMode.DETERMINISTIC:
            return 0.0
        try:
            found = self.subscribers.resolve(msisdn)
        except InvalidNumber:
            return 0.0
        return found.latency.sample(self._rng)

    # -- injection -----------------------------------------------------------------------------

    def inject(
        self, msisdn: str | int, error: MapError, *, phase: Phase = Phase.SRI, count: int = 1
    ) -> None:
        """Answer the next `count` SRI-SM (or MT-ForwardSM) for `msisdn` with `error`, whatever
        its state; queued after errors injected before. Raises InvalidNumber."""
        if count < 1:
            raise ValueError("count must be at least 1")
        key = self.subscribers.key(msisdn)
        self._injected.setdefault((key, phase), deque()).extend([error] * count)

    def clear_injected(self, msisdn: str | int | None = None) -> None:
        """Forget injected errors, for one number or all."""
        if msisdn is None:
            self._injected.clear()
            return
        key = self.subscribers.key(msisdn)
        for phase in Phase:
            self._injected.pop((key, phase), None)

    def _take_injected(self, key: int, phase: Phase, *, peek: bool = False) -> MapError | None:
        if not self._injected:
            return None
        queue = self._injected.get((key, phase))
        if not queue:
            return None
        if peek:
            return queue[0]
        error = queue.popleft()
        if not queue:
            del self._injected[(key, phase)]
        return error

    # -- ReportSM-DeliveryStatus and message-waiting data --------------------------------------

    def report_sm_delivery_status(
        self, msisdn: str | int, outcome: DeliveryOutcome, sc_address: str
    ) -> MessageWaiting | MapError | None:
        """ReportSM-DeliveryStatus (47). absentSubscriber sets MNRF and memCapacityExceeded
        MCEF, and add `sc_address` to the MWD list; successfulTransfer clears the data (TS
        23.040 §10.2). Returns the data now held (None once cleared), unknownSubscriber for a
        number no HLR holds, or messageWaitingListFull when the list has no room."""
        try:
            found = self.subscriber(msisdn)
        except InvalidNumber:
            return _UNKNOWN
        key = found.msisdn
        if found.state is SubscriberState.UNKNOWN:
            return _UNKNOWN
        current = self._waiting.get(key)
        if outcome is DeliveryOutcome.SUCCESSFUL_TRANSFER:
            if self._waiting.pop(key, None) is not None and self.journal is not None:
                self.journal.waiting_cleared(key)
            return None
        current = current or MessageWaiting(key)
        centres = current.service_centres
        if sc_address and sc_address not in centres:
            if len(centres) >= self._max_service_centres:
                return _LIST_FULL
            centres = (*centres, sc_address)
        if outcome is DeliveryOutcome.ABSENT_SUBSCRIBER:
            updated = replace(current, mnrf=True, service_centres=centres)
        else:
            updated = replace(current, mcef=True, service_centres=centres)
        if updated != current:
            self._waiting[key] = updated
            if self.journal is not None:
                self.journal.waiting_saved(updated)
        return updated

    def message_waiting(self, msisdn: str | int) -> MessageWaiting | None:
        """The message-waiting data held for `msisdn`, or None."""
        return self._waiting.get(self.subscribers.key(msisdn))

    def restore_waiting(self, saved: Iterable[MessageWaiting]) -> int:
        """Take back message-waiting data kept over a restart (network/state.py); no alert is
        sent for it until the subscriber becomes reachable. Returns how many."""
        count = 0
        for waiting in saved:
            self._waiting[waiting.msisdn] = waiting
            count += 1
        return count

    # -- state changes and alertServiceCentre --------------------------------------------------

    def set_state(self, msisdn: str | int, state: SubscriberState) -> Subscriber:
        """Change a subscriber's state (an unlisted number is added from its prefix default).
        When message-waiting data is held and the subscriber becomes reachable — MNRF and any
        reachable state, or MCEF and a reachable state other than memory full — the HLR sends
        alertServiceCentre and clears the data."""
        updated = self.subscribers.set_state(msisdn, state)
        self._alert_if_reachable(updated.msisdn, state)
        return updated

    def free_memory(self, msisdn: str | int) -> Subscriber:
        """readyForSM (66) with memory available: a memory-full subscriber becomes attached, and
        an MCEF (or MNRF) holder is alerted. A subscriber in another state keeps it; the alert
        still goes out when that state is reachable (the handset freed memory without the
        table saying it was full)."""
        key = self.subscribers.key(msisdn)
        current = self.subscribers.resolve(key)
        if current.state is SubscriberState.MEMORY_FULL:
            return self.set_state(key, SubscriberState.ATTACHED)
        self._alert_if_reachable(key, current.state)
        return current

    def _alert_if_reachable(self, key: int, state: SubscriberState) -> None:
        waiting = self._waiting.get(key)
        if waiting is None or not state.is_reachable:
            return
        if not waiting.mnrf and state is SubscriberState.MEMORY_FULL:
            return  # MCEF alone: the memory is still full
        # TS 23.040 §10.2: after alerting, the HLR deletes the MWD list.
        del self._waiting[key]
        if self.journal is not None:
            self.journal.waiting_cleared(key)
        self._alert(key)

    def _alert(self, key: int) -> None:
        address = str(key)
        log.info("alertServiceCentre msisdn=%s", address)
        for listener in list(self._listeners):
            listener(address)
