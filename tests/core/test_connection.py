"""The sans-IO session machine: binds, state rules, versions, windows, sequence numbers, outbind,
malformed input (digest §1.2, §1.9, §1.10, §2). Timers and unbind are in test_connection_timers."""

from __future__ import annotations

import struct

import pytest

from opensmsc.smpp.codec import encode
from opensmsc.smpp.connection import MAX_SEQUENCE_NUMBER, Connection, SessionConfig
from opensmsc.smpp.constants import CommandId, CommandStatus, Tag
from opensmsc.smpp.errors import (
    InvalidStateError,
    LocalProtocolError,
    RemoteProtocolError,
    WindowFull,
)
from opensmsc.smpp.events import (
    AlertReceived,
    BindRequested,
    Bound,
    ConnectionTerminated,
    DataSmReceived,
    DeliverReceived,
    OutbindReceived,
    ProtocolViolation,
    RequestReceived,
    ResponseReceived,
    SubmitReceived,
    TerminationReason,
    Unbound,
)
from opensmsc.smpp.pdu import (
    AlertNotification,
    BindReceiver,
    BindTransceiver,
    BindTransceiverResp,
    BindTransmitter,
    BindTransmitterResp,
    DataSm,
    DeliverSm,
    EnquireLink,
    GenericNack,
    Outbind,
    SubmitSm,
    SubmitSmResp,
    Unbind,
)
from opensmsc.smpp.states import BindMode, Role, SessionState
from opensmsc.smpp.tlv import Tlvs
from tests.core.smpp_pair import SmppPair, config, decode_stream, of_type

S = CommandStatus
C = CommandId
SUBMIT = SubmitSm(source_addr="4412", destination_addr="4479000000", short_message=b"hi")


def _answers(pair: SmppPair, side: str) -> list[tuple[int, int, int]]:
    """(sequence_number, command_id, status) of everything `side` sent."""
    return [(w.sequence_number, w.command_id, w.status) for w in pair.wire if w.sender == side]


# -- binding -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "state"),
    [
        (BindMode.TRANSMITTER, SessionState.BOUND_TX),
        (BindMode.RECEIVER, SessionState.BOUND_RX),
        (BindMode.TRANSCEIVER, SessionState.BOUND_TRX),
    ],
)
def test_bind_moves_both_sides_to_bound(mode: BindMode, state: SessionState) -> None:
    pair = SmppPair()
    pumped = pair.bind(mode)
    assert pair.esme.state is state
    assert pair.smsc.state is state
    (bound,) = of_type(pumped.esme, Bound)
    assert bound == Bound(mode=mode, peer_system_id="smsc", interface_version=0x34)
    (requested,) = of_type(pumped.smsc, BindRequested)
    assert requested.pdu.system_id == "esme"
    assert requested.pdu.password == "secret"


def test_esme_is_binding_until_the_response() -> None:
    pair = SmppPair()
    pair.esme.send_request(BindTransceiver(system_id="a"), now=pair.clock.now)
    assert pair.esme.is_binding
    pumped = pair.pump()
    assert pair.esme.state is SessionState.OPEN  # the SMSC has not answered yet
    assert pair.smsc.is_binding
    with pytest.raises(InvalidStateError):
        pair.esme.send_request(BindTransmitter(system_id="a"), now=pair.clock.now)
    (requested,) = of_type(pumped.smsc, BindRequested)
    pair.smsc.respond(requested, requested.pdu.response(system_id="smsc"))
    pair.pump()
    assert not pair.esme.is_binding
    assert pair.esme.state is SessionState.BOUND_TRX


def test_rejected_bind_stays_open_and_may_be_retried() -> None:
    pair = SmppPair()
    pair.esme.send_request(BindTransmitter(system_id="a", password="wrong"), now=pair.clock.now)
    (requested,) = of_type(pair.pump().smsc, BindRequested)
    pair.smsc.reject(requested, S.ESME_RINVPASWD)
    pumped = pair.pump()
    (response,) = of_type(pumped.esme, ResponseReceived)
    assert response.response.command_status == S.ESME_RINVPASWD
    assert not of_type(pumped.esme, Bound)
    assert pair.states() == (SessionState.OPEN, SessionState.OPEN)
    pair.bind(BindMode.TRANSMITTER)
    assert pair.states() == (SessionState.BOUND_TX, SessionState.BOUND_TX)


