"""Kannel's smsbox `sendsms` as a drop-in endpoint: `GET /cgi-bin/sendsms` on the API listener.

What this is for: operators moving from Kannel keep their client code. It calls
`/cgi-bin/sendsms?username=..&password=..&to=..&text=..` and reads Kannel's answers; here those
answers are Kannel's to the octet (gw/smsbox.c, digest ../shared/specs/http-compat.md §1):
the same checks in the same order, the same status codes and bodies, the same headers
(`Content-type: text/html`, `Pragma: no-cache`, `Cache-Control: no-cache`).

- `username`/`user` and `password`/`pass` are the account's SMPP system_id and password,
  checked as an HTTP Basic login is (http/api/auth.py `login`: failure delays, lockout,
  `api_enabled`, the account's networks). Any refusal is 403 `Authorization failed for
  sendsms`, before anything else is looked at, as in Kannel.
- `to` holds one or more numbers separated by blanks (a `+` in a URL is a blank: a leading
  plus is `%2B`); each number may hold only `0123456789 +-` (Kannel's `sendsms-chars`),
  others are dropped, and a request whose numbers are all dropped is refused. Duplicates are
  sent once. All the recipients' messages are stored in one transaction.
- The parameters' integers are read as C's `sscanf("%d")` does: one that is not a number is
  as absent, never an error; ranges are checked in Kannel's order, the first failure answers.
- The answer comes once the messages are durably stored: 202 `0: Accepted for delivery` (the
  answer Kannel gives once bearerbox has the message). A store that cannot take them, or the
  account over its throughput (the token bucket its SMPP sessions share), is 503 `Temporal
  failure, try again later.`: nothing was stored, the client tries again.
- Content: `text` in `charset` (UTF-8 by default) for `coding` 0 (7-bit; characters outside
  the GSM alphabet become `?`, as Kannel's conversion makes them), octets for `coding` 1,
  UTF-16BE octets (or `charset`) for `coding` 2; without `coding` the cheapest alphabet that
  holds the text (Kannel would send 7-bit), or 8-bit with a `udh`. `udh` is sent as given,
  in one SMS. `mclass` gives the message class; `validity` and `deferred` are minutes;
  `priority` 0-3; `mwi` sets (0-3) or clears (4-7) a message waiting indication in the
  data coding, as Kannel does. A long text is split and concatenated as SMPP clients' are.
- `dlr-mask` with `dlr-url` asks for delivery reports, made by the engine like any receipt
  and sent as Kannel sends them (kannel_dlr.py).
- The POST form of the same endpoint (a `text/plain` or `application/octet-stream` body and
  `X-Kannel-*` headers) is answered the same way.

What it is not: Kannel's other smsbox services (sendota, XML-RPC, sms-service MO URLs), or
`immediate-sendsms-reply` (the answer always waits for the store). `pid`, `rpi`, `alt-dcs`,
`compress`, `account`, `binfo` and `meta-data` are checked as Kannel checks them and
then not used; `smsc` is not a route choice here (routing decides), it comes back in `%i`.
"""

from __future__ import annotations

import codecs
import logging
import re
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Final
from urllib.parse import unquote_to_bytes

from fastapi import APIRouter, Request, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from opensmsc.accounts import Account
from opensmsc.engine import InvalidSubmission, PolicyRefusal, Submission
from opensmsc.errors import MessageRejected, StoreUnavailable
from opensmsc.http.api.auth import login, take_tokens
from opensmsc.http.api.context import ApiContext, context_of
from opensmsc.http.api.convert import destination, source
from opensmsc.http.problems import Problem
from opensmsc.logtext import peer_text
from opensmsc.routing import Action
from opensmsc.sms import Alphabet, EncodingError, choose_alphabet
from opensmsc.store import Address, StoredMessage

from .kannel_dlr import DLR_SMSC_SUCCESS, dlr_parameters, registered_delivery_of, smsc_ack

__all__ = ["SENDSMS_PATH", "KannelLane", "router"]

log = logging.getLogger(__name__)

SENDSMS_PATH: Final = "/cgi-bin/sendsms"  # Kannel's default `sendsms-url`

router = APIRouter(include_in_schema=False)

