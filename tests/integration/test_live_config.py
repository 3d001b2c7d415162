"""The live configuration on a real node (app.start, real sockets, the admin API over HTTP):
accounts added and removed while another ESME stays bound, a connector added live to a carrier
(tests/integration/carrier.py, our own SMSC core on the other side), routes swapped while an
ESME submits, and the file's own words for a change the file could not hold."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from opensmsc import app
from opensmsc.accounts import hash_password
from opensmsc.config import check, loads
from opensmsc.smpp import CommandId, MessageState, SubmitSmResp
from opensmsc.transport import ensure_self_signed, fingerprint
from tests.conftest import SmppTestClient
from tests.integration.carrier import TestCarrier, wait_until

pytestmark = pytest.mark.timeout(120)

PASSWORD = "secret"
_HASH = hash_password(PASSWORD)


def node_toml(data_dir: Path) -> str:
    return f"""
        [node]
        data_dir = "{data_dir}"
        [smpp.server]
        bind_address = "127.0.0.1"
        port = 0
        tls_enabled = false
        bind_failure_delay = 0
        [http]
        bind_address = "127.0.0.1"
        port = 0
        [policyd]
        enabled = false
        [[accounts]]
        system_id = "esme1"
        password_hash = "{_HASH}"
        allowed_networks = ["127.0.0.0/8"]
        [routing]
        default_route = "loopback"
        """


@contextlib.asynccontextmanager
async def live_node(tmp_path: Path) -> AsyncIterator[tuple[app.RunningSmsc, httpx.AsyncClient]]:
    data = tmp_path / "node"
    data.mkdir(exist_ok=True)
    running = await app.start(loads(node_toml(data)))
    try:
        base = f"http://127.0.0.1:{running.ports['http']}"
        async with httpx.AsyncClient(base_url=base, timeout=30) as http:
            yield running, http
    finally:
        await running.stop()


@contextlib.asynccontextmanager
async def esme(
    running: app.RunningSmsc, system_id: str = "esme1", password: str = PASSWORD
) -> AsyncIterator[SmppTestClient]:
    reader, writer = await asyncio.open_connection("127.0.0.1", running.ports["smpp"])
    client = SmppTestClient(reader, writer)
    try:
        resp = await client.bind("trx", system_id, password)
        assert resp.status == 0, f"bind refused: 0x{resp.status:08X}"
        yield client
    finally:
        await client.close()


async def bind_status(running: app.RunningSmsc, system_id: str, password: str) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", running.ports["smpp"])
    client = SmppTestClient(reader, writer)
    try:
        return (await client.bind("trx", system_id, password)).status
    finally:
        await client.close()


def file_message(tmp_path: Path, extra: str) -> str:
    """What `check-config` says of a file with `extra` in esme1's table."""
    path = tmp_path / "bad.toml"
    text = node_toml(tmp_path / "unused")
    marker = 'allowed_networks = ["127.0.0.0/8"]\n'
    path.write_text(text.replace(marker, marker + extra))
    errors = check(path)
    assert len(errors) == 1, errors
    return errors[0].message


