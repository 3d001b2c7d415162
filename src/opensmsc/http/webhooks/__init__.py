"""Webhooks (issue 12): delivery reports POSTed as JSON to a message's callback_url or its
account's webhook_url, signed as Standard Webhooks says, retried until answered 2xx.

signing.py (the headers and their HMAC), payload.py (the JSON of a stored receipt),
sender.py (the worker: due webhooks from the store, POSTs, back-off, outcomes recorded).
"""

from opensmsc.http.webhooks.payload import STATUS_TYPE, payload_of
from opensmsc.http.webhooks.sender import WebhookSender, WebhookSettings
from opensmsc.http.webhooks.signing import signature, webhook_headers

__all__ = [
    "STATUS_TYPE",
    "WebhookSender",
    "WebhookSettings",
    "payload_of",
    "signature",
    "webhook_headers",
]
