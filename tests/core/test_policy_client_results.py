"""The policy client reads each distinct `route.query` result once (PolicyClient keeps the
decision by the result's text): over any run of results, valid or not, what it answers must
be what reading each one anew gives, the same decision or the same refusal. The results
include what orjson writes alike (an infinity and null) and cannot write (an integer beyond 64
bits), which must never be served from what was read before."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from opensmsc.policyd import PolicyClient
from opensmsc.policyd.convert import decision_from_result
from opensmsc.policyd.params import InvalidParams, QueryResult
from opensmsc.routing import Decision

numbers = st.sampled_from([None, 0, 1, 0.5, 1.0, float("inf"), 2**70, -1, "1", True])
routes = st.lists(
    st.fixed_dictionaries(
        {"route": st.sampled_from(["a", "b", ""])},
        optional={"cost": numbers, "mccmnc": st.sampled_from([None, "20801", "2080", "x"])},
    ),
    max_size=3,
)
results = st.one_of(
    st.fixed_dictionaries(
        {"action": st.sampled_from(["route", "defer", "reject", "throttle", "other"])},
        optional={
            "routes": routes,
            "status": numbers,
            "reason": st.sampled_from([None, "", 'rule "x"', "null"]),
            "retry_after_ms": numbers,
            "ttl_ms": numbers,
        },
    ),
    st.sampled_from([None, [], "route", 2**70]),
)


def _read(result: object) -> Decision | str:
    try:
        return decision_from_result(QueryResult.from_json(result))  # type: ignore[arg-type]
    except InvalidParams as exc:
        return f"refused: {exc}"


def _read_by_client(client: PolicyClient, result: object) -> Decision | str:
    try:
        return client._decision_from(result)  # type: ignore[arg-type]
    except InvalidParams as exc:
        return f"refused: {exc}"


@settings(max_examples=500)
@given(st.lists(results, min_size=1, max_size=12))
def test_the_client_reads_a_result_as_reading_it_anew_does(answers: list[object]) -> None:
    client = PolicyClient([])  # no server: only its reading of results is used
    for result in answers + answers:  # the second pass meets every result again
        assert _read_by_client(client, result) == _read(result)


def test_an_infinite_cost_is_refused_after_a_valid_result_of_the_same_text() -> None:
    client = PolicyClient([])
    valid = {"action": "route", "routes": [{"route": "a", "cost": None}], "ttl_ms": 0}
    infinite = {"action": "route", "routes": [{"route": "a", "cost": float("inf")}], "ttl_ms": 0}
    decision = client._decision_from(valid)  # type: ignore[arg-type]
    assert decision.routes[0].cost is None
    assert isinstance(_read_by_client(client, infinite), str)
    assert client._decision_from(valid) == decision  # type: ignore[arg-type]
