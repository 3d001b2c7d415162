"""TLS: the self-signed certificate, fingerprints, and real handshakes with our contexts.

Handshakes run over `socket.socketpair()` (server side in a thread) or, for the asyncio path the
listener uses, a loopback server on port 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import re
import socket
import ssl
import stat
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509

from opensmsc.errors import ConfigError
from opensmsc.transport.tls import (
    VALIDITY_DAYS,
    PeerCertificate,
    TlsMaterial,
    client_context,
    ensure_self_signed,
    fingerprint,
    normalize_fingerprint,
    peer_identity,
    server_context,
)

FINGERPRINT = re.compile(r"[0-9A-F]{2}(:[0-9A-F]{2}){31}")


@pytest.fixture(scope="module")
def server_material(tmp_path_factory: pytest.TempPathFactory) -> TlsMaterial:
    return ensure_self_signed(tmp_path_factory.mktemp("smsc"))


@pytest.fixture(scope="module")
def client_material(tmp_path_factory: pytest.TempPathFactory) -> TlsMaterial:
    return ensure_self_signed(tmp_path_factory.mktemp("esme"), common_name="esme-1")


# ---------------------------------------------------------------------- the certificate


def test_first_start_generates_a_certificate_and_a_private_key(tmp_path: Path) -> None:
    material = ensure_self_signed(tmp_path)
    assert material.generated
    assert material.cert == tmp_path / "tls" / "smsc.crt"
    assert stat.S_IMODE(material.key.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "tls").stat().st_mode) == 0o700
    assert FINGERPRINT.fullmatch(material.fingerprint)
    assert material.fingerprint == fingerprint(material.cert.read_bytes())
    # Nothing else, in particular no temporary file left behind.
    assert sorted((tmp_path / "tls").iterdir()) == sorted([material.cert, material.key])


def test_certificate_names_and_validity(tmp_path: Path) -> None:
    now = datetime(2030, 1, 1, tzinfo=UTC)
    material = ensure_self_signed(tmp_path, common_name="smsc.example", now=now)
    cert = x509.load_pem_x509_certificate(material.cert.read_bytes())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    dns = san.get_values_for_type(x509.DNSName)
    assert {"localhost", "smsc.example"} <= set(dns)
    assert socket.gethostname() in dns
    assert set(san.get_values_for_type(x509.IPAddress)) == {
        ipaddress.ip_address("127.0.0.1"),
        ipaddress.ip_address("::1"),
    }
    assert cert.subject.rfc4514_string() == "CN=smsc.example"
    assert material.not_after == now + timedelta(days=VALIDITY_DAYS)
    assert cert.not_valid_before_utc <= now


def test_later_starts_reuse_the_certificate(tmp_path: Path) -> None:
    first = ensure_self_signed(tmp_path)
    again = ensure_self_signed(tmp_path)
    assert not again.generated
    assert again.fingerprint == first.fingerprint
    assert again.not_after == first.not_after


def test_expired_certificate_is_regenerated(tmp_path: Path) -> None:
    first = ensure_self_signed(tmp_path)
    later = datetime.now(UTC) + timedelta(days=VALIDITY_DAYS + 1)
    renewed = ensure_self_signed(tmp_path, now=later)
    assert renewed.generated
    assert renewed.fingerprint != first.fingerprint
    assert renewed.not_after > later


@pytest.mark.parametrize(
    "damage",
    [
        lambda tls: (tls / "smsc.key").write_bytes(b"not a key"),
        lambda tls: (tls / "smsc.crt").write_bytes(b"-----BEGIN CERTIFICATE-----\nxx\n"),
        lambda tls: (tls / "smsc.key").unlink(),
    ],
    ids=["garbled-key", "garbled-cert", "missing-key"],
)
def test_unreadable_material_is_regenerated(
    tmp_path: Path, damage: Callable[[Path], object]
) -> None:
    first = ensure_self_signed(tmp_path)
    damage(tmp_path / "tls")
    renewed = ensure_self_signed(tmp_path)
    assert renewed.generated
    assert renewed.fingerprint != first.fingerprint
    assert stat.S_IMODE(renewed.key.stat().st_mode) == 0o600


def test_key_that_does_not_match_is_regenerated(tmp_path: Path) -> None:
    first = ensure_self_signed(tmp_path / "a")
    other = ensure_self_signed(tmp_path / "b")
    first.key.write_bytes(other.key.read_bytes())
    renewed = ensure_self_signed(tmp_path / "a")
    assert renewed.generated


def test_naive_now_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="aware"):
        ensure_self_signed(tmp_path, now=datetime(2030, 1, 1))


# ---------------------------------------------------------------------- fingerprints


def test_fingerprint_is_the_same_from_pem_text_pem_bytes_and_der(
    server_material: TlsMaterial,
) -> None:
    pem = server_material.cert.read_bytes()
    der = ssl.PEM_cert_to_DER_cert(pem.decode())
    assert fingerprint(pem) == fingerprint(pem.decode()) == fingerprint(der)
    assert fingerprint(pem) == server_material.fingerprint
    assert fingerprint(pem) == fingerprint(pem)  # stable


def test_fingerprint_refuses_what_is_not_a_certificate(server_material: TlsMaterial) -> None:
    with pytest.raises(ValueError):
        fingerprint(server_material.key.read_bytes())
    with pytest.raises(ValueError):
        fingerprint(b"\x30\x03\x02\x01\x00")


@pytest.mark.parametrize(
    "written",
    ["ab" * 32, "AB:" * 31 + "AB", "ab " * 31 + "ab", "sha256:" + "ab" * 32, " " + "Ab" * 32],
)
def test_normalize_fingerprint(written: str) -> None:
    assert normalize_fingerprint(written) == ":".join(["AB"] * 32)


@pytest.mark.parametrize("written", ["ab" * 20, "zz" * 32, ""])
def test_normalize_fingerprint_refuses_non_sha256(written: str) -> None:
    with pytest.raises(ValueError, match="fingerprint"):
        normalize_fingerprint(written)


# ---------------------------------------------------------------------- handshakes


@dataclass(frozen=True, slots=True)
class Outcome:
    version: str | None = None
    peer: PeerCertificate | None = None
    received: bytes = b""
    error: BaseException | None = None


def handshake(
    server: ssl.SSLContext, client: ssl.SSLContext, *, server_hostname: str | None = "localhost"
) -> tuple[Outcome, Outcome]:
    """One TLS session over a socketpair: the server says b"hello" and closes."""
    server_sock, client_sock = socket.socketpair()
    server_outcome: list[Outcome] = []

    def serve() -> None:
        with contextlib.closing(server_sock):
            server_sock.settimeout(10)
            try:
                with server.wrap_socket(server_sock, server_side=True) as tls:
                    tls.sendall(b"hello")
                    server_outcome.append(Outcome(version=tls.version(), peer=peer_identity(tls)))
            except (ssl.SSLError, OSError) as exc:
                server_outcome.append(Outcome(error=exc))

    thread = threading.Thread(target=serve)
    thread.start()
    with contextlib.closing(client_sock):
        client_sock.settimeout(10)
        try:
            with client.wrap_socket(client_sock, server_hostname=server_hostname) as tls:
                # TLS 1.3 settles the client certificate after the client's handshake: a refusal
                # arrives as an alert on the first read.
                received = tls.recv(5)
                client_outcome = Outcome(
                    version=tls.version(), peer=peer_identity(tls), received=received
                )
        except (ssl.SSLError, OSError) as exc:
            client_outcome = Outcome(error=exc)
    thread.join(timeout=10)
    assert not thread.is_alive()
    return server_outcome[0], client_outcome


def legacy_client(maximum: ssl.TLSVersion) -> ssl.SSLContext:
    """A client willing to speak old TLS versions, as an outdated ESME would."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # TLSv1/1.1 are deprecated in ssl
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        context.minimum_version = ssl.TLSVersion.TLSv1
        context.maximum_version = maximum
        context.set_ciphers("DEFAULT:@SECLEVEL=0")
    return context


