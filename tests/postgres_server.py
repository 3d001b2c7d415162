"""The PostgreSQL server the tests use: 127.0.0.1:5432, trust authentication, database `test`
(common rules of the project). `ensure_running` starts the machine's cluster when it is down
and creates the database when it is missing; a test then works in a schema of its own
(`schema_for`), dropped when it is done (`drop_schemas`)."""

from __future__ import annotations

import asyncio
import hashlib
import subprocess
from pathlib import Path
from typing import Final

import asyncpg

DSN: Final = "postgresql://127.0.0.1:5432/test"
_ADMIN_DSN: Final = "postgresql://127.0.0.1:5432/postgres"
_CONF: Final = Path("/etc/postgresql")


def cluster_version() -> str:
    """The Debian cluster's version (the one folder under /etc/postgresql)."""
    versions = sorted(p.name for p in _CONF.iterdir()) if _CONF.is_dir() else []
    if not versions:
        raise RuntimeError("no PostgreSQL cluster in /etc/postgresql (apt install postgresql)")
    return versions[-1]


def pg_ctlcluster(action: str) -> None:
    """`pg_ctlcluster <version> main <action>` (start, stop, restart), without systemd."""
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", cluster_version(), "main", action],
        check=True,
        capture_output=True,
        timeout=120,
    )


async def _reachable(dsn: str) -> bool:
    try:
        conn = await asyncpg.connect(dsn, timeout=5)
    except (OSError, asyncpg.PostgresError, TimeoutError):
        return False
    await conn.close()
    return True


async def ensure_running() -> None:
    """The server is up and database `test` exists (started / created when not)."""
    if await _reachable(DSN):
        return
    if not await _reachable(_ADMIN_DSN):
        await asyncio.to_thread(pg_ctlcluster, "start")
        for _ in range(100):
            if await _reachable(_ADMIN_DSN):
                break
            await asyncio.sleep(0.1)
    conn = await asyncpg.connect(_ADMIN_DSN, timeout=10)
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = 'test'")
        if not exists:
            await conn.execute("CREATE DATABASE test")
    finally:
        await conn.close()


def schema_for(folder: Path) -> str:
    """A test's schema, named from its data folder: opening the same folder again reaches the
    same data, as a reopened SQLite file does."""
    return "t_" + hashlib.sha1(str(folder).encode()).hexdigest()[:20]


async def drop_schemas(schemas: list[str]) -> None:
    if not schemas:
        return
    conn = await asyncpg.connect(DSN, timeout=10)
    try:
        for schema in schemas:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await conn.close()
