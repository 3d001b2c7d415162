"""The crash test's clients: transceiver sessions that submit uniquely numbered messages with
registered_delivery=1, and write down everything they are told.

Each message's short_message is `crash <number>` (the number is unique over the whole run and
never submitted twice), so whatever reaches the sink or comes back in a receipt's `text:` names
its message. The `Ledger` records, per number: when it was sent, the message_id its
submit_sm_resp carried (or the error status, or that the connection died before any answer),
and every delivery receipt (receipted_message_id, stat, message_state, the exact PDU content).
A session whose SMSC is killed reconnects, binds again and keeps submitting new numbers.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from dataclasses import dataclass, field

from opensmsc.smpp import (
    BindTransceiver,
    CommandId,
    CommandStatus,
    Decoded,
    DeliverSm,
    DeliverSmResp,
    EnquireLinkResp,
    MessageState,
    QuerySm,
    QuerySmResp,
    SubmitSm,
    SubmitSmResp,
    Tag,
    UnbindResp,
    is_delivery_receipt,
    receipt_from_pdu,
)
from tests.durability.wire import SmppPeer

HOST = "127.0.0.1"
SOURCE = "447900000001"
PREFIX = "crash "


def text_for(number: int) -> bytes:
    return f"{PREFIX}{number:09d}".encode()


def number_in(text: str) -> int | None:
    """The message number in a short_message or a receipt's `text:` field."""
    text = text.strip()
    if not text.startswith(PREFIX):
        return None
    try:
        return int(text[len(PREFIX) :].split()[0])
    except (ValueError, IndexError):
        return None


@dataclass(frozen=True, slots=True)
class ReceiptSeen:
    message_id: str  # receipted_message_id (TLV, else the text's id:)
    number: int | None  # from the receipt's text: field
    stat: str  # the text's stat:
    state: int | None  # message_state TLV (or from stat)
    content: tuple[bytes, bytes]  # short_message and the wire TLVs: duplicates must be equal
    at: float  # time.time()
    session: int
    incarnation: int  # which run of the SMSC sent it: the kills before its session connected


@dataclass
class Ledger:
    """What every client session saw; shared by all of them (one event loop)."""

    numbers: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    submitting: bool = True
    kills: int = 0  # the test counts its SIGKILLs here: a session's incarnation
    sent_at: dict[int, float] = field(default_factory=dict)
    accepted: dict[int, str] = field(default_factory=dict)  # number → message_id
    by_id: dict[str, int] = field(default_factory=dict)  # message_id → number
    accepted_twice: list[tuple[str, int, int]] = field(default_factory=list)
    refused: dict[int, int] = field(default_factory=dict)  # number → command_status
    unanswered: set[int] = field(default_factory=set)  # the connection died first
    receipts: list[ReceiptSeen] = field(default_factory=list)
    other_deliveries: list[bytes] = field(default_factory=list)  # deliver_sm that are no receipt
    binds: int = 0
    bind_refusals: int = 0

    def next_number(self) -> int:
        return next(self.numbers)


