"""The four timers of SMPP 3.4 §7.2 and the graceful unbind drain, on a fake clock (digest §1.9).

The exact semantics are in the docstring of opensmsc.smpp.connection; each test names one."""

from __future__ import annotations

import pytest

from opensmsc.smpp.codec import encode
from opensmsc.smpp.connection import Connection
from opensmsc.smpp.constants import CommandId, CommandStatus
from opensmsc.smpp.errors import InvalidStateError
from opensmsc.smpp.events import (
    ConnectionTerminated,
    DeliverReceived,
    ProtocolViolation,
    RequestTimedOut,
    ResponseReceived,
    SubmitReceived,
    TerminationReason,
    UnbindRequested,
    Unbound,
)
from opensmsc.smpp.pdu import (
    BindTransceiver,
    BindTransceiverResp,
    DeliverSm,
    DeliverSmResp,
    EnquireLinkResp,
    SubmitSm,
    SubmitSmResp,
    Unbind,
)
from opensmsc.smpp.states import BindMode, Role, SessionState
from tests.core.smpp_pair import SmppPair, config, decode_stream, of_type

C = CommandId
S = CommandStatus
SUBMIT = SubmitSm(destination_addr="4479000000", short_message=b"hi")


def lone_esme(**overrides: object) -> Connection:
    """A bound ESME with no peer behind it: whatever it sends goes unanswered."""
    esme = Connection(config(Role.ESME, **overrides), now=0.0)
    seq = esme.send_request(BindTransceiver(), now=0.0)
    esme.receive_data(encode(BindTransceiverResp(system_id="s"), seq), now=0.0)
    esme.data_to_send()
    assert esme.state is SessionState.BOUND_TRX
    return esme


def sent(conn: Connection) -> list[tuple[int, int, int]]:
    return [(s, c, st) for s, c, st, _ in decode_stream(conn.data_to_send())]


# -- session_init ------------------------------------------------------------------------------


def test_session_init_closes_an_unbound_session() -> None:
    pair = SmppPair(session_init_timeout=20.0)
    assert pair.smsc.next_deadline() == pair.clock.now + 20.0
    assert pair.advance(19.9).smsc == []
    pumped = pair.advance(0.1)
    expected = [ConnectionTerminated(reason=TerminationReason.SESSION_INIT_TIMEOUT)]
    assert pumped.smsc == expected
    assert pumped.esme == expected
    assert pair.smsc.state is SessionState.CLOSED
    assert pair.smsc.next_deadline() is None


def test_session_init_covers_a_bind_left_unanswered() -> None:
    pair = SmppPair(session_init_timeout=20.0)
    pair.esme.send_request(BindTransceiver(), now=pair.clock.now)
    pair.pump()  # the SMSC's service never answers
    pumped = pair.advance(20.0)
    assert of_type(pumped.smsc, ConnectionTerminated)[0].reason is (
        TerminationReason.SESSION_INIT_TIMEOUT
    )


def test_session_init_stops_once_bound() -> None:
    pair = SmppPair(session_init_timeout=20.0)
    pair.bind()
    assert pair.smsc.next_deadline() is None
    assert pair.advance(100.0).smsc == []
    assert pair.smsc.state is SessionState.BOUND_TRX


# -- enquire_link ------------------------------------------------------------------------------


def test_enquire_link_after_silence_gets_no_event() -> None:
    pair = SmppPair(esme=config(Role.ESME, enquire_link_interval=30.0))
    pair.bind()
    start = pair.clock.now
    assert pair.esme.next_deadline() == start + 30.0
    pumped = pair.advance(30.0)
    assert pumped.esme == [] and pumped.smsc == []
    assert [(w.sender, w.command_id) for w in pair.wire[-2:]] == [
        ("esme", C.ENQUIRE_LINK),
        ("smsc", C.ENQUIRE_LINK_RESP),
    ]
    assert pair.esme.in_flight == 0
    assert pair.esme.next_deadline() == start + 60.0


