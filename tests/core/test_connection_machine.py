"""Property tests of the session machine (STYLE.md §7): a RuleBasedStateMachine walks an ESME and
an SMSC against `states.ALLOWED_REQUESTS` and `states.TRANSITIONS`; any split of a byte stream
gives the same events; arbitrary bytes raise nothing but RemoteProtocolError."""

from __future__ import annotations

import struct
from itertools import pairwise

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from opensmsc.smpp.codec import encode
from opensmsc.smpp.connection import Connection
from opensmsc.smpp.constants import CommandId, CommandStatus
from opensmsc.smpp.errors import InvalidStateError, RemoteProtocolError, WindowFull
from opensmsc.smpp.events import (
    BindRequested,
    Event,
    ProtocolViolation,
    RequestReceived,
    RequestTimedOut,
)
from opensmsc.smpp.pdu import (
    AlertNotification,
    BindReceiver,
    BindTransceiver,
    BindTransceiverResp,
    BindTransmitter,
    BroadcastSm,
    CancelBroadcastSm,
    CancelSm,
    DataSm,
    DeliverSm,
    EnquireLink,
    Outbind,
    QueryBroadcastSm,
    QuerySm,
    ReplaceSm,
    Request,
    SmeAddress,
    SubmitMulti,
    SubmitSm,
    Unbind,
)
from opensmsc.smpp.states import (
    ALLOWED_REQUESTS,
    BIND_COMMANDS,
    NO_RESPONSE,
    TRANSITIONS,
    WINDOW_EXEMPT,
    Role,
    SessionState,
)
from tests.core.smpp_pair import Side, SmppPair, config, decode_stream

C = CommandId
S = CommandStatus
SIDES: tuple[Side, Side] = ("esme", "smsc")
REQUESTS: tuple[Request, ...] = (
    SubmitSm(destination_addr="1", short_message=b"x"),
    SubmitMulti(dest_address=(SmeAddress(destination_addr="1"),)),
    DataSm(destination_addr="1"),
    QuerySm(message_id="1"),
    CancelSm(message_id="1"),
    ReplaceSm(message_id="1"),
    BroadcastSm(message_id=""),
    QueryBroadcastSm(message_id="1"),
    CancelBroadcastSm(message_id="1"),
    DeliverSm(destination_addr="1"),
    AlertNotification(),
    EnquireLink(),
    Outbind(system_id="e"),
    BindTransmitter(system_id="e", interface_version=0x50),
    BindReceiver(system_id="e", interface_version=0x50),
    BindTransceiver(system_id="e", interface_version=0x50),
    Unbind(),
)
_NEXT_STATES = {
    before: {after for (b, _), after in TRANSITIONS.items() if b is before}
    for before in SessionState
}


def _may_send(conn: Connection, cid: int) -> bool:
    """What states.ALLOWED_REQUESTS (plus the two passing conditions) say about sending now."""
    if conn.is_terminated or conn.is_unbinding:
        return False
    if conn.is_binding and (cid in BIND_COMMANDS or cid == C.OUTBIND):
        return False
    return cid in ALLOWED_REQUESTS[(conn.role, conn.state)]