def test_second_bind_gets_ralybnd() -> None:
    pair = SmppPair()
    pair.bind()
    with pytest.raises(InvalidStateError):
        pair.esme.send_request(BindTransmitter(), now=pair.clock.now)
    events = pair.inject_pdu("smsc", BindTransmitter(system_id="again"), 99)
    (violation,) = of_type(events, ProtocolViolation)
    assert violation.status == S.ESME_RALYBND
    assert [(s, c, st) for s, c, st, _ in pair.take("smsc")] == [
        (99, C.BIND_TRANSMITTER_RESP, S.ESME_RALYBND)
    ]
    assert pair.smsc.state is SessionState.BOUND_TRX


def test_bind_while_a_bind_is_pending_gets_ralybnd() -> None:
    pair = SmppPair()
    pair.esme.send_request(BindTransmitter(), now=pair.clock.now)
    pair.pump()
    events = pair.inject_pdu("smsc", BindReceiver(), 50)
    assert of_type(events, ProtocolViolation)[0].status == S.ESME_RALYBND
    assert [(s, c, st) for s, c, st, _ in pair.take("smsc")] == [
        (50, C.BIND_RECEIVER_RESP, S.ESME_RALYBND)
    ]


def test_submit_before_bind_gets_rinvbndsts_and_session_lives() -> None:
    pair = SmppPair()
    events = pair.inject_pdu("smsc", SUBMIT, 7)
    (violation,) = of_type(events, ProtocolViolation)
    assert (violation.sequence_number, violation.status) == (7, S.ESME_RINVBNDSTS)
    assert [(s, c, st) for s, c, st, _ in pair.take("smsc")] == [
        (7, C.SUBMIT_SM_RESP, S.ESME_RINVBNDSTS)
    ]
    assert not of_type(events, RequestReceived)
    pair.bind()
    assert pair.smsc.state is SessionState.BOUND_TRX


def test_esme_cannot_submit_before_bind() -> None:
    pair = SmppPair()
    with pytest.raises(InvalidStateError):
        pair.esme.send_request(SUBMIT, now=pair.clock.now)
    assert pair.esme.data_to_send() == b""


def test_receiver_cannot_submit_and_transmitter_gets_no_deliver() -> None:
    rx = SmppPair()
    rx.bind(BindMode.RECEIVER)
    with pytest.raises(InvalidStateError):
        rx.esme.send_request(SUBMIT, now=rx.clock.now)
    events = rx.inject_pdu("smsc", SUBMIT, 3)
    assert of_type(events, ProtocolViolation)[0].status == S.ESME_RINVBNDSTS
    tx = SmppPair()
    tx.bind(BindMode.TRANSMITTER)
    with pytest.raises(InvalidStateError):
        tx.smsc.send_request(DeliverSm(), now=tx.clock.now)
    events = tx.inject_pdu("esme", DeliverSm(), 4)
    assert of_type(events, ProtocolViolation)[0].status == S.ESME_RINVBNDSTS
    assert [(s, c, st) for s, c, st, _ in tx.take("esme")] == [
        (4, C.DELIVER_SM_RESP, S.ESME_RINVBNDSTS)
    ]


def test_submit_and_deliver_round_trip() -> None:
    pair = SmppPair()
    pair.bind()
    seq = pair.esme.send_request(SUBMIT, now=pair.clock.now)
    (submit,) = of_type(pair.pump().smsc, SubmitReceived)
    assert submit.pdu == SUBMIT
    assert submit.sequence_number == seq
    pair.smsc.respond(submit, submit.pdu.response(message_id="m1"))
    (answer,) = of_type(pair.pump().esme, ResponseReceived)
    assert answer.sequence_number == seq
    assert answer.request == SUBMIT
    assert answer.response == SubmitSmResp(message_id="m1")
    assert pair.esme.in_flight == 0

    deliver = DeliverSm(source_addr="4479", destination_addr="4412", short_message=b"yo")
    pair.smsc.send_request(deliver, now=pair.clock.now)
    (received,) = of_type(pair.pump().esme, DeliverReceived)
    pair.esme.respond(received, received.pdu.response())
    (answered,) = of_type(pair.pump().smsc, ResponseReceived)
    assert answered.response.command_status == 0


