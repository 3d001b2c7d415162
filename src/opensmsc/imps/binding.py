"""The IMPS SMS binding: which stored messages are for the IMPS service, and `ImpsRoute`, the
`Route` that hands them to it and stores its answers as ordinary MT messages.

What goes to IMPS (issue 13, "The binding"):

- an MO (from the simulated network's handsets or an upstream connector) whose user data
  header addresses application port 3590 (PTS, the data channel) or 3716 (CIR), or whose
  destination is the IMPS short code with no port at all (a plain SMS: a handset's reply to a
  message bridged to it). `claims_mo` names the pseudo-account `IMPS_SYSTEM_ID` for them
  (MoIngress.claim): they are stored like any MO, for that account, and the Router sends that
  account's MO to the `ImpsRoute` (Router.add_mo_route). Store and forward does the rest:
  nothing is lost on kill -9, an attempt that fails is tried again;
- an ESME's submit_sm with the destination_port TLV (or a port UDH) 3590 or 3716: stored as
  the ESME's MT, and `claims_mt` makes the Router send it to the same route (Router.add_claim).
  The messages IMPS itself sends (account `IMPS_SYSTEM_ID`, port 3590 too) are never claimed:
  they go to the handsets, not back into the service.

One attempt: the payload without its UDH goes to the service on its one thread (worker.py),
`on_data`/`on_cir`/`on_plain` with the record's message id as `mo_id` (the service ignores an
id it has seen: a redelivery after a crash is processed once). Then the service's outbox is
drained into the engine: a PTS primitive split with `pts.split` (one SMS per PTS segment, 8-bit,
port UDH 3590 both ways), a CIR wake-up GSM 7-bit packed to port 3716, a plain text from the
short code; stored through the Acceptor (durable), and only then marked sent. The attempt is
Delivered once the service committed; a store that is down leaves the rows in the outbox for
the next drain (every second, with the service's `tick`, and at start: crash recovery). A crash
between the store commit and `sent` sends those rows again: at least once, like every delivery.

SMS-level concatenation: a PTS client sends one SMS per PTS segment (AIM uses
`sendDataMessage`, which has no concatenation), so a concatenated MO is unusual. Its parts are
joined here, in memory, before the service sees the whole; parts held when the node stops are
lost (their records are already Delivered). What the SMSC splits on the way out is one SMS
per piece: pieces are cut to `SEGMENT_OCTETS`, what fits beside the port UDH.

Every SMS IMPS sends asks a final delivery receipt, as any account's may: the engine stores
it for the pseudo-account and receipts.py (`ImpsReceipts`, its receiver in the session
registry) takes it, counts it and logs an SMS that did not reach its handset.

What it is not: the service (service.py), PTS (pts.py) or the wiring (app/imps.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

from opensmsc.engine import Acceptor, Origin, ReceiptRequest, Submission
from opensmsc.errors import MessageRejected, StoreUnavailable
from opensmsc.logtext import peer_text
from opensmsc.routing import (
    Attempt,
    Delivered,
    ErrorClass,
    PermanentFailure,
    TemporaryFailure,
)
from opensmsc.smpp import CommandStatus, DataSm, DeliverSm, EsmClass, Npi, Tag, Ton
from opensmsc.sms import (
    Concat,
    Reassembler,
    UdhError,
    UserDataHeader,
    decode_payload,
    parse_udh,
)
from opensmsc.store import Address, Direction, StoredMessage

from . import cir, pts
from .service import ImpsService
from .state import Channel, ImpsStateError, Outgoing
from .worker import ServiceClosed, ServiceThread

__all__ = [
    "CIR_PORT",
    "DATA_PORT",
    "IMPS_SYSTEM_ID",
    "SEGMENT_OCTETS",
    "ImpsRoute",
    "Inbound",
    "claims_mo",
    "claims_mt",
    "inbound",
]

log = logging.getLogger(__name__)

IMPS_SYSTEM_ID: Final = "imps"  # the pseudo-account of IMPS's MO and MT
DATA_PORT: Final = 3590  # IANA wv-csp-sms: PTS primitives
CIR_PORT: Final = 3716  # IANA wv-csp-sms-cir: HELO / WVCI
IMPS_PORTS: Final = frozenset({DATA_PORT, CIR_PORT})
# One PTS segment per SMS (digest §5.5 "Egress"): what fits beside the port UDH, pts's own
# figure, so that what the service checks to fit in 26 segments is what is sent.
SEGMENT_OCTETS: Final = pts.SEGMENT_OCTETS
_OUTBOX_BATCH: Final = 256
_TICK_INTERVAL: Final = 1.0  # seconds: the service's expiry and CIR wake-ups, then a drain
_CONCAT_TIMEOUT: Final = 180.0  # seconds an SMS-level concatenated MO waits for its parts
_RECEIPT: Final = ReceiptRequest.FINAL  # taken by receipts.py ImpsReceipts
# An attempt while the node stops: the quick schedule (30 s), so that after a clean restart the
# MO is not a long retry away.
_STOPPING: Final = TemporaryFailure(0, ErrorClass.SHORT, detail="IMPS is stopping")


@dataclass(frozen=True, slots=True)
class Inbound:
    """A stored message as the service takes it: the handset (`msisdn`, digits as the record
    holds them), the port it addressed (None: a plain SMS), the payload without its UDH."""

    msisdn: str
    port: int | None
    payload: bytes
    data_coding: int
    header: UserDataHeader
    concat: Concat | None


def _port(esm_class: int, content: bytes, port_tlv: object) -> int | None:
    """The destination application port a message addresses: its UDH's, else its
    destination_port TLV's (SMPP 3.4 §5.3.2.5), else None."""
    if esm_class & EsmClass.UDHI and content:
        with contextlib.suppress(UdhError):
            ports = parse_udh(content)[0].ports
            if ports is not None:
                return ports.destination
    return port_tlv if isinstance(port_tlv, int) else None


