"""Accounts: password hashes, bind decisions, concurrent binds, failure slow-down, the cache.

Most accounts here carry a cheap argon2id hash (t=1, m=8 KiB): verification reads its
parameters from the PHC string, so the logic is the production path at a fraction of the cost.
`test_hash_password_is_memory_hard_argon2id` checks the parameters real hashes get.
"""

from __future__ import annotations

import ipaddress
import itertools
import logging
import time

import pytest
from argon2 import PasswordHasher

from opensmsc.accounts import (
    Account,
    Authenticator,
    BindDecision,
    BindMode,
    PasswordCheck,
    TokenBucket,
    hash_password,
    needs_rehash,
    verify,
)
from opensmsc.smpp.constants import CommandStatus
from opensmsc.transport.tls import PeerCertificate

_cheap = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
ALICE_HASH = _cheap.hash("alice1")
BOB_HASH = _cheap.hash("bob2")
FP_A = ":".join(["AA"] * 32)
FP_B = ":".join(["BB"] * 32)


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def make_auth(*accounts: Account, **options: float) -> tuple[Authenticator, FakeClock]:
    clock = FakeClock()
    if not accounts:
        accounts = (
            Account(system_id="alice", password_hash=ALICE_HASH),
            Account(system_id="bob", password_hash=BOB_HASH),
        )
    return Authenticator(accounts, clock=clock, **options), clock  # type: ignore[arg-type]


def bind(
    auth: Authenticator,
    *,
    system_id: str = "alice",
    password: str = "alice1",
    mode: BindMode = BindMode.TRANSCEIVER,
    peer_ip: str = "192.0.2.10",
    cert: PeerCertificate | None = None,
) -> BindDecision:
    return auth.check_bind(system_id, password, mode, peer_ip, cert)


# ---------------------------------------------------------------------- passwords


def test_hash_password_is_memory_hard_argon2id() -> None:
    stored = hash_password("s3cret")
    assert stored.startswith("$argon2id$v=19$")
    assert "m=65536,t=3,p=4" in stored  # 64 MiB: RFC 9106's second recommended profile
    assert verify(stored, "s3cret")
    assert not verify(stored, "s3cret!")
    assert not needs_rehash(stored)


def test_weaker_or_broken_hashes_need_a_rehash() -> None:
    assert needs_rehash(ALICE_HASH)
    assert needs_rehash("not a hash")


@pytest.mark.parametrize("plain", ["123456789", "pässwd"])
def test_hash_password_refuses_what_no_bind_can_carry(plain: str) -> None:
    with pytest.raises(ValueError, match="SMPP password"):
        hash_password(plain)


def test_malformed_hash_never_matches(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR):
        assert not verify("$argon2id$v=19$garbage", "alice1")
    assert "cannot bind" in caplog.text


# ---------------------------------------------------------------------- the model


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"system_id": ""}, "system_id"),
        ({"system_id": "a" * 16}, "system_id"),
        ({"password_hash": "plaintext"}, "argon2"),
        ({"bind_modes": frozenset()}, "bind mode"),
        ({"max_binds": 0}, "max_binds"),
        ({"throughput": -1.0}, "throughput"),
        ({"window": 0}, "window"),
        ({"cert_fingerprints": frozenset({"abc"})}, "fingerprint"),
    ],
)
def test_account_refuses_impossible_fields(fields: dict[str, object], message: str) -> None:
    values: dict[str, object] = {"system_id": "alice", "password_hash": ALICE_HASH} | fields
    with pytest.raises(ValueError, match=message):
        Account(**values)  # type: ignore[arg-type]


def test_account_normalises_fingerprints_and_modes_and_hides_the_hash() -> None:
    account = Account(
        system_id="alice",
        password_hash=ALICE_HASH,
        bind_modes=frozenset({"transmitter"}),  # type: ignore[arg-type]
        cert_fingerprints=frozenset({"aa" * 32}),
    )
    assert account.cert_fingerprints == {FP_A}
    assert account.bind_modes == {BindMode.TRANSMITTER}
    assert ALICE_HASH not in repr(account)