def plain_server(material: TlsMaterial) -> ssl.SSLContext:
    return server_context(material.cert, material.key, ca=None, require_client_cert=False)


def trusting_client(material: TlsMaterial, **options: Path | None) -> ssl.SSLContext:
    kwargs: dict[str, Path | None] = {"client_cert": None, "client_key": None}
    kwargs.update(options)
    return client_context(ca=material.cert, **kwargs)  # type: ignore[arg-type]


def test_tls_1_1_is_refused(server_material: TlsMaterial) -> None:
    server, client = handshake(plain_server(server_material), legacy_client(ssl.TLSVersion.TLSv1_1))
    assert isinstance(server.error, ssl.SSLError)
    assert server.error.reason == "UNSUPPORTED_PROTOCOL"
    assert isinstance(client.error, ssl.SSLError)
    assert client.error.reason == "TLSV1_ALERT_PROTOCOL_VERSION"


def test_same_legacy_client_gets_in_with_tls_1_2(server_material: TlsMaterial) -> None:
    server, client = handshake(plain_server(server_material), legacy_client(ssl.TLSVersion.TLSv1_2))
    assert server.error is None
    assert client.version == "TLSv1.2"


@pytest.mark.parametrize(
    ("maximum", "expected"),
    [(ssl.TLSVersion.TLSv1_2, "TLSv1.2"), (ssl.TLSVersion.MAXIMUM_SUPPORTED, "TLSv1.3")],
)
def test_our_client_and_server_agree(
    server_material: TlsMaterial, maximum: ssl.TLSVersion, expected: str
) -> None:
    client_ctx = trusting_client(server_material)
    client_ctx.maximum_version = maximum
    server, client = handshake(plain_server(server_material), client_ctx)
    assert server.error is None
    assert client.error is None
    assert client.version == server.version == expected
    assert client.received == b"hello"
    assert client.peer is not None
    assert client.peer.fingerprint == server_material.fingerprint
    assert server.peer is None  # no CA configured: no client certificate asked for


