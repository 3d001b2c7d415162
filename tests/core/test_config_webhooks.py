"""The webhook keys of the configuration: an account's webhook_url and webhook_secret, and the
[api] retry settings."""

from __future__ import annotations

import re

import pytest

from opensmsc.config import ConfigError, loads

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # 24 octets


def _account(keys: str) -> str:
    return f"""
[[accounts]]
system_id = "a"
password_hash = "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo"
{keys}
"""


def test_webhook_keys_load_and_the_secret_stays_out_of_repr() -> None:
    config = loads(_account(f'webhook_url = "https://h.example/x"\nwebhook_secret = "{SECRET}"'))
    (account,) = config.accounts
    assert account.webhook_url == "https://h.example/x"
    assert account.webhook_secret == SECRET
    assert SECRET not in repr(account)
    assert config.api.webhook_retry_for == 86_400 and config.api.webhook_backoff == 5


@pytest.mark.parametrize(
    ("keys", "where"),
    [
        ('webhook_url = "ftp://h/x"', "accounts[0].webhook_url"),
        ('webhook_secret = "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"', "accounts[0].webhook_secret"),
        ('webhook_secret = "whsec_not base64!"', "accounts[0].webhook_secret"),
        ('webhook_secret = "whsec_c2hvcnQ="', "accounts[0].webhook_secret"),  # 5 octets
    ],
)
def test_bad_webhook_keys_are_named(keys: str, where: str) -> None:
    with pytest.raises(ConfigError, match=rf"{re.escape(where)}: expected"):
        loads(_account(keys), source="inline")


def test_webhook_backoff_must_be_positive() -> None:
    with pytest.raises(ConfigError, match=r"api.webhook_backoff: expected a positive"):
        loads("[api]\nwebhook_backoff = 0", source="inline")


def test_a_refused_webhook_secret_is_not_repeated_in_the_error() -> None:
    secret = "whsec_c2hvcnQ="  # 5 octets: refused
    with pytest.raises(ConfigError) as refused:
        loads(_account(f'webhook_secret = "{secret}"'), source="inline")
    assert "accounts[0].webhook_secret: expected" in str(refused.value)
    assert secret not in str(refused.value) and "c2hvcnQ" not in str(refused.value)
