"""The public HTTP API (issue 12): applications send and track messages over HTTP, through
the same engine, accounts and throttles as SMPP. `create_api_app` builds the ASGI app that
app/api.py serves with http/server.HttpServer.

app.py (the factory, its error answers), auth.py (credentials, throughput), limits.py (body
size and type), models.py (the JSON documents), convert.py (JSON → engine.Submission),
messages.py (the /v1/messages routes), idempotency.py (Idempotency-Key), context.py (what the
routes share).
"""

from opensmsc.http.api.app import create_api_app, purge_forever
from opensmsc.http.api.context import ApiSettings

__all__ = ["ApiSettings", "create_api_app", "purge_forever"]
