"""The admin API's token (app/admin_token.py, http/admin_auth.py): made once in the data folder,
required when the listener is reachable beyond loopback, and found by the CLI from --config."""

from __future__ import annotations

import asyncio
import dataclasses
import stat
from pathlib import Path
from typing import Any

import httpx
import pytest

from opensmsc import app
from opensmsc.cli.main import main
from opensmsc.config import Config, HttpConfig
from tests.conftest import SmscFactory, make_config

pytestmark = pytest.mark.asyncio


async def _node(tmp_path: Path, bind_address: str) -> tuple[app.RunningSmsc, Config]:
    config = make_config(tmp_path / "data")
    config = dataclasses.replace(config, http=HttpConfig(bind_address=bind_address, port=0))
    return await app.start(config), config


async def test_beyond_loopback_the_token_is_required(tmp_path: Path) -> None:
    running, config = await _node(tmp_path, "0.0.0.0")
    try:
        token_file = config.node.data_dir / "admin-token"
        assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
        token = token_file.read_text().strip()
        assert len(token) >= 40
        base = f"http://127.0.0.1:{running.ports['http']}"
        async with httpx.AsyncClient(base_url=base) as client:
            assert (await client.get("/health")).status_code == 200
            assert (await client.get("/ready")).status_code == 200
            refused = await client.get("/metrics")
            assert refused.status_code == 401
            assert refused.headers["www-authenticate"] == "Bearer"
            assert refused.json()["type"].endswith("unauthorized")
            wrong = await client.get("/metrics", headers={"Authorization": "Bearer nope"})
            assert wrong.status_code == 401
            good = await client.get("/metrics", headers={"Authorization": f"Bearer {token}"})
            assert good.status_code == 200
            by_cookie = await client.get("/metrics", headers={"Cookie": f"opensmsc_admin={token}"})
            assert by_cookie.status_code == 200
    finally:
        await running.stop()
    # A restart keeps the token: the CLI and scrapers configured with it go on working.
    running, config = await _node(tmp_path, "0.0.0.0")
    try:
        assert (config.node.data_dir / "admin-token").read_text().strip() == token
    finally:
        await running.stop()


async def test_on_loopback_no_token_is_needed(smsc_factory: SmscFactory) -> None:
    smsc = await smsc_factory()
    base = f"http://127.0.0.1:{smsc.running.ports['http']}"
    async with httpx.AsyncClient(base_url=base) as client:
        assert (await client.get("/metrics")).status_code == 200


async def test_the_environment_token_wins(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.setenv("OPENSMSC_ADMIN_TOKEN", "from-the-vault")
    running, config = await _node(tmp_path, "0.0.0.0")
    try:
        assert not (config.node.data_dir / "admin-token").exists()
        base = f"http://127.0.0.1:{running.ports['http']}"
        async with httpx.AsyncClient(base_url=base) as client:
            headers = {"Authorization": "Bearer from-the-vault"}
            assert (await client.get("/metrics", headers=headers)).status_code == 200
    finally:
        await running.stop()


async def test_the_cli_finds_the_token_in_the_data_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    running, _ = await _node(tmp_path, "0.0.0.0")
    config_file = tmp_path / "node.toml"
    config_file.write_text(
        f'[node]\ndata_dir = "data"\n[http]\nbind_address = "0.0.0.0"\n'
        f"port = {running.ports['http']}\n"
    )
    try:
        argv = ["policy", "show", "--json", "--url", f"http://127.0.0.1:{running.ports['http']}"]
        assert await asyncio.to_thread(main, argv) == 1  # no token: refused
        assert "Unauthorized" in capsys.readouterr().err
        await asyncio.to_thread(main, [*argv, "--config", str(config_file)])
        # Let in: the node's own answer (this node has no policy file), not a 401.
        assert "No policy file" in capsys.readouterr().err
    finally:
        await running.stop()
