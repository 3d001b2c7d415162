"""The SMS CIR channel of IMPS (port 3716): its two texts, GSM 7-bit packed, sans-IO.

The client registers with `HELO <SessionID>`; the server wakes an idle client with
`WVCI <version> <SessionCookie>`, upon which the client polls on the data channel (digest §5.4,
AIM SmsCirChannel.java). Both are GSM 7-bit default alphabet, packed (TS 23.038 §6.1.2.1.1),
in a binary SMS. What this is not: deciding when to wake whom (`imps.service`), ports and UDH
(the binding).

Two wire details of the one public client, AIM:
- it sends HELO packed by Android's `GsmAlphabet.stringToGsm7BitPacked`, which puts the
  septet count in an octet in front; it reads WVCI without that octet. We write WVCI without
  it and read HELO in both forms.
- it reads `floor(8n/7)` septets from n octets, so 7 spare bits at the end show as one more
  character ('@' from zero fill bits), and it splits the text on spaces as Java's split does
  (trailing empty fields dropped). We fill those 7 bits with a space instead, which AIM's
  split drops, so the cookie it compares is exact; reading, we drop such a final '@', CR or
  space.
"""

from __future__ import annotations

import re

from opensmsc import sms

from .codes import Status
from .pts import PtsError

_VERSION = re.compile(r"[0-9]\.[0-9]")
_TOKEN = re.compile(r"[A-Za-z0-9._+/=-]+")  # what fits a cookie or session id: no spaces
_SPACE = 0x20
_CR = 0x0D


def pack_text(text: str) -> bytes:
    """`text` in the GSM 7-bit default alphabet, packed; 7 spare bits at the end hold a space
    (see the module docstring). ValueError when a character is not in the default alphabet
    (the extension table's escapes are refused too: CIR texts are plain tokens)."""
    try:
        septets = sms.encode_text(text, sms.Encoding(sms.Alphabet.GSM7))
    except sms.EncodingError as exc:
        raise ValueError(str(exc)) from None
    if len(septets) != len(text):
        raise ValueError(f"{text!r} needs the GSM 7-bit extension table")
    if len(septets) % 8 == 7:  # 7 spare bits: they would read as '@'
        septets += bytes((_SPACE,))
    return sms.pack_septets(septets)


def unpack_text(payload: bytes) -> str:
    """The text of packed GSM 7-bit `payload`, without the padding a packer may leave in 7
    spare bits (zero fill, CR or space). ValueError for an empty payload."""
    if not payload:
        raise ValueError("empty CIR payload")
    count = len(payload) * 8 // 7
    septets = sms.unpack_septets(payload, count)
    if len(payload) % 7 == 0 and septets and septets[-1] in (0x00, _CR, _SPACE):
        septets = septets[:-1]
    return sms.decode_text(0x00, septets).rstrip(" ")


def _token(kind: str, value: str) -> str:
    if not _TOKEN.fullmatch(value):
        raise ValueError(f"{kind} {value!r} is not a token of letters, digits and ._+/=-")
    return value


def encode_wakeup(version: str, cookie: str) -> bytes:
    """`WVCI <version> <cookie>` packed. `version` is "1.2" (or "12", written 1.2)."""
    if re.fullmatch(r"[0-9]{2}", version):
        version = f"{version[0]}.{version[1]}"
    if not _VERSION.fullmatch(version):
        raise ValueError(f"CIR version {version!r} is not like 1.2")
    return pack_text(f"WVCI {version} {_token('cookie', cookie)}")


def encode_helo(session_id: str) -> bytes:
    """`HELO <session_id>` packed (the client's side, for the demo client and tests)."""
    return pack_text(f"HELO {_token('session id', session_id)}")


def _fields(payload: bytes, keyword: str) -> list[str]:
    try:
        text = unpack_text(payload)
    except ValueError as exc:
        raise PtsError(Status.BAD_REQUEST, f"CIR: {exc}") from None
    fields = text.split(" ")
    if fields[0] != keyword:
        raise PtsError(Status.BAD_REQUEST, f"CIR: expected {keyword}, got {text[:24]!r}")
    return fields


def decode_helo(payload: bytes) -> str:
    """The session id of a `HELO <session>` payload, packed with or without Android's septet
    count octet in front. PtsError(400) for anything else."""
    try:
        fields = _fields(payload, "HELO")
    except PtsError:
        # AIM via Android GsmAlphabet.stringToGsm7BitPacked: octet 0 counts the septets.
        if len(payload) < 2 or (payload[0] * 7 + 7) // 8 != len(payload) - 1:
            raise
        fields = _fields(payload[1:], "HELO")
    if len(fields) != 2 or not _TOKEN.fullmatch(fields[1]):
        raise PtsError(
            Status.BAD_REQUEST, f"CIR: HELO must be followed by one session id, got {fields[1:]}"
        )
    return fields[1]


def decode_wakeup(payload: bytes) -> tuple[str, str]:
    """(version, cookie) of a `WVCI <version> <cookie>` payload. PtsError(400) otherwise."""
    fields = _fields(payload, "WVCI")
    if len(fields) != 3 or not _VERSION.fullmatch(fields[1]) or not _TOKEN.fullmatch(fields[2]):
        raise PtsError(
            Status.BAD_REQUEST,
            f"CIR: WVCI must be followed by a version and a cookie, got {fields[1:]}",
        )
    return fields[1], fields[2]