class SessionMachine(RuleBasedStateMachine):
    """Two well-behaved peers using only the public API never see a ProtocolViolation, and each
    side's state moves only along TRANSITIONS (or to CLOSED)."""

    def __init__(self) -> None:
        super().__init__()
        self.pair = SmppPair(
            esme=config(Role.ESME, window=3, peer_window=3, max_consecutive_timeouts=None),
            smsc=config(Role.SMSC, window=3, peer_window=3, max_consecutive_timeouts=None),
        )
        self.unanswered: dict[Side, list[RequestReceived]] = {"esme": [], "smsc": []}
        self.before = self.pair.states()
        self.timed_out = False

    def _pump(self) -> None:
        pumped = self.pair.pump()
        for side in SIDES:
            self._absorb(side, pumped.of(side))
        if self.pair.esme.is_terminated or self.pair.smsc.is_terminated:
            # The transport closes the TCP connection once a side says the session is over.
            for side in SIDES:
                self._absorb(side, self.pair.conn(side).receive_data(b"", now=0.0))

    def _absorb(self, side: Side, events: list[Event]) -> None:
        for event in events:
            if isinstance(event, RequestTimedOut):
                self.timed_out = True
            if isinstance(event, ProtocolViolation):
                # The one violation well-behaved peers can cause: an answer after its timeout.
                late = self.timed_out and event.status == 0 and "no outstanding" in event.detail
                assert late, (side, event)
            if isinstance(event, RequestReceived):
                self.unanswered[side].append(event)

    @rule(seconds=st.sampled_from([1.0, 5.0, 10.0, 30.0]))
    def time_passes(self, seconds: float) -> None:
        """Response timeouts (30 s) and unbind drains (10 s) expire; other timers are off."""
        pumped = self.pair.advance(seconds)
        for side in SIDES:
            self._absorb(side, pumped.of(side))
        self._pump()

    @rule(sender=st.sampled_from(SIDES), request=st.sampled_from(REQUESTS))
    def send(self, sender: Side, request: Request) -> None:
        conn = self.pair.conn(sender)
        cid = request.command_id
        allowed = _may_send(conn, cid)
        counted = cid not in WINDOW_EXEMPT and cid not in NO_RESPONSE
        could_send = conn.can_send
        try:
            conn.send_request(request, now=self.pair.clock.now)
        except WindowFull:
            assert allowed and counted and not could_send
        except InvalidStateError:
            assert not allowed, (sender, request, conn.state)
        else:
            assert allowed, (sender, request, conn.state)
        self._pump()

    @rule(side=st.sampled_from(SIDES), pick=st.integers(0, 5), accept=st.booleans())
    def answer(self, side: Side, pick: int, accept: bool) -> None:
        waiting = self.unanswered[side]
        if not waiting:
            return
        event = waiting.pop(pick % len(waiting))
        conn = self.pair.conn(side)
        if accept:
            fields = {"system_id": "smsc"} if isinstance(event, BindRequested) else {}
            conn.respond(event, event.pdu.response(**fields))
        else:
            conn.reject(event, S.ESME_RSYSERR)
        self._pump()

    @rule(side=st.sampled_from(SIDES))
    def unbind(self, side: Side) -> None:
        conn = self.pair.conn(side)
        allowed = conn.state.is_bound and not conn.is_unbinding and not conn.is_terminated
        try:
            conn.unbind(now=self.pair.clock.now)
        except InvalidStateError:
            assert not allowed
        else:
            assert allowed
        self._pump()

    @precondition(lambda self: not self.pair.esme.is_terminated)
    @rule(receiver=st.sampled_from(SIDES), request=st.sampled_from(REQUESTS))
    def peer_breaks_the_rules(self, receiver: Side, request: Request) -> None:
        """A request the sender's role may not send in this state is refused, not delivered."""
        conn = self.pair.conn(receiver)
        cid = request.command_id
        assume(not conn.is_terminated and not conn.is_binding and not conn.is_unbinding)
        assume(cid not in ALLOWED_REQUESTS[(conn.role.peer, conn.state)])
        events = conn.receive_data(encode(request, 0x40000000), now=self.pair.clock.now)
        ((violation,),) = [[e for e in events if isinstance(e, ProtocolViolation)]]
        assert len(events) == 1
        expected = S.ESME_RALYBND if (cid in BIND_COMMANDS and conn.state.is_bound) else None
        assert violation.status in ({expected} if expected else {S.ESME_RINVBNDSTS, S.ESME_RALYBND})
        ((seq, answer_cid, status, _),) = decode_stream(conn.data_to_send())
        assert (seq, status) == (0x40000000, violation.status)
        no_response = cid in NO_RESPONSE
        assert answer_cid == (C.GENERIC_NACK if no_response else cid | 0x80000000)

    @invariant()
    def states_follow_transitions(self) -> None:
        now = self.pair.states()
        for before, after in zip(self.before, now, strict=True):
            if after is not before:
                assert after is SessionState.CLOSED or after in _NEXT_STATES[before], (
                    before,
                    after,
                )
        self.before = now

    @invariant()
    def both_sides_agree_when_settled(self) -> None:
        esme, smsc = self.pair.esme, self.pair.smsc
        busy = (esme.is_binding, smsc.is_binding, esme.is_unbinding, smsc.is_unbinding)
        if not any(busy) and not esme.is_terminated:
            assert esme.state is smsc.state

    @invariant()
    def windows_are_bounded(self) -> None:
        for side in SIDES:
            conn = self.pair.conn(side)
            assert conn.in_flight <= 3 + 2  # window, plus enquire_link and unbind
            assert conn.peer_in_flight <= 3
            # Timers are off here: only response deadlines and the unbind drain remain.
            idle = conn.is_terminated or (conn.in_flight == 0 and not conn.is_unbinding)
            assert (conn.next_deadline() is None) == idle