# gw/smsbox.c main(): the headers of every sendsms answer.
_HEADERS: Final = {"Content-type": "text/html", "Pragma": "no-cache", "Cache-Control": "no-cache"}
_UNDEFINED: Final = -1  # SMS_PARAM_UNDEFINED
_INT_MIN, _INT_MAX = -(2**31), 2**31 - 1
_MAX_DIGITS: Final = 20  # an SMPP destination_addr (SMPP 3.4 §5.2.9: 21 octets, NUL included)
_NUMBER_CHARS: Final = frozenset(b"0123456789 +-")  # SENDSMS_DEFAULT_CHARS
_MAX_UDH: Final = 140  # MAX_SMS_OCTETS
_ACCOUNT_MAX_LEN: Final = 64
_SCANF_INT: Final = re.compile(rb"[ \t\n\v\f\r]*([+-]?[0-9]+)")
_HEX: Final = re.compile(rb"(?:[0-9a-fA-F]{2})+")
_DC_7BIT, _DC_8BIT, _DC_UCS2 = 0, 1, 2
_KNOWN_TYPES: Final = 0x3F  # every report type of dlr-mask (1..32)
_POST_TYPES: Final = ("text/plain", "application/octet-stream", "text/html", "text/vnd.wap.wml")

ACCEPTED: Final = (202, "0: Accepted for delivery")
AUTH_FAILED: Final = (403, "Authorization failed for sendsms")
TEMPORAL_FAILURE: Final = (503, "Temporal failure, try again later.")
NOT_ROUTABLE: Final = (403, "Not routable. Do not try again.")
MISSING_RECEIVER: Final = (400, "Missing receiver number, rejected")
MISSING_RECEIVERS: Final = (400, "Missing receiver(s) number(s), rejected")  # POST's wording
EMPTY_RECEIVER: Final = (400, "Empty receiver number not allowed, rejected")
ALL_DENIED: Final = (400, "Number(s) has/have been denied by white- and/or black-lists.")
INVALID_CONTENT_TYPE: Final = (400, "Invalid content-type")
UNSUPPORTED_CONTENT_TYPE: Final = (415, "Unsupported content-type, rejected")


def _misformed(what: str) -> tuple[int, str]:
    return 400, f"{what} field misformed, rejected"


UDH_MISFORMED: Final = _misformed("UDH")
UDH_TOO_LONG: Final = (400, "UDH field is too long, rejected")
NO_SENDER: Final = (400, "Sender missing and no global set, rejected")
ACCOUNT_MISFORMED: Final = (400, "Account field misformed or too long, rejected")
CHARSET_MISFORMED: Final = (400, "Charset or body misformed, rejected")
# Refusals of ours Kannel does not make (it passes such values to the SMSC, which refuses
# them later): worded as Kannel words its own.
SENDER_MISFORMED: Final = _misformed("Sender")
TOO_MANY_RECEIVERS: Final = (400, "Too many receivers, rejected")

# Where the engine refuses a field (engine.InvalidSubmission.field), Kannel's answer for it.
_FIELD_ANSWERS: Final = {
    "validity": _misformed("Validity"),
    "scheduled_at": _misformed("Deferred"),
    "priority": _misformed("Priority"),
    "message_class": _misformed("MClass"),
    "udh": UDH_MISFORMED,
    "encoding": CHARSET_MISFORMED,
    "text": CHARSET_MISFORMED,
    "binary": CHARSET_MISFORMED,
}


class _Answer(Exception):  # not an error: the answer, found early
    def __init__(self, answer: tuple[int, str]) -> None:
        self.answer = answer


def _reply(answer: tuple[int, str]) -> Response:
    status, body = answer
    return Response(content=body.encode("latin-1"), status_code=status, headers=_HEADERS)


@dataclass(slots=True)
class SendSms:
    """One sendsms request's values, as Kannel reads them (octets; integers -1 when absent)."""

    username: bytes | None = None
    password: bytes | None = None
    to: bytes | None = None
    sender: bytes | None = None
    text: bytes | None = None
    charset: bytes | None = None
    udh: bytes | None = None
    smsc: bytes | None = None
    dlr_url: bytes | None = None
    account: bytes | None = None
    binfo: bytes | None = None
    meta_data: bytes | None = None
    ints: dict[str, int] = field(default_factory=dict)

    def int(self, name: str) -> int:
        return self.ints.get(name, _UNDEFINED)