# ---------------------------------------------------------------------- decisions


def test_right_password_binds() -> None:
    auth, _ = make_auth()
    decision = bind(auth)
    assert decision.is_accepted
    assert decision.status == CommandStatus.ESME_ROK
    assert decision.account is not None
    assert decision.account.system_id == "alice"
    assert auth.binds("alice") == 1


def test_unknown_system_id_gets_rinvsysid() -> None:
    auth, _ = make_auth()
    decision = bind(auth, system_id="mallory")
    assert decision.status == CommandStatus.ESME_RINVSYSID
    assert decision.account is None


def test_wrong_password_gets_rinvpaswd() -> None:
    auth, _ = make_auth()
    decision = bind(auth, password="bob2")  # bob's password is not alice's
    assert decision.status == CommandStatus.ESME_RINVPASWD
    assert auth.binds("alice") == 0


def test_mode_not_allowed_gets_rbindfail() -> None:
    auth, _ = make_auth(
        Account(
            system_id="alice", password_hash=ALICE_HASH, bind_modes=frozenset({BindMode.RECEIVER})
        )
    )
    assert bind(auth, mode=BindMode.TRANSMITTER).status == CommandStatus.ESME_RBINDFAIL
    assert bind(auth, mode=BindMode.RECEIVER).is_accepted


def test_network_acl() -> None:
    networks = (ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("2001:db8::/32"))
    auth, _ = make_auth(
        Account(system_id="alice", password_hash=ALICE_HASH, allowed_networks=networks, max_binds=9)
    )
    for allowed in ("10.1.2.3", "::ffff:10.1.2.3", "2001:db8:1::5"):
        assert bind(auth, peer_ip=allowed).is_accepted, allowed
    for refused in ("192.0.2.1", "11.0.0.1", "2001:db9::1", "::1"):
        assert bind(auth, peer_ip=refused).status == CommandStatus.ESME_RBINDFAIL, refused


def test_refused_address_costs_no_argon2_run() -> None:
    auth, _ = make_auth(
        Account(
            system_id="alice",
            password_hash=ALICE_HASH,
            allowed_networks=(ipaddress.ip_network("10.0.0.0/8"),),
        )
    )
    step = auth.begin_bind("alice", "alice1", BindMode.TRANSCEIVER, "192.0.2.1", None)
    assert isinstance(step, BindDecision)
    assert step.status == CommandStatus.ESME_RBINDFAIL


def test_peer_ip_must_be_an_address() -> None:
    auth, _ = make_auth()
    with pytest.raises(ValueError, match="does not appear to be"):
        bind(auth, peer_ip="not-an-ip")


# ---------------------------------------------------------------------- max_binds


def test_max_binds_counts_sessions_and_bind_closed_frees_a_slot() -> None:
    auth, _ = make_auth(Account(system_id="alice", password_hash=ALICE_HASH, max_binds=2))
    assert bind(auth, mode=BindMode.TRANSMITTER).is_accepted
    assert bind(auth, mode=BindMode.RECEIVER).is_accepted
    third = bind(auth)
    assert third.status == CommandStatus.ESME_RBINDFAIL
    assert "max_binds" in third.reason
    auth.bind_closed("alice")
    assert auth.binds("alice") == 1
    assert bind(auth).is_accepted


def test_binds_verified_concurrently_cannot_exceed_max_binds() -> None:
    auth, _ = make_auth(Account(system_id="alice", password_hash=ALICE_HASH, max_binds=1))
    first = auth.begin_bind("alice", "alice1", BindMode.TRANSCEIVER, "192.0.2.1", None)
    second = auth.begin_bind("alice", "alice1", BindMode.TRANSCEIVER, "192.0.2.2", None)
    assert isinstance(first, PasswordCheck)
    assert isinstance(second, PasswordCheck)
    assert auth.finish_bind(first, password_ok=first.verify()).is_accepted
    assert auth.finish_bind(second, password_ok=second.verify()).status == (
        CommandStatus.ESME_RBINDFAIL
    )