def test_client_checks_the_server_name(server_material: TlsMaterial) -> None:
    _, client = handshake(
        plain_server(server_material),
        trusting_client(server_material),
        server_hostname="smsc.example",
    )
    assert isinstance(client.error, ssl.SSLCertVerificationError)


def test_client_refuses_an_unknown_server(
    server_material: TlsMaterial, client_material: TlsMaterial
) -> None:
    _, client = handshake(plain_server(server_material), trusting_client(client_material))
    assert isinstance(client.error, ssl.SSLCertVerificationError)


def test_client_without_verification_connects_to_anyone(
    server_material: TlsMaterial, caplog: pytest.LogCaptureFixture
) -> None:
    client_ctx = client_context(ca=None, verify=False, client_cert=None, client_key=None)
    assert "verification is off" in caplog.text
    _, client = handshake(plain_server(server_material), client_ctx, server_hostname="any.example")
    assert client.received == b"hello"


@pytest.mark.parametrize("maximum", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.MAXIMUM_SUPPORTED])
def test_required_client_certificate_presented_and_identified(
    server_material: TlsMaterial, client_material: TlsMaterial, maximum: ssl.TLSVersion
) -> None:
    # The CA file holds the ESME's own self-signed certificate: a pinned leaf.
    server_ctx = server_context(
        server_material.cert, server_material.key, ca=client_material.cert, require_client_cert=True
    )
    client_ctx = trusting_client(
        server_material, client_cert=client_material.cert, client_key=client_material.key
    )
    client_ctx.maximum_version = maximum
    server, client = handshake(server_ctx, client_ctx)
    assert server.error is None
    assert client.received == b"hello"
    assert server.peer == PeerCertificate(
        subject="CN=esme-1", issuer="CN=esme-1", fingerprint=client_material.fingerprint
    )


@pytest.mark.parametrize("maximum", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.MAXIMUM_SUPPORTED])
def test_required_client_certificate_missing_is_refused(
    server_material: TlsMaterial, client_material: TlsMaterial, maximum: ssl.TLSVersion
) -> None:
    server_ctx = server_context(
        server_material.cert, server_material.key, ca=client_material.cert, require_client_cert=True
    )
    client_ctx = trusting_client(server_material)
    client_ctx.maximum_version = maximum
    server, client = handshake(server_ctx, client_ctx)
    assert isinstance(server.error, ssl.SSLError)
    assert client.error is not None
    assert client.received == b""


def test_client_certificate_from_an_unknown_issuer_is_refused(
    tmp_path: Path, server_material: TlsMaterial, client_material: TlsMaterial
) -> None:
    intruder = ensure_self_signed(tmp_path, common_name="esme-1")  # same name, other key
    server_ctx = server_context(
        server_material.cert, server_material.key, ca=client_material.cert, require_client_cert=True
    )
    client_ctx = trusting_client(
        server_material, client_cert=intruder.cert, client_key=intruder.key
    )
    server, client = handshake(server_ctx, client_ctx)
    assert isinstance(server.error, ssl.SSLError)
    assert client.received == b""


