"""IMPS reached from an ESME (issue 13, "The binding"): a submit_sm with the destination_port
TLV 3590 (SMPP 3.4 §5.3.2.5) is stored as the ESME's message and the Router hands it to the IMPS
service instead of the network; the answer goes, as IMPS's own MT, to the number the ESME wrote
as source_addr (a handset of the simulated network here). And a port-3590 message that IMPS
itself sends is never taken back into IMPS: it reaches the handset."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from opensmsc.smpp import Tag, Tlvs
from tests.conftest import HOST, SmppTestClient
from tests.integration.imps_node import ALICE_PHONE, SHORT_CODE, imps_node

pytestmark = pytest.mark.slow


async def test_submit_sm_with_destination_port_3590_reaches_imps(tmp_path: Path) -> None:
    async with imps_node(tmp_path) as node:
        reader, writer = await asyncio.open_connection(HOST, node.running.ports["smpp"])
        esme = SmppTestClient(reader, writer)
        try:
            assert (await esme.bind("trx", "esme1", "pw1")).status == 0
            login = b"WV12LR41 UI=alice PW=alice-pw CI=" + ALICE_PHONE.encode()
            resp = await esme.submit(
                source_addr=ALICE_PHONE.lstrip("+"),
                source_addr_ton=1,
                source_addr_npi=1,
                destination_addr=SHORT_CODE,
                data_coding=0x04,
                short_message=login,
                tlvs=Tlvs(((Tag.SOURCE_PORT, 3590), (Tag.DESTINATION_PORT, 3590))),
            )
            assert resp.status == 0
            # The login answer (RL, transaction 41) arrives on Alice's handset, port 3590.
            phone = node.phone(ALICE_PHONE)
            answer = await phone.wait_for(lambda p: p.code == "RL" and p.transaction == 41)
            assert answer.get("ST") in ("200", ("200",)) or "200" in repr(answer.get("ST"))
            route = node.running.imps.route if node.running.imps else None
            assert route is not None and route.received == 1
            # IMPS's own answer went to the handset, not back into IMPS.
            assert route.sent >= 1
        finally:
            writer.close()
