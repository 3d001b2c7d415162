"""The admin API's /docs page works offline (issue 10 item 19): Swagger UI's files come from the
node itself, never from a public CDN. A headless Chromium, with every host but 127.0.0.1
unreachable, renders the API's operations from the page."""

from __future__ import annotations

import asyncio
import re
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi.routing import APIRoute

from opensmsc.app import build_hlr
from opensmsc.http import HttpServer, create_app
from opensmsc.network import SimulatedNetwork

URL_ATTRIBUTE = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']|url:\s*'([^']+)'""")
CHROMIUM = shutil.which("chromium-headless-shell") or shutil.which("chromium")


def app() -> object:
    services = build_hlr()
    return create_app(network=SimulatedNetwork(services.hlr), lookup=services.lookup)


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app())  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://admin") as client:
        yield client


async def test_docs_page_loads_nothing_from_another_host(client: httpx.AsyncClient) -> None:
    page = await client.get("/docs")
    assert page.status_code == 200
    html = page.text
    assert "http://" not in html and "https://" not in html, html
    urls = [a or b for a, b in URL_ATTRIBUTE.findall(html)]
    assert len(urls) == 4, urls  # the style, the icon, the script, the OpenAPI document
    for url in urls:
        assert url.startswith("/") and not url.startswith("//"), url
        answer = await client.get(url)
        assert answer.status_code == 200, url
        assert len(answer.content) > 1000, url
    script = next(u for u in urls if u.endswith(".js"))
    assert "SwaggerUIBundle" in (await client.get(script)).text


async def test_docs_assets_have_their_media_types(client: httpx.AsyncClient) -> None:
    js = await client.get("/docs/assets/swagger-ui-bundle.js")
    css = await client.get("/docs/assets/swagger-ui.css")
    assert "javascript" in js.headers["content-type"]
    assert css.headers["content-type"].startswith("text/css")
    assert (await client.get("/docs/assets/nothing.js")).status_code == 404


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium (tests/install-system-deps.sh)")
async def test_docs_page_renders_offline_in_a_browser() -> None:
    assert CHROMIUM is not None
    server = HttpServer(app(), port=0)  # type: ignore[arg-type]
    port = await server.start()
    try:
        browser = await asyncio.create_subprocess_exec(
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            # Offline: no name resolves, and every connection but to 127.0.0.1 goes to a dead
            # proxy.
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
            "--proxy-server=http://127.0.0.1:9",
            "--proxy-bypass-list=127.0.0.1",
            "--virtual-time-budget=15000",
            "--dump-dom",
            f"http://127.0.0.1:{port}/docs",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(browser.communicate(), 90)
    finally:
        await server.stop()
    dom = out.decode(errors="replace")
    assert browser.returncode == 0, err.decode(errors="replace")[-2000:]
    # Swagger UI fetched /openapi.json and drew one block per operation.
    paths = re.findall(r'data-path="([^"]+)"', dom)
    assert "/v1/network/subscribers/{msisdn}" in paths, dom[-3000:]
    assert "/v1/hlr/{msisdn}" in paths
    assert "/v1/health" in paths


# ---- the documentation of the admin API (issue 10 item 18) -------------------------------------

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    "page", [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))], ids=lambda p: p.name
)
def test_markdown_tables_are_whole(page: Path) -> None:
    # A blank line inside a table makes the rows after it render as loose text.
    lines = page.read_text().splitlines()
    for number, line in enumerate(lines):
        starts_table = line.startswith("|") and (number == 0 or not lines[number - 1].strip())
        if starts_table:
            below = lines[number + 1] if number + 1 < len(lines) else ""
            assert re.fullmatch(r"\|(\s*:?-+:?\s*\|)+", below.strip()), (
                f"{page.name}:{number + 1}: a table row with no header above it "
                "(a blank line splits a table?)"
            )


def test_every_admin_route_is_in_the_endpoint_table() -> None:
    text = (REPO / "docs" / "configuration.md").read_text()
    rows = [line for line in text.splitlines() if line.startswith("| ") and "`/" in line]
    for route in app().routes:  # type: ignore[attr-defined]
        if not isinstance(route, APIRoute):
            continue
        path = route.path
        row = next((r for r in rows if f"`{path}`" in r), None)
        assert row is not None, f"{path} is missing from the endpoint table"
        for method in route.methods:
            assert method in row.split("|")[1], f"{method} {path} is missing from its row"


def test_readme_names_every_command_and_the_defaults_a_newcomer_meets() -> None:
    # Issue 10 item 17: the command list missed five verbs, and the README did not say how to
    # bind with no configuration, where the admin API is, or that messages go to a simulation.
    from opensmsc.app import DEMO_PASSWORD, DEMO_SYSTEM_ID
    from opensmsc.cli.main import build_parser
    from opensmsc.config import load

    readme = (REPO / "README.md").read_text()
    commands = readme.split("## The command line", 1)[1].split("\n## ", 1)[0]
    parser = build_parser()
    verbs = next(a for a in parser._actions if a.dest == "verb").choices
    assert verbs is not None
    for verb in verbs:
        assert f"opensmsc {verb}" in commands, f"opensmsc {verb} is not in the command list"
    http = load(None).http
    assert f"{http.bind_address}:{http.port}" in readme
    assert f"{http.bind_address}:{http.port}/docs" in readme
    assert f"system_id `{DEMO_SYSTEM_ID}`" in readme and f"password `{DEMO_PASSWORD}`" in readme
    assert "loopback" in readme and "simulated" in readme.lower()


# ---- the operator guide (issue 10 item 20) -----------------------------------------------------


def _documented_commands(page: Path) -> list[list[str]]:
    """Every `opensmsc ...` command line in the page's sh code blocks, as argv."""
    import shlex

    commands: list[list[str]] = []
    for block in re.findall(r"```sh\n(.*?)```", page.read_text(), flags=re.DOTALL):
        for raw in block.splitlines():
            # Without the comment and any redirection or pipe.
            line = re.split(r"\s[#<>|]", f" {raw}", maxsplit=1)[0].strip()
            match = re.match(r"(?:sudo\s+(?:-u \S+\s+)?)?(?:\S*/bin/)?opensmsc\s+(.+)$", line)
            if match:
                commands.append(shlex.split(match[1]))
    return commands


@pytest.mark.parametrize("page", ["README.md", "docs/operations.md"])
def test_documented_commands_parse(page: str) -> None:
    from opensmsc.cli.main import build_parser

    commands = _documented_commands(REPO / page)
    assert commands
    for argv in commands:
        try:
            build_parser().parse_args(argv)
        except SystemExit as exc:  # argparse's way of refusing
            raise AssertionError(f"{page}: opensmsc {' '.join(argv)} does not parse") from exc


def test_operations_guide_covers_what_an_operator_asks() -> None:
    text = (REPO / "docs" / "operations.md").read_text()
    for heading in (
        "## Running it as a systemd service",
        "## Signals",
        "## Logs",
        "## Backups",
        "## What survives a restart",
        "## Why was a message not delivered?",
    ):
        assert heading in text
    for signal_name in ("SIGTERM", "SIGINT", "SIGHUP", "SIGKILL"):
        assert signal_name in text
    assert ".backup" in text and "query_sm" in text and "opensmsc inbox" in text


def _unit() -> dict[str, dict[str, list[str]]]:
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] = {}
    for raw in (REPO / "examples" / "opensmsc.service").read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), {})
            continue
        key, value = line.split("=", 1)
        current.setdefault(key, []).append(value)
    return sections


