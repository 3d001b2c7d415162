"""IMPS over SMS end to end (issue 13): a real node (app.start, ephemeral ports) with `[imps]`,
the simulated network's handsets driven by the demo phone of `opensmsc imps` through the admin
API, PTS over binary SMS to port 3590 and back through the store and forward path.

Two users log in over SMS, add each other as contacts, subscribe to each other's presence, see
a presence change pushed, exchange messages both ways (one SMS, and many PTS segments with
non-ASCII text and emoji); one logs out and gets its messages at the next login; a message to a
handset without IMPS goes as a plain SMS and its reply comes back into the conversation.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from opensmsc.imps import Primitive, Status
from tests.integration.imps_node import (
    ALICE_PHONE,
    BOB_PHONE,
    PLAIN_PHONE,
    SHORT_CODE,
    imps_node,
)

pytestmark = pytest.mark.slow


def status_of(primitive: Primitive | None) -> int | None:
    assert primitive is not None, "no answer"
    value = primitive.get("ST")
    if isinstance(value, tuple):
        value = value[0]
    return int(value) if isinstance(value, str) else None


def new_message(text: str, sender: str | None = None) -> object:
    def match(p: Primitive) -> bool:
        return (
            p.code == "NM"
            and p.text("MC") == text
            and (sender is None or (p.text("SU") or "").lstrip("+") == sender.lstrip("+"))
        )

    return match


async def test_two_users_chat_and_see_each_others_presence(tmp_path: Path) -> None:
    async with imps_node(tmp_path) as node:
        alice, bob = node.phone(ALICE_PHONE), node.phone(BOB_PHONE)
        assert await alice.login("alice", "alice-pw"), alice.lines()
        assert await bob.login("bob", "bob-pw"), bob.lines()
        assert alice.demo.state.session and bob.demo.state.session
        assert alice.demo.state.session != bob.demo.state.session

        # Contacts, both ways, then presence subscriptions.
        assert await alice.run(_verb, alice, "contacts", "add", "bob"), alice.lines()
        assert await bob.run(_verb, bob, "contacts", "add", "alice"), bob.lines()
        assert await alice.run(_verb, alice, "subscribe", "bob"), alice.lines()
        assert await bob.run(_verb, bob, "subscribe", "alice"), bob.lines()

        # Bob goes away: Alice is told (PresenceNotification pushed to her handset).
        assert await bob.run(_verb, bob, "presence", "--set", "away", "--text", "In a meeting ☕")
        notified = await alice.wait_for(
            lambda p: p.code == "PN" and "In a meeting ☕" in repr(p.params)
        )
        assert "bob" in repr(notified.get("PR"))
        # And Alice asks for it herself (GetPresence).
        answer = await alice.exchange("GP", ("UI", "bob"))
        assert answer is not None and answer.code == "PG", alice.lines()
        assert "In a meeting ☕" in repr(answer.params)

        # A short message, Alice to Bob: one SMS each way.
        sent = await alice.exchange(
            "SM", ("UI", "bob"), ("MC", "hi Bob"), ("CT", "text/plain"), ("DR", "F")
        )
        assert sent is not None and sent.code == "MS" and status_of(sent) == Status.SUCCESSFUL
        await bob.wait_for(new_message("hi Bob", "alice"))

        # A long one back, Bob to Alice: many PTS segments, non-ASCII and emoji.
        long_text = "Grüße aus Köln — 你好 😀🎉 " * 12
        sent = await bob.exchange(
            "SM", ("UI", "alice"), ("MC", long_text), ("CT", "text/plain"), ("DR", "F")
        )
        assert sent is not None and status_of(sent) == Status.SUCCESSFUL, bob.lines()
        await alice.wait_for(new_message(long_text, "bob"))
        route = node.running.imps.route if node.running.imps else None
        assert route is not None and route.received >= 10 and route.sent >= 10

        # The admin API sees both sessions.
        users = await node.call("GET", "/v1/imps/users")
        online = {u["user_id"]: u["online"] for u in users["users"]}
        assert online == {"alice": True, "bob": True}


async def test_a_user_offline_gets_its_messages_at_next_login(tmp_path: Path) -> None:
    async with imps_node(tmp_path) as node:
        alice, bob = node.phone(ALICE_PHONE), node.phone(BOB_PHONE)
        assert await alice.login("alice", "alice-pw")
        assert await bob.login("bob", "bob-pw")
        assert await bob.run(_verb, bob, "logout")
        assert bob.demo.state.session is None

        texts = ["while you were out", "and another: ñ ü 👋"]
        for text in texts:
            sent = await alice.exchange(
                "SM", ("UI", "bob"), ("MC", text), ("CT", "text/plain"), ("DR", "F")
            )
            assert sent is not None and status_of(sent) in (200, 201), alice.lines()
        assert not [p for p in await bob.read_for(1.0) if p.code == "NM"], bob.lines()

        assert await bob.login("bob", "bob-pw"), bob.lines()
        for text in texts:
            await bob.wait_for(new_message(text, "alice"))
        # Each is acknowledged (MA) by the phone: none comes a second time.
        before = sum(1 for p in bob.demo.received if p.code == "NM")
        await bob.run(_verb, bob, "poll")
        assert sum(1 for p in bob.demo.received if p.code == "NM") == before


async def test_a_message_to_a_plain_handset_and_its_reply(tmp_path: Path) -> None:
    async with imps_node(tmp_path) as node:
        alice = node.phone(ALICE_PHONE)
        assert await alice.login("alice", "alice-pw")
        sent = await alice.exchange(
            "SM", ("UI", PLAIN_PHONE), ("MC", "Dinner at 8?"), ("CT", "text/plain"), ("DR", "F")
        )
        assert sent is not None and status_of(sent) in (200, 201), alice.lines()

        # The plain handset gets an ordinary SMS (no port) from the short code.
        inbox_path = f"/v1/network/handsets/{PLAIN_PHONE}/inbox"
        for _ in range(100):
            inbox = await node.call("GET", inbox_path)
            if inbox["messages"]:
                break
            await alice.read_for(0.1)
        [message] = inbox["messages"]
        assert message["port"] is None and message["originator"].endswith(SHORT_CODE)
        assert "Dinner at 8?" in message["text"]

        # Its reply, an ordinary SMS to the short code, comes back into the conversation.
        await node.call(
            "POST",
            f"/v1/network/handsets/{PLAIN_PHONE}/mo",
            {"to": SHORT_CODE, "text": "Yes! See you 🍝"},
        )
        await alice.wait_for(new_message("Yes! See you 🍝", PLAIN_PHONE))
        # GSM 7-bit this time (the first was UCS-2): decoded as the handset wrote it.
        await node.call(
            "POST",
            f"/v1/network/handsets/{PLAIN_PHONE}/mo",
            {"to": SHORT_CODE, "text": "ok, 8pm it is @ Luigi's"},
        )
        await alice.wait_for(new_message("ok, 8pm it is @ Luigi's", PLAIN_PHONE))


async def test_admin_api_users_and_stats(tmp_path: Path) -> None:
    from opensmsc.cli.network import NodeError

    async with imps_node(tmp_path) as node:
        stats = await node.call("GET", "/v1/imps")
        assert stats["short_code"] == SHORT_CODE
        listed = await node.call("GET", "/v1/imps/users")
        assert {u["user_id"] for u in listed["users"]} == {"alice", "bob"}

        added = await node.call(
            "POST",
            "/v1/imps/users",
            {"user_id": "carol", "msisdn": "+447700900004", "password": "c"},
        )
        assert added["user_id"] == "carol" and added["online"] is False
        with pytest.raises(NodeError) as taken:
            await node.call(
                "POST",
                "/v1/imps/users",
                {"user_id": "carol", "msisdn": "+447700900005", "password": "c"},
            )
        assert taken.value.status == 409
        with pytest.raises(NodeError) as same_handset:  # one user per handset
            await node.call(
                "POST",
                "/v1/imps/users",
                {"user_id": "dan", "msisdn": "+447700900004", "password": "d"},
            )
        assert same_handset.value.status == 409 and "carol" in str(same_handset.value)
        for bad in (
            {"user_id": "has space", "msisdn": "+447700900006", "password": "x"},
            {"user_id": "dave", "msisdn": "not-a-number", "password": "x"},
            {"user_id": "dave", "msisdn": "+447700900006"},
        ):
            with pytest.raises(NodeError) as invalid:
                await node.call("POST", "/v1/imps/users", bad)
            assert invalid.value.status == 422
        # The new user logs in over SMS at once.
        carol = node.phone("+447700900004")
        assert await carol.login("carol", "c"), carol.lines()

        await node.call("DELETE", "/v1/imps/users/carol")
        with pytest.raises(NodeError) as gone:
            await node.call("DELETE", "/v1/imps/users/carol")
        assert gone.value.status == 404


async def test_blocking_through_the_demo_client(tmp_path: Path) -> None:
    # The blocking, and the demo client's `send` and `block` verbs, through the node:
    # Bob blocks Alice, her message is refused 532 and never reaches him; unblocked, it does.
    async with imps_node(tmp_path) as node:
        alice, bob = node.phone(ALICE_PHONE), node.phone(BOB_PHONE)
        assert await alice.login("alice", "alice-pw")
        assert await bob.login("bob", "bob-pw")
        assert await bob.run(_verb, bob, "block", "add", "alice"), bob.lines()
        assert await bob.run(_verb, bob, "block"), bob.lines()
        listed = [p for p in bob.demo.received if p.code == "BL"]
        assert listed and "alice" in repr(listed[-1].get("BL")), bob.lines()

        assert not await alice.run(_verb, alice, "send", "bob", "let me in"), alice.lines()
        refused = [p for p in alice.demo.received if p.code in ("MS", "ST")]
        assert refused and status_of(refused[-1]) == Status.RECIPIENT_BLOCKED_SENDER
        assert not [p for p in await bob.read_for(1.0) if p.code == "NM"], bob.lines()

        assert await bob.run(_verb, bob, "block", "remove", "alice"), bob.lines()
        assert await alice.run(_verb, alice, "send", "bob", "thanks"), alice.lines()
        await bob.wait_for(new_message("thanks", "alice"))


def _verb(phone: object, *argv: str) -> bool:
    """One `opensmsc imps` verb on this phone, as the command line runs it."""
    from opensmsc.cli.imps import run_verb
    from opensmsc.cli.main import build_parser

    demo = phone.demo  # type: ignore[attr-defined]
    args = build_parser().parse_args(["imps", argv[0], demo.handset, *argv[1:]])
    return run_verb(demo, args)


async def test_a_request_in_sms_level_concatenated_parts_is_joined_first(tmp_path: Path) -> None:
    # Not how a PTS client sends (one SMS per PTS segment), but a handset may: the network
    # splits a long port-3590 message into concatenated parts, and the binding joins them.
    async with imps_node(tmp_path) as node:
        alice, bob = node.phone(ALICE_PHONE), node.phone(BOB_PHONE)
        assert await alice.login("alice", "alice-pw")
        assert await bob.login("bob", "bob-pw")
        text = "ünïcödé " * 30
        request = f'WV12SM77 SI={alice.demo.state.session} UI=bob MC="{text}"'
        assert len(request.encode()) > 140
        answer = await node.call(
            "POST",
            f"/v1/network/handsets/{ALICE_PHONE}/mo",
            {"to": SHORT_CODE, "data_hex": request.encode().hex(), "port": 3590},
        )
        assert answer["parts"] >= 2
        sent = await alice.wait_for(lambda p: p.code == "MS" and p.transaction == 77)
        assert status_of(sent) == Status.SUCCESSFUL
        await bob.wait_for(new_message(text, "alice"))


async def test_digest_login_and_a_client_woken_by_cir(tmp_path: Path) -> None:
    # Bob logs in with the 4-way digest login and asks for notify/get delivery: a message for
    # him is announced by a CIR wake-up on port 3716 (GSM 7-bit packed "WVCI 1.2 <cookie>"),
    # and his phone fetches it with a Polling-Request, as AIM's SmsCirChannel does.
    async with imps_node(tmp_path) as node:
        alice, bob = node.phone(ALICE_PHONE), node.phone(BOB_PHONE)
        assert await alice.login("alice", "alice-pw")
        assert await bob.run(lambda: bob.demo.login("bob", "bob-pw", digest=True, cir=True))
        challenge = bob.demo.received[0]  # the first answer: 401 with a nonce
        assert (challenge.code, challenge.text("ST")) == ("RL", "401") and challenge.text("NO")
        wrong = node.phone(BOB_PHONE)
        assert not await wrong.run(lambda: wrong.demo.login("bob", "not-it", digest=True))
        assert "409 Invalid password" in wrong.lines()
        assert await bob.run(lambda: bob.demo.login("bob", "bob-pw", digest=True, cir=True))

        sent = await alice.exchange(
            "SM", ("UI", "bob"), ("MC", "wake up, Bob"), ("CT", "text/plain"), ("DR", "F")
        )
        assert sent is not None and status_of(sent) == Status.SUCCESSFUL
        await bob.wait_for(new_message("wake up, Bob", "alice"))
        assert bob.demo.wakeups >= 1, bob.lines()
        assert "< CIR wake-up WVCI 1.2 " in bob.lines()

        # A poll with something waiting is answered by it (an NM in the server's own
        # transaction), not by a Status in the poll's: the phone must take that as the answer.
        sent = await alice.exchange(
            "SM", ("UI", "bob"), ("MC", "second"), ("CT", "text/plain"), ("DR", "F")
        )
        assert sent is not None and status_of(sent) == Status.SUCCESSFUL
        polled = await bob.exchange("PO")
        assert polled is not None and polled.code in ("NM", "ST"), bob.lines()


async def test_the_sms_imps_sends_ask_receipts_and_imps_takes_them(tmp_path: Path) -> None:
    # Receipts apply to IMPS's SMS as to any account's: each asks a final receipt, and the
    # IMPS receiver (imps/receipts.py) takes them, so none waits for a bind that never comes.
    async with imps_node(tmp_path) as node:
        alice = node.phone(ALICE_PHONE)
        assert await alice.login("alice", "alice-pw")  # RL, PC and QS: three SMS to the handset
        deliveries = node.running.engine.deliveries
        stats: dict[str, int] = {}
        for _ in range(100):
            stats = await node.call("GET", "/v1/imps")
            if stats["receipts_delivered"] >= 3 and deliveries.pending("imps") == 0:
                break
            await asyncio.sleep(0.1)
        assert stats["receipts_delivered"] >= 3, stats
        assert stats["receipts_failed"] == 0, stats
        assert deliveries.pending("imps") == 0