_INT_NAMES: Final = (
    "mclass",
    "mwi",
    "coding",
    "compress",
    "validity",
    "deferred",
    "dlr-mask",
    "pid",
    "alt-dcs",
    "rpi",
    "priority",
)


def cgi_variables(query: bytes) -> list[tuple[bytes, bytes]]:
    """gwlib/http.c `parse_cgivars`: `&`-separated, the name up to the first `=`, both
    URL-decoded (`+` is a blank)."""
    found = []
    for arg in query.split(b"&") if query else ():
        name, _, value = arg.partition(b"=")
        found.append((_url_decode(name), _url_decode(value)))
    return found


def _url_decode(data: bytes) -> bytes:
    if b"%" not in data and b"+" not in data:
        return data  # (most names and many values: no copy)
    return unquote_to_bytes(data.replace(b"+", b" "))


def _scanf_int(value: bytes | None) -> int:
    """sscanf("%d"): the leading integer; none leaves the parameter undefined."""
    if value is None:
        return _UNDEFINED
    found = _SCANF_INT.match(value)
    if found is None:
        return _UNDEFINED
    # A C int: what does not fit is held at its bounds (glibc's strtol saturates).
    return max(_INT_MIN, min(_INT_MAX, int(found.group(1))))


def from_query(query: bytes) -> SendSms:
    """smsbox_req_sendsms: the first of each name counts; `username` before `user`,
    `password` before `pass`, `dlr-url`/`dlr-mask` before the old `dlrurl`/`dlrmask`."""
    variables: dict[bytes, bytes] = {}
    for key, value in cgi_variables(query):
        variables.setdefault(key, value)
    get = variables.get
    request = SendSms(
        username=_first(variables, b"username", b"user"),
        password=_first(variables, b"password", b"pass"),
        to=get(b"to"),
        sender=get(b"from"),
        text=get(b"text"),
        charset=get(b"charset"),
        udh=get(b"udh"),
        smsc=get(b"smsc"),
        dlr_url=_first(variables, b"dlr-url", b"dlrurl"),
        account=get(b"account"),
        binfo=get(b"binfo"),
        meta_data=get(b"meta-data"),
    )
    for name, keys in _INT_KEYS:
        found = _first(variables, *keys)
        if found is not None:
            request.ints[name] = _scanf_int(found)
    return request


def _first(variables: dict[bytes, bytes], *names: bytes) -> bytes | None:
    for name in names:
        value = variables.get(name)
        if value is not None:
            return value
    return None


_INT_KEYS: Final = tuple(
    (name, (name.encode(), b"dlrmask") if name == "dlr-mask" else (name.encode(),))
    for name in _INT_NAMES
)
_HEADER_FIELDS: Final = {
    "x-kannel-from": "sender",
    "x-kannel-to": "to",
    "x-kannel-username": "username",
    "x-kannel-password": "password",
    "x-kannel-smsc": "smsc",
    "x-kannel-dlr-url": "dlr_url",
    "x-kannel-account": "account",
    "x-kannel-binfo": "binfo",
    "x-kannel-meta-data": "meta_data",
}
_HEADER_INTS: Final = {f"x-kannel-{name}": name for name in _INT_NAMES}


def from_headers(headers: list[tuple[bytes, bytes]], body: bytes) -> SendSms:
    """get_x_kannel_from_headers: the body is the text, the rest X-Kannel-* headers (the last
    of a name counts; values stripped of blanks; X-Kannel-UDH in hex, else URL-encoded)."""
    request = SendSms(text=body)
    for raw_name, raw_value in headers:
        name = raw_name.decode("latin-1").lower()
        value = raw_value.strip()
        if name in _HEADER_FIELDS:
            setattr(request, _HEADER_FIELDS[name], value)
        elif name == "x-kannel-udh":
            request.udh = (
                bytes.fromhex(value.decode()) if _HEX.fullmatch(value) else (_url_decode(value))
            )
        elif name in _HEADER_INTS:
            request.ints[_HEADER_INTS[name]] = _scanf_int(raw_value)
    return request


def _content_type(request: Request) -> tuple[str, bytes | None]:
    """(media type lower-cased, charset parameter) of the Content-Type header."""
    header = request.headers.get("content-type", "")
    media, *params = header.split(";")
    charset = None
    for param in params:
        key, _, value = param.strip().partition("=")
        if key.strip().lower() == "charset":
            charset = value.strip().strip('"').encode("latin-1", "replace")
    return media.strip().lower(), charset