def test_data_sm_goes_both_ways_on_a_transceiver() -> None:
    pair = SmppPair()
    pair.bind()
    pair.esme.send_request(DataSm(destination_addr="1"), now=pair.clock.now)
    pair.smsc.send_request(DataSm(destination_addr="2"), now=pair.clock.now)
    pumped = pair.pump()
    assert len(of_type(pumped.smsc, DataSmReceived)) == 1
    assert len(of_type(pumped.esme, DataSmReceived)) == 1


def test_respond_twice_or_with_the_wrong_pdu_is_our_bug() -> None:
    pair = SmppPair()
    pair.bind()
    pair.esme.send_request(SUBMIT, now=pair.clock.now)
    (submit,) = of_type(pair.pump().smsc, SubmitReceived)
    with pytest.raises(LocalProtocolError):
        pair.smsc.respond(submit, BindTransceiverResp())
    pair.smsc.respond(submit, submit.pdu.response(message_id="1"))
    with pytest.raises(LocalProtocolError):
        pair.smsc.respond(submit, submit.pdu.response(message_id="1"))


def test_generic_nack_answers_a_request() -> None:
    pair = SmppPair()
    pair.bind()
    seq = pair.esme.send_request(SUBMIT, now=pair.clock.now)
    pair.pump()
    events = pair.inject_pdu("esme", GenericNack(command_status=S.ESME_RSYSERR), seq)
    (answer,) = of_type(events, ResponseReceived)
    assert answer.response == GenericNack(command_status=S.ESME_RSYSERR)
    assert pair.esme.in_flight == 0


def test_response_to_nothing_is_a_violation_without_answer() -> None:
    pair = SmppPair()
    pair.bind()
    events = pair.inject_pdu("esme", SubmitSmResp(message_id="x"), 12345)
    (violation,) = of_type(events, ProtocolViolation)
    assert (violation.sequence_number, violation.status) == (12345, 0)
    assert pair.esme.data_to_send() == b""


# -- interface_version --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("offered", "negotiated"),
    [(0x00, 0x33), (0x33, 0x33), (0x34, 0x34), (0x40, 0x34), (0x50, 0x50), (0x51, 0x50)],
)
def test_interface_version_is_negotiated_down(offered: int, negotiated: int) -> None:
    pair = SmppPair()
    pumped = pair.bind(BindMode.TRANSMITTER, interface_version=offered)
    assert pair.smsc.interface_version == negotiated
    assert pair.esme.interface_version == negotiated
    assert of_type(pumped.esme, Bound)[0].interface_version == negotiated
    (bind_resp,) = [w for w in pair.sent_by("smsc") if w.command_id == C.BIND_TRANSMITTER_RESP]
    assert isinstance(bind_resp.pdu, BindTransmitterResp)
    tlvs = bind_resp.pdu.tlvs
    if negotiated == 0x33:
        assert tlvs == Tlvs()  # no TLVs at all for a 3.3 peer
    else:
        assert tlvs.get(Tag.SC_INTERFACE_VERSION) == 0x50


def test_smsc_reports_its_own_lower_version() -> None:
    pair = SmppPair(smsc=config(Role.SMSC, interface_version=0x34))
    pair.bind(interface_version=0x50)
    assert pair.smsc.interface_version == 0x34
    assert pair.esme.interface_version == 0x34


def test_esme_keeps_its_version_when_sc_interface_version_is_absent() -> None:
    esme = Connection(config(Role.ESME), now=0.0)
    seq = esme.send_request(BindTransceiver(interface_version=0x34), now=0.0)
    esme.data_to_send()
    events = esme.receive_data(encode(BindTransceiverResp(system_id="old"), seq), now=0.0)
    assert of_type(events, Bound)[0].interface_version == 0x34


