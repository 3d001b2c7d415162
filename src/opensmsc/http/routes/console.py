"""The web console's pages: its login, its logout and the one page the console's script fills.

What this is for: /console/login takes the node's admin token and sets it as the
`opensmsc_admin` cookie (HttpOnly, SameSite=Strict, Secure over TLS), which
http/admin_auth.py accepts on every admin route; /console/ serves the console's page and
/console/assets/ its script, style and chart, all from the package (http/console/), so the
console works on a management network with no way out. The console asks for the token even on
loopback, where the API itself does not: a browser left open on an operator's desk is not "whoever
is on the host".

What it is not: the console's data. The page's script reads the admin API (/v1/admin/...,
/v1/network/...) as any client does; this module serves files and the cookie, nothing else.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Final
from urllib.parse import parse_qs

from fastapi import APIRouter, Request, Response
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse

from ..admin_auth import COOKIE, AdminAuth
from ..problems import problem_response

__all__ = ["ASSETS", "router"]

router = APIRouter(include_in_schema=False)

ASSETS: Final = Path(__file__).resolve().parent.parent / "console"
# The files a browser may fetch under /console/assets/: a closed list, so no path reaches
# beyond the folder whatever it spells.
_MEDIA_TYPES: Final = {
    "console.js": "text/javascript",
    "chart.js": "text/javascript",
    "console.css": "text/css",
}
# No inline script, no other origin: an injected string in a message or a session's system_id
# cannot run in the operator's browser, nor can the console be framed by another site.
_HEADERS: Final = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
_LOGIN_FORM_LIMIT: Final = 4096


def _auth(request: Request) -> AdminAuth:
    auth: AdminAuth = request.app.state.auth
    return auth


def _logged_in(request: Request) -> bool:
    return _auth(request).accepts(request.cookies.get(COOKIE))


def _login_page(error: str | None, status_code: int = 200) -> HTMLResponse:
    page = (ASSETS / "login.html").read_text()
    message = "" if error is None else f'<p class="error" role="alert">{html.escape(error)}</p>'
    return HTMLResponse(
        page.replace("<!--error-->", message), status_code=status_code, headers=_HEADERS
    )


@router.get("/console")
async def console_root() -> Response:
    return RedirectResponse("/console/", status_code=303)


@router.get("/console/")
async def console_page(request: Request) -> Response:
    if not _logged_in(request):
        return RedirectResponse("/console/login", status_code=303, headers=_HEADERS)
    return FileResponse(ASSETS / "index.html", media_type="text/html", headers=_HEADERS)


@router.get("/console/login")
async def login_form(request: Request) -> Response:
    if _logged_in(request):
        return RedirectResponse("/console/", status_code=303, headers=_HEADERS)
    return _login_page(None)


@router.post("/console/login")
async def login(request: Request) -> Response:
    body = await request.body()
    if len(body) > _LOGIN_FORM_LIMIT:
        return _login_page("That is not an admin token.", 400)
    fields = parse_qs(body.decode("utf-8", "replace"))
    token = (fields.get("token") or [""])[0].strip()
    if not token:
        return _login_page("Enter the node's admin token.", 400)
    if not _auth(request).accepts(token):
        # The same answer whatever was wrong, so a guess learns nothing but "no".
        return _login_page(
            "Wrong token. It is the `admin-token` file in the node's data folder, or "
            "$OPENSMSC_ADMIN_TOKEN where the node was started with it.",
            401,
        )
    response = RedirectResponse("/console/", status_code=303, headers=_HEADERS)
    response.set_cookie(
        COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )
    return response


@router.post("/console/logout")
async def logout(request: Request) -> Response:
    response = RedirectResponse("/console/login", status_code=303, headers=_HEADERS)
    response.delete_cookie(
        COOKIE, httponly=True, samesite="strict", secure=request.url.scheme == "https", path="/"
    )
    return response


@router.get("/console/assets/{name}")
async def asset(name: str, request: Request) -> Response:
    media_type = _MEDIA_TYPES.get(name)
    if media_type is None:
        return problem_response(
            404, "not-found", f"the console has no asset {name!r}", instance=request.url.path
        )
    return FileResponse(ASSETS / name, media_type=media_type, headers=_HEADERS)
