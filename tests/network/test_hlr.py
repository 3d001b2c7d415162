"""The simulated HLR: SRI-SM answers per state, injected errors, message-waiting data and
alertServiceCentre, portability, and the two modes."""

from __future__ import annotations

import pytest

from opensmsc.network import (
    DeliveryFailureCause,
    DeliveryOutcome,
    HlrMode,
    Latency,
    MapError,
    MapErrorCode,
    MessageWaiting,
    Phase,
    PrefixDefault,
    RoutingInfo,
    SimulatedHlr,
    SubscriberState,
    SubscriberTable,
)
from opensmsc.routing import ErrorClass, Numbering, NumberPortability, PortabilityTable

N = "447700900123"
SC = "447000000001"


def make_hlr(
    *,
    mode: HlrMode = HlrMode.DETERMINISTIC,
    seed: int = 0,
    portability: NumberPortability | None = None,
    **defaults: object,
) -> SimulatedHlr:
    table = SubscriberTable(
        numbering=Numbering("GB"),
        defaults=[PrefixDefault(prefix="44", home_network="23415", **defaults)],  # type: ignore[arg-type]
    )
    return SimulatedHlr(table, mode=mode, seed=seed, portability=portability)


def sri(hlr: SimulatedHlr, msisdn: str = N) -> RoutingInfo | MapError:
    return hlr.send_routing_info_for_sm(msisdn, now=0.0)


# State → the SRI-SM answer, its class, and the receipt's err / network_error_code.
SRI_ERRORS = [
    (SubscriberState.UNKNOWN, MapError(1), ErrorClass.PERMANENT),
    (SubscriberState.ABSENT, MapError(6, diagnostic=1), ErrorClass.TEMPORARY),
    (SubscriberState.NOT_PROVISIONED, MapError(11), ErrorClass.PERMANENT),
    (SubscriberState.BARRED, MapError(13), ErrorClass.PERMANENT),
    (SubscriberState.FACILITY_NOT_SUPPORTED, MapError(21), ErrorClass.PERMANENT),
    (SubscriberState.BUSY, MapError(31), ErrorClass.SHORT),
    (SubscriberState.SYSTEM_FAILURE, MapError(34), ErrorClass.SHORT),
    (SubscriberState.DATA_MISSING, MapError(35), ErrorClass.RETRY_ONCE),
    (SubscriberState.UNEXPECTED_DATA_VALUE, MapError(36), ErrorClass.RETRY_ONCE),
]
# State → what the serving MSC answers MT-ForwardSM (SRI-SM succeeds).
MT_ERRORS = [
    (SubscriberState.MEMORY_FULL, MapError(32, cause=0), ErrorClass.TEMPORARY),
    (SubscriberState.NOT_SM_EQUIPPED, MapError(32, cause=2), ErrorClass.PERMANENT),
    (SubscriberState.UNIDENTIFIED, MapError(5), ErrorClass.RETRY_ONCE),
    (SubscriberState.ILLEGAL_SUBSCRIBER, MapError(9), ErrorClass.PERMANENT),
    (SubscriberState.ILLEGAL_EQUIPMENT, MapError(12), ErrorClass.PERMANENT),
]


def test_attached_subscriber_gets_routing_info() -> None:
    hlr = make_hlr(msc_address="447000000099")
    answer = sri(hlr)
    assert isinstance(answer, RoutingInfo)
    assert answer.msisdn == 447700900123
    assert answer.imsi.startswith("23415") and len(answer.imsi) == 15
    assert answer.msc_address == "447000000099"
    assert (answer.mcc_mnc, answer.serving_mcc_mnc, answer.home_mcc_mnc) == ("23415",) * 3
    assert not answer.ported and not answer.mwd_set
    assert answer.mt_forward_error is None
    assert hlr.mt_forward_condition(answer.msisdn) is None


@pytest.mark.parametrize(("state", "expected", "error_class"), SRI_ERRORS)
def test_sri_errors_by_state(
    state: SubscriberState, expected: MapError, error_class: ErrorClass
) -> None:
    hlr = make_hlr()
    hlr.set_state(N, state)
    answer = sri(hlr)
    assert answer == expected
    assert isinstance(answer, MapError)
    assert answer.error_class is error_class
    assert answer.err == f"{int(expected.code):03d}"
    assert answer.network_error_code.to_bytes() == bytes([3, 0, int(expected.code)])


@pytest.mark.parametrize(("state", "expected", "error_class"), MT_ERRORS)
def test_mt_forward_errors_by_state(
    state: SubscriberState, expected: MapError, error_class: ErrorClass
) -> None:
    hlr = make_hlr()
    hlr.set_state(N, state)
    answer = sri(hlr)
    assert isinstance(answer, RoutingInfo)
    assert answer.mt_forward_error == expected
    assert hlr.mt_forward_condition(answer.msisdn) == expected
    assert expected.error_class is error_class


def test_absent_diagnostic_is_the_subscribers() -> None:
    hlr = make_hlr()
    hlr.subscribers.add(N, state="absent", absent_diagnostic=0)
    assert sri(hlr) == MapError(MapErrorCode.ABSENT_SUBSCRIBER_SM, diagnostic=0)


