"""The protocol's values ↔ routing's: `route.query` params → `routing.RouteQuery`, a
`routing.Decision` → the `route.query` result and back (the client's side), `route.report`
params ↔ `routing.RouteReport`.

What this is for: the wire (wire.py, params.py) stays free of routing so that it reads alone;
this is the one place where the two meet. Pure functions; a value routing refuses (a result
whose action lacks what it needs) raises InvalidParams like any other bad member.
"""

from __future__ import annotations

from opensmsc.policyd.params import (
    AddressMembers,
    InvalidParams,
    QueryParams,
    QueryResult,
    ReportParams,
    RewriteParams,
    RouteEntry,
    WireAddress,
    query_members,
)
from opensmsc.policyd.wire import JsonValue
from opensmsc.routing import (
    Action,
    Decision,
    Outcome,
    Rewrite,
    RouteChoice,
    RouteQuery,
    RouteReport,
)
from opensmsc.store import Address

__all__ = [
    "QueryReader",
    "decision_from_result",
    "params_from_query",
    "params_from_report",
    "query_from_params",
    "report_from_params",
    "result_from_decision",
]


def query_from_params(params: QueryParams) -> RouteQuery:
    return RouteQuery(
        account=params.account,
        source=_address(params.source),
        destination=_address(params.destination),
        service_type=params.service_type,
        data_coding=params.data_coding,
        esm_class=params.esm_class,
        segments=params.segments,
        content_sample=params.content_sample,
        priority_flag=params.priority_flag,
    )


class QueryReader:
    """`route.query` params → RouteQuery for a server: `QueryParams.from_json` then
    `query_from_params` in one step, without the wire values in between, keeping the source
    Address of up to `max_sources` senders (a few sender IDs send most messages). Raises
    InvalidParams as QueryParams.from_json does."""

    def __init__(self, max_sources: int = 4096) -> None:
        self._sources: dict[AddressMembers, Address] = {}
        self._max_sources = max_sources

    def __call__(self, params: JsonValue) -> RouteQuery:
        members = query_members(params)
        if members is None:
            return query_from_params(QueryParams.checked(params))
        account, source, destination, service_type, data_coding, esm_class, segments, sample, pf = (
            members
        )
        sender = self._sources.get(source)
        if sender is None:
            if len(self._sources) >= self._max_sources:
                self._sources.clear()
            sender = self._sources[source] = Address(source[1], source[2], source[0])
        return RouteQuery(
            account=account,
            source=sender,
            destination=Address(destination[1], destination[2], destination[0]),
            service_type=service_type,
            data_coding=data_coding,
            esm_class=esm_class,
            segments=segments,
            content_sample=sample,
            priority_flag=pf,
        )


def params_from_query(query: RouteQuery) -> QueryParams:
    return QueryParams(
        account=query.account,
        source=_wire_address(query.source),
        destination=_wire_address(query.destination),
        service_type=query.service_type,
        data_coding=query.data_coding,
        esm_class=query.esm_class,
        segments=query.segments,
        content_sample=query.content_sample,
        priority_flag=query.priority_flag,
    )


def result_from_decision(decision: Decision) -> QueryResult:
    rewrite = decision.rewrite
    return QueryResult(
        action=decision.action.value,
        routes=tuple(
            RouteEntry(route=r.route, cost=r.cost, mccmnc=r.mccmnc) for r in decision.routes
        ),
        rewrite=None
        if rewrite is None or rewrite.is_empty
        else RewriteParams(
            source_addr=rewrite.source_addr,
            source_addr_ton=rewrite.source_addr_ton,
            source_addr_npi=rewrite.source_addr_npi,
            destination_addr=rewrite.destination_addr,
            data_coding=rewrite.data_coding,
            validity_s=rewrite.validity_s,
            strip_tlvs=rewrite.strip_tlvs,
            add_tlvs=rewrite.add_tlvs,
        ),
        status=decision.status,
        reason=decision.reason or None,
        retry_after_ms=decision.retry_after_ms,
        ttl_ms=decision.ttl_ms,
    )


def decision_from_result(result: QueryResult) -> Decision:
    """Raises InvalidParams when the result breaks a Decision's rules."""
    rewrite = result.rewrite
    try:
        return Decision(
            action=Action(result.action),
            routes=tuple(
                RouteChoice(route=r.route, cost=r.cost, mccmnc=r.mccmnc) for r in result.routes
            ),
            rewrite=None
            if rewrite is None
            else Rewrite(
                source_addr=rewrite.source_addr,
                source_addr_ton=rewrite.source_addr_ton,
                source_addr_npi=rewrite.source_addr_npi,
                destination_addr=rewrite.destination_addr,
                data_coding=rewrite.data_coding,
                validity_s=rewrite.validity_s,
                strip_tlvs=rewrite.strip_tlvs,
                add_tlvs=rewrite.add_tlvs,
            ),
            status=result.status,
            reason=result.reason or "",
            retry_after_ms=result.retry_after_ms,
            ttl_ms=result.ttl_ms,
        )
    except ValueError as exc:
        raise InvalidParams("result", "a consistent decision", str(exc)) from None


def report_from_params(params: ReportParams) -> RouteReport:
    return RouteReport(
        route=params.route,
        outcome=Outcome(params.outcome),
        status=params.status,
        map_error=params.map_error,
        latency_ms=params.latency_ms or 0.0,
    )


def params_from_report(report: RouteReport) -> ReportParams:
    return ReportParams(
        route=report.route,
        outcome=report.outcome.value,
        status=report.status,
        map_error=report.map_error,
        latency_ms=report.latency_ms,
    )


def _address(value: WireAddress) -> Address:
    return Address(value.ton, value.npi, value.addr)


def _wire_address(value: Address) -> WireAddress:
    return WireAddress(value.addr, value.ton, value.npi)