def test_esme_goes_down_to_33_when_the_smsc_says_so() -> None:
    esme = Connection(config(Role.ESME), now=0.0)
    seq = esme.send_request(BindTransmitter(interface_version=0x34), now=0.0)
    esme.data_to_send()
    resp = BindTransceiverResp(tlvs=Tlvs(((Tag.SC_INTERFACE_VERSION, 0x33),)))
    frame = bytearray(encode(resp, seq))
    frame[4:8] = struct.pack(">I", C.BIND_TRANSMITTER_RESP)
    events = esme.receive_data(bytes(frame), now=0.0)
    assert of_type(events, Bound)[0].interface_version == 0x33
    tagged = SubmitSm(tlvs=Tlvs(((Tag.USER_MESSAGE_REFERENCE, 7),)))
    esme.send_request(tagged, now=0.0)
    ((_, _, _, sent),) = decode_stream(esme.data_to_send())
    assert sent == SubmitSm()


# -- SMPP 3.3 peers -----------------------------------------------------------------------------


def test_no_tlvs_are_sent_to_a_33_peer() -> None:
    pair = SmppPair()
    pair.bind(BindMode.TRANSMITTER, interface_version=0x33)
    tagged = SubmitSm(destination_addr="1", tlvs=Tlvs(((Tag.USER_MESSAGE_REFERENCE, 7),)))
    pair.esme.send_request(tagged, now=pair.clock.now)
    (submit,) = of_type(pair.pump().smsc, SubmitReceived)
    assert submit.pdu == SubmitSm(destination_addr="1")
    pair.smsc.respond(submit, SubmitSmResp(message_id="1", tlvs=Tlvs(((Tag.DPF_RESULT, 1),))))
    (answer,) = of_type(pair.pump().esme, ResponseReceived)
    assert answer.response == SubmitSmResp(message_id="1")

    rx = SmppPair()
    rx.bind(BindMode.RECEIVER, interface_version=0x33)
    receipt = DeliverSm(esm_class=0x04, tlvs=Tlvs(((Tag.RECEIPTED_MESSAGE_ID, "abc"),)))
    rx.smsc.send_request(receipt, now=rx.clock.now)
    (deliver,) = of_type(rx.pump().esme, DeliverReceived)
    assert deliver.pdu == DeliverSm(esm_class=0x04)


def test_33_has_no_bind_transceiver() -> None:
    pair = SmppPair()
    with pytest.raises(InvalidStateError):
        pair.esme.send_request(BindTransceiver(interface_version=0x33), now=pair.clock.now)
    events = pair.inject_pdu("smsc", BindTransceiver(interface_version=0x33), 5)
    assert of_type(events, ProtocolViolation)[0].status == S.ESME_RINVCMDID
    assert not of_type(events, BindRequested)
    assert [(s, c, st) for s, c, st, _ in pair.take("smsc")] == [
        (5, C.GENERIC_NACK, S.ESME_RINVCMDID)
    ]
    esme33 = Connection(config(Role.ESME, interface_version=0x33), now=0.0)
    with pytest.raises(InvalidStateError):
        esme33.send_request(BindTransceiver(interface_version=0x34), now=0.0)


def test_data_sm_from_a_33_peer_gets_rinvcmdid() -> None:
    pair = SmppPair()
    pair.bind(BindMode.TRANSMITTER, interface_version=0x33)
    with pytest.raises(InvalidStateError):
        pair.esme.send_request(DataSm(), now=pair.clock.now)
    events = pair.inject_pdu("smsc", DataSm(), 8)
    assert of_type(events, ProtocolViolation)[0].status == S.ESME_RINVCMDID
    assert [(s, c, st) for s, c, st, _ in pair.take("smsc")] == [
        (8, C.GENERIC_NACK, S.ESME_RINVCMDID)
    ]


# -- sequence numbers ---------------------------------------------------------------------------