def test_not_e164_is_unknown_subscriber() -> None:
    assert sri(make_hlr(), "44abc") == MapError(MapErrorCode.UNKNOWN_SUBSCRIBER)


@pytest.mark.parametrize(
    "error",
    [
        MapError(27),
        MapError(33),
        *(MapError(32, cause=cause) for cause in DeliveryFailureCause),
        MapError(6, diagnostic=2),
    ],
)
def test_injected_errors_answer_once_then_the_state_again(error: MapError) -> None:
    hlr = make_hlr()
    hlr.inject(N, error, count=2)
    assert sri(hlr) == error
    assert sri(hlr) == error
    assert isinstance(sri(hlr), RoutingInfo)


def test_injected_mt_errors_go_to_the_msc() -> None:
    hlr = make_hlr()
    hlr.inject(N, MapError(32, cause=4), phase=Phase.MT)
    assert isinstance(sri(hlr), RoutingInfo)
    assert hlr.mt_forward_condition(447700900123) == MapError(32, cause=4)
    assert hlr.mt_forward_condition(447700900123) is None


def test_peek_leaves_the_injection_queued() -> None:
    hlr = make_hlr()
    hlr.inject(N, MapError(34))
    assert hlr.send_routing_info_for_sm(N, peek=True) == MapError(34)
    assert sri(hlr) == MapError(34)
    assert isinstance(sri(hlr), RoutingInfo)


def test_clear_injected() -> None:
    hlr = make_hlr()
    hlr.inject(N, MapError(34))
    hlr.clear_injected(N)
    assert isinstance(sri(hlr), RoutingInfo)


# -- message-waiting data and alertServiceCentre ------------------------------------------------


def test_absent_then_attached_alerts_the_service_centre() -> None:
    hlr = make_hlr()
    alerts: list[str] = []
    hlr.add_alert_listener(alerts.append)
    hlr.set_state(N, SubscriberState.ABSENT)
    error = sri(hlr)
    assert isinstance(error, MapError)
    outcome = DeliveryOutcome.for_error(error)
    assert outcome is DeliveryOutcome.ABSENT_SUBSCRIBER
    waiting = hlr.report_sm_delivery_status(N, outcome, SC)
    assert waiting == MessageWaiting(447700900123, mnrf=True, service_centres=(SC,))
    assert hlr.message_waiting(N) == waiting
    hlr.set_state(N, SubscriberState.ABSENT)  # still absent: nothing
    assert alerts == []
    hlr.set_state(N, SubscriberState.ATTACHED)
    assert alerts == ["447700900123"]
    assert hlr.message_waiting(N) is None  # the HLR deletes the MWD list once alerted
    answer = sri(hlr)
    assert isinstance(answer, RoutingInfo) and not answer.mwd_set


def test_memory_full_then_freed_alerts() -> None:
    hlr = make_hlr()
    alerts: list[str] = []
    hlr.add_alert_listener(alerts.append)
    hlr.set_state(N, SubscriberState.MEMORY_FULL)
    answer = sri(hlr)
    assert isinstance(answer, RoutingInfo)
    assert answer.mt_forward_error is not None
    outcome = DeliveryOutcome.for_error(answer.mt_forward_error)
    assert outcome is DeliveryOutcome.MEMORY_CAPACITY_EXCEEDED
    hlr.report_sm_delivery_status(N, outcome, SC)
    routing = sri(hlr)
    assert isinstance(routing, RoutingInfo)
    assert routing.mwd_set and routing.mcef and not routing.mnrf
    hlr.set_state(N, SubscriberState.MEMORY_FULL)  # still full: no alert
    assert alerts == []
    freed = hlr.free_memory(N)
    assert freed.state is SubscriberState.ATTACHED
    assert alerts == ["447700900123"]
    assert hlr.message_waiting(N) is None


def test_free_memory_alerts_even_when_the_table_said_attached() -> None:
    # The handset's inbox was full (the MSC said so), the table never changed.
    hlr = make_hlr()
    alerts: list[str] = []
    hlr.add_alert_listener(alerts.append)
    hlr.report_sm_delivery_status(N, DeliveryOutcome.MEMORY_CAPACITY_EXCEEDED, SC)
    hlr.free_memory(N)
    assert alerts == ["447700900123"]


def test_no_waiting_data_no_alert() -> None:
    hlr = make_hlr()
    alerts: list[str] = []
    hlr.add_alert_listener(alerts.append)
    hlr.set_state(N, SubscriberState.ABSENT)
    hlr.set_state(N, SubscriberState.ATTACHED)
    assert alerts == []


def test_successful_transfer_clears_waiting_data() -> None:
    hlr = make_hlr()
    hlr.report_sm_delivery_status(N, DeliveryOutcome.ABSENT_SUBSCRIBER, SC)
    assert hlr.report_sm_delivery_status(N, DeliveryOutcome.SUCCESSFUL_TRANSFER, SC) is None
    assert hlr.message_waiting(N) is None