def test_traffic_postpones_enquire_link() -> None:
    pair = SmppPair(esme=config(Role.ESME, enquire_link_interval=30.0))
    pair.bind()
    pair.advance(20.0)
    pair.smsc.send_request(DeliverSm(), now=pair.clock.now)
    (deliver,) = of_type(pair.pump().esme, DeliverReceived)
    pair.esme.respond(deliver, deliver.pdu.response())
    pair.pump()
    pair.advance(29.0)
    assert C.ENQUIRE_LINK not in [w.command_id for w in pair.sent_by("esme")]
    pair.advance(1.0)
    assert pair.sent_by("esme")[-1].command_id == C.ENQUIRE_LINK


def test_unanswered_enquire_links_declare_the_link_dead() -> None:
    esme = lone_esme(enquire_link_interval=30.0, response_timeout=10.0, max_consecutive_timeouts=3)
    events = []
    now = 0.0
    for _ in range(20):
        deadline = esme.next_deadline()
        if deadline is None:
            break
        now = deadline
        events += esme.handle_timer(now=now)
    assert [c for _, c, _ in sent(esme)] == [C.ENQUIRE_LINK] * 3
    # 30 s of silence, then three enquire_links 10 s apart, each unanswered.
    assert now == 60.0
    assert events == [ConnectionTerminated(reason=TerminationReason.LINK_DEAD)]
    assert esme.state is SessionState.CLOSED


def test_enquire_link_response_resets_the_count() -> None:
    esme = lone_esme(enquire_link_interval=30.0, response_timeout=10.0, max_consecutive_timeouts=2)
    esme.handle_timer(now=30.0)
    esme.handle_timer(now=40.0)  # first one times out, second goes out
    ((seq, cid, _),) = sent(esme)[-1:]
    assert cid == C.ENQUIRE_LINK
    assert esme.receive_data(encode(EnquireLinkResp(), seq), now=41.0) == []
    esme.handle_timer(now=71.0)
    assert esme.handle_timer(now=81.0) == []  # one timeout in a row: alive
    assert esme.state is SessionState.BOUND_TRX


# -- response timer ----------------------------------------------------------------------------


def test_response_timeout_frees_the_slot_and_late_answers_are_violations() -> None:
    pair = SmppPair(esme=config(Role.ESME, window=1, response_timeout=10.0))
    pair.bind()
    seq = pair.esme.send_request(SUBMIT, now=pair.clock.now)
    (submit,) = of_type(pair.pump().smsc, SubmitReceived)
    assert not pair.esme.can_send
    assert pair.esme.next_deadline() == pair.clock.now + 10.0
    pumped = pair.advance(10.0)
    assert pumped.esme == [RequestTimedOut(sequence_number=seq, request=SUBMIT)]
    assert pair.esme.can_send
    pair.smsc.respond(submit, submit.pdu.response(message_id="late"))
    (violation,) = of_type(pair.pump().esme, ProtocolViolation)
    assert violation.sequence_number == seq
    assert violation.status == 0


def test_consecutive_response_timeouts_kill_the_link() -> None:
    esme = lone_esme(window=5, response_timeout=10.0, max_consecutive_timeouts=3)
    seqs = [esme.send_request(SUBMIT, now=float(t)) for t in range(3)]
    events = esme.handle_timer(now=11.0)
    assert events == [RequestTimedOut(sequence_number=s, request=SUBMIT) for s in seqs[:2]]
    events = esme.handle_timer(now=12.0)
    assert events == [
        RequestTimedOut(sequence_number=seqs[2], request=SUBMIT),
        ConnectionTerminated(reason=TerminationReason.LINK_DEAD),
    ]


def test_a_response_between_timeouts_resets_the_count() -> None:
    esme = lone_esme(window=5, response_timeout=10.0, max_consecutive_timeouts=2)
    first = esme.send_request(SUBMIT, now=0.0)
    second = esme.send_request(SUBMIT, now=1.0)
    third = esme.send_request(SUBMIT, now=2.0)
    esme.handle_timer(now=10.0)  # first times out
    esme.receive_data(encode(SubmitSmResp(message_id="x"), second), now=10.5)
    events = esme.handle_timer(now=12.0)
    assert events == [RequestTimedOut(sequence_number=third, request=SUBMIT)]
    assert esme.state is SessionState.BOUND_TRX
    assert first != third