def claims_mo(short_code: str) -> Callable[[DeliverSm | DataSm], str | None]:
    """MoIngress.claim for IMPS: `IMPS_SYSTEM_ID` for an MO to port 3590 or 3716, or to
    `short_code` with no port; None for any other."""

    def claim(pdu: DeliverSm | DataSm) -> str | None:
        tlvs = pdu.tlvs
        content = b""
        if isinstance(pdu, DeliverSm):
            content = pdu.short_message
        if not content and tlvs:
            carried = tlvs.get(Tag.MESSAGE_PAYLOAD)
            content = carried if isinstance(carried, bytes) else b""
        port = _port(pdu.esm_class, content, tlvs.get(Tag.DESTINATION_PORT) if tlvs else None)
        if port is not None:
            return IMPS_SYSTEM_ID if port in IMPS_PORTS else None
        return IMPS_SYSTEM_ID if pdu.destination_addr.lstrip("+") == short_code else None

    return claim


def claims_mt(record: StoredMessage) -> bool:
    """Router claim for IMPS: an ESME's MT to port 3590 or 3716. IMPS's own never."""
    if record.system_id == IMPS_SYSTEM_ID or record.direction is not Direction.MT:
        return False
    if not record.esm_class & EsmClass.UDHI and not record.tlvs:
        return False  # the common case, decided without decoding anything
    port_tlv = record.tlv_values.get(Tag.DESTINATION_PORT) if record.tlvs else None
    return _port(record.esm_class, record.payload, port_tlv) in IMPS_PORTS


def inbound(record: StoredMessage) -> Inbound:
    """What the service is given for a claimed record. Raises UdhError for a UDH that does
    not parse."""
    content = record.payload
    header = UserDataHeader()
    if record.esm_class & EsmClass.UDHI:
        header, content = parse_udh(content)
    ports = header.ports
    port: int | None = ports.destination if ports is not None else None
    if port is None and record.tlvs:
        carried = record.tlv_values.get(Tag.DESTINATION_PORT)
        port = carried if isinstance(carried, int) else None
    return Inbound(
        msisdn=record.source.addr.lstrip("+"),
        port=port,
        payload=content,
        data_coding=record.data_coding,
        header=header,
        concat=header.concat,
    )


