"""network/state.py: what the simulator changes at runtime is laid over the configuration at
the next start (issue 10 items 2 and 3). Each test builds the network as app.py does, changes
it, closes it, and builds it again from the same configuration and data folder."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest

from opensmsc.app import build_hlr
from opensmsc.config import NetworkConfig, PrefixDefaultConfig
from opensmsc.config.model import SubscriberConfig
from opensmsc.http import MEDIA_TYPE, create_app
from opensmsc.network import (
    DeliveryOutcome,
    EngineLink,
    NetworkState,
    SimulatedNetwork,
    StateNotSaved,
    SubscriberState,
)
from opensmsc.routing import TemporaryFailure
from opensmsc.store import StoredMessage
from tests.network.test_route import record

SC = "447700000999"
LISTED = "+447700900001"  # in the configuration
REMOVED = "+447700900002"  # in the configuration, removed at runtime
ADDED = "+447700900003"  # added at runtime
CONFIG = NetworkConfig(
    default_region="GB",
    prefix_defaults=(PrefixDefaultConfig(prefix="44", home_network="23415"),),
    subscribers=(
        SubscriberConfig(msisdn=LISTED, state="attached"),
        SubscriberConfig(msisdn=REMOVED, state="attached"),
    ),
)


def start(data_dir: Path, engine: Engine | None = None) -> SimulatedNetwork:
    hlr = build_hlr(CONFIG)
    return SimulatedNetwork(
        hlr.hlr,
        lookup=hlr.lookup,
        sc_address=SC,
        state=NetworkState.open(data_dir),
        engine=None if engine is None else link(engine),
    )


class Engine:
    """The engine's side of alerts: which addresses were asked for and released."""

    def __init__(self) -> None:
        self.asked: list[str] = []
        self.released: list[str] = []

    async def waiting_for(self, address: str) -> Sequence[StoredMessage]:
        self.asked.append(address)
        return []

    async def release(self, address: str) -> int:
        self.released.append(address)
        return 0


def link(engine: Engine) -> EngineLink:
    async def refuse(*args: Any) -> Any:
        raise AssertionError("no MO in these tests")

    return EngineLink(
        waiting_for=engine.waiting_for,
        release=engine.release,
        account_for=lambda address: None,
        deliver_to_account=refuse,
        submit_mt=refuse,
    )


async def test_subscriber_changes_survive_a_restart(tmp_path: Path) -> None:
    network = start(tmp_path)
    table = network.hlr.subscribers
    table.add(ADDED, state=SubscriberState.ABSENT)  # IMSI made up from its network
    table.change(LISTED, msc_address="447700000123", latency="fixed:5")
    network.hlr.set_state(LISTED, SubscriberState.BUSY)
    assert table.remove(REMOVED)
    network.configure_handset(ADDED, capacity=3, delete_old=False)
    await network.close()

    again = start(tmp_path)
    table = again.hlr.subscribers
    added = table.get(ADDED)
    assert added is not None and added.state is SubscriberState.ABSENT
    listed = table.get(LISTED)
    assert listed is not None and listed.state is SubscriberState.BUSY
    assert listed.msc_address == "447700000123" and str(listed.latency) == "fixed:5"
    assert table.get(REMOVED) is None  # removed, although the configuration lists it
    # A made-up IMSI stays made up: it follows the network when the number is ported.
    ported = table.change(ADDED, ported_to="23410")
    assert ported.imsi.startswith("23410")
    handset = again.handset(ADDED)
    assert (handset.capacity, handset.delete_old) == (3, False)
    await again.close()


async def test_message_waiting_data_survives_and_alerts_after_a_restart(tmp_path: Path) -> None:
    engine = Engine()
    network = start(tmp_path, engine)
    network.hlr.subscribers.add(ADDED, state=SubscriberState.ABSENT)
    # A message addressed in national form (default_region GB) fails: MWD is set.
    attempt = await network.route.attempt(record("07700900003"))
    assert isinstance(attempt, TemporaryFailure) and attempt.error == 6  # absentSubscriberSM
    waiting = network.hlr.message_waiting(ADDED)
    assert waiting is not None and waiting.mnrf and waiting.service_centres == (SC,)
    await network.close()

    engine = Engine()
    again = start(tmp_path, engine)
    assert again.hlr.message_waiting(ADDED) == waiting
    again.hlr.set_state(ADDED, SubscriberState.ATTACHED)  # alertServiceCentre
    await again.route.drain()
    # Every spelling the messages may be stored under, the national one included.
    assert set(engine.released) == {"447700900003", "+447700900003", "07700900003"}
    assert again.hlr.message_waiting(ADDED) is None
    await again.close()

    third = start(tmp_path)  # the alert cleared the data on disk too
    assert third.hlr.message_waiting(ADDED) is None
    assert third.route._waiting_addresses == {}
    await third.close()


async def test_a_delivery_clears_message_waiting_data_on_disk(tmp_path: Path) -> None:
    network = start(tmp_path)
    network.hlr.report_sm_delivery_status(LISTED, DeliveryOutcome.ABSENT_SUBSCRIBER, SC)
    network.hlr.report_sm_delivery_status(LISTED, DeliveryOutcome.SUCCESSFUL_TRANSFER, SC)
    await network.close()
    again = start(tmp_path)
    assert again.hlr.message_waiting(LISTED) is None
    await again.close()


async def test_writes_are_durable_when_flush_returns(tmp_path: Path) -> None:
    network = start(tmp_path)
    network.hlr.subscribers.add(ADDED, state=SubscriberState.BARRED)
    await network.saved()
    # Read by another connection while the node still runs (no close: as after a kill -9).
    with sqlite3.connect(tmp_path / "network.sqlite3") as db:
        rows = db.execute("SELECT msisdn, state FROM subscribers").fetchall()
    assert rows == [(447700900003, "barred")]
    await network.close()


@pytest.fixture
async def admin(tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, SimulatedNetwork]]:
    network = start(tmp_path)
    transport = httpx.ASGITransport(app=create_app(network=network))
    async with httpx.AsyncClient(transport=transport, base_url="http://admin") as client:
        yield client, network
    await network.close()


async def test_a_change_that_cannot_be_saved_is_a_503(
    admin: tuple[httpx.AsyncClient, SimulatedNetwork],
) -> None:
    client, network = admin
    assert network.state is not None
    network.state._db.execute("PRAGMA query_only = 1")  # as a read-only file system would
    answer = await client.post("/v1/network/subscribers", json={"msisdn": ADDED})
    assert answer.status_code == 503, answer.text
    assert answer.headers["content-type"].startswith(MEDIA_TYPE)
    assert answer.json()["type"] == "urn:opensmsc:problem:not-saved"
    with pytest.raises(StateNotSaved):
        network.hlr.subscribers.remove(ADDED)
        await network.saved()


async def test_subscriber_answers_show_message_waiting_data(
    admin: tuple[httpx.AsyncClient, SimulatedNetwork],
) -> None:
    client, network = admin
    assert (await client.get(f"/v1/network/subscribers/{LISTED}")).json()["message_waiting"] is None
    network.hlr.report_sm_delivery_status(LISTED, DeliveryOutcome.MEMORY_CAPACITY_EXCEEDED, SC)
    body = (await client.get(f"/v1/network/subscribers/{LISTED}")).json()
    assert body["message_waiting"] == {"mnrf": False, "mcef": True, "service_centres": [SC]}


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    with sqlite3.connect(tmp_path / "network.sqlite3") as db:
        db.execute("PRAGMA user_version = 99")
    with pytest.raises(StateNotSaved, match="schema version 99"):
        NetworkState.open(tmp_path)
