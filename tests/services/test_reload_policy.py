"""SIGHUP's Reloader (app/reload.py) reloads the routing policy after the configuration file,
whatever that file held, and a policy with errors neither stops it nor escapes it."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from opensmsc.accounts import Authenticator
from opensmsc.app.reload import Reloader
from opensmsc.config import Config, ConfigError
from opensmsc.routing import PolicyFileError


def error(message: str) -> ConfigError:
    return ConfigError(message, path="policy.toml", line=3, key="rule[0].routes")


@pytest.mark.parametrize("config_valid", [True, False])
async def test_the_policy_is_reloaded_whatever_the_configuration_file_held(
    tmp_path: Path, config_valid: bool
) -> None:
    config = Config()
    calls: list[str] = []

    async def reload_policy() -> None:
        calls.append("policy")

    reloader = Reloader(
        config,
        read=lambda: config if config_valid else [error("bad")],
        authenticator=Authenticator([], clock=time.monotonic),
        reload_policy=reload_policy,
    )
    assert await reloader.reload() is config_valid
    assert calls == ["policy"]


async def test_a_bad_policy_is_logged_there_and_does_not_escape(tmp_path: Path) -> None:
    config = Config()

    async def reload_policy() -> None:
        raise PolicyFileError([error("no such route")])

    reloader = Reloader(
        config,
        read=lambda: config,
        authenticator=Authenticator([], clock=time.monotonic),
        reload_policy=reload_policy,
    )
    assert await reloader.reload() is True  # the configuration file itself was fine