def test_bind_opened_counts_outside_sessions() -> None:
    auth, _ = make_auth(Account(system_id="alice", password_hash=ALICE_HASH, max_binds=1))
    auth.bind_opened("alice")
    assert bind(auth).status == CommandStatus.ESME_RBINDFAIL


def test_extra_bind_closed_is_logged_and_stays_at_zero(caplog: pytest.LogCaptureFixture) -> None:
    auth, _ = make_auth()
    with caplog.at_level(logging.ERROR):
        auth.bind_closed("alice")
    assert auth.binds("alice") == 0
    assert "without an open bind" in caplog.text


# ---------------------------------------------------------------------- mutual TLS


def test_certificate_ties_a_system_id() -> None:
    auth, _ = make_auth(
        Account(
            system_id="alice",
            password_hash=ALICE_HASH,
            max_binds=9,
            cert_fingerprints=frozenset({FP_A}),
            cert_subjects=frozenset({"CN=esme-alice,O=Example"}),
        )
    )
    by_fingerprint = PeerCertificate(subject="CN=other", issuer="CN=ca", fingerprint=FP_A)
    by_subject = PeerCertificate(
        subject="CN=esme-alice,O=Example", issuer="CN=ca", fingerprint=FP_B
    )
    stranger = PeerCertificate(subject="CN=esme-bob", issuer="CN=ca", fingerprint=FP_B)
    assert bind(auth, cert=by_fingerprint).is_accepted
    assert bind(auth, cert=by_subject).is_accepted
    refused = bind(auth, cert=stranger)
    assert refused.status == CommandStatus.ESME_RBINDFAIL
    assert "not allowed" in refused.reason
    assert bind(auth, cert=None).status == CommandStatus.ESME_RBINDFAIL


def test_certificate_does_not_replace_the_password() -> None:
    auth, _ = make_auth(
        Account(system_id="alice", password_hash=ALICE_HASH, cert_fingerprints=frozenset({FP_A}))
    )
    cert = PeerCertificate(subject="CN=x", issuer="CN=x", fingerprint=FP_A)
    assert bind(auth, password="wrong", cert=cert).status == CommandStatus.ESME_RINVPASWD


def test_account_without_certificate_rules_ignores_a_certificate() -> None:
    auth, _ = make_auth()
    cert = PeerCertificate(subject="CN=x", issuer="CN=x", fingerprint=FP_B)
    assert bind(auth, cert=cert).is_accepted


# ---------------------------------------------------------------------- failure delay


def test_failure_delay_grows_per_pair_after_the_free_failures_up_to_the_cap() -> None:
    auth, _ = make_auth(failure_base_delay=0.1, failure_max_delay=5.0)
    assert auth.failure_delay("192.0.2.66", "alice") == 0.0
    delays = []
    for _ in range(14):
        assert bind(auth, password="guess", peer_ip="192.0.2.66").status == (
            CommandStatus.ESME_RINVPASWD
        )
        delays.append(auth.failure_delay("192.0.2.66", "alice"))
    assert delays[:2] == [0.0, 0.0]  # the first three failures are answered at once
    assert delays[2] == pytest.approx(0.1)
    assert delays[3] == pytest.approx(0.3)
    assert all(a < b for a, b in itertools.pairwise(delays[2:8]))
    assert delays[-1] == 5.0


