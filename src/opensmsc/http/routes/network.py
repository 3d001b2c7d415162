"""HTTP routes of the simulated network and the HLR lookup service (issue 6).

- GET /v1/hlr/{msisdn}: HLR lookup: valid, reachable, ported, serving MCC-MNC (network/lookup.py)
- GET /v1/network/subscribers: listed subscribers (`offset`, `limit`)
- POST /v1/network/subscribers: add one (201; 409 conflict when listed already)
- GET /v1/network/subscribers/{msisdn}: one listed subscriber (404 unknown-subscriber)
- PATCH /v1/network/subscribers/{msisdn}: change fields of a listed subscriber (404 for a
  number not in the table: create it with POST). A state change goes through the HLR, so a
  subscriber with waiting messages that becomes reachable is alerted.
- DELETE /v1/network/subscribers/{msisdn}: remove (204; 404)
- PATCH /v1/network/handsets/{msisdn}: the handset's memory: `capacity` (messages) and
  `delete_old` (drop the oldest when full; off: a full inbox refuses, memoryCapacityExceeded)
- GET /v1/network/handsets/{msisdn}/inbox: the handset's inbox and flash messages
- DELETE /v1/network/handsets/{msisdn}/inbox: delete messages (`count`; all by default). This
  frees memory: the HLR alerts if a message was refused for lack of it.
- POST /v1/network/handsets/{msisdn}/mo: the handset sends an MO (202; 409 mo-refused or
  handset-unavailable)

A number in a path or a body may be written in any form routing/numbering.py reads ("+44…",
"0044…", bare international digits); answers always give E.164 with '+'. Errors are problem
documents (http/problems.py): 400 invalid-number, 404 unknown-subscriber, 409 conflict /
mo-refused / handset-unavailable, 422 validation, 503 not-saved.

Changes are answered once they are durable (network/state.py: data_dir/network.sqlite3), so a
restart keeps them. Handsets' inboxes are not kept: their answers say `"volatile": true`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, cast

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from opensmsc.network import (
    DuplicateSubscriber,
    Handset,
    HandsetUnavailable,
    HlrLookup,
    InboxMessage,
    MapError,
    MessageWaiting,
    SimulatedNetwork,
    StateNotSaved,
    Subscriber,
    SubscriberNotFound,
    SubscriberState,
    SubscriberTable,
)
from opensmsc.routing import InvalidNumber, format_e164
from opensmsc.sms import Alphabet, EncodingError, MessageClass, MessageTooLong

from ..problems import Problem

__all__ = ["router", "subscriber_json"]

router = APIRouter(tags=["network"])

_STATES = tuple(state.value for state in SubscriberState)


def _network(request: Request) -> SimulatedNetwork:
    return cast(SimulatedNetwork, request.app.state.network)


def _lookup(request: Request) -> HlrLookup:
    return cast(HlrLookup, request.app.state.lookup)


Network = Annotated[SimulatedNetwork, Depends(_network)]
Lookup = Annotated[HlrLookup, Depends(_lookup)]


# ---- bodies -------------------------------------------------------------------------------------


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a typo must not silently become a default


class SubscriberFields(_Body):
    imsi: str | None = Field(default=None, examples=["234150000000123"])
    home_network: str | None = Field(default=None, examples=["23415"])
    msc_address: str | None = Field(default=None, examples=["447700000001"])
    state: Literal[_STATES] | None = None  # type: ignore[valid-type]
    ported_to: str | None = Field(default=None, examples=["23410"])
    serving_network: str | None = None
    latency: str | None = Field(default=None, examples=["normal:40:10"])
    failure_probability: float | None = Field(default=None, ge=0.0, le=1.0)
    absent_diagnostic: int | None = Field(default=None, ge=0, le=255)


class NewSubscriber(SubscriberFields):
    msisdn: str = Field(examples=["+447700900123"])


class HandsetSettings(_Body):
    capacity: int | None = Field(default=None, ge=0, le=1_000_000)
    delete_old: bool | None = None


class MoRequest(_Body):
    to: str = Field(examples=["5000", "+447700900124"])
    text: str | None = None
    data_hex: str | None = Field(default=None, description="8-bit data instead of text, in hex")
    port: int | None = Field(default=None, ge=0, le=0xFFFF, description="destination port")
    originator_port: int = Field(default=0, ge=0, le=0xFFFF)
    alphabet: Literal["gsm7", "ucs2", "latin1", "ia5", "binary"] | None = None
    flash: bool = False


# ---- views --------------------------------------------------------------------------------------


def subscriber_json(
    subscriber: Subscriber, waiting: MessageWaiting | None = None
) -> dict[str, Any]:
    """The JSON form of a subscriber record, with the HLR's message-waiting data for it."""
    return {
        "msisdn": subscriber.e164,
        "imsi": subscriber.imsi,
        "home_network": subscriber.home_network,
        "msc_address": subscriber.msc_address,
        "state": subscriber.state.value,
        "ported_to": subscriber.ported_to,
        "serving_network": subscriber.serving_network,
        "latency": str(subscriber.latency),
        "failure_probability": subscriber.failure_probability,
        "absent_diagnostic": int(subscriber.absent_diagnostic),
        "listed": subscriber.listed,
        # What the HLR keeps until it alerts: messages wait for this subscriber.
        "message_waiting": None
        if waiting is None
        else {
            "mnrf": waiting.mnrf,
            "mcef": waiting.mcef,
            "service_centres": list(waiting.service_centres),
        },
    }