async def test_an_esme_stays_bound_while_another_account_is_added_and_removed(
    tmp_path: Path,
) -> None:
    async with live_node(tmp_path) as (running, http), esme(running) as first:
        added = await http.post(
            "/v1/admin/accounts",
            json={"system_id": "esme2", "password": "pw2", "window": 20},
        )
        assert added.status_code == 201, added.text
        item = added.json()
        assert item["system_id"] == "esme2" and item["window"] == 20
        assert item["source"] == "live" and item["enabled"] is True
        assert item["password_hash"] == "***" and "password" not in item

        async with esme(running, "esme2", "pw2") as second:
            assert (await first.submit()).status == 0
            theirs = await second.submit(registered_delivery=1)
            assert theirs.status == 0 and isinstance(theirs.pdu, SubmitSmResp)

            removed = await http.delete("/v1/admin/accounts/esme2")
            assert removed.status_code == 204, removed.text
            # The removed account's session is unbound; the other one carries on.
            await second.expect(CommandId.UNBIND, timeout=10)
            assert (await first.submit()).status == 0

        assert await bind_status(running, "esme2", "pw2") != 0
        # Its stored messages stay, for when it comes back.
        kept = await running.engine.store.get(theirs.pdu.message_id)
        assert kept is not None and kept.system_id == "esme2"
        listed = (await http.get("/v1/admin/accounts")).json()["items"]
        assert [a["system_id"] for a in listed] == ["esme1"]
        assert listed[0]["source"] == "file"

        # disable / enable: the same account, kept but refused while disabled
        assert (
            await http.post("/v1/admin/accounts", json={"system_id": "esme3", "password": "pw3"})
        ).status_code == 201
        disabled = await http.post("/v1/admin/accounts/esme3/disable")
        assert disabled.status_code == 200 and disabled.json()["enabled"] is False
        assert await bind_status(running, "esme3", "pw3") != 0
        assert (await http.post("/v1/admin/accounts/esme3/enable")).status_code == 200
        assert await bind_status(running, "esme3", "pw3") == 0
        assert (await first.submit()).status == 0


async def test_a_change_the_file_could_not_hold_is_refused_in_the_files_words(
    tmp_path: Path,
) -> None:
    async with live_node(tmp_path) as (running, http), esme(running) as first:
        bad = await http.patch("/v1/admin/accounts/esme1", json={"window": -3})
        assert bad.status_code == 422
        problem = bad.json()
        assert problem["type"] == "urn:opensmsc:problem:config-invalid"
        assert problem["errors"] == [
            {"key": "window", "message": file_message(tmp_path, "window = -3\n")}
        ]
        typo = await http.patch("/v1/admin/accounts/esme1", json={"windw": 3})
        assert typo.json()["errors"] == [
            {"key": "windw", "message": file_message(tmp_path, "windw = 3\n")}
        ]
        nowhere = await http.post("/v1/admin/routes", json={"prefix": "44", "route": "c9"})
        assert nowhere.status_code == 422
        assert nowhere.json()["errors"][0]["key"] == "route"
        assert "is no route" in nowhere.json()["errors"][0]["message"]
        nameless = await http.post("/v1/admin/accounts", json={"window": 3})
        assert nameless.status_code == 422
        assert nameless.json()["errors"][0]["key"] == "system_id"
        taken = await http.post("/v1/admin/accounts", json={"system_id": "esme1", "password": "x"})
        assert taken.status_code == 409
        assert taken.json()["type"] == "urn:opensmsc:problem:config-item-exists"
        unknown = await http.patch("/v1/admin/connectors/none", json={"window": 3})
        assert unknown.status_code == 404
        assert unknown.json()["type"] == "urn:opensmsc:problem:config-item-not-found"
        rename = await http.patch("/v1/admin/accounts/esme1", json={"system_id": "other"})
        assert rename.status_code == 422
        long_password = await http.patch("/v1/admin/accounts/esme1", json={"password": "x" * 9})
        assert long_password.status_code == 422
        assert long_password.json()["errors"][0]["key"] == "password"
        # Valid as a file, but the node could not apply it: refused, and not kept.
        unset = await http.post(
            "/v1/admin/connectors",
            json={
                "name": "c9",
                "host": "127.0.0.1",
                "system_id": "gw",
                "password_env": "OPENSMSC_TEST_UNSET_VARIABLE",
            },
        )
        assert unset.status_code == 422, unset.text
        assert "OPENSMSC_TEST_UNSET_VARIABLE is not set" in unset.json()["errors"][0]["message"]
        assert (await http.get("/v1/admin/connectors")).json()["items"] == []
        assert running.live is not None and running.live.config.smpp.client == ()
        # Nothing of that changed the running node.
        assert (await first.submit()).status == 0
        assert [a["window"] for a in (await http.get("/v1/admin/accounts")).json()["items"]] == [10]