@router.api_route(SENDSMS_PATH, methods=["GET", "POST"], include_in_schema=False)
async def sendsms(request: Request) -> Response:
    """Kannel's sendsms: a GET with the parameters in the query, or (with a body) the
    X-Kannel header POST."""
    context = context_of(request)
    body = await request.body()
    try:
        if request.method == "GET" and not body:
            values = from_query(request.scope.get("query_string", b""))
            account = await _authorise(context, request, values)
            if values.to is None:
                raise _Answer(MISSING_RECEIVER)
        else:
            media, charset = _content_type(request)
            # text/html and text/vnd.wap.wml are read by Kannel, then refused with 415
            # below; text/xml (its XML form) is not supported here.
            if media not in _POST_TYPES:
                raise _Answer(INVALID_CONTENT_TYPE)
            values = from_headers(list(request.headers.raw), body)
            values.charset = charset
            account = await _authorise(context, request, values)
            if values.to is None:
                raise _Answer(MISSING_RECEIVERS)
            if values.to and media not in ("text/plain", "application/octet-stream"):
                raise _Answer(UNSUPPORTED_CONTENT_TYPE)
            if values.int("coding") == _UNDEFINED and media == "application/octet-stream":
                values.ints["coding"] = _DC_8BIT
        if not values.to:
            raise _Answer(EMPTY_RECEIVER)
        return _reply(await _send(context, account, values))
    except _Answer as answer:
        return _reply(answer.answer)


class KannelLane:
    """ASGI middleware: sendsms served by `sendsms` itself, without FastAPI's routing and
    dependency machinery around it (the same answers; a few hundred µs less per request, at
    thousands of requests a second). Other methods go on to the route (405)."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["path"] == SENDSMS_PATH
            and scope["method"] in ("GET", "POST")
        ):
            response = await sendsms(Request(scope, receive))
            await response(scope, receive, send)
            return
        await self._app(scope, receive, send)


async def _authorise(context: ApiContext, request: Request, values: SendSms) -> Account:
    if values.username is None or values.password is None:
        raise _Answer(AUTH_FAILED)
    system_id = values.username.decode("utf-8", "replace")
    try:
        return await login(context, request, system_id, values.password.decode("utf-8", "replace"))
    except Problem as exc:
        log.info("sendsms refused user=%s: %s", peer_text(system_id), exc.detail)
        raise _Answer(AUTH_FAILED) from None


def _receivers(to: bytes) -> list[bytes]:
    """The numbers of `to` allowed by sendsms-chars, each once, in order; ALL_DENIED if none.
    A number without digits, or with more than an SMPP address holds, is dropped too (Kannel
    would hand it to its SMSC, which refuses it)."""
    allowed: list[bytes] = []
    for number in to.split():
        if set(number) <= _NUMBER_CHARS and _digits(number) and number not in allowed:
            allowed.append(number)
    if not allowed:
        raise _Answer(ALL_DENIED)
    return allowed


def _check(values: SendSms) -> None:
    """smsbox_req_handle's checks after the receivers and the sender, in its order."""
    account = values.account
    if account and (len(account) > _ACCOUNT_MAX_LEN or set(account) & set(b"[]\n\r")):
        raise _Answer(ACCOUNT_MISFORMED)
    url = values.dlr_url
    if url and (len(url) < 8 or not url[:8].lower().startswith((b"http://", b"https://"))):
        raise _Answer(_misformed("DLR-URL"))
    for name, low, high, what in (
        # 66, not 63: the bound of Kannel 1.4.5, the release clients talk to (trunk, 1.5,
        # says 63); the bits above 32 ask for nothing here.
        ("dlr-mask", -1, 66, "DLR-Mask"),
        ("mclass", -1, 3, "MClass"),
        ("pid", -1, 255, "PID"),
        ("rpi", -1, 2, "RPI"),
        ("alt-dcs", -1, 1, "Alt-DCS"),
        ("mwi", -1, 7, "MWI"),
        ("coding", -1, 2, "Coding"),
        ("compress", -1, 1, "Compress"),
    ):
        if not low <= values.int(name) <= high:
            raise _Answer(_misformed(what))
    if values.int("validity") < -1:
        raise _Answer(_misformed("Validity"))
    if values.int("deferred") < -1:
        raise _Answer(_misformed("Deferred"))
    priority = values.int("priority")
    if priority != _UNDEFINED and not 0 <= priority <= 3:
        raise _Answer(_misformed("Priority"))


