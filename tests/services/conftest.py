"""Fixtures of the services tests: `engine_factory` opens the store-and-forward engine on
tmp_path (tests/services/engine_harness.py) and closes every engine and store it opened."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from tests.services.engine_harness import Engine, open_engine

EngineFactory = Callable[..., Awaitable[Engine]]


@pytest.fixture
async def engine_factory(tmp_path: Path) -> AsyncIterator[EngineFactory]:
    opened: list[Engine] = []

    async def make(**kwargs: Any) -> Engine:
        engine = await open_engine(tmp_path, **kwargs)
        opened.append(engine)
        return engine

    yield make
    for engine in reversed(opened):
        await engine.close()
        await engine.store.close()


@pytest.fixture
async def engine(engine_factory: EngineFactory) -> Engine:
    return await engine_factory()