def test_sequence_numbers_start_at_one_and_count_up() -> None:
    pair = SmppPair()
    assert pair.esme.send_request(BindTransceiver(), now=pair.clock.now) == 1
    pair.pump()
    pair.smsc.respond(
        of_type(pair.smsc_events, BindRequested)[0], BindTransceiverResp(system_id="s")
    )
    pair.pump()
    assert [pair.esme.send_request(SUBMIT, now=pair.clock.now) for _ in range(3)] == [2, 3, 4]


def test_sequence_numbers_wrap_to_one() -> None:
    pair = SmppPair(window=5)
    pair.bind()
    # Reaching 0x7FFFFFFF honestly takes 2^31 requests; start near it instead.
    pair.esme._window._next = MAX_SEQUENCE_NUMBER - 1
    seqs = [pair.esme.send_request(SUBMIT, now=pair.clock.now) for _ in range(3)]
    assert seqs == [MAX_SEQUENCE_NUMBER - 1, MAX_SEQUENCE_NUMBER, 1]
    submits = of_type(pair.pump().smsc, SubmitReceived)
    for submit in submits:
        pair.smsc.respond(submit, submit.pdu.response(message_id=str(submit.sequence_number)))
    answers = of_type(pair.pump().esme, ResponseReceived)
    assert [(a.sequence_number, a.response) for a in answers] == [
        (s, SubmitSmResp(message_id=str(s))) for s in seqs
    ]


def test_wrapped_sequence_numbers_skip_requests_still_open() -> None:
    pair = SmppPair(window=5)
    pair.bind()
    pair.esme._window._next = MAX_SEQUENCE_NUMBER
    assert pair.esme.send_request(SUBMIT, now=pair.clock.now) == MAX_SEQUENCE_NUMBER
    # Sequence number 2 is the open request of an imaginary earlier lap: put one there.
    pair.esme._window._next = 2
    assert pair.esme.send_request(SUBMIT, now=pair.clock.now) == 2
    pair.esme._window._next = 1
    assert pair.esme.send_request(SUBMIT, now=pair.clock.now) == 1
    assert pair.esme.send_request(SUBMIT, now=pair.clock.now) == 3


# -- windows -----------------------------------------------------------------------------------


def test_our_window_full_raises_window_full() -> None:
    pair = SmppPair(window=2)
    pair.bind()
    pair.esme.send_request(SUBMIT, now=pair.clock.now)
    assert pair.esme.can_send
    pair.esme.send_request(SUBMIT, now=pair.clock.now)
    assert not pair.esme.can_send
    with pytest.raises(WindowFull):
        pair.esme.send_request(SUBMIT, now=pair.clock.now)
    # enquire_link is outside the window (digest §1.9).
    pair.esme.send_request(EnquireLink(), now=pair.clock.now)
    assert pair.esme.in_flight == 3
    submits = of_type(pair.pump().smsc, SubmitReceived)
    pair.smsc.respond(submits[0], submits[0].pdu.response(message_id="a"))
    pair.pump()
    assert pair.esme.can_send
    assert pair.esme.in_flight == 1


def test_requests_beyond_peer_window_are_throttled() -> None:
    pair = SmppPair(esme=config(Role.ESME, window=5), smsc=config(Role.SMSC, peer_window=2))
    pair.bind()
    seqs = [pair.esme.send_request(SUBMIT, now=pair.clock.now) for _ in range(3)]
    pumped = pair.pump()
    assert [e.sequence_number for e in of_type(pumped.smsc, SubmitReceived)] == seqs[:2]
    (violation,) = of_type(pumped.smsc, ProtocolViolation)
    assert (violation.sequence_number, violation.status) == (seqs[2], S.ESME_RTHROTTLED)
    (throttled,) = of_type(pumped.esme, ResponseReceived)
    assert throttled.sequence_number == seqs[2]
    assert throttled.response.command_status == S.ESME_RTHROTTLED
    assert pair.smsc.peer_in_flight == 2
    # Answering one frees a slot in the peer window.
    first = of_type(pumped.smsc, SubmitReceived)[0]
    pair.smsc.respond(first, first.pdu.response(message_id="1"))
    pair.esme.send_request(SUBMIT, now=pair.clock.now)
    assert len(of_type(pair.pump().smsc, SubmitReceived)) == 1


