"""`opensmsc probe HOST:PORT`: what answers on a port (SMPP 2775/3550, policyd 3055, ...).

What it is for: the first question of whoever wires an SMSC to something: is the port open, is
it TLS (protocol, cipher, certificate subject, issuer, expiry, SHA-256 fingerprint, and whether
the chain verifies against the system store), and who speaks there: an SMPP peer (enquire_link,
or bind_transceiver with given credentials, then unbind), our policy server (JSON-RPC `hello`,
docs/policy-protocol.md §4.1) or something else (its first bytes, escaped). It speaks with our
own codecs (`opensmsc.smpp`, `opensmsc.policyd`). What it is not: a scanner of many ports, a
load test, or a client that stays: it says one hello and leaves.

How the protocol is told: a server that speaks first (a banner) is "unknown". Otherwise one
SMPP request is sent: an SMPP peer answers with a PDU; our policy server answers any frame that
is not JSON with a JSON-RPC parse error (the same 4-octet length prefix), and is then said
`hello` on the same connection. Exit status: 0 something answered (the port is open), 1 TLS was
demanded (`--tls on`) and the handshake failed, 2 the port is closed or unreachable.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import ssl
import sys
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from cryptography import x509

from opensmsc import policyd, smpp
from opensmsc.transport import fingerprint

TlsMode = Literal["auto", "on", "off"]

_BANNER_WAIT = 0.3  # seconds a server that speaks first gets before we speak
_MAX_ANSWER = 65_535  # octets read of one answer: policyd's largest frame, SMPP's are smaller
_SHOWN_BYTES = 64  # octets of an unknown protocol's first bytes shown
_NUDGE_AFTER = 1.5  # seconds of silence after our SMPP request before the policyd nudge


@dataclass(slots=True)
class TlsInfo:
    version: str
    cipher: str
    subject: str
    issuer: str
    not_after: str
    days_left: int
    sha256: str
    verified: bool
    verify_error: str = ""


@dataclass(slots=True)
class Probe:
    """What was found; `to_json()` is the --json output."""

    host: str
    port: int
    tcp: str = "open"  # open, refused, timed out, unreachable
    connect_ms: float | None = None
    error: str = ""
    tls: TlsInfo | None = None
    tls_error: str = ""
    protocol: str = "unknown"  # smpp, policyd, unknown, none
    details: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def parse_target(target: str) -> tuple[str, int]:
    """HOST:PORT, [IPv6]:PORT. Raises ValueError on anything else."""
    host, sep, port_text = target.rpartition(":")
    if not sep or not host or not port_text.isdigit():
        raise ValueError(f"not HOST:PORT: {target!r}")
    port = int(port_text)
    if not 0 < port < 65536:
        raise ValueError(f"port out of range: {port}")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host, port


def escape(data: bytes) -> str:
    """Bytes as printable ASCII: `\\xNN` for the rest, as Python's bytes repr does."""
    return repr(data)[2:-1]


def _name(value: x509.Name) -> str:
    return value.rfc4514_string()


def _tls_info(ssl_object: ssl.SSLObject, now: dt.datetime) -> TlsInfo:
    der = ssl_object.getpeercert(binary_form=True)
    cipher = ssl_object.cipher()
    if der is None:  # a server that sends no certificate (anonymous ciphers): still TLS
        return TlsInfo(
            version=ssl_object.version() or "",
            cipher=cipher[0] if cipher else "",
            subject="",
            issuer="",
            not_after="",
            days_left=0,
            sha256="",
            verified=False,
        )
    cert = x509.load_der_x509_certificate(der)
    not_after = cert.not_valid_after_utc
    return TlsInfo(
        version=ssl_object.version() or "",
        cipher=cipher[0] if cipher else "",
        subject=_name(cert.subject),
        issuer=_name(cert.issuer),
        not_after=not_after.isoformat(),
        days_left=(not_after - now).days,
        sha256=fingerprint(der),
        verified=False,
    )