async def test_a_connector_added_live_carries_what_a_swapped_route_sends_it(
    tmp_path: Path,
) -> None:
    carrier = TestCarrier()
    await carrier.start()
    try:
        async with live_node(tmp_path) as (running, http), esme(running) as client:
            ids: list[str] = []
            statuses: list[int] = []
            stop = asyncio.Event()

            async def submit_all_along() -> None:
                n = 0
                while not stop.is_set():
                    resp = await client.submit(
                        destination_addr=f"3160000{n:04d}", short_message=f"m{n}".encode()
                    )
                    statuses.append(resp.status)
                    if isinstance(resp.pdu, SubmitSmResp):
                        ids.append(resp.pdu.message_id)
                    n += 1
                    await asyncio.sleep(0.01)

            submitting = asyncio.create_task(submit_all_along())
            await wait_until(lambda: len(ids) >= 10, "submits to loopback", lambda: statuses)

            connector = {
                "name": "carrier",
                "host": "127.0.0.1",
                "port": carrier.port,
                "system_id": "gw",
                "password": "pw",
                "reconnect_min_delay": 0.1,
                "reconnect_max_delay": 0.5,
            }
            added = await http.post("/v1/admin/connectors", json=connector)
            assert added.status_code == 201, added.text
            assert added.json()["password"] == "***"
            route = await http.post("/v1/admin/routes", json={"prefix": "316", "route": "carrier"})
            assert route.status_code == 201, route.text
            await wait_until(
                lambda: len(carrier.submitted) >= 10,
                "submits at the carrier",
                running.connectors.status,
            )
            # A changed connector restarts (drains, unbinds, binds again) under traffic.
            restarted = await http.patch("/v1/admin/connectors/carrier", json={"window": 5})
            assert restarted.status_code == 200, restarted.text
            assert restarted.json()["window"] == 5
            so_far = len(carrier.submitted)
            await wait_until(
                lambda: len(carrier.submitted) >= so_far + 10,
                "submits at the carrier after the restart",
                running.connectors.status,
            )
            assert running.connectors.get("carrier").settings.window == 5
            # A connector a route still names cannot go.
            refused = await http.delete("/v1/admin/connectors/carrier")
            assert refused.status_code == 422
            assert refused.json()["errors"][0]["key"] == "routing.routes[0].route"

            back = await http.patch("/v1/admin/routes/316", json={"route": "loopback"})
            assert back.status_code == 200, back.text
            at_carrier = len(carrier.submitted)
            count = len(ids)
            await wait_until(lambda: len(ids) >= count + 10, "submits back to loopback", list)
            stop.set()
            await submitting

            assert set(statuses) == {0}
            store = running.engine.store

            async def settled() -> list[tuple[str, MessageState, str | None]]:
                records = [await store.get(m) for m in ids]
                return [
                    (r.message_id, r.state, r.route)
                    for r in records
                    if r is not None
                    and not (
                        r.state is MessageState.DELIVERED
                        or (r.route == "carrier" and r.upstream_message_id is not None)
                    )
                ]

            deadline = time.monotonic() + 30
            while waiting := await settled():
                assert time.monotonic() < deadline, waiting[:5]
                await asyncio.sleep(0.1)
            went = [await store.get(m) for m in ids]
            to_carrier = [r for r in went if r is not None and r.route == "carrier"]
            assert len(to_carrier) == len(carrier.submitted) >= at_carrier >= 10
            assert len(to_carrier) < len(ids)  # the rest went by loopback, before and after

            removed = await http.delete("/v1/admin/connectors/carrier")
            assert removed.status_code == 204, removed.text
            assert "carrier" not in running.connectors
            assert (await client.submit(destination_addr="31611111111")).status == 0
            listed: list[dict[str, Any]] = (await http.get("/v1/admin/connectors")).json()["items"]
            assert listed == []
    finally:
        await carrier.stop()


