"""The IMPS binding under hostile input (issue 13, "bad PTS ... never a crash or a lost
message"): `ImpsRoute.attempt` with whatever a handset, a carrier or an ESME could store, on
the real service (its own thread, its SQLite state) and the real engine's Acceptor.

Whatever the record (a UDH that does not parse, UDHI without a header, a port UDH to 3590 or
3716 in front of arbitrary octets, the destination_port TLV, any data_coding, PTS segments of
many senders, a text far beyond 26 segments, a source address of odd characters), the attempt
ends Delivered or PermanentFailure and never raises; afterwards the service thread still
answers at once and a good login from a handset logs in: nothing blocked it.
Port UDH per 3GPP TS 23.040 §9.2.3.24.4; the destination_port TLV per SMPP 3.4 §5.3.2.5.
"""

from __future__ import annotations

import asyncio
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from opensmsc.imps import (
    CIR_PORT,
    DATA_PORT,
    ImpsRoute,
    ImpsService,
    ImpsSettings,
    ImpsState,
    ServiceThread,
    encode_helo,
)
from opensmsc.routing import Delivered, PermanentFailure
from opensmsc.smpp import EsmClass, Tag, Tlvs
from opensmsc.sms import Concat, PortAddress, build_udh
from opensmsc.store import Address, Direction, StoredMessage
from tests.services.engine_harness import open_engine

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
ALICE = "447700900001"

_PTS_SAMPLES = [
    b"WV12LR1 UI=alice PW=alice-pw",
    b"WV12SM2ab SI=x UI=bob MC=half",
    b"WV12SM2bb  of it",
    b"WV12SM3az SI=x MC=first of 26",
    b'WV12SM4 SI=x MC="not closed',
    b"WV12PO1000",
    b"WV12GP5 UI=((((((((((((((((((a))))))))))))))))))",
    b"WV12LR6 UI=" + "é🙂".encode() * 40,
    b"WVXXLR7",
    b"WV12SM8 " + b"MC=" + b"x" * 20000,  # far beyond 26 segments of one SMS each
    b"\xff\xfe\x00WV12",  # not UTF-8
    encode_helo("no-such-session"),
]

_payload = st.one_of(
    st.binary(max_size=200),
    st.sampled_from(_PTS_SAMPLES),
    st.builds(lambda a, b: a + b, st.sampled_from(_PTS_SAMPLES), st.binary(max_size=20)),
)


@st.composite
def records(draw: st.DrawFn) -> StoredMessage:
    payload = draw(_payload)
    esm_class = 0
    tlvs = Tlvs()
    how = draw(st.sampled_from(["udh", "udh-concat", "udhi-without-udh", "tlv", "plain"]))
    port = draw(st.sampled_from([DATA_PORT, CIR_PORT, 80, 0xFFFF]))
    if how in ("udh", "udh-concat"):
        concat = None
        if how == "udh-concat":
            total = draw(st.integers(1, 3))
            concat = Concat(draw(st.integers(0, 255)), total, draw(st.integers(1, total)))
        payload = build_udh(ports=PortAddress(port, port), concat=concat).encode() + payload
        esm_class = EsmClass.UDHI
    elif how == "udhi-without-udh":
        esm_class = EsmClass.UDHI
    elif how == "tlv":
        tlvs = Tlvs(((Tag.DESTINATION_PORT, port),))
    source = draw(
        st.one_of(
            st.sampled_from([ALICE, "447700900002", "+447700900003", ""]),
            st.text(max_size=21),
        )
    )
    return StoredMessage.create(
        message_id=f"m{draw(st.integers(0, 10**9))}",
        system_id="imps",
        direction=Direction.MO,
        source=Address(1, 1, source),
        destination=Address(0, 1, draw(st.sampled_from(["3590", "447700900009"]))),
        submitted_at=NOW,
        due_at=NOW,
        expires_at=NOW + timedelta(hours=1),
        data_coding=draw(st.sampled_from([0x00, 0x04, 0x08, 0xF5, 0x03])),
        payload=payload,
        esm_class=esm_class,
        tlvs=tlvs,
    )


def _login(message_id: str) -> StoredMessage:
    udh = build_udh(ports=PortAddress(DATA_PORT, DATA_PORT)).encode()
    return StoredMessage.create(
        message_id=message_id,
        system_id="imps",
        direction=Direction.MO,
        source=Address(1, 1, ALICE),
        destination=Address(0, 1, "3590"),
        submitted_at=NOW,
        due_at=NOW,
        expires_at=NOW + timedelta(hours=1),
        data_coding=0x04,
        payload=udh + b"WV12LR999 UI=alice PW=alice-pw",
        esm_class=EsmClass.UDHI,
    )


async def _scenario(folder: Path, batch: list[StoredMessage]) -> None:
    engine = await open_engine(folder)
    thread = ServiceThread("fuzz-imps")
    state = await thread.run(ImpsState, folder / "imps.sqlite3")
    service = await thread.run(ImpsService, state, ImpsSettings(reassembly_timeout=1.0))
    await thread.run(service.add_user, "alice", ALICE, "alice-pw")
    route = ImpsRoute(service, thread=thread, acceptor=engine.acceptor, short_code="3590")
    try:
        async with asyncio.timeout(60):
            for record in batch:
                outcome = await route.attempt(record)
                assert isinstance(outcome, Delivered | PermanentFailure), outcome
        async with asyncio.timeout(5):  # the service thread is free, the service still works
            assert isinstance(await route.attempt(_login("login-after")), Delivered)
            assert (await thread.run(service.stats)).sessions == 1
            assert (await thread.run(service.stats)).outbox == 0  # every answer reached the store
    finally:
        await route.stop()
        await thread.close(state.close)
        await engine.close()
        await engine.store.close()


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(st.lists(records(), min_size=1, max_size=12))
def test_no_stored_message_crashes_the_route_or_blocks_the_service(
    batch: list[StoredMessage],
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        asyncio.run(_scenario(Path(folder), batch))


def test_a_flood_of_segments_from_many_senders_is_bounded_and_answered() -> None:
    """2,000 handsets each send the first of two PTS segments and never the second: every one
    is held (not answered yet), nothing raises, and the service still logs a user in."""
    flood = []
    udh = build_udh(ports=PortAddress(DATA_PORT, DATA_PORT)).encode()
    for n in range(2000):
        flood.append(
            StoredMessage.create(
                message_id=f"f{n}",
                system_id="imps",
                direction=Direction.MO,
                source=Address(1, 1, f"4477009{n:05d}"),
                destination=Address(0, 1, "3590"),
                submitted_at=NOW,
                due_at=NOW,
                expires_at=NOW + timedelta(hours=1),
                data_coding=0x04,
                payload=udh + f"WV12SM{n % 999 + 1}ab SI=x UI=bob MC=part".encode(),
                esm_class=EsmClass.UDHI,
            )
        )
    with tempfile.TemporaryDirectory() as folder:
        asyncio.run(_scenario(Path(folder), flood))