def test_systemd_unit_runs_the_node_as_documented() -> None:
    from opensmsc.cli.main import build_parser

    service = _unit()["Service"]
    assert service["User"] == ["opensmsc"] and service["Restart"] == ["on-failure"]
    assert int(service["LimitNOFILE"][0]) >= 65536
    assert service["StateDirectory"] == ["opensmsc"]
    assert service["RestartPreventExitStatus"] == ["2"]  # cli/runner.py: EXIT_CONFIG
    for key in ("ExecStart", "ExecStartPre"):
        binary, *argv = service[key][0].split()
        assert binary.endswith("/bin/opensmsc")
        build_parser().parse_args(argv)
    assert _unit()["Install"]["WantedBy"] == ["multi-user.target"]


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze")
def test_systemd_unit_verifies(tmp_path: Path) -> None:
    import subprocess
    import sys

    opensmsc = Path(sys.executable).with_name("opensmsc")
    unit = tmp_path / "opensmsc.service"
    unit.write_text(
        (REPO / "examples" / "opensmsc.service")
        .read_text()
        .replace("/opt/opensmsc/bin/opensmsc", str(opensmsc))
    )
    done = subprocess.run(
        ["systemd-analyze", "verify", str(unit)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0 and not done.stderr.strip(), done.stderr
