"""`opensmsc probe` against a real node on ephemeral ports (issue 16): plaintext SMPP
(enquire_link, a bind with good and bad credentials), the TLS listener with the node's own
certificate, the policy server's hello, a closed port, a TCP server that speaks first.

The verb runs in a worker thread (it calls asyncio.run) while the node serves on the test's
loop; the certificate's fingerprint is recomputed here from the file with `cryptography`."""

from __future__ import annotations

import asyncio
import hashlib
import json
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from opensmsc.cli.main import main
from opensmsc.cli.probe import parse_target, probe
from tests.conftest import HOST, TestSmsc

pytestmark = pytest.mark.timeout(60)


async def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    status = await asyncio.to_thread(main, ["probe", *args])
    return status, capsys.readouterr().out


async def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any]]:
    status, out = await run_cli(capsys, *args, "--json")
    return status, json.loads(out)


def closed_port() -> int:
    """A port nothing listens on: bound then released (ephemeral, so no other test takes it
    between the close and the probe but by a rare accident)."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


@pytest.fixture
async def banner_server() -> AsyncIterator[int]:
    """A plain TCP server that greets first, as SMTP or SSH do."""

    async def greet(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220 mail.example ESMTP\r\n\x00\xff")
        await writer.drain()
        await reader.read(1024)  # until the prober leaves
        writer.close()

    server = await asyncio.start_server(greet, HOST, 0)
    async with server:
        yield server.sockets[0].getsockname()[1]


async def test_plaintext_smpp_enquire_link(smsc: TestSmsc, capsys: Any) -> None:
    status, report = await run_json(capsys, f"{HOST}:{smsc.port}")
    assert status == 0
    assert report["tcp"] == "open" and report["connect_ms"] >= 0
    assert report["tls"] is None and report["tls_error"]  # auto tried TLS, then plaintext
    assert report["protocol"] == "smpp"
    # An enquire_link before a bind: our SMSC answers it (SMPP 3.4 §4.11 allows it when open).
    assert report["details"]["answer"] in ("enquire_link_resp", "generic_nack")
    status, text = await run_cli(capsys, f"{HOST}:{smsc.port}", "--tls", "off")
    assert status == 0
    assert "tls      off" in text and "smpp     " in text


async def test_bind_with_good_credentials_reports_system_id_and_version(
    smsc: TestSmsc, capsys: Any
) -> None:
    args = (f"{HOST}:{smsc.port}", "--tls", "off", "--system-id", "esme1", "--password", "pw1")
    status, report = await run_json(capsys, *args)
    assert status == 0
    details = report["details"]
    assert details["answer"] == "bind_transceiver_resp"
    assert (details["command_status"], details["status_name"]) == (0, "ESME_ROK")
    assert details["system_id"] == "opensmsc"
    # SMPP 3.4 §4.1.2: the SMSC reports its own interface_version (ours speaks 5.0), not ours.
    assert details["interface_version"] == "0x50"
    assert details["unbind"] == "unbind_resp"
    _, text = await run_cli(capsys, *args)
    assert "system   'opensmsc' interface 0x50" in text


async def test_bind_with_bad_credentials_shows_the_status(smsc: TestSmsc, capsys: Any) -> None:
    args = (f"{HOST}:{smsc.port}", "--tls", "off", "--system-id", "esme1", "--password", "wrong")
    status, report = await run_json(capsys, *args)
    assert status == 0  # something answered: the refusal is the answer
    details = report["details"]
    assert details["answer"] == "bind_transceiver_resp"
    assert details["command_status"] != 0
    assert details["status_name"] in ("ESME_RINVPASWD", "ESME_RBINDFAIL")
    assert "unbind" not in details


async def test_tls_listener_certificate(smsc: TestSmsc, capsys: Any) -> None:
    cert = x509.load_pem_x509_certificate(smsc.cert_path.read_bytes())
    expected = hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()
    status, report = await run_json(capsys, f"{HOST}:{smsc.tls_port}")
    assert status == 0
    tls = report["tls"]
    assert tls["sha256"].replace(":", "").lower() == expected
    assert tls["subject"] == cert.subject.rfc4514_string()
    assert tls["issuer"] == cert.issuer.rfc4514_string()
    assert tls["not_after"] == cert.not_valid_after_utc.isoformat()
    assert tls["version"].startswith("TLSv1.")
    assert tls["verified"] is False and tls["verify_error"]  # self-signed: not in the store
    assert report["protocol"] == "smpp"  # SMPP inside the TLS session
    status, text = await run_cli(capsys, f"{HOST}:{smsc.tls_port}", "--tls", "on")
    assert status == 0 and f"sha256   {tls['sha256']}" in text


async def test_tls_on_against_plaintext_fails(smsc: TestSmsc, capsys: Any) -> None:
    status, report = await run_json(capsys, f"{HOST}:{smsc.port}", "--tls", "on", "--timeout", "3")
    assert status == 1
    assert report["tls"] is None and report["tls_error"]


async def test_policyd_hello(smsc: TestSmsc, capsys: Any) -> None:
    port = smsc.running.ports["policyd"]
    status, report = await run_json(capsys, f"{HOST}:{port}")
    assert status == 0
    assert report["protocol"] == "policyd", report
    details = report["details"]
    assert details["hello"] == "ok"
    assert details["version"].split(".")[0] == "1"
    assert "route.query" in details["methods"] and "hello" in details["methods"]
    _, text = await run_cli(capsys, f"{HOST}:{port}", "--tls", "off")
    assert "policyd  hello ok" in text


async def test_closed_port_exits_2(capsys: Any) -> None:
    status, text = await run_cli(capsys, f"{HOST}:{closed_port()}")
    assert status == 2
    assert "refused" in text


async def test_banner_server_is_an_unknown_protocol(banner_server: int, capsys: Any) -> None:
    result = await probe(HOST, banner_server, tls="off", timeout=3)
    assert result.protocol == "unknown"
    assert result.details["first_bytes"] == "220 mail.example ESMTP\\r\\n\\x00\\xff"
    status, text = await run_cli(capsys, f"{HOST}:{banner_server}")
    assert status == 0
    assert "protocol unknown; first bytes: 220 mail.example ESMTP" in text


@pytest.mark.parametrize(
    ("target", "expected"),
    [("h:2775", ("h", 2775)), ("[::1]:3055", ("::1", 3055)), ("10.0.0.1:1", ("10.0.0.1", 1))],
)
def test_parse_target(target: str, expected: tuple[str, int]) -> None:
    assert parse_target(target) == expected


@pytest.mark.parametrize("target", ["h", "h:", ":1", "h:0", "h:65536", "h:x"])
def test_parse_target_refuses(target: str) -> None:
    with pytest.raises(ValueError):
        parse_target(target)


async def test_http_listener_answering_our_request_is_unknown(smsc: TestSmsc) -> None:
    """The admin API answers the SMPP request with an HTTP error: shown as it came."""
    result = await probe(HOST, smsc.running.ports["http"], tls="off", timeout=3)
    assert result.protocol == "unknown"
    assert result.details["first_bytes"].startswith("HTTP/1.1 400")