def test_dead_link_detection_can_be_off() -> None:
    esme = lone_esme(window=5, response_timeout=1.0, max_consecutive_timeouts=None)
    for t in range(5):
        esme.send_request(SUBMIT, now=float(t))
    events = esme.handle_timer(now=100.0)
    assert len(of_type(events, RequestTimedOut)) == 5
    assert esme.state is SessionState.BOUND_TRX


# -- inactivity --------------------------------------------------------------------------------


def test_inactivity_unbinds_and_enquire_link_is_not_activity() -> None:
    pair = SmppPair(
        esme=config(Role.ESME, inactivity_timeout=100.0, enquire_link_interval=30.0),
    )
    pair.bind()
    pumped = pair.advance(99.0)
    assert [w.command_id for w in pair.sent_by("esme")].count(C.ENQUIRE_LINK) == 3
    assert pumped.esme == []
    pumped = pair.advance(1.0)
    assert pumped.esme == [
        Unbound(),
        ConnectionTerminated(reason=TerminationReason.INACTIVITY),
    ]
    assert of_type(pumped.smsc, UnbindRequested)
    assert pumped.smsc[-1] == ConnectionTerminated(reason=TerminationReason.UNBOUND)
    assert pair.esme.state is SessionState.UNBOUND
    assert pair.smsc.state is SessionState.UNBOUND


def test_traffic_postpones_inactivity() -> None:
    pair = SmppPair(esme=config(Role.ESME, inactivity_timeout=100.0))
    pair.bind()
    pair.advance(60.0)
    pair.esme.send_request(SUBMIT, now=pair.clock.now)
    pair.pump()
    assert pair.esme.next_deadline() == pair.clock.now + 30.0  # the response timer comes first
    pair.advance(99.0)
    assert pair.esme.state is SessionState.BOUND_TRX


# -- unbind, ours ------------------------------------------------------------------------------


def test_unbind_with_nothing_outstanding_ends_both_sides() -> None:
    pair = SmppPair()
    pair.bind()
    seq = pair.esme.unbind(now=pair.clock.now)
    pumped = pair.pump()
    assert [(w.sender, w.sequence_number, w.command_id) for w in pair.wire[-2:]] == [
        ("esme", seq, C.UNBIND),
        ("smsc", seq, C.UNBIND_RESP),
    ]
    assert pumped.esme == [Unbound(), ConnectionTerminated(reason=TerminationReason.UNBOUND)]
    assert pumped.smsc == [
        UnbindRequested(sequence_number=seq),
        Unbound(),
        ConnectionTerminated(reason=TerminationReason.UNBOUND),
    ]
    assert pair.states() == (SessionState.UNBOUND, SessionState.UNBOUND)
    assert pair.esme.next_deadline() is None
    pair.esme.receive_data(b"", now=pair.clock.now)
    assert pair.states() == (SessionState.CLOSED, SessionState.UNBOUND)


def test_unbind_waits_for_our_outstanding_responses() -> None:
    pair = SmppPair(esme=config(Role.ESME, window=5))
    pair.bind()
    pair.esme.send_request(SUBMIT, now=pair.clock.now)
    pair.esme.send_request(SUBMIT, now=pair.clock.now)
    submits = of_type(pair.pump().smsc, SubmitReceived)
    pair.esme.unbind(now=pair.clock.now)
    assert pair.esme.is_unbinding
    assert not pair.esme.can_send
    with pytest.raises(InvalidStateError):
        pair.esme.send_request(SUBMIT, now=pair.clock.now)
    assert pair.esme.data_to_send() == b""  # not yet: two responses are due
    pair.smsc.respond(submits[0], submits[0].pdu.response(message_id="1"))
    assert of_type(pair.pump().esme, ResponseReceived)
    assert C.UNBIND not in [w.command_id for w in pair.sent_by("esme")]
    pair.smsc.respond(submits[1], submits[1].pdu.response(message_id="2"))
    pumped = pair.pump()
    assert len(of_type(pumped.esme, ResponseReceived)) == 1
    assert pumped.esme[-1] == ConnectionTerminated(reason=TerminationReason.UNBOUND)
    assert pair.smsc.state is SessionState.UNBOUND