def test_waiting_list_full() -> None:
    table = SubscriberTable(numbering=Numbering("GB"))
    hlr = SimulatedHlr(table, max_service_centres=2)
    for sc in ("1001", "1002", "1002"):
        assert isinstance(
            hlr.report_sm_delivery_status(N, DeliveryOutcome.ABSENT_SUBSCRIBER, sc),
            MessageWaiting,
        )
    answer = hlr.report_sm_delivery_status(N, DeliveryOutcome.ABSENT_SUBSCRIBER, "1003")
    assert answer == MapError(MapErrorCode.MESSAGE_WAITING_LIST_FULL)
    waiting = hlr.message_waiting(N)
    assert waiting is not None and waiting.service_centres == ("1001", "1002")


def test_report_for_unknown_subscriber() -> None:
    hlr = make_hlr(state=SubscriberState.UNKNOWN)
    answer = hlr.report_sm_delivery_status(N, DeliveryOutcome.ABSENT_SUBSCRIBER, SC)
    assert answer == MapError(1)


def test_every_listener_is_called_and_can_be_removed() -> None:
    hlr = make_hlr()
    first: list[str] = []
    second: list[str] = []
    hlr.add_alert_listener(first.append)
    hlr.add_alert_listener(second.append)
    hlr.report_sm_delivery_status(N, DeliveryOutcome.ABSENT_SUBSCRIBER, SC)
    hlr.set_state(N, SubscriberState.ATTACHED)
    hlr.remove_alert_listener(second.append)
    hlr.report_sm_delivery_status(N, DeliveryOutcome.ABSENT_SUBSCRIBER, SC)
    hlr.set_state(N, SubscriberState.BUSY)  # busy is reachable: paging works
    assert first == [N, N]
    assert second == [N]


def test_for_error_of_other_errors_reports_nothing() -> None:
    assert DeliveryOutcome.for_error(None) is DeliveryOutcome.SUCCESSFUL_TRANSFER
    assert DeliveryOutcome.for_error(MapError(27)) is DeliveryOutcome.ABSENT_SUBSCRIBER
    assert DeliveryOutcome.for_error(MapError(31)) is None


# -- portability --------------------------------------------------------------------------------


def test_ported_number_answers_with_the_recipient_network() -> None:
    ported = PortabilityTable(numbering=Numbering("GB"))
    ported.put(N, "23410", "4410")
    hlr = make_hlr(portability=NumberPortability(ported))
    answer = sri(hlr)
    assert isinstance(answer, RoutingInfo)
    assert answer.ported and answer.ported_to == "23410"
    assert answer.mcc_mnc == "23410" and answer.home_mcc_mnc == "23415"
    assert answer.imsi.startswith("23410")


def test_ported_in_the_subscriber_table() -> None:
    hlr = make_hlr()
    hlr.subscribers.add(N, ported_to="23420", serving_network="20801")
    answer = sri(hlr)
    assert isinstance(answer, RoutingInfo)
    assert (answer.mcc_mnc, answer.serving_mcc_mnc) == ("23420", "20801")
    assert answer.imsi.startswith("23420")


# -- modes --------------------------------------------------------------------------------------


def test_deterministic_mode_has_no_randomness_and_no_latency() -> None:
    hlr = make_hlr(failure_probability=1.0, latency=Latency("fixed", 500.0))
    assert all(isinstance(sri(hlr), RoutingInfo) for _ in range(100))
    assert hlr.response_time(N) == 0.0
    assert hlr.mt_forward_latency(447700900123) == 0.0


def test_realistic_mode_fails_and_waits_reproducibly() -> None:
    def run(seed: int) -> list[object]:
        hlr = make_hlr(
            mode=HlrMode.REALISTIC,
            seed=seed,
            failure_probability=0.3,
            latency=Latency("normal", 40.0, 10.0),
        )
        out: list[object] = []
        for i in range(200):
            number = f"4477009{i:05d}"
            out.append(sri(hlr, number))
            out.append(hlr.response_time(number))
        return out

    first, again, other = run(7), run(7), run(8)
    assert first == again
    assert first != other
    failures = [a for a in first if isinstance(a, MapError)]
    assert all(a == MapError(MapErrorCode.SYSTEM_FAILURE) for a in failures)
    assert 30 < len(failures) < 90  # 200 tries at 0.3
    latencies = [a for a in first if isinstance(a, float)]
    assert all(a >= 0 for a in latencies)
    assert 0.03 < sum(latencies) / len(latencies) < 0.05


def test_latency_distributions() -> None:
    import random

    rng = random.Random(1)
    assert Latency.parse("fixed:20").sample(rng) == 0.02
    samples = [Latency.parse("uniform:10:50").sample(rng) for _ in range(1000)]
    assert min(samples) >= 0.01 and max(samples) <= 0.05
    assert str(Latency.parse("normal:40:10")) == "normal:40:10"
    with pytest.raises(ValueError, match="expected fixed"):
        Latency.parse("gamma:1:2")
    with pytest.raises(ValueError, match="high below low"):
        Latency.parse("uniform:50:10")
