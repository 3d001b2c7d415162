"""Simulated handsets: what an SMS-DELIVER becomes on the phone, and the SMS-SUBMITs a phone
sends (issue 6, "The simulated MSC and handsets").

What this is for: the MSC (network/msc.py) hands every MT-ForwardSM's SMS-DELIVER to
`Handset.receive`, whose answer (`Reception`) it turns into the MAP result. A handset has a
bounded inbox (a SIM's message store: `capacity` messages); concatenated parts are reassembled
(sms.segment.Reassembler) before anything reaches the inbox; a class 0 message is shown, not
stored (TS 23.038 §4: "immediate display"); a port-addressed message (UDH IEI 0x04 / 0x05) goes
to the application registered on its destination port (the IMPS binding registers 3590) instead
of the inbox. When the inbox is full an inbox-bound part is refused (the MSC answers
sm-DeliveryFailure memoryCapacityExceeded) and the handset remembers it refused one:
`free_memory()` then tells the network (`on_memory_available`, which the simulated network
turns into readyForSM → alertServiceCentre at the HLR). A handset with `delete_old` set (the
"delete old messages" setting of most phones) never fills up: the oldest message makes room.
A running node's handsets have it on, so bulk traffic to one number keeps flowing; tests and
demos of memory-full turn it off per handset.

Handsets also originate: `compose` builds the SMS-SUBMITs of a text (alphabet chosen as
sms.segment does, long texts concatenated with an 8-bit reference, ports in every part's UDH)
and `send` hands them one by one to the MO path (the MSC's MO-ForwardSM towards the SMSC).

What it is not: the MAP side. The MSC decides what a refusal means on the network; HLR state
(attached, absent, ...) lives in network/subscriber.py and network/hlr.py.
"""

from __future__ import annotations

import enum
import logging
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Final

from opensmsc.logtext import peer_text
from opensmsc.network.map_errors import MapError
from opensmsc.sms import (
    Alphabet,
    Encoding,
    MessageClass,
    PortAddress,
    Reassembler,
    SmsDeliver,
    SmsSubmit,
    UdhError,
    UserData,
    choose_alphabet,
    decode_payload,
    read_user_data,
    split,
)

__all__ = [
    "DEFAULT_CAPACITY",
    "DEFAULT_MAX_HANDSETS",
    "Handset",
    "Handsets",
    "InboxMessage",
    "MoSender",
    "PortHandler",
    "PortMessage",
    "Reception",
]

log = logging.getLogger(__name__)

DEFAULT_CAPACITY: Final = 30  # messages: a typical SIM's SMS store (EF_SMS) holds 20 to 50
_MAX_FLASH: Final = 50  # class 0 messages kept for display; older ones scroll away
DEFAULT_MAX_HANDSETS: Final = 100_000  # handsets kept in memory (least recently used go)
_RECENT: Final = 64  # completed concatenated messages remembered to recognise retransmitted parts


class Reception(enum.Enum):
    """What a handset did with one SMS-DELIVER."""

    STORED = "stored"  # the message (its last part) is in the inbox
    DISPLAYED = "displayed"  # class 0: shown, not stored
    TO_APPLICATION = "to_application"  # handed to the application on its destination port
    PART_HELD = "part_held"  # a part of a concatenated message, waiting for the others
    DUPLICATE = "duplicate"  # a part already received (a retransmission): acknowledged again
    MEMORY_FULL = "memory_full"  # refused: the inbox is full
    PROTOCOL_ERROR = "protocol_error"  # refused: the user data header does not parse

    @property
    def is_accepted(self) -> bool:
        return self not in (Reception.MEMORY_FULL, Reception.PROTOCOL_ERROR)