def test_unbind_waits_for_answers_we_owe() -> None:
    pair = SmppPair()
    pair.bind()
    pair.esme.send_request(SUBMIT, now=pair.clock.now)
    (submit,) = of_type(pair.pump().smsc, SubmitReceived)
    pair.smsc.unbind(now=pair.clock.now)
    assert pair.smsc.data_to_send() == b""
    pair.smsc.respond(submit, submit.pdu.response(message_id="m"))
    pumped = pair.pump()
    assert [w.command_id for w in pair.sent_by("smsc")][-2:] == [C.SUBMIT_SM_RESP, C.UNBIND]
    assert of_type(pumped.esme, ResponseReceived)[0].response == SubmitSmResp(message_id="m")
    assert pumped.smsc == [Unbound(), ConnectionTerminated(reason=TerminationReason.UNBOUND)]


def test_unbind_drain_is_bounded() -> None:
    pair = SmppPair(esme=config(Role.ESME, drain_timeout=5.0, response_timeout=60.0))
    pair.bind()
    seq = pair.esme.send_request(SUBMIT, now=pair.clock.now)
    pair.pump()  # the SMSC's service never answers the submit
    pair.esme.unbind(now=pair.clock.now)
    assert pair.esme.next_deadline() == pair.clock.now + 5.0
    pumped = pair.advance(5.0)
    assert pair.sent_by("esme")[-1].command_id == C.UNBIND
    assert pumped.esme == [Unbound(), ConnectionTerminated(reason=TerminationReason.UNBOUND)]
    assert seq not in [e.sequence_number for e in of_type(pumped.esme, RequestTimedOut)]


def test_peer_requests_during_our_drain_are_still_delivered() -> None:
    pair = SmppPair(esme=config(Role.ESME, window=5))
    pair.bind()
    pair.esme.send_request(SUBMIT, now=pair.clock.now)
    (submit,) = of_type(pair.pump().smsc, SubmitReceived)
    pair.esme.unbind(now=pair.clock.now)
    pair.smsc.send_request(DeliverSm(), now=pair.clock.now)
    (deliver,) = of_type(pair.pump().esme, DeliverReceived)
    pair.esme.respond(deliver, deliver.pdu.response())
    pair.smsc.respond(submit, submit.pdu.response(message_id="1"))
    pumped = pair.pump()
    assert pumped.esme[-1] == ConnectionTerminated(reason=TerminationReason.UNBOUND)


def test_unanswered_unbind_times_out() -> None:
    esme = lone_esme(response_timeout=10.0)
    esme.unbind(now=0.0)
    assert [c for _, c, _ in sent(esme)] == [C.UNBIND]
    assert esme.handle_timer(now=10.0) == [
        ConnectionTerminated(reason=TerminationReason.UNBIND_TIMEOUT)
    ]
    assert esme.state is SessionState.CLOSED


def test_unbind_needs_a_bound_session() -> None:
    pair = SmppPair()
    with pytest.raises(InvalidStateError):
        pair.esme.unbind(now=pair.clock.now)
    pair.bind()
    pair.esme.unbind(now=pair.clock.now)
    with pytest.raises(InvalidStateError):
        pair.esme.unbind(now=pair.clock.now)


# -- unbind, the peer's --------------------------------------------------------------------------


def test_received_unbind_waits_for_our_requests() -> None:
    pair = SmppPair(smsc=config(Role.SMSC, window=5))
    pair.bind(BindMode.RECEIVER)
    deliver_seq = pair.smsc.send_request(DeliverSm(), now=pair.clock.now)
    pair.smsc.data_to_send()  # the deliver_sm is on its way; the ESME unbinds meanwhile
    events = pair.inject_pdu("smsc", Unbind(), 900)
    assert events == [UnbindRequested(sequence_number=900)]
    assert pair.smsc.is_unbinding
    assert pair.smsc.data_to_send() == b""
    with pytest.raises(InvalidStateError):
        pair.smsc.send_request(DeliverSm(), now=pair.clock.now)
    # The peer promised no more requests: one more gets ESME_RINVBNDSTS.
    events = pair.inject_pdu("smsc", SubmitSm(), 901)
    assert of_type(events, ProtocolViolation)[0].status == S.ESME_RINVBNDSTS
    assert [c for _, c, _, _ in pair.take("smsc")] == [C.SUBMIT_SM_RESP]
    events = pair.inject_pdu("smsc", DeliverSmResp(), deliver_seq)
    assert [type(e) for e in events] == [ResponseReceived, Unbound, ConnectionTerminated]
    assert [(s, c) for s, c, _, _ in pair.take("smsc")] == [(900, C.UNBIND_RESP)]
    assert pair.smsc.state is SessionState.UNBOUND


