"""The IMPS service (issue 13): every primitive and its error paths, two users exchanging
messages and presence, offline delivery, durability across a restart, expiry with a moving clock.

Behaviour is checked against what Android's AIM client does (aosp-mirror/platform_packages_apps_im,
src/com/android/im/imps/): the 4-way login of ImpsConnection.LoginTransaction (401 + NO nonce
+ DI schema, then DB = base64(H(nonce + password)) as StandardPasswordDigest computes it),
ImpsSession's CP/SQ, the PR shapes PtsPrimitiveParser reads.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from opensmsc.imps import Channel, ImpsSettings, ImpsStateError, InvalidUser, User
from opensmsc.imps.cir import encode_helo
from opensmsc.imps.pts import Primitive, encode, split
from tests.services.imps_harness import World, status

A, B, C = "+447700900001", "+447700900002", "+447700900003"


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    made = World(tmp_path / "imps.sqlite3")
    made.service.add_user("alice", A, "secret")
    made.service.add_user("bob", B, "secret")
    yield made
    made.state.close()


def two_online(world: World) -> tuple[str, str]:
    return world.login("alice", A), world.login("bob", B)


# ---- login ----------------------------------------------------------------------------------


def test_password_login_answers_rl_with_session_keepalive_and_capability_request(
    world: World,
) -> None:
    rl = world.answer(A, "LR", ("UI", "alice"), ("PW", "secret"), ("TL", "305"))
    assert rl.code == "RL" and rl.transaction == 7
    assert [name for name, _ in rl.params] == ["ST", "SI", "KA", "CR"]
    assert rl.text("ST") == "200" and rl.text("KA") == "305" and rl.text("CR") == "T"
    assert world.service.users() == [User("alice", A, True), User("bob", B, False)]


def test_keepalive_is_never_longer_than_ours(world: World) -> None:
    rl = world.answer(A, "LR", ("UI", "alice"), ("PW", "secret"), ("TL", "99999"))
    assert rl.text("KA") == "600"


def test_wrong_password_gets_409_and_unknown_user_531(world: World) -> None:
    assert status(world.answer(A, "LR", ("UI", "alice"), ("PW", "nope"))) == 409
    assert status(world.answer(C, "LR", ("UI", "carol"), ("PW", "x"))) == 531
    assert world.service.stats().sessions == 0


def test_self_registration_creates_the_user_for_that_msisdn(tmp_path: Path) -> None:
    world = World(tmp_path / "s.sqlite3", settings=ImpsSettings(allow_self_registration=True))
    try:
        world.login("Carol", C, "pw")
        assert world.service.users() == [User("carol", C, True)]
        # one user per handset: a second id from it is not created (nor from A, provisioned)
        world.service.add_user("alice", A, "secret")
        assert status(world.answer(C, "LR", ("UI", "carol2"), ("PW", "pw"))) == 531
        assert status(world.answer(A.lstrip("+"), "LR", ("UI", "mallory"), ("PW", "x"))) == 531
        assert [u.user_id for u in world.service.users()] == ["alice", "carol"]
    finally:
        world.state.close()


def test_a_user_id_with_control_characters_is_never_created(tmp_path: Path) -> None:
    # it would reach log lines and other users' handsets as it is (an ESC sequence, a NUL)
    world = World(tmp_path / "s.sqlite3", settings=ImpsSettings(allow_self_registration=True))
    try:
        for odd in ("caro\x1bl", "nul\x00", "del\x7f", "c1\x9b31m"):
            assert status(world.answer(C, "LR", ("UI", odd), ("PW", "pw"))) == 531
            with pytest.raises(InvalidUser):
                world.service.add_user(odd, C, "pw")
        assert world.service.users() == []
        world.login("ĉarol·ü", C, "pw")  # any printable character, though
        assert [u.user_id for u in world.service.users()] == ["ĉarol·ü"]
    finally:
        world.state.close()


def _aim_digest(schema: str, nonce: str, password: str) -> str:
    # AIM StandardPasswordDigest: "SHA" is SHA-1; nonce + password in ISO-8859-1; base64
    name = "sha1" if schema == "SHA" else "md5"
    data = (nonce + password).encode("latin-1")
    return base64.b64encode(hashlib.new(name, data).digest()).decode()


@pytest.mark.parametrize("schema", ["MD5", "SHA"])
def test_four_way_digest_login(world: World, schema: str) -> None:
    first = world.answer(A, "LR", ("UI", "alice"), ("SH", schema), ("SC", "cookie1"))
    assert first.code == "RL" and status(first) == 401 and first.get("SI") is None
    nonce = first.text("NO")
    assert nonce and first.text("DI") == schema
    digest = _aim_digest(schema, nonce, "secret")
    second = world.answer(A, "LR", ("UI", "alice"), ("DB", digest), ("SC", "cookie1"))
    assert status(second) == 200 and second.text("SI")


def test_digest_login_as_aim_writes_it_with_one_sh_per_schema(world: World) -> None:
    # AIM's Login-Request offers each schema as its own SH= element: SH=SHA SH=MD5
    first = world.answer(A, "LR", ("UI", "alice"), ("SH", "SHA"), ("SH", "MD5"))
    assert status(first) == 401 and first.text("DI") == "SHA"
    nonce = first.text("NO")
    assert nonce
    second = world.answer(A, "LR", ("UI", "alice"), ("DB", _aim_digest("SHA", nonce, "secret")))
    assert status(second) == 200 and second.text("SI")


def test_digest_login_with_a_wrong_digest_gets_409_and_no_nonce_twice(world: World) -> None:
    first = world.answer(A, "LR", ("UI", "alice"))
    nonce = first.text("NO")
    assert nonce and first.text("DI") == "MD5"  # no SH offered: our first schema
    wrong = _aim_digest("MD5", nonce, "guess")
    assert status(world.answer(A, "LR", ("UI", "alice"), ("DB", wrong))) == 409
    # the nonce was used: a replay of the right digest is challenged again, not accepted
    right = _aim_digest("MD5", nonce, "secret")
    again = world.answer(A, "LR", ("UI", "alice"), ("DB", right))
    assert status(again) == 401 and again.text("NO") != nonce


def test_digest_login_with_no_common_schema_gets_543(world: World) -> None:
    assert status(world.answer(A, "LR", ("UI", "alice"), ("SH", "SHA-512"))) == 543


def test_second_login_ends_the_first_and_disconnects_the_other_handset(world: World) -> None:
    old = world.login("alice", A)
    new = world.login("alice", C)
    di = world.data(A)
    assert [p.code for p in di] == ["DI"] and di[0].session_id == old and status(di[0]) == 601
    assert status(world.answer(A, "KA", ("SI", old))) == 604
    assert world.answer(C, "KA", ("SI", new)).code == "AK"


# ---- sessions and bad PTS -------------------------------------------------------------------


def test_requests_need_a_live_session_of_that_handset(world: World) -> None:
    session = world.login("alice", A)
    assert status(world.answer(A, "GL")) == 604
    assert status(world.answer(A, "GL", ("SI", "nosuch"))) == 604
    refused = world.answer(B, "GL", ("SI", session))  # another handset with alice's SI
    assert status(refused) == 604 and refused.transaction == 7


def test_an_expired_session_gets_600_with_or_without_tick(world: World) -> None:
    first = world.login("alice", A)
    world.clock.advance(600 + 60 + 1)
    assert status(world.answer(A, "GL", ("SI", first))) == 600
    second = world.login("alice", A)
    world.clock.advance(661)
    world.service.tick()
    assert world.service.stats().sessions == 0
    assert status(world.answer(A, "GL", ("SI", second))) == 600


def test_activity_keeps_a_session_alive(world: World) -> None:
    session = world.login("alice", A)
    for _ in range(5):
        world.clock.advance(500)
        assert world.answer(A, "KA", ("SI", session)).text("KA") == "600"
        world.service.tick()
    assert world.service.stats().sessions == 1


@pytest.mark.parametrize(
    ("text", "code", "transaction"),
    [
        ("WV12ZZ5 SI=abc", 501, 5),  # unknown transaction code
        ('WV12SM5 SI=abc MC="broken', 400, 5),  # quoting never closed
        ("WV12GL1000", 420, 0),  # transaction out of range
        ("hello there", 400, 0),  # not PTS at all
        ("WV99GL5", 505, 5),  # unknown version
    ],
)
def test_bad_pts_is_answered_with_its_status(
    world: World, text: str, code: int, transaction: int
) -> None:
    out = world.send(A, text)
    assert [p.code for p in out] == ["ST"] and status(out[0]) == code
    assert out[0].transaction == transaction


def test_bad_pts_answer_carries_the_session_id_when_readable(world: World) -> None:
    session = world.login("alice", A)
    out = world.send(A, f'WV12SM9 SI={session} MC="unterminated')
    assert out[0].session_id == session and out[0].transaction == 9 and status(out[0]) == 400


def test_bytes_that_are_not_utf8_get_400(world: World) -> None:
    world.service.on_data(A, b"WV12GL1 \xff\xfe", mo_id="m1")
    out = world.data(A)
    assert [p.code for p in out] == ["ST"] and status(out[0]) == 400


def test_a_parameter_of_the_wrong_shape_gets_402(world: World) -> None:
    session = world.login("alice", A)
    refused = world.answer(A, "SM", ("SI", session), ("UI", "bob"), ("MC", ("a", "b")))
    assert status(refused) == 402 and refused.session_id == session


def test_a_server_code_from_a_client_gets_400_and_ca_501(world: World) -> None:
    session = world.login("alice", A)
    assert status(world.answer(A, "PN", ("SI", session))) == 400
    assert status(world.answer(A, "CA", ("SI", session))) == 501


def test_a_client_status_is_not_answered(world: World) -> None:
    session = world.login("alice", A)
    assert world.request(A, "ST", ("SI", session), ("ST", "200")) == []


# ---- negotiation, keep-alive, logout --------------------------------------------------------


def test_capabilities_agree_delivery_method_and_sms_cir(world: World) -> None:
    session = world.login("alice", A)
    # AIM ImpsSession.buildCapabilityRequest, as PtsPrimitiveSerializer writes it
    caps = (("CT", "MP"), ("PS", "262144"), ("MT", "1"), ("ID", "N"), ("SB", "SMS"), ("SC", "SS"))
    pc = world.answer(A, "CP", ("SI", session), ("CA", caps))
    assert pc.code == "PC" and pc.get("AP") == (("ID", "N"), ("SC", "SS"))
    pc = world.answer(A, "CP", ("SI", session), ("CA", (("CT", "MP"),)))
    assert pc.get("AP") == (("ID", "P"),)


def test_service_request_lists_what_we_support(world: World) -> None:
    session = world.login("alice", A)
    qs = world.answer(A, "SQ", ("SI", session), ("RF", ("FF", "PF", "IF", "GE")), ("AR", "T"))
    assert qs.code == "QS" and qs.get("AF") == ("FF", "PF", "IF") and qs.get("NF") == ("GE",)


def test_keepalive_and_logout(world: World) -> None:
    session = world.login("alice", A)
    assert world.answer(A, "KA", ("SI", session), ("KA", "120")).text("KA") == "120"
    world.clock.advance(181)  # 120 + 60 grace
    world.service.tick()
    assert world.service.stats().sessions == 0
    session = world.login("alice", A)
    done = world.answer(A, "OR", ("SI", session))
    assert done.code == "ST" and status(done) == 200
    assert world.service.users()[0].online is False
    assert status(world.answer(A, "GL", ("SI", session))) == 604


# ---- contact lists --------------------------------------------------------------------------


def test_contact_lists_create_get_manage_delete(world: World) -> None:
    session = world.login("alice", A)
    assert world.answer(A, "GL", ("SI", session)).params == (("SI", session),)
    created = world.answer(
        A,
        "CL",
        ("SI", session),
        ("CL", "wv:alice/friends"),
        ("UN", (("Bobby", "wv:bob"), ("", "carol"))),
        ("CP", (("DN", "My friends"),)),
    )
    assert status(created) == 200
    assert status(world.answer(A, "CL", ("SI", session), ("CL", "wv:alice/friends"))) == 701
    world.answer(A, "CL", ("SI", session), ("CL", "work"))
    lg = world.answer(A, "GL", ("SI", session))
    assert lg.get("CL") == ("work", "wv:alice/friends") and lg.get("DL") == "wv:alice/friends"
    ml = world.answer(
        A,
        "LM",
        ("SI", session),
        ("CL", "wv:alice/friends"),
        ("AN", (("Dan", "dan"),)),
        ("RN", (("", "carol"),)),
        ("CP", (("DE", "F"),)),
        ("RL", "T"),
    )
    assert ml.code == "ML"
    assert ml.get("UN") == (("Bobby", "bob"), ("Dan", "dan"))
    assert ml.get("CP") == (("DN", "My friends"), ("DE", "F"))
    assert status(world.answer(A, "DL", ("SI", session), ("CL", "work"))) == 200
    assert status(world.answer(A, "DL", ("SI", session), ("CL", "work"))) == 700
    assert status(world.answer(A, "LM", ("SI", session), ("CL", "work"))) == 700
    assert status(world.answer(A, "CL", ("SI", session))) == 402
    bad = world.answer(A, "LM", ("SI", session), ("CL", "wv:alice/friends"), ("CP", (("XX", "1"),)))
    assert status(bad) == 752


# ---- presence -------------------------------------------------------------------------------


def test_presence_update_get_subscribe_and_notifications(world: World) -> None:
    alice, bob = two_online(world)
    # AIM writes UpdatePresence as UV=((attr,qualifier,value),...)
    update = world.answer(
        B, "UP", ("SI", bob), ("UV", (("UA", "T", "AV"), ("ST", "T", "at lunch")))
    )
    assert status(update) == 200
    pg = world.answer(A, "GP", ("SI", alice), ("UI", "bob"))
    assert pg.code == "PG"
    assert pg.get("PR") == (
        "bob",
        (("OS", "T", "T"), ("ST", "T", "at lunch"), ("UA", "T", "AV")),
    )
    only = world.answer(A, "GP", ("SI", alice), ("UI", ("bob", "alice", "nobody")), ("PS", "UA"))
    assert only.get("PR") == (("bob", (("UA", "T", "AV"),)), ("alice",))
    assert status(world.answer(A, "GP", ("SI", alice), ("UI", "nobody"))) == 531

    sb = world.request(A, "SB", ("SI", alice), ("UI", "bob"))
    assert [p.code for p in sb] == ["ST", "PN"]  # the current values follow the subscription
    assert sb[1].get("PR") == pg.get("PR") and sb[1].session_id == alice
    world.answer(B, "UP", ("SI", bob), ("UV", (("UA", "T", "NA"),)))
    pn = world.data(A)
    assert [p.code for p in pn] == ["PN"] and pn[0].get("PR") == ("bob", (("UA", "T", "NA"),))
    world.answer(B, "OR", ("SI", bob))
    assert world.data(A)[0].get("PR") == ("bob", (("OS", "T", "F"),))
    world.login("bob", B)
    assert world.data(A)[0].get("PR") == ("bob", (("OS", "T", "T"),))


def test_presence_of_a_contact_list_and_unknown_attributes(world: World) -> None:
    alice, bob = two_online(world)
    world.answer(A, "CL", ("SI", alice), ("CL", "friends"), ("UN", (("", "bob"),)))
    pg = world.answer(A, "GP", ("SI", alice), ("CL", "friends"), ("PS", "OS"))
    assert pg.get("PR") == ("bob", (("OS", "T", "T"),))
    assert status(world.answer(B, "UP", ("SI", bob), ("UV", (("ZZ", "T", "1"),)))) == 750
    assert status(world.answer(A, "SB", ("SI", alice), ("CL", "nolist"))) == 700


def test_a_user_who_blocked_you_shows_no_presence(world: World) -> None:
    alice, bob = two_online(world)
    world.answer(B, "UP", ("SI", bob), ("UV", (("UA", "T", "AV"),)))
    world.request(A, "SB", ("SI", alice), ("UI", "bob"))
    world.answer(B, "BE", ("SI", bob), ("AB", "alice"))
    assert world.answer(A, "GP", ("SI", alice), ("UI", "bob")).get("PR") == ("bob",)
    world.answer(B, "UP", ("SI", bob), ("UV", (("UA", "T", "NA"),)))
    assert world.data(A) == []  # no notification either


# ---- blocking -------------------------------------------------------------------------------


def test_block_list_and_a_blocked_sender_gets_532(world: World) -> None:
    alice, bob = two_online(world)
    assert world.answer(B, "GB", ("SI", bob)).params == (("SI", bob),)
    assert status(world.answer(B, "BE", ("SI", bob), ("AB", ("wv:Alice", "+447700900009")))) == 200
    assert world.answer(B, "GB", ("SI", bob)).get("BL") == ("447700900009", "alice")
    sm = world.answer(A, "SM", ("SI", alice), ("UI", "bob"), ("MC", "hi"))
    assert sm.code == "ST" and status(sm) == 532
    assert world.data(B) == []
    world.answer(B, "BE", ("SI", bob), ("RB", "alice"))
    assert status(world.answer(A, "SM", ("SI", alice), ("UI", "bob"), ("MC", "hi"))) == 200
    assert [p.code for p in world.data(B)] == ["NM"]
    assert status(world.answer(B, "BE", ("SI", bob))) == 402


# ---- messaging ------------------------------------------------------------------------------


def test_two_users_exchange_messages_with_a_delivery_report(world: World) -> None:
    alice, bob = two_online(world)
    ms = world.answer(A, "SM", ("SI", alice), ("UI", "wv:bob"), ("MC", "héllo 👋"), ("DR", "T"))
    assert ms.code == "MS" and status(ms) == 200 and ms.transaction == 7
    message_id = ms.text("MI")
    [nm] = world.data(B)
    assert nm.code == "NM" and nm.session_id == bob
    assert nm.text("MI") == message_id and nm.text("SU") == "alice"
    assert nm.text("MC") == "héllo 👋" and nm.text("CT") == "text/plain"
    assert nm.text("DT") == "20270115T080000Z"
    assert world.service.stats().pending_messages == 1
    ack = world.answer(B, "MA", ("SI", bob), ("MI", message_id))
    assert status(ack) == 200 and world.service.stats().pending_messages == 0
    [dr] = world.data(A)
    assert dr.code == "DR" and dr.text("MI") == message_id and status(dr) == 200
    assert dr.text("UI") == "bob"
    assert status(world.answer(B, "MA", ("SI", bob), ("MI", message_id))) == 426
    # and back, without a report
    back = world.answer(B, "SM", ("SI", bob), ("UI", "alice"), ("MC", "hi!"))
    [nm] = world.data(A)
    assert nm.text("MI") == back.text("MI") and nm.text("SU") == "bob"
    world.answer(A, "MA", ("SI", alice), ("MI", nm.text("MI") or ""))
    assert world.data(B) == []


def test_server_transactions_count_per_session(world: World) -> None:
    alice, _ = two_online(world)
    ids = []
    for n in range(3):
        world.answer(A, "SM", ("SI", alice), ("UI", "bob"), ("MC", f"m{n}"))
        ids.append(world.data(B)[0].transaction)
    assert ids == [1, 2, 3]


def test_messages_wait_for_an_offline_user_and_go_at_login(world: World) -> None:
    alice = world.login("alice", A)
    sent = [
        world.answer(A, "SM", ("SI", alice), ("UI", "bob"), ("MC", text)).text("MI")
        for text in ("one", "two")
    ]
    assert world.data(B) == []
    world.clock.advance(3600)
    world.answer(A, "KA", ("SI", alice))
    rl, *pushed = world.request(B, "LR", ("UI", "bob"), ("PW", "secret"))
    assert rl.code == "RL"
    assert [(p.code, p.text("MI"), p.text("MC")) for p in pushed] == [
        ("NM", sent[0], "one"),
        ("NM", sent[1], "two"),
    ]


def test_notify_get_with_cir_then_poll(world: World) -> None:
    alice = world.login("alice", A)
    rl = world.answer(B, "LR", ("UI", "bob"), ("PW", "secret"), ("SC", "Cookie42"))
    bob = rl.text("SI") or ""
    world.answer(B, "CP", ("SI", bob), ("CA", (("ID", "N"), ("SC", "SS"))))
    world.service.on_cir(B, encode_helo(bob), mo_id="helo1")
    world.answer(A, "SM", ("SI", alice), ("UI", "bob"), ("MC", "wake up"))
    world.answer(A, "SM", ("SI", alice), ("UI", "bob"), ("MC", "again"))
    rows = world.drain()
    wakeups = [row for row in rows if row.msisdn == B]
    assert [(r.channel, r.body) for r in wakeups] == [(Channel.CIR, "WVCI 1.2 Cookie42")]
    polled = world.request(B, "PO", ("SI", bob), transaction=0)
    assert [p.text("MC") for p in polled] == ["wake up", "again"]
    assert [p.code for p in world.request(B, "PO", ("SI", bob), transaction=0)] == ["ST"]
    # no poll after the wake-up: it is sent again after cir_retry
    world.answer(A, "SM", ("SI", alice), ("UI", "bob"), ("MC", "3"))
    assert [r.channel for r in world.drain() if r.msisdn == B] == [Channel.CIR]
    world.clock.advance(301)
    world.answer(B, "KA", ("SI", bob))
    world.service.tick()
    assert [r.channel for r in world.drain() if r.msisdn == B] == [Channel.CIR]


def test_cir_helo_only_registers_a_live_session_of_that_handset(world: World) -> None:
    alice, bob = two_online(world)
    world.answer(B, "CP", ("SI", bob), ("CA", (("ID", "N"),)))
    world.service.on_cir(A, encode_helo(bob), mo_id="h1")  # alice's handset, bob's session
    world.service.on_cir(B, encode_helo("nosuch"), mo_id="h2")
    world.service.on_cir(B, b"\x00\x01garbage", mo_id="h3")
    world.answer(A, "SM", ("SI", alice), ("UI", "bob"), ("MC", "x"))
    assert world.drain(B) == []  # nothing registered: no wake-up, the message waits for PO
    world.service.on_cir(B, encode_helo(bob), mo_id="h4")
    assert [row.channel for row in world.drain(B)] == [Channel.CIR]  # it waited: wake at once


def test_notify_get_without_cir_keeps_messages_for_polling(world: World) -> None:
    alice, bob = two_online(world)
    world.answer(B, "CP", ("SI", bob), ("CA", (("ID", "N"),)))
    world.answer(A, "SM", ("SI", alice), ("UI", "bob"), ("MC", "poll me"))
    assert world.drain() == []
    polled = world.request(B, "PO", ("SI", bob), transaction=0)
    assert [(p.code, p.text("MC")) for p in polled] == [("NM", "poll me")]


def test_unknown_recipient_531_and_missing_content_402(world: World) -> None:
    alice = world.login("alice", A)
    assert status(world.answer(A, "SM", ("SI", alice), ("UI", "nobody"), ("MC", "x"))) == 531
    assert status(world.answer(A, "SM", ("SI", alice), ("UI", "bob"))) == 402
    assert status(world.answer(A, "MA", ("SI", alice))) == 402


def test_a_full_queue_gets_507(tmp_path: Path) -> None:
    world = World(tmp_path / "q.sqlite3", settings=ImpsSettings(max_pending_per_user=2))
    try:
        world.service.add_user("alice", A, "secret")
        world.service.add_user("bob", B, "secret")
        alice = world.login("alice", A)
        codes = [
            status(world.answer(A, "SM", ("SI", alice), ("UI", "bob"), ("MC", str(n))))
            for n in range(3)
        ]
        assert codes == [200, 200, 507]
    finally:
        world.state.close()


def test_an_unacknowledged_message_expires_with_a_542_report(world: World) -> None:
    alice = world.login("alice", A)
    mi = world.answer(A, "SM", ("SI", alice), ("UI", "bob"), ("MC", "x"), ("DR", "T")).text("MI")
    world.clock.advance(7 * 86400 + 1)
    world.service.tick()
    assert world.service.stats().pending_messages == 0
    # the old session expired too: the report waited for the next login
    rl, *reports = world.request(A, "LR", ("UI", "alice"), ("PW", "secret"))
    assert rl.code == "RL"
    assert [(p.text("MI"), status(p)) for p in reports] == [(mi, 542)]


def test_a_long_message_arrives_in_segments_and_goes_out_whole(world: World) -> None:
    alice, _ = two_online(world)
    content = "Grüße aus Köln 🎉 " * 30
    text = encode(Primitive("SM", 12, (("SI", alice), ("UI", "bob"), ("MC", content))))
    pieces = split(text)
    assert len(pieces) > 3
    for piece in pieces[:-1]:
        assert world.send(A, piece) == []
    assert world.state.segments()  # held durably while incomplete
    ms = world.send(A, pieces[-1])
    assert [p.code for p in ms] == ["MS"] and ms[0].transaction == 12
    assert world.state.segments() == []
    [nm] = world.data(B)
    assert nm.text("MC") == content


def test_content_too_long_for_26_segments_gets_402(world: World) -> None:
    alice, _ = two_online(world)
    sm = world.answer(A, "SM", ("SI", alice), ("UI", "bob"), ("MC", "x" * 3300))
    assert status(sm) == 402 and world.data(B) == []


def test_a_message_accepted_is_one_that_fits_26_sms_beside_the_port_header(world: World) -> None:
    # The binding sends one PTS segment per SMS of SEGMENT_OCTETS (140 less the 7-octet port
    # UDH). The check at SM must use that figure: with 134 a message near the limit was
    # accepted, its NM then could not be split and was dropped at every push.
    from opensmsc.imps import SEGMENT_OCTETS

    alice, bob = two_online(world)
    for _ in range(199):  # three-digit transaction ids, repeated in every segment
        world.state.next_transaction(bob)
    accepted = 0
    for length in range(2900, 3300, 3):
        sm = world.answer(A, "SM", ("SI", alice), ("UI", "bob"), ("MC", "x" * length))
        pushed = [row.body for row in world.drain(B)]
        if status(sm) == 402:
            assert pushed == []
            continue
        accepted += 1
        [nm] = pushed
        assert len(split(nm, SEGMENT_OCTETS)) <= 26  # raises when it cannot be sent
    assert 0 < accepted < len(range(2900, 3300, 3))


def test_lists_are_bounded_and_a_refused_change_keeps_nothing(tmp_path: Path) -> None:
    small = ImpsSettings(max_contact_lists=2, max_contacts_per_list=3, max_blocked=2)
    world = World(tmp_path / "b.sqlite3", settings=small)
    try:
        world.service.add_user("alice", A, "secret")
        alice = world.login("alice", A)
        for name in ("one", "two"):
            assert status(world.answer(A, "CL", ("SI", alice), ("CL", name))) == 200
        assert status(world.answer(A, "CL", ("SI", alice), ("CL", "three"))) == 753
        add = ("AN", (("", "b1"), ("", "b2"), ("", "b3"), ("", "b4")))
        assert status(world.answer(A, "LM", ("SI", alice), ("CL", "one"), add)) == 754
        listed = world.answer(A, "LM", ("SI", alice), ("CL", "one"))
        assert listed.code == "ML" and listed.get("UN") is None  # nothing of the four kept
        block = ("AB", ("x1", "x2", "x3"))
        assert status(world.answer(A, "BE", ("SI", alice), block)) == 754
        assert world.answer(A, "GB", ("SI", alice)).get("BL") is None
    finally:
        world.state.close()


def test_an_answer_too_long_for_26_sms_is_refused_432_and_undone(tmp_path: Path) -> None:
    roomy = ImpsSettings(max_contacts_per_list=1000)
    world = World(tmp_path / "r.sqlite3", settings=roomy)
    try:
        world.service.add_user("alice", A, "secret")
        alice = world.login("alice", A)
        assert status(world.answer(A, "CL", ("SI", alice), ("CL", "big"))) == 200
        # each request fits in 26 segments; the ML listing all of them would not
        for batch in range(8):
            names = tuple(("", f"user-with-a-long-name-{batch}-{n}") for n in range(25))
            answer = world.answer(A, "LM", ("SI", alice), ("CL", "big"), ("AN", names))
            if answer.code == "ST":
                break
            assert answer.code == "ML"
        else:
            raise AssertionError("the contact list never outgrew 26 SMS")
        assert status(answer) == 432 and batch > 0
        listed = world.answer(A, "GL", ("SI", alice))  # the session still works
        assert listed.code == "LG"
        # the refused batch was undone: removing one of the kept contacts lists the rest
        remove = ("RN", (("", "user-with-a-long-name-0-0"),))
        kept = world.answer(A, "LM", ("SI", alice), ("CL", "big"), remove)
        assert kept.code == "ML" and len(kept.items("UN")) == 25 * batch - 1
    finally:
        world.state.close()


def test_a_missing_segment_is_answered_408_after_the_timeout(world: World) -> None:
    alice = world.login("alice", A)
    text = encode(Primitive("SM", 44, (("SI", alice), ("UI", "bob"), ("MC", "y" * 300))))
    world.send(A, split(text)[0])
    world.clock.advance(121)
    world.service.tick()
    [st] = world.data(A)
    assert st.code == "ST" and st.transaction == 44 and status(st) == 408
    assert world.state.segments() == []


# ---- the plain SMS bridge -------------------------------------------------------------------


def test_a_message_to_a_plain_handset_and_its_reply(world: World) -> None:
    alice = world.login("alice", A)
    ms = world.answer(A, "SM", ("SI", alice), ("UI", C), ("MC", "are you there?"))
    assert status(ms) == 200
    rows = world.drain()
    assert [(r.msisdn, r.channel, r.body) for r in rows] == [
        (C, Channel.PLAIN, "alice: are you there?")
    ]
    world.service.on_plain(C.lstrip("+"), "yes 😀", mo_id="p1")
    [nm] = world.data(A)
    assert nm.code == "NM" and nm.text("SU") == "447700900003" and nm.text("MC") == "yes 😀"
    world.service.on_plain("+447700900099", "who?", mo_id="p2")  # no conversation: dropped
    assert world.drain() == []


def test_an_msisdn_with_a_session_gets_the_message_in_imps(world: World) -> None:
    alice, bob = two_online(world)
    world.answer(A, "SM", ("SI", alice), ("UI", B.lstrip("+")), ("MC", "hi"))
    [nm] = world.data(B)
    assert nm.code == "NM" and nm.session_id == bob


# ---- durability and exactly-once ------------------------------------------------------------


def test_state_survives_a_restart(world: World) -> None:
    alice = world.login("alice", A)
    world.answer(A, "CL", ("SI", alice), ("CL", "friends"), ("UN", (("B", "bob"),)))
    mi = world.answer(A, "SM", ("SI", alice), ("UI", "bob"), ("MC", "kept")).text("MI")
    world.restart()
    assert world.service.users() == [User("alice", A, True), User("bob", B, False)]
    ml = world.answer(A, "LM", ("SI", alice), ("CL", "friends"))
    assert ml.get("UN") == (("B", "bob"),)
    _, nm = world.request(B, "LR", ("UI", "bob"), ("PW", "secret"))
    assert nm.text("MI") == mi and nm.text("MC") == "kept"


def test_a_redelivered_mo_is_ignored_even_after_a_restart(world: World) -> None:
    alice = world.login("alice", A)
    sm = encode(Primitive("SM", 3, (("SI", alice), ("UI", "bob"), ("MC", "once"))))
    assert len(world.send(A, sm, mo_id="dup")) == 1
    world.restart()
    assert world.send(A, sm, mo_id="dup") == []
    assert world.service.stats().pending_messages == 1
    world.service.on_plain(C, "x", mo_id="dup")  # one id space for every entry point
    assert world.drain() == []


def test_processed_mo_ids_are_forgotten_after_the_retention(world: World) -> None:
    world.send(A, "WV12GL1", mo_id="old")
    world.clock.advance(7 * 86400 + 1)
    world.service.tick()
    assert [p.code for p in world.send(A, "WV12GL1", mo_id="old")] == ["ST"]


def test_segments_survive_a_restart(world: World) -> None:
    alice, _ = two_online(world)
    text = encode(Primitive("SM", 8, (("SI", alice), ("UI", "bob"), ("MC", "z" * 200))))
    first, second = split(text)
    world.send(A, first)
    world.restart()
    assert [p.code for p in world.send(A, second)] == ["MS"]


def test_nothing_is_kept_when_the_state_cannot_be_written(world: World) -> None:
    world.login("alice", A)
    world.state.close()
    with pytest.raises(ImpsStateError):
        world.service.on_data(A, b"WV12GL1", mo_id="lost")
    world.open()
    assert [p.code for p in world.send(A, "WV12GL1", mo_id="lost")] == ["ST"]  # not seen


# ---- administration -------------------------------------------------------------------------


def test_add_and_remove_users(world: World) -> None:
    with pytest.raises(InvalidUser):
        world.service.add_user("has space", A, "x")
    with pytest.raises(InvalidUser):
        world.service.add_user("carol", "not-a-number", "x")
    world.service.add_user("WV:Carol", C, "pw")
    session = world.login("carol", C, "pw")
    assert world.service.remove_user("carol") is True
    [di] = world.data(C)
    assert di.code == "DI" and di.session_id == session
    assert world.service.remove_user("carol") is False
    assert status(world.answer(C, "LR", ("UI", "carol"), ("PW", "pw"))) == 531


def test_stats_count_sessions_messages_and_outbox(world: World) -> None:
    alice = world.login("alice", A)
    world.answer(A, "SM", ("SI", alice), ("UI", "bob"), ("MC", "x"))
    world.request(A, "KA", ("SI", alice))
    world.service.on_data(A, encode(Primitive("KA", 9, (("SI", alice),))).encode(), mo_id="k")
    stats = world.service.stats()
    assert (stats.sessions, stats.pending_messages, stats.outbox) == (1, 1, 1)


def test_transaction_counter_wraps_after_999(world: World) -> None:
    session = world.login("alice", A)
    seen = [world.state.next_transaction(session) for _ in range(1000)]
    assert seen[0] == 1 and seen[998] == 999 and seen[999] == 1


def test_an_unusable_session_cookie_gets_402_and_leaves_the_live_session(world: World) -> None:
    session = world.login("alice", A)
    refused = world.answer(C, "LR", ("UI", "alice"), ("PW", "secret"), ("SC", "a b"))
    assert status(refused) == 402 and world.data(A) == []
    assert world.answer(A, "KA", ("SI", session)).code == "AK"


def test_a_client_status_with_a_bad_session_is_not_answered(world: World) -> None:
    assert world.request(A, "ST", ("SI", "nosuch"), ("ST", "200")) == []


def test_notifications_for_a_client_that_never_polls_are_bounded(tmp_path: Path) -> None:
    world = World(tmp_path / "n.sqlite3", settings=ImpsSettings(max_pending_per_user=3))
    try:
        world.service.add_user("alice", A, "secret")
        world.service.add_user("bob", B, "secret")
        alice, bob = world.login("alice", A), world.login("bob", B)
        world.answer(A, "CP", ("SI", alice), ("CA", (("ID", "N"),)))
        world.request(A, "SB", ("SI", alice), ("UI", "bob"))
        for n in range(5):
            world.answer(B, "UP", ("SI", bob), ("UV", (("ST", "T", f"s{n}"),)))
        polled = world.request(A, "PO", ("SI", alice), transaction=0)
        assert [p.get("PR") for p in polled] == [
            ("bob", (("ST", "T", f"s{n}"),)) for n in (2, 3, 4)
        ]
    finally:
        world.state.close()


def test_one_message_to_several_recipients(world: World) -> None:
    world.service.add_user("carol", C, "secret")
    alice, _ = two_online(world)
    ms = world.answer(A, "SM", ("SI", alice), ("UI", ("bob", "carol", "wv:BOB")), ("MC", "all"))
    [nm] = world.data(B)
    assert nm.text("MI") == ms.text("MI")
    _, nm = world.request(C, "LR", ("UI", "carol"), ("PW", "secret"))
    assert nm.text("MI") == ms.text("MI") and nm.text("MC") == "all"


def test_version_discovery_is_answered_in_our_version(world: World) -> None:
    rl = world.send(A, "WVXXLR1 UI=alice PW=secret")[0]
    assert rl.code == "RL" and rl.version == "12" and status(rl) == 200
    rl = world.send(B, "WV13LR2 UI=bob PW=secret")[0]
    assert rl.version == "13"


def test_logging_in_again_on_the_same_handset_sends_no_disconnect(world: World) -> None:
    first = world.login("alice", A)
    second = world.login("alice", A)
    assert first != second and world.data(A) == []
    assert status(world.answer(A, "KA", ("SI", first))) == 604


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=st.one_of(st.text(max_size=200), st.from_regex(r"WV1[123][A-Z]{2}[0-9]{1,4}( .*)?")))
def test_any_text_is_answered_by_at_most_one_primitive_never_an_exception(
    world: World, text: str
) -> None:
    out = world.send(A, text)
    assert len(out) <= 1
    assert all(p.code in {"ST", "RL"} for p in out)


# ---- the operator's log ---------------------------------------------------------------------


def test_each_session_start_and_end_is_one_log_line_and_each_refusal_says_why(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="opensmsc.imps")

    def lines(word: str) -> list[str]:
        return [r.getMessage() for r in caplog.records if word in r.getMessage()]

    first = world.login("alice", A)
    world.login("alice", A)  # replaces the first: it ends, on its own line
    second = world.login("bob", B)
    world.answer(B, "OR", ("SI", second))
    third = world.login("bob", B)
    world.clock.advance(661)
    world.service.tick()
    assert len(lines("imps login ")) == 4
    ended = lines("imps session ended")
    assert [line.rsplit("reason=", 1)[1] for line in ended] == [
        "replaced",
        "logout",
        "expired",
        "expired",
    ]
    assert f"session={first}" in ended[0] and f"session={third}" in " ".join(ended[2:])
    # a refusal names the handset, the transaction, the status and why, the peer's text escaped
    world.answer(A, "LR", ("UI", "alice"), ("PW", "wrong"))
    world.send(A, 'WV12GL9 SI="\n')
    refused = lines("imps request refused")
    assert "transaction=7 status=409" in refused[0] and A.lstrip("+") in refused[0]
    assert "status=400" in refused[1] and "\n" not in refused[1]
