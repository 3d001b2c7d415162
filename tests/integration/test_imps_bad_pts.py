"""Bad PTS over SMS gets the right CSP status (issue 13), through the whole node: each request
goes as a handset's binary SMS to port 3590, the answer comes back to the handset as a Status
primitive. The codes are CSP's (OMA IMPS CSP 1.2 status codes, as AIM's ImpsErrorInfo.java
names them): 501 an unknown transaction code, 400 a broken quoting, 420 a transaction id out of
range, 604 an unknown session, 408 a segment missing when the reassembly time ran out, 600 an
expired session. Afterwards the node is alive and a message sent in the same session still
arrives: nothing was lost.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

import pytest

from opensmsc.cli.imps import run_verb
from opensmsc.imps import Primitive
from tests.integration.imps_node import ALICE_PHONE, BOB_PHONE, Phone, imps_node

pytestmark = pytest.mark.slow


def status(primitive: Primitive) -> int:
    value = primitive.get("ST")
    if isinstance(value, tuple):
        value = value[0]
    assert isinstance(value, str)
    return int(value)


async def answer_to(phone: Phone, text: str, transaction: int, timeout: float = 10.0) -> int:
    """Send `text` as it is; the status of the ST that answers `transaction`."""
    await phone.run(phone.demo.send_text, text)
    found = await phone.wait_for(
        lambda p: p.code == "ST" and p.transaction == transaction, timeout=timeout
    )
    return status(found)


async def test_bad_requests_get_their_csp_status_and_nothing_is_lost(tmp_path: Path) -> None:
    async with imps_node(tmp_path, reassembly_timeout=1.0) as node:
        alice, bob = node.phone(ALICE_PHONE), node.phone(BOB_PHONE)
        assert await alice.login("alice", "alice-pw"), alice.lines()
        assert await bob.login("bob", "bob-pw"), bob.lines()
        si = alice.demo.state.session
        assert si is not None

        assert await answer_to(alice, f"WV12ZZ7 SI={si}", 7) == 501  # unknown code
        assert await answer_to(alice, f'WV12SM8 SI={si} UI=bob MC="no end', 8) == 400  # quoting
        assert await answer_to(alice, f"WV12GP1000 SI={si} UI=bob", 0) == 420  # out of range
        assert await answer_to(alice, "WV12GP9 SI=no-such-session UI=bob", 9) == 604
        # The first of two segments, and never the second: 408 once reassembly gives up.
        assert await answer_to(alice, f"WV12SM10ab SI={si} UI=bob MC=half", 10) == 408

        # The node lives on, and the same session still works: the message arrives.
        stats = await node.call("GET", "/v1/imps")
        assert stats["short_code"] == "3590"
        sent = await alice.exchange(
            "SM", ("UI", "bob"), ("MC", "still here"), ("CT", "text/plain"), ("DR", "F")
        )
        assert sent is not None and sent.code == "MS", alice.lines()
        await bob.wait_for(lambda p: p.code == "NM" and p.text("MC") == "still here")

        # `opensmsc imps raw` fails (exit 1) on an error answer, succeeds on a good one
        def raw(text: str) -> bool:
            return run_verb(alice.demo, argparse.Namespace(imps_verb="raw", text=[text]))

        assert not await alice.run(raw, f"WV12ZZ11 SI={si}")
        assert await alice.run(raw, f"WV12KA12 SI={si}")


async def test_an_expired_session_is_answered_600(tmp_path: Path) -> None:
    async with imps_node(tmp_path, keepalive=1.0, keepalive_grace=0.5) as node:
        alice = node.phone(ALICE_PHONE)
        assert await alice.login("alice", "alice-pw"), alice.lines()
        si = alice.demo.state.session
        await asyncio.sleep(2.5)  # keep-alive 1 s and grace 0.5 s, with room
        assert await answer_to(alice, f"WV12GP12 SI={si} UI=bob", 12) == 600