def test_first_failures_are_refused_without_delay() -> None:
    """Issue 10 item 11: the delay grew to seconds after three mistakes, so a client with a
    2 s timeout saw a timeout instead of ESME_RINVPASWD."""
    auth, _ = make_auth(failure_base_delay=1.0, failure_max_delay=30.0)
    for _ in range(3):
        step = auth.begin_bind("alice", "typo", BindMode.TRANSCEIVER, "192.0.2.66", None)
        assert isinstance(step, PasswordCheck)
        assert step.delay == 0.0
        assert auth.finish_bind(step, password_ok=step.verify()).delay == 0.0
        nobody = bind(auth, system_id="nobody", peer_ip="192.0.2.66")
        assert nobody.status == CommandStatus.ESME_RINVSYSID
        assert nobody.delay == 0.0
    step = auth.begin_bind("alice", "typo", BindMode.TRANSCEIVER, "192.0.2.66", None)
    assert isinstance(step, PasswordCheck)
    assert step.delay == pytest.approx(1.0)  # waited before argon2, not after
    assert bind(auth, system_id="nobody", peer_ip="192.0.2.66").delay == pytest.approx(1.0)


def test_failures_of_one_account_do_not_slow_another_from_the_same_address() -> None:
    """Issue 10 item 11: one bad ESME behind a shared NAT address slowed everyone."""
    auth, _ = make_auth()
    for _ in range(20):
        bind(auth, password="guess", peer_ip="192.0.2.66")
    assert auth.failure_delay("192.0.2.66", "alice") > 0
    assert auth.failure_delay("192.0.2.66", "bob") == 0.0
    step = auth.begin_bind("bob", "bad", BindMode.TRANSCEIVER, "192.0.2.66", None)
    assert isinstance(step, PasswordCheck)
    assert step.delay == 0.0


def test_unknown_system_ids_from_one_source_count_together() -> None:
    auth, _ = make_auth()
    for n in range(5):
        bind(auth, system_id=f"guess{n}", peer_ip="192.0.2.66")
    assert auth.failure_delay("192.0.2.66", "another") > 0
    assert auth.failure_delay("192.0.2.66", "alice") == 0.0


def test_a_cached_password_binds_at_once_from_a_failing_pair() -> None:
    auth, _ = make_auth()
    assert bind(auth, peer_ip="192.0.2.66").is_accepted
    for _ in range(10):
        bind(auth, password="guess", peer_ip="192.0.2.66")
    assert auth.failure_delay("192.0.2.66", "alice") > 0
    step = auth.begin_bind("alice", "alice1", BindMode.TRANSCEIVER, "192.0.2.66", None)
    assert isinstance(step, BindDecision)
    assert step.is_accepted
    assert step.delay == 0.0


def test_zero_base_delay_turns_the_delay_off() -> None:
    """Issue 10 item 27: bind_failure_delay = 0 still gave the maximum delay past 64 failures."""
    auth, _ = make_auth(failure_base_delay=0.0, failure_max_delay=30.0)
    for _ in range(100):
        bind(auth, password="guess", peer_ip="192.0.2.66")
        assert auth.failure_delay("192.0.2.66", "alice") == 0.0


def test_failures_from_one_address_do_not_slow_another() -> None:
    auth, _ = make_auth()
    for _ in range(20):
        bind(auth, system_id="nobody", peer_ip="192.0.2.66")
    assert auth.failure_delay("192.0.2.66", "nobody") > 0
    assert auth.failure_delay("192.0.2.67", "nobody") == 0.0
    assert auth.failure_delay("2001:db8::66", "nobody") == 0.0
    assert bind(auth, peer_ip="192.0.2.67").is_accepted


def test_ipv6_failures_count_per_64() -> None:
    auth, _ = make_auth(failure_free=1)
    bind(auth, system_id="nobody", peer_ip="2001:db8:0:1::1")
    bind(auth, system_id="nobody", peer_ip="2001:db8:0:1::2")
    assert auth.failure_delay("2001:db8:0:1::ffff", "nobody") == pytest.approx(0.3)
    assert auth.failure_delay("2001:db8:0:2::1", "nobody") == 0.0


def test_ipv4_mapped_address_counts_as_ipv4() -> None:
    auth, _ = make_auth(failure_free=1)
    bind(auth, system_id="nobody", peer_ip="::ffff:192.0.2.66")
    assert auth.failure_delay("192.0.2.66", "nobody") == pytest.approx(0.1)


