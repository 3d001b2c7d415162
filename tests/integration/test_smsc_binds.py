"""Failed binds against a real SMSC (issue 10, items 11, 21, 26, 27): how fast a refusal is
answered, what it costs the server, what it writes in the log, and that honest clients bind
and submit meanwhile."""

from __future__ import annotations

import asyncio
import logging

import pytest

from opensmsc.smpp import CommandStatus
from tests.conftest import SmppTestClient, SmscFactory, TestSmsc, account, cheap_password_hash

pytestmark = pytest.mark.timeout(60)

_S = CommandStatus


def cheap_accounts() -> list[object]:
    """esme1/pw1 and esme2/pw2 with the cheapest argon2 parameters."""
    return [
        account("esme1", "pw1", password_hash=cheap_password_hash("pw1")),
        account("esme2", "pw2", password_hash=cheap_password_hash("pw2")),
    ]


async def timed_bind(
    client: SmppTestClient, password: str, system_id: str = "esme1", timeout: float = 5.0
) -> tuple[int, float]:
    loop = asyncio.get_running_loop()
    started = loop.time()
    resp = await client.bind("trx", system_id, password, timeout=timeout)
    return resp.status, loop.time() - started


# --------------------------------------------------------------------------- item 27


async def test_bind_failure_delay_zero_turns_the_delay_off(smsc_factory: SmscFactory) -> None:
    """Issue 10 item 27: with bind_failure_delay = 0 the 67th wrong bind waited 30 s."""
    smsc: TestSmsc = await smsc_factory(
        server={"bind_failure_delay": 0.0, "bind_failure_max_delay": 30.0},
        accounts=cheap_accounts(),
    )
    client = await smsc.connect()
    slowest = 0.0
    for attempt in range(80):
        status, elapsed = await timed_bind(client, f"bad{attempt}", timeout=2.0)
        assert status == _S.ESME_RINVPASWD
        slowest = max(slowest, elapsed)
    assert slowest < 0.5, slowest


# --------------------------------------------------------------------------- item 26


FORGED = "x\nINFO bound session=smpp-9 system_id=admin\x1b[2J\u202e"


@pytest.mark.parametrize("system_id", ["esme1", FORGED], ids=["known", "forged"])
async def test_refused_bind_cannot_forge_log_lines(
    smsc_factory: SmscFactory, caplog: pytest.LogCaptureFixture, system_id: str
) -> None:
    """Issue 10 item 26: the "bind refused" line wrote the raw system_id."""
    smsc = await smsc_factory(accounts=cheap_accounts())
    client = await smsc.connect()
    password = "s3cr#t!"
    with caplog.at_level(logging.DEBUG, logger="opensmsc"):
        status, _ = await timed_bind(client, password, system_id=system_id[:15])
    assert status in (_S.ESME_RINVSYSID, _S.ESME_RINVPASWD)
    lines = [record.getMessage() for record in caplog.records]
    assert any("bind refused" in line for line in lines), lines
    for line in lines:
        assert line.isascii() and line.isprintable(), repr(line)
        assert password not in line


# --------------------------------------------------------------------------- item 11


@pytest.fixture
async def default_delay_smsc(smsc_factory: SmscFactory) -> TestSmsc:
    """The production bind-failure delays (1 s doubling up to 30 s), cheap hashes."""
    return await smsc_factory(
        server={"bind_failure_delay": 1.0, "bind_failure_max_delay": 30.0},
        accounts=cheap_accounts(),
    )


async def test_first_wrong_binds_are_answered_before_a_2s_client_timeout(
    default_delay_smsc: TestSmsc,
) -> None:
    """Issue 10 item 11: after three mistakes the refusal came after the client's timeout."""
    client = await default_delay_smsc.connect()
    for attempt in range(3):
        status, elapsed = await timed_bind(client, f"typo{attempt}", timeout=2.0)
        assert status == _S.ESME_RINVPASWD
        assert elapsed < 0.5, (attempt, elapsed)


async def test_one_failing_esme_behind_a_nat_does_not_slow_another(
    default_delay_smsc: TestSmsc,
) -> None:
    """Issue 10 item 11: the penalty was per source address, across all accounts."""
    smsc = default_delay_smsc
    bad = await smsc.connect()
    for attempt in range(4):  # the 4th waits bind_failure_delay: the pair is being slowed
        status, _ = await timed_bind(bad, f"bad{attempt}", timeout=3.0)
        assert status == _S.ESME_RINVPASWD
    neighbour = await smsc.connect()  # the same address, another account
    status, elapsed = await timed_bind(neighbour, "typo", system_id="esme2", timeout=2.0)
    assert status == _S.ESME_RINVPASWD
    assert elapsed < 0.5
    status, elapsed = await timed_bind(neighbour, "pw2", system_id="esme2", timeout=2.0)
    assert status == 0
    assert elapsed < 0.5


async def test_each_failed_bind_is_logged_once(
    smsc_factory: SmscFactory, caplog: pytest.LogCaptureFixture
) -> None:
    smsc = await smsc_factory(accounts=cheap_accounts())
    client = await smsc.connect()
    with caplog.at_level(logging.DEBUG, logger="opensmsc"):
        for system_id, password in (("esme1", "wrong"), ("nobody", "x")):
            status, _ = await timed_bind(client, password, system_id=system_id)
            assert status != 0
    refusals = [r.getMessage() for r in caplog.records if "bind refused" in r.getMessage()]
    assert len(refusals) == 2, refusals
    assert all("session=smpp-" in line for line in refusals), refusals