def test_received_unbind_drain_is_bounded() -> None:
    pair = SmppPair(smsc=config(Role.SMSC, drain_timeout=3.0))
    pair.bind(BindMode.RECEIVER)
    pair.smsc.send_request(DeliverSm(), now=pair.clock.now)
    pair.smsc.data_to_send()
    pair.inject_pdu("smsc", Unbind(), 900)
    assert pair.smsc.next_deadline() == pair.clock.now + 3.0
    events = pair.smsc.handle_timer(now=pair.clock.now + 3.0)
    assert events == [Unbound(), ConnectionTerminated(reason=TerminationReason.UNBOUND)]
    assert [(s, c) for s, c, _, _ in pair.take("smsc")] == [(900, C.UNBIND_RESP)]


def test_answers_owed_may_still_be_given_during_the_peer_drain() -> None:
    pair = SmppPair(smsc=config(Role.SMSC, window=5))
    pair.bind()
    pair.esme.send_request(SUBMIT, now=pair.clock.now)
    (submit,) = of_type(pair.pump().smsc, SubmitReceived)
    pair.smsc.send_request(DeliverSm(), now=pair.clock.now)
    pair.smsc.data_to_send()
    pair.inject_pdu("smsc", Unbind(), 900)
    pair.smsc.respond(submit, submit.pdu.response(message_id="ok"))
    assert [c for _, c, _, _ in pair.take("smsc")] == [C.SUBMIT_SM_RESP]


def test_crossed_unbinds_end_the_session() -> None:
    pair = SmppPair()
    pair.bind()
    pair.esme.unbind(now=pair.clock.now)
    pair.smsc.unbind(now=pair.clock.now)
    pumped = pair.pump()
    for side in (pumped.esme, pumped.smsc):
        assert of_type(side, Unbound)
        assert of_type(side, ConnectionTerminated)[0].reason is TerminationReason.UNBOUND
    assert pair.esme.state is SessionState.UNBOUND
    assert pair.smsc.state is SessionState.UNBOUND


def test_unbind_before_bind_gets_rinvbndsts() -> None:
    pair = SmppPair()
    events = pair.inject_pdu("smsc", Unbind(), 3)
    assert of_type(events, ProtocolViolation)[0].status == S.ESME_RINVBNDSTS
    assert [(s, c, st) for s, c, st, _ in pair.take("smsc")] == [
        (3, C.UNBIND_RESP, S.ESME_RINVBNDSTS)
    ]


# -- next_deadline ------------------------------------------------------------------------------


def test_next_deadline_is_the_earliest_timer() -> None:
    esme = lone_esme(enquire_link_interval=30.0, inactivity_timeout=50.0, response_timeout=40.0)
    assert esme.next_deadline() == 30.0
    esme.send_request(SUBMIT, now=5.0)
    assert esme.next_deadline() == 30.0  # enquire_link at 30, response at 45, inactivity at 55
    esme.receive_data(encode(EnquireLinkResp(), 999), now=20.0)  # any PDU counts as heard
    assert esme.next_deadline() == 45.0
    assert esme.handle_timer(now=44.9) == []


def test_a_bind_that_times_out_closes_the_connection() -> None:
    pair = SmppPair(esme=config(Role.ESME, response_timeout=10.0))
    seq = pair.esme.send_request(BindTransceiver(), now=pair.clock.now)
    pair.pump()  # the SMSC's service is slow to decide
    pumped = pair.advance(10.0)
    assert pumped.esme == [
        RequestTimedOut(sequence_number=seq, request=BindTransceiver()),
        ConnectionTerminated(reason=TerminationReason.BIND_TIMEOUT),
    ]
    assert pair.esme.state is SessionState.CLOSED