def test_failure_delay_decays_when_failures_stop() -> None:
    auth, clock = make_auth(failure_half_life=60.0)
    for _ in range(10):
        bind(auth, password="guess", peer_ip="192.0.2.66")
    high = auth.failure_delay("192.0.2.66", "alice")
    clock.advance(60.0)
    assert auth.failure_delay("192.0.2.66", "alice") < high
    clock.advance(3600.0)
    assert auth.failure_delay("192.0.2.66", "alice") == 0.0


def test_authorisation_refusals_do_not_slow_the_source() -> None:
    auth, _ = make_auth(
        Account(
            system_id="alice",
            password_hash=ALICE_HASH,
            bind_modes=frozenset({BindMode.RECEIVER}),
            max_binds=1,
        ),
        failure_free=1,
    )
    assert bind(auth, mode=BindMode.TRANSMITTER).status == CommandStatus.ESME_RBINDFAIL
    assert bind(auth, mode=BindMode.RECEIVER).is_accepted
    assert bind(auth, mode=BindMode.RECEIVER).status == CommandStatus.ESME_RBINDFAIL
    assert auth.failure_delay("192.0.2.10", "alice") == 0.0


def test_tracked_sources_are_bounded() -> None:
    auth, _ = make_auth(max_tracked_sources=3, failure_free=1)
    for host in range(1, 6):
        bind(auth, system_id="nobody", peer_ip=f"192.0.2.{host}")
    assert auth.failure_delay("192.0.2.1", "nobody") == 0.0  # the stalest are forgotten
    assert auth.failure_delay("192.0.2.2", "nobody") == 0.0
    assert all(auth.failure_delay(f"192.0.2.{host}", "nobody") > 0 for host in (3, 4, 5))


def test_a_failing_pair_has_one_bind_checked_at_a_time() -> None:
    """Issue 10 item 21: however many connections guess, a failing pair costs one argon2 run
    at a time; the others are refused (after the pair's delay) without one."""
    auth, _ = make_auth()
    for _ in range(3):
        bind(auth, password="guess", peer_ip="192.0.2.66")
    first = auth.begin_bind("alice", "g1", BindMode.TRANSCEIVER, "192.0.2.66", None)
    assert isinstance(first, PasswordCheck)
    assert first.suspect
    for _ in range(50):
        other = auth.begin_bind("alice", "g2", BindMode.TRANSCEIVER, "192.0.2.66", None)
        assert isinstance(other, BindDecision)
        assert other.status == CommandStatus.ESME_RBINDFAIL
        assert other.delay == first.delay > 0  # the pair's delay, before the refusal
    # Another account, or the same one from elsewhere, is checked meanwhile.
    assert isinstance(
        auth.begin_bind("bob", "x", BindMode.TRANSCEIVER, "192.0.2.66", None), PasswordCheck
    )
    assert isinstance(
        auth.begin_bind("alice", "x", BindMode.TRANSCEIVER, "192.0.2.67", None), PasswordCheck
    )
    # The refusals for capacity were not counted as failures.
    before = auth.failure_delay("192.0.2.66", "alice")
    assert auth.finish_bind(first, password_ok=False).status == CommandStatus.ESME_RINVPASWD
    assert auth.failure_delay("192.0.2.66", "alice") > before
    # Its check finished: the next one is checked.
    assert isinstance(
        auth.begin_bind("alice", "g3", BindMode.TRANSCEIVER, "192.0.2.66", None), PasswordCheck
    )


def test_an_abandoned_check_frees_the_pairs_turn() -> None:
    auth, _ = make_auth()
    for _ in range(3):
        bind(auth, password="guess", peer_ip="192.0.2.66")
    step = auth.begin_bind("alice", "alice1", BindMode.TRANSCEIVER, "192.0.2.66", None)
    assert isinstance(step, PasswordCheck)
    auth.abandon(step)
    again = auth.begin_bind("alice", "alice1", BindMode.TRANSCEIVER, "192.0.2.66", None)
    assert isinstance(again, PasswordCheck)
    assert auth.finish_bind(again, password_ok=again.verify()).is_accepted