async def test_the_export_reads_back_as_the_configuration_in_effect(tmp_path: Path) -> None:
    async with live_node(tmp_path) as (running, http):
        await http.post("/v1/admin/accounts", json={"system_id": "esme2", "password": "pw2"})
        await http.post("/v1/admin/routes", json={"prefix": "44", "route": "loopback"})
        exported = await http.get("/v1/admin/config.toml")
        assert exported.status_code == 200
        again = loads(exported.text)
        assert [a.system_id for a in again.accounts] == ["esme1", "esme2"]
        assert [(r.prefix, r.route) for r in again.routing.routes] == [("44", "loopback")]
        assert "pw2" not in exported.text  # the password travels as its hash only
        assert running.live is not None and again == running.live.config
        # A node without a file has nothing to reload: said plainly, nothing changes.
        reload = (await http.post("/v1/admin/reload")).json()
        assert reload["reloaded"] is False and reload["errors"]


async def test_a_new_file_the_live_changes_do_not_fit_is_refused_whole(tmp_path: Path) -> None:
    data = tmp_path / "node"
    data.mkdir()
    path = tmp_path / "opensmsc.toml"
    connector = (
        '[[smpp.client]]\nname = "c1"\nhost = "127.0.0.1"\nport = 9\nsystem_id = "gw"\n'
        "reconnect_min_delay = 5.0\n"
    )
    path.write_text(node_toml(data) + connector)

    def read() -> Any:
        errors = check(path)
        return errors or loads(path.read_text(), source=str(path), base_dir=tmp_path)

    running = await app.start(loads(path.read_text()), read=read, config_dir=tmp_path)
    try:
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{running.ports['http']}", timeout=30
        ) as http:
            live = await http.post("/v1/admin/routes", json={"prefix": "4477", "route": "c1"})
            assert live.status_code == 201, live.text
            # The file drops c1, which the live route names: refused, nothing changes.
            path.write_text(node_toml(data))
            refused = (await http.post("/v1/admin/reload")).json()
            assert refused["reloaded"] is False
            assert refused["errors"] == [
                "the live changes do not fit the new file: routing.routes[0].route: "
                '"c1" is no route; expected one of: "loopback", "network"'
            ]
            assert "c1" in running.connectors
            # A file that keeps c1 and adds a route: applied, the live route on top.
            path.write_text(
                node_toml(data) + connector + '[[routing.routes]]\nprefix = "44"\nroute = "c1"\n'
            )
            done = (await http.post("/v1/admin/reload")).json()
            assert done == {
                "applied": ["routing.routes[44]"],
                "restart_needed": [],
                "errors": [],
                "reloaded": True,
            }
            routes = (await http.get("/v1/admin/routes")).json()["items"]
            assert [(r["prefix"], r["source"]) for r in routes] == [
                ("44", "file"),
                ("4477", "live"),
            ]
            assert running.engine.router.route_name_for("4477123") == "c1"
            assert running.engine.router.route_name_for("4412") == "c1"
            assert running.engine.router.route_name_for("3312") == "loopback"
    finally:
        await running.stop()


