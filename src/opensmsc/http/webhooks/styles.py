"""How a stored callback is called: the HTTP request made of a stored record, and whether an
answer ends it.

Every callback (a delivery report to a URL; a mobile-originated message pushed to an account's
URL) is sent by one worker with one retry discipline (sender.py). What differs is its look: our
own callbacks are Standard Webhooks JSON POSTs (`StandardStyle`); the drop-in Kannel and Jasmin
endpoints' callbacks must look exactly as the originals' do, so that receivers written for them
work unchanged (Kannel: a GET of the dlr-url with its % escapes filled in; Jasmin: a form POST
or GET, acknowledged by the body `ACK/Jasmin`).

A record names its style in `StoredMessage.callback_style`: None for the standard one, else
`name` or `name;parameters` (the parameters are the style's own, e.g. a Jasmin DLR level). The
sender looks the name up in the `CallbackStyles` it was given; the drop-in endpoints register
theirs there (app/webhooks.py builds the table).

What it is not: the worker (sender.py), the JSON document (payload.py) or the signature
(signing.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from opensmsc.store import Direction, StoredMessage

from .payload import mo_payload_of, payload_of
from .signing import webhook_headers

__all__ = [
    "CallbackRequest",
    "CallbackStyle",
    "CallbackStyles",
    "StandardStyle",
    "split_style",
]


@dataclass(frozen=True, slots=True)
class CallbackRequest:
    """One attempt's request. `body` None: a request without a body (a GET). `encoded`: the
    URL is already percent-encoded and goes octet for octet (a Kannel dlr-url with its
    escapes filled in), not normalised by the client."""

    method: str
    url: str
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes | None = None
    encoded: bool = False


class CallbackStyle(Protocol):
    def request(
        self, record: StoredMessage, parameters: str, *, timestamp: int, secret: str | None
    ) -> CallbackRequest:
        """The request of one attempt to send `record` (a receipt, or an MO) to its
        callback_url; `parameters` is what follows the style's name in callback_style;
        `timestamp` the attempt's Unix time; `secret` the account's webhook secret."""
        ...

    def accepted(self, status: int, body: bytes) -> bool:
        """Whether this answer (HTTP status, the first octets of the body) ends the callback;
        else it is tried again later."""
        ...


class StandardStyle:
    """Standard Webhooks: a signed JSON POST (payload.py: `message.status` for a receipt,
    `message.received` for an MO), ended by any 2xx."""

    def request(
        self, record: StoredMessage, parameters: str, *, timestamp: int, secret: str | None
    ) -> CallbackRequest:
        assert record.callback_url is not None
        body = mo_payload_of(record) if record.direction is Direction.MO else payload_of(record)
        headers = webhook_headers(record.message_id, timestamp, body, secret)
        return CallbackRequest("POST", record.callback_url, headers, body)

    def accepted(self, status: int, body: bytes) -> bool:
        return 200 <= status < 300


STANDARD = StandardStyle()


def split_style(callback_style: str | None) -> tuple[str, str]:
    """(name, parameters) of a record's callback_style; ("", "") for the standard style."""
    if not callback_style:
        return "", ""
    name, _, parameters = callback_style.partition(";")
    return name, parameters


class CallbackStyles:
    """The styles a sender knows, by name; the standard one is always there (name "")."""

    def __init__(self, styles: Mapping[str, CallbackStyle] | None = None) -> None:
        self._styles: dict[str, CallbackStyle] = {"": STANDARD, **(styles or {})}

    def get(self, callback_style: str | None) -> tuple[CallbackStyle, str] | None:
        """The style of a record and its parameters; None for a name nobody registered (a
        record written by a newer build, or a compat endpoint switched off since)."""
        name, parameters = split_style(callback_style)
        style = self._styles.get(name)
        return None if style is None else (style, parameters)
