"""Standard Webhooks signatures (https://www.standardwebhooks.com/): the headers of one POST.

`webhook-id` is the webhook's own id (a retry keeps it: receivers dedupe on it),
`webhook-timestamp` the attempt's time in integer Unix seconds, and `webhook-signature`
`v1,<base64 HMAC-SHA256>` of `"{id}.{timestamp}.{body}"` keyed with the base64-decoded part of
the `whsec_` secret. Receivers verify with any Standard Webhooks library (the `standardwebhooks`
package, Svix's).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Final

__all__ = ["SECRET_PREFIX", "signature", "webhook_headers"]

SECRET_PREFIX: Final = "whsec_"


def signature(secret: str, webhook_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` value (`v1,<base64>`) of `body` with `secret` ("whsec_...")."""
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def webhook_headers(
    webhook_id: str, timestamp: int, body: bytes, secret: str | None
) -> dict[str, str]:
    """The Standard Webhooks headers of one attempt; unsigned when the account has no secret."""
    headers = {
        "content-type": "application/json",
        "webhook-id": webhook_id,
        "webhook-timestamp": str(timestamp),
    }
    if secret is not None:
        headers["webhook-signature"] = signature(secret, webhook_id, timestamp, body)
    return headers
