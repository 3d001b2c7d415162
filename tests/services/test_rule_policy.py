"""RulePolicy (routing/rule_policy.py), the rule engine of issue 11, from policy files written
here: rule matching and order, combined effects, lists, opt-out by MO, sender-ID rules, time
windows and deferral, velocity."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from opensmsc.routing import (
    Action,
    LoopbackRoute,
    NumberPortability,
    PortabilityTable,
    PrefixPolicy,
    RouteQuery,
    Router,
    RulePolicy,
    rules_loader,
)
from opensmsc.smpp import CommandStatus
from opensmsc.store import Address

NOW = datetime(2026, 1, 7, 12, 0, tzinfo=UTC)  # a Wednesday, noon in London


def policy(tmp_path: Path, text: str, **kwargs: object) -> RulePolicy:
    file = tmp_path / "policy.toml"
    file.write_text(text)
    return RulePolicy(rules_loader(file), **kwargs)  # type: ignore[arg-type]


def query(
    destination: str = "447700900123",
    *,
    source: str = "ACME",
    ton: int = 5,
    account: str = "acme",
    text: str | None = None,
    service_type: str = "",
    priority: int = 0,
) -> RouteQuery:
    return RouteQuery(
        account=account,
        source=Address(ton, 0 if ton == 5 else 1, source),
        destination=Address(1, 1, destination),
        service_type=service_type,
        content_sample=text,
        priority_flag=priority,
    )


def routes(decision: object) -> list[str]:
    return [choice.route for choice in decision.routes]  # type: ignore[attr-defined]


RULES = """
default_routes = ["network"]
[[rule]]
name = "uk"
prefix = ["44"]
routes = ["carrier-a"]
[[rule]]
name = "uk-mobile"
prefix = ["447"]
routes = ["carrier-b"]
[[rule]]
name = "acme-otp"
prefix = ["44"]
account = ["acme"]
service_type = ["OTP"]
routes = ["carrier-c"]
"""


def test_the_longest_prefix_wins_then_file_order(tmp_path: Path) -> None:
    engine = policy(tmp_path, RULES)
    assert routes(engine.decide(query("447700900123"), NOW)) == ["carrier-b"]
    assert routes(engine.decide(query("441234567890"), NOW)) == ["carrier-a"]
    # both "uk" and "acme-otp" match at 44: the first in the file decides
    assert routes(engine.decide(query("441234567890", service_type="OTP"), NOW)) == ["carrier-a"]
    assert routes(engine.decide(query("33612345678"), NOW)) == ["network"]


def test_destination_is_normalised_to_e164(tmp_path: Path) -> None:
    engine = policy(tmp_path, RULES)
    assert routes(engine.decide(query("+44 7700 900123"), NOW)) == ["carrier-b"]
    assert routes(engine.decide(query("00447700900123"), NOW)) == ["carrier-b"]


def test_conditions_account_source_kind_pattern_service_type(tmp_path: Path) -> None:
    engine = policy(
        tmp_path,
        """
default_routes = ["network"]
[[rule]]
name = "bank-alpha"
account = ["bank"]
source_kind = ["alphanumeric"]
source = "^BANK"
service_type = ["OTP", "2FA"]
routes = ["premium"]
""",
    )
    hit = query(account="bank", source="BANKCO", service_type="2FA")
    assert routes(engine.decide(hit, NOW)) == ["premium"]
    for miss in (
        query(account="other", source="BANKCO", service_type="2FA"),
        query(account="bank", source="XBANK", service_type="2FA"),
        query(account="bank", source="BANKCO", service_type="CMT"),
        query(account="bank", source="447700900999", ton=1, service_type="2FA"),
    ):
        assert routes(engine.decide(miss, NOW)) == ["network"]


def test_source_kinds(tmp_path: Path) -> None:
    engine = policy(
        tmp_path,
        """
default_routes = ["network"]
[[rule]]
name = "short"
source_kind = ["short_code"]
routes = ["sc"]
[[rule]]
name = "long"
source_kind = ["long_number"]
routes = ["ln"]
""",
    )
    assert routes(engine.decide(query(source="12345", ton=3), NOW)) == ["sc"]
    assert routes(engine.decide(query(source="447700900999", ton=1), NOW)) == ["ln"]
    assert routes(engine.decide(query(source="12345", ton=5), NOW)) == ["network"]


def test_content_keywords_url_and_regex(tmp_path: Path) -> None:
    engine = policy(
        tmp_path,
        """
