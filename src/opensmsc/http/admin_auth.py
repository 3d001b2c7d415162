"""Who may use the admin API: a bearer token, or the web console's login cookie.

When the admin listener is reachable beyond loopback every request must carry the node's admin
token (`Authorization: Bearer <token>`, or the `opensmsc_admin` cookie the console's login
sets), except liveness and readiness, which load balancers and orchestrators poll without
secrets. On loopback the token is accepted but not required: whoever is on the host and can
reach the port could read the token from the data folder too, if it is theirs.

An unauthenticated request gets a 401 problem (`unauthorized`) with `WWW-Authenticate: Bearer`.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Final

from starlette.types import ASGIApp, Receive, Scope, Send

from .problems import problem_response

__all__ = ["COOKIE", "AdminAuth", "AdminAuthMiddleware"]

COOKIE: Final = "opensmsc_admin"
# Open to all: probes, and the console's own login page and its assets. The console's page
# checks the cookie itself (http/routes/console.py) and sends a browser without it to the login
# rather than answering a JSON 401 no one reads.
_OPEN_PATHS: Final = frozenset({"/health", "/ready", "/v1/health", "/console", "/console/"})
_OPEN_PREFIXES: Final = ("/console/login", "/console/assets/")


@dataclass(frozen=True, slots=True)
class AdminAuth:
    token: str
    required: bool  # the listener is reachable beyond loopback

    def accepts(self, presented: str | None) -> bool:
        return presented is not None and hmac.compare_digest(
            presented.encode(), self.token.encode()
        )


class AdminAuthMiddleware:
    def __init__(self, app: ASGIApp, auth: AdminAuth) -> None:
        self._app = app
        self._auth = auth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self._auth.required or _open(scope["path"]):
            await self._app(scope, receive, send)
            return
        if self._auth.accepts(presented_token(scope)):
            await self._app(scope, receive, send)
            return
        response = problem_response(
            401,
            "unauthorized",
            "This admin API needs the node's admin token: `Authorization: Bearer <token>` "
            "(the `admin-token` file in its data folder, or $OPENSMSC_ADMIN_TOKEN).",
            title="Unauthorized",
            headers={"WWW-Authenticate": "Bearer"},
        )
        await response(scope, receive, send)


def _open(path: str) -> bool:
    return path in _OPEN_PATHS or path.startswith(_OPEN_PREFIXES)


def presented_token(scope: Scope) -> str | None:
    """The bearer token of the request, else its console cookie."""
    headers: list[tuple[bytes, bytes]] = scope.get("headers", [])
    for name, value in headers:
        if name == b"authorization":
            scheme, _, credentials = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer":
                return str(credentials).strip()
    for name, value in headers:
        if name == b"cookie":
            for part in value.decode("latin-1").split(";"):
                key, _, cookie = part.strip().partition("=")
                if key == COOKIE:
                    return str(cookie)
    return None