@dataclass(frozen=True, slots=True)
class _Content:
    text: str | None
    binary: bytes | None
    alphabet: Alphabet | None
    data_coding: int | None = None  # a message waiting indication's


def _waiting(content: _Content, mwi: int) -> _Content:
    """gw/sms.c fields_to_dcs for `mwi` 0-3 (set the indication: voicemail, fax, e-mail,
    other) or 4-7 (clear it): TS 23.038 §4 groups 1100 (discard, GSM 7-bit), 1101 (store, GSM
    7-bit), 1110 (store, UCS2). The message class does not apply."""
    kind, active = mwi & 0x03, mwi < 4
    if content.binary is not None:
        # 8-bit content: Kannel sends its octets under the UCS2 group (or the GSM 7-bit
        # discard group), where the handset reads them as such.
        octets = content.binary
        text = octets.decode("latin-1") if not active or not octets else None
        if text is None:
            return _Content(octets.decode("utf-16-be", "replace"), None, Alphabet.UCS2, 0xE8 | kind)
    else:
        text = content.text or ""
    if not active or not text:
        gsm = _gsm_or_question_marks(text)
        return _Content(gsm, None, Alphabet.GSM7, 0xC0 | kind | (0x08 if active else 0))
    alphabet = content.alphabet or choose_alphabet(text).alphabet
    if alphabet is Alphabet.GSM7:
        return _Content(text, None, Alphabet.GSM7, 0xD8 | kind)
    return _Content(text, None, Alphabet.UCS2, 0xE8 | kind)


def _content(values: SendSms) -> _Content:
    """The text as the engine takes it (charset_processing, then the alphabet for `coding`)."""
    text = values.text or b""
    charset = values.charset.decode("latin-1") if values.charset else None
    coding = values.int("coding")

    def decoded(default: str) -> str:
        # gwlib/charset.c charset_convert: nothing to do for an empty text or the same
        # charset; an unknown charset is an error; an invalid sequence is passed over.
        if charset is None or not text or charset.lower() == default:
            return text.decode(default, "replace")
        try:
            return codecs.decode(text, charset, "replace")
        except LookupError:
            raise _Answer(CHARSET_MISFORMED) from None

    if coding == _DC_8BIT or (coding == _UNDEFINED and values.udh):
        return _Content(None, text, Alphabet.BINARY)
    if coding == _DC_UCS2:
        return _Content(decoded("utf-16be"), None, Alphabet.UCS2)
    if coding == _DC_7BIT:
        return _Content(_gsm_or_question_marks(decoded("utf-8")), None, Alphabet.GSM7)
    return _Content(decoded("utf-8"), None, None)  # the cheapest alphabet that holds it


def _gsm_or_question_marks(text: str) -> str:
    # Kannel converts 7-bit text to the GSM alphabet and writes `?` for what it lacks.
    while True:
        try:
            choose_alphabet(text, force=Alphabet.GSM7)
            return text
        except EncodingError as exc:
            text = text[: exc.position] + "?" + text[exc.position + 1 :]


def _digits(number: bytes) -> tuple[bool, str] | None:
    """(international, digits) of a number of sendsms-chars; None when it has no digits or
    more than an SMPP address holds."""
    text = number.decode("ascii")
    international = text.startswith(("+", "00"))
    digits = text.replace("+", "").replace("-", "")
    if text.startswith("00"):
        digits = digits[2:]
    return (international, digits) if 0 < len(digits) <= _MAX_DIGITS else None


def _destination(number: bytes) -> Address:
    found = _digits(number)
    assert found is not None  # _receivers kept only such numbers
    international, digits = found
    try:
        return destination(f"+{digits}" if international else digits)
    except Problem:
        # Not a number our numbering plan knows (a national or short number): as the client
        # wrote it, for the routes to judge, as Kannel hands it to its SMSC.
        return Address(1 if international else 0, 1, digits)