def test_throttle_status_may_be_rmsgqful() -> None:
    smsc = config(Role.SMSC, peer_window=1, throttle_status=S.ESME_RMSGQFUL)
    pair = SmppPair(esme=config(Role.ESME, window=5), smsc=smsc)
    pair.bind()
    pair.esme.send_request(SUBMIT, now=pair.clock.now)
    pair.esme.send_request(SUBMIT, now=pair.clock.now)
    (answer,) = of_type(pair.pump().esme, ResponseReceived)
    assert answer.response.command_status == S.ESME_RMSGQFUL


def test_enquire_link_is_answered_with_a_full_peer_window() -> None:
    pair = SmppPair(esme=config(Role.ESME, window=5), smsc=config(Role.SMSC, peer_window=1))
    pair.bind()
    pair.esme.send_request(SUBMIT, now=pair.clock.now)
    pair.pump()
    assert pair.smsc.peer_in_flight == 1
    seq = pair.esme.send_request(EnquireLink(), now=pair.clock.now)
    pumped = pair.pump()
    (answer,) = of_type(pumped.esme, ResponseReceived)
    assert answer.sequence_number == seq
    assert answer.response.command_id == C.ENQUIRE_LINK_RESP
    assert not of_type(pumped.smsc, ProtocolViolation)


# -- outbind and alert_notification ---------------------------------------------------------------


def test_smsc_outbind_then_esme_binds_receiver() -> None:
    pair = SmppPair()
    pair.smsc.send_request(Outbind(system_id="esme", password="pw"), now=pair.clock.now)
    assert pair.smsc.state is SessionState.OUTBOUND
    pumped = pair.pump()
    (outbind,) = of_type(pumped.esme, OutbindReceived)
    assert outbind.pdu == Outbind(system_id="esme", password="pw")
    assert pair.esme.state is SessionState.OUTBOUND
    with pytest.raises(InvalidStateError):
        pair.esme.send_request(BindTransmitter(), now=pair.clock.now)
    with pytest.raises(InvalidStateError):  # 3.4: bind_receiver only
        pair.esme.send_request(BindTransceiver(interface_version=0x34), now=pair.clock.now)
    pair.bind(BindMode.RECEIVER)
    assert pair.states() == (SessionState.BOUND_RX, SessionState.BOUND_RX)


def test_outbind_answered_by_bind_transceiver_in_50() -> None:
    pair = SmppPair()
    pair.smsc.send_request(Outbind(system_id="esme"), now=pair.clock.now)
    pair.pump()
    pair.bind(BindMode.TRANSCEIVER, interface_version=0x50)
    assert pair.esme.state is SessionState.BOUND_TRX
    assert pair.smsc.state is SessionState.BOUND_TRX


def test_smsc_after_outbind_refuses_other_binds() -> None:
    pair = SmppPair()
    pair.smsc.send_request(Outbind(), now=pair.clock.now)
    pair.pump()
    events = pair.inject_pdu("smsc", BindTransmitter(), 9)
    events += pair.inject_pdu("smsc", BindTransceiver(interface_version=0x34), 10)
    assert [v.status for v in of_type(events, ProtocolViolation)] == [S.ESME_RINVBNDSTS] * 2
    assert [(s, c, st) for s, c, st, _ in pair.take("smsc")] == [
        (9, C.BIND_TRANSMITTER_RESP, S.ESME_RINVBNDSTS),
        (10, C.BIND_TRANSCEIVER_RESP, S.ESME_RINVBNDSTS),
    ]


def test_outbind_to_an_smsc_is_refused_with_generic_nack() -> None:
    pair = SmppPair()
    events = pair.inject_pdu("smsc", Outbind(), 4)
    assert of_type(events, ProtocolViolation)[0].status == S.ESME_RINVBNDSTS
    assert [(s, c, st) for s, c, st, _ in pair.take("smsc")] == [
        (4, C.GENERIC_NACK, S.ESME_RINVBNDSTS)
    ]
    assert pair.smsc.state is SessionState.OPEN


