"""Simulated handsets: inbox, reassembly, flash, port applications, memory, MO composition."""

from __future__ import annotations

import pytest

from opensmsc.network import (
    DeliveryFailureCause,
    Handset,
    Handsets,
    MapError,
    MapErrorCode,
    PortMessage,
    Reception,
)
from opensmsc.sms import MessageClass, PortAddress, gsm7, split
from opensmsc.sms.tpdu import SmsDeliver, SmsSubmit

MSISDN = 447700900001


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def deliver(text: str, *, originator: str = "1234", data_coding: int = 0) -> SmsDeliver:
    return SmsDeliver(originator=originator, data_coding=data_coding, user_data=gsm7.encode(text))


def parts_of(
    text: str | bytes, *, reference: int = 7, ports: PortAddress | None = None
) -> list[SmsDeliver]:
    segmented = split(text, reference=reference, ports=ports)
    return [
        SmsDeliver(
            originator="1234",
            data_coding=segmented.data_coding,
            user_data=part.short_message,
            has_udh=part.has_udh,
        )
        for part in segmented.parts
    ]


def test_plain_message_is_stored_with_its_text() -> None:
    handset = Handset(MSISDN)
    assert handset.receive(deliver("hello"), network="23410") is Reception.STORED
    (message,) = handset.inbox
    assert message.text == "hello"
    assert message.originator == "1234"
    assert message.network == "23410"
    assert not message.is_flash


def test_concatenated_parts_are_reassembled_in_any_order() -> None:
    text = "x" * 300 + "end"
    parts = parts_of(text)
    assert len(parts) == 2
    handset = Handset(MSISDN)
    assert handset.receive(parts[1]) is Reception.PART_HELD
    assert handset.inbox == ()
    assert handset.receive(parts[1]) is Reception.DUPLICATE
    assert handset.receive(parts[0]) is Reception.STORED
    (message,) = handset.inbox
    assert message.text == text
    assert message.parts == 2
    assert handset.receive(parts[0]) is Reception.DUPLICATE  # a late retransmission
    assert len(handset.inbox) == 1


def test_ucs2_long_message_is_reassembled() -> None:
    text = "Привет, мир! " * 10
    handset = Handset(MSISDN)
    outcomes = [handset.receive(p) for p in parts_of(text)]
    assert outcomes[-1] is Reception.STORED
    assert handset.inbox[0].text == text


def test_class_0_is_displayed_not_stored() -> None:
    handset = Handset(MSISDN, capacity=0)  # no memory at all: a flash message still shows
    assert handset.receive(deliver("flash!", data_coding=0x10)) is Reception.DISPLAYED
    assert handset.inbox == ()
    (shown,) = handset.flash
    assert shown.is_flash and shown.message_class is MessageClass.CLASS_0
    assert shown.text == "flash!"


def test_port_addressed_message_goes_to_its_application() -> None:
    handsets = Handsets()
    got: list[PortMessage] = []
    handsets.register_port(3590, got.append)
    handset = handsets.get(MSISDN)
    payload = bytes(range(200))  # long binary: two parts, each with the port IE
    for part in parts_of(payload, ports=PortAddress(3590, 3590)):
        handset.receive(part)
    assert handset.inbox == ()
    (message,) = got
    assert message.payload == payload
    assert (message.destination_port, message.originator_port) == (3590, 3590)
    assert message.msisdn == MSISDN


def test_port_without_application_lands_in_the_inbox_marked() -> None:
    handset = Handset(MSISDN)
    (part,) = parts_of(b"\x01\x02", ports=PortAddress(2948, 9200))
    assert handset.receive(part) is Reception.STORED
    assert handset.inbox[0].port == PortAddress(2948, 9200)


def test_own_port_handler_overrides_the_shared_one() -> None:
    handsets = Handsets()
    shared: list[PortMessage] = []
    own: list[PortMessage] = []
    handsets.register_port(3590, shared.append)
    handset = handsets.get(MSISDN)
    handset.register_port(3590, own.append)
    (part,) = parts_of(b"hi", ports=PortAddress(3590, 0))
    assert handset.receive(part) is Reception.TO_APPLICATION
    assert len(own) == 1 and not shared


def test_memory_full_refuses_then_free_memory_reports_once() -> None:
    available: list[int] = []
    handset = Handset(MSISDN, capacity=2, on_memory_available=available.append)
    assert handset.receive(deliver("one")) is Reception.STORED
    assert handset.receive(deliver("two")) is Reception.STORED
    assert handset.is_memory_full
    assert handset.receive(deliver("three")) is Reception.MEMORY_FULL
    assert handset.memory_exceeded_reported
    assert handset.free_memory(1) == 1
    assert available == [MSISDN]
    assert handset.free_memory() == 1
    assert available == [MSISDN]  # reported once, not on every deletion