def _unverified_context() -> ssl.SSLContext:
    # The probe must see whatever certificate is there (self-signed, expired, wrong name) to
    # report it; verification is reported separately, from a second handshake.
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


class _Closed(Exception):
    """The connection could not be (re)opened."""


async def _open(
    host: str, port: int, timeout: float, context: ssl.SSLContext | None = None
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    async with asyncio.timeout(timeout):
        return await asyncio.open_connection(
            host, port, ssl=context, server_hostname=host if context is not None else None
        )


async def _close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(Exception):
        async with asyncio.timeout(1.0):
            await writer.wait_closed()


async def _verify(host: str, port: int, timeout: float) -> str:
    """'' when the chain and the name verify against the system store, else why not."""
    try:
        _, writer = await _open(host, port, timeout, ssl.create_default_context())
    except ssl.SSLCertVerificationError as exc:
        return exc.verify_message or str(exc)
    except (OSError, TimeoutError) as exc:
        return f"{type(exc).__name__}: {exc}"
    await _close(writer)
    return ""


async def _read_exactly(reader: asyncio.StreamReader, data: bytes, size: int) -> bytes:
    while len(data) < size:
        chunk = await reader.read(size - len(data))
        if not chunk:
            break
        data += chunk
    return data


async def _read_frame(
    reader: asyncio.StreamReader,
    timeout: float,
    writer: asyncio.StreamWriter | None = None,
) -> bytes:
    """One length-prefixed answer, or what came before the peer closed or the time ran out.

    SMPP and policyd share a 4-octet big-endian length, but SMPP's counts itself and policyd's
    does not: an SMPP request sent to the policy server leaves it waiting for 4 more octets. So
    with `writer`, after `_NUDGE_AFTER` seconds of silence those 4 octets are sent (zeros: not
    JSON, so the policy server answers a parse error); an SMPP peer that is merely slow has
    answered our request first and at worst nacks the zeros. The answer's own framing is told
    by its first body octet: JSON starts with `{` or `[`, an SMPP command_id with 0x00 or 0x80.
    """
    data = b""
    try:
        async with asyncio.timeout(timeout):
            if writer is not None:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(min(_NUDGE_AFTER, timeout / 2)):
                        data = await reader.read(1)
                if not data and not reader.at_eof():
                    writer.write(bytes(4))
                    await writer.drain()
            data = await _read_exactly(reader, data, 5)
            if len(data) < 5:
                return data
            length = int.from_bytes(data[:4], "big")
            json_body = data[4:5] in (b"{", b"[")
            total = 4 + length if json_body else length
            if not 5 <= total <= _MAX_ANSWER + 4:
                # Not a frame of ours: what else came at once, for the caller to show.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(_BANNER_WAIT):
                        data += await reader.read(_SHOWN_BYTES)
                return data
            data = await _read_exactly(reader, data, total)
    except (TimeoutError, OSError):
        return data
    return data


def _is_json_frame(frame: bytes) -> bool:
    return len(frame) > 4 and frame[4:5] in (b"{", b"[")


def _decode_smpp(frame: bytes) -> smpp.Decoded | None:
    if len(frame) < 16 or int.from_bytes(frame[:4], "big") != len(frame):
        return None
    try:
        return smpp.decode(frame, strict=False)
    except (smpp.PduError, smpp.FramingError):
        return None


def _status_name(status: int) -> str:
    try:
        return smpp.CommandStatus(status).name
    except ValueError:
        return f"0x{status:08X}"


def _command_name(command_id: int) -> str:
    try:
        return smpp.CommandId(command_id).name.lower()
    except ValueError:
        return f"0x{command_id:08X}"


async def _smpp_dialogue(
    probe: Probe,
    first: smpp.Decoded,
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    *,
    timeout: float,
    bound: bool,
) -> None:
    probe.protocol = "smpp"
    details: dict[str, Any] = {
        "answer": _command_name(first.command_id),
        "command_status": first.status,
        "status_name": _status_name(first.status),
    }
    pdu = first.pdu
    if isinstance(pdu, smpp.BindTransceiverResp):
        details["system_id"] = pdu.system_id
        version = pdu.tlvs.get(smpp.Tag.SC_INTERFACE_VERSION)
        details["interface_version"] = (
            f"0x{version:02X}" if isinstance(version, int) else None  # absent: SMPP 3.3 peer
        )
        if bound and first.status == smpp.CommandStatus.ESME_ROK:
            writer.write(smpp.encode(smpp.Unbind(), 2))
            await writer.drain()
            details["unbind"] = "no answer"
            while answer := _decode_smpp(await _read_frame(reader, timeout)):
                details["unbind"] = _command_name(answer.command_id)
                if answer.command_id == smpp.CommandId.UNBIND_RESP:
                    break  # earlier answers may be nacks of the nudge (see _read_frame)
    probe.details = details


async def _policyd_hello(
    probe: Probe, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, timeout: float
) -> None:
    probe.protocol = "policyd"
    params = policyd.HelloParams(node="opensmsc-probe").to_json()
    writer.write(policyd.encode_request(1, "hello", params))
    await writer.drain()
    frame = await _read_frame(reader, timeout)
    if not _is_json_frame(frame):
        probe.details = {"hello": "no answer", "bytes": escape(frame[:_SHOWN_BYTES])}
        return
    message = policyd.parse(frame[4:])
    if isinstance(message, policyd.Response):
        try:
            result = policyd.HelloResult.from_json(message.result)
        except policyd.InvalidParams as exc:
            probe.details = {"hello": "bad result", "error": str(exc)}
            return
        probe.details = {
            "hello": "ok",
            "version": result.version,
            "node": result.node,
            "methods": list(result.methods),
        }
    elif isinstance(message, policyd.ErrorResponse):
        probe.details = {
            "hello": "refused",
            "code": int(message.error.code),
            "message": message.error.message,
        }
    else:
        probe.details = {"hello": "unexpected answer", "bytes": escape(frame[:_SHOWN_BYTES])}


async def _identify(
    probe: Probe,
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    *,
    timeout: float,
    system_id: str | None,
    password: str | None,
) -> None:
    banner = b""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(min(_BANNER_WAIT, timeout)):
            banner = await reader.read(_SHOWN_BYTES)
    if banner or reader.at_eof():
        probe.protocol = "unknown" if banner else "none"
        probe.details = {"first_bytes": escape(banner)} if banner else {"closed": True}
        return
    bind = system_id is not None
    request: smpp.Request = (
        smpp.BindTransceiver(
            system_id=system_id or "", password=password or "", system_type="probe"
        )
        if bind
        else smpp.EnquireLink()
    )
    try:
        writer.write(smpp.encode(request, 1))
        await writer.drain()
    except OSError as exc:
        probe.protocol = "none"
        probe.details = {"error": str(exc)}
        return
    frame = await _read_frame(reader, timeout, writer)
    decoded = _decode_smpp(frame)
    if decoded is not None:
        await _smpp_dialogue(probe, decoded, reader, writer, timeout=timeout, bound=bind)
    elif _is_json_frame(frame):
        await _policyd_hello(probe, reader, writer, timeout)
    elif frame:
        probe.protocol = "unknown"
        probe.details = {"first_bytes": escape(frame[:_SHOWN_BYTES])}
    else:
        probe.protocol = "none"
        probe.details = {"closed": reader.at_eof()}


async def probe(
    host: str,
    port: int,
    *,
    tls: TlsMode = "auto",
    system_id: str | None = None,
    password: str | None = None,
    timeout: float = 5.0,
) -> Probe:
    """Probe one port; never raises for what the network does."""
    result = Probe(host=host, port=port)
    started = time.monotonic()
    try:
        reader, writer = await _open(host, port, timeout)
    except ConnectionRefusedError as exc:
        result.tcp, result.error = "refused", str(exc)
        return result
    except TimeoutError:
        result.tcp, result.error = "timed out", f"no answer in {timeout:g} s"
        return result
    except OSError as exc:
        result.tcp, result.error = "unreachable", str(exc)
        return result
    result.connect_ms = round((time.monotonic() - started) * 1000, 2)
    try:
        if tls != "off":
            try:
                async with asyncio.timeout(timeout):
                    await writer.start_tls(_unverified_context(), server_hostname=host)
            except (ssl.SSLError, OSError, TimeoutError) as exc:
                result.tls_error = f"{type(exc).__name__}: {exc}".rstrip(": ")
                await _close(writer)
                if tls == "on":
                    return result
                # auto: the handshake spoilt that connection; the plaintext look needs another
                try:
                    reader, writer = await _open(host, port, timeout)
                except (OSError, TimeoutError) as reopen:
                    result.protocol = "none"
                    result.details = {"error": f"reconnect failed: {reopen}"}
                    return result
            else:
                ssl_object = writer.get_extra_info("ssl_object")
                result.tls = _tls_info(ssl_object, dt.datetime.now(dt.UTC))
                error = await _verify(host, port, timeout)
                result.tls.verified = not error
                result.tls.verify_error = error
        await _identify(
            result, reader, writer, timeout=timeout, system_id=system_id, password=password
        )
    finally:
        await _close(writer)
    return result


def render(result: Probe) -> str:
    """The short readable report."""
    lines = [f"{result.host}:{result.port}"]
    if result.tcp != "open":
        lines.append(f"  tcp      {result.tcp} ({result.error})")
        return "\n".join(lines)
    lines.append(f"  tcp      open in {result.connect_ms} ms")
    if result.tls is not None:
        t = result.tls
        verified = "yes" if t.verified else f"no ({t.verify_error})"
        lines += [
            f"  tls      {t.version} {t.cipher}",
            f"  subject  {t.subject}",
            f"  issuer   {t.issuer}",
            f"  expires  {t.not_after} ({t.days_left} days left)",
            f"  sha256   {t.sha256}",
            f"  verified {verified}",
        ]
    else:
        lines.append(
            f"  tls      no ({result.tls_error})" if result.tls_error else "  tls      off"
        )
    d = result.details
    match result.protocol:
        case "smpp":
            text = f"  smpp     {d['answer']} {d['status_name']} (0x{d['command_status']:08X})"
            lines.append(text)
            if "system_id" in d:
                lines.append(f"  system   {d['system_id']!r} interface {d['interface_version']}")
            if "unbind" in d:
                lines.append(f"  unbind   {d['unbind']}")
        case "policyd":
            if d.get("hello") == "ok":
                methods = ", ".join(d["methods"])
                lines.append(f"  policyd  hello ok: version {d['version']} node {d['node']!r}")
                lines.append(f"  methods  {methods}")
            else:
                lines.append(f"  policyd  hello {d.get('hello')}: {json.dumps(d)}")
        case "unknown":
            lines.append(f"  protocol unknown; first bytes: {d.get('first_bytes', '')}")
        case _:
            lines.append(f"  protocol none: no answer ({json.dumps(d)})")
    return "\n".join(lines)


def probe_main(
    target: str,
    *,
    tls: TlsMode = "auto",
    system_id: str | None = None,
    password: str | None = None,
    timeout: float = 5.0,
    as_json: bool = False,
) -> int:
    """The `opensmsc probe` verb; returns the exit status."""
    try:
        host, port = parse_target(target)
    except ValueError as exc:
        print(f"opensmsc probe: {exc}", file=sys.stderr)
        return 2
    result = asyncio.run(
        probe(host, port, tls=tls, system_id=system_id, password=password, timeout=timeout)
    )
    print(json.dumps(result.to_json(), indent=2) if as_json else render(result))
    if result.tcp != "open":
        return 2
    return 1 if tls == "on" and result.tls is None else 0