def test_alert_notification_has_no_response() -> None:
    pair = SmppPair()
    pair.bind(BindMode.RECEIVER)
    pair.smsc.send_request(AlertNotification(source_addr="4479"), now=pair.clock.now)
    pumped = pair.pump()
    (alert,) = of_type(pumped.esme, AlertReceived)
    assert alert.pdu.source_addr == "4479"
    assert pair.smsc.in_flight == 0
    assert [w.command_id for w in pair.sent_by("esme")][-1] != C.ALERT_NOTIFICATION | 0x80000000


# -- malformed input ---------------------------------------------------------------------------


@pytest.mark.parametrize("length", [0, 15, 2**31, 0xFFFFFFFF])
def test_bad_command_length_queues_generic_nack_and_raises(length: int) -> None:
    pair = SmppPair()
    pair.bind()
    header = struct.pack(">IIII", length, C.SUBMIT_SM, 0, 77)
    with pytest.raises(RemoteProtocolError) as raised:
        pair.smsc.receive_data(header, now=pair.clock.now)
    assert raised.value.status == S.ESME_RINVCMDLEN
    assert [(s, c, st) for s, c, st, _ in pair.take("smsc")] == [
        (77, C.GENERIC_NACK, S.ESME_RINVCMDLEN)
    ]
    assert pair.smsc.state is SessionState.CLOSED
    assert pair.smsc.next_deadline() is None


def test_bad_command_length_without_a_readable_sequence_number() -> None:
    conn = Connection(config(Role.SMSC), now=0.0)
    with pytest.raises(RemoteProtocolError):
        conn.receive_data(b"\x00\x00\x00\x03", now=0.0)
    assert [(s, c, st) for s, c, st, _ in decode_stream(conn.data_to_send())] == [
        (0, C.GENERIC_NACK, S.ESME_RINVCMDLEN)
    ]


def test_unknown_command_id_gets_generic_nack_and_the_session_lives() -> None:
    pair = SmppPair()
    pair.bind()
    events = pair.inject("smsc", struct.pack(">IIII", 16, 0x00000099, 0, 42))
    (violation,) = of_type(events, ProtocolViolation)
    assert (violation.sequence_number, violation.command_id) == (42, 0x99)
    assert violation.status == S.ESME_RINVCMDID
    assert [(s, c, st) for s, c, st, _ in pair.take("smsc")] == [
        (42, C.GENERIC_NACK, S.ESME_RINVCMDID)
    ]
    pair.esme.send_request(SUBMIT, now=pair.clock.now)
    assert of_type(pair.pump().smsc, SubmitReceived)


def test_malformed_submit_gets_its_own_response_with_the_error() -> None:
    pair = SmppPair(smsc=config(Role.SMSC, strict=True))
    pair.bind()
    frame = bytearray(encode(SubmitSm(destination_addr="1", short_message=b"abc"), 31))
    frame[-4] = 9  # sm_length 9 where only 3 octets follow: the body is inconsistent
    events = pair.inject("smsc", bytes(frame))
    (violation,) = of_type(events, ProtocolViolation)
    assert violation.sequence_number == 31
    assert not of_type(events, SubmitReceived)
    ((seq, cid, status, _),) = pair.take("smsc")
    assert (seq, cid) == (31, C.SUBMIT_SM_RESP)
    assert status == violation.status != 0
    pair.esme.send_request(SUBMIT, now=pair.clock.now)
    assert of_type(pair.pump().smsc, SubmitReceived)


def test_peer_closing_terminates_once() -> None:
    pair = SmppPair()
    pair.bind()
    events = pair.esme.receive_data(b"", now=pair.clock.now)
    assert events == [ConnectionTerminated(reason=TerminationReason.PEER_CLOSED)]
    assert pair.esme.state is SessionState.CLOSED
    assert pair.esme.receive_data(b"", now=pair.clock.now) == []
    assert pair.esme.receive_data(encode(EnquireLink(), 1), now=pair.clock.now) == []
    with pytest.raises(InvalidStateError):
        pair.esme.send_request(SUBMIT, now=pair.clock.now)


