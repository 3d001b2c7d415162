"""The log line of an ESME session that ends (issue 16): why, who, from where, how long, and
its counts, for each way a session ends: an unbind, the peer gone, the node stopping, a
timeout, broken framing."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import re
from pathlib import Path

import pytest

from opensmsc import app
from opensmsc.config import loads
from opensmsc.smpp import BindTransceiver, CommandId, CommandStatus, UnbindResp
from tests.conftest import SmppTestClient
from tests.integration.test_admin_ops import PASSWORD, _config, _until, ops_node
from tests.integration.test_admin_status import _raw_esme, _submit

pytestmark = pytest.mark.timeout(60)

LOGGER = "opensmsc.smsc.session"


def _ended(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.getMessage().startswith("session ended")]


async def test_each_way_a_session_ends_is_one_line_with_its_counts(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    async with ops_node(tmp_path) as ops:
        port = ops.running.ports["smpp"]

        unbinding = await _raw_esme(port)
        address = f"127.0.0.1:{unbinding.local_address[1]}"
        for n in range(3):
            assert (await unbinding.request(_submit(n))).status == CommandStatus.ESME_ROK
        # A submit refused: no destination.
        refused = await unbinding.request(dataclasses.replace(_submit(9), destination_addr=""))
        assert refused.status != CommandStatus.ESME_ROK
        await unbinding.unbind()
        await unbinding.close()
        await _until(lambda: len(_ended(caplog)) == 1, "the first line")
        (line,) = _ended(caplog)
        assert re.fullmatch(
            r"session ended session=smpp-\d+ system_id=esme1 mode=transceiver "
            rf"peer={address} reason=unbind duration=\d+\.\ds "
            r"submitted=3 delivered=0 refused=1",
            line,
        ), line

        gone = await _raw_esme(port)
        gone.writer.close()  # no unbind
        await _until(lambda: len(_ended(caplog)) == 2, "the second line")
        assert "reason=peer disconnect" in _ended(caplog)[1]

        broken = await _raw_esme(port)
        await broken.send_raw(b"\x00\x00\x00\x05\x00")  # command_length 5: not SMPP
        await broken.wait_closed(5)
        await broken.close()
        await _until(lambda: len(_ended(caplog)) == 3, "the third line")
        assert "reason=error: the peer broke SMPP framing" in _ended(caplog)[2]

        staying = await _raw_esme(port)
        stopping = asyncio.create_task(ops.running.stop())
        unbind = await staying.expect(CommandId.UNBIND, timeout=10)
        await staying.send(UnbindResp(), unbind.sequence_number)
        await staying.wait_closed(10)
        await staying.close()
        await stopping
        await _until(lambda: len(_ended(caplog)) == 4, "the fourth line")
        assert "reason=server stop (unbind)" in _ended(caplog)[3]


async def test_an_idle_session_ends_with_the_timeout_named(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    text = _config(tmp_path).replace(
        "tls_enabled = false",
        "tls_enabled = false\n        inactivity_timeout = 0.5\n        session_init_timeout = 1",
        1,
    )
    running = await app.start(loads(text))
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", running.ports["smpp"])
        idle = SmppTestClient(reader, writer)
        bound = await idle.request(BindTransceiver(system_id="esme1", password=PASSWORD))
        assert bound.status == CommandStatus.ESME_ROK
        unbind = await idle.expect(CommandId.UNBIND, timeout=10)  # the node gave up on it
        await idle.send(UnbindResp(), unbind.sequence_number)
        await idle.wait_closed(10)
        await idle.close()
        await _until(lambda: len(_ended(caplog)) == 1, "the line")
        assert "reason=timeout: inactivity" in _ended(caplog)[0]
    finally:
        await running.stop()
