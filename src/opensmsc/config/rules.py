"""Value rules for configuration fields, attached to types with `typing.Annotated`.

A section of the configuration is a dataclass whose field types say what the file may hold:
`window: PositiveInt = 10`. The generic loader (`schema.py`) reads the `Annotated` metadata:

- `Parse(function, description)` turns a TOML string into a value (a host name, a CIDR network);
  the function raises `ValueError` for text it refuses.
- A `Rule` (`Bounds`, `Match`, `FileExists`) checks an already typed value and returns a message,
  or None when the value is fine.
- `Describe(text)` replaces the description used in "expected ..., got ..." messages.

This module knows nothing of TOML or of line numbers; it only says what a good value is.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import ipaddress
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Protocol

KeyPath = tuple[str | int, ...]
"""Where a value sits in the file: `("smpp", "client", 1, "window")` is `smpp.client[1].window`."""


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a value, found after the value had its type (see `Validated`)."""

    key: KeyPath
    message: str


class Validated(Protocol):
    """A section that checks rules spanning several of its fields (pairs, uniqueness, order).

    `problems()` is called on every section the file has, even one with invalid keys, so that
    one run of check-config shows every mistake: the loader then builds the section without
    its invalid keys (reading one raises AttributeError), and `Checks.rule()` skips the rules
    that read one. The keys it yields are relative to the section.
    """

    def problems(self) -> list[Problem]: ...


def is_invalid_key(exc: AttributeError) -> bool:
    """True when `exc` is the read of a key the loader left out of a section for being
    invalid (schema.py builds such sections for their rules); False for any other
    AttributeError, which is a bug."""
    obj = exc.obj
    if not dataclasses.is_dataclass(obj) or isinstance(obj, type):
        return False
    return exc.name in {f.name for f in dataclasses.fields(obj)}


class Checks:
    """The problems of one section, rule by rule: each rule in its own `with checks.rule():`
    block, so that a rule reading an invalid key (which has its own error) is skipped alone."""

    def __init__(self) -> None:
        self.found: list[Problem] = []

    def add(self, key: KeyPath, message: str) -> None:
        self.found.append(Problem(key, message))

    def extend(self, problems: Iterable[Problem]) -> None:
        self.found.extend(problems)

    @contextlib.contextmanager
    def rule(self) -> Iterator[None]:
        try:
            yield
        except AttributeError as exc:
            if not is_invalid_key(exc):
                raise


class Rule(Protocol):
    """A check of one typed value. `check` returns what is wrong, or None."""

    @property
    def description(self) -> str: ...

    def check(self, value: object) -> str | None: ...


@dataclass(frozen=True, slots=True)
class Describe:
    """Names the expected value in error messages, e.g. "a positive integer"."""

    description: str


@dataclass(frozen=True, slots=True)
class Parse:
    """Converts a TOML string to the field's value; `function` raises ValueError to refuse it."""

    function: Callable[[str], object]
    description: str
    secret: bool = False  # a refused value is not repeated in the error (it may be a key)


@dataclass(frozen=True, slots=True)
class Bounds:
    """Numeric bounds. `above` is exclusive (a timeout `above=0` must be positive)."""

    description: str
    minimum: float | None = None
    maximum: float | None = None
    above: float | None = None

    def check(self, value: object) -> str | None:
        if not isinstance(value, int | float):
            return None
        if self.minimum is not None and value < self.minimum:
            return f"expected {self.description}, got {value!r}"
        if self.maximum is not None and value > self.maximum:
            return f"expected {self.description}, got {value!r}"
        if self.above is not None and value <= self.above:
            return f"expected {self.description}, got {value!r}"
        return None


@dataclass(frozen=True, slots=True)
class Match:
    """A string that must match `pattern` in full."""

    pattern: str
    description: str

    def check(self, value: object) -> str | None:
        if isinstance(value, str) and re.fullmatch(self.pattern, value) is None:
            return f'expected {self.description}, got "{value}"'
        return None


@dataclass(frozen=True, slots=True)
class Length:
    """A string of at most `maximum` characters (SMPP C-Octet Strings have fixed maxima)."""

    maximum: int
    minimum: int = 0

    @property
    def description(self) -> str:
        if self.minimum:
            return f"a string of {self.minimum} to {self.maximum} characters"
        return f"a string of at most {self.maximum} characters"

    def check(self, value: object) -> str | None:
        if isinstance(value, str) and not self.minimum <= len(value) <= self.maximum:
            return f'expected {self.description}, got "{value}" ({len(value)} characters)'
        return None


@dataclass(frozen=True, slots=True)
class FileExists:
    """A path (already resolved against the config file's folder) that must name a file."""

    description: str = "an existing file"

    def check(self, value: object) -> str | None:
        if isinstance(value, Path) and not value.is_file():
            return f"file not found: {value}"
        return None