def test_a_pair_has_at_most_max_binds_checks_at_once() -> None:
    account = Account(system_id="alice", password_hash=ALICE_HASH, max_binds=2)
    auth, _ = make_auth(account, failure_base_delay=0.5)
    steps = [
        auth.begin_bind("alice", "alice1", BindMode.TRANSCEIVER, "192.0.2.1", None)
        for _ in range(4)
    ]
    assert [type(step) for step in steps] == [
        PasswordCheck,
        PasswordCheck,
        BindDecision,
        BindDecision,
    ]
    # Only the first is checked in the first lane: a second one at once is not how an
    # honest client's first bind comes.
    assert [isinstance(step, PasswordCheck) and step.suspect for step in steps] == [
        False,
        True,
        False,
        False,
    ]
    crowd = steps[2]
    assert isinstance(crowd, BindDecision)
    assert crowd.status == CommandStatus.ESME_RBINDFAIL
    assert crowd.delay == 0.5  # not at once: a crowd must not spin on cheap refusals
    assert auth.failure_delay("192.0.2.1", "alice") == 0.0  # and not counted as failures


def test_unverified_password_is_refused_and_not_counted(caplog: pytest.LogCaptureFixture) -> None:
    """The verifier was saturated: ESME_RBINDFAIL, at once for a lone bind, after a delay for
    the same pair coming straight back; never counted as a failure, logged once a second."""
    auth, clock = make_auth(failure_base_delay=0.1)
    delays = []
    with caplog.at_level(logging.WARNING, logger="opensmsc.accounts"):
        for _ in range(20):
            step = auth.begin_bind("alice", "alice1", BindMode.TRANSCEIVER, "192.0.2.1", None)
            assert isinstance(step, PasswordCheck)
            assert not step.suspect
            decision = auth.finish_bind(step, password_ok=None)
            assert decision.status == CommandStatus.ESME_RBINDFAIL
            delays.append(decision.delay)
    assert delays[0] == 0.0
    assert set(delays[1:]) == {0.1}
    assert auth.failure_delay("192.0.2.1", "alice") == 0.0
    assert len(caplog.records) == 1  # the fake clock does not move: one line for twenty
    clock.advance(2.0)
    step = auth.begin_bind("alice", "alice1", BindMode.TRANSCEIVER, "192.0.2.1", None)
    assert isinstance(step, PasswordCheck)
    assert auth.finish_bind(step, password_ok=None).delay == 0.0  # a while later: at once


def test_failures_are_logged_with_their_source(caplog: pytest.LogCaptureFixture) -> None:
    auth, _ = make_auth()
    with caplog.at_level(logging.WARNING, logger="opensmsc.accounts"):
        bind(auth, system_id="evil\nline", peer_ip="192.0.2.66")
    [record] = caplog.records
    line = record.getMessage()
    assert "peer=192.0.2.66" in line
    assert "status=0x0000000F" in line
    assert "\n" not in line  # a peer's system_id cannot forge log lines


# ---------------------------------------------------------------------- verification cache


def test_successful_verification_is_cached() -> None:
    auth, _ = make_auth()
    first = auth.begin_bind("alice", "alice1", BindMode.TRANSCEIVER, "192.0.2.1", None)
    assert isinstance(first, PasswordCheck)
    assert auth.finish_bind(first, password_ok=first.verify()).is_accepted
    again = auth.begin_bind("alice", "alice1", BindMode.TRANSCEIVER, "192.0.2.1", None)
    assert isinstance(again, BindDecision)
    assert again.is_accepted