class CrashSession(SmppPeer):
    """One transceiver connection. Keeps up to `window` submit_sm in flight while
    `ledger.submitting`, paced to `rate` per second, answers every deliver_sm with ESME_ROK
    after recording it, and answers enquire_link and unbind."""

    def __init__(
        self,
        ledger: Ledger,
        index: int,
        system_id: str,
        password: str,
        *,
        window: int,
        rate: float,
    ) -> None:
        super().__init__()
        self.ledger = ledger
        self.index = index
        self.system_id, self.password = system_id, password
        self.window, self.rate = window, rate
        self.bound: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self.outstanding: dict[int, int] = {}  # sequence_number → message number
        self.queries: dict[int, asyncio.Future[Decoded]] = {}
        self.tokens = 0.0
        self.last_fill = time.monotonic()
        self.bind_seq = -1
        self.incarnation = -1

    def on_connected(self) -> None:
        # The kill runs on this event loop, so a connection seen made after it reached the
        # next run of the SMSC (or a dead socket, which carries nothing).
        self.incarnation = self.ledger.kills
        self.bind_seq = self.send(BindTransceiver(system_id=self.system_id, password=self.password))

    def on_lost(self) -> None:
        self.ledger.unanswered.update(self.outstanding.values())
        self.outstanding.clear()
        for future in self.queries.values():
            if not future.done():
                future.set_exception(ConnectionError("connection lost"))
        self.queries.clear()
        if not self.bound.done():
            self.bound.set_result(False)

    @property
    def is_bound(self) -> bool:
        return self.is_open and self.bound.done() and self.bound.result()

    def fill(self) -> None:
        """Submit new numbers while the window, the pace and the ledger allow."""
        if not self.is_bound or not self.ledger.submitting:
            return
        now = time.monotonic()
        self.tokens = min(self.tokens + (now - self.last_fill) * self.rate, float(self.window))
        self.last_fill = now
        while self.tokens >= 1 and len(self.outstanding) < self.window:
            self.tokens -= 1
            number = self.ledger.next_number()
            pdu = SubmitSm(
                source_addr_ton=1,
                source_addr_npi=1,
                source_addr=SOURCE,
                dest_addr_ton=1,
                dest_addr_npi=1,
                destination_addr=f"3161{number % 10_000_000:07d}",
                registered_delivery=1,
                short_message=text_for(number),
            )
            self.ledger.sent_at[number] = time.time()
            self.outstanding[self.send(pdu)] = number

    async def query(self, message_id: str, timeout: float = 10.0) -> Decoded:
        future: asyncio.Future[Decoded] = asyncio.get_running_loop().create_future()
        pdu = QuerySm(
            message_id=message_id, source_addr_ton=1, source_addr_npi=1, source_addr=SOURCE
        )
        self.queries[self.send(pdu)] = future
        return await asyncio.wait_for(future, timeout)

    def on_pdu(self, decoded: Decoded) -> None:
        cid, seq, pdu = decoded.command_id, decoded.sequence_number, decoded.pdu
        ledger = self.ledger
        if cid == CommandId.SUBMIT_SM_RESP or (
            cid == CommandId.GENERIC_NACK and seq in self.outstanding
        ):
            number = self.outstanding.pop(seq, None)
            if number is None:
                return
            message_id = pdu.message_id if isinstance(pdu, SubmitSmResp) else ""
            if decoded.status == CommandStatus.ESME_ROK and message_id:
                if message_id in ledger.by_id:
                    ledger.accepted_twice.append((message_id, ledger.by_id[message_id], number))
                ledger.accepted[number] = message_id
                ledger.by_id[message_id] = number
            else:
                ledger.refused[number] = decoded.status or -1
            self.fill()
        elif cid == CommandId.DELIVER_SM:
            assert isinstance(pdu, DeliverSm)
            self._record_delivery(pdu)
            self.send(DeliverSmResp(), seq)
        elif cid == CommandId.BIND_TRANSCEIVER_RESP and seq == self.bind_seq:
            ok = decoded.status == CommandStatus.ESME_ROK
            if ok:
                ledger.binds += 1
                self.last_fill = time.monotonic()
            else:
                ledger.bind_refusals += 1
            if not self.bound.done():
                self.bound.set_result(ok)
            self.fill()
        elif seq in self.queries:
            future = self.queries.pop(seq)
            if not future.done():
                future.set_result(decoded)
        elif cid == CommandId.ENQUIRE_LINK:
            self.send(EnquireLinkResp(), seq)
        elif cid == CommandId.UNBIND:
            self.send(UnbindResp(), seq)
            if self.transport is not None:
                self.transport.close()

    def _record_delivery(self, pdu: DeliverSm) -> None:
        info = receipt_from_pdu(pdu) if is_delivery_receipt(pdu.esm_class) else None
        if info is None:
            self.ledger.other_deliveries.append(pdu.short_message)
            return
        text = info.receipt.text if info.receipt is not None else ""
        state = info.state if isinstance(info.state, int) else None
        tlv_state = pdu.tlvs.get(Tag.MESSAGE_STATE)
        if isinstance(tlv_state, int):
            state = tlv_state
        self.ledger.receipts.append(
            ReceiptSeen(
                message_id=info.message_id,
                number=number_in(text),
                stat=info.receipt.stat if info.receipt is not None else "",
                state=state,
                content=(pdu.short_message, repr(tuple(pdu.tlvs)).encode()),
                at=time.time(),
                session=self.index,
                incarnation=self.incarnation,
            )
        )