def test_respond_after_the_session_ended_does_nothing() -> None:
    pair = SmppPair()
    pair.bind()
    pair.esme.send_request(SUBMIT, now=pair.clock.now)
    (submit,) = of_type(pair.pump().smsc, SubmitReceived)
    pair.smsc.receive_data(b"", now=pair.clock.now)
    pair.smsc.respond(submit, submit.pdu.response(message_id="late"))
    assert pair.smsc.data_to_send() == b""


def test_reused_sequence_number_is_reported_and_both_are_answered() -> None:
    pair = SmppPair()
    pair.bind()
    events = pair.inject_pdu("smsc", SUBMIT, 5) + pair.inject_pdu("smsc", SUBMIT, 5)
    submits = of_type(events, SubmitReceived)
    assert len(submits) == 2
    assert of_type(events, ProtocolViolation)[0].sequence_number == 5
    assert pair.smsc.peer_in_flight == 2
    for submit in submits:
        pair.smsc.respond(submit, submit.pdu.response(message_id="x"))
    assert pair.smsc.peer_in_flight == 0
    assert len(pair.take("smsc")) == 2


def test_session_config_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="window"):
        SessionConfig(role=Role.ESME, window=0)
    with pytest.raises(ValueError, match="interface_version"):
        SessionConfig(role=Role.ESME, interface_version=0x40)


def test_enquire_link_is_answered_before_bind() -> None:
    # SMPP 5.0 §2.3 allows enquire_link in OPEN; we answer it from any peer.
    pair = SmppPair()
    assert pair.inject_pdu("smsc", EnquireLink(), 6) == []
    assert [(s, c, st) for s, c, st, _ in pair.take("smsc")] == [(6, C.ENQUIRE_LINK_RESP, 0)]


def test_smsc_knows_the_negotiated_version_before_answering_the_bind() -> None:
    pair = SmppPair()
    pair.esme.send_request(BindTransmitter(interface_version=0x33), now=pair.clock.now)
    (requested,) = of_type(pair.pump().smsc, BindRequested)
    assert pair.smsc.interface_version == 0x33
    pair.smsc.reject(requested, S.ESME_RBINDFAIL)
    assert pair.smsc.interface_version == 0x50  # back to ours: the next bind may differ
    pair.pump()
    assert pair.esme.state is SessionState.OPEN


def test_send_request_unbind_is_the_graceful_unbind() -> None:
    pair = SmppPair()
    pair.bind()
    pair.esme.send_request(Unbind(), now=pair.clock.now)
    pumped = pair.pump()
    assert pumped.esme == [Unbound(), ConnectionTerminated(reason=TerminationReason.UNBOUND)]


def test_set_peer_window_changes_when_the_peer_is_throttled() -> None:
    pair = SmppPair(esme=config(Role.ESME, window=5), smsc=config(Role.SMSC, peer_window=10))
    pair.bind()
    pair.smsc.set_peer_window(1)  # e.g. the bound account's own window
    seqs = [pair.esme.send_request(SUBMIT, now=pair.clock.now) for _ in range(2)]
    pumped = pair.pump()
    assert [e.sequence_number for e in of_type(pumped.smsc, SubmitReceived)] == seqs[:1]
    (throttled,) = of_type(pumped.esme, ResponseReceived)
    assert throttled.response.command_status == S.ESME_RTHROTTLED
    with pytest.raises(ValueError):
        pair.smsc.set_peer_window(0)


def test_a_request_that_cannot_be_encoded_takes_no_window_slot() -> None:
    pair = SmppPair(esme=config(Role.ESME, window=1), smsc=config(Role.SMSC))
    pair.bind()
    with pytest.raises(LocalProtocolError):
        pair.esme.send_request(SubmitSm(short_message=b"x" * 256), now=pair.clock.now)
    assert pair.esme.in_flight == 0
    assert pair.esme.can_send