default_routes = ["network"]
[[rule]]
name = "casino"
keywords = ["casino", "free spins"]
reject = "ESME_RX_R_APPN"
reason = "gambling"
[[rule]]
name = "shortener"
url = "bit\\\\.ly"
reject = "ESME_RINVSRCADR"
[[rule]]
name = "otp-code"
regex = "\\\\b[0-9]{6}\\\\b"
routes = ["otp"]
""",
    )
    gambling = engine.decide(query(text="Get FREE SPINS now"), NOW)
    assert gambling.action is Action.REJECT
    assert gambling.status == CommandStatus.ESME_RX_R_APPN
    assert gambling.reason == "gambling"
    assert engine.decide(query(text="casinos"), NOW).action is Action.ROUTE  # whole words only
    short = engine.decide(query(text="see https://bit.ly/x1"), NOW)
    assert short.status == CommandStatus.ESME_RINVSRCADR
    assert engine.decide(query(text="bit.ly is not a link"), NOW).action is Action.ROUTE
    assert routes(engine.decide(query(text="your code is 123456"), NOW)) == ["otp"]
    assert routes(engine.decide(query(text=None), NOW)) == ["network"]


def test_effects_combine_and_reject_wins_unless_a_final_rule_stops(tmp_path: Path) -> None:
    engine = policy(
        tmp_path,
        """
[[rule]]
name = "fr"
prefix = ["33"]
routes = ["carrier-fr"]
set_source = "ACME"
set_data_coding = 8
[[rule]]
name = "fr-vip"
prefix = ["3361"]
account = ["vip"]
routes = ["carrier-vip"]
final = true
[[rule]]
name = "everywhere"
routes = ["network"]
set_source = "OTHER"
set_validity_s = 3600
strip_tlvs = [0x1403]
add_tlvs = [{ tag = 0x1501, value = "0a0b" }]
[[rule]]
name = "no-spam"
keywords = ["spam"]
reject = "ESME_RX_R_APPN"
""",
    )
    decision = engine.decide(query("33612345678"), NOW)
    assert routes(decision) == ["carrier-fr"]
    assert decision.rewrite is not None
    assert decision.rewrite.source_addr == "ACME"  # the more specific rule's
    assert decision.rewrite.data_coding == 8
    assert decision.rewrite.validity_s == 3600  # the general rule's, which fr does not set
    assert decision.rewrite.strip_tlvs == (0x1403,)
    assert decision.rewrite.add_tlvs == ((0x1501, b"\x0a\x0b"),)
    spam = engine.decide(query("33612345678", text="spam"), NOW)
    assert spam.action is Action.REJECT  # the general reject still applies
    vip = engine.decide(query("33612345678", account="vip", text="spam"), NOW)
    assert routes(vip) == ["carrier-vip"]  # final: nothing below it is consulted
    assert vip.rewrite is None


def test_throttle_rule(tmp_path: Path) -> None:
    engine = policy(tmp_path, '[[rule]]\nname = "slow"\nthrottle_ms = 1500\n')
    decision = engine.decide(query(), NOW)
    assert decision.action is Action.THROTTLE
    assert decision.retry_after_ms == 1500


def test_lists(tmp_path: Path) -> None:
    engine = policy(
        tmp_path,
        """