def _subscriber_json(network: SimulatedNetwork, subscriber: Subscriber) -> dict[str, Any]:
    return subscriber_json(subscriber, network.hlr.message_waiting(subscriber.msisdn))


async def _saved(network: SimulatedNetwork) -> None:
    # Answer a change only once it will survive a restart.
    try:
        await network.saved()
    except StateNotSaved as exc:
        raise Problem(
            503,
            "not-saved",
            f"the change is in effect but was not saved, so a restart loses it: {exc}",
            title="Change not saved",
        ) from exc


def _message_json(message: InboxMessage) -> dict[str, Any]:
    return {
        "originator": message.originator,
        "text": message.text,
        "data_hex": message.payload.hex(),
        "data_coding": message.data_coding,
        "message_class": None if message.message_class is None else int(message.message_class),
        "flash": message.is_flash,
        "parts": message.parts,
        "port": None
        if message.port is None
        else {"destination": message.port.destination, "originator": message.port.originator},
        "network": message.network,
    }


def _map_error_json(error: MapError) -> dict[str, Any]:
    return {
        "code": int(error.code),
        "name": error.name,
        "cause": None if error.cause is None else int(error.cause),
        "err": error.err,
    }


def _key(table: SubscriberTable, msisdn: str) -> int:
    try:
        return table.key(msisdn)
    except InvalidNumber as exc:
        raise Problem(400, "invalid-number", str(exc), number=msisdn) from exc


def _unknown(key: int) -> Problem:
    return Problem(404, "unknown-subscriber", f"{format_e164(key)} is not in the subscriber table")


def _invalid_value(exc: ValueError) -> Problem:
    return Problem(422, "validation", str(exc))


# ---- HLR lookup ---------------------------------------------------------------------------------


@router.get("/v1/hlr/{msisdn}")
async def hlr_lookup(msisdn: str, network: Network, lookup: Lookup) -> dict[str, object]:
    """HLR lookup: for an MSISDN, the serving MCC-MNC, ported or not, reachable or not."""
    _key(network.hlr.subscribers, msisdn)
    return lookup.lookup(msisdn).as_dict()


# ---- subscribers --------------------------------------------------------------------------------


@router.get("/v1/network/subscribers")
async def list_subscribers(
    network: Network,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
) -> dict[str, Any]:
    table = network.hlr.subscribers
    page: list[dict[str, Any]] = []
    for index, subscriber in enumerate(table):
        if index >= offset + limit:
            break
        if index >= offset:
            page.append(_subscriber_json(network, subscriber))
    return {"total": len(table), "offset": offset, "limit": limit, "subscribers": page}


@router.post("/v1/network/subscribers", status_code=201)
async def add_subscriber(
    body: NewSubscriber, network: Network, response: Response
) -> dict[str, Any]:
    table = network.hlr.subscribers
    key = _key(table, body.msisdn)
    fields = body.model_dump(exclude={"msisdn"}, exclude_none=True)
    try:
        added = table.add(key, **fields)
    except DuplicateSubscriber as exc:
        raise Problem(409, "conflict", str(exc), msisdn=format_e164(key)) from exc
    except ValueError as exc:
        raise _invalid_value(exc) from exc
    await _saved(network)
    response.headers["Location"] = f"/v1/network/subscribers/{added.e164}"
    return _subscriber_json(network, added)


@router.get("/v1/network/subscribers/{msisdn}")
async def get_subscriber(msisdn: str, network: Network) -> dict[str, Any]:
    table = network.hlr.subscribers
    key = _key(table, msisdn)
    found = table.get(key)
    if found is None:
        raise _unknown(key)
    return _subscriber_json(network, found)


