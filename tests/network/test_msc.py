"""The simulated MSC: MT-ForwardSM answers and MO-ForwardSM relay."""

from __future__ import annotations

from opensmsc.network import (
    DeliveryFailureCause,
    Handsets,
    HlrMode,
    Latency,
    MapError,
    MapErrorCode,
    Mscs,
    Phase,
    Reception,
    SimulatedHlr,
    SimulatedMsc,
    SubscriberState,
    SubscriberTable,
)
from opensmsc.sms import gsm7
from opensmsc.sms.tpdu import SmsDeliver, SmsSubmit

MSISDN = 447700900001


def sm(text: str = "hi") -> SmsDeliver:
    return SmsDeliver(originator="1234", user_data=gsm7.encode(text))


def hlr(mode: HlrMode = HlrMode.DETERMINISTIC) -> SimulatedHlr:
    return SimulatedHlr(SubscriberTable(), mode=mode, seed=1)


def msc_on(home: SimulatedHlr, handsets: Handsets | None = None) -> SimulatedMsc:
    return SimulatedMsc(
        address="447700000001",
        network="23415",
        handsets=Handsets() if handsets is None else handsets,
        condition=home.mt_forward_condition,
        latency=home.mt_forward_latency,
    )


def test_delivers_to_the_handset_inbox_and_records_the_network() -> None:
    handsets = Handsets()
    msc = msc_on(hlr(), handsets)
    result = msc.mt_forward_sm(MSISDN, sm("hello"), imsi="234150000000001")
    assert result.error is None
    assert result.latency == 0.0
    assert result.reception is Reception.STORED
    (message,) = handsets.get(MSISDN).inbox
    assert message.text == "hello" and message.network == "23415"
    (entry,) = msc.trace
    assert entry.operation == "mt" and entry.imsi == "234150000000001"


def test_full_inbox_is_memory_capacity_exceeded() -> None:
    handsets = Handsets(capacity=1)
    msc = msc_on(hlr(), handsets)
    assert msc.mt_forward_sm(MSISDN, sm()).error is None
    result = msc.mt_forward_sm(MSISDN, sm())
    assert result.error == MapError(
        MapErrorCode.SM_DELIVERY_FAILURE, cause=DeliveryFailureCause.MEMORY_CAPACITY_EXCEEDED
    )
    assert result.error.is_memory_full
    assert result.reception is Reception.MEMORY_FULL


def test_memory_full_state_refuses_without_touching_the_handset() -> None:
    home = hlr()
    home.subscribers.add(MSISDN, state=SubscriberState.MEMORY_FULL)
    handsets = Handsets()
    result = msc_on(home, handsets).mt_forward_sm(MSISDN, sm())
    assert result.error is not None and result.error.is_memory_full
    assert result.reception is None
    assert handsets.find(MSISDN) is None


def test_busy_subscriber_and_injected_mt_errors() -> None:
    home = hlr()
    home.subscribers.add(MSISDN, state=SubscriberState.BUSY)
    msc = msc_on(home)
    error = msc.mt_forward_sm(MSISDN, sm()).error
    assert error is not None and error.code == MapErrorCode.SUBSCRIBER_BUSY_FOR_MT_SMS
    other = 447700900002
    home.inject(other, MapError(MapErrorCode.ILLEGAL_EQUIPMENT), phase=Phase.MT)
    assert msc.mt_forward_sm(other, sm()).error == MapError(MapErrorCode.ILLEGAL_EQUIPMENT)
    assert msc.mt_forward_sm(other, sm()).error is None  # consumed


def test_undecodable_udh_is_equipment_protocol_error() -> None:
    broken = SmsDeliver(originator="1", user_data=b"\x09\x00", has_udh=True)
    error = msc_on(hlr()).mt_forward_sm(MSISDN, broken).error
    assert error == MapError(
        MapErrorCode.SM_DELIVERY_FAILURE, cause=DeliveryFailureCause.EQUIPMENT_PROTOCOL_ERROR
    )
    assert error.is_permanent


def test_more_messages_to_send_is_traced() -> None:
    msc = msc_on(hlr())
    msc.mt_forward_sm(MSISDN, sm(), more_messages_to_send=True)
    msc.mt_forward_sm(MSISDN, sm())
    assert [e.more_messages_to_send for e in msc.trace] == [True, False]


def test_realistic_mode_returns_a_latency_to_await() -> None:
    home = hlr(HlrMode.REALISTIC)
    home.subscribers.add(MSISDN, latency=Latency("fixed", 250.0))
    assert msc_on(home).mt_forward_sm(MSISDN, sm()).latency == 0.25


async def test_mo_forward_sm_without_an_smsc_is_unknown_service_centre() -> None:
    msc = msc_on(hlr())
    error = await msc.mo_forward_sm(MSISDN, SmsSubmit(destination="5000"))
    assert error is not None and error.cause == DeliveryFailureCause.UNKNOWN_SERVICE_CENTRE


async def test_mo_forward_sm_relays_to_the_handler() -> None:
    got: list[tuple[int, SmsSubmit]] = []

    async def smsc(msisdn: int, submit: SmsSubmit) -> MapError | None:
        got.append((msisdn, submit))
        return None

    mscs = Mscs(Handsets(), mo_handler=smsc)
    submit = SmsSubmit(destination="5000", user_data=b"x")
    assert await mscs.get("4477", "23415").mo_forward_sm(MSISDN, submit) is None
    assert got == [(MSISDN, submit)]


def test_mscs_are_made_once_per_address() -> None:
    mscs = Mscs(Handsets())
    assert mscs.get("1", "23415") is mscs.get("1")
    assert mscs.get("1").network == "23415"
    assert len(list(mscs)) == 1
