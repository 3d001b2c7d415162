"""TLS for SMPP: the self-signed certificate, the server and client contexts, peer identity.

SMPP over TLS is implicit TLS (DIGEST §3): the handshake follows the TCP connect and plain PDUs
travel inside the tunnel; there is no STARTTLS. This module builds the `ssl.SSLContext`s the
listener on 3550 and the upstream connector hand to asyncio, creates the certificate used when
none is configured, and reads a peer's certificate so that mutual TLS can tie it to a system_id.
It opens no sockets and knows nothing of SMPP sessions or accounts.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import os
import socket
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from opensmsc.errors import ConfigError

__all__ = [
    "CERT_FILENAME",
    "KEY_FILENAME",
    "VALIDITY_DAYS",
    "PeerCertificate",
    "TlsMaterial",
    "client_context",
    "ensure_self_signed",
    "fingerprint",
    "normalize_fingerprint",
    "peer_identity",
    "server_context",
]

log = logging.getLogger(__name__)

CERT_FILENAME = "smsc.crt"
KEY_FILENAME = "smsc.key"
# 825 days: the longest validity Apple and the CA/Browser Forum accepted for a leaf certificate.
VALIDITY_DAYS = 825

# TLS 1.2 suites only (TLS 1.3 suites are configured apart and all acceptable): forward secrecy
# and AEAD, nothing else. Matches Mozilla's "intermediate" profile minus the DHE suites, whose
# parameters we would have to generate and ship.
_CIPHERS = "ECDHE+AESGCM:ECDHE+CHACHA20:!aNULL:!eNULL:!MD5:!DSS:!RC4:!3DES"


@dataclass(frozen=True, slots=True, kw_only=True)
class TlsMaterial:
    """A certificate and its key on disk, as `ensure_self_signed` leaves them."""

    cert: Path
    key: Path
    fingerprint: str  # SHA-256 of the DER certificate, "AB:CD:..."; operators pin this
    not_after: datetime  # aware UTC
    generated: bool  # True when this call created the files (worth a log line at start-up)


@dataclass(frozen=True, slots=True, kw_only=True)
class PeerCertificate:
    """The certificate a TLS peer presented, reduced to what mutual TLS compares."""

    subject: str  # RFC 4514, e.g. "CN=esme-1,O=Example"
    issuer: str  # RFC 4514; for logs
    fingerprint: str  # SHA-256 of the DER certificate, "AB:CD:..."


def fingerprint(pem_or_der: bytes | str) -> str:
    """SHA-256 fingerprint of a certificate, upper-case colon hex ("AB:CD:...", 95 characters).

    Accepts PEM (text or bytes; the first certificate counts) or DER bytes. Raises ValueError
    when the input is not a certificate.
    """
    data = pem_or_der.encode("ascii") if isinstance(pem_or_der, str) else pem_or_der
    if b"-----BEGIN" in data:
        der = x509.load_pem_x509_certificate(data).public_bytes(serialization.Encoding.DER)
    else:
        # Parsing DER before hashing it rejects a key or garbage handed in by mistake.
        x509.load_der_x509_certificate(data)
        der = data
    return _colon_hex(hashlib.sha256(der).digest())


def normalize_fingerprint(text: str) -> str:
    """A SHA-256 fingerprint as configured ("ab:cd..", "AB CD ..", "abcd..", "sha256:...")
    in the canonical form `fingerprint` returns. Raises ValueError if it is not 32 octets."""
    cleaned = text.strip()
    if cleaned.lower().startswith(("sha256:", "sha256=")):
        cleaned = cleaned[7:]
    hex_digits = "".join(ch for ch in cleaned if ch not in ": \t-")
    try:
        raw = bytes.fromhex(hex_digits)
    except ValueError:
        raise ValueError(f"fingerprint {text!r} is not hexadecimal") from None
    if len(raw) != 32:
        raise ValueError(f"fingerprint {text!r} has {len(raw)} octets; SHA-256 has 32")
    return _colon_hex(raw)


def _colon_hex(digest: bytes) -> str:
    return ":".join(f"{octet:02X}" for octet in digest)


# --------------------------------------------------------------------------- self-signed


def ensure_self_signed(
    data_dir: Path,
    *,
    common_name: str = "opensmsc",
    now: datetime | None = None,
) -> TlsMaterial:
    """The certificate and key in `data_dir/tls/`, created at first start and reused after.

    They are generated again when missing, unreadable, mismatched, expired or not yet valid at
    `now` (aware UTC; default the current time). The key is written with mode 0600 and
    replaced atomically, so a crash never leaves a half-written key. The caller logs
    `fingerprint`: clients pin it, as nothing else vouches for a self-signed certificate.
    Raises OSError when the folder cannot be written.
    """
    moment = now if now is not None else datetime.now(UTC)
    if moment.tzinfo is None:
        raise ValueError("ensure_self_signed: now must be an aware datetime")
    tls_dir = data_dir / "tls"
    cert_path = tls_dir / CERT_FILENAME
    key_path = tls_dir / KEY_FILENAME

    existing = _load_usable(cert_path, key_path, moment)
    if existing is not None:
        return existing

    # The folder holds a private key: only the owner may list or enter it.
    tls_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    cert = _build_certificate(key, common_name, moment)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    # Key first, then certificate: a crash in between leaves a pair that no longer matches,
    # which the next start detects and regenerates.
    _write_atomically(key_path, key_pem, mode=0o600)
    _write_atomically(cert_path, cert.public_bytes(serialization.Encoding.PEM), mode=0o644)
    return TlsMaterial(
        cert=cert_path,
        key=key_path,
        fingerprint=_colon_hex(cert.fingerprint(hashes.SHA256())),
        not_after=cert.not_valid_after_utc,
        generated=True,
    )


def _load_usable(cert_path: Path, key_path: Path, moment: datetime) -> TlsMaterial | None:
    """The existing pair if it can serve at `moment`; None (with a log line) otherwise."""
    if not cert_path.exists() and not key_path.exists():
        return None
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        log.warning(
            "tls: regenerating self-signed certificate dir=%s: unreadable (%s)",
            cert_path.parent,
            exc,
        )
        return None
    if cert.public_key() != key.public_key():
        log.warning(
            "tls: regenerating self-signed certificate dir=%s: key does not match", cert_path.parent
        )
        return None
    if not cert.not_valid_before_utc <= moment < cert.not_valid_after_utc:
        log.warning(
            "tls: regenerating self-signed certificate dir=%s: not valid at %s (valid %s to %s)",
            cert_path.parent,
            moment.isoformat(),
            cert.not_valid_before_utc.isoformat(),
            cert.not_valid_after_utc.isoformat(),
        )
        return None
    return TlsMaterial(
        cert=cert_path,
        key=key_path,
        fingerprint=_colon_hex(cert.fingerprint(hashes.SHA256())),
        not_after=cert.not_valid_after_utc,
        generated=False,
    )


def _build_certificate(
    key: ec.EllipticCurvePrivateKey, common_name: str, moment: datetime
) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    hostname = socket.gethostname()
    dns_names = dict.fromkeys(n for n in ("localhost", hostname, common_name) if _is_dns_name(n))
    alt_names: list[x509.GeneralName] = [x509.DNSName(n) for n in dns_names]
    alt_names += [
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        x509.IPAddress(ipaddress.ip_address("::1")),
    ]
    public_key = key.public_key()
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        # An hour of slack for peers whose clock runs behind ours.
        .not_valid_before(moment - timedelta(hours=1))
        .not_valid_after(moment + timedelta(days=VALIDITY_DAYS))
        .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        # clientAuth too: the same generator makes the certificate an ESME (or our own
        # connector, or a test) presents for mutual TLS.
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .sign(key, hashes.SHA256())
    )


def _is_dns_name(text: str) -> bool:
    if not text or len(text) > 253:
        return False
    try:
        ipaddress.ip_address(text)
    except ValueError:
        pass
    else:
        return False  # IP literals belong in iPAddress entries, never in dNSName
    return all(
        0 < len(label) <= 63 and label.replace("-", "").isalnum() and label.isascii()
        for label in text.rstrip(".").split(".")
    )


def _write_atomically(path: Path, data: bytes, *, mode: int) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    # O_EXCL with the final mode: the key is never readable by others, not even for a moment.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_TRUNC, mode)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


# --------------------------------------------------------------------------- contexts


def _harden(context: ssl.SSLContext) -> None:
    # DIGEST §3: TLS 1.2 and later only.
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers(_CIPHERS)
    context.options |= ssl.OP_NO_COMPRESSION  # CRIME
    context.options |= ssl.OP_NO_RENEGOTIATION  # a peer-triggered CPU sink; SMPP never needs it


def _trust(context: ssl.SSLContext, ca: Path) -> None:
    try:
        context.load_verify_locations(cafile=ca)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"cannot load CA certificates: {exc}", path=str(ca)) from exc
    # Lets the CA file hold a peer's own (self-signed or leaf) certificate: pinning a single
    # ESME's certificate then works without a CA above it.
    context.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN


def _load_chain(context: ssl.SSLContext, cert: Path, key: Path | None) -> None:
    try:
        context.load_cert_chain(certfile=cert, keyfile=key)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"cannot load certificate and key: {exc}", path=str(cert)) from exc


def server_context(
    cert: Path, key: Path, *, ca: Path | None, require_client_cert: bool
) -> ssl.SSLContext:
    """The context of the implicit-TLS listener (3550).

    With `ca`, a client certificate is requested and, when presented, must chain to it
    (a pinned leaf certificate in `ca` also counts); `require_client_cert` makes it mandatory.
    Without `ca` no client certificate is asked for. Which certificate may bind as which
    system_id is the authenticator's business (see `peer_identity`).
    Raises ConfigError when a file cannot be loaded or a client certificate is required with
    no CA to check it against.
    """
    if require_client_cert and ca is None:
        raise ConfigError(
            "a client certificate is required but no CA is configured", path=str(cert)
        )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    _harden(context)
    # Pick our preference among the suites, all of which are strong, rather than the client's.
    context.options |= ssl.OP_CIPHER_SERVER_PREFERENCE
    _load_chain(context, cert, key)
    if ca is not None:
        _trust(context, ca)
        context.verify_mode = ssl.CERT_REQUIRED if require_client_cert else ssl.CERT_OPTIONAL
    else:
        context.verify_mode = ssl.CERT_NONE
    return context


def client_context(
    *,
    ca: Path | None,
    verify: bool = True,
    client_cert: Path | None,
    client_key: Path | None,
) -> ssl.SSLContext:
    """The context of an upstream connector (our ESME side).

    The server certificate is checked against `ca`, or the system trust store when `ca` is
    None, and its name against the `server_hostname` given at connect time (which also sends
    SNI). `verify=False` turns both checks off, for carriers with broken certificates; it is
    logged because it gives up protection against an active attacker. `client_cert` with no
    `client_key` means the key is in the same PEM file (Kannel's ssl-client-certkey-file).
    Raises ConfigError when a file cannot be loaded.
    """
    if client_key is not None and client_cert is None:
        raise ConfigError(
            "a client key is configured without a client certificate", path=str(client_key)
        )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    _harden(context)
    if verify:
        if ca is not None:
            _trust(context, ca)
        else:
            context.load_default_certs(ssl.Purpose.SERVER_AUTH)
    else:
        log.warning("tls: server certificate verification is off (verify=false)")
        context.check_hostname = False  # must precede CERT_NONE: ssl refuses the reverse order
        context.verify_mode = ssl.CERT_NONE
    if client_cert is not None:
        _load_chain(context, client_cert, client_key)
    return context


def peer_identity(ssl_object: ssl.SSLObject | ssl.SSLSocket | None) -> PeerCertificate | None:
    """The certificate the peer presented, or None when it presented none (or there is no TLS).

    Takes `transport.get_extra_info("ssl_object")` from asyncio, or an `ssl.SSLSocket`. A
    `server_context` asks for a client certificate only when a CA is configured and then
    always verifies it, so on our listener a certificate returned here chains to that CA.
    """
    if ssl_object is None:
        return None
    der = ssl_object.getpeercert(binary_form=True)
    if not der:
        return None
    cert = x509.load_der_x509_certificate(der)
    return PeerCertificate(
        subject=cert.subject.rfc4514_string(),
        issuer=cert.issuer.rfc4514_string(),
        fingerprint=_colon_hex(hashlib.sha256(der).digest()),
    )