@router.patch("/v1/network/subscribers/{msisdn}")
async def change_subscriber(
    msisdn: str, body: SubscriberFields, network: Network
) -> dict[str, Any]:
    hlr = network.hlr
    table = hlr.subscribers
    key = _key(table, msisdn)
    # Explicit nulls clear ported_to / serving_network; absent keys leave fields alone.
    given = body.model_dump(exclude_unset=True)
    state = given.pop("state", None)
    if key not in table:
        # Changing is not creating: GET answers 404 for this number too.
        raise Problem(
            404,
            "unknown-subscriber",
            f"{format_e164(key)} is not in the subscriber table; "
            "add it with POST /v1/network/subscribers",
        )
    try:
        # SubscriberTable.change clears these two with "" (None there means "unchanged").
        changes: dict[str, Any] = {k: v for k, v in given.items() if v is not None}
        for name in ("ported_to", "serving_network"):
            if name in given:
                changes[name] = given[name] or ""
        if changes:
            table.change(key, **changes)
        if state is not None:
            # Through the HLR: becoming reachable with message-waiting data sends the alert.
            hlr.set_state(key, SubscriberState(state))
    except SubscriberNotFound as exc:
        raise _unknown(key) from exc
    except ValueError as exc:
        raise _invalid_value(exc) from exc
    await _saved(network)
    changed = table.get(key)
    assert changed is not None
    return _subscriber_json(network, changed)


@router.delete("/v1/network/subscribers/{msisdn}", status_code=204)
async def remove_subscriber(msisdn: str, network: Network) -> Response:
    table = network.hlr.subscribers
    key = _key(table, msisdn)
    if not table.remove(key):
        raise _unknown(key)
    await _saved(network)
    return Response(status_code=204)


# ---- handsets -----------------------------------------------------------------------------------


def _handset(network: SimulatedNetwork, msisdn: str) -> Handset:
    return network.handsets.get(_key(network.hlr.subscribers, msisdn))


def _handset_json(handset: Handset) -> dict[str, Any]:
    return {
        "msisdn": format_e164(handset.msisdn),
        "capacity": handset.capacity,
        "delete_old": handset.delete_old,
        "stored": len(handset.inbox),
        "memory_full": handset.is_memory_full,
        # The inbox is kept in memory only: a restart (or the handset's eviction among more
        # than 100,000) empties it. Its settings above are kept.
        "volatile": True,
    }


@router.patch("/v1/network/handsets/{msisdn}")
async def change_handset(msisdn: str, body: HandsetSettings, network: Network) -> dict[str, Any]:
    key = _key(network.hlr.subscribers, msisdn)
    handset = network.configure_handset(key, capacity=body.capacity, delete_old=body.delete_old)
    await _saved(network)
    return _handset_json(handset)


@router.get("/v1/network/handsets/{msisdn}/inbox")
async def inbox(msisdn: str, network: Network) -> dict[str, Any]:
    handset = _handset(network, msisdn)
    return {
        **_handset_json(handset),
        "messages": [_message_json(m) for m in handset.inbox],
        "flash": [_message_json(m) for m in handset.flash],
    }


@router.delete("/v1/network/handsets/{msisdn}/inbox")
async def free_memory(
    msisdn: str,
    network: Network,
    count: Annotated[int | None, Query(ge=1)] = None,
) -> dict[str, Any]:
    handset = _handset(network, msisdn)
    deleted = handset.free_memory(count)
    await _saved(network)  # readyForSM may have changed the subscriber and its MWD
    return {
        "msisdn": format_e164(handset.msisdn),
        "deleted": deleted,
        "left": len(handset.inbox),
        "volatile": True,
    }


_ALPHABETS = {
    "gsm7": Alphabet.GSM7,
    "ucs2": Alphabet.UCS2,
    "latin1": Alphabet.LATIN1,
    "ia5": Alphabet.IA5,
    "binary": Alphabet.BINARY,
}


@router.post("/v1/network/handsets/{msisdn}/mo", status_code=202)
async def send_mo(msisdn: str, body: MoRequest, network: Network) -> JSONResponse:
    key = _key(network.hlr.subscribers, msisdn)
    if (body.text is None) == (body.data_hex is None):
        raise Problem(422, "validation", "give exactly one of text and data_hex")
    content: str | bytes
    if body.data_hex is not None:
        try:
            content = bytes.fromhex(body.data_hex)
        except ValueError as exc:
            raise Problem(422, "validation", f"data_hex: {exc}") from exc
    else:
        assert body.text is not None
        content = body.text
    try:
        sent = await network.send_mo(
            key,
            body.to,
            content,
            port=body.port,
            originator_port=body.originator_port,
            alphabet=None if body.alphabet is None else _ALPHABETS[body.alphabet],
            message_class=MessageClass.CLASS_0 if body.flash else None,
        )
    except HandsetUnavailable as exc:
        raise Problem(409, "handset-unavailable", str(exc), state=exc.state) from exc
    except (EncodingError, MessageTooLong) as exc:
        raise Problem(422, "validation", str(exc)) from exc
    error = sent.error
    if error is not None:
        raise Problem(
            409,
            "mo-refused",
            f"the SMSC refused part {len(sent.answers)} of {sent.parts}: {error}",
            title="MO refused",
            map_error=_map_error_json(error),
            parts=sent.parts,
            sent=len(sent.answers),
        )
    return JSONResponse(
        {
            "msisdn": format_e164(sent.msisdn),
            "to": sent.destination,
            "parts": sent.parts,
            "accepted": True,
        },
        status_code=202,
    )
