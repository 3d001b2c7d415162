"""Webhooks (issue 12): delivery reports POSTed as JSON to a message's callback_url or its
account's webhook_url, signed as Standard Webhooks says, retried until answered 2xx.

signing.py (the headers and their HMAC), payload.py (the JSON of a stored receipt),
sender.py (the worker: due webhooks from the store, POSTs, back-off, outcomes recorded),
mo.py (an account's MO POSTed to its webhook_url: a Route, retried by the Scheduler),
styles.py (how a callback looks: Standard Webhooks, or a drop-in endpoint's own).
"""

from opensmsc.http.webhooks.mo import WebhookMoRoute
from opensmsc.http.webhooks.payload import STATUS_TYPE, payload_of
from opensmsc.http.webhooks.sender import WebhookSender, WebhookSettings
from opensmsc.http.webhooks.signing import signature, webhook_headers
from opensmsc.http.webhooks.styles import (
    CallbackRequest,
    CallbackStyle,
    CallbackStyles,
    StandardStyle,
    split_style,
)

__all__ = [
    "STATUS_TYPE",
    "CallbackRequest",
    "CallbackStyle",
    "CallbackStyles",
    "StandardStyle",
    "WebhookMoRoute",
    "WebhookSender",
    "WebhookSettings",
    "payload_of",
    "signature",
    "split_style",
    "webhook_headers",
]