async def test_a_reload_opens_and_closes_listeners_and_bound_sessions_stay(
    tmp_path: Path,
) -> None:
    data = tmp_path / "node"
    data.mkdir()
    path = tmp_path / "opensmsc.toml"
    path.write_text(node_toml(data))

    def read() -> Any:
        return check(path) or loads(path.read_text(), source=str(path), base_dir=tmp_path)

    running = await app.start(loads(path.read_text()), read=read, config_dir=tmp_path)
    try:
        async with (
            httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{running.ports['http']}", timeout=30
            ) as http,
            esme(running) as plain,
        ):
            assert "smpps" not in running.ports
            # TLS on: a listener opens, with its self-signed certificate.
            path.write_text(
                node_toml(data).replace("tls_enabled = false", "tls_enabled = true\ntls_port = 0")
            )
            done = (await http.post("/v1/admin/reload")).json()
            assert done["reloaded"] is True, done
            assert "smpp.server.tls_enabled" in done["applied"]
            reader, writer = await asyncio.open_connection(
                "127.0.0.1", running.ports["smpps"], ssl=_any_certificate()
            )
            secure = SmppTestClient(reader, writer)
            try:
                assert (await secure.bind("trx", "esme1", PASSWORD)).status == 0
                # Plain off: its listener closes; the session bound through it stays.
                path.write_text(
                    node_toml(data)
                    .replace("tls_enabled = false", "tls_enabled = true\ntls_port = 0")
                    .replace(
                        "        port = 0", "        plain_enabled = false\n        port = 0", 1
                    )
                )
                port = plain.writer.get_extra_info("peername")[1]
                done = (await http.post("/v1/admin/reload")).json()
                assert done["applied"] == ["smpp.server.plain_enabled"], done
                assert "smpp" not in running.ports
                with pytest.raises(OSError):
                    await asyncio.open_connection("127.0.0.1", port)
                assert (await plain.submit()).status == 0
                assert (await secure.submit()).status == 0
                assert (await http.get("/ready")).status_code == 200
            finally:
                await secure.close()
    finally:
        await running.stop()


async def test_the_policy_file_may_name_a_connector_added_live(tmp_path: Path) -> None:
    data = tmp_path / "node"
    data.mkdir()
    policy = tmp_path / "policy.toml"
    policy.write_text('default_routes = ["loopback"]\n')
    text = node_toml(data).replace(
        'default_route = "loopback"', f'default_route = "loopback"\npolicy_file = "{policy}"'
    )
    running = await app.start(loads(text))
    try:
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{running.ports['http']}", timeout=30
        ) as http:
            policy.write_text('default_routes = ["c2"]\n')
            early = await http.post("/v1/policy/reload")
            assert early.status_code == 422  # no such route yet: the policy in force is kept
            added = await http.post(
                "/v1/admin/connectors",
                json={"name": "c2", "host": "127.0.0.1", "port": 9, "system_id": "gw"},
            )
            assert added.status_code == 201, added.text
            reloaded = await http.post("/v1/policy/reload")
            assert reloaded.status_code == 200, reloaded.text
            assert reloaded.json()["default_routes"] == ["c2"]
    finally:
        await running.stop()


async def test_at_start_a_kept_change_that_no_longer_fits_is_left_out_and_kept(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data = tmp_path / "node"
    data.mkdir()
    connector = (
        '[[smpp.client]]\nname = "c1"\nhost = "127.0.0.1"\nport = 9\nsystem_id = "gw"\n'
        "reconnect_min_delay = 5.0\n"
    )
    with_c1, without_c1 = loads(node_toml(data) + connector), loads(node_toml(data))

    async def after_start(config: Any) -> tuple[list[tuple[str, str]], bool]:
        running = await app.start(config)
        try:
            assert running.live is not None
            live = running.live.config
            return [(r.prefix, r.route) for r in live.routing.routes], live.accounts[0].enabled
        finally:
            await running.stop()

    running = await app.start(with_c1)
    try:
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{running.ports['http']}", timeout=30
        ) as http:
            added = await http.post("/v1/admin/routes", json={"prefix": "4477", "route": "c1"})
            assert added.status_code == 201, added.text
            assert (await http.post("/v1/admin/accounts/esme1/disable")).status_code == 200
    finally:
        await running.stop()

    caplog.set_level("ERROR", logger="opensmsc.app.live_config")
    # The node starts without that route; the other kept change still applies.
    assert await after_start(without_c1) == ([], False)
    assert "live change not applied routing.routes[4477]" in caplog.text
    assert await after_start(with_c1) == ([("4477", "c1")], False)  # kept: back with c1