class ImpsRoute:
    """The route of everything claimed for IMPS (module doc). `service` lives on `thread`
    (it was built there); `acceptor` stores what it sends, as `IMPS_SYSTEM_ID` from
    `short_code`. `start()` drains what a crash left in the outbox and starts the ticks;
    `await stop()` stops them and lets a drain under way finish (closing the state on its
    thread is the caller's: ServiceThread.close)."""

    def __init__(
        self,
        service: ImpsService,
        *,
        thread: ServiceThread,
        acceptor: Acceptor,
        short_code: str,
        tick_interval: float = _TICK_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._service = service
        self._thread = thread
        self._acceptor = acceptor
        self._short_code = short_code
        self._tick_interval = tick_interval
        self._clock = clock
        self._stopping = False
        self._drain_lock = asyncio.Lock()
        self._drain_next: asyncio.Task[int] | None = None  # drain(): the one waiting to start
        self._drain_tasks: set[asyncio.Task[int]] = set()
        self._ticker: asyncio.Task[None] | None = None
        self._parts = Reassembler(timeout=_CONCAT_TIMEOUT, max_pending=1000)
        # Counters (GET /v1/imps, tests).
        self.received = 0  # SMS handed to the service
        self.sent = 0  # SMS stored for handsets
        self.dropped = 0  # outbox rows that could not become SMS (logged)

    @property
    def name(self) -> str:
        return "imps"

    # ---- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        if self._ticker is None:
            self._ticker = asyncio.get_running_loop().create_task(self._tick_forever())

    async def stop(self) -> None:
        self._stopping = True
        ticker, self._ticker = self._ticker, None
        if ticker is not None:
            ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ticker
        async with self._drain_lock:  # a drain under way reaches the store first
            pass

    # ---- inbound ---------------------------------------------------------------------------

    async def attempt(self, record: StoredMessage) -> Attempt:
        if self._stopping:
            return _STOPPING
        try:
            message = inbound(record)
        except UdhError as exc:
            log.info("IMPS MO unreadable message_id=%s: %s", record.message_id, exc)
            return PermanentFailure(int(CommandStatus.ESME_RINVESMCLASS), detail=str(exc))
        payload = message.payload
        if message.concat is not None and message.concat.total > 1:
            now = self._clock()
            for lost in self._parts.expire(now=now):
                log.info("IMPS concatenated MO dropped: %d parts never came", len(lost.missing))
            whole = self._parts.add(
                (message.msisdn, message.port), message.concat, payload, now=now
            )
            if whole is None:
                return Delivered()  # held until its other parts come (module doc)
            payload = whole
        try:
            await self._deliver(message, payload, record.message_id)
        except ServiceClosed:
            return _STOPPING
        except (ImpsStateError, sqlite3.Error) as exc:
            # Nothing of the call was kept: the SMSC tries again (service.py's contract).
            log.warning("IMPS state unavailable message_id=%s: %s", record.message_id, exc)
            return TemporaryFailure(0, ErrorClass.SHORT, detail=f"IMPS state: {exc}")
        self.received += 1
        await self._drain_logged()
        return Delivered()

    async def _deliver(self, message: Inbound, payload: bytes, mo_id: str) -> None:
        service = self._service
        if message.port is None:
            text = decode_payload(message.data_coding, payload, message.header) or ""
            await self._thread.run(_on_plain, service, message.msisdn, text, mo_id)
        elif message.port == CIR_PORT:
            await self._thread.run(_on_cir, service, message.msisdn, payload, mo_id)
        else:
            await self._thread.run(_on_data, service, message.msisdn, payload, mo_id)

    # ---- outbound --------------------------------------------------------------------------

    async def _tick_forever(self) -> None:
        await self._drain_logged()  # what a crash left in the outbox
        while True:
            await asyncio.sleep(self._tick_interval)
            try:
                await self._thread.run(self._service.tick)
            except ServiceClosed:
                return
            except (ImpsStateError, sqlite3.Error) as exc:
                log.warning("IMPS tick failed: %s", exc)
                continue
            await self._drain_logged()

    async def _drain_logged(self) -> None:
        try:
            await self.drain()
        except ServiceClosed:
            pass
        except (StoreUnavailable, ImpsStateError, sqlite3.Error) as exc:
            # The rows stay in the outbox: the next tick tries again.
            log.warning("IMPS outbox not drained: %s", exc)

    async def drain(self) -> int:
        """Store what the service's outbox holds as MT messages, then mark it sent; returns
        the rows handed over. Raises StoreUnavailable (nothing marked sent), ServiceClosed.

        Every attempt drains after its call; under load many wait here at once. A drain
        that waits for the lock reads the outbox only once it has the lock, so it covers
        the rows of every caller that came while it waited: they share it rather than each
        reading an outbox the first one already emptied (one service call each)."""
        shared = self._drain_next
        if shared is None:
            shared = asyncio.get_running_loop().create_task(self._drain_shared())
            self._drain_next = shared
            self._drain_tasks.add(shared)
            shared.add_done_callback(self._drain_done)
        # shielded: a caller cancelled does not cancel the drain the others wait for
        return await asyncio.shield(shared)

    async def _drain_shared(self) -> int:
        async with self._drain_lock:
            self._drain_next = None  # rows committed from now on need the next drain
            return await self._drain_locked()

    def _drain_done(self, task: asyncio.Task[int]) -> None:
        self._drain_tasks.discard(task)
        if not task.cancelled():
            task.exception()  # raised to its callers; retrieved even when none is left

    async def _drain_locked(self) -> int:
        handed = 0
        while True:
            rows: list[Outgoing] = await self._thread.run(self._service.outbox, _OUTBOX_BATCH)
            if not rows:
                return handed
            done, records, throttled = self._records(rows)
            if records:
                await self._acceptor.store(records, origin=Origin("imps"))
                self.sent += len(records)
            if done:
                await self._thread.run(self._service.sent, done)
                handed += len(done)
            if throttled or len(rows) < _OUTBOX_BATCH:
                return handed

    def _records(self, rows: Sequence[Outgoing]) -> tuple[list[int], list[StoredMessage], bool]:
        """(ids done, records to store, whether the engine asked to wait). A row that can
        never become SMS is logged and counted done, so it cannot block the outbox."""
        done: list[int] = []
        records: list[StoredMessage] = []
        for row in rows:
            try:
                # all of a row's SMS or none: a row throttled after its first PTS segment would
                # have that segment stored now and again at the next drain
                prepared = [
                    record
                    for submission in self._submissions(row)
                    for record in self._acceptor.prepare(IMPS_SYSTEM_ID, submission).records
                ]
                records.extend(prepared)
            except MessageRejected as exc:
                if exc.status in (CommandStatus.ESME_RTHROTTLED, CommandStatus.ESME_RMSGQFUL):
                    return done, records, True  # the engine is full: the rest waits
                self.dropped += 1
                log.warning(
                    "IMPS message dropped outbox_id=%d msisdn=%s channel=%s: %s",
                    row.id,
                    peer_text(row.msisdn),
                    row.channel.name,
                    exc.reason,
                )
            except (pts.PtsError, ValueError) as exc:
                self.dropped += 1
                log.warning("IMPS message dropped outbox_id=%d: %s", row.id, exc)
            done.append(row.id)
        return done, records, False

    def _submissions(self, row: Outgoing) -> list[Submission]:
        source = Address(Ton.UNKNOWN, Npi.ISDN, self._short_code)
        destination = Address(Ton.INTERNATIONAL, Npi.ISDN, row.msisdn.lstrip("+"))
        if row.channel is Channel.DATA:
            return [
                Submission(
                    source=source,
                    destination=destination,
                    binary=piece.encode("utf-8"),
                    port=DATA_PORT,
                    receipt=_RECEIPT,
                )
                for piece in pts.split(row.body, SEGMENT_OCTETS)
            ]
        if row.channel is Channel.CIR:
            words = row.body.split(" ")
            if len(words) != 3 or words[0] != "WVCI":
                raise ValueError(f"not a CIR wake-up: {row.body!r}")
            return [
                Submission(
                    source=source,
                    destination=destination,
                    binary=cir.encode_wakeup(words[1], words[2]),
                    port=CIR_PORT,
                    receipt=_RECEIPT,
                )
            ]
        return [Submission(source=source, destination=destination, text=row.body, receipt=_RECEIPT)]


# On the service thread: one call each, so that the thread runs no closure of ours.
def _on_data(service: ImpsService, msisdn: str, payload: bytes, mo_id: str) -> None:
    service.on_data(msisdn, payload, mo_id=mo_id)


def _on_cir(service: ImpsService, msisdn: str, payload: bytes, mo_id: str) -> None:
    service.on_cir(msisdn, payload, mo_id=mo_id)


def _on_plain(service: ImpsService, msisdn: str, text: str, mo_id: str) -> None:
    service.on_plain(msisdn, text, mo_id=mo_id)