def _source(sender: bytes) -> Address:
    text = sender.decode("utf-8", "replace")
    try:
        return source(text)
    except Problem:
        if text.isascii() and text.isdigit() and len(text) <= 20:
            return Address(0, 1, text)
        raise _Answer(SENDER_MISFORMED) from None


async def _send(context: ApiContext, account: Account, values: SendSms) -> tuple[int, str]:
    assert values.to is not None
    udh = values.udh
    if udh and udh[0] + 1 != len(udh):
        raise _Answer(UDH_MISFORMED)
    if udh and len(udh) > _MAX_UDH:
        raise _Answer(UDH_TOO_LONG)
    receivers = _receivers(values.to)
    if not values.sender:
        raise _Answer(NO_SENDER)
    _check(values)
    if len(receivers) > context.settings.max_batch:
        raise _Answer(TOO_MANY_RECEIVERS)
    content = _content(values)
    if values.int("mwi") != _UNDEFINED:
        content = _waiting(content, values.int("mwi"))
    sender = _source(values.sender)
    validity, deferred = values.int("validity"), values.int("deferred")
    mask = values.int("dlr-mask")
    mclass, priority = values.int("mclass"), values.int("priority")
    dlr_url = values.dlr_url.decode("utf-8", "replace") if values.dlr_url else None
    reports = dlr_url is not None and mask > 0 and mask & _KNOWN_TYPES != 0
    acks = reports and bool(mask & DLR_SMSC_SUCCESS)
    smsc = values.smsc.decode("utf-8", "replace") if values.smsc else None
    acceptor = context.engine.acceptor
    now = context.clock()
    from_text = values.sender.decode("utf-8", "replace")
    records: list[StoredMessage] = []
    reports_made: list[StoredMessage] = []
    try:
        for number in receivers:
            submission = Submission(
                source=sender,
                destination=_destination(number),
                text=content.text,
                binary=content.binary,
                alphabet=content.alphabet,
                udh=values.udh or None,
                data_coding=content.data_coding,
                message_class=None if mclass == _UNDEFINED or content.data_coding else mclass,
                scheduled_at=None if deferred <= 0 else now + timedelta(minutes=deferred),
                # 0 (Kannel: expires at once) as absent: the account's default validity
                validity=None if validity <= 0 else timedelta(minutes=validity),
                priority=0 if priority == _UNDEFINED else priority,
                registered_delivery=registered_delivery_of(mask) if reports else 0,
                callback_url=dlr_url if reports else None,
                callback_style=None
                if not reports
                else dlr_parameters(
                    mask=mask, to=number.decode("ascii"), sender=from_text, smsc=smsc
                ),
            )
            prepared = acceptor.prepare(account.system_id, submission).records
            records.extend(prepared)
            if acks:
                parameters = dlr_parameters(
                    mask=mask,
                    to=number.decode("ascii"),
                    sender=from_text,
                    smsc=smsc,
                    report_type=DLR_SMSC_SUCCESS,
                )
                engine = context.engine
                made = [
                    smsc_ack(r, report_id=engine.ids.next(), at=now, parameters=parameters)
                    for r in prepared
                ]
                reports_made.extend(made)
        take_tokens(context, account, len(records))
        # The acks go in the messages' transaction: stored with them or not at all.
        await acceptor.store(records, notifications=reports_made)
        if reports_made:
            context.engine.webhook_stored.set()
    except InvalidSubmission as exc:
        log.info("sendsms refused user=%s: %s: %s", account.system_id, exc.field, exc.reason)
        return _FIELD_ANSWERS.get(exc.field, NOT_ROUTABLE)
    except PolicyRefusal as exc:
        # The routing policy: a reject will not change ("Not routable. Do not try again."); a
        # throttle is Kannel's answer for a message that may go later.
        log.info("sendsms refused by policy user=%s: %s", account.system_id, exc)
        return NOT_ROUTABLE if exc.action is Action.REJECT else TEMPORAL_FAILURE
    except (Problem, MessageRejected, StoreUnavailable) as exc:
        # Over the account's throughput, the engine's queue full, the store unavailable:
        # nothing was stored; Kannel's answer for a message that may go later.
        log.info("sendsms not stored user=%s: %s", account.system_id, exc)
        return TEMPORAL_FAILURE
    return ACCEPTED
