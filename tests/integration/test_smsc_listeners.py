"""The SMSC's listeners end to end: real sockets on 127.0.0.1 (ephemeral ports), real TLS with
the certificate the SMSC generates at start, our own codec on the client side (issue 4, "The
SMSC's listeners")."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import warnings
from pathlib import Path

import pytest

from opensmsc.smpp import (
    BindTransceiver,
    CancelSm,
    CommandId,
    CommandStatus,
    Decoded,
    DistributionList,
    EnquireLink,
    MessageState,
    QuerySm,
    ReplaceSm,
    SmeAddress,
    SubmitMulti,
    SubmitSm,
    Tag,
    UnbindResp,
    encode,
    parse_receipt,
)
from opensmsc.transport import tls
from tests.conftest import ServerClosed, SmppTestClient, SmscFactory, TestSmsc, account

pytestmark = pytest.mark.timeout(30)

_S = CommandStatus
ONE_HOUR_LATER = "000000010000000R"  # a relative schedule_delivery_time (SMPP 3.4 §7.1.1)
MODES = ("tx", "rx", "trx")


SUBMIT = SubmitSm(source_addr="12345", destination_addr="31600000001", short_message=b"hello")


async def submit_many_in_one_write(client: SmppTestClient, count: int) -> dict[int, Decoded]:
    """`count` submit_sm in a single write (so that one read on the server sees them all);
    their responses by sequence_number."""
    sequences = [client.next_sequence() for _ in range(count)]
    await client.send_raw(b"".join(encode(SUBMIT, seq) for seq in sequences))
    answers: dict[int, Decoded] = {}
    for seq in sequences:
        answers[seq] = await client.expect(CommandId.SUBMIT_SM_RESP, sequence_number=seq)
    return answers


def statuses(answers: dict[int, Decoded]) -> dict[int, int]:
    counts: dict[int, int] = {}
    for decoded in answers.values():
        counts[decoded.status] = counts.get(decoded.status, 0) + 1
    return counts


# --------------------------------------------------------------------------- binds


@pytest.mark.parametrize("use_tls", [False, True], ids=["plain", "tls"])
@pytest.mark.parametrize("mode", MODES)
async def test_bind_each_mode_on_each_listener(smsc: TestSmsc, mode: str, use_tls: bool) -> None:
    client = await smsc.connect(tls=use_tls)
    resp = await client.bind(mode, "esme1")
    expected = {
        "tx": CommandId.BIND_TRANSMITTER_RESP,
        "rx": CommandId.BIND_RECEIVER_RESP,
        "trx": CommandId.BIND_TRANSCEIVER_RESP,
    }[mode]
    assert (resp.command_id, resp.status) == (expected, _S.ESME_ROK)
    assert resp.pdu.system_id == "opensmsc"  # type: ignore[attr-defined]
    enquire = await client.request(EnquireLink())
    assert (enquire.command_id, enquire.status) == (CommandId.ENQUIRE_LINK_RESP, 0)


async def test_tls_certificate_is_the_generated_one(smsc: TestSmsc) -> None:
    assert smsc.running.tls_fingerprint == tls.fingerprint(smsc.cert_path.read_bytes())
    client = await smsc.connect(tls=True)
    ssl_object = client.writer.get_extra_info("ssl_object")
    der = ssl_object.getpeercert(binary_form=True)
    assert tls.fingerprint(der) == smsc.running.tls_fingerprint
    assert ssl_object.version() in ("TLSv1.2", "TLSv1.3")


async def test_tls12_client_binds(smsc: TestSmsc) -> None:
    context = smsc.client_tls_context(maximum_version=ssl.TLSVersion.TLSv1_2)
    client = await smsc.connect(context=context)
    assert client.writer.get_extra_info("ssl_object").version() == "TLSv1.2"
    assert (await client.bind("trx")).status == 0


async def test_tls11_client_is_refused(smsc: TestSmsc) -> None:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.set_ciphers("DEFAULT:@SECLEVEL=0")  # OpenSSL 3 offers TLS 1.0/1.1 only at level 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # deprecated: that is the point
        context.minimum_version = ssl.TLSVersion.TLSv1
        context.maximum_version = ssl.TLSVersion.TLSv1_1
    with pytest.raises((ssl.SSLError, ConnectionResetError)):
        await smsc.connect(context=context)
    # The same client allowed TLS 1.2 gets through: it was the version that was refused.
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    client = await smsc.connect(context=context)
    assert (await client.bind("trx")).status == 0


async def test_failed_tls_handshakes_leave_no_session_behind(smsc: TestSmsc) -> None:
    """A TLS handshake that fails (a plaintext client on the TLS port, an old TLS version) never
    becomes a session: nothing of it may stay in the server, and stop() must not wait for it."""
    for _ in range(3):
        reader, writer = await asyncio.open_connection("127.0.0.1", smsc.tls_port)
        writer.write(encode(BindTransceiver(system_id="esme1", password="pw1"), 1))
        await writer.drain()
        await asyncio.wait_for(reader.read(4096), 15)
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
    await asyncio.sleep(0.2)
    assert smsc.running.server.sessions == frozenset()
    loop = asyncio.get_running_loop()
    started = loop.time()
    await smsc.stop()
    assert loop.time() - started < 2.0


async def test_plaintext_bind_on_tls_port_gets_no_smpp_answer(smsc: TestSmsc) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", smsc.tls_port)
    try:
        writer.write(encode(BindTransceiver(system_id="esme1", password="pw1"), 1))
        await writer.drain()
        data = await asyncio.wait_for(reader.read(4096), 15)
        # Whatever comes back (a TLS alert, or nothing before the close) is not an SMPP bind_resp.
        assert data[4:8] != CommandId.BIND_TRANSCEIVER_RESP.to_bytes(4, "big")
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


@pytest.mark.parametrize(
    ("system_id", "password", "mode", "status"),
    [
        ("nobody", "pw1", "trx", _S.ESME_RINVSYSID),
        ("esme1", "wrong", "trx", _S.ESME_RINVPASWD),
        ("txonly", "pwtx", "rx", _S.ESME_RBINDFAIL),
        ("txonly", "pwtx", "trx", _S.ESME_RBINDFAIL),
    ],
    ids=["wrong-system-id", "wrong-password", "rx-not-allowed", "trx-not-allowed"],
)
async def test_refused_bind_status(
    smsc: TestSmsc, system_id: str, password: str, mode: str, status: int
) -> None:
    client = await smsc.connect()
    resp = await client.bind(mode, system_id, password)
    assert resp.status == status
    # Refused, not bound: a submit is out of state, and a correct bind still works.
    assert (await client.submit()).status == _S.ESME_RINVBNDSTS
    assert (await client.bind("tx", "txonly", "pwtx")).status == 0


async def test_allowed_mode_of_restricted_account_binds(smsc: TestSmsc) -> None:
    client = await smsc.bound("tx", "txonly")
    assert (await client.submit()).status == 0


async def test_second_bind_gets_ralybnd(smsc: TestSmsc) -> None:
    client = await smsc.bound("trx")
    assert (await client.bind("trx")).status == _S.ESME_RALYBND


async def test_max_binds_reached_gets_rbindfail(smsc_factory: SmscFactory) -> None:
    smsc = await smsc_factory(accounts=[account("single", "pw", max_binds=1)])
    first = await smsc.bound("trx", "single", password="pw")
    second = await smsc.connect()
    assert (await second.bind("trx", "single", "pw")).status == _S.ESME_RBINDFAIL
    await first.unbind()
    await first.wait_closed()
    await asyncio.sleep(0.05)
    assert (await second.bind("trx", "single", "pw")).status == 0


async def test_submit_on_receiver_gets_rinvbndsts(smsc: TestSmsc) -> None:
    client = await smsc.bound("rx")
    assert (await client.submit()).status == _S.ESME_RINVBNDSTS


# --------------------------------------------------------------------------- mutual TLS


@pytest.fixture
def esme_cert(tmp_path: Path) -> tls.TlsMaterial:
    return tls.ensure_self_signed(tmp_path / "esme-cert", common_name="esme-mtls")


@pytest.fixture
def stranger_cert(tmp_path: Path) -> tls.TlsMaterial:
    return tls.ensure_self_signed(tmp_path / "stranger-cert", common_name="stranger")


@pytest.fixture
async def mtls_smsc(smsc_factory: SmscFactory, esme_cert: tls.TlsMaterial) -> TestSmsc:
    return await smsc_factory(
        server={"tls_ca_file": esme_cert.cert},
        accounts=[
            account("mtls", "pwm", cert_fingerprints=(esme_cert.fingerprint,)),
            account("esme1", "pw1"),
        ],
    )


async def test_mutual_tls_bind_with_the_pinned_certificate(
    mtls_smsc: TestSmsc, esme_cert: tls.TlsMaterial
) -> None:
    context = mtls_smsc.client_tls_context(cert=esme_cert.cert, key=esme_cert.key)
    client = await mtls_smsc.connect(context=context)
    assert (await client.bind("trx", "mtls", "pwm")).status == 0
    assert (await client.submit()).status == 0


async def test_mutual_tls_bind_without_certificate_gets_rbindfail(mtls_smsc: TestSmsc) -> None:
    over_tls = await mtls_smsc.connect(tls=True)
    assert (await over_tls.bind("trx", "mtls", "pwm")).status == _S.ESME_RBINDFAIL
    plain = await mtls_smsc.connect()
    assert (await plain.bind("trx", "mtls", "pwm")).status == _S.ESME_RBINDFAIL
    # An account without pinned certificates still binds over TLS without one.
    assert (await over_tls.bind("trx", "esme1", "pw1")).status == 0


async def test_mutual_tls_right_certificate_wrong_password(
    mtls_smsc: TestSmsc, esme_cert: tls.TlsMaterial
) -> None:
    context = mtls_smsc.client_tls_context(cert=esme_cert.cert, key=esme_cert.key)
    client = await mtls_smsc.connect(context=context)
    assert (await client.bind("trx", "mtls", "nope")).status == _S.ESME_RINVPASWD


async def test_mutual_tls_foreign_certificate_is_refused(
    mtls_smsc: TestSmsc, stranger_cert: tls.TlsMaterial
) -> None:
    context = mtls_smsc.client_tls_context(cert=stranger_cert.cert, key=stranger_cert.key)
    try:
        client = await mtls_smsc.connect(context=context)
        resp = await client.bind("trx", "mtls", "pwm")
    except (ssl.SSLError, ConnectionError, ServerClosed):
        return  # the handshake refused the certificate (TLS 1.3 reports it at the first read)
    assert resp.status == _S.ESME_RBINDFAIL


# --------------------------------------------------------------------------- messages, receipts


def assert_receipt_for(deliver: Decoded, message_id: str) -> None:
    assert deliver.command_id == CommandId.DELIVER_SM
    pdu = deliver.pdu
    assert pdu.esm_class & 0x3C == 0x04  # type: ignore[attr-defined]
    assert pdu.tlvs.get(Tag.RECEIPTED_MESSAGE_ID) == message_id  # type: ignore[attr-defined]
    assert pdu.tlvs.get(Tag.MESSAGE_STATE) == MessageState.DELIVERED  # type: ignore[attr-defined]
    receipt = parse_receipt(pdu.short_message)  # type: ignore[attr-defined]
    assert receipt is not None
    assert receipt.id == message_id
    assert receipt.stat == "DELIVRD"


@pytest.mark.parametrize("use_tls", [False, True], ids=["plain", "tls"])
async def test_submit_gets_message_id_and_receipt_on_same_transceiver(
    smsc: TestSmsc, use_tls: bool
) -> None:
    client = await smsc.bound("trx", tls=use_tls)
    resp = await client.submit(registered_delivery=1)
    assert resp.status == 0
    message_id = resp.pdu.message_id  # type: ignore[attr-defined]
    assert message_id
    assert_receipt_for(await client.expect(CommandId.DELIVER_SM), message_id)


async def test_message_ids_are_unique(smsc: TestSmsc) -> None:
    client = await smsc.bound("trx")
    ids = [(await client.submit()).pdu.message_id for _ in range(50)]  # type: ignore[attr-defined]
    assert len(set(ids)) == 50


async def test_receipt_goes_to_separate_receiver_of_same_account(smsc: TestSmsc) -> None:
    receiver = await smsc.bound("rx", "esme1")
    other_account = await smsc.bound("rx", "esme2")
    transmitter = await smsc.bound("tx", "esme1")
    resp = await transmitter.submit(registered_delivery=1)
    message_id = resp.pdu.message_id  # type: ignore[attr-defined]
    assert_receipt_for(await receiver.expect(CommandId.DELIVER_SM), message_id)
    # Nothing for another account's receiver, nothing on the transmitter.
    with pytest.raises(TimeoutError):
        await other_account.expect(CommandId.DELIVER_SM, timeout=0.3)
    assert not [d for d in transmitter.received if d.command_id == CommandId.DELIVER_SM]


async def test_receipt_waits_until_a_receiver_binds(smsc: TestSmsc) -> None:
    transmitter = await smsc.bound("tx", "esme1")
    resp = await transmitter.submit(registered_delivery=1)
    message_id = resp.pdu.message_id  # type: ignore[attr-defined]
    await asyncio.sleep(0.5)  # delivered (loopback) by now; its receipt has nowhere to go
    receiver = await smsc.bound("rx", "esme1")
    deliver = await receiver.expect(CommandId.DELIVER_SM, timeout=2.0)
    assert_receipt_for(deliver, message_id)


async def test_no_receipt_without_registered_delivery(smsc: TestSmsc) -> None:
    client = await smsc.bound("trx")
    assert (await client.submit(registered_delivery=0)).status == 0
    with pytest.raises(TimeoutError):
        await client.expect(CommandId.DELIVER_SM, timeout=0.5)


async def test_unacknowledged_receipt_is_sent_again_to_next_receiver(smsc: TestSmsc) -> None:
    transmitter = await smsc.bound("tx", "esme1")
    first = await smsc.connect(auto_ack=False)
    assert (await first.bind("rx", "esme1")).status == 0
    resp = await transmitter.submit(registered_delivery=1)
    message_id = resp.pdu.message_id  # type: ignore[attr-defined]
    assert_receipt_for(await first.expect(CommandId.DELIVER_SM), message_id)
    await first.close()  # never answered: the receipt goes back to the queue
    second = await smsc.bound("rx", "esme1")
    assert_receipt_for(await second.expect(CommandId.DELIVER_SM, timeout=3.0), message_id)


async def test_query_sm_of_delivered_and_unknown_message(smsc: TestSmsc) -> None:
    client = await smsc.bound("trx")
    message_id = (await client.submit()).pdu.message_id  # type: ignore[attr-defined]
    await asyncio.sleep(0.1)  # the loopback route delivers on a later turn of the loop
    resp = await client.request(QuerySm(message_id=message_id, source_addr="12345"))
    assert resp.command_id == CommandId.QUERY_SM_RESP
    assert resp.status == 0
    assert resp.pdu.message_id == message_id  # type: ignore[attr-defined]
    assert resp.pdu.message_state == MessageState.DELIVERED  # type: ignore[attr-defined]
    assert resp.pdu.final_date  # type: ignore[attr-defined]
    unknown = await client.request(QuerySm(message_id="ffffffffffffffff", source_addr="12345"))
    assert unknown.status == _S.ESME_RQUERYFAIL


async def test_query_sm_of_another_accounts_message_fails(smsc: TestSmsc) -> None:
    owner = await smsc.bound("trx", "esme1")
    other = await smsc.bound("trx", "esme2")
    message_id = (await owner.submit()).pdu.message_id  # type: ignore[attr-defined]
    resp = await other.request(QuerySm(message_id=message_id, source_addr="12345"))
    assert resp.status == _S.ESME_RQUERYFAIL


async def test_cancel_sm_of_scheduled_and_delivered_messages(smsc: TestSmsc) -> None:
    client = await smsc.bound("trx")
    scheduled = await client.submit(schedule_delivery_time=ONE_HOUR_LATER)
    scheduled_id = scheduled.pdu.message_id  # type: ignore[attr-defined]
    query = await client.request(QuerySm(message_id=scheduled_id, source_addr="12345"))
    assert query.pdu.message_state == MessageState.SCHEDULED  # type: ignore[attr-defined]
    cancel = await client.request(CancelSm(message_id=scheduled_id, source_addr="12345"))
    assert (cancel.command_id, cancel.status) == (CommandId.CANCEL_SM_RESP, 0)
    query = await client.request(QuerySm(message_id=scheduled_id, source_addr="12345"))
    assert query.pdu.message_state == MessageState.DELETED  # type: ignore[attr-defined]
    again = await client.request(CancelSm(message_id=scheduled_id, source_addr="12345"))
    assert again.status == _S.ESME_RCANCELFAIL
    delivered_id = (await client.submit()).pdu.message_id  # type: ignore[attr-defined]
    await asyncio.sleep(0.1)
    late = await client.request(CancelSm(message_id=delivered_id, source_addr="12345"))
    assert late.status == _S.ESME_RCANCELFAIL


async def test_replace_sm_of_scheduled_and_delivered_messages(smsc: TestSmsc) -> None:
    client = await smsc.bound("trx")
    scheduled_id = (await client.submit(schedule_delivery_time=ONE_HOUR_LATER)).pdu.message_id  # type: ignore[attr-defined]
    replace = await client.request(
        ReplaceSm(message_id=scheduled_id, source_addr="12345", short_message=b"replaced")
    )
    assert (replace.command_id, replace.status) == (CommandId.REPLACE_SM_RESP, 0)
    delivered_id = (await client.submit()).pdu.message_id  # type: ignore[attr-defined]
    await asyncio.sleep(0.1)
    late = await client.request(
        ReplaceSm(message_id=delivered_id, source_addr="12345", short_message=b"too late")
    )
    assert late.status == _S.ESME_RREPLACEFAIL
    unknown = await client.request(
        ReplaceSm(message_id="ffffffffffffffff", source_addr="12345", short_message=b"x")
    )
    assert unknown.status == _S.ESME_RREPLACEFAIL


async def test_submit_multi_lists_unsuccessful_destinations(smsc: TestSmsc) -> None:
    client = await smsc.bound("trx")
    pdu = SubmitMulti(
        source_addr="12345",
        dest_address=(
            SmeAddress(dest_addr_ton=1, dest_addr_npi=1, destination_addr="31600000001"),
            SmeAddress(dest_addr_ton=1, dest_addr_npi=1, destination_addr=""),
            DistributionList(dl_name="friends"),
            SmeAddress(dest_addr_ton=1, dest_addr_npi=1, destination_addr="31600000002"),
        ),
        short_message=b"to many",
    )
    resp = await client.request(pdu)
    assert (resp.command_id, resp.status) == (CommandId.SUBMIT_MULTI_RESP, 0)
    assert resp.pdu.message_id  # type: ignore[attr-defined]
    failed = {
        (u.destination_addr, u.error_status_code)
        for u in resp.pdu.unsuccess_sme  # type: ignore[attr-defined]
    }
    assert failed == {("", _S.ESME_RINVDSTADR), ("friends", _S.ESME_RINVDLNAME)}


async def test_submit_multi_with_no_good_destination_fails(smsc: TestSmsc) -> None:
    client = await smsc.bound("trx")
    pdu = SubmitMulti(
        source_addr="12345",
        dest_address=(DistributionList(dl_name="nobody"),),
        short_message=b"x",
    )
    resp = await client.request(pdu)
    assert resp.status == _S.ESME_RSUBMITFAIL


async def test_enquire_link_answered_before_and_after_bind(smsc: TestSmsc) -> None:
    client = await smsc.connect()
    before = await client.request(EnquireLink())
    assert (before.command_id, before.status) == (CommandId.ENQUIRE_LINK_RESP, 0)
    await client.bind("trx")
    after = await client.request(EnquireLink())
    assert (after.command_id, after.status) == (CommandId.ENQUIRE_LINK_RESP, 0)


async def test_unbind_is_answered_then_closed(smsc: TestSmsc) -> None:
    client = await smsc.bound("trx")
    resp = await client.unbind()
    assert (resp.command_id, resp.status) == (CommandId.UNBIND_RESP, 0)
    assert await client.wait_closed(timeout=3.0) == []
    await asyncio.sleep(0.05)
    assert smsc.running.server.sessions == frozenset()
    assert smsc.running.services.authenticator.binds("esme1") == 0


async def test_stop_unbinds_bound_sessions(smsc: TestSmsc) -> None:
    client = await smsc.bound("trx")
    stopping = asyncio.create_task(smsc.running.stop())
    unbind = await client.expect(CommandId.UNBIND, timeout=3.0)
    await client.send(UnbindResp(), unbind.sequence_number)
    await client.wait_closed(timeout=3.0)
    await asyncio.wait_for(stopping, 5.0)


# --------------------------------------------------------------------------- versions


async def test_v33_bind_resp_has_no_tlvs(smsc: TestSmsc) -> None:
    client = await smsc.connect()
    resp = await client.bind("tx", interface_version=0x33)
    assert resp.status == 0
    assert tuple(resp.pdu.tlvs) == ()  # type: ignore[attr-defined]
    submit = await client.submit()
    assert submit.status == 0
    assert tuple(submit.pdu.tlvs) == ()  # type: ignore[attr-defined]


async def test_v33_bind_transceiver_gets_rinvcmdid(smsc: TestSmsc) -> None:
    client = await smsc.connect()
    resp = await client.bind("trx", interface_version=0x33)
    assert (resp.command_id, resp.status) == (CommandId.GENERIC_NACK, _S.ESME_RINVCMDID)


async def test_v34_bind_resp_reports_sc_interface_version(smsc: TestSmsc) -> None:
    client = await smsc.connect()
    resp = await client.bind("trx", interface_version=0x34)
    assert resp.pdu.tlvs.get(Tag.SC_INTERFACE_VERSION) == 0x50  # type: ignore[attr-defined]
    submit = await client.submit()
    assert Tag.CONGESTION_STATE not in submit.pdu.tlvs  # type: ignore[attr-defined]


async def test_v50_gets_sc_interface_version_and_congestion_state(smsc: TestSmsc) -> None:
    client = await smsc.connect()
    resp = await client.bind("trx", interface_version=0x50)
    assert resp.status == 0
    assert resp.pdu.tlvs.get(Tag.SC_INTERFACE_VERSION) == 0x50  # type: ignore[attr-defined]
    submit = await client.submit()
    assert submit.status == 0
    congestion = submit.pdu.tlvs.get(Tag.CONGESTION_STATE)  # type: ignore[attr-defined]
    assert isinstance(congestion, int)
    assert 0 <= congestion <= 100


# --------------------------------------------------------------------------- flow control


async def test_throughput_cap_throttles_beyond_the_rate(smsc_factory: SmscFactory) -> None:
    smsc = await smsc_factory(accounts=[account("slow", "pw", throughput=5.0)])
    client = await smsc.bound("trx", "slow", password="pw")
    first = statuses(await submit_many_in_one_write(client, 10))
    # The bucket starts full with one second's worth (5); the rest is throttled.
    assert first == {0: 5, _S.ESME_RTHROTTLED: 5}
    # The cap is the account's: a second session shares the (now empty) bucket.
    other = await smsc.bound("trx", "slow", password="pw")
    second = statuses(await submit_many_in_one_write(other, 5))
    assert second.get(0, 0) <= 1
    assert second.get(_S.ESME_RTHROTTLED, 0) >= 4
    # Tokens come back at the rate: after 0.5 s about 2.5 of them.
    await asyncio.sleep(0.5)
    later = statuses(await submit_many_in_one_write(client, 10))
    assert 2 <= later.get(0, 0) <= 4
    assert later.get(0, 0) + later.get(_S.ESME_RTHROTTLED, 0) == 10


async def test_throughput_cap_counts_messages_not_pdus(smsc_factory: SmscFactory) -> None:
    # Issue 10 item 24: with a cap of 5 msg/s one burst of submit_multi took 1,270 messages.
    # A submit_multi costs one token per destination: one to 10 destinations is taken when
    # the bucket is full (it then owes 5), the next ones are throttled until it is repaid.
    smsc = await smsc_factory(accounts=[account("slow", "pw", throughput=5.0)])
    client = await smsc.bound("trx", "slow", password="pw")
    multi = SubmitMulti(
        source_addr="12345",
        dest_address=tuple(SmeAddress(destination_addr=f"3160000{n:04d}") for n in range(10)),
        short_message=b"hello",
    )
    sequences = [client.next_sequence() for _ in range(5)]
    await client.send_raw(b"".join(encode(multi, seq) for seq in sequences))
    answers = {
        seq: await client.expect(CommandId.SUBMIT_MULTI_RESP, sequence_number=seq)
        for seq in sequences
    }
    assert statuses(answers) == {0: 1, _S.ESME_RTHROTTLED: 4}
    assert (await client.submit()).status == _S.ESME_RTHROTTLED  # the debt is the account's
    assert smsc.accepted_messages("slow") == 10
    await asyncio.sleep(2.2)  # 10 tokens at 5/s: the debt is repaid, a token is there again
    assert (await client.submit()).status == 0


async def test_window_overflow_gets_rthrottled(smsc: TestSmsc) -> None:
    client = await smsc.bound("trx")
    answers = await submit_many_in_one_write(client, 25)
    # ACCOUNTS have the default window of 10 requests outstanding per session.
    assert statuses(answers) == {0: 10, _S.ESME_RTHROTTLED: 15}
    # The session lives on.
    assert (await client.submit()).status == 0


async def test_window_is_the_accounts_own(smsc_factory: SmscFactory) -> None:
    """AccountConfig.window: "requests (submit_sm) in flight per session before
    ESME_RTHROTTLED". An account with window 3 next to one with window 10 gets 3."""
    smsc = await smsc_factory(
        accounts=[account("narrow", "pw", window=3), account("wide", "pw", window=10)]
    )
    narrow = await smsc.bound("trx", "narrow", password="pw")
    assert statuses(await submit_many_in_one_write(narrow, 8)) == {
        0: 3,
        _S.ESME_RTHROTTLED: 5,
    }
    wide = await smsc.bound("trx", "wide", password="pw")
    assert statuses(await submit_many_in_one_write(wide, 12)) == {0: 10, _S.ESME_RTHROTTLED: 2}


