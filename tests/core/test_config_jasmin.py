"""The keys of the drop-in Jasmin endpoints: `[api] jasmin_compat` and an account's
`mo_style`."""

from __future__ import annotations

import pytest

from opensmsc.config import ConfigError, loads


def _account(keys: str) -> str:
    return f"""
[[accounts]]
system_id = "a"
password_hash = "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo"
{keys}
"""


def test_on_by_default_and_switched_off_per_listener() -> None:
    assert loads("").api.jasmin_compat is True
    assert loads("[api]\njasmin_compat = false").api.jasmin_compat is False


@pytest.mark.parametrize(
    "style", ["jasmin", "jasmin;method=POST", "jasmin;method=get;connector=smsc-1"]
)
def test_mo_styles_accepted(style: str) -> None:
    (account,) = loads(_account(f'mo_style = "{style}"')).accounts
    assert account.mo_style == style


@pytest.mark.parametrize(
    ("style", "reason"),
    [
        ("kannel", "unknown style 'kannel'; expected jasmin"),
        ("jasmin;method=PUT", "'method=PUT': expected method=GET, method=POST or connector=NAME"),
        ("jasmin;level=2", "'level=2': expected method=GET"),
    ],
)
def test_bad_mo_styles_are_named(style: str, reason: str) -> None:
    with pytest.raises(ConfigError, match=r"accounts\[0\]\.mo_style: ") as refused:
        loads(_account(f'mo_style = "{style}"'), source="inline")
    assert reason in str(refused.value)