@dataclass(frozen=True, slots=True, kw_only=True)
class InboxMessage:
    """A whole message as the phone shows it (parts already joined).

    `text` is None when the alphabet has no decoder here; `payload` is the user data without
    its headers. `port` is set for a port-addressed message no application took. `network` is
    the network (MCC-MNC) whose MSC delivered it."""

    originator: str
    text: str | None
    payload: bytes = field(repr=False)
    data_coding: int
    message_class: MessageClass | None
    is_flash: bool
    parts: int
    port: PortAddress | None
    network: str
    received_at: float


@dataclass(frozen=True, slots=True, kw_only=True)
class PortMessage:
    """A port-addressed message handed to an application (whole, parts joined)."""

    msisdn: int  # the handset it arrived at (E.164 digits)
    originator: str
    destination_port: int
    originator_port: int
    data_coding: int
    payload: bytes = field(repr=False)


PortHandler = Callable[[PortMessage], None]
"""An application listening on a port. Called in the MSC's delivery path: it must not block
(an application that answers schedules its own task)."""

MoSender = Callable[[int, SmsSubmit], Awaitable[MapError | None]]
"""The MO path: `send(msisdn, sms_submit)` → the network's answer (None for success, else a
MAP error); the simulated network wires it to its MSC's MO-ForwardSM."""


@dataclass(slots=True)
class _Partial:
    """A concatenated message under way: the header of its first part to arrive (ports and
    shift tables are the same in every part) and the sequence numbers received."""

    user_data: UserData
    seen: set[int] = field(default_factory=set)