async def test_receipt_text_is_the_messages_text(smsc: TestSmsc) -> None:
    """SMPP 3.4 Appendix B: text is "the first 20 characters of the short message": for a
    UCS-2 message the characters, not its UTF-16 octets; for a concatenated part the text
    after the user data header, not the header's octets."""
    client = await smsc.bound("trx")
    ucs2 = await client.submit(
        registered_delivery=1, data_coding=0x08, short_message="hello world".encode("utf-16-be")
    )
    udh = bytes.fromhex("050003070201")  # concatenated SMS, reference 7, part 1 of 2
    part = await client.submit(registered_delivery=1, esm_class=0x40, short_message=udh + b"hello")
    texts = {}
    for _ in range(2):
        deliver = await client.expect(CommandId.DELIVER_SM)
        receipt = parse_receipt(deliver.pdu.short_message)  # type: ignore[attr-defined]
        assert receipt is not None
        texts[receipt.id] = receipt.text
    assert texts == {
        ucs2.pdu.message_id: "hello world",  # type: ignore[attr-defined]
        part.pdu.message_id: "hello",  # type: ignore[attr-defined]
    }


async def test_a_full_store_is_answered_queue_full_whatever_the_overload_action(
    smsc: TestSmsc, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Issue 10 item 29: a full disk was answered ESME_RSYSERR, which clients read as permanent;
    # then the session turned it into its overload answer (ESME_RTHROTTLED by default). A full
    # store is "come back later": ESME_RMSGQFUL, and no message_id.
    from opensmsc.store import StoreFull

    client = await smsc.bound("trx")
    store = smsc.running.engine.store

    async def full(*args: object, **kwargs: object) -> None:
        raise StoreFull("database or disk is full")

    monkeypatch.setattr(store, "submit_many", full)
    answer = await client.submit()
    assert answer.status == _S.ESME_RMSGQFUL
    monkeypatch.undo()
    assert (await client.submit()).status == 0  # space again: accepted without a restart