def test_failed_verification_is_never_cached() -> None:
    auth, _ = make_auth()
    assert bind(auth).is_accepted
    for _ in range(3):
        step = auth.begin_bind("alice", "wrong", BindMode.TRANSCEIVER, "192.0.2.1", None)
        assert isinstance(step, PasswordCheck)
        assert auth.finish_bind(step, password_ok=step.verify()).status == (
            CommandStatus.ESME_RINVPASWD
        )


def test_cache_is_bounded_lru() -> None:
    auth, _ = make_auth(verified_cache_size=1)
    assert bind(auth, system_id="alice", password="alice1").is_accepted
    assert bind(auth, system_id="bob", password="bob2").is_accepted
    step = auth.begin_bind("alice", "alice1", BindMode.TRANSCEIVER, "192.0.2.1", None)
    assert isinstance(step, PasswordCheck)  # evicted by bob's entry


def test_changed_password_hash_misses_the_cache() -> None:
    auth, _ = make_auth()
    assert bind(auth).is_accepted
    auth.replace_accounts([Account(system_id="alice", password_hash=_cheap.hash("new1"))])
    assert bind(auth, password="alice1").status == CommandStatus.ESME_RINVPASWD
    assert bind(auth, password="new1").is_accepted


def test_account_replaced_during_verification_is_refused() -> None:
    auth, _ = make_auth()
    step = auth.begin_bind("alice", "alice1", BindMode.TRANSCEIVER, "192.0.2.1", None)
    assert isinstance(step, PasswordCheck)
    ok = step.verify()
    auth.replace_accounts([Account(system_id="alice", password_hash=_cheap.hash("new1"))])
    assert auth.finish_bind(step, password_ok=ok).status == CommandStatus.ESME_RBINDFAIL


def test_a_thousand_rebinds_cost_one_argon2_run() -> None:
    account = Account(system_id="alice", password_hash=hash_password("alice1"), max_binds=1)
    auth, _ = make_auth(account)
    started = time.perf_counter()
    for _ in range(1000):
        assert bind(auth).is_accepted
        auth.bind_closed("alice")
    # One production argon2 run takes ~50-100 ms; a thousand would take over a minute.
    assert time.perf_counter() - started < 5.0


# ---------------------------------------------------------------------- throughput


def test_throughput_bucket_is_shared_per_account() -> None:
    auth, _ = make_auth(
        Account(system_id="alice", password_hash=ALICE_HASH, throughput=50.0),
        Account(system_id="bob", password_hash=BOB_HASH),
    )
    bucket = auth.throughput_bucket("alice")
    assert bucket is not None
    assert bucket is auth.throughput_bucket("alice")
    assert (bucket.rate, bucket.burst) == (50.0, 50.0)
    assert auth.throughput_bucket("bob") is None  # 0: no cap
    assert auth.throughput_bucket("nobody") is None


def test_a_bucket_factory_makes_each_accounts_bucket_and_a_reload_a_new_one() -> None:
    # In a cluster the factory gives this node's share of the cap (cluster/limits.py).
    made: list[tuple[str, float, float]] = []

    def share(system_id: str, rate: float, burst: float) -> TokenBucket:
        made.append((system_id, rate, burst))
        return TokenBucket(rate / 3, max(1.0, burst / 3))

    alice = Account(system_id="alice", password_hash=ALICE_HASH, throughput=30.0)
    auth = Authenticator([alice], clock=FakeClock(), buckets=share)
    bucket = auth.throughput_bucket("alice")
    assert bucket is not None and bucket.rate == 10.0
    assert auth.throughput_bucket("alice") is bucket and made == [("alice", 30.0, 30.0)]
    auth.replace_accounts([alice])  # the same cap: the same bucket
    assert auth.throughput_bucket("alice") is bucket
    auth.replace_accounts([Account(system_id="alice", password_hash=ALICE_HASH, throughput=60.0)])
    assert auth.throughput_bucket("alice") is not bucket
    assert made[-1] == ("alice", 60.0, 60.0)