default_routes = ["network"]
[lists]
block_sources = ["FreeMoney"]
block_destinations = ["4477009001"]
allow_destinations = ["44", "33"]
""",
    )
    assert engine.decide(query(source="FREEMONEY"), NOW).status == CommandStatus.ESME_RX_R_APPN
    assert engine.decide(query("447700900123"), NOW).status == CommandStatus.ESME_RX_R_APPN
    assert engine.decide(query("447700900223"), NOW).action is Action.ROUTE
    assert engine.decide(query("4915112345678"), NOW).action is Action.REJECT
    allow_only = policy(
        tmp_path, 'default_routes = ["network"]\n[lists]\nallow_sources = ["ACME"]\n'
    )
    assert allow_only.decide(query(source="acme"), NOW).action is Action.ROUTE
    assert allow_only.decide(query(source="OTHER"), NOW).action is Action.REJECT


def test_opt_out_by_mo_stop_and_back_in_by_start(tmp_path: Path) -> None:
    engine = policy(
        tmp_path,
        'default_routes = ["network"]\n[opt_out]\nshort_codes = ["12345"]\n',
    )
    mt = query("447700900123", source="12345", ton=3)
    assert engine.decide(mt, NOW).action is Action.ROUTE
    assert engine.on_mo("+447700900123", "12345", " stop ") is True
    refused = engine.decide(mt, NOW)
    assert refused.action is Action.REJECT
    assert "opted out" in refused.reason
    # only from that short code
    assert engine.decide(query("447700900123", source="54321", ton=3), NOW).action is Action.ROUTE
    assert engine.on_mo("447700900123", "99999", "STOP") is None  # not an opt-out short code
    assert engine.on_mo("447700900123", "12345", "hello") is None
    assert engine.on_mo("447700900123", "12345", "START") is False
    assert engine.decide(mt, NOW).action is Action.ROUTE


def test_opt_out_scope_all(tmp_path: Path) -> None:
    engine = policy(
        tmp_path,
        'default_routes = ["network"]\n[opt_out]\nshort_codes = ["12345"]\nscope = "all"\n',
    )
    engine.on_mo("447700900123", "12345", "STOP")
    assert engine.decide(query("447700900123", source="ACME"), NOW).action is Action.REJECT


def test_sender_id_rules_per_country(tmp_path: Path) -> None:
    engine = policy(
        tmp_path,
        """
default_routes = ["network"]
[[sender_id]]
prefix = "1"
allow_kinds = ["short_code", "long_number"]
[[sender_id]]
prefix = "33"
registered = ["ACME"]
replace_with = "33700000000"
[[sender_id]]
prefix = "49"
registered = ["ACME"]
""",
    )
    us = engine.decide(query("12025550123", source="ACME"), NOW)
    assert us.status == CommandStatus.ESME_RINVSRCADR
    assert engine.decide(query("12025550123", source="12345", ton=3), NOW).action is Action.ROUTE
    fr = engine.decide(query("33612345678", source="OTHER"), NOW)
    assert fr.action is Action.ROUTE
    assert fr.rewrite is not None
    assert (fr.rewrite.source_addr, fr.rewrite.source_addr_ton) == ("33700000000", 1)
    assert engine.decide(query("33612345678", source="acme"), NOW).rewrite is None
    assert engine.decide(query("4915112345678", source="OTHER"), NOW).action is Action.REJECT


WINDOWS = """
zone = "Europe/London"
default_routes = ["network"]
[[window]]
name = "daytime"
days = ["mon", "tue", "wed", "thu", "fri"]
start = "08:00"
end = "21:00"
[[window]]
name = "night"
start = "22:00"
end = "06:00"
[[rule]]
name = "quiet-hours"
account = ["marketing"]
defer_until = "daytime"
[[rule]]
name = "night-route"
window = "night"
routes = ["night-carrier"]
"""


def test_defer_until_the_window_starts_in_its_zone(tmp_path: Path) -> None:
    engine = policy(tmp_path, WINDOWS)
    inside = engine.decide(query(account="marketing"), NOW)
    assert inside.action is Action.ROUTE
    friday_night = datetime(2026, 1, 9, 22, 30, tzinfo=UTC)  # next daytime: Monday 08:00
    deferred = engine.decide(query(account="marketing"), friday_night)
    assert deferred.action is Action.DEFER
    monday = datetime(2026, 1, 12, 8, 0, tzinfo=UTC)
    assert deferred.retry_after_ms == (monday - friday_night) // timedelta(milliseconds=1)
    summer = datetime(2026, 7, 1, 6, 0, tzinfo=UTC)  # 07:00 BST: an hour before 08:00 BST
    assert engine.decide(query(account="marketing"), summer).retry_after_ms == 3_600_000


def test_window_across_midnight(tmp_path: Path) -> None:
    engine = policy(tmp_path, WINDOWS)
    for hour, expected in ((21, "network"), (22, "night-carrier"), (2, "night-carrier")):
        when = datetime(2026, 1, 7, hour, 30, tzinfo=UTC)
        assert routes(engine.decide(query(), when)) == [expected], hour
    assert routes(engine.decide(query(), datetime(2026, 1, 7, 6, 0, tzinfo=UTC))) == ["network"]


def test_mcc_mnc_from_ranges_and_portability(tmp_path: Path) -> None:
    text = """
