"""`[policyd]` (config/model/policyd.py): defaults, bounds, the token kept out of reprs."""

from __future__ import annotations

import pytest

from opensmsc.config import ConfigError, PolicydConfig, loads


def test_defaults_serve_on_the_loopback_port_3055() -> None:
    config = loads("").policyd
    assert config == PolicydConfig()
    assert (config.enabled, config.bind_address, config.port) == (True, "127.0.0.1", 3055)
    assert (config.max_frame, config.token, config.token_env) == (65_535, None, None)


def test_keys_load() -> None:
    config = loads(
        '[policyd]\nenabled = false\nbind_address = "0.0.0.0"\nport = 13055\n'
        'max_connections = 4\nmax_frame = 1024\nidle_timeout = 0\ntoken = "s3cret"\n'
    ).policyd
    assert config == PolicydConfig(
        enabled=False,
        bind_address="0.0.0.0",
        port=13055,
        max_connections=4,
        max_frame=1024,
        idle_timeout=0.0,
        token="s3cret",
    )
    assert "s3cret" not in repr(config)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("max_frame = 100", "policyd.max_frame: expected an integer from 256 to 16777216"),
        ("port = 70000", "policyd.port: expected a port number"),
        ("max_connections = 0", "policyd.max_connections: expected a positive integer"),
        ('token = ""', "policyd.token: expected a string of 1 to 1024 characters"),
        ('token = "a"\ntoken_env = "B"', "policyd.token_env: give token or token_env, not both"),
        ('token_env = "1B"', "policyd.token_env: expected an environment variable name"),
    ],
)
def test_bad_values_name_file_line_and_key(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        loads(f"[policyd]\n{text}\n", source="opensmsc.toml")
    assert str(raised.value).startswith("opensmsc.toml:")
    assert message in str(raised.value)
