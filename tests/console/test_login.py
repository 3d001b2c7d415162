"""The web console's login, logout and files (http/routes/console.py), over a real node's admin
listener: the cookie's attributes, the login asked for even on loopback, the files served from
the package with their media types and a policy that forbids inline script."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import httpx
import pytest

from opensmsc import app
from opensmsc.config import HttpConfig
from opensmsc.http import AdminAuth, create_app
from tests.conftest import SmscFactory, make_config

pytestmark = pytest.mark.asyncio


def _token(data_dir: Path) -> str:
    return (data_dir / "admin-token").read_text().strip()


async def test_the_console_asks_for_the_token_even_on_loopback(smsc_factory: SmscFactory) -> None:
    smsc = await smsc_factory()
    base = f"http://127.0.0.1:{smsc.running.ports['http']}"
    async with httpx.AsyncClient(base_url=base) as client:
        # The API itself is open on loopback; the console's page is not.
        assert (await client.get("/metrics")).status_code == 200
        page = await client.get("/console/")
        assert page.status_code == 303
        assert page.headers["location"] == "/console/login"
        assert (await client.get("/console")).headers["location"] == "/console/"
        login = await client.get("/console/login")
        assert login.status_code == 200
        assert 'name="token"' in login.text
        assert "script-src 'self'" in login.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in login.headers["content-security-policy"]


async def test_a_wrong_token_is_refused_and_no_cookie_set(smsc_factory: SmscFactory) -> None:
    smsc = await smsc_factory()
    base = f"http://127.0.0.1:{smsc.running.ports['http']}"
    async with httpx.AsyncClient(base_url=base) as client:
        wrong = await client.post("/console/login", data={"token": "guess"})
        assert wrong.status_code == 401
        assert "Wrong token" in wrong.text
        assert "set-cookie" not in wrong.headers
        empty = await client.post("/console/login", data={"token": "  "})
        assert empty.status_code == 400
        assert "Enter the node" in empty.text
        huge = await client.post("/console/login", data={"token": "x" * 10_000})
        assert huge.status_code == 400


async def test_login_sets_a_strict_http_only_cookie_and_logout_clears_it(
    smsc_factory: SmscFactory,
) -> None:
    smsc = await smsc_factory()
    token = _token(smsc.data_dir)
    base = f"http://127.0.0.1:{smsc.running.ports['http']}"
    async with httpx.AsyncClient(base_url=base) as client:
        login = await client.post("/console/login", data={"token": token})
        assert login.status_code == 303
        assert login.headers["location"] == "/console/"
        cookie = login.headers["set-cookie"]
        assert cookie.startswith(f"opensmsc_admin={token};")
        attributes = {part.strip().lower() for part in cookie.split(";")}
        assert {"httponly", "samesite=strict", "path=/"} <= attributes
        assert "secure" not in attributes  # plain HTTP: a Secure cookie would never come back
        page = await client.get("/console/")
        assert page.status_code == 200
        assert '<script type="module" src="/console/assets/console.js">' in page.text
        assert (await client.get("/console/login")).headers["location"] == "/console/"
        logout = await client.post("/console/logout")
        assert logout.status_code == 303
        assert logout.headers["location"] == "/console/login"
        assert 'opensmsc_admin=""' in logout.headers["set-cookie"]
        assert "max-age=0" in logout.headers["set-cookie"].lower()
        assert (await client.get("/console/")).status_code == 303


async def test_beyond_loopback_the_cookie_opens_the_api(tmp_path: Path) -> None:
    config = make_config(tmp_path / "data")
    config = dataclasses.replace(config, http=HttpConfig(bind_address="0.0.0.0", port=0))
    running = await app.start(config)
    try:
        token = _token(config.node.data_dir)
        base = f"http://127.0.0.1:{running.ports['http']}"
        async with httpx.AsyncClient(base_url=base) as client:
            # A browser without the cookie is sent to the login, not shown a JSON 401.
            assert (await client.get("/console/")).headers["location"] == "/console/login"
            assert (await client.get("/console/assets/console.css")).status_code == 200
            assert (await client.get("/metrics")).status_code == 401
            assert (await client.post("/console/logout")).status_code == 401
            await client.post("/console/login", data={"token": token})
            assert (await client.get("/metrics")).status_code == 200
            assert (await client.get("/console/")).status_code == 200
    finally:
        await running.stop()


async def test_over_tls_the_cookie_is_secure() -> None:
    # The admin listener speaks TLS behind a terminating proxy or with uvicorn's certificate;
    # either way the request's scheme is https and the cookie must never go out in the clear.
    application = create_app(network=None, auth=AdminAuth("s3cret", required=True))
    transport = httpx.ASGITransport(app=application)
    async with httpx.AsyncClient(transport=transport, base_url="https://admin") as client:
        login = await client.post("/console/login", data={"token": "s3cret"})
        assert login.status_code == 303
        assert "secure" in {part.strip().lower() for part in login.headers["set-cookie"].split(";")}


async def test_the_assets_come_from_the_package(smsc_factory: SmscFactory) -> None:
    smsc = await smsc_factory()
    base = f"http://127.0.0.1:{smsc.running.ports['http']}"
    async with httpx.AsyncClient(base_url=base) as client:
        for name, media_type in [
            ("console.js", "text/javascript"),
            ("chart.js", "text/javascript"),
            ("console.css", "text/css"),
        ]:
            answer = await client.get(f"/console/assets/{name}")
            assert answer.status_code == 200, name
            assert answer.headers["content-type"].startswith(media_type), name
            assert "http://" not in answer.text and "https://" not in answer.text, name
        missing = await client.get("/console/assets/..%2Fapp.py")
        assert missing.status_code == 404
        assert missing.json()["type"].endswith("not-found")
        assert (await client.get("/console/assets/index.html")).status_code == 404


async def test_without_a_token_there_is_no_console() -> None:
    transport = httpx.ASGITransport(app=create_app(network=None))
    async with httpx.AsyncClient(transport=transport, base_url="http://admin") as client:
        assert (await client.get("/console/login")).status_code == 404