async def open_session(
    ledger: Ledger,
    index: int,
    port: int,
    system_id: str,
    password: str,
    *,
    window: int,
    rate: float,
) -> CrashSession | None:
    """Connect and bind once; None when the SMSC is not there or refuses the bind."""
    loop = asyncio.get_running_loop()
    try:
        _transport, session = await asyncio.wait_for(
            loop.create_connection(
                lambda: CrashSession(ledger, index, system_id, password, window=window, rate=rate),
                HOST,
                port,
            ),
            2.0,
        )
    except (OSError, TimeoutError):
        return None
    try:
        ok = await asyncio.wait_for(asyncio.shield(session.bound), 5.0)
    except TimeoutError:
        ok = False
    if not ok:
        session.abort()
        await _closed(session)
        return None
    return session


async def _closed(session: CrashSession) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(asyncio.shield(session.closed), 2.0)


@dataclass
class SessionRunner:
    """Keeps one client session bound: reconnects (every 50 ms) whenever the SMSC is gone,
    until `stop` is set."""

    ledger: Ledger
    index: int
    port: int
    system_id: str
    password: str
    window: int
    rate: float
    stop: asyncio.Event
    session: CrashSession | None = None
    connects: int = 0

    async def run(self) -> None:
        try:
            while not self.stop.is_set():
                session = await open_session(
                    self.ledger,
                    self.index,
                    self.port,
                    self.system_id,
                    self.password,
                    window=self.window,
                    rate=self.rate,
                )
                if session is None:
                    await asyncio.sleep(0.05)
                    continue
                self.connects += 1
                self.session = session
                while session.is_open and not self.stop.is_set():
                    session.fill()
                    await asyncio.sleep(0.01)
                self.session = None
                if session.is_open:
                    session.abort()
                await _closed(session)
        finally:
            if self.session is not None:
                self.session.abort()
                await _closed(self.session)
                self.session = None


async def query_all(
    port: int,
    system_id: str,
    password: str,
    ledger: Ledger,
    message_ids: list[str],
    *,
    window: int = 10,
) -> dict[str, Decoded]:
    """query_sm every message_id over one fresh session, `window` in flight. Ids whose query
    failed on the wire (not the ones answered with an error status) are left out. Receipts
    that arrive on this session go into `ledger` like any other (it must not be submitting)."""
    assert not ledger.submitting
    session = await open_session(ledger, 99, port, system_id, password, window=window, rate=0)
    if session is None:
        raise ConnectionError("cannot bind for query_sm")
    results: dict[str, Decoded] = {}
    semaphore = asyncio.Semaphore(window)

    async def one(message_id: str) -> None:
        async with semaphore:
            with contextlib.suppress(ConnectionError, TimeoutError):
                results[message_id] = await session.query(message_id)

    try:
        await asyncio.gather(*(one(m) for m in message_ids))
    finally:
        session.abort()
        await _closed(session)
    return results


def final_state(decoded: Decoded) -> MessageState | None:
    """The message_state of a successful query_sm_resp, None for a failed query."""
    if decoded.status != CommandStatus.ESME_ROK or not isinstance(decoded.pdu, QuerySmResp):
        return None
    try:
        return MessageState(decoded.pdu.message_state)
    except ValueError:
        return None