_PEM_BLOCK = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----\s*([A-Za-z0-9+/=\s]+?)\s*-----END \1-----")
_PEM_READ_LIMIT = 1 << 20  # a certificate chain or key is kilobytes; a megabyte is plenty


def pem_labels(path: Path) -> set[str]:
    """The labels of the well-formed PEM blocks in a file ("CERTIFICATE", "PRIVATE KEY", "RSA
    PRIVATE KEY", ...): each block's base64 decodes to DER (an ASN.1 SEQUENCE). Raises OSError."""
    with path.open("rb") as file:
        data = file.read(_PEM_READ_LIMIT)
    labels: set[str] = set()
    for match in _PEM_BLOCK.finditer(data):
        try:
            der = base64.b64decode(b"".join(match.group(2).split()), validate=True)
        except ValueError:
            continue
        if der[:1] == b"\x30":
            labels.add(match.group(1).decode("ascii"))
    return labels


def has_private_key(labels: set[str]) -> bool:
    return any(label.endswith("PRIVATE KEY") for label in labels)


def key_in_certificate_file(cert: Path | None, key: Path | None) -> list[Problem]:
    """Without `tls_key_file` the private key must be in `tls_cert_file` itself."""
    if cert is None or key is not None:
        return []
    try:
        if has_private_key(pem_labels(cert)):
            return []
    except OSError:
        return []  # the file's own rule has said why it cannot be read
    return [Problem(("tls_cert_file",), f"{cert} holds no private key; give tls_key_file")]


@dataclass(frozen=True, slots=True)
class PemFile:
    """A file (whose existence FileExists checked first) holding a PEM certificate, or a PEM
    private key: what TLS loads. A DER file, or a certificate where the key should be, is
    refused here rather than when the listener starts."""

    kind: str  # "certificate" or "private key"
    description: str = "a PEM file"

    def check(self, value: object) -> str | None:
        if not isinstance(value, Path) or not value.is_file():
            return None
        try:
            labels = pem_labels(value)
        except OSError as exc:
            return f"cannot read {value}: {exc.strerror or exc}"
        if self.kind == "private key" and has_private_key(labels):
            return None
        if self.kind == "certificate" and "CERTIFICATE" in labels:
            return None
        label, tool = (
            ("PRIVATE KEY", "pkey") if self.kind == "private key" else ("CERTIFICATE", "x509")
        )
        return (
            f"{value} holds no PEM {self.kind} (-----BEGIN {label}-----); "
            f"a DER file converts with `openssl {tool} -inform der -in FILE`"
        )


def parse_host(text: str) -> str:
    """An IPv4/IPv6 literal or an RFC 1123 host name; returned unchanged."""
    try:
        ipaddress.ip_address(text)
    except ValueError:
        pass
    else:
        return text
    label = r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)"
    if len(text) > 253 or re.fullmatch(rf"{label}(\.{label})*\.?", text) is None:
        raise ValueError(text)
    return text