[[network]]
prefix = "447700"
mcc_mnc = "23410"
[[rule]]
name = "o2"
mcc_mnc = ["23410"]
routes = ["o2-direct"]
[[rule]]
name = "rest"
routes = ["network"]
"""
    table = PortabilityTable()
    table.put("447800900123", "23410")
    table.put("447700900999", "23415")
    engine = policy(tmp_path, text, portability=NumberPortability(table))
    assert routes(engine.decide(query("447700900123"), NOW)) == ["o2-direct"]
    assert routes(engine.decide(query("447800900123"), NOW)) == ["o2-direct"]  # ported in
    assert routes(engine.decide(query("447700900999"), NOW)) == ["network"]  # ported out


def test_velocity_throttles_a_pumped_range_per_account(tmp_path: Path) -> None:
    engine = policy(
        tmp_path,
        """
default_routes = ["network"]
[[velocity]]
name = "pumping"
prefix_length = 8
limit = 3
window_s = 60
""",
    )
    for i in range(3):
        assert engine.decide(query(f"4477009001{i:02d}"), NOW).action is Action.ROUTE
    stopped = engine.decide(query("447700900199"), NOW + timedelta(seconds=10))
    assert stopped.action is Action.THROTTLE
    assert stopped.retry_after_ms == 50_000
    # another range, another account: their own counts
    assert engine.decide(query("447700800100"), NOW).action is Action.ROUTE
    assert engine.decide(query("447700900100", account="other"), NOW).action is Action.ROUTE
    # explain neither counts nor is stopped by a throttle of its own making
    later = NOW + timedelta(seconds=60)
    assert engine.explain(query("447700900100"), later).decision.action is Action.ROUTE
    assert engine.decide(query("447700900100"), later).action is Action.ROUTE


def test_refused_messages_do_not_count_for_velocity(tmp_path: Path) -> None:
    engine = policy(
        tmp_path,
        """
default_routes = ["network"]
[[rule]]
name = "no-spam"
keywords = ["spam"]
reject = "ESME_RX_R_APPN"
[[velocity]]
name = "pumping"
prefix_length = 6
limit = 1
action = "reject"
""",
    )
    assert engine.decide(query(text="spam"), NOW).action is Action.REJECT
    assert engine.decide(query(), NOW).action is Action.ROUTE
    assert engine.decide(query(), NOW).status == CommandStatus.ESME_RX_T_APPN


def test_fallback_routes_what_no_rule_routes(tmp_path: Path) -> None:
    router = Router(
        {"loopback": LoopbackRoute(), "network": LoopbackRoute("network")},
        default_route="network",
        prefixes=[("33", "loopback")],
    )
    engine = policy(
        tmp_path, RULES.replace('default_routes = ["network"]', ""), fallback=PrefixPolicy(router)
    )
    assert routes(engine.decide(query("33612345678"), NOW)) == ["loopback"]
    assert routes(engine.decide(query("447700900123"), NOW)) == ["carrier-b"]
    bare = policy(tmp_path, '[[rule]]\nname = "uk"\nprefix = ["44"]\nroutes = ["a"]\n')
    assert bare.decide(query("33612345678"), NOW).status == CommandStatus.ESME_RSUBMITFAIL


def test_empty_destination_is_rejected(tmp_path: Path) -> None:
    engine = policy(tmp_path, RULES)
    assert engine.decide(query(""), NOW).status == CommandStatus.ESME_RINVDSTADR


@pytest.mark.parametrize("destination", ["12345", "ABC", "0"])
def test_destinations_that_are_no_number_still_get_a_decision(
    tmp_path: Path, destination: str
) -> None:
    engine = policy(tmp_path, RULES)
    assert routes(engine.decide(query(destination), NOW)) == ["network"]
