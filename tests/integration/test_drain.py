"""SIGTERM on a real node (`opensmsc run`) while ESMEs pipeline submit_sm: the drain.

What an operator is promised (docs/operations.md, Signals): every submit the node received is
answered (a message_id, or ESME_RTHROTTLED once draining: a temporary error the ESME retries),
every message answered with a message_id is in the store, the ESMEs are unbound, and the
process exits with status 0 within `[node] drain_timeout`.
"""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

import pytest

from opensmsc.smpp import CommandId, CommandStatus, Decoded, UnbindResp
from opensmsc.store import SqliteStore
from tests.durability.esme import CrashSession, Ledger
from tests.durability.procs import (
    HOST,
    SmscProcess,
    SmscSettings,
    cheap_hash,
    config_toml,
    free_port,
)

pytestmark = pytest.mark.timeout(120)

DRAIN = 4.0  # seconds: [node] drain_timeout of the node under test
SESSIONS = 3


class PoliteSession(CrashSession):
    """Answers the node's unbind and then reads on until the node closes: an answer that
    crosses the unbind on the wire is still seen (CrashSession closes at once)."""

    unbound = False

    def fill(self) -> None:
        if not self.unbound:
            super().fill()

    def on_pdu(self, decoded: Decoded) -> None:
        if decoded.command_id == CommandId.UNBIND:
            self.unbound = True
            self.send(UnbindResp(), decoded.sequence_number)
            return
        super().on_pdu(decoded)


async def _pipeline(ledger: Ledger, index: int, port: int) -> PoliteSession:
    loop = asyncio.get_running_loop()
    _, session = await loop.create_connection(
        lambda: PoliteSession(ledger, index, "esme", "pw", window=50, rate=3000), HOST, port
    )
    assert await asyncio.wait_for(asyncio.shield(session.bound), 10)
    return session


async def _keep_filling(session: PoliteSession) -> None:
    while session.is_open:
        session.fill()
        await asyncio.sleep(0.005)


async def test_sigterm_answers_everything_keeps_everything_and_exits_0(tmp_path: Path) -> None:
    port = free_port()
    data = tmp_path / "data"
    settings = SmscSettings(
        data_dir=data,
        port=port,
        system_id="esme",
        password_hash=cheap_hash("pw"),
        client_window=50,
        deliver_window=10,
    )
    text = (
        config_toml(settings)
        .replace('level = "warning"', 'level = "info"')
        .replace(f'data_dir = "{data}"', f'data_dir = "{data}"\ndrain_timeout = {DRAIN}', 1)
    )
    config = tmp_path / "smsc.toml"
    config.write_text(text)
    node = SmscProcess(config, port, tmp_path / "smsc.log")
    try:
        await node.start()
        ledger = Ledger()
        sessions = [await _pipeline(ledger, i, port) for i in range(SESSIONS)]
        fillers = [asyncio.create_task(_keep_filling(s)) for s in sessions]
        deadline = time.monotonic() + 30
        while len(ledger.accepted) < 500 and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        assert len(ledger.accepted) >= 500, node.log_tail()
        proc = node.proc
        assert proc is not None
        started = time.monotonic()
        started_wall = time.time()
        proc.send_signal(signal.SIGTERM)  # while every session has submits in flight
        code = await asyncio.to_thread(proc.wait, 30)
        took = time.monotonic() - started
        node.proc = None
        await asyncio.wait_for(asyncio.gather(*(s.closed for s in sessions)), 10)
        await asyncio.gather(*fillers)
        log = node.log_tail(20_000)
        assert code == 0, log
        assert took < DRAIN + 3.0, f"the drain took {took:.1f} s\n{log}"
        # Every submit sent got an answer, and the node unbound every session.
        late = {n: ledger.sent_at[n] - started_wall for n in ledger.unanswered}
        assert not ledger.unanswered, f"{late} unanswered\n{log}"
        assert all(s.unbound for s in sessions)
        refusals = set(ledger.refused.values())
        assert refusals <= {CommandStatus.ESME_RTHROTTLED}, refusals
        assert len(ledger.accepted) + len(ledger.refused) == len(ledger.sent_at)
    finally:
        node.close()
    # Every message answered with a message_id is in the store.
    store = await SqliteStore.open(data / "messages.sqlite3")
    try:
        missing = [m for m in ledger.accepted.values() if await store.get(m) is None]
    finally:
        await store.close()
    assert not missing, f"{len(missing)} acknowledged messages not stored, e.g. {missing[:3]}"
