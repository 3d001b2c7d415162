"""`[policy_client]` (config/model/policy_client.py): off by default, the keys and their
defaults (the PSX client's), and bad values named by file, line and key."""

from __future__ import annotations

import pytest

from opensmsc.config import ConfigError, PolicyClientConfig, PolicyServerConfig, loads


def test_off_by_default_with_the_psx_defaults() -> None:
    config = loads("").policy_client
    assert config == PolicyClientConfig()
    assert not config.enabled
    assert (config.transaction_timeout, config.retries, config.keepalive_interval) == (
        0.5,
        1,
        5.0,
    )
    assert config.on_failure == "local"


def test_keys_load() -> None:
    config = loads(
        '[policy_client]\nenabled = true\non_failure = "reject"\ntransaction_timeout = 0.2\n'
        'retries = 0\nkeepalive_interval = 2\ntoken = "s3cret"\n'
        '[[policy_client.servers]]\nhost = "10.0.0.5"\n'
        '[[policy_client.servers]]\nhost = "10.0.0.6"\nport = 13055\nmode = "standby"\n'
    ).policy_client
    assert config.enabled and config.on_failure == "reject"
    assert (config.transaction_timeout, config.retries, config.keepalive_interval) == (
        0.2,
        0,
        2.0,
    )
    assert config.servers == (
        PolicyServerConfig(host="10.0.0.5"),
        PolicyServerConfig(host="10.0.0.6", port=13055, mode="standby"),
    )
    assert "s3cret" not in repr(config)


SERVER = '[[policy_client.servers]]\nhost = "10.0.0.5"\n'


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('on_failure = "drop"', 'policy_client.on_failure: expected one of "local", "reject"'),
        ("retries = 11", "policy_client.retries: expected an integer from 0 to 10"),
        ("transaction_timeout = 0", "policy_client.transaction_timeout: expected a positive"),
        ("enabled = true", "policy_client.servers: needs at least one server in service"),
        ('tls_server_name = "psx"', "policy_client.tls_server_name: is set without tls_enabled"),
        (
            f'{SERVER}mode = "primary"',
            'policy_client.servers[0].mode: expected one of "active", "standby"',
        ),
        (f"{SERVER}port = 0", "policy_client.servers[0].port: expected a port number from 1"),
        (f"{SERVER}{SERVER}", "policy_client.servers[1]: 10.0.0.5:3055 is listed twice"),
    ],
)
def test_bad_values_name_file_line_and_key(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        loads(f"[policy_client]\n{text}\n", source="opensmsc.toml")
    assert str(raised.value).startswith("opensmsc.toml:")
    assert message in str(raised.value)
