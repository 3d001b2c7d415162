"""The composition root: the node as `opensmsc run` starts it, under uvloop as in production,
and with upstream connectors from the configuration."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
import uvloop

from opensmsc import app
from opensmsc.accounts.passwords import hash_password
from opensmsc.config import Config, loads
from opensmsc.errors import StartupError
from opensmsc.smpp.codec import FrameBuffer, decode, encode
from opensmsc.smpp.constants import Tag
from opensmsc.smpp.pdu import BindTransceiver, BindTransceiverResp, SubmitSm, SubmitSmResp
from opensmsc.store import DB_FILENAME, SqliteStore
from opensmsc.upstream.model import ConnectorState
from opensmsc.upstream.route import ConnectorRoute


def _config(tmp_path: Path, extra: str = "") -> Config:
    return loads(
        f"""
        [node]
        data_dir = "{tmp_path}"
        [policyd]
        port = 0
        [smpp.server]
        bind_address = "127.0.0.1"
        port = 0
        tls_port = 0
        [[accounts]]
        system_id = "esme1"
        password_hash = "{hash_password("secret")}"
        allowed_networks = ["127.0.0.0/8"]
        {extra}
        """
    )


async def _bind_and_submit(port: int, count: int) -> list[str]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    frames = FrameBuffer()

    async def read_pdus(expected: int) -> list[object]:
        pdus: list[object] = []
        while len(pdus) < expected:
            data = await asyncio.wait_for(reader.read(65536), 5)
            assert data, "the SMSC closed the connection"
            pdus.extend(decode(frame).pdu for frame in frames.feed(data))
        return pdus

    writer.write(encode(BindTransceiver(system_id="esme1", password="secret"), 1))
    (bind_resp,) = await read_pdus(1)
    assert isinstance(bind_resp, BindTransceiverResp)
    assert bind_resp.command_status == 0
    submits = (SubmitSm(destination_addr="316", short_message=b"hi") for _ in range(count))
    writer.write(b"".join(encode(pdu, n) for n, pdu in enumerate(submits, start=2)))
    responses = await read_pdus(count)
    writer.close()
    await writer.wait_closed()
    assert [getattr(r, "command_status", r) for r in responses] == [0] * count
    return [r.message_id for r in responses if isinstance(r, SubmitSmResp)]


def test_the_node_serves_plain_and_tls_under_uvloop(tmp_path: Path) -> None:
    async def scenario() -> None:
        assert isinstance(asyncio.get_running_loop(), uvloop.Loop)
        running = await app.start(_config(tmp_path))
        try:
            # Within the account's window of 10; beyond it the SMSC answers ESME_RTHROTTLED.
            message_ids = await _bind_and_submit(running.ports["smpp"], 10)
            message_ids += await _bind_and_submit(running.ports["smpp"], 10)
            assert len(set(message_ids)) == 20
            assert running.tls_fingerprint is not None
            assert (tmp_path / "tls").is_dir()
        finally:
            await running.stop()

    uvloop.run(scenario())


async def test_connectors_from_the_configuration_bind_upstream_and_stop(tmp_path: Path) -> None:
    carrier = await app.start(_config(tmp_path / "carrier"))
    node = None
    try:
        node = await app.start(
            _config(
                tmp_path / "node",
                f"""
                [[smpp.client]]
                name = "carrier"
                host = "127.0.0.1"
                port = {carrier.ports["smpp"]}
                system_id = "esme1"
                password = "secret"
                [network]
                [[network.ported]]
                msisdn = "+31600000001"
                recipient_network = "20408"
                routing_number = "1234"
                """,
            )
        )
        assert node.connectors is not None
        # Messages routed to the carrier carry our portability result (SMPP 5.0 NP TLVs).
        route = node.engine.router.get("carrier")
        assert isinstance(route, ConnectorRoute) and route.np_lookup is not None
        assert route.np_lookup("31600000001").get(Tag.DEST_ADDR_NP_RESOLUTION) == 2
        assert route.np_lookup("31600000002").get(Tag.DEST_ADDR_NP_RESOLUTION) == 1
        for _ in range(200):
            if node.connectors.status()["carrier"].state is ConnectorState.BOUND:
                break
            await asyncio.sleep(0.02)
        assert node.connectors.status()["carrier"].state is ConnectorState.BOUND
    finally:
        if node is not None:
            await node.stop()
            assert node.connectors is not None
            assert node.connectors.status()["carrier"].state is ConnectorState.STOPPED
        await carrier.stop()


async def test_the_service_centre_address_goes_into_the_hlrs_message_waiting_data(
    tmp_path: Path,
) -> None:
    absent = "447700900009"
    running = await app.start(
        _config(
            tmp_path,
            f"""
            [network]
            sc_address = "447000000001"
            [[network.subscribers]]
            msisdn = "+{absent}"
            state = "absent"
            """,
        )
    )
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", running.ports["smpp"])
        writer.write(encode(BindTransceiver(system_id="esme1", password="secret"), 1))
        frames = FrameBuffer()
        bound: list[bytes] = []
        while not bound:  # a submit before the bind_resp would be refused
            bound = frames.feed(await asyncio.wait_for(reader.read(65536), 5))
        assert decode(bound[0]).status == 0
        writer.write(encode(SubmitSm(destination_addr=absent, short_message=b"hi"), 2))
        assert running.network is not None
        hlr = running.network.hlr
        for _ in range(250):  # the first attempt fails with absentSubscriberSM
            if hlr.message_waiting(absent) is not None:
                break
            await asyncio.sleep(0.02)
        waiting = hlr.message_waiting(absent)
        assert waiting is not None and waiting.mnrf
        assert waiting.service_centres == ("447000000001",)
        writer.close()
        await writer.wait_closed()
    finally:
        await running.stop()


class FakeService:
    def __init__(self, name: str, log: list[str], *, fail_start: bool = False) -> None:
        self.name = name
        self._log = log
        self._fail_start = fail_start

    async def start(self) -> None:
        if self._fail_start:
            raise OSError(f"{self.name} cannot start")
        self._log.append(f"start {self.name}")

    async def stop(self) -> None:
        self._log.append(f"stop {self.name}")
        if self.name == "b":
            raise RuntimeError("b fails to stop")


async def test_services_stop_in_reverse_order_of_start_even_when_one_fails_to_stop() -> None:
    log: list[str] = []
    services = app.Services()
    for name in "abc":
        await services.start(FakeService(name, log))
    await services.stop()
    assert log == ["start a", "start b", "start c", "stop c", "stop b", "stop a"]
    assert services.started == ()


async def test_a_start_that_fails_midway_stops_what_started() -> None:
    log: list[str] = []
    services = app.Services()
    await services.start(FakeService("a", log))
    try:
        await services.start(FakeService("x", log, fail_start=True))
    except OSError:
        await services.stop()
    assert log == ["start a", "stop a"]


async def test_a_node_that_cannot_listen_closes_its_store(tmp_path: Path) -> None:
    first = await app.start(_config(tmp_path / "first"))
    try:
        taken = first.ports["smpp"]
        config = _config(tmp_path / "second")
        config = replace(
            config, smpp=replace(config.smpp, server=replace(config.smpp.server, port=taken))
        )
        with pytest.raises(StartupError, match="listener smpp cannot listen"):
            await app.start(config)
        # Everything the failed node had started is stopped: its store can be opened again.
        store = await SqliteStore.open(tmp_path / "second" / DB_FILENAME)
        await store.close()
    finally:
        await first.stop()


@pytest.mark.parametrize(
    ("extra", "built"),
    [
        ("", True),  # the default route is the simulated network
        ('[routing]\ndefault_route = "loopback"', False),
        ('[routing]\ndefault_route = "loopback"\n[network]', True),
        (
            '[routing]\ndefault_route = "loopback"\n'
            '[[routing.routes]]\nprefix = "44"\nroute = "network"',
            True,
        ),
    ],
    ids=["default", "loopback", "network-section", "network-route"],
)
async def test_the_simulated_network_is_built_only_when_used(
    tmp_path: Path, extra: str, built: bool
) -> None:
    running = await app.start(_config(tmp_path, extra + "\n[http]\nport = 0"))
    try:
        assert (running.network is not None) is built
        assert (running.engine.router.get("network") is not None) is built
        if not built:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{running.ports['http']}") as c:
                assert (await c.get("/v1/health")).status_code == 200
                assert (await c.get("/v1/network/subscribers")).status_code == 404
    finally:
        await running.stop()


def test_a_reload_applies_bind_settings_and_names_what_needs_a_restart(tmp_path: Path) -> None:
    from opensmsc.app.reload import classify

    secret = hash_password("secret")
    base = f'[[accounts]]\nsystem_id = "esme1"\npassword_hash = "{secret}"\n'
    old = loads(base)
    new = loads(
        base
        + f"""
        throughput = 10.0
        default_validity = 60.0
        mo_prefixes = ["5000"]
        webhook_url = "https://example.com/esme1"
        [[accounts]]
        system_id = "esme2"
        password_hash = "{hash_password("two")}"
        max_validity = 1209600.0
        webhook_url = "https://example.com/esme2"
        [logging]
        show_short_message = true
        [store]
        retention = 60.0
        """,
    )
    applied, restart = classify(old, new)
    applied_keys = [
        "logging.show_short_message",
        "accounts[esme1].throughput",
        "accounts[esme1].default_validity",
        "accounts[esme1].mo_prefixes",
        "accounts[esme2]",
    ]
    assert applied == applied_keys
    assert restart == [
        "accounts[esme1].webhook_url",
        "accounts[esme2].webhook_url",
        "store.retention",
    ]
    assert classify(new, old) == (applied_keys, ["accounts[esme1].webhook_url", "store.retention"])


def test_mo_goes_to_the_default_account_when_nothing_else_takes_it() -> None:
    from opensmsc.upstream import MoIngress

    mo = MoIngress(
        None,  # type: ignore[arg-type]  # account_for reads no store
        prefixes=[("5000", "esme1")],
        sessions=lambda: [],
        new_id=lambda: "1",
        wake=lambda: None,
        default_account="test",
    )
    assert mo.account_for("50001") == "esme1"
    assert mo.account_for("6000") == "test"
    assert mo.account_for("6000", default=False) is None