def parse_network(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    """A CIDR network such as "10.0.0.0/8"; host bits must be zero; a bare address is a /32."""
    return ipaddress.ip_network(text, strict=True)


def parse_fingerprint(text: str) -> str:
    """A SHA-256 fingerprint, hex with optional colons; normalised to 64 lower-case hex digits."""
    digits = text.replace(":", "").lower()
    if re.fullmatch(r"[0-9a-f]{64}", digits) is None:
        raise ValueError(text)
    return digits


PositiveInt = Annotated[int, Bounds("a positive integer", minimum=1)]
NonNegativeInt = Annotated[int, Bounds("an integer of 0 or more", minimum=0)]


def int_range(minimum: int, maximum: int) -> Bounds:
    """An integer key's bounds: every count in the file has a ceiling, so a typo (or 2^63 - 1)
    is an error here rather than memory or a crash later."""
    return Bounds(f"an integer from {minimum} to {maximum}", minimum=minimum, maximum=maximum)


# Requests in flight per session: each holds its PDU and a timer, and a crash may repeat a
# window's worth of receipts.
Window = Annotated[int, int_range(1, 10_000)]
MaxBinds = Annotated[int, int_range(1, 1000)]
BatchOps = Annotated[int, int_range(1, 100_000)]
CacheSize = Annotated[int, int_range(0, 10_000_000)]
Capacity = Annotated[int, int_range(1, 10_000)]
SmallCount = Annotated[int, int_range(1, 100)]
_TEN_YEARS = 315_360_000.0  # seconds: past it, times overflow date arithmetic
_MAX_RATE = 1_000_000.0
Port = Annotated[int, Bounds("a port number from 0 to 65535", minimum=0, maximum=65535)]
Octet = Annotated[int, Bounds("an integer from 0 to 255", minimum=0, maximum=255)]
Seconds = Annotated[
    float,
    Bounds(
        "a positive number of seconds, at most 315360000 (ten years)",
        above=0.0,
        maximum=_TEN_YEARS,
    ),
]
OptionalSeconds = Annotated[
    float,
    Bounds(
        "a number of seconds (0 to disable), at most 315360000 (ten years)",
        minimum=0.0,
        maximum=_TEN_YEARS,
    ),
]
Rate = Annotated[
    float,
    Bounds(
        "messages per second from 0 to 1000000 (0 for no limit)", minimum=0.0, maximum=_MAX_RATE
    ),
]
PduLength = Annotated[int, Bounds("an integer from 64 to 16777216", minimum=64, maximum=1 << 24)]
Host = Annotated[str, Parse(parse_host, "a host name or IP address")]
IpNetwork = Annotated[
    ipaddress.IPv4Network | ipaddress.IPv6Network,
    Parse(parse_network, 'a CIDR network such as "10.0.0.0/8"'),
]
Fingerprint = Annotated[str, Parse(parse_fingerprint, "a SHA-256 fingerprint (64 hex digits)")]
Name = Annotated[
    str, Match(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", "a name of letters, digits, '.', '_', '-'")
]
EnvName = Annotated[str, Match(r"[A-Za-z_][A-Za-z0-9_]*", "an environment variable name")]
SystemId = Annotated[str, Length(maximum=15, minimum=1)]  # SMPP 3.4 §5.2.1: 16 octets with NUL
SmppPassword = Annotated[str, Length(maximum=8)]  # SMPP 3.4 §5.2.2: 9 octets with NUL
SystemType = Annotated[str, Length(maximum=12)]  # SMPP 3.4 §5.2.3: 13 octets with NUL
AddressRange = Annotated[str, Length(maximum=40)]  # SMPP 3.4 §5.2.7: 41 octets with NUL
Argon2Hash = Annotated[
    str,
    Match(
        r"\$argon2(id|i|d)\$v=\d+\$m=\d+,t=\d+,p=\d+\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+",
        'an argon2 hash such as "$argon2id$v=19$m=65536,t=3,p=4$..." '
        "(make one with `opensmsc hash-password`)",
    ),
]
ApiKeyHash = Annotated[
    str,
    Match(
        r"sha256:[0-9a-f]{64}",
        'an API key hash such as "sha256:<64 hex digits>" '
        "(make one with `opensmsc api-key create`)",
    ),
]


def parse_webhook_secret(text: str) -> str:
    """A Standard Webhooks signing secret: "whsec_" and the base64 of 24 to 64 octets."""
    if not text.startswith("whsec_"):
        raise ValueError(text)
    try:
        key = base64.b64decode(text.removeprefix("whsec_"), validate=True)
    except ValueError:
        raise ValueError(text) from None
    if not 24 <= len(key) <= 64:
        raise ValueError(text)
    return text


WebhookSecret = Annotated[
    str,
    Parse(
        parse_webhook_secret,
        'a webhook secret: "whsec_" and the base64 of 24 to 64 random octets '
        '(e.g. `python -c \'import base64,os; print("whsec_" + '
        "base64.b64encode(os.urandom(32)).decode())'`)",
        secret=True,
    ),
]
Url = Annotated[str, Match(r"https?://[^\s]{1,2040}", "an http:// or https:// URL")]
ExistingFile = Annotated[Path, FileExists()]
CertificateFile = Annotated[Path, FileExists(), PemFile("certificate")]  # one or a chain
PrivateKeyFile = Annotated[Path, FileExists(), PemFile("private key")]
DigitPrefix = Annotated[str, Match(r"[0-9]{1,20}", "a prefix of 1 to 20 digits")]
MoPrefix = Annotated[
    str, Match(r"[0-9]{0,20}", 'a prefix of up to 20 digits ("" for every destination)')
]
Msisdn = Annotated[str, Match(r"[0-9]{1,15}", "an E.164 number of 1 to 15 digits, without +")]


def duplicates(items: tuple[object, ...], attribute: str, key: tuple[str, ...]) -> list[Problem]:
    """A problem for each item whose `attribute` an earlier item of `items` already has; `key`
    is where the items sit (`("accounts",)`), so the problem names `accounts[2].system_id`."""
    seen: dict[object, int] = {}
    found: list[Problem] = []
    for index, item in enumerate(items):
        try:
            value = getattr(item, attribute)
        except AttributeError as exc:
            if is_invalid_key(exc):
                continue  # that item's key has its own error
            raise
        if value in seen:
            found.append(
                Problem(
                    (*key, index, attribute),
                    f'"{value}" is already used by {".".join(key)}[{seen[value]}]',
                )
            )
        else:
            seen[value] = index
    return found