class Handset:
    """One phone. See the module doc for what it does with what it receives.

    `clock` gives monotonic seconds (reassembly timeouts, reception times); `applications`
    is the port registry shared by every handset of the network (`Handsets.register_port`),
    which a handset's own `register_port` overrides for that handset."""

    def __init__(
        self,
        msisdn: int,
        *,
        capacity: int = DEFAULT_CAPACITY,
        delete_old: bool = False,
        clock: Callable[[], float] = time.monotonic,
        reassembly_timeout: float = 180.0,
        applications: dict[int, PortHandler] | None = None,
        on_memory_available: Callable[[int], None] | None = None,
        mo_sender: MoSender | None = None,
    ) -> None:
        if capacity < 0:
            raise ValueError(f"capacity {capacity} is negative")
        self.msisdn = msisdn
        self.capacity = capacity
        self.delete_old = delete_old
        self._clock = clock
        self._reassembler = Reassembler(timeout=reassembly_timeout, max_pending=256)
        self._partials: dict[tuple[str, int, int], _Partial] = {}
        self._recent: dict[tuple[str, int, int], set[int]] = {}
        self._inbox: list[InboxMessage] = []
        self._flash: deque[InboxMessage] = deque(maxlen=_MAX_FLASH)
        self._shared_apps = applications if applications is not None else {}
        self._own_apps: dict[int, PortHandler] = {}
        self._on_memory_available = on_memory_available
        self._mo_sender = mo_sender
        # TS 23.040 §10.1 (MCEF): set when we refused for lack of memory, so that freeing
        # memory is reported to the network once (readyForSM) and not on every deletion.
        self.memory_exceeded_reported = False
        self._message_reference = 0  # TP-MR, one per SMS-SUBMIT
        self._concat_reference = 0  # the 8-bit concat reference, one per long message
        self.dropped_incomplete = 0  # concatenated messages whose parts never all came

    # ---- the inbox ------------------------------------------------------------------------------

    @property
    def inbox(self) -> tuple[InboxMessage, ...]:
        """Stored messages, oldest first."""
        return tuple(self._inbox)

    @property
    def flash(self) -> tuple[InboxMessage, ...]:
        """Class 0 messages shown on the screen, oldest first (not stored: memory is not used)."""
        return tuple(self._flash)

    @property
    def is_memory_full(self) -> bool:
        """No room for another message (never, with `delete_old`, unless capacity is 0)."""
        if self.delete_old and self.capacity > 0:
            return False
        return len(self._inbox) >= self.capacity

    def free_memory(self, count: int | None = None) -> int:
        """Delete the `count` oldest messages (all when None). If a message was refused for
        lack of memory since the last report, tell the network memory is available again
        (readyForSM → alertServiceCentre). Returns how many were deleted."""
        removed = len(self._inbox) if count is None else max(0, min(count, len(self._inbox)))
        del self._inbox[:removed]
        if self.memory_exceeded_reported and not self.is_memory_full:
            self.memory_exceeded_reported = False
            log.info("memory available msisdn=%s", self.msisdn)
            if self._on_memory_available is not None:
                self._on_memory_available(self.msisdn)
        return removed

    # ---- applications ---------------------------------------------------------------------------

    def register_port(self, port: int, handler: PortHandler) -> None:
        """Hand messages addressed to `port` on this handset to `handler`."""
        self._own_apps[port] = handler

    def unregister_port(self, port: int) -> None:
        self._own_apps.pop(port, None)

    def _application(self, port: int) -> PortHandler | None:
        return self._own_apps.get(port) or self._shared_apps.get(port)

    # ---- receiving ------------------------------------------------------------------------------

    def receive(self, sm: SmsDeliver, *, network: str = "") -> Reception:
        """Take one SMS-DELIVER from the MSC; see Reception."""
        now = self._clock()
        self._expire(now)
        try:
            user_data = read_user_data(sm.data_coding, sm.user_data, sm.has_udh)
        except UdhError as exc:
            log.info(
                "undecodable UDH msisdn=%s originator=%s: %s",
                self.msisdn,
                peer_text(sm.originator),
                exc,
            )
            return Reception.PROTOCOL_ERROR
        ports = user_data.ports
        application = None if ports is None else self._application(ports.destination)
        inbox_bound = application is None and not user_data.is_flash
        concat = user_data.concat
        if concat is None or concat.total == 1:
            if inbox_bound and self.is_memory_full:
                return self._memory_full(sm)
            return self._complete(
                sm,
                user_data=user_data,
                payload=user_data.payload,
                parts=1,
                network=network,
                now=now,
            )
        key = (sm.originator, concat.reference, concat.total)
        partial = self._partials.get(key)
        if partial is not None and concat.sequence in partial.seen:
            return Reception.DUPLICATE  # a retransmitted part: acknowledged again, kept once
        recent = self._recent.get(key)
        if recent is not None:
            if concat.sequence in recent:
                return Reception.DUPLICATE  # a part of a message already completed
            del self._recent[key]  # the reference came round again: a new message
        if partial is None:
            if inbox_bound and self.is_memory_full:
                return self._memory_full(sm)
            partial = self._partials[key] = _Partial(user_data)
        # Once the first part is taken, the others are too: its arrival reserved the room (a
        # phone does not refuse half of a message it started storing).
        partial.seen.add(concat.sequence)
        whole = self._reassembler.add(sm.originator, concat, user_data.payload, now=now)
        if whole is None:
            return Reception.PART_HELD
        del self._partials[key]
        self._recent[key] = partial.seen
        if len(self._recent) > _RECENT:
            del self._recent[next(iter(self._recent))]
        return self._complete(
            sm,
            user_data=partial.user_data,
            payload=whole,
            parts=concat.total,
            network=network,
            now=now,
        )

    def _complete(
        self,
        sm: SmsDeliver,
        *,
        user_data: UserData,
        payload: bytes,
        parts: int,
        network: str,
        now: float,
    ) -> Reception:
        ports = user_data.ports
        if ports is not None:
            application = self._application(ports.destination)
            if application is not None:
                application(
                    PortMessage(
                        msisdn=self.msisdn,
                        originator=sm.originator,
                        destination_port=ports.destination,
                        originator_port=ports.originator,
                        data_coding=sm.data_coding,
                        payload=payload,
                    )
                )
                return Reception.TO_APPLICATION
        message = InboxMessage(
            originator=sm.originator,
            text=decode_payload(sm.data_coding, payload, user_data.header),
            payload=payload,
            data_coding=sm.data_coding,
            message_class=user_data.message_class,
            is_flash=user_data.is_flash,
            parts=parts,
            port=ports,
            network=network,
            received_at=now,
        )
        if message.is_flash:
            self._flash.append(message)
            return Reception.DISPLAYED
        self._inbox.append(message)
        if len(self._inbox) > self.capacity:
            # Only with delete_old (otherwise the message was refused): the oldest makes room.
            del self._inbox[: len(self._inbox) - self.capacity]
        return Reception.STORED

    def _memory_full(self, sm: SmsDeliver) -> Reception:
        self.memory_exceeded_reported = True
        log.info("memory full msisdn=%s originator=%s", self.msisdn, peer_text(sm.originator))
        return Reception.MEMORY_FULL

    def _expire(self, now: float) -> None:
        for incomplete in self._reassembler.expire(now=now):
            key = incomplete.key
            assert isinstance(key, str)
            self._partials.pop((key, incomplete.reference, incomplete.total), None)
            self.dropped_incomplete += 1
            log.info(
                "incomplete message dropped msisdn=%s originator=%s missing=%s",
                self.msisdn,
                peer_text(key),
                incomplete.missing,
            )

    # ---- sending --------------------------------------------------------------------------------

    def compose(
        self,
        destination: str,
        content: str | bytes,
        *,
        port: int | None = None,
        originator_port: int = 0,
        alphabet: Alphabet | None = None,
        message_class: MessageClass | None = None,
        status_report: bool = False,
    ) -> tuple[SmsSubmit, ...]:
        """The SMS-SUBMITs that carry `content` to `destination`: one, or a concatenated
        series when it does not fit one SMS. `bytes` content is sent as 8-bit data. `port`
        adds 16-bit application port addressing (IEI 0x05) to every part. Raises
        EncodingError / MessageTooLong as sms.segment.split does."""
        if isinstance(content, bytes):
            encoding = Encoding(
                alphabet or Alphabet.BINARY,
                message_class=message_class,
            )
        else:
            chosen = choose_alphabet(content, force=alphabet)
            encoding = Encoding(
                chosen.alphabet,
                chosen.single_shift,
                chosen.locking_shift,
                message_class=message_class,
            )
        ports = None if port is None else PortAddress(port, originator_port, 16)
        segmented = split(content, encoding=encoding, reference=self._concat_reference, ports=ports)
        if len(segmented.parts) > 1:
            self._concat_reference = (self._concat_reference + 1) & 0xFF
        submits = []
        for part in segmented.parts:
            submits.append(
                SmsSubmit(
                    destination=destination,
                    reference=self._message_reference,
                    data_coding=segmented.data_coding,
                    user_data=part.short_message,
                    has_udh=part.has_udh,
                    status_report=status_report,
                )
            )
            self._message_reference = (self._message_reference + 1) & 0xFF
        return tuple(submits)

    async def send(self, submits: tuple[SmsSubmit, ...] | list[SmsSubmit]) -> list[MapError | None]:
        """Send SMS-SUBMITs in order through the MO path; one answer per part (None: the SMSC
        took it, else the MAP error). Stops at the first refused part: a phone does not send
        the rest of a message whose start was refused. Raises RuntimeError when the handset is
        not on a network (no MO path)."""
        if self._mo_sender is None:
            raise RuntimeError(f"handset {self.msisdn} has no MO path")
        answers: list[MapError | None] = []
        for submit in submits:
            answer = await self._mo_sender(self.msisdn, submit)
            answers.append(answer)
            if answer is not None:
                break
        return answers