def _any_certificate() -> ssl.SSLContext:
    """A client context that takes whatever certificate it is shown: these tests read it."""
    tls_context = ssl.create_default_context()
    tls_context.check_hostname = False
    tls_context.verify_mode = ssl.CERT_NONE
    return tls_context


async def served_fingerprint(port: int) -> str:
    """The fingerprint of the certificate the TLS listener on `port` serves now."""
    _, writer = await asyncio.open_connection("127.0.0.1", port, ssl=_any_certificate())
    try:
        der = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
        return fingerprint(ssl.DER_cert_to_PEM_cert(der).encode())
    finally:
        writer.close()


async def test_a_new_certificate_on_the_same_tls_port_keeps_the_tls_session(
    tmp_path: Path,
) -> None:
    data = tmp_path / "node"
    data.mkdir()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        tls_port = int(probe.getsockname()[1])
    other = ensure_self_signed(tmp_path / "other", common_name="other")
    path = tmp_path / "opensmsc.toml"
    tls = f"tls_enabled = true\ntls_port = {tls_port}"
    path.write_text(node_toml(data).replace("tls_enabled = false", tls))

    def read() -> Any:
        return check(path) or loads(path.read_text(), source=str(path), base_dir=tmp_path)

    running = await app.start(loads(path.read_text()), read=read, config_dir=tmp_path)
    try:
        before = await served_fingerprint(tls_port)
        assert before == running.tls_fingerprint
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", tls_port, ssl=_any_certificate()
        )
        secure = SmppTestClient(reader, writer)
        try:
            assert (await secure.bind("trx", "esme1", PASSWORD)).status == 0
            path.write_text(
                node_toml(data).replace(
                    "tls_enabled = false",
                    f'{tls}\ntls_cert_file = "{other.cert}"\ntls_key_file = "{other.key}"',
                )
            )
            assert running.live is not None
            done = await running.live.reload()
            assert done["reloaded"] is True, done
            assert await served_fingerprint(tls_port) == other.fingerprint != before
            assert running.tls_fingerprint == other.fingerprint
            assert (await secure.submit()).status == 0  # bound before the change: still bound
        finally:
            await secure.close()
    finally:
        await running.stop()


async def test_a_certificate_renewed_in_place_is_served_after_a_reload(tmp_path: Path) -> None:
    # certbot and most PKI tooling renew a certificate under the same file names: the keys of
    # the configuration do not change, the files do. A reload must serve the new one.
    data = tmp_path / "node"
    data.mkdir()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        tls_port = int(probe.getsockname()[1])
    old = ensure_self_signed(tmp_path / "old", common_name="old")
    new = ensure_self_signed(tmp_path / "new", common_name="new")
    cert, key = tmp_path / "smsc.crt", tmp_path / "smsc.key"
    cert.write_bytes(old.cert.read_bytes())
    key.write_bytes(old.key.read_bytes())
    path = tmp_path / "opensmsc.toml"
    tls = (
        f'tls_enabled = true\ntls_port = {tls_port}\ntls_cert_file = "{cert}"\n'
        f'tls_key_file = "{key}"'
    )
    path.write_text(node_toml(data).replace("tls_enabled = false", tls))

    def read() -> Any:
        return check(path) or loads(path.read_text(), source=str(path), base_dir=tmp_path)

    running = await app.start(loads(path.read_text()), read=read, config_dir=tmp_path)
    try:
        assert await served_fingerprint(tls_port) == old.fingerprint
        assert running.live is not None
        # Nothing changed: nothing is reopened.
        assert (await running.live.reload())["reloaded"] is True
        assert await served_fingerprint(tls_port) == old.fingerprint
        cert.write_bytes(new.cert.read_bytes())
        key.write_bytes(new.key.read_bytes())
        done = await running.live.reload()
        assert done["reloaded"] is True, done
        assert done["applied"] == ["smpp.server.tls_cert_file (contents)"], done
        assert await served_fingerprint(tls_port) == new.fingerprint
        assert running.tls_fingerprint == new.fingerprint
    finally:
        await running.stop()
