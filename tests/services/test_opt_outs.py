"""Opt-out by MO, below the node: the file that keeps opt-outs (routing/opt_outs.py), the text
read from an MO (app/policy.py mo_text), NodePolicy's MO observer (durable first, then in
force; refused when it cannot be written) and MoIngress's observer hook."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from opensmsc.app.policy import NodePolicy, mo_text, policy_engine, standin_router
from opensmsc.engine import MessageIds
from opensmsc.errors import MessageRejected, StoreUnavailable
from opensmsc.routing import OptOutFile
from opensmsc.smpp import CommandStatus, DataSm, DeliverSm, Tag
from opensmsc.smpp.tlv import EMPTY_TLVS
from opensmsc.store import SqliteStore
from opensmsc.upstream import MoIngress
from tests.conftest import make_config

HANDSET = "447700900123"


def mo(text: bytes, *, to: str = "12345", data_coding: int = 0, esm_class: int = 0) -> DeliverSm:
    return DeliverSm(
        source_addr_ton=1,
        source_addr_npi=1,
        source_addr=HANDSET,
        destination_addr=to,
        esm_class=esm_class,
        data_coding=data_coding,
        short_message=text,
    )


async def test_the_file_keeps_pairs_across_reopening(tmp_path: Path) -> None:
    book = OptOutFile.in_folder(tmp_path)
    await book.set((HANDSET, "12345"), True)
    await book.set((HANDSET, "12345"), True)  # twice: one row
    await book.set(("447700900124", "*"), True)
    await book.set(("447700900125", "12345"), False)  # never opted out: nothing to remove
    book.close()
    again = OptOutFile.in_folder(tmp_path)
    assert sorted(again.pairs()) == [(HANDSET, "12345"), ("447700900124", "*")]
    await again.set((HANDSET, "12345"), False)
    assert again.pairs() == [("447700900124", "*")]
    again.close()


def test_an_unopenable_file_is_store_unavailable(tmp_path: Path) -> None:
    with pytest.raises(StoreUnavailable, match="nowhere"):
        OptOutFile(tmp_path / "nowhere" / "opt_outs.sqlite3")


def test_mo_text_reads_each_alphabet_and_skips_a_udh() -> None:
    assert mo_text(mo(b"STOP")) == "STOP"  # GSM 7-bit, unpacked as SMPP carries it
    assert mo_text(mo("stop".encode("utf-16-be"), data_coding=0x08)) == "stop"
    udh = bytes([5, 0, 3, 7, 1, 1])  # concatenation, part 1 of 1
    assert mo_text(mo(udh + b"Stop", esm_class=0x40)) == "Stop"
    assert mo_text(mo(b"STOP", data_coding=0x04)) is None  # 8-bit data is no keyword
    assert mo_text(mo(bytes([9, 0]), esm_class=0x40)) is None  # a UDH longer than the data
    payload = DataSm(
        source_addr=HANDSET,
        destination_addr="12345",
        tlvs=EMPTY_TLVS.with_(Tag.MESSAGE_PAYLOAD, b"START"),
    )
    assert mo_text(payload) == "START"


@pytest.fixture
async def node_policy(tmp_path: Path) -> AsyncIterator[NodePolicy]:
    (tmp_path / "policy.toml").write_text(
        'default_routes = ["loopback"]\n[opt_out]\nshort_codes = ["12345"]\n'
    )
    config = make_config(tmp_path / "data")
    config = dataclasses.replace(
        config,
        routing=dataclasses.replace(config.routing, policy_file=tmp_path / "policy.toml"),
    )
    (tmp_path / "data").mkdir()
    policy = NodePolicy(config, policy_engine(config, router=standin_router(config)))
    await policy.start()
    yield policy
    await policy.stop()


async def test_a_stop_is_durable_before_it_is_in_force(node_policy: NodePolicy) -> None:
    rules = node_policy.rules
    assert rules is not None
    await node_policy.on_mo(mo(b"Stop"))
    assert rules.opted_out(HANDSET, "12345")
    await node_policy.on_mo(mo(b"stop", to="54321"))  # not an opt-out short code
    assert not rules.opted_out(HANDSET, "54321")
    await node_policy.on_mo(mo(b"start"))
    assert not rules.opted_out(HANDSET, "12345")
    # The file cannot be written (closed under it): refused, for the network to retry, and
    # the policy unchanged, so what is in force never runs ahead of what is kept.
    await node_policy.stop()
    with pytest.raises(MessageRejected) as refused:
        await node_policy.on_mo(mo(b"STOP"))
    assert refused.value.status == CommandStatus.ESME_RX_T_APPN
    assert not rules.opted_out(HANDSET, "12345")
    await node_policy.start()  # for the fixture's stop


async def test_mo_ingress_refuses_an_mo_its_observer_could_not_record(tmp_path: Path) -> None:
    store = await SqliteStore.open(tmp_path / "messages.sqlite3")
    seen: list[str] = []

    async def observe(pdu: DeliverSm | DataSm) -> None:
        seen.append(pdu.destination_addr)
        if pdu.destination_addr == "99999":
            raise StoreUnavailable("disk full")

    ingress = MoIngress(
        store,
        prefixes=[("", "esme1"), ("12345", "esme1"), ("99999", "esme1")],
        sessions=list,
        new_id=MessageIds(1).next,
        wake=lambda: None,
        observe=observe,
    )
    try:
        await ingress.on_mo("carrier", mo(b"STOP"))
        with pytest.raises(MessageRejected) as refused:
            await ingress.on_mo("carrier", mo(b"STOP", to="99999"))
        assert refused.value.status == CommandStatus.ESME_RX_T_APPN
        assert seen == ["12345", "99999"]
        assert (ingress.stored, ingress.refused) == (1, 1)
    finally:
        await store.close()