def test_optional_client_certificate_may_be_absent(
    server_material: TlsMaterial, client_material: TlsMaterial
) -> None:
    server_ctx = server_context(
        server_material.cert,
        server_material.key,
        ca=client_material.cert,
        require_client_cert=False,
    )
    server, client = handshake(server_ctx, trusting_client(server_material))
    assert server.error is None
    assert server.peer is None
    assert client.received == b"hello"


def test_client_key_may_live_in_the_certificate_file(
    tmp_path: Path, server_material: TlsMaterial, client_material: TlsMaterial
) -> None:
    certkey = tmp_path / "esme.pem"  # Kannel's ssl-client-certkey-file
    certkey.write_bytes(client_material.cert.read_bytes() + client_material.key.read_bytes())
    server_ctx = server_context(
        server_material.cert, server_material.key, ca=client_material.cert, require_client_cert=True
    )
    server, _ = handshake(server_ctx, trusting_client(server_material, client_cert=certkey))
    assert server.peer is not None
    assert server.peer.fingerprint == client_material.fingerprint


async def test_peer_identity_through_asyncio(
    server_material: TlsMaterial, client_material: TlsMaterial
) -> None:
    seen: list[PeerCertificate | None] = []

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append(peer_identity(writer.get_extra_info("ssl_object")))
        writer.write(await reader.readexactly(4))
        await writer.drain()
        writer.close()
        await writer.wait_closed()

    server_ctx = server_context(
        server_material.cert, server_material.key, ca=client_material.cert, require_client_cert=True
    )
    server = await asyncio.start_server(on_connect, "127.0.0.1", 0, ssl=server_ctx)
    async with server:
        port = server.sockets[0].getsockname()[1]
        client_ctx = trusting_client(
            server_material, client_cert=client_material.cert, client_key=client_material.key
        )
        # 127.0.0.1 is in the certificate's iPAddress entries.
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", port, ssl=client_ctx, server_hostname="127.0.0.1"
        )
        writer.write(b"ping")
        assert await reader.readexactly(4) == b"ping"
        assert peer_identity(writer.get_extra_info("ssl_object")) is not None
        writer.close()
        await writer.wait_closed()
    assert len(seen) == 1
    assert seen[0] is not None
    assert seen[0].fingerprint == client_material.fingerprint
    assert seen[0].subject == "CN=esme-1"


def test_peer_identity_without_tls_is_none() -> None:
    assert peer_identity(None) is None


# ---------------------------------------------------------------------- configuration errors


def test_required_client_certificate_needs_a_ca(server_material: TlsMaterial) -> None:
    with pytest.raises(ConfigError, match="no CA"):
        server_context(server_material.cert, server_material.key, ca=None, require_client_cert=True)


def test_unloadable_files_are_config_errors(tmp_path: Path, server_material: TlsMaterial) -> None:
    missing = tmp_path / "missing.pem"
    with pytest.raises(ConfigError, match="certificate and key"):
        server_context(missing, server_material.key, ca=None, require_client_cert=False)
    with pytest.raises(ConfigError, match="CA"):
        server_context(
            server_material.cert, server_material.key, ca=missing, require_client_cert=True
        )
    with pytest.raises(ConfigError, match="without a client certificate"):
        client_context(ca=None, client_cert=None, client_key=server_material.key)
    with pytest.raises(ConfigError, match="certificate and key"):
        client_context(ca=None, client_cert=server_material.cert, client_key=missing)


def test_contexts_refuse_anything_below_tls_1_2(server_material: TlsMaterial) -> None:
    server_ctx = plain_server(server_material)
    client_ctx = trusting_client(server_material)
    assert server_ctx.minimum_version == ssl.TLSVersion.TLSv1_2
    assert client_ctx.minimum_version == ssl.TLSVersion.TLSv1_2
    assert client_ctx.check_hostname
    assert client_ctx.verify_mode == ssl.CERT_REQUIRED
    for cipher in server_ctx.get_ciphers():
        assert cipher["protocol"] in {"TLSv1.2", "TLSv1.3"}
        assert "ECDHE" in cipher["name"] or cipher["protocol"] == "TLSv1.3"