class Handsets:
    """Every handset of the simulated network, made on first use with `capacity` and
    `delete_old`, and the port applications they share. `on_memory_available(msisdn)` is called
    when a handset that refused a message for lack of memory frees some (readyForSM).

    At most `max_handsets` are kept, the least recently used forgotten first (with its inbox):
    traffic to millions of numbers must not grow the simulator without bound."""

    def __init__(
        self,
        *,
        capacity: int = DEFAULT_CAPACITY,
        delete_old: bool = False,
        max_handsets: int = DEFAULT_MAX_HANDSETS,
        clock: Callable[[], float] = time.monotonic,
        reassembly_timeout: float = 180.0,
        on_memory_available: Callable[[int], None] | None = None,
        mo_sender: MoSender | None = None,
    ) -> None:
        self.capacity = capacity
        self.delete_old = delete_old
        self.max_handsets = max_handsets
        self._clock = clock
        self._reassembly_timeout = reassembly_timeout
        self._on_memory_available = on_memory_available
        self._mo_sender = mo_sender
        self._applications: dict[int, PortHandler] = {}
        self._handsets: OrderedDict[int, Handset] = OrderedDict()
        # Memory settings given to single handsets (capacity, delete_old): they outlive the
        # handset's eviction from `_handsets`, and a restart (network/state.py).
        self._settings: dict[int, tuple[int, bool]] = {}

    def set_on_memory_available(self, callback: Callable[[int], None]) -> None:
        self._on_memory_available = callback
        for handset in self._handsets.values():
            handset._on_memory_available = callback

    def set_mo_sender(self, sender: MoSender) -> None:
        self._mo_sender = sender
        for handset in self._handsets.values():
            handset._mo_sender = sender

    def register_port(self, port: int, handler: PortHandler) -> None:
        """Run `handler` as the application on `port` of every handset (e.g. IMPS on 3590)."""
        if not 0 <= port <= 0xFFFF:
            raise ValueError(f"port {port} is not 0..65535")
        self._applications[port] = handler

    def unregister_port(self, port: int) -> None:
        self._applications.pop(port, None)

    def get(self, msisdn: int) -> Handset:
        """The handset of `msisdn` (E.164 digits, network.numbers), made on first use."""
        handsets = self._handsets
        handset = handsets.get(msisdn)
        if handset is not None:
            handsets.move_to_end(msisdn)
            return handset
        if len(handsets) >= self.max_handsets:
            handsets.popitem(last=False)
        capacity, delete_old = self._settings.get(msisdn, (self.capacity, self.delete_old))
        handset = handsets[msisdn] = Handset(
            msisdn,
            capacity=capacity,
            delete_old=delete_old,
            clock=self._clock,
            reassembly_timeout=self._reassembly_timeout,
            applications=self._applications,
            on_memory_available=self._on_memory_available,
            mo_sender=self._mo_sender,
        )
        return handset

    def configure(
        self, msisdn: int, *, capacity: int | None = None, delete_old: bool | None = None
    ) -> Handset:
        """Change one handset's memory settings (None: unchanged); they are kept for that
        number from now on. Raises ValueError for a negative capacity."""
        if capacity is not None and capacity < 0:
            raise ValueError(f"capacity {capacity} is negative")
        handset = self.get(msisdn)
        if capacity is not None:
            handset.capacity = capacity
        if delete_old is not None:
            handset.delete_old = delete_old
        self._settings[msisdn] = (handset.capacity, handset.delete_old)
        return handset

    def restore_settings(self, saved: dict[int, tuple[int, bool]]) -> None:
        """Take back per-handset settings (capacity, delete_old) kept over a restart."""
        self._settings.update(saved)
        for msisdn, (capacity, delete_old) in saved.items():
            handset = self._handsets.get(msisdn)
            if handset is not None:
                handset.capacity, handset.delete_old = capacity, delete_old

    def find(self, msisdn: int) -> Handset | None:
        """The handset of `msisdn` if one was made."""
        return self._handsets.get(msisdn)

    def __iter__(self) -> Iterator[Handset]:
        return iter(list(self._handsets.values()))

    def __len__(self) -> int:
        return len(self._handsets)
