"""`opensmsc subscribers|lookup|inbox|mo` against a real HTTP admin API on port 0. The CLI's
HTTP client blocks, so it runs in a thread while the loop serves."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from opensmsc.app import build_hlr
from opensmsc.cli.main import main
from opensmsc.config.model import NetworkConfig, PrefixDefaultConfig
from opensmsc.http import HttpServer, create_app
from opensmsc.network import EngineLink, SimulatedNetwork, SubscriberState
from opensmsc.smpp import DeliverSm, SubmitSm
from opensmsc.sms import gsm7
from opensmsc.sms.tpdu import SmsDeliver


class Node:
    def __init__(self, network: SimulatedNetwork, url: str) -> None:
        self.network = network
        self.url = url
        self.mo: list[DeliverSm] = []

    async def cli(self, *argv: str) -> int:
        return await asyncio.to_thread(main, [*argv, "--url", self.url])


@pytest.fixture
async def node() -> AsyncIterator[Node]:
    services = build_hlr(
        NetworkConfig(prefix_defaults=(PrefixDefaultConfig(prefix="44", home_network="23415"),))
    )

    async def on_mo(connector: str, pdu: DeliverSm) -> None:
        running.mo.append(pdu)

    async def refuse(pdu: SubmitSm) -> tuple[str | None, int]:
        return None, 0x45

    async def nothing(address: str) -> list[object]:
        return []

    async def none(address: str) -> int:
        return 0

    network = SimulatedNetwork(
        services.hlr,
        engine=EngineLink(
            waiting_for=nothing,  # type: ignore[arg-type]
            release=none,
            account_for=lambda d: "esme1" if d == "5000" else None,
            deliver_to_account=on_mo,
            submit_mt=refuse,
        ),
    )
    server = HttpServer(create_app(network=network, lookup=services.lookup), port=0)
    port = await server.start()
    running = Node(network, f"http://127.0.0.1:{port}")
    yield running
    await server.stop()


async def test_subscribers_add_set_list_remove(
    node: Node, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await node.cli("subscribers", "add", "+447700900001", "--state", "absent") == 0
    assert "+447700900001" in capsys.readouterr().out
    assert (
        await node.cli(
            "subscribers", "set", "447700900001", "--state", "busy", "--ported-to", "23410"
        )
        == 0
    )
    record = node.network.hlr.subscribers.get("+447700900001")
    assert record is not None and record.state is SubscriberState.BUSY
    assert record.ported_to == "23410"
    capsys.readouterr()
    assert await node.cli("subscribers", "list", "--json") == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed["total"] == 1 and listed["subscribers"][0]["state"] == "busy"
    assert await node.cli("subscribers", "remove", "+447700900001") == 0
    assert len(node.network.hlr.subscribers) == 0


async def test_refusals_print_the_problem_and_exit_1(
    node: Node, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await node.cli("subscribers", "remove", "+447700900009") == 1
    assert "Unknown subscriber" in capsys.readouterr().err
    assert await node.cli("lookup", "12ab") == 1
    assert "Invalid number" in capsys.readouterr().err


async def test_set_of_an_unknown_subscriber_fails_and_creates_nothing(
    node: Node, capsys: pytest.CaptureFixture[str]
) -> None:
    # Issue 10 item 13: `subscribers set` used to create the subscriber.
    assert await node.cli("subscribers", "set", "+447700900009", "--state", "absent") == 1
    err = capsys.readouterr().err
    assert "Unknown subscriber" in err and "subscribers add" in err
    assert len(node.network.hlr.subscribers) == 0
    assert await node.cli("subscribers", "add", "+447700900009", "--state", "absent") == 0
    assert await node.cli("subscribers", "set", "+447700900009", "--state", "attached") == 0
    record = node.network.hlr.subscribers.get("+447700900009")
    assert record is not None and record.state is SubscriberState.ATTACHED


async def test_lookup_inbox_and_mo(node: Node, capsys: pytest.CaptureFixture[str]) -> None:
    assert await node.cli("lookup", "+447700900001") == 0
    out = capsys.readouterr().out
    assert "reachable" in out and "23415" in out
    node.network.handset("+447700900001").receive(
        SmsDeliver(originator="ACME", user_data=gsm7.encode("your code is 1234")), network="23415"
    )
    assert await node.cli("inbox", "+447700900001") == 0
    assert "from ACME via 23415: your code is 1234" in capsys.readouterr().out
    assert await node.cli("mo", "+447700900001", "5000", "STOP", "ALL") == 0
    assert "sent 1 part(s) to 5000" in capsys.readouterr().out
    assert gsm7.decode(node.mo[0].short_message) == "STOP ALL"
    assert await node.cli("mo", "+447700900001", "+447700900002", "hi") == 1
    assert "MO refused" in capsys.readouterr().err
    assert await node.cli("inbox", "+447700900001", "--delete") == 0
    assert "deleted 1 message(s)" in capsys.readouterr().out


async def test_lookup_prints_a_dash_for_missing_fields(
    node: Node, capsys: pytest.CaptureFixture[str]
) -> None:
    # Issue 10 item 14: fields the HLR does not give (no IMSI, no serving MSC for an unknown
    # subscriber) were printed as Python's "None".
    assert await node.cli("subscribers", "add", "+447700900003", "--state", "unknown") == 0
    capsys.readouterr()
    assert await node.cli("lookup", "+447700900003") == 0
    out = capsys.readouterr().out
    assert "None" not in out
    lines = dict(line.split(None, 1) for line in out.splitlines()[1:])
    assert lines["imsi"] == "-" and lines["msc"] == "-"
    assert lines["network"] == "- (home 23415)"
    assert "unknownSubscriber" in out.splitlines()[0]


async def test_unreachable_node(capsys: pytest.CaptureFixture[str]) -> None:
    code = await asyncio.to_thread(main, ["lookup", "+447700900001", "--url", "http://127.0.0.1:9"])
    assert code == 1
    assert "cannot reach the node" in capsys.readouterr().err


def test_url_and_token_from_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import argparse

    from opensmsc.cli.admin_client import client_from_args

    monkeypatch.delenv("OPENSMSC_ADMIN_URL", raising=False)
    monkeypatch.delenv("OPENSMSC_ADMIN_TOKEN", raising=False)
    config = tmp_path / "opensmsc.toml"
    config.write_text('[node]\ndata_dir = "d"\n[http]\nbind_address = "0.0.0.0"\nport = 9999\n')
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "admin-token").write_text("secret\n")
    node = client_from_args(argparse.Namespace(url=None, config=str(config)))
    assert (node.base_url, node.token) == ("http://127.0.0.1:9999", "secret")
    node = client_from_args(argparse.Namespace(url=None, config=None))
    assert (node.base_url, node.token) == ("http://127.0.0.1:8775", None)
    monkeypatch.setenv("OPENSMSC_ADMIN_URL", "http://10.0.0.5:8775")
    monkeypatch.setenv("OPENSMSC_ADMIN_TOKEN", "from-env")
    node = client_from_args(argparse.Namespace(url=None, config=str(config), token=None))
    assert (node.base_url, node.token) == ("http://10.0.0.5:8775", "from-env")
