"""The in-memory message centre: acceptance, scheduling, retention, query/cancel/replace."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from opensmsc.engine.center import CenterLimits, InMemoryCenter, Receiver
from opensmsc.errors import MessageRejected
from opensmsc.smpp.constants import CommandStatus, MessageState
from opensmsc.smpp.pdu import CancelSm, DeliverSm, QuerySm, ReplaceSm, SubmitSm
from opensmsc.smpp.times import format_relative

S = CommandStatus


class _Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


class _Inbox:
    """A receiver that takes every deliver_sm and answers it at once."""

    def __init__(self) -> None:
        self.delivered: list[DeliverSm] = []

    def deliver(self, pdu: DeliverSm, on_done: Callable[[int | None], None]) -> bool:
        self.delivered.append(pdu)
        on_done(S.ESME_ROK)
        return True


class _Receivers:
    def __init__(self, inbox: _Inbox | None) -> None:
        self.inbox = inbox

    def receiver_for(self, system_id: str) -> Receiver | None:
        return self.inbox


def _center(
    limits: CenterLimits | None = None, inbox: _Inbox | None = None
) -> tuple[InMemoryCenter, _Clock, list[int]]:
    clock = _Clock()
    wakes: list[int] = []
    center = InMemoryCenter(
        _Receivers(inbox), clock=clock, limits=limits, wake=lambda: wakes.append(1)
    )
    return center, clock, wakes


def _submit(**fields: object) -> SubmitSm:
    base: dict[str, object] = {"source_addr": "1234", "destination_addr": "31600000001"}
    base.update(fields)
    return SubmitSm(**base)  # type: ignore[arg-type]


def test_delivery_waits_for_the_next_turn_so_the_response_goes_first() -> None:
    inbox = _Inbox()
    center, _, wakes = _center(inbox=inbox)
    message_id = center.submit("esme", _submit(registered_delivery=1))
    assert inbox.delivered == []  # nothing before the caller has answered the submit
    assert wakes == [1]
    center.run_due()
    (receipt,) = inbox.delivered
    assert receipt.tlvs.get(0x001E) == message_id
    assert receipt.esm_class == 0x04


def test_final_messages_are_forgotten_beyond_max_final_kept() -> None:
    center, _, _ = _center(CenterLimits(max_final_kept=2))
    ids = [center.submit("esme", _submit()) for _ in range(5)]
    center.run_due()
    assert center.pending == 0
    assert center.query("esme", QuerySm(message_id=ids[0])).command_status == S.ESME_RQUERYFAIL
    answer = center.query("esme", QuerySm(message_id=ids[-1]))
    assert answer.message_state == MessageState.DELIVERED


def test_final_messages_are_forgotten_after_the_retention() -> None:
    center, clock, _ = _center(CenterLimits(final_retention=timedelta(minutes=10)))
    first = center.submit("esme", _submit())
    center.run_due()
    clock.now += timedelta(minutes=11)
    center.submit("esme", _submit())
    center.run_due()  # retiring the second one sweeps the first out
    assert center.query("esme", QuerySm(message_id=first)).command_status == S.ESME_RQUERYFAIL


def test_only_pending_messages_count_towards_queue_full() -> None:
    center, _, _ = _center(CenterLimits(max_messages=2))
    for _ in range(10):  # delivered at once: never fills the centre
        center.submit("esme", _submit())
        center.run_due()
    later = format_relative(timedelta(hours=1))
    center.submit("esme", _submit(schedule_delivery_time=later))
    center.submit("esme", _submit(schedule_delivery_time=later))
    with pytest.raises(MessageRejected) as refused:
        center.submit("esme", _submit(schedule_delivery_time=later))
    assert refused.value.status == S.ESME_RMSGQFUL
    assert center.load == 100


def test_scheduled_message_can_be_cancelled_and_replaced_until_due() -> None:
    center, clock, _ = _center()
    later = format_relative(timedelta(minutes=5))
    kept = center.submit("esme", _submit(schedule_delivery_time=later, short_message=b"a"))
    dropped = center.submit("esme", _submit(schedule_delivery_time=later))
    assert center.cancel("esme", CancelSm(message_id=dropped, source_addr="1234")) == S.ESME_ROK
    assert center.cancel("esme", CancelSm(message_id=dropped)) == S.ESME_RCANCELFAIL
    replaced = center.replace("esme", ReplaceSm(message_id=kept, short_message=b"b"))
    assert replaced == S.ESME_ROK
    clock.now += timedelta(minutes=6)
    center.run_due()
    assert center.query("esme", QuerySm(message_id=kept)).message_state == MessageState.DELIVERED
    assert center.replace("esme", ReplaceSm(message_id=kept)) == S.ESME_RREPLACEFAIL


def test_another_account_cannot_see_or_cancel_a_message() -> None:
    center, _, _ = _center()
    later = format_relative(timedelta(minutes=5))
    message_id = center.submit("esme", _submit(schedule_delivery_time=later))
    assert center.query("other", QuerySm(message_id=message_id)).command_status == (
        S.ESME_RQUERYFAIL
    )
    assert center.cancel("other", CancelSm(message_id=message_id)) == S.ESME_RCANCELFAIL


@pytest.mark.parametrize(
    ("fields", "status"),
    [
        ({"destination_addr": ""}, S.ESME_RINVDSTADR),
        ({"priority_flag": 4}, S.ESME_RINVPRTFLG),
        ({"replace_if_present_flag": 2}, S.ESME_RINVREPFLAG),
        ({"schedule_delivery_time": "991399000000000+"}, S.ESME_RINVSCHED),
        ({"validity_period": "not a time at all"}, S.ESME_RINVEXPIRY),
    ],
)
def test_invalid_submits_get_the_specific_status(fields: dict[str, object], status: int) -> None:
    center, _, _ = _center()
    with pytest.raises(MessageRejected) as refused:
        center.submit("esme", _submit(**fields))
    assert refused.value.status == status
