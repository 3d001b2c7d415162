"""A request's JSON (models.py) → the engine's `Submission`: numbers read as E.164, senders
given their SMPP type of number, alphabets and receipts named as the engine names them.

Addresses, as SMPP writes them (SMPP 3.4 §5.2.5):
- `to` must be an E.164 number ("+447700900123" or the same digits without "+"; 7 to 15
  digits, a known country code): TON 1 (international), NPI 1 (E.164), digits without "+".
- `from` is an E.164 number the same way, a short code of up to 8 digits (TON 3, network
  specific, NPI 0), or an alphanumeric name of up to 11 GSM characters (TON 5, NPI 0).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Final

from opensmsc.engine import ReceiptRequest, Submission
from opensmsc.http.problems import Problem
from opensmsc.routing import InvalidNumber, Numbering
from opensmsc.sms import Alphabet
from opensmsc.store import Address

from .models import MessageRequest

__all__ = ["encoding_name", "submission_of"]

_NUMBERING: Final = Numbering()
_ALPHABETS: Final = {
    "auto": None,
    "gsm7": Alphabet.GSM7,
    "ucs2": Alphabet.UCS2,
    "latin1": Alphabet.LATIN1,
    "ia5": Alphabet.IA5,
    "binary": Alphabet.BINARY,
}
_NAMES: Final = {alphabet: name for name, alphabet in _ALPHABETS.items() if alphabet}
_SHORT_CODE_DIGITS: Final = 8
_ALPHANUMERIC_MAX: Final = 11  # TS 23.040 §9.1.2.5: 11 GSM characters in 10 octets
# The GSM 03.38 default alphabet's printable ASCII part: what every handset shows as a sender.
_ALPHANUMERIC: Final = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 !\"#%&'()*+,-./:;<=>?@_"
)


def _invalid_number(field: str, text: str, reason: str) -> Problem:
    return Problem(400, "invalid-number", f"{field}: {text!r} {reason}", field=field)


def destination(text: str, field: str = "to") -> Address:
    """The SMPP address of an E.164 destination; raises Problem 400 invalid-number."""
    try:
        digits = str(_NUMBERING.normalise(text.strip()))
    except InvalidNumber as exc:
        raise _invalid_number(field, text, f"is not an E.164 number: {exc.reason}") from None
    return Address(1, 1, digits)


def source(text: str) -> Address:
    """The SMPP address of a sender; raises Problem 400 invalid-number."""
    if text.isascii() and text.isdigit() and len(text) <= _SHORT_CODE_DIGITS:
        return Address(3, 0, text)
    if text[:1] == "+" or (text.isascii() and text.isdigit()):
        return destination(text, "from")
    if len(text) <= _ALPHANUMERIC_MAX and set(text) <= _ALPHANUMERIC and text.strip():
        return Address(5, 0, text)
    raise _invalid_number(
        "from",
        text,
        "is neither an E.164 number, a short code of up to 8 digits nor an alphanumeric "
        "sender of up to 11 GSM characters",
    )


def submission_of(request: MessageRequest) -> Submission:
    """The engine's view of `request`; raises Problem 400 for an invalid number."""
    return Submission(
        source=source(request.from_),
        destination=destination(request.to),
        text=request.text,
        binary=None if request.binary is None else bytes.fromhex(request.binary),
        alphabet=_ALPHABETS[request.encoding],
        flash=request.flash,
        port=request.port,
        scheduled_at=request.scheduled_at,
        validity=None if request.validity is None else timedelta(seconds=request.validity),
        priority=request.priority,
        receipt=_receipt(request),
        client_reference=request.client_reference,
        callback_url=request.callback_url,
    )


def _receipt(request: MessageRequest) -> ReceiptRequest:
    # A callback_url asks for its reports: without a `receipt`, the final one.
    if request.callback_url is not None and "receipt" not in request.model_fields_set:
        return ReceiptRequest.FINAL
    return ReceiptRequest(request.receipt)


def encoding_name(alphabet: Alphabet) -> str:
    """The API's name of an alphabet (as `encoding` takes it)."""
    return _NAMES.get(alphabet, alphabet.name.lower())