TestSessionMachine = SessionMachine.TestCase
TestSessionMachine.settings = settings(max_examples=200, stateful_step_count=40, deadline=None)


# -- byte streams --------------------------------------------------------------------------------


def _esme_awaiting_bind() -> Connection:
    esme = Connection(config(Role.ESME), now=0.0)
    esme.send_request(BindTransceiver(system_id="e"), now=0.0)
    esme.data_to_send()
    return esme


_STREAM = b"".join(
    [
        encode(BindTransceiverResp(system_id="smsc"), 1),
        encode(DeliverSm(source_addr="1", short_message=b"a"), 10),
        encode(EnquireLink(), 11),
        struct.pack(">IIII", 16, 0x00000099, 0, 12),  # unknown command_id
        encode(DeliverSm(source_addr="2", short_message=b"b" * 200), 13),
        encode(SubmitSm(), 14),  # not from an SMSC: ESME_RINVBNDSTS
        encode(Unbind(), 15),
    ]
)


def _run(chunks: list[bytes]) -> tuple[list[Event], bytes]:
    esme = _esme_awaiting_bind()
    events: list[Event] = []
    for chunk in chunks:
        events += esme.receive_data(chunk, now=1.0)
    return events, esme.data_to_send()


@given(st.lists(st.integers(0, len(_STREAM)), max_size=12))
def test_any_split_of_a_stream_gives_the_same_events(cuts: list[int]) -> None:
    bounds = [0, *sorted(cuts), len(_STREAM)]
    chunks = [_STREAM[a:b] for a, b in pairwise(bounds) if b > a]
    assert _run(chunks) == _run([_STREAM])


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(
    role=st.sampled_from(list(Role)),
    strict=st.booleans(),
    chunks=st.lists(st.binary(max_size=64), max_size=8),
)
def test_arbitrary_bytes_raise_only_remote_protocol_error(
    role: Role, strict: bool, chunks: list[bytes]
) -> None:
    conn = Connection(config(role, strict=strict), now=0.0)
    try:
        for chunk in chunks:
            conn.receive_data(chunk, now=0.0)
    except RemoteProtocolError:
        assert conn.state is SessionState.CLOSED
        assert conn.data_to_send()  # the generic_nack


_KNOWN_IDS = [int(c) for c in CommandId]


@given(
    role=st.sampled_from(list(Role)),
    strict=st.booleans(),
    frames=st.lists(
        st.tuples(
            st.one_of(st.sampled_from(_KNOWN_IDS), st.integers(0, 0xFFFFFFFF)),
            st.integers(0, 0xFFFFFFFF),
            st.integers(0, 0xFFFFFFFF),
            st.binary(max_size=80),
        ),
        max_size=6,
    ),
)
def test_well_framed_garbage_never_raises(
    role: Role, strict: bool, frames: list[tuple[int, int, int, bytes]]
) -> None:
    """Inside sound framing every bad PDU is answered and the session lives on."""
    conn = Connection(config(role, strict=strict), now=0.0)
    for cid, status, seq, body in frames:
        header = struct.pack(">IIII", 16 + len(body), cid, status, seq)
        conn.receive_data(header + body, now=0.0)
    decode_stream(conn.data_to_send())  # and what it answered is well-formed
    assert conn.state is not SessionState.CLOSED or conn.is_terminated
