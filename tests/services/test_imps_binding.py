"""What the IMPS binding takes (imps/binding.py): the MO and MT it claims, what the service is
given of a record, the Router's claims, and the service thread's ordering and closing.
Port addressing per 3GPP TS 23.040 §9.2.3.24.4 (IEI 0x05, 16-bit ports); the destination_port
TLV per SMPP 3.4 §5.3.2.5."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime, timedelta

import pytest

from opensmsc.imps import (
    CIR_PORT,
    DATA_PORT,
    IMPS_SYSTEM_ID,
    ServiceClosed,
    ServiceThread,
    claims_mo,
    claims_mt,
    inbound,
)
from opensmsc.routing import Delivered, LoopbackRoute, Router
from opensmsc.smpp import DataSm, DeliverSm, EsmClass, Tag, Tlvs
from opensmsc.sms import Concat, PortAddress, build_udh
from opensmsc.store import Address, Direction, StoredMessage

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
PTS = b"WV12LR1 UI=alice PW=x"


def udh(port: int, concat: Concat | None = None) -> bytes:
    return build_udh(ports=PortAddress(port, port), concat=concat).encode()


def mo(
    destination: str = "3590", content: bytes = PTS, *, port: int | None = DATA_PORT
) -> DeliverSm:
    if port is None:
        return DeliverSm(
            source_addr="447700900001", destination_addr=destination, short_message=content
        )
    return DeliverSm(
        source_addr="447700900001",
        destination_addr=destination,
        esm_class=EsmClass.UDHI,
        data_coding=0x04,
        short_message=udh(port) + content,
    )


def record(
    *,
    system_id: str = "esme1",
    direction: Direction = Direction.MT,
    payload: bytes = PTS,
    esm_class: int = 0,
    tlvs: Tlvs | None = None,
) -> StoredMessage:
    return StoredMessage.create(
        message_id="m1",
        system_id=system_id,
        direction=direction,
        source=Address(1, 1, "+447700900001"),
        destination=Address(0, 1, "3590"),
        submitted_at=NOW,
        due_at=NOW,
        expires_at=NOW + timedelta(hours=1),
        data_coding=0x04,
        payload=payload,
        esm_class=esm_class,
        tlvs=tlvs or Tlvs(),
    )


def test_mo_to_the_imps_ports_or_the_short_code_without_a_port_is_claimed() -> None:
    claim = claims_mo("3590")
    assert claim(mo()) == IMPS_SYSTEM_ID
    assert claim(mo(port=CIR_PORT)) == IMPS_SYSTEM_ID
    assert claim(mo("5000")) == IMPS_SYSTEM_ID  # the port decides, whatever the number
    assert claim(mo("3590", b"hello", port=None)) == IMPS_SYSTEM_ID  # a bridged reply
    assert claim(mo("+3590", b"hello", port=None)) == IMPS_SYSTEM_ID
    assert claim(mo("3590", port=2948)) is None  # WAP push to that number: not IMPS
    assert claim(mo("5000", b"STOP", port=None)) is None


def test_mo_with_the_destination_port_tlv_or_a_payload_udh_is_claimed() -> None:
    claim = claims_mo("1234")
    by_tlv = DeliverSm(
        source_addr="447700900001",
        destination_addr="1234",
        short_message=PTS,
        tlvs=Tlvs(((Tag.DESTINATION_PORT, DATA_PORT),)),
    )
    assert claim(by_tlv) == IMPS_SYSTEM_ID
    data_sm = DataSm(
        source_addr="447700900001",
        destination_addr="99",
        esm_class=EsmClass.UDHI,
        tlvs=Tlvs(((Tag.MESSAGE_PAYLOAD, udh(CIR_PORT) + b"HELO x"),)),
    )
    assert claim(data_sm) == IMPS_SYSTEM_ID
    broken = DeliverSm(
        source_addr="447700900001",
        destination_addr="99",
        esm_class=EsmClass.UDHI,
        short_message=b"\x09\x05",  # a UDHL running past the data
    )
    assert claim(broken) is None


def test_an_esmes_mt_to_the_imps_ports_is_claimed_but_never_imps_own() -> None:
    assert claims_mt(record(tlvs=Tlvs(((Tag.DESTINATION_PORT, DATA_PORT),))))
    assert claims_mt(record(payload=udh(CIR_PORT) + b"HELO s", esm_class=EsmClass.UDHI))
    assert not claims_mt(record())  # no port: the number's route
    assert not claims_mt(record(tlvs=Tlvs(((Tag.DESTINATION_PORT, 9200),))))
    assert not claims_mt(
        record(system_id=IMPS_SYSTEM_ID, payload=udh(DATA_PORT) + PTS, esm_class=EsmClass.UDHI)
    )
    assert not claims_mt(
        record(direction=Direction.MO, payload=udh(DATA_PORT) + PTS, esm_class=EsmClass.UDHI)
    )


def test_the_service_is_given_the_payload_without_its_header() -> None:
    given = inbound(record(payload=udh(DATA_PORT) + PTS, esm_class=EsmClass.UDHI))
    assert (given.msisdn, given.port, given.payload, given.concat) == (
        "447700900001",
        DATA_PORT,
        PTS,
        None,
    )
    part = Concat(reference=7, total=2, sequence=1)
    given = inbound(record(payload=udh(DATA_PORT, part) + PTS[:5], esm_class=EsmClass.UDHI))
    assert given.concat == part and given.payload == PTS[:5]
    by_tlv = inbound(record(tlvs=Tlvs(((Tag.DESTINATION_PORT, CIR_PORT),))))
    assert by_tlv.port == CIR_PORT and by_tlv.payload == PTS
    assert inbound(record()).port is None


async def test_a_router_claim_takes_mt_before_the_prefixes_and_never_mo() -> None:
    imps, other = LoopbackRoute("imps"), LoopbackRoute("other")
    router = Router({"other": other}, default_route="other")
    claimed = record(tlvs=Tlvs(((Tag.DESTINATION_PORT, DATA_PORT),)))
    assert router.route_for(claimed) is other
    router.add_claim(claims_mt, imps)
    assert router.claimed_route(claimed) is imps and router.route_for(claimed) is imps
    assert router.route_for(record()) is other
    assert router.claimed_route(record(direction=Direction.MO)) is None
    assert await imps.attempt(claimed) == Delivered()


async def test_the_service_thread_runs_calls_in_order_then_refuses_after_close() -> None:
    thread = ServiceThread("test-imps")
    seen: list[tuple[int, str]] = []

    def note(n: int) -> int:
        seen.append((n, threading.current_thread().name))
        return n

    assert await asyncio.gather(*(thread.run(note, n) for n in range(20))) == list(range(20))
    assert [n for n, _ in seen] == list(range(20))
    assert len({name for _, name in seen}) == 1 and seen[0][1].startswith("test-imps")
    closed: list[bool] = []
    late = asyncio.ensure_future(thread.run(note, 99))
    await asyncio.sleep(0)  # the call is made (queued on the thread) before the close: it runs
    await thread.close(lambda: closed.append(True))
    assert await late == 99 and closed == [True]
    with pytest.raises(ServiceClosed):
        await thread.run(note, 100)