def test_free_memory_without_a_refusal_reports_nothing() -> None:
    available: list[int] = []
    handset = Handset(MSISDN, capacity=2, on_memory_available=available.append)
    handset.receive(deliver("one"))
    handset.free_memory()
    assert available == []


def test_parts_of_a_started_message_are_taken_when_memory_fills() -> None:
    handset = Handset(MSISDN, capacity=2)
    handset.receive(deliver("one"))
    parts = parts_of("y" * 200)
    assert handset.receive(parts[0]) is Reception.PART_HELD
    handset.receive(deliver("two"))  # memory is full now
    assert handset.receive(parts[1]) is Reception.STORED  # the started message completes
    assert handset.receive(deliver("three")) is Reception.MEMORY_FULL


def test_broken_udh_is_a_protocol_error() -> None:
    handset = Handset(MSISDN)
    sm = SmsDeliver(originator="1", user_data=b"\x09\x00\x03", has_udh=True)
    assert handset.receive(sm) is Reception.PROTOCOL_ERROR


def test_incomplete_message_is_dropped_after_the_timeout() -> None:
    clock = FakeClock()
    handset = Handset(MSISDN, clock=clock, reassembly_timeout=60)
    handset.receive(parts_of("z" * 200)[0])
    clock.now += 61
    handset.receive(deliver("later"))
    assert handset.dropped_incomplete == 1
    assert [m.text for m in handset.inbox] == ["later"]


def test_compose_short_text_is_one_gsm7_submit() -> None:
    handset = Handset(MSISDN)
    (submit,) = handset.compose("447700900002", "hi there")
    assert submit.destination == "447700900002"
    assert submit.data_coding == 0 and not submit.has_udh
    assert submit.user_data == gsm7.encode("hi there")


def test_compose_long_unicode_text_is_concatenated_ucs2() -> None:
    handset = Handset(MSISDN)
    submits = handset.compose("447700900002", "日本語" * 30)
    assert len(submits) == 2
    assert all(s.has_udh and s.data_coding == 0x08 for s in submits)
    assert [s.reference for s in submits] == [0, 1]  # TP-MR counts every SMS-SUBMIT
    # and a receiving handset reassembles them
    receiver = Handset(2)
    for s in submits:
        receiver.receive(
            SmsDeliver(
                originator="44", data_coding=s.data_coding, user_data=s.user_data, has_udh=True
            )
        )
    assert receiver.inbox[0].text == "日本語" * 30


def test_compose_port_addressed_binary() -> None:
    handset = Handset(MSISDN)
    (submit,) = handset.compose("5000", b"\x00\x01", port=3590, originator_port=3590)
    assert submit.has_udh
    assert submit.user_data.startswith(bytes.fromhex("0605040e060e06"))


async def test_send_stops_at_the_first_refused_part() -> None:
    sent: list[SmsSubmit] = []
    refusal = MapError(MapErrorCode.SM_DELIVERY_FAILURE, cause=DeliveryFailureCause.SC_CONGESTION)

    async def mo(msisdn: int, submit: SmsSubmit) -> MapError | None:
        sent.append(submit)
        return refusal if len(sent) == 2 else None

    handset = Handset(MSISDN, mo_sender=mo)
    answers = await handset.send(handset.compose("5000", "w" * 400))
    assert answers == [None, refusal]
    assert len(sent) == 2


async def test_send_without_a_network_raises() -> None:
    with pytest.raises(RuntimeError):
        await Handset(MSISDN).send(Handset(MSISDN).compose("1", "x"))


def test_delete_old_makes_room_instead_of_refusing() -> None:
    handset = Handset(MSISDN, capacity=2, delete_old=True)
    for text in ("one", "two", "three"):
        assert handset.receive(deliver(text)) is Reception.STORED
    assert [m.text for m in handset.inbox] == ["two", "three"]
    assert not handset.is_memory_full


def test_least_recently_used_handsets_are_forgotten() -> None:
    handsets = Handsets(max_handsets=2)
    first = handsets.get(1)
    handsets.get(2)
    handsets.get(1)  # used again: 2 is now the oldest
    handsets.get(3)
    assert handsets.find(2) is None
    assert handsets.find(1) is first
    assert len(handsets) == 2
